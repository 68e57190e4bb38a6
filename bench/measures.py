"""What every benchmark reports beside its figures: nearest-rank percentiles, the machine's load average, and a
helper process stopped cleanly. Imported by the bench scripts (``python bench/NAME.py`` puts this folder on the path)."""
from __future__ import annotations

import os
import signal
import subprocess


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (``share`` 0.95 for p95) of the values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def load_average() -> str:
    """The 1, 5 and 15-minute load averages, as the benchmarks record them beside each figure."""
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the process's group (started with ``start_new_session=True``), SIGKILL after a minute."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
