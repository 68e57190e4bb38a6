"""The portal's periodic work: folding the daily counts the dashboard reads."""
from __future__ import annotations

import logging

from celery import shared_task

from identities.portal.tally import tally_compact

logger = logging.getLogger(__name__)


@shared_task(name="identities.tasks.compact_identity_tally", ignore_result=True)
def compact_identity_tally() -> None:
    """Every quarter of an hour (beat): one row per day and group in the dashboard's counts (identities, flows, times)."""
    logger.info("Dashboard tallies compacted: %s rows", tally_compact())
