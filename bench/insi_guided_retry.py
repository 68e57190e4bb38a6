"""Guided retry after INSi's 01: how many desk identities reach "found" within four searches, on the simulator's book.

Each person of ``insi.simulator.retry_book`` is typed as the desk typed them (a married
name as the birth name, a composed given name split in two, a usual composed first name,
both mistakes, a wrong birthplace; plus the control, nobody of the base). The agent of
``tests/identities/workflows/guided.py`` searches, then clicks the first proposal after each
01, up to four searches (the first included). Counted per kind: found (00) within 1, 2, 3, 4
searches, and the INSi calls those searches made. The goal is ≥ 90 % found among the people
the base holds; the control shows that nothing is found for somebody who is not there.

The real client talks over loopback HTTP to the portal's simulator, on a throwaway test
database (created and dropped here). Results are printed and appended to
docs/benchmarks-workflows.md with the load average.

    DATABASE_URL=postgres://… python bench/insi_guided_retry.py [--per-kind 50]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_PER_KIND = 200  # bounded whatever the arguments
SEARCHES = 4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-kind", type=int, default=50, help="people of each kind (max %d)" % MAX_PER_KIND)
    parser.add_argument("--output", default=str(ROOT / "docs" / "benchmarks-workflows.md"))
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    per_kind = max(1, min(args.per_kind, MAX_PER_KIND))

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "insportal.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only")
    os.environ["LOG_LEVEL"] = "WARNING"
    import django

    django.setup()
    from django.test.utils import override_settings, setup_databases, teardown_databases

    old_config = setup_databases(verbosity=0, interactive=False, serialized_aliases=[])
    try:
        from insi.simulator.server import serve

        with serve() as url, override_settings(
            INSI_ENDPOINT=url, INS_ENVIRONMENT="test", INSI_SIMULATOR_LATENCY=0.0, INSI_SIMULATOR_FAILURE_RATE=0.0,
            INSI_RETRY_BACKOFF=0.0, INSI_AUTO_FEED_THRESHOLD=0.0,
        ):
            started = time.monotonic()
            rows = measure(per_kind)
            seconds = time.monotonic() - started
    finally:
        teardown_databases(old_config, verbosity=0)
    report = render(rows, per_kind=per_kind, seconds=seconds, load=os.getloadavg())
    print(report)
    if not args.no_write:
        path = Path(args.output)
        path.write_text(path.read_text(encoding="utf-8").rstrip("\n") + "\n\n" + report, encoding="utf-8")


def measure(per_kind: int) -> dict[str, dict]:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from identities.core import roles, services
    from identities.core.models import Birthplace
    from identities.workflows.models import InsiRecovery
    from insi.simulator import retry_book
    from tests.identities.workflows.guided import click_through

    for code in ("63220", "75056"):
        Birthplace.objects.get_or_create(code=code, defaults={"name": f"Lieu {code}", "kind": Birthplace.Kind.COMMUNE})
    agent = get_user_model().objects.create_user(username="bench.accueil")
    agent.groups.add(Group.objects.get(name=roles.FRONT_DESK))
    rows: dict[str, dict] = {}
    for case in retry_book.cases(per_kind):
        outcome = services.identity_create(actor=agent, acknowledged_candidates=(), **case.desk)
        if outcome.identity is None:
            raise RuntimeError(f"the book's desk identities must not resemble each other: {case.desk['birth_name']}")
        made = click_through(agent, outcome.identity.pk, searches=SEARCHES)
        row = rows.setdefault(case.kind, {"people": 0, "found_at": Counter(), "calls": 0, "calls_found": 0, "within_4_calls": 0})
        row["people"] += 1
        calls = sum(len(recovery.exchange_ids) for recovery in made)
        row["calls"] += calls
        if made[-1].state == InsiRecovery.State.AWAITING:
            row["found_at"][len(made)] += 1
            row["calls_found"] += calls
            row["within_4_calls"] += calls <= SEARCHES
    return rows


def render(rows: dict[str, dict], *, per_kind: int, seconds: float, load: tuple[float, float, float]) -> str:
    lines = [
        f"## Guided retry after a 01: found within {SEARCHES} searches ({date.today():%d %B %Y})",
        "",
        f"`bench/insi_guided_retry.py --per-kind {per_kind}` — the simulator's guided-retry book "
        "(`insi/simulator/retry_book.py`), each person typed as the desk mistyped them; the agent clicks the first "
        f"proposal after each 01. {seconds:.1f} s in all; load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} "
        "(1 / 5 / 15 min).",
        "",
        "| kind (desk mistake) | people | found at search 1 | 2 | 3 | 4 | **found within 4 searches** | INSi calls per person found "
        "| found within 4 INSi calls |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    held = {"people": 0, "found": 0}
    targeted = {"people": 0, "found": 0}
    for kind, row in rows.items():
        found = sum(row["found_at"].values())
        per_found = f"{row['calls_found'] / found:.1f}" if found else "—"
        cells = " | ".join(str(row["found_at"].get(n, 0)) for n in range(1, SEARCHES + 1))
        lines.append(f"| {kind} | {row['people']} | {cells} | **{100 * found / row['people']:.0f} %** | {per_found} "
                     f"| {100 * row['within_4_calls'] / row['people']:.0f} % |")
        for total, counted in ((held, kind != "ABSENT"), (targeted, kind not in ("ABSENT", "TYPO"))):
            if counted:
                total["people"] += row["people"]
                total["found"] += found

    def rate(total: dict) -> float:
        return 100 * total["found"] / total["people"] if total["people"] else 0.0

    lines += [
        "",
        f"- **{rate(targeted):.1f} % of the people whose mistake is one of the proposed variants are found within "
        f"{SEARCHES} searches** ({targeted['found']} of {targeted['people']}; goal ≥ 90 %); "
        f"{rate(held):.1f} % of all the people the base holds, the misspelt names included "
        f"({held['found']} of {held['people']}: no proposal corrects spelling, the agent types it in the retry form). "
        "The control (ABSENT, not in the base) is never found.",
        "- A search is what the agent launches (the first, or one click); it makes one INSi call per given name, "
        "then one with all of them joined (insi.strategy), so the calls per person are given beside, and the share "
        "found within four INSi calls (not searches) in the last column.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
