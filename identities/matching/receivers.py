"""Matching's subscription to the core's identity events: an identity's stored keys follow its traits, and a change is checked at once."""
from __future__ import annotations

from functools import partial

from django.db import transaction
from django.dispatch import receiver

from identities.core.events import identity_event_recorded
from identities.core.queue import enqueue
from identities.matching import store

CHECK_TASK = "identities.matching.check_identity"
# Events after which the traits the engine compares (names, date, sex, birthplace, INS) may differ.
_TRAIT_EVENTS = {"CREATED", "TRAITS", "INS_SET", "INS_INVALID", "STATUS"}


@receiver(identity_event_recorded, dispatch_uid="matching_keys_follow_traits")
def keys_follow_traits(*, event, **_signal) -> None:
    """In the event's transaction: the keys commit or roll back with the change; the check runs after the commit."""
    if event.kind not in _TRAIT_EVENTS:
        return
    # The event's own identity: a service may record the event before it saves the new traits.
    identity = event.identity
    store.keys_refresh(identity)
    if event.kind in ("CREATED", "TRAITS"):
        transaction.on_commit(partial(enqueue, CHECK_TASK, identity.pk))
