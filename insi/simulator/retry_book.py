"""The simulator's guided-retry book: people of the national base as a desk typically mistypes them, one set per kind.

Each case holds the person as the base returns them (``national``: the fields of a
``catalog.SimIdentity``) and as the desk typed them (``desk``: the traits of an identity
record). A search with the desk's traits answers 01; the kind says which retry finds them:

- ``USED_NAME``: the married name typed as the birth name, the birth name recorded as the used name;
- ``GIVEN_NAMES``: a composed given name typed as two (``JEAN PIERRE`` for ``JEAN-PIERRE``);
- ``FIRST_GIVEN_NAME``: a usual composed first name (``MARIE-LOU``) for the civil-status ``MARIE``;
- ``USED_NAME+GIVEN_NAMES``: both mistakes at once;
- ``BIRTHPLACE``: a wrong local birthplace (the search finds them at once, the place being
  sent only to narrow a 02);
- ``GIVEN_NAMES_MARRIED`` / ``FIRST_GIVEN_NAME_MARRIED``: the birth name typed right, a married
  name recorded as the used name (so the used-name proposal, offered first, misses), and the
  given-name mistake of the kind;
- ``TYPO``: a misspelt birth name (``ORTOGRAPHE`` for ``ORTHOGRAPHE``): held by the base, but no
  proposal corrects spelling — the agent types it in the retry form;
- ``ABSENT``: nobody of the base (a wrong birth date): no retry can find them (the control).

Names end with two letters (``AA``…): ``cases(count)`` gives ``count`` people of each kind.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from insi.oids import matricule_key

KINDS = (
    "USED_NAME", "GIVEN_NAMES", "FIRST_GIVEN_NAME", "USED_NAME+GIVEN_NAMES", "BIRTHPLACE",
    "GIVEN_NAMES_MARRIED", "FIRST_GIVEN_NAME_MARRIED", "TYPO", "ABSENT",
)
MAX_PER_KIND = 26 * 26


@dataclass(frozen=True)
class RetryCase:
    kind: str
    national: dict | None  # SimIdentity fields; None for ABSENT
    desk: dict  # birth_name, birth_given_names, birth_date, sex, birthplace_code, used_name


def _suffix(n: int) -> str:
    return chr(ord("A") + n // 26) + chr(ord("A") + n % 26)


def _national(birth_name: str, given_names: str, sex: str, born: date, place: str, order: int) -> dict:
    number = f"{'1' if sex == 'M' else '2'}{born:%y%m}{place}{order:03d}"
    return {"birth_name": birth_name, "given_names": given_names, "sex": sex, "birth_date": born.isoformat(),
            "birthplace": place, "number": number, "key": matricule_key(number)}


def _case(kind: str, n: int) -> RetryCase:
    s = _suffix(n)
    born = date(1950, 1, 1) + timedelta(days=KINDS.index(kind) * 997 + n * 13)
    desk = {"birth_date": born.isoformat(), "birthplace_code": "63220", "used_name": ""}
    if kind == "USED_NAME":
        national = _national(f"NAISSANCE-{s}", "CLAIRE", "F", born, "63220", 500 + n % 500)
        desk |= {"birth_name": f"EPOUSE-{s}", "used_name": f"NAISSANCE-{s}", "birth_given_names": "CLAIRE", "sex": "F"}
    elif kind == "GIVEN_NAMES":
        national = _national(f"COMPOSE-{s}", "JEAN-PIERRE", "M", born, "63220", 500 + n % 500)
        desk |= {"birth_name": f"COMPOSE-{s}", "birth_given_names": "JEAN PIERRE", "sex": "M"}
    elif kind == "FIRST_GIVEN_NAME":
        national = _national(f"PREMIER-{s}", "MARIE", "F", born, "63220", 500 + n % 500)
        desk |= {"birth_name": f"PREMIER-{s}", "birth_given_names": "MARIE-LOU", "sex": "F"}
    elif kind == "USED_NAME+GIVEN_NAMES":
        national = _national(f"NEE-{s}", "ANNE-SOPHIE", "F", born, "63220", 500 + n % 500)
        desk |= {"birth_name": f"MARIEE-{s}", "used_name": f"NEE-{s}", "birth_given_names": "ANNE SOPHIE", "sex": "F"}
    elif kind == "BIRTHPLACE":
        national = _national(f"LIEU-{s}", "PAUL", "M", born, "63220", 500 + n % 500)
        desk |= {"birth_name": f"LIEU-{s}", "birth_given_names": "PAUL", "sex": "M", "birthplace_code": "75056"}
    elif kind == "GIVEN_NAMES_MARRIED":
        national = _national(f"DOUBLE-{s}", "MARIE-CLAIRE", "F", born, "63220", 500 + n % 500)
        desk |= {"birth_name": f"DOUBLE-{s}", "used_name": f"EPOUX-{s}", "birth_given_names": "MARIE CLAIRE", "sex": "F"}
    elif kind == "FIRST_GIVEN_NAME_MARRIED":
        national = _national(f"PREMIERE-{s}", "LOU", "F", born, "63220", 500 + n % 500)
        desk |= {"birth_name": f"PREMIERE-{s}", "used_name": f"CONJOINT-{s}", "birth_given_names": "LOU-ANNE", "sex": "F"}
    elif kind == "TYPO":
        national = _national(f"ORTHOGRAPHE-{s}", "LEA", "F", born, "63220", 500 + n % 500)
        desk |= {"birth_name": f"ORTOGRAPHE-{s}", "birth_given_names": "LEA", "sex": "F"}
    elif kind == "ABSENT":
        national = None
        desk |= {"birth_name": f"ABSENT-{s}", "birth_given_names": "LUC", "sex": "M"}
    else:
        raise ValueError(f"unknown guided-retry kind: {kind}")
    return RetryCase(kind=kind, national=national, desk=desk)


def cases(count: int = MAX_PER_KIND, *, kinds: tuple[str, ...] = KINDS) -> list[RetryCase]:
    """``count`` people of each kind (at most MAX_PER_KIND), in a stable order."""
    return [_case(kind, n) for kind in kinds for n in range(min(count, MAX_PER_KIND))]


def national_records() -> list[dict]:
    """Every person of the book the simulated base holds (SimIdentity fields)."""
    return [case.national for case in cases() if case.national is not None]
