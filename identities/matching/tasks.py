"""Celery tasks of matching: the nightly pass (state queues, then the sweep in parts), one part of a sweep, one identity's check.

The nightly task's name is kept as first published (beat's schedule in the database refers to it).
"""
from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import worker_ready

from identities.core import roles
from identities.core.worklists import worklists_sync
from identities.matching import pairs, receivers

logger = logging.getLogger(__name__)


@shared_task(name="identities.tasks.refresh_worklists", ignore_result=True)
def refresh_worklists() -> None:
    """Nightly (beat): open and close the CIV's queue items, then start the duplicate sweep, its parts spread over the workers."""
    actor = roles.system_user()
    synced = worklists_sync(actor=actor)
    run = pairs.sweep_start(actor=actor)
    logger.info("Worklists refreshed: %s opened, %s closed; sweep %s started", synced.opened, synced.closed, run.pk)


@shared_task(name=pairs.PART_TASK, acks_late=True, ignore_result=True)
def sweep_part(part_id: int) -> None:
    """One part of a sweep; idempotent (a redelivered or resumed part writes no pair twice)."""
    logger.info("Sweep part %s: %s", part_id, pairs.sweep_part_work(part_id, actor=roles.system_user()))


@shared_task(name="identities.matching.resume_sweeps", ignore_result=True)
def resume_sweeps() -> None:
    """After a worker (re)start: the parts a killed worker left are queued again."""
    for part_id in pairs.sweeps_to_resume():
        sweep_part.delay(part_id)


@worker_ready.connect
def _resume_sweeps_on_start(**_kwargs) -> None:
    resume_sweeps.delay()


@shared_task(name=receivers.CHECK_TASK, ignore_result=True)
def check_identity(identity_id: int) -> None:
    """An identity created or changed through any channel, checked against the base just after its commit."""
    pairs.worklist_detect_pairs(actor=roles.system_user(), identity_id=identity_id)
