"""Shared by the interop benchmarks: percentiles and their section of docs/benchmarks-interop.md."""
from __future__ import annotations

import platform
import re
import statistics
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "docs" / "benchmarks-interop.md"
TITLE = "# Interoperability benchmarks (HL7 v2 over MLLP, FHIR API)\n"


def percentiles(samples_ms: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples_ms)
    cut = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else ordered * 99
    return statistics.median(ordered), cut[94], ordered[-1]


def machine() -> str:
    import os

    return f"{date.today().isoformat()} on {platform.machine()}, {os.cpu_count()} CPU, Python {platform.python_version()}"


def write_section(name: str, text: str) -> None:
    """Replace this benchmark's section of the report (the other benchmark's is kept)."""
    current = REPORT.read_text(encoding="utf-8") if REPORT.exists() else TITLE
    block = f"<!-- {name} -->\n{text.strip()}\n<!-- /{name} -->\n"
    pattern = re.compile(rf"<!-- {name} -->.*?<!-- /{name} -->\n", re.S)
    current = pattern.sub(lambda _: block, current) if pattern.search(current) else current.rstrip("\n") + "\n\n" + block
    REPORT.write_text(current, encoding="utf-8")
