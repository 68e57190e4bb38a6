"""Benchmark of the identity-vigilance dashboard on a large base: the page with its filters, the PDF and the CSV exports.

Usage, on a PostgreSQL copy of a base filled by ``manage.py generate_identities 1000000`` (never production)::

    DATABASE_URL=postgres://…/bench_dash DEBUG=0 SECRET_KEY=… ALLOWED_HOSTS=localhost \\
        python bench/dashboard.py --prepare --repeat 20

``--prepare`` (once; it writes to the base) makes the copy look like a GHT a year into the
dashboard: a second establishment holding every third identity (moved by UPDATE, so through the
counting trigger), a year of INSi exchanges (``--exchanges``, default 300,000: searches and
verifications with the outcomes and response times of the simulator's mix) and of creation
events with their anteriority hits, then the folding of the dashboard's counts (beat's, every quarter of an hour) and
``VACUUM ANALYZE``. Run ``manage.py refresh_worklists`` before it for the worklists.

Server-side times, measured in-process (Django test client, no network, no browser); prints a
Markdown report with the load average; the figures go to docs/benchmarks-portal.md.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "insportal.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from identities.core import roles  # noqa: E402
from identities.core.models import Establishment, Identity, WorklistItem  # noqa: E402
from identities.portal import dashboard, dashboard_report  # noqa: E402
from identities.portal.tally import TALLIES, tally_compact  # noqa: E402
from measures import load_average, percentile  # noqa: E402

NORTH = "nord"


def summary(values: list[float]) -> str:
    return f"{len(values)} | {statistics.median(values):.1f} | {percentile(values, 0.95):.1f} | {max(values):.1f}"


def prepare(exchanges: int) -> None:
    """Make the copy a GHT a year into the dashboard (see the module's docstring); idempotent."""
    north, _ = Establishment.objects.get_or_create(code=NORTH, defaults={"name": "Site Nord"})
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE identities_identity SET establishment_id = %s WHERE id %% 3 = 0 AND establishment_id <> %s",
                       [north.pk, north.pk])
        moved = cursor.rowcount
    print(f"Identités rattachées au site Nord : {moved} ({time.perf_counter() - started:.1f} s, par le déclencheur)")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM insi_exchange")
        if cursor.fetchone()[0] == 0:
            started = time.perf_counter()
            # A year of calls, one every ~105 s: 60 % searches (00 70 %, 01 20 %, 02 5 %, faults 5 %), 40 % verifications (KO 3 %).
            cursor.execute("""
                INSERT INTO insi_exchange (operation, mode, username, task_label, identity_id, message_id, attempt, endpoint,
                                           started_at, duration_ms, http_status, return_code, error)
                SELECT CASE WHEN r < 0.6 THEN 'rechercherInsAvecTraitsIdentite' ELSE 'verifierInsAvecTraitsIdentite' END,
                       'MANU', '', '', 1 + (n::bigint * 7919) %% (SELECT max(id) FROM identities_identity), 'bench-' || n, 1, 'bench',
                       now() - (n * interval '365 days' / %s), 80 + (n * 37) %% 400, 200,
                       CASE WHEN r < 0.42 THEN '00' WHEN r < 0.54 THEN '01' WHEN r < 0.57 THEN '02' WHEN r < 0.6 THEN 'insi_102'
                            WHEN r < 0.988 THEN 'OK' ELSE 'KO' END, ''
                FROM (SELECT n, ((n::bigint * 2654435761) %% 1000) / 1000.0 AS r FROM generate_series(1, %s) n) calls
            """, [exchanges, exchanges])
            # A creation event (with its anteriority hits) for each identity created in the last year.
            cursor.execute("""
                INSERT INTO identities_identityevent (identity_id, kind, at, actor_name, channel, from_status, to_status, reason, details)
                SELECT id, 'CREATED', created_at, 'bench', channel, '', 'PROV', '',
                       jsonb_build_object('anteriority_hits', CASE WHEN id %% 10 = 0 THEN 1 ELSE 0 END)
                FROM identities_identity WHERE created_at >= now() - interval '365 days'
            """, [])
            print(f"Activité d'un an écrite : {exchanges} échanges INSi, {cursor.rowcount} créations "
                  f"({time.perf_counter() - started:.1f} s)")
    started = time.perf_counter()
    rows = tally_compact()
    print(f"Regroupement des décomptes : {rows} lignes ({time.perf_counter() - started:.1f} s)")
    with connection.cursor() as cursor:
        for table in ("identities_identity", "insi_exchange", "identities_identityevent", "identities_worklistitem",
                      *(model._meta.db_table for model in TALLIES)):
            cursor.execute(f"VACUUM ANALYZE {table}")


def bench_user():
    user, _ = get_user_model().objects.get_or_create(username="bench.direction")
    user.groups.set([Group.objects.get(name=roles.MANAGER)])
    return user


def timed_get(client: Client, url: str, params: dict, repeat: int) -> tuple[list[float], int]:
    times, size = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url, params, secure=True, HTTP_HOST="localhost")
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, params, response.status_code)
        size = len(response.content)
    return times, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="requests per filter combination and export")
    parser.add_argument("--prepare", action="store_true", help="write the second establishment and a year of activity first")
    parser.add_argument("--exchanges", type=int, default=300_000)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("PostgreSQL only: the figures are about the production database.")
    if args.prepare:
        prepare(args.exchanges)

    today = timezone.localdate()
    north = Establishment.objects.get(code=NORTH).pk if Establishment.objects.filter(code=NORTH).exists() else None
    print(f"# Tableau de bord — mesures sur {Identity.objects.count():,} identités".replace(",", " "))
    print(f"\nPostgreSQL {connection.cursor().connection.info.server_version}, Python {platform.python_version()}, "
          f"{os.cpu_count()} cœurs, machine partagée ; charge (1 / 5 / 15 min) au départ : {load_average()}.")
    print(f"Décomptes : {', '.join(f'{model.__name__} {model.objects.count()}' for model in TALLIES)} lignes ; éléments de files ouverts : "
          f"{WorklistItem.objects.filter(state='OPEN').count()} ; établissements : {Establishment.objects.count()}.")

    year_ago = today.replace(day=1) - timedelta(days=334)
    periods = {
        "mois en cours": {},
        "mois dernier": {"du": (today.replace(day=1) - timedelta(days=1)).replace(day=1).isoformat(),
                         "au": (today.replace(day=1) - timedelta(days=1)).isoformat()},
        "12 derniers mois": {"du": year_ago.replace(day=1).isoformat(), "au": today.isoformat()},
    }
    cases = [(f"{label}, tous les établissements", params) for label, params in periods.items()]
    if north is not None:
        cases += [(f"{label}, site Nord", {**params, "etablissement": north}) for label, params in periods.items()]

    client = Client()
    client.force_login(bench_user())
    url = reverse("admin:dashboard")
    timed_get(client, url, {}, 1)  # warm the caches, as a running server is
    print("\n## Page du tableau de bord (temps serveur)\n")
    print("| filtres | n | p50 ms | p95 ms | max ms |\n|---|---|---|---|---|")
    every = []
    for label, params in cases:
        times, _size = timed_get(client, url, params, args.repeat)
        every += times
        print(f"| {label} | {summary(times)} |")
    print(f"| **toutes les combinaisons** | {summary(every)} |")

    figures_times = []
    for _label, params in cases:
        period = dashboard.Period(date.fromisoformat(params["du"]), date.fromisoformat(params["au"])) if "du" in params else None
        started = time.perf_counter()
        dashboard.dashboard_figures(period=period, establishment_id=params.get("etablissement"))
        figures_times.append((time.perf_counter() - started) * 1000)
    print(f"| calcul des indicateurs seul (dashboard_figures), une fois par combinaison | {summary(figures_times)} |")

    print("\n## Exports (12 derniers mois, tous les établissements)\n")
    print("| export | n | p50 ms | p95 ms | max ms | taille |\n|---|---|---|---|---|---|")
    year = periods["12 derniers mois"]
    exports = [("PDF du tableau de bord", reverse("admin:dashboard_pdf"))]
    exports += [(f"CSV « {table.slug} »", reverse("admin:dashboard_csv", args=[table.slug]))
                for table in dashboard_report.tables(dashboard.dashboard_figures())]
    for label, export_url in exports:
        times, size = timed_get(client, export_url, year, max(3, args.repeat // 4))
        print(f"| {label} | {summary(times)} | {size / 1024:.0f} Kio |")
    print(f"\nCharge à la fin : {load_average()}.")


if __name__ == "__main__":
    main()
