"""Celery tasks of documents: render a label job, purge the PDFs of old ones. Thin: ids as arguments, one service each."""
from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from identities.documents import labels

logger = logging.getLogger(__name__)


@shared_task(name=labels.JOB_TASK, ignore_result=True)
def render_label_job(job_id: int) -> None:
    """One label job, sheet after sheet; idempotent (a job is claimed once, from QUEUED)."""
    logger.info("Label job %s: %s", job_id, labels.label_job_work(job_id))


@shared_task(name="identities.documents.purge_label_jobs", ignore_result=True)
def purge_label_jobs() -> None:
    """Hourly (beat): the PDFs of label jobs finished more than LABEL_JOB_RETENTION_HOURS ago are dropped."""
    logger.info("Label job PDFs purged: %s", labels.label_jobs_purge(older_than_hours=settings.LABEL_JOB_RETENTION_HOURS))
