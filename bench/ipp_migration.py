"""Wall time of the IPP migration (0016: every existing identity numbered) on a base of ``--count`` identities.

    python bench/ipp_migration.py [--count 1000000] [--database insportal_ipp_bench] [--server postgres://postgres@127.0.0.1:5432]

The database is the benchmark's own: created when missing, migrated, filled by
``generate_identities`` up to ``--count`` (kept from one run to the next), then migrated back
to 0015 (the base as it stood before: ``ipp`` a UUID, no number) and forward again, the
forward step timed. Checks that every identity got a distinct IPP with a valid check digit, in
creation order, and that the UUIDs are the ones the base had before. Prints the figures with
the load average before and after (the machine may be shared: say so beside the figure).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql
from stdnum import luhn
from measures import load_average  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BEFORE = "0018_dash_establishments_dashboard"
MIGRATION = "0019_ipp_short_number"
UUIDS_DIGEST = "SELECT md5(string_agg({}::text, ',' ORDER BY id)) FROM identities_identity"


def _manage(python: str, env: dict, *arguments: str) -> float:
    started = time.monotonic()
    subprocess.run([python, "manage.py", *arguments], cwd=ROOT, env=env, check=True)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--database", default="insportal_ipp_bench")
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()

    with psycopg.connect(f"{args.server}/postgres", autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [args.database]).fetchone():
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(args.database)))
    url = f"{args.server}/{args.database}"
    env = os.environ | {"DATABASE_URL": url, "DEBUG": "0", "INS_ENVIRONMENT": "test", "LOG_LEVEL": "WARNING",
                        "SECRET_KEY": os.environ.get("SECRET_KEY", "benchmark-only-secret-key")}
    _manage(args.python, env, "migrate", "--verbosity", "0")
    with psycopg.connect(url) as db:
        have = db.execute("SELECT count(*) FROM identities_identity").fetchone()[0]
    if have < args.count:
        _manage(args.python, env, "generate_identities", str(args.count - have), "--seed", str(20261201 + have))

    _manage(args.python, env, "migrate", "identities", BEFORE, "--verbosity", "0")
    with psycopg.connect(url) as db:
        count = db.execute("SELECT count(*) FROM identities_identity").fetchone()[0]
        uuids_before = db.execute(UUIDS_DIGEST.format("ipp")).fetchone()[0]
    load_before = load_average()
    seconds = _manage(args.python, env, "migrate", "identities", MIGRATION, "--verbosity", "0")
    load_after = load_average()

    with psycopg.connect(url) as db:
        distinct = db.execute("SELECT count(DISTINCT ipp) FROM identities_identity").fetchone()[0]
        uuids_after = db.execute(UUIDS_DIGEST.format("uuid")).fetchone()[0]
        numbers = [int(value[len(prefix):-1]) for value, prefix in db.execute(
            "SELECT ipp, substring(ipp from '^[A-Z]+') FROM identities_identity ORDER BY created_at, id") if luhn.is_valid(value[len(prefix):])]
    assert distinct == count == len(numbers), (count, distinct, len(numbers))
    assert numbers == sorted(numbers), "numbers out of creation order"
    assert uuids_after == uuids_before, "a UUID changed"
    _manage(args.python, env, "migrate", "--verbosity", "0")  # whatever follows 0016
    print(f"| {count:,} identities | {seconds:.1f} s ({count / seconds:,.0f} rows/s) | load {load_before} before, "
          f"{load_after} after | every IPP distinct, valid, in creation order; UUIDs unchanged |")


if __name__ == "__main__":
    main()
