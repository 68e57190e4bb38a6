"""Reads of the INSi workflows other capabilities ask for: is an identity held by unfinished INSi work, which recoveries it has."""
from __future__ import annotations

from identities.workflows.models import InsiRecovery, InsiRun, InsiRunItem


def unfinished_insi_work(identity_ids) -> str:
    """Why one of these identities is in use by INSi work not finished yet (French, for a refusal), or ""."""
    identity_ids = list(identity_ids)
    awaiting = InsiRecovery.objects.filter(identity_id__in=identity_ids, state=InsiRecovery.State.AWAITING).order_by("pk").first()
    if awaiting is not None:
        return (
            f"l'identité n° {awaiting.identity_id} attend la décision sur la récupération INSi n° {awaiting.pk} : "
            "acceptez ou refusez son résultat d'abord"
        )
    item = (
        InsiRunItem.objects.filter(identity_id__in=identity_ids, state=InsiRunItem.State.PENDING,
                                   run__state__in=[InsiRun.State.RUNNING, InsiRun.State.PAUSED])
        .select_related("run").order_by("pk").first()
    )
    if item is not None:
        return (
            f"l'identité n° {item.identity_id} fait partie de l'exécution INSi « {item.run.label} » en cours : "
            "attendez qu'elle l'ait traitée, ou annulez l'exécution"
        )
    return ""


def recovery_ids(identity_id: int) -> list[int]:
    """The INSi recoveries of an identity (with their exchange references), oldest first."""
    return list(InsiRecovery.objects.filter(identity_id=identity_id).order_by("pk").values_list("pk", flat=True))
