"""Every process the project starts stops on SIGTERM within seconds, and the demo stops everything it started.

The demo script itself is run (``DEMO_SETUP=0``: on the test database, no install or seeding),
with its file-system broker, as README tells; then SIGTERM to the script, or Ctrl-C (SIGINT to
its process group). A worker busy with a task that INSi keeps waiting is stopped as the demo
starts it (SIGTERM as a cold shutdown). Each test kills whatever it started that outlived it.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.utils import timezone

from identities.workflows.tasks import verify_identity
from tests import factories
from tests.processes import alive, descendants, free_port, kill_all, port_is_free, start, stop, worker_process

pytestmark = pytest.mark.usefixtures("birthplaces")

# Ready within this long or the test fails (a start on a loaded machine); not a measured figure.
READY_WITHIN = 120.0
# "Within seconds": the demo gives each process DEMO_STOP_GRACE (5 s) before killing it.
STOPPED_WITHIN = 15.0


def _wait_until(ready, what: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + READY_WITHIN
    while not ready():
        assert process.poll() is None, f"{what}: the process ended ({process.returncode}) before it was ready"
        assert time.monotonic() < deadline, f"{what}: not ready after {READY_WITHIN:.0f} s"
        time.sleep(0.2)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _says(path: Path, text: str) -> bool:
    return path.exists() and text in path.read_text(errors="replace")


def _beat_ready() -> bool:
    """The beat has read its schedule (it then writes Celery's default entry): a signal no longer
    lands in the middle of its set-up."""
    from django_celery_beat.models import PeriodicTask

    return PeriodicTask.objects.filter(name="celery.backend_cleanup").exists()


def _as_a_terminal_starts_it() -> None:
    """Signals as a terminal's shell leaves them to a foreground command: none ignored, none blocked.

    A signal ignored when bash starts cannot be trapped; the test process may have inherited or set
    an ignored SIGINT (its own parent, a library), which a user's terminal never passes on.
    """
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, set())


def _start_demo(tmp_path: Path) -> tuple[subprocess.Popen, int, Path]:
    port, logs = free_port(), tmp_path / "log"
    demo = start(
        ["scripts/demo.sh"], executable="bash", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        preexec_fn=_as_a_terminal_starts_it,
        DEMO_SETUP="0", DEMO_LOG_DIR=str(logs), PORT=str(port), INSPORTAL_VENV=sys.prefix,
        CELERY_BROKER_URL="filesystem://", CELERY_FILESYSTEM_DIR=str(tmp_path / "broker"), LOG_LEVEL="INFO",
    )
    _wait_until(lambda: _listening(port) and _says(logs / "worker.log", " ready.") and _beat_ready(),
                "the demo", demo)
    return demo, port, logs


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("how", ["SIGTERM to the script", "Ctrl-C to its process group"])
def test_the_demo_stops_everything_it_started(how, tmp_path):
    demo, port, logs = _start_demo(tmp_path)
    started = descendants(demo.pid)
    try:
        # The portal server, the worker with its pool, the beat: each in a process group of its own.
        assert len({os.getpgid(pid) for pid in started}) >= 3
        if how == "SIGTERM to the script":
            demo.send_signal(signal.SIGTERM)
        else:
            os.killpg(demo.pid, signal.SIGINT)  # what the terminal sends on Ctrl-C
        code = demo.wait(timeout=STOPPED_WITHIN)
    finally:
        left = {pid for pid in started if alive(pid)}
        kill_all(left | {demo.pid})
    assert code == 0
    assert left == set(), "still running after the demo ended"
    assert port_is_free(port)
    assert "Traceback" not in (logs / "worker.log").read_text() + (logs / "beat.log").read_text()


class _SilentInsi:
    """An INSi endpoint that takes the connection and never answers: a call in flight for as long as the test wants."""

    def __init__(self):
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}/lps"
        self.accepted: list[socket.socket] = []

    def wait_for_a_call(self, process: subprocess.Popen) -> None:
        self.socket.settimeout(0.5)

        def called() -> bool:
            try:
                self.accepted.append(self.socket.accept()[0])
            except TimeoutError:
                return False
            return True

        _wait_until(called, "the worker's INSi call", process)

    def close(self) -> None:
        for connection in self.accepted:
            connection.close()
        self.socket.close()


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_a_worker_busy_with_an_insi_call_stops_on_sigterm_as_the_demo_starts_it(celery_queue, front_desk):
    identity = factories.qualified(front_desk)
    insi = _SilentInsi()
    worker = worker_process(celery_queue, stderr=subprocess.DEVNULL, INSI_ENDPOINT=insi.url,
                            INSI_TIMEOUT="600", INSI_RETRY_ATTEMPTS="1")
    try:
        verify_identity.delay(identity.pk, "nia_change", timezone.now().isoformat())
        insi.wait_for_a_call(worker)
        # To the worker only, as the demo sends it (a signal to the group would stop the pool's children
        # directly): without REMAP_SIGTERM its warm shutdown waits for the task, the whole INSi timeout.
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(timeout=STOPPED_WITHIN)
    finally:
        kill_all({worker.pid} | descendants(worker.pid))
        insi.close()
    assert code == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("process", ["beat", "portal server"])
def test_beat_and_the_portal_server_stop_on_sigterm(process, tmp_path):
    port = free_port()
    command = {
        "beat": ["-m", "celery", "-A", "insportal", "beat"],
        "portal server": ["manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
    }[process]
    log = tmp_path / "log"
    with log.open("wb") as out:
        running = start(command, stdout=out, stderr=subprocess.STDOUT, LOG_LEVEL="INFO")
    try:
        _wait_until(lambda: _beat_ready() if process == "beat" else _listening(port), process, running)
        code = stop(running, signal.SIGTERM, grace=STOPPED_WITHIN)
    finally:
        kill_all({running.pid} | descendants(running.pid))
    assert code in (0, -signal.SIGTERM)  # runserver leaves on the default handler
    assert port_is_free(port)
