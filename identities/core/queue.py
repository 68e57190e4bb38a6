"""Queueing a Celery task by its name, so that a service never imports the task module that imports it."""
from __future__ import annotations

from datetime import datetime

from celery import current_app


def enqueue(task_name: str, *args, eta: datetime | None = None) -> None:
    """Send a task (called from ``transaction.on_commit``: the task only sees committed rows)."""
    current_app.send_task(task_name, args=args, eta=eta)
