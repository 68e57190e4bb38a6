"""Wall time and peak memory of ``manage.py generate_identities 1000000`` into a dedicated PostgreSQL database.

    python bench/generate_identities.py [--count 1000000] [--database insportal_bench] [--server postgres://postgres@127.0.0.1:5432]

Drops and recreates the database (it is the benchmark's own), migrates it, loads the full COG
(npm registry; without it the generator falls back to the demo codes), then runs the command
in a child process: wall time from the clock, peak RSS from the child's rusage. Writes
docs/benchmarks-generation.md and leaves the database filled for the other benchmarks.
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "docs" / "benchmarks-generation.md"
SEED = 20261128


def _run(command: list[str], env: dict) -> tuple[float, int, str]:
    """Seconds, peak RSS in MiB and output of one child process."""
    started = time.monotonic()
    child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = child.stdout.read()
    _pid, status, usage = os.wait4(child.pid, 0)
    elapsed = time.monotonic() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        sys.exit(f"{' '.join(command[1:])} failed ({child.returncode}):\n{output}")
    return elapsed, usage.ru_maxrss // 1024, output  # ru_maxrss is in KiB on Linux


def _recreate(server: str, database: str) -> None:
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def _facts(url: str) -> dict:
    with psycopg.connect(url) as db:
        one = lambda query: db.execute(query).fetchone()[0]  # noqa: E731
        return {
            "postgres": one("SHOW server_version"),
            "statuses": dict(db.execute("SELECT status, count(*) FROM identities_identity GROUP BY 1 ORDER BY 1").fetchall()),
            "labels": dict(db.execute("SELECT kind, count(*) FROM identities_syntheticlabel GROUP BY 1 ORDER BY 1").fetchall()),
            "birthplaces": one("SELECT count(*) FROM identities_birthplace"),
            "identity_table": one("SELECT pg_size_pretty(pg_total_relation_size('identities_identity'))"),
            "database": one("SELECT pg_size_pretty(pg_database_size(current_database()))"),
        }


def _machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
    return f"{os.cpu_count()} cores ({cpu}), {memory / 1024 / 1024:.0f} GiB RAM, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--database", default="insportal_bench")
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()

    url = f"{args.server}/{args.database}"
    env = os.environ | {"DATABASE_URL": url, "DEBUG": "0", "INS_ENVIRONMENT": "test",
                        "SECRET_KEY": os.environ.get("SECRET_KEY", "benchmark-only-secret-key")}
    manage = [args.python, "manage.py"]
    _recreate(args.server, args.database)
    migrate_s, _rss, _out = _run(manage + ["migrate", "--noinput", "-v0"], env)
    try:
        cog_s, _rss, _out = _run(manage + ["load_birthplaces"], env)
        cog = f"full COG loaded in {cog_s:.0f} s"
    except SystemExit as failure:
        cog = "COG unavailable (no registry): demo codes only"
        print(failure, file=sys.stderr)

    load_before = os.getloadavg()
    started_at = datetime.now(timezone.utc)
    seconds, peak_mib, output = _run(manage + ["generate_identities", str(args.count), "--seed", str(SEED)], env)
    load_after = os.getloadavg()
    facts = _facts(url)
    summary_line = re.compile(r"\s*(PROV|matricules|étiquettes|\d+ identités)")
    summary = "\n".join(line.strip() for line in output.splitlines() if summary_line.match(line))

    report = f"""# Benchmark: generating synthetic identities

`manage.py generate_identities {args.count} --seed {SEED}` into an empty, migrated PostgreSQL
database (`{args.database}`), run by `bench/generate_identities.py` on {started_at:%Y-%m-%d %H:%M} UTC.

| Measure | Value |
|---|---|
| identities | {args.count:,} |
| wall time | {seconds:.0f} s ({args.count / seconds:,.0f} identities/s) |
| peak RSS of the command | {peak_mib} MiB |
| limits asked | < 600 s, < 1024 MiB |
| load average (1 min) before / after | {load_before[0]:.1f} / {load_after[0]:.1f} |
| machine | {_machine()} |
| PostgreSQL | {facts['postgres']} |
| birthplaces | {facts['birthplaces']:,} codes ({cog}) |
| size after load | identities table with indexes {facts['identity_table']}, database {facts['database']} |

Wall time includes reading the name tables, the COPY of every batch (identity, INS register
row, document check, label), and rebuilding the secondary indexes dropped for the load, then
ANALYZE. Migrating the empty database took {migrate_s:.0f} s (not counted). The machine's two
cores are shared with the other engineers' work: the load average says how busy it was.

Statuses: {", ".join(f"{k} {v:,}" for k, v in facts['statuses'].items())}.
Labels: {", ".join(f"{k} {v:,}" for k, v in facts['labels'].items())}.

Command summary:

```
{summary}
```

Ground truth for matching benchmarks, in `identities_syntheticlabel` (model `SyntheticLabel`):
identities sharing a `cluster` with kinds ORIGINAL and DUPLICATE are one person entered twice
(`detail` lists the entry deviations: `nom`, `prenom`, `prenoms_partiels`, `trait_union`,
`nom_usage_saisi_en_nom_de_naissance`, `jour_mois_inverses`, `jour`, `lieu_absent`); the two
HOMONYM identities of a cluster are two people with the same birth name, first given name,
birth date and sex. Unlabelled identities are people recorded once.

No history rows or audit events are written for generated identities (see the command's
docstring). The database is left filled: `{url}`.
"""
    REPORT.write_text(report, encoding="utf-8")
    print(report)


if __name__ == "__main__":
    main()
