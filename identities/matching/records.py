"""Match records: the plain traits the engine compares, and the normalised forms every rule uses."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

# The engine's only door to the trait rules; issue 11 moves it to identities.core.traits.
from identities.core.traits import BORN_ABROAD_PREFIX, search_key

from identities.matching.phonetic import phonetic


@dataclass(frozen=True, slots=True)
class Record:
    """One identity as the engine sees it: the stored trait strings, nothing computed."""

    id: int | str
    birth_name: str
    birth_given_names: str = ""
    first_birth_given_name: str = ""
    birth_date: str = ""  # YYYY-MM-DD as stored; 00 for an unknown day or month; "" unknown
    sex: str = ""  # M, F, I, or "" when not typed (desk search)
    birthplace_code: str = ""  # 5-character COG, or blank
    used_name: str = ""
    used_given_name: str = ""
    ins_matricule: str | None = None
    ipp: str = ""
    # Other matricules INSi reported for this identity (historical ones, or an active one it
    # no longer holds), still valid: one of them on another identity is the same INS.
    ins_reported: tuple[str, ...] = ()

    def matricules(self) -> set[str]:
        """Every matricule that names this identity's person: its own and those INSi reported for it."""
        return {m for m in (self.ins_matricule, *self.ins_reported) if m}


# The caches serve the desk and the tests (one record at a time); a sweep works out each distinct
# value once anyway (``table.encode``), so they stay small.

# Leading particles a desk may drop, glue or split (DE LA FONTAINE, D'ALMEIDA, LE GALL).
_PARTICLE_TOKENS = {"DE", "D", "DU", "DES", "LE", "LA", "L"}
_GLUED = ("DELA", "DES", "DE", "DU", "LE", "LA")


@lru_cache(maxsize=50_000)
def name_key(value: str) -> str:
    """The name with case, accents and separators folded away: LE GALL, LE-GALL, LEGALL are one key."""
    return search_key(value).replace(" ", "").replace("'", "")


@lru_cache(maxsize=50_000)
def name_search(value: str) -> str:
    """The stored ``*_name_key`` form (separators kept, made alike): what the homonym rule compares."""
    return search_key(value)


@lru_cache(maxsize=50_000)
def name_core(value: str) -> str:
    """The name without its leading particle, so DE OLIVEIRA, D'OLIVEIRA, OLIVEIRA and DEOLIVEIRA meet.

    Applied alike to both sides it only ever adds candidates (DUPONT and PONT share a core):
    scoring, not blocking, tells them apart.
    """
    tokens = search_key(value).replace("'", " ").split()
    if len(tokens) > 1:
        while len(tokens) > 1 and tokens[0] in _PARTICLE_TOKENS:
            tokens = tokens[1:]
        return "".join(tokens)
    joined = "".join(tokens)
    for particle in _GLUED:
        if joined.startswith(particle) and len(joined) - len(particle) >= 3:
            return joined[len(particle):]
    # D' glued before a vowel: DALMEIDA for D'ALMEIDA.
    if len(joined) >= 5 and joined[0] == "D" and joined[1] in "AEIOU":
        return joined[1:]
    return joined


@lru_cache(maxsize=50_000)
def name_sound(value: str) -> str:
    return phonetic(name_core(value))


@lru_cache(maxsize=50_000)
def given_tokens(value: str) -> tuple[str, ...]:
    """The given names one by one; a composed name counts as its parts (JEAN-PIERRE = JEAN PIERRE)."""
    return tuple(search_key(value).replace("'", " ").split())


def homonym_first_given(value: str) -> str:
    """The first given name as the existing homonym rule compares it: separators made alike, kept apart."""
    return search_key(value)


def date_parts(value: str) -> tuple[int, int, int]:
    """(year, month, day), 0 for an unknown part; (0, 0, 0) when the text is no date."""
    if len(value or "") != 10 or value[4] != "-" or value[7] != "-":
        return 0, 0, 0
    try:
        return int(value[:4]), int(value[5:7]), int(value[8:])
    except ValueError:
        return 0, 0, 0


def department(code: str) -> str:
    """Where a birthplace code points at a coarse level: its department, or the country for 99 codes."""
    if not code:
        return ""
    if code.startswith(BORN_ABROAD_PREFIX):
        return code
    return "20" if code[:2] in ("2A", "2B") else code[:2]


def looks_like_postal_code(code: str) -> bool:
    """A French code ending in 0: nearly every postal code does, one INSEE commune code in ten."""
    return len(code) == 5 and not code.startswith(BORN_ABROAD_PREFIX) and code.endswith("0")
