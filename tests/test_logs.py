"""No personal data in the logs: an exception that quotes a patient's name or NIR is logged by its
class and its frames only, by the portal and by a real Celery worker."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest
from django.conf import settings
from django.utils import timezone

from identities.workflows.tasks import verify_identity
from insportal.logs import WITHHELD
from tests.processes import stop, worker_process

NAME, NIR = "ZYGMUNTOWICZ", "2800575116001"

FAILING_REQUEST = f"""
import logging, django
django.setup()

def read_chart():
    int("{NAME} {NIR}")

try:
    try:
        read_chart()
    except ValueError as error:
        raise LookupError("no chart for {NAME}") from error
except LookupError:
    logging.getLogger("django.request").error("Internal Server Error: /admin/identities/identity/42/", exc_info=True)
"""


def test_a_failing_request_is_logged_once_with_its_frames_but_without_the_patients_data():
    env = os.environ | {"DJANGO_SETTINGS_MODULE": "insportal.settings", "SECRET_KEY": "test-only", "DEBUG": "1", "LOG_LEVEL": "INFO"}
    done = subprocess.run([sys.executable, "-c", FAILING_REQUEST], env=env, cwd=settings.BASE_DIR, capture_output=True,
                          text=True, timeout=60, check=True)
    log = done.stderr
    assert log.count("Internal Server Error: /admin/identities/identity/42/") == 1  # Django's debug console is not a second copy
    assert "in read_chart" in log and "The above exception was the direct cause" in log
    assert f"ValueError {WITHHELD}" in log and f"LookupError {WITHHELD}" in log
    assert NAME not in log and NIR not in log


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_a_failed_task_is_logged_by_the_worker_without_the_value_it_choked_on(celery_queue):
    worker = worker_process(celery_queue)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(line.decode() for line in worker.stderr), daemon=True)
    reader.start()
    try:
        # A caller mistaking the NIR for the identity's key: the ORM's error quotes the value.
        verify_identity.delay(f"{NAME} {NIR}", "nia", timezone.now().isoformat())
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any("verify_identity" in line for line in lines):
            time.sleep(0.2)
    finally:
        stop(worker)
        reader.join(timeout=30)
    log = "".join(lines)
    assert "identities.tasks.verify_identity" in log and f"ValueError {WITHHELD}" in log
    assert "Traceback (most recent call last)" in log
    assert NAME not in log and NIR not in log
