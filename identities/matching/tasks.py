"""Celery task of the nightly pass over the base: the CIV's state queues, then the duplicate and homonym sweep.

The task name is kept as first published (beat's schedule in the database refers to it).
"""
from __future__ import annotations

import logging

from celery import shared_task

from identities.core import roles
from identities.matching import pairs

logger = logging.getLogger(__name__)


@shared_task(name="identities.tasks.refresh_worklists", ignore_result=True)
def refresh_worklists() -> None:
    """Nightly (beat): open and close the CIV's queue items and detect duplicates and homonyms."""
    outcome = pairs.worklists_refresh(actor=roles.system_user())
    logger.info("Worklists refreshed: %s opened, %s closed, %s pairs", outcome.opened, outcome.closed, outcome.pairs)
