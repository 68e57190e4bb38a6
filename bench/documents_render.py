"""Time and peak memory of rendering: one document, one A4 sheet of 24 labels, 1,000 labels in one job.

Each scenario runs in a fresh process (peak RSS is per process), after one warm-up render
that loads fonts and templates. Needs a migrated database (label formats); writes nothing.

    DATABASE_URL=postgres://… python bench/documents_render.py
"""
from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = {"document": 5, "sheet-24": 3, "labels-1000": 1}  # scenario: timed runs


def run(scenario: str) -> dict:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "insportal.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only")
    import django

    django.setup()
    from bench.documents_demo import many_qualified, qualified
    from identities.documents.models import LabelFormat, LabelProfile
    from identities.documents import render as documents

    sheet = LabelFormat.objects.get(code="a4-3x8")
    profile = LabelProfile(name="Bench", label_format=sheet)
    jobs = {
        "document": lambda: documents.render_identity_document(qualified(), printed_by="bench"),
        "sheet-24": lambda: documents.render_labels([qualified()], label_format=sheet, profile=profile, copies=24),
        "labels-1000": lambda: documents.render_labels(many_qualified(1000), label_format=sheet, profile=profile),
    }
    documents.render_identity_document(qualified(), printed_by="bench")  # warm-up: fonts, templates
    before = resource.getrusage(resource.RUSAGE_SELF)
    timings, size = [], 0
    for _ in range(SCENARIOS[scenario]):
        start = time.perf_counter()
        size = len(jobs[scenario]())
        timings.append(time.perf_counter() - start)
    after = resource.getrusage(resource.RUSAGE_SELF)
    before_kib, peak_kib = before.ru_maxrss, after.ru_maxrss
    # CPU time as well as wall time: on a shared machine the wall clock includes waiting for a core.
    cpu = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / len(timings)
    return {"scenario": scenario, "runs": len(timings), "median_s": round(statistics.median(timings), 3),
            "min_s": round(min(timings), 3), "cpu_s": round(cpu, 3), "peak_rss_mib": round(peak_kib / 1024, 1),
            "rss_growth_mib": round((peak_kib - before_kib) / 1024, 1), "pdf_kib": size // 1024}


def main() -> None:
    if len(sys.argv) == 2:
        print(json.dumps(run(sys.argv[1])))
        return
    print("| Scenario | Runs | Median wall (s) | Min wall (s) | CPU per run (s) | Peak RSS (MiB) | RSS growth over warm-up (MiB) | PDF (KiB) |")
    print("|---|---|---|---|---|---|---|---|")
    for scenario in SCENARIOS:
        out = subprocess.run([sys.executable, __file__, scenario], capture_output=True, text=True, check=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(f"| {r['scenario']} | {r['runs']} | {r['median_s']} | {r['min_s']} | {r['cpu_s']} | {r['peak_rss_mib']} "
              f"| {r['rss_growth_mib']} | {r['pdf_kib']} |")


if __name__ == "__main__":
    main()
