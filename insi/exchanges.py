"""Writes to the INSi exchange log: recording a call and purging old bodies."""
from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from insi.models import Exchange
from insi.transport import Capture
from insi.types import CallContext, Fault, Outcome, TransportFailure


def exchange_create(
    *,
    operation: str,
    context: CallContext,
    message_id: str,
    attempt: int,
    endpoint: str,
    started_at: datetime,
    duration_ms: int,
    capture: Capture,
    outcome: Outcome,
) -> Exchange:
    """Record one attempt (the workflows call INSi outside their own transaction: the trace stays even when they then refuse)."""
    user = context.user if getattr(context.user, "is_authenticated", False) else None
    return Exchange.objects.create(
        operation=operation,
        mode=context.mode,
        user=user,
        username=user.get_username() if user is not None else "",
        task_label=context.task_label,
        identity_id=context.identity_id,
        message_id=message_id,
        attempt=attempt,
        endpoint=endpoint[:255],
        started_at=started_at,
        duration_ms=duration_ms,
        http_status=capture.http_status,
        return_code=outcome.code[:32],
        error=_error_text(outcome),
        request_body=capture.sent or None,
        response_body=capture.received or None,
    )


def exchange_bodies_purge(*, older_than_days: int, now: datetime | None = None, batch_size: int = 1000) -> int:
    """Drop the request/response bodies of exchanges older than ``older_than_days``; rows stay. Returns the count."""
    cutoff = (now or timezone.now()) - timedelta(days=older_than_days)
    stale = Exchange.objects.filter(started_at__lt=cutoff, bodies_purged_at__isnull=True)
    purged = 0
    # Batches keep each UPDATE short on a table that only grows.
    while ids := list(stale.values_list("pk", flat=True)[:batch_size]):
        purged += Exchange.objects.filter(pk__in=ids).update(
            request_body=None, response_body=None, bodies_purged_at=timezone.now()
        )
    return purged


def _error_text(outcome: Outcome) -> str:
    if isinstance(outcome, Fault):
        return " ".join(part for part in (f"{outcome.soap_code}/{outcome.subcode}".strip("/"), outcome.message) if part)
    if isinstance(outcome, TransportFailure):
        return outcome.message
    return ""
