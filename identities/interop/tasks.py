"""Celery tasks of the diffusion: deliver a receiver's HL7 messages, and the sweep that catches lost wake-ups.

Task names are kept as first published (``identities.workflows.tasks.…``): beat's schedules in the
database and messages already queued in the broker refer to them.
"""
from __future__ import annotations

from celery import shared_task

from identities.interop import outbox


@shared_task(name=outbox.DELIVER_TASK, acks_late=True, ignore_result=True)
def deliver_outbox(receiver_id: int) -> None:
    """Send a receiver's due HL7 messages; come back when the next one is due.

    Idempotent: a lease lets one run at a time per receiver, a second one returns at once.
    """
    report = outbox.deliver(receiver_id)
    if report.next_attempt_at is not None and outbox.claim_wakeup(receiver_id, report.next_attempt_at):
        deliver_outbox.apply_async((receiver_id,), eta=report.next_attempt_at)


@shared_task(name="identities.tasks.sweep_outbox", ignore_result=True)
def sweep_outbox() -> None:
    """Every minute (beat): release messages whose commit hook was lost, wake receivers with messages due."""
    for receiver_id in outbox.sweep():
        deliver_outbox.delay(receiver_id)
