"""The simulator's identities: insi.md's test book, the portal's demo patients, and a catalog computed for volume tests.

Generated identities (``generated_identity(n)``, 0 <= n < INSI_SIMULATOR_GENERATED_COUNT)
need no storage; a query finds one by decoding its birth name:

- birth name ``GENERE-`` + n written in base 26 with letters, six of them
  (n=0 → ``GENERE-AAAAAA``, n=27 → ``GENERE-AAAABB``);
- sex ``M`` when n is even, ``F`` when odd; two given names from a fixed list;
- birth date 1925-01-01 + (n × 7919 mod 34000) days; birthplace from a fixed COG list;
- every n with n % 100 == 99 is the homonym of n − 1 (same name, given names, sex and
  date, another birthplace and matricule): a query without birthplace gets 02, with it 00;
- n % 50 == 25: a NIA (first digit 7/8, NIA OID); n % 10 == 3: one INSHISTO entry.

Build a matching query with ``generated_identity(n)``'s fields; change a trait to get 01.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, timedelta

from insi.oids import matricule_key
from insi.simulator import retry_book

GENERATED_PREFIX = "GENERE-"
_NAME_LETTERS = 6
_MALE_NAMES = ("JEAN", "PIERRE", "LOUIS", "PAUL", "JACQUES", "MARC", "LUC", "HUGO", "LEO", "NOE", "JEAN-MARIE", "GABRIEL")
_FEMALE_NAMES = ("MARIE", "ANNE", "CLAIRE", "LOUISE", "JEANNE", "CAMILLE", "CHLOE", "EMMA", "LEA", "ROSE", "MARIE-ANNE", "ZOE")
_PLACES = ("63220", "75056", "69123", "13055", "33063", "2A004", "2B033", "59350", "99134")


@dataclass(frozen=True)
class SimIdentity:
    """One person of the simulated national base; its OID (NIR .4.8 or NIA .4.9) is chosen at answer time."""

    birth_name: str
    given_names: str  # ListePrenom
    sex: str
    birth_date: str
    birthplace: str
    number: str  # the active matricule's 13 characters
    key: str
    nia: bool = False
    history: tuple[tuple[str, str], ...] = ()  # INSHISTO (number, key), as the base holds them

    @property
    def matricule(self) -> str:
        return self.number + self.key

    def answers_to(self, given_name: str) -> bool:
        """One given name of the list, or the whole list joined by spaces."""
        return given_name == self.given_names or given_name in self.given_names.split(" ")


# insi.md's table of test identities, exactly as the qualification base returns them.
TEST_IDENTITIES = (
    SimIdentity("ADRTROIS", "DOMINIQUE", "F", "1997-02-26", "2A020", "297022A020778", "78"),
    SimIdentity("ADRTROIS", "TOUSSAINT", "M", "1960-01-01", "2B020", "160012B020777", "13"),
    SimIdentity("ADRUN", "ZOE", "F", "1975-12-31", "63220", "2751263220749", "74"),
    SimIdentity("D'ARTAGNAN DE L'HERAULT", "PIERRE-ALAIN GUNTHER", "M", "2001-06-17", "63220", "1010663220754", "60"),
    SimIdentity(
        "ECETINSI", "PIERRE-ALAIN MURIEL FLORIANT", "M", "2009-07-14", "63220", "1090763220834", "89",
        history=(("2090763220834", "39"),),
    ),
    SimIdentity("PROVISOIRE", "MATRICULE", "M", "2009-07-01", "63220", "1090763220888", "35", nia=True),
    SimIdentity("DE VINCI", "LEONARDO PIERO", "M", "2014-02-01", "63220", "1140263220833", "56"),
    # The simulator's own homonym, born in Ajaccio, so that the query without birthplace finds two.
    SimIdentity("DE VINCI", "LEONARDO", "M", "2014-02-01", "2A004", "114022A004001", "20"),
    SimIdentity("TCHITCHI", "CATARINA BELLA", "F", "1936-06-21", "63220", "2360663220836", "56"),
    SimIdentity(
        "CORSE", "ANTHONY", "M", "1980-03-02", "2B020", "180032B020401", "23",
        history=(("180032B020401", "23"),),
    ),
    # Keys that do not check, as the base returns them.
    SimIdentity(
        "HERMANN", "GATIEN", "M", "1981-03-24", "63220", "1810363220456", "60",
        history=(("1810363220456", "60"), ("2810363220456", "10")),
    ),
    SimIdentity("NESSI", "MICHELANGELO ANTHONY", "M", "2010-08-07", "63220", "1100863220830", "60"),
    SimIdentity("NESSI", "NATHALIE", "F", "1977-07-14", "63220", "2770763220829", "10"),
)

def _demo_patient(birth_name: str, given_names: str, sex: str, birth_date: str, place: str, order: int, *, nia: bool = False):
    """A NIR (or NIA: first digit 7/8) built from the traits, as the national base numbers people."""
    first = {"M": "17", "F": "28"}[sex][1 if nia else 0]
    number = f"{first}{birth_date[2:4]}{birth_date[5:7]}{place}{order:03d}"
    return SimIdentity(birth_name, given_names, sex, birth_date, place, number, matricule_key(number), nia=nia)


# The portal's demonstration patients (manage.py seed_demo, run by scripts/demo.sh): the base
# knows them, so that their recovered and qualified identities verify OK against the simulator.
DEMO_PATIENTS = (
    _demo_patient("ROUSSEAU", "THOMAS PAUL", "M", "1990-01-15", "44109", 101),
    _demo_patient("HADDAD", "KARIM", "M", "1983-05-05", "99352", 102, nia=True),
    _demo_patient("BERNARD", "SOPHIE ANNE", "F", "1975-08-19", "59350", 103),
    _demo_patient("LEFEVRE", "HELENE MARIE", "F", "1958-12-01", "67482", 104),
    _demo_patient("ROUX", "PIERRE-YVES JEAN", "M", "1948-02-29", "35238", 105),
    _demo_patient("SANTONI", "MARIE-ANGE", "F", "1972-10-10", "20004", 106),
    _demo_patient("ALBERTINI", "PAUL FRANCOIS", "M", "1985-07-07", "2B033", 107),
    _demo_patient("DA SILVA", "ANA MARIA", "F", "1969-04-25", "99139", 108),
    _demo_patient("MOREAU", "LUCAS", "M", "2019-02-14", "69383", 109),
    _demo_patient("VINCENT", "CHLOE", "F", "1999-09-09", "01340", 110),
    _demo_patient("GIRAUD", "EMMA LOUISE", "F", "1994-03-03", "87085", 111),
    _demo_patient("LAMBERT", "JULIE", "F", "1987-03-12", "75056", 112),
    _demo_patient("MARTIN", "JEAN PIERRE", "M", "1950-03-15", "63113", 113),
)


def demo_patient(birth_name: str, birth_date: str, birthplace: str) -> SimIdentity | None:
    """The demonstration patient with these traits, if the base knows one."""
    return next((p for p in DEMO_PATIENTS if (p.birth_name, p.birth_date, p.birthplace) == (birth_name, birth_date, birthplace)), None)


# Queries the qualification platform answers with siram_40/insi_102 (name, given name, sex, date).
PLATFORM_QUIRKS = {
    ("TCHITCHI", "OLA", "F", "1936-06-21"),  # 01 in the test book
    ("D'AEION", "COEUR", "M", "1987-01-01"),
}


def generated_identity(n: int) -> SimIdentity:
    """The n-th generated identity (see the module docstring for the scheme)."""
    if n < 0 or n >= 26**_NAME_LETTERS:
        raise ValueError(f"generated identity index out of range: {n}")
    base = n - 1 if n % 100 == 99 else n
    sex = "M" if base % 2 == 0 else "F"
    names = _MALE_NAMES if sex == "M" else _FEMALE_NAMES
    first = base % len(names)
    second = (first + 1 + (base // len(names)) % (len(names) - 1)) % len(names)
    born = date(1925, 1, 1) + timedelta(days=(base * 7919) % 34000)
    place = _PLACES[(base + (1 if n != base else 0)) % len(_PLACES)]
    nia = n % 50 == 25
    sex_digit = {"M": "17", "F": "28"}[sex][1 if nia else 0]
    prefix = f"{sex_digit}{born:%y%m}{place}"
    number = f"{prefix}{(n * 37) % 1000:03d}"
    history = ()
    if n % 10 == 3:
        old = f"{prefix}{(n * 37 + 1) % 1000:03d}"
        history = ((old, matricule_key(old)),)
    return SimIdentity(
        birth_name=GENERATED_PREFIX + _letters(base),
        given_names=f"{names[first]} {names[second]}",
        sex=sex,
        birth_date=born.isoformat(),
        birthplace=place,
        number=number,
        key=matricule_key(number),
        nia=nia,
        history=history,
    )


def identities_named(birth_name: str, *, generated_count: int) -> list[SimIdentity]:
    """Every identity whose birth name is exactly ``birth_name``."""
    found = list(_test_identities_by_name().get(birth_name, ()))
    index = _index_of(birth_name)
    if index is not None:
        found += [
            generated_identity(n)
            for n in (index, index + 1)
            if n < generated_count and (n == index or n % 100 == 99)
        ]
    return [identity for identity in found if identity.birth_name == birth_name]


@functools.cache
def _test_identities_by_name() -> dict[str, tuple[SimIdentity, ...]]:
    by_name: dict[str, list[SimIdentity]] = {}
    for identity in (*TEST_IDENTITIES, *DEMO_PATIENTS, *(SimIdentity(**record) for record in retry_book.national_records())):
        by_name.setdefault(identity.birth_name, []).append(identity)
    return {name: tuple(items) for name, items in by_name.items()}


def _letters(n: int) -> str:
    letters = []
    for _ in range(_NAME_LETTERS):
        n, digit = divmod(n, 26)
        letters.append(chr(ord("A") + digit))
    return "".join(reversed(letters))


def _index_of(birth_name: str) -> int | None:
    code = birth_name.removeprefix(GENERATED_PREFIX)
    if code == birth_name or len(code) != _NAME_LETTERS or not all("A" <= c <= "Z" for c in code):
        return None
    value = 0
    for char in code:
        value = value * 26 + ord(char) - ord("A")
    return value
