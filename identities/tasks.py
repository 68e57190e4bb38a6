"""Celery tasks of the identity referential: thin, idempotent, ids as arguments, each calling one service."""
from __future__ import annotations

import logging
from datetime import datetime

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.utils import timezone

from identities import outbox, roles, worklists
from identities.errors import NotAllowed
from identities.models import Identity
from identities.workflows import campaigns, insi_adapter, verification

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def deliver_outbox(receiver_id: int) -> None:
    """Send a receiver's due HL7 messages; come back when the next one is due.

    Idempotent: a lease lets one run at a time per receiver, a second one returns at once.
    """
    report = outbox.deliver(receiver_id)
    if report.next_attempt_at is not None and outbox.claim_wakeup(receiver_id, report.next_attempt_at):
        deliver_outbox.apply_async((receiver_id,), eta=report.next_attempt_at)


@shared_task(ignore_result=True)
def sweep_outbox() -> None:
    """Every minute (beat): release messages whose commit hook was lost, wake receivers with messages due."""
    for receiver_id in outbox.sweep():
        deliver_outbox.delay(receiver_id)


# --- INSi workflows: runs of campaigns and recovery batches, verifications, the exchange-log purge ---

@shared_task(acks_late=True, ignore_result=True)
def run_slice(run_id: int) -> None:
    """Work through a run's identities for a while, then queue the next slice.

    Idempotent: identities are claimed under row locks and closed by compare-and-swap, so a
    spare or redelivered slice finds nothing to do and stops.
    """
    if campaigns.run_work(run_id, seconds=settings.INSI_RUN_SLICE_SECONDS) == "more":
        run_slice.delay(run_id)


def start_run_slices(run_id: int, count: int) -> None:
    """Queue ``count`` slices of a run: as many worker processes as that can work on it at once."""
    for _ in range(count):
        run_slice.delay(run_id)


@shared_task(ignore_result=True)
def campaign_run_scheduled(campaign_id: int) -> None:
    """Beat's entry for a campaign (installed by the campaign's schedule): start a run unless one is going."""
    try:
        campaigns.campaign_start_run(actor=roles.system_user(), campaign_id=campaign_id, scheduled=True)
    except NotAllowed:
        logger.info("campaign=%s inactive: scheduled run skipped", campaign_id)


@shared_task(ignore_result=True)
def resume_runs() -> None:
    """After a worker (re)start and every few minutes: runs with identities left get slices again."""
    for run_id in campaigns.runs_to_resume():
        start_run_slices(run_id, max(1, settings.INSI_RUN_PARALLELISM))


@worker_ready.connect
def _resume_runs_on_start(**_kwargs) -> None:
    # A worker killed mid-run left its identities pending: the restarted one takes them back.
    resume_runs.delay()


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=5)
def verify_identity(self, identity_id: int, trigger: str, requested_at: str) -> None:
    """An automatic verification (before an admission, a NIA identity changed).

    Idempotent: skipped when the identity was verified since it was asked for. A technical
    failure is retried later with a growing delay.
    """
    since = datetime.fromisoformat(requested_at)
    if Identity.objects.filter(pk=identity_id, last_verified_at__gte=since).exists():
        return
    label = verification.TRIGGER_LABELS.get(trigger, trigger)
    result = verification.verification_verify(
        actor=roles.system_user(), identity_id=identity_id, context=insi_adapter.automatic(str(label), identity_id), trigger=trigger,
    )
    if result.technical:
        raise self.retry(countdown=settings.INSI_RUN_RETRY_BACKOFF * 2 ** self.request.retries)


def enqueue_verification(identity_id: int, trigger: str, *, eta: datetime | None = None) -> None:
    verify_identity.apply_async((identity_id, str(trigger), timezone.now().isoformat()), eta=eta)


@shared_task(ignore_result=True)
def purge_insi_exchange_bodies() -> None:
    """Daily (beat): the bodies of INSi exchanges older than the retention period are dropped, the rows stay."""
    purged = insi_adapter.purge_exchange_bodies(older_than_days=settings.INSI_EXCHANGE_BODY_RETENTION_DAYS)
    logger.info("INSi exchange bodies purged: %s", purged)


@shared_task(ignore_result=True)
def refresh_worklists() -> None:
    """Nightly (beat): open and close the CIV's queue items and detect duplicates and homonyms."""
    outcome = worklists.worklists_refresh(actor=roles.system_user())
    logger.info("Worklists refreshed: %s opened, %s closed, %s pairs", outcome.opened, outcome.closed, outcome.pairs)
