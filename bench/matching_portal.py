"""The portal side of duplicate matching on a PostgreSQL base of N generated identities: the check at creation and the
anteriority search, timed per planted duplicate, and how often the existing record comes first / in the first ten.

    DATABASE_URL=postgres://…/bench_matching python bench/matching_portal.py --size 100000 [--load] [--samples 500]

``--load`` empties the base's identities and fills it with ``generate_identities SIZE`` (labelled duplicates with every
desk error, homonyms, twins; their matching keys are built at the end of the load); without it the base is used as it
is. Each sample is a planted duplicate (a ``SyntheticLabel`` DUPLICATE): its traits are typed again, as the desk would,
and a record of the same person (its ORIGINAL, or another duplicate of it) must be found.

- check at creation: ``desk.check_record`` (keys → candidates → scored) for the duplicate's full traits, excluding
  itself; "first" = the best proposal is a record of the same person.
- anteriority search: the portal's ranked search (``desk.ranked_search`` over the core's search), with what an agent
  types (name, first given name, date), evaluated to its first ten rows; "in ten" = a record of the same person is among them.

Server-side, in-process (no HTTP). Prints a Markdown block with the machine's load average; figures go to
docs/benchmarks.md (rerun when the load is above 3).
"""
from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "insportal.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from identities.core import selectors  # noqa: E402
from identities.core.models import Identity  # noqa: E402
from identities.matching import desk, store  # noqa: E402
from identities.matching.models import SyntheticLabel  # noqa: E402
from measures import load_average, percentile  # noqa: E402


def load(size: int, seed: int) -> float:
    """An empty base, then SIZE generated identities (keys included); returns the seconds it took."""
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE identities_identity RESTART IDENTITY CASCADE")
    call_command("generate_identities", size, seed=seed)
    return time.monotonic() - started


def samples(count: int, seed: int) -> list[tuple[int, set[int]]]:
    """(duplicate id, ids of the other records of the same person) for planted duplicates drawn at random."""
    people: dict[int, set[int]] = {}
    for identity_id, cluster in SyntheticLabel.objects.exclude(kind=SyntheticLabel.Kind.HOMONYM).values_list("identity_id", "cluster"):
        people.setdefault(cluster, set()).add(identity_id)
    duplicates = list(SyntheticLabel.objects.filter(kind=SyntheticLabel.Kind.DUPLICATE).values_list("identity_id", "cluster"))
    random.Random(seed).shuffle(duplicates)
    return [(dup, people[cluster] - {dup}) for dup, cluster in duplicates if people[cluster] - {dup}][:count]


def typed_date(iso: str) -> str:
    year, month, day = iso.split("-")
    return f"{day}/{month}/{year}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=100_000, help="identities in the base (with --load)")
    parser.add_argument("--load", action="store_true", help="empty the base and generate SIZE identities first")
    parser.add_argument("--samples", type=int, default=500, help="planted duplicates checked and searched")
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("the figures are asked on PostgreSQL: set DATABASE_URL=postgres://…")
    loaded = load(args.size, args.seed) if args.load else None
    total = Identity.objects.filter(is_active=True).count()
    store.current_model()  # loaded (or learnt on generated identities) once, as a running portal has it
    drawn = samples(args.samples, args.seed)
    if not drawn:
        sys.exit("no labelled duplicates in this base: run with --load (generate_identities labels them)")

    check_ms, search_ms, first, in_ten, search_first = [], [], 0, 0, 0
    before = load_average()
    for duplicate_id, same_person in drawn:
        identity = Identity.objects.get(pk=duplicate_id)
        started = time.perf_counter()
        found = desk.check_identity(identity)
        check_ms.append((time.perf_counter() - started) * 1000)
        first += bool(found) and found[0].right.id in same_person

        terms = {"name": identity.birth_name, "given_name": identity.first_birth_given_name,
                 "birth_date": typed_date(identity.birth_date)}
        started = time.perf_counter()
        within = Identity.objects.exclude(pk=duplicate_id)  # the duplicate is not there yet when the agent searches
        rows = list(desk.ranked_search(within, selectors.anteriority_queryset(within=within, **terms), **terms)
                    .values_list("pk", flat=True)[:10])
        search_ms.append((time.perf_counter() - started) * 1000)
        in_ten += bool(same_person & set(rows))
        search_first += bool(rows) and rows[0] in same_person

    n = len(drawn)
    after = load_average()
    print(f"### Portal-side matching, {total:,} identities on PostgreSQL ({n} planted duplicates)\n")
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load average (1/5/15 min) before the timings: {before}")
    if loaded is not None:
        print(f"\nload (generate_identities {args.size:,} + keys): {loaded:.0f} s")
    print("\n| measure | median ms | p95 ms | p99 ms | max ms | found |")
    print("|---|---|---|---|---|---|")
    print(f"| check at creation (one identity against the base) | {statistics.median(check_ms):.1f} | "
          f"{percentile(check_ms, 0.95):.1f} | {percentile(check_ms, 0.99):.1f} | {max(check_ms):.1f} | "
          f"a record of the person ranked first: {first / n:.1%} |")
    print(f"| anteriority search (name, first given name, date typed) | {statistics.median(search_ms):.1f} | "
          f"{percentile(search_ms, 0.95):.1f} | {percentile(search_ms, 0.99):.1f} | {max(search_ms):.1f} | "
          f"a record of the person in the first ten: {in_ten / n:.1%}, first: {search_first / n:.1%} |")
    print(f"\nload average (1/5/15 min) at the end: {after}")


if __name__ == "__main__":
    main()
