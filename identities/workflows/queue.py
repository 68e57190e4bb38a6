"""Queueing the workflows' background work by task name (the task module imports the services, never the reverse)."""
from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from identities.core.queue import enqueue

RUN_SLICE_TASK = "identities.tasks.run_slice"
VERIFY_TASK = "identities.tasks.verify_identity"


def start_run_slices(run_id: int, count: int) -> None:
    """Queue ``count`` slices of a run: as many worker processes as that can work on it at once."""
    for _ in range(count):
        enqueue(RUN_SLICE_TASK, run_id)


def enqueue_verification(identity_id: int, trigger: str, *, eta: datetime | None = None) -> None:
    """An automatic verification, with the moment it was asked for (a later verification makes it moot)."""
    enqueue(VERIFY_TASK, identity_id, str(trigger), timezone.now().isoformat(), eta=eta)
