"""Celery tasks of the INSi workflows: runs of campaigns and batches, automatic verifications, the exchange-log purge.

Thin and idempotent, ids as arguments, each calling one service. Task names are kept as
first published (``identities.workflows.tasks.…``): beat's schedules in the database and messages
already queued in the broker refer to them.
"""
from __future__ import annotations

import logging
from datetime import datetime

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings

from identities.core import roles
from identities.core.errors import NotAllowed
from identities.core.models import Identity
from identities.workflows import campaigns, insi_adapter, queue, verification

logger = logging.getLogger(__name__)


@shared_task(name=queue.RUN_SLICE_TASK, acks_late=True, ignore_result=True)
def run_slice(run_id: int) -> None:
    """Work through a run's identities for a while, then queue the next slice.

    Idempotent: identities are claimed under row locks and closed by compare-and-swap, so a
    spare or redelivered slice finds nothing to do and stops.
    """
    if campaigns.run_work(run_id, seconds=settings.INSI_RUN_SLICE_SECONDS) == "more":
        run_slice.delay(run_id)


@shared_task(name=campaigns.RUN_TASK, ignore_result=True)
def campaign_run_scheduled(campaign_id: int) -> None:
    """Beat's entry for a campaign (installed by the campaign's schedule): start a run unless one is going."""
    try:
        campaigns.campaign_start_run(actor=roles.system_user(), campaign_id=campaign_id, scheduled=True)
    except NotAllowed:
        logger.info("campaign=%s inactive: scheduled run skipped", campaign_id)


@shared_task(name="identities.tasks.resume_runs", ignore_result=True)
def resume_runs() -> None:
    """After a worker (re)start and every few minutes: runs with identities left get slices again."""
    for run_id in campaigns.runs_to_resume():
        queue.start_run_slices(run_id, max(1, settings.INSI_RUN_PARALLELISM))


@worker_ready.connect
def _resume_runs_on_start(**_kwargs) -> None:
    # A worker killed mid-run left its identities pending: the restarted one takes them back.
    resume_runs.delay()


@shared_task(name=queue.VERIFY_TASK, bind=True, acks_late=True, ignore_result=True, max_retries=5)
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


@shared_task(name="identities.tasks.purge_insi_exchange_bodies", ignore_result=True)
def purge_insi_exchange_bodies() -> None:
    """Daily (beat): the bodies of INSi exchanges older than the retention period are dropped, the rows stay."""
    purged = insi_adapter.purge_exchange_bodies(older_than_days=settings.INSI_EXCHANGE_BODY_RETENTION_DAYS)
    logger.info("INSi exchange bodies purged: %s", purged)
