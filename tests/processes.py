"""The project's own commands run as processes of their own (a Celery worker, the MLLP listener), on the test database."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.db import connection


def project_env(**env: str) -> dict[str, str]:
    """The environment of a production-like process pointed at this test's database and broker."""
    db = connection.settings_dict
    return os.environ | {
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL, "INSI_PACE_REDIS_URL": settings.INSI_PACE_REDIS_URL, "INS_ENVIRONMENT": "test",
        "SECRET_KEY": "test-only-secret-key-not-used-anywhere-else", "DEBUG": "0", "SECURE_SSL_REDIRECT": "0", "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",  # what a test reads from a pipe arrives as it is written
    } | env


def start(command: list[str], *, stdout: int = subprocess.PIPE, stderr: int = subprocess.PIPE, preexec_fn=None,
          executable: str = sys.executable, **env: str) -> subprocess.Popen:
    """``command`` run with this interpreter in the project's directory, in a process group of its own; stderr piped."""
    return subprocess.Popen([executable, *command], env=project_env(**env), cwd=settings.BASE_DIR, start_new_session=True,
                            stdout=stdout, stderr=stderr, preexec_fn=preexec_fn)


def worker_process(queue: str, *, stderr: int = subprocess.PIPE, **env: str) -> subprocess.Popen:
    """``celery worker`` (2 prefork processes) consuming ``queue``, started as README and the demo start it
    (SIGTERM is a cold shutdown: ``REMAP_SIGTERM=SIGQUIT``); it logs on its stderr."""
    return start(["-m", "celery", "-A", "insportal", "worker", "-Q", queue, "-c", "2", "-P", "prefork",
                  "--without-mingle", "--without-gossip", "--without-heartbeat"],
                 stdout=subprocess.DEVNULL, stderr=stderr, CELERY_TASK_DEFAULT_QUEUE=queue, **{"REMAP_SIGTERM": "SIGQUIT", **env})


def stop(process: subprocess.Popen, how: signal.Signals = signal.SIGTERM, *, grace: float = 20.0) -> int:
    """Signal the process group, wait for it, return its exit code; then kill whatever is left of the group.

    A process still running ``grace`` seconds after the signal is killed with its group and the
    test fails: every process the project starts stops on SIGTERM within seconds.
    """
    if process.poll() is None:
        _signal_group(process, how)
    try:
        code = process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        _signal_group(process, signal.SIGKILL)
        process.wait(timeout=30)
        raise AssertionError(f"{' '.join(map(str, process.args))} still ran {grace:.0f} s after {how.name}: killed") from None
    _signal_group(process, signal.SIGKILL)  # children that outlived their parent (a worker's pool)
    return code


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (children, theirs...), read from /proc."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # "pid (command) state ppid ...": the command may hold spaces and parentheses.
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Still running (a zombie waiting for its parent counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def kill_all(pids: set[int]) -> None:
    """SIGKILL to each process and its group: the cleanup of a test whose processes outlived it."""
    for pid in pids:
        for kill in (os.killpg, os.kill):
            try:
                kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def free_port() -> int:
    """A port nothing listens on (yet)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_is_free(port: int) -> bool:
    """Nothing listens on ``port`` any more: it can be bound again."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _signal_group(process: subprocess.Popen, how: signal.Signals) -> None:
    try:
        os.killpg(process.pid, how)
    except ProcessLookupError:
        pass
