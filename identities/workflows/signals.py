"""The workflows' subscriptions to the core: a NIA identity is verified again after any change."""
from __future__ import annotations

from functools import partial

from django.db import transaction
from django.dispatch import receiver

from identities.core.events import identity_event_recorded
from identities.core.models import Identity
from identities.workflows.queue import enqueue_verification
from identities.workflows.verification import NIA_OIDS

# Events after which an identity holding a NIA is verified again (a NIR may have replaced it).
_NIA_CHANGES = {"TRAITS", "DOC_CHECK", "DOC_WITHDRAW", "ATTRIBUTE"}


@receiver(identity_event_recorded, dispatch_uid="insi_verify_nia_on_change")
def verify_nia_on_change(*, event, **_signal) -> None:
    """Every service records an event: the one place that sees any change of a NIA identity."""
    if event.kind not in _NIA_CHANGES:
        return
    if Identity.objects.filter(pk=event.identity_id, ins_oid__in=NIA_OIDS, doubtful=False, fictitious=False).exists():
        transaction.on_commit(partial(enqueue_verification, event.identity_id, "nia_change"))
