"""The recommended search strategy: one call per given name in order, then all of them joined."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from insi.client import InsiClient, get_client
from insi.types import CallContext, Fault, Found, SearchOutcome, Several, TraitsQuery, TransportFailure


@dataclass(frozen=True)
class StrategyStep:
    """One call the strategy made."""

    given_name: str
    birthplace: str
    outcome: SearchOutcome


@dataclass(frozen=True)
class StrategyReport:
    """Every call made, in order, and the outcome that decides: 00 if any, else a failure that stopped the run,
    else 02 if any call had several answers, else 01."""

    steps: tuple[StrategyStep, ...]
    outcome: SearchOutcome


def search_recommended(
    *,
    birth_name: str,
    given_names: Sequence[str],
    sex: str,
    birth_date: str,
    birthplace: str = "",
    context: CallContext,
    client: InsiClient | None = None,
) -> StrategyReport:
    """Stop at the first 00 and at the first fault (a functional fault repeats; a technical one was retried).

    The birthplace is held back and sent only to narrow a 02: a wrong or defunct local COG
    code would turn a 00 into a 01.
    """
    if isinstance(given_names, str):  # a str is a Sequence[str] of letters
        given_names = given_names.split()
    client = client or get_client()
    names = [name for name in given_names if name]
    if not names:
        raise ValueError("the search strategy needs at least one given name")
    attempts = names + ([" ".join(names)] if len(names) > 1 else [])
    steps: list[StrategyStep] = []

    def call(given_name: str, place: str) -> SearchOutcome:
        query = TraitsQuery(birth_name=birth_name, given_name=given_name, sex=sex, birth_date=birth_date, birthplace=place)
        outcome = client.search_by_traits(query, context=context)
        steps.append(StrategyStep(given_name=given_name, birthplace=place, outcome=outcome))
        return outcome

    for given_name in attempts:
        outcome = call(given_name, "")
        if isinstance(outcome, Several) and birthplace:
            outcome = call(given_name, birthplace)
        if isinstance(outcome, (Found, Fault, TransportFailure)):
            return StrategyReport(steps=tuple(steps), outcome=outcome)
    several = next((step.outcome for step in steps if isinstance(step.outcome, Several)), None)
    return StrategyReport(steps=tuple(steps), outcome=several or steps[-1].outcome)
