"""Finding a birthplace in the COG: by commune or country name, by code, valid at the birth date, postal codes named."""
from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from anyascii import anyascii
from django.utils.translation import gettext as _

from identities.core import traits
from identities.core.models import Birthplace

# The 1968 reorganisation of the Paris region (law of 10 July 1964): Seine (75) and Seine-et-Oise
# (78) were split into 75, 78, 91, 92, 93, 94 and 95. The former codes of the communes that moved
# were in force until 31/12/1967, and the new codes from 01/01/1968. Corsica's split into 2A/2B
# (1976) is left out on purpose: the NIRs of Corsicans born before 1976 were renumbered, so INSi
# gives 2A/2B codes for any birth date and both forms are accepted.
REGION_1968 = date(1968, 1, 1)
_SEINE_1968 = {"75": {"92", "93", "94"}, "78": {"91", "95", "78"}}
FORMER_DEPARTMENTS = {"75": "Seine", "78": "Seine-et-Oise", "20": "Corse"}

_WORDS = re.compile(r"[^A-Z0-9]+")
# Written forms people use for the same word in commune names.
_ABBREVIATIONS = {"ST": "SAINT", "STE": "SAINTE", "STS": "SAINTS", "STES": "SAINTES"}
_MAX_RESULTS = 12


def place_key(value: str | None) -> str:
    """Comparison form of a place name: accents, case, hyphens and apostrophes ignored, digits kept."""
    if not value:
        return ""
    folded = "".join(char for char in unicodedata.normalize("NFKD", value) if not unicodedata.combining(char))
    words = _WORDS.sub(" ", anyascii(folded).upper()).split()
    return " ".join(_ABBREVIATIONS.get(word, word) for word in words)


def moved_in_1968(code: str, successor: str) -> bool:
    """A former code of a commune that changed département in the 1968 reorganisation."""
    return successor[:2] in _SEINE_1968.get(code[:2], ()) and successor[:2] != code[:2]


# --- Validity at a birth date ---

def _birth_bounds(birth_date: str) -> tuple[date, date] | None:
    """The earliest and latest day a birth date may be (``00`` day or month widen it)."""
    try:
        birth = traits.parse_birth_date(birth_date)
    except traits.TraitError:
        return None
    first = date(birth.year, birth.month or 1, birth.day or 1)
    if birth.day:
        last = first
    elif birth.month:
        last = date(birth.year, birth.month, calendar.monthrange(birth.year, birth.month)[1])
    else:
        last = date(birth.year, 12, 31)
    return first, last


def validity_refusal(place: Birthplace, birth_date: str) -> str:
    """Why this code cannot be a birthplace at that birth date, or "" (unknown dates never refuse)."""
    bounds = _birth_bounds(birth_date)
    if bounds is None:
        return ""
    first, last = bounds
    if place.valid_until and first > place.valid_until:
        return _("code en vigueur jusqu'au %(until)s seulement, avant la naissance") % {
            "until": place.valid_until.strftime("%d/%m/%Y")}
    if place.valid_from and last < place.valid_from:
        return _("code en vigueur à partir du %(since)s seulement, après la naissance") % {
            "since": place.valid_from.strftime("%d/%m/%Y")}
    return ""


# --- How a place is shown ---

def place_detail(place: Birthplace) -> str:
    """What kind of place the code is, and where it stands today (the successor of a defunct commune)."""
    if place.kind == Birthplace.Kind.COUNTRY:
        return _("pays ou territoire (né à l'étranger)") if place.code != "99100" else _("pays")
    if place.kind == Birthplace.Kind.FORMER:
        department = FORMER_DEPARTMENTS.get(place.code[:2]) if place.valid_until else None
        where = f" ({department})" if department else ""
        if place.successor:
            return _("ancien code%(where)s, aujourd'hui %(successor)s") % {"where": where, "successor": place.successor}
        return _("ancien code%(where)s") % {"where": where}
    if place.kind == Birthplace.Kind.DISTRICT:
        return _("arrondissement municipal")
    if place.kind in (Birthplace.Kind.DELEGATED, Birthplace.Kind.ASSOCIATED) and place.successor:
        return _("%(kind)s, rattachée à %(successor)s") % {"kind": place.get_kind_display().lower(), "successor": place.successor}
    department = "2A/2B" if place.code[:2] in ("2A", "2B") else place.code[:3] if place.code.startswith("97") else place.code[:2]
    return _("commune (département %(department)s)") % {"department": department}


def place_label(place: Birthplace) -> str:
    return f"{place.name} — {place_detail(place)}"


def _split_districts(place: Birthplace) -> str:
    """Paris, Lyon and Marseille: births are coded by arrondissement, as INSi returns them."""
    if place.kind == Birthplace.Kind.COMMUNE and Birthplace.objects.filter(kind=Birthplace.Kind.DISTRICT, successor=place.code).exists():
        return _("pour une naissance à %(name)s, choisissez l'arrondissement (INSi renvoie le code de l'arrondissement)") % {
            "name": place.name}
    return ""


@dataclass(frozen=True)
class Found:
    code: str
    name: str
    detail: str
    valid: bool
    note: str = ""

    def as_json(self) -> dict:
        return {"code": self.code, "name": self.name, "detail": self.detail, "valid": self.valid, "note": self.note}


def _found(place: Birthplace, birth_date: str) -> Found:
    refusal = validity_refusal(place, birth_date)
    return Found(place.code, place.name, place_detail(place), not refusal, refusal or _split_districts(place))


def postal_matches(code: str) -> list[Birthplace]:
    """Communes and arrondissements whose La Poste postal codes include this one (the space-separated list)."""
    if not re.fullmatch(r"\d{5}", code or ""):
        return []
    found = list(Birthplace.objects.filter(postal_codes__contains=code, current=True).exclude(code=code).order_by("code")[:_MAX_RESULTS])
    # Paris, Lyon, Marseille list their arrondissements' postal codes too: the arrondissement is the answer.
    cities = {place.successor for place in found if place.kind == Birthplace.Kind.DISTRICT}
    return [place for place in found if place.code not in cities]


# --- The two questions the entry form asks ---

def birthplace_lookup(*, code: str, birth_date: str = "") -> dict:
    """The typed code: what it is (valid at the birth date or not) and whose postal code it also is, said in French."""
    text = (code or "").strip().upper()
    place = Birthplace.objects.filter(code=text).first()
    found = _found(place, birth_date) if place else None
    if found is None:
        message = _("Code %(code)s inconnu du COG.") % {"code": text}
    else:
        message = f"{found.name} — {found.detail}" + (f" : {found.note}" if found.note else "")
    postal = [_found(other, birth_date) for other in postal_matches(text)]
    postal_message = ""
    if postal:
        postal_message = _("%(code)s est le code postal de %(places)s : le lieu de naissance se saisit avec le code INSEE.") % {
            "code": text, "places": ", ".join(_("%(name)s (code INSEE %(insee)s)") % {"name": p.name, "insee": p.code} for p in postal)}
    return {
        "code": text, "place": found.as_json() if found else None, "message": message,
        "postal": [p.as_json() for p in postal], "postal_message": postal_message,
    }


def birthplaces_search(*, query: str, birth_date: str = "") -> list[dict]:
    """Places whose name (or code) matches, those valid at the birth date first, then exact, prefix, word matches."""
    key = place_key(query)
    if not key:
        return []
    if re.fullmatch(r"[0-9AB]{2,5}", key):
        rows = list(Birthplace.objects.filter(code__startswith=key).order_by("code")[:_MAX_RESULTS])
        return [_found(place, birth_date).as_json() for place in rows]
    prefix = list(Birthplace.objects.filter(search_key__startswith=key).order_by("search_key", "code")[:60])
    inside = list(Birthplace.objects.filter(search_key__contains=" " + key).exclude(search_key__startswith=key)
                  .order_by("search_key", "code")[:60])
    found = [_found(place, birth_date) for place in prefix + inside]
    order = {Birthplace.Kind.COMMUNE: 0, Birthplace.Kind.DISTRICT: 0, Birthplace.Kind.COUNTRY: 0,
             Birthplace.Kind.DELEGATED: 1, Birthplace.Kind.ASSOCIATED: 1, Birthplace.Kind.FORMER: 2}
    kinds = {place.code: (place.kind, place.search_key) for place in prefix + inside}

    def rank(item: Found):
        kind, name_key = kinds[item.code]
        return (not item.valid, name_key != key, not name_key.startswith(key), order[kind], len(name_key), name_key, item.code)

    return [item.as_json() for item in sorted(found, key=rank)[:_MAX_RESULTS]]


def birthplace_refusal(code: str, birth_date: str) -> str:
    """Why a code typed by hand cannot be saved as the birthplace, or "" (the postal-code mix-up named)."""
    if not code:
        return ""
    place = Birthplace.objects.filter(code=code).first()
    why = _("code INSEE %(code)s inconnu du référentiel des communes et pays (COG)") % {"code": code}
    if place is not None:
        refusal = validity_refusal(place, birth_date)
        if not refusal:
            return ""
        why = _("code INSEE %(code)s (%(name)s, %(detail)s) : %(refusal)s") % {
            "code": code, "name": place.name, "detail": place_detail(place), "refusal": refusal}
    others = postal_matches(code)
    if others:
        why += " ; " + _("%(code)s est le code postal de %(places)s") % {
            "code": code,
            "places": ", ".join(_("%(name)s (code INSEE %(insee)s)") % {"name": other.name, "insee": other.code} for other in others),
        }
    return why
