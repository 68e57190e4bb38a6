"""FHIR search latency on 1,000,000 identities: the API's whole stack (token, search, FR Core resources) on a dedicated PostgreSQL database.

    python bench/interop_fhir_search.py [--count 1000000] [--database insportal_h5_bench] \
        [--server postgres://postgres@127.0.0.1:5432] [--repeat 30]

The database is the benchmark's own: created when missing, migrated, and filled with
``manage.py generate_identities`` (COPY) up to ``--count`` identities; a database already
filled is reused. Each search is sent through django.test.Client with a bearer token, so
middleware, authentication, the selector, the diffusion gate and the FR Core rendering are
all timed; 3 warm-up calls, then ``--repeat`` timed calls per search. The plan of the
frequent-name search is printed to show which index answers it. Writes its section of
docs/benchmarks-interop.md.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from interop_report import ROOT, machine, percentiles, write_section  # noqa: E402

SEED = 20261128
MAX_REPEAT = 200


def _database_ready(server: str, database: str) -> None:
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone():
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def _manage(*arguments: str, env: dict) -> None:
    subprocess.run([sys.executable, "manage.py", *arguments], cwd=ROOT, env=env, check=True)


def _fill(url: str, count: int, env: dict) -> int:
    _manage("migrate", "--noinput", "-v", "0", env=env)
    with psycopg.connect(url) as connection:
        present = connection.execute("SELECT count(*) FROM identities_identity").fetchone()[0]
    if present < count:
        started = time.monotonic()
        _manage("generate_identities", str(count - present), "--seed", str(SEED + present), env=env)
        print(f"generated {count - present} identities in {time.monotonic() - started:.0f} s")
    return max(present, count)


def _samples(connection) -> dict[str, str]:
    """Search terms taken from the data: a frequent and a rare name, a qualified INS, an IPP…"""
    frequent = connection.execute(
        "SELECT birth_name_key FROM identities_identity GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
    ).fetchone()[0]
    rare, rare_given, rare_date = connection.execute(
        "SELECT birth_name_key, split_part(given_names_key, ' ', 1), birth_date FROM identities_identity "
        "WHERE birth_name_key IN (SELECT birth_name_key FROM identities_identity GROUP BY 1 HAVING count(*) = 1 LIMIT 1)"
    ).fetchone()
    given, birth_date = connection.execute(
        "SELECT split_part(given_names_key, ' ', 1), birth_date FROM identities_identity "
        "WHERE birth_name_key = %s AND birth_date NOT LIKE '%%-00%%' LIMIT 1", [frequent]
    ).fetchone()
    matricule, oid = connection.execute(
        "SELECT ins_matricule, ins_oid FROM identities_identity WHERE status = 'QUAL' AND is_active "
        "AND NOT doubtful AND NOT fictitious AND birthplace_code <> '' LIMIT 1"
    ).fetchone()
    internal_id, ipp = connection.execute("SELECT uuid, ipp FROM identities_identity ORDER BY id DESC LIMIT 1").fetchone()
    return {
        "frequent": frequent, "rare": rare, "rare_given": rare_given, "rare_date": rare_date, "given": given,
        "date": birth_date, "matricule": matricule, "oid": oid, "uuid": str(internal_id), "ipp": ipp, "prefix": frequent[:3],
    }


def _searches(s: dict[str, str], ipp_system: str) -> list[tuple[str, str]]:
    return [
        ("Read `Patient/{id}`", f"Patient/{s['uuid']}"),
        ("`identifier` = INS (system\\|matricule)", f"Patient?identifier=urn:oid:{s['oid']}|{s['matricule']}"),
        ("`identifier` = IPP (system\\|value)", f"Patient?identifier={ipp_system}|{s['ipp']}"),
        (f"`family` most frequent name ({s['frequent']}), first page of 20", f"Patient?family={s['frequent']}"),
        ("`family` most frequent name, page 51 (`_offset=1000`)", f"Patient?family={s['frequent']}&_offset=1000"),
        (f"`family` 3-letter prefix ({s['prefix']})", f"Patient?family={s['prefix']}"),
        ("`family` a name held once", f"Patient?family={s['rare']}"),
        ("`family` frequent + `given`", f"Patient?family={s['frequent']}&given={s['given']}"),
        ("`family` frequent + `birthdate`", f"Patient?family={s['frequent']}&birthdate={s['date']}"),
        ("`birthdate` alone (one day)", f"Patient?birthdate={s['date']}"),
        ("`given` + `birthdate`", f"Patient?given={s['rare_given']}&birthdate={s['rare_date']}"),
        (f"`given` alone ({s['given']})", f"Patient?given={s['given']}"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--database", default="insportal_h5_bench")
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    repeat = max(5, min(args.repeat, MAX_REPEAT))
    url = f"{args.server}/{args.database}"
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench-only", "LOG_LEVEL": "WARNING", "INS_ENVIRONMENT": "test",
           "ALLOWED_HOSTS": "testserver"}
    _database_ready(args.server, args.database)
    total = _fill(url, args.count, env)

    os.environ.update({key: env[key] for key in ("DATABASE_URL", "SECRET_KEY", "LOG_LEVEL", "INS_ENVIRONMENT", "ALLOWED_HOSTS")})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "insportal.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from identities.interop.clients import hash_token
    from identities.interop.common import LocalAuthority
    from identities.interop.models import ClientApplication

    token = "bench-token"
    ClientApplication.objects.update_or_create(name="bench", defaults={"token_hash": hash_token(token), "scopes": "read"})
    with psycopg.connect(url) as raw:
        samples = _samples(raw)
        plan = [row[0] for row in raw.execute(
            "EXPLAIN SELECT id FROM identities_identity WHERE is_active AND (birth_name_key::text LIKE %s "
            "OR used_name_key::text LIKE %s) ORDER BY birth_name_key || '', given_names_key, birth_date, id LIMIT 21",
            [samples["frequent"] + "%"] * 2,
        ).fetchall()]
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    rows = []
    for label, path in _searches(samples, LocalAuthority.from_settings(settings).system):
        for _ in range(3):
            client.get(f"/fhir/{path}", secure=True)
        timings, found = [], 0
        for _ in range(repeat):
            started = time.perf_counter()
            response = client.get(f"/fhir/{path}", secure=True)
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (path, response.content[:300])
            body = response.json()
            found = len(body.get("entry", [])) if body["resourceType"] == "Bundle" else 1
        p50, p95, worst = percentiles(timings)
        rows.append(f"| {label} | {found} | {p50:.1f} | {p95:.1f} | {worst:.1f} |")
        print(rows[-1])
    connection.close()
    write_section("fhir-search", render(rows, total=total, repeat=repeat, plan=plan))


def render(rows: list[str], *, total: int, repeat: int, plan: list[str]) -> str:
    return "\n".join([
        "## FHIR search on 1,000,000 identities (bench/interop_fhir_search.py)",
        "",
        f"Measured {machine()}, PostgreSQL 15, {total:,} generated identities (manage.py generate_identities,",
        "realistic INSEE name frequencies, every status). Each search goes through the whole API stack",
        f"(django.test.Client, bearer token, selector, diffusion gate, FR Core rendering); {repeat} timed calls",
        "after 3 warm-up calls. \"Found\" is the number of resources on the page (20 at most).",
        "",
        "| Search | Found | p50 (ms) | p95 (ms) | max (ms) |",
        "|---|---:|---:|---:|---:|",
        *rows,
        "",
        "Reading: lookups by identifier answer in the time of the HTTP stack and one FR Core",
        "rendering; name and date searches stay within tens of milliseconds, a short prefix matching",
        "tens of thousands of people costs the sort of all its matches (worst line). The search is",
        "deliberately ordered by an expression no index provides (`selectors.patient_search`): with",
        "the plain name order PostgreSQL walked the name index from \"A\" to reach a deep page of a",
        "frequent name, 2.6 s p50 (5.5 s max) at `_offset=1000` on the first run of this benchmark.",
        "The price is that a short prefix sorts all its matches (the 3-letter prefix line): a bounded",
        "worst case was preferred to an unbounded one. The machine is shared with other work: read",
        "the figures as orders of magnitude.",
        "",
        "Plan of the frequent-name search (`family`, first page):",
        "",
        "```",
        *plan,
        "```",
        "",
        "Run again: `python bench/interop_fhir_search.py --count 1000000 --repeat 30` (the database",
        "`insportal_h5_bench` is created and filled on the first run, reused afterwards).",
    ])


if __name__ == "__main__":
    main()
