"""The desk agent of the guided-retry tests and bench: search, then click the first proposal after each 01, up to four searches."""
from __future__ import annotations

from identities.workflows import recovery as rec
from identities.workflows.models import InsiRecovery


def click_through(actor, identity_id: int, *, searches: int = 4) -> list[InsiRecovery]:
    """Every search made, in order: the first with the identity's traits, then one per proposal clicked."""
    made = [rec.recovery_search(actor=actor, identity_id=identity_id)]
    while made[-1].state == InsiRecovery.State.NOT_FOUND and len(made) < searches:
        suggestions = rec.guidance(made[-1]).suggestions
        if not suggestions:
            break
        pick = suggestions[0]
        made.append(rec.recovery_search(actor=actor, identity_id=identity_id, birth_name=pick.birth_name,
                                        given_names=pick.given_names, birthplace=pick.birthplace, variant=pick.variant))
    return made
