"""Benchmark of the portal on a large base: anteriority search, identity list pages, dashboard, worklist refresh.

Usage, on a PostgreSQL base filled by ``manage.py generate_identities 1000000`` (never production)::

    DATABASE_URL=postgres://…/bench DEBUG=1 python bench/portal_bench.py --queries 300

Server-side times, measured in-process (Django test client, no network, no browser).
Prints a Markdown report; the figures go to docs/benchmarks-portal.md.
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

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402

from identities.core import roles, selectors  # noqa: E402
from identities.core.models import Identity, WorklistItem  # noqa: E402
from identities.matching import pairs  # noqa: E402
from identities.portal import dashboard
from measures import percentile  # noqa: E402

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def summary(values: list[float]) -> str:
    return (f"{len(values)} | {statistics.median(values):.1f} | {percentile(values, 0.95):.1f} | "
            f"{percentile(values, 0.99):.1f} | {max(values):.1f}")


def typo(name: str, rng: random.Random) -> str:
    """One typing mistake: a letter replaced, dropped or two letters swapped (never the first letter)."""
    letters = [char for char in name]
    positions = [index for index, char in enumerate(letters) if char.isalpha() and index > 0]
    if len(positions) < 3:
        return name
    index = rng.choice(positions[:-1])
    kind = rng.choice(("replace", "drop", "swap"))
    if kind == "replace":
        letters[index] = rng.choice([letter for letter in LETTERS if letter != letters[index]])
    elif kind == "drop":
        del letters[index]
    elif letters[index + 1].isalpha():
        letters[index], letters[index + 1] = letters[index + 1], letters[index]
    return "".join(letters)


def desk_queries(count: int, seed: int) -> list[tuple[str, dict]]:
    """Searches as the desk types them, built from identities of the base (so that most find someone)."""
    rng = random.Random(seed)
    last_id = Identity.objects.order_by("-pk").values_list("pk", flat=True).first()
    sample_ids = rng.sample(range(1, last_id + 1), min(count * 3, last_id))
    people = list(Identity.objects.filter(pk__in=sample_ids).only(
        "birth_name", "first_birth_given_name", "birth_date", "used_name")[: count])
    queries = []
    for person in people:
        day = person.birth_date.split("-")
        typed_date = f"{day[2]}/{day[1]}/{day[0]}"
        draw = rng.random()
        name = person.birth_name.lower() if rng.random() < 0.5 else person.birth_name.title()
        if draw < 0.40:
            queries.append(("nom + prénom + date", {"name": name, "given_name": person.first_birth_given_name, "birth_date": typed_date}))
        elif draw < 0.60:
            queries.append(("nom + date", {"name": name, "birth_date": typed_date}))
        elif draw < 0.75:
            queries.append(("nom avec une faute + prénom + date",
                            {"name": typo(person.birth_name, rng), "given_name": person.first_birth_given_name, "birth_date": typed_date}))
        elif draw < 0.85:
            queries.append(("nom + prénom (sans date)", {"name": name, "given_name": person.first_birth_given_name}))
        elif draw < 0.95 and person.used_name:
            queries.append(("nom utilisé + prénom + date", {"name": person.used_name, "given_name": person.first_birth_given_name,
                                                             "birth_date": typed_date}))
        else:
            queries.append(("nom + prénom + année", {"name": name, "given_name": person.first_birth_given_name, "birth_date": day[0]}))
    return queries


def bench_search(queries) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"toutes": []}
    found = 0
    for kind, terms in queries:
        started = time.perf_counter()
        hits = selectors.anteriority_search(**terms)
        elapsed = (time.perf_counter() - started) * 1000
        found += bool(hits)
        times["toutes"].append(elapsed)
        times.setdefault(kind, []).append(elapsed)
    print(f"\n{found}/{len(queries)} recherches ont trouvé au moins une identité.")
    return times


def bench_user():
    user, _ = get_user_model().objects.get_or_create(username="bench.civ")
    user.groups.set([Group.objects.get(name=roles.CIV_MEMBER)])
    return user


def timed_get(client: Client, url: str, params: dict, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url, params, secure=True, HTTP_HOST="localhost")
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, params, response.status_code)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5, help="requests per list page and dashboard")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--refresh", action="store_true", help="also time a full worklist refresh (state queues + pair sweep)")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("PostgreSQL only: the figures are about the production database.")

    total = Identity.objects.count()
    print(f"# Portail — mesures sur {total:,} identités".replace(",", " "))
    print(f"\nPostgreSQL {connection.cursor().connection.info.server_version}, Python {platform.python_version()}, "
          f"{os.cpu_count()} cœurs, machine partagée (charge au départ : {os.getloadavg()[0]:.1f}).")

    user = bench_user()
    if args.refresh:
        started = time.perf_counter()
        outcome = pairs.worklists_refresh(actor=user)
        print(f"\nActualisation complète des files : {time.perf_counter() - started:.1f} s "
              f"({outcome.opened} ouverts, {outcome.closed} clos, {outcome.pairs} paires).")
    print(f"Éléments de files ouverts : {WorklistItem.objects.filter(state='OPEN').count()}")

    queries = desk_queries(args.queries, args.seed)
    bench_search(queries[: min(20, len(queries))])  # warm the cache, as a running server is
    print("\n## Recherche d'antériorité (selectors.anteriority_search, 50 résultats au plus)\n")
    print("| requêtes | n | p50 ms | p95 ms | p99 ms | max ms |\n|---|---|---|---|---|---|")
    for kind, values in bench_search(queries).items():
        print(f"| {kind} | {summary(values)} |")

    client = Client()
    client.force_login(user)
    url = reverse("admin:identities_identity_changelist")
    pages = [
        ("liste, page 1", {}),
        ("liste, page 100 (dernière avant le plafond)", {"p": 100}),
        ("filtre statut QUAL", {"status__exact": "QUAL"}),
        ("filtre attribut douteuse", {"attribut": "DOUT"}),
        ("filtre nature NIA", {"nature": "NIA"}),
        ("filtre à revérifier", {"verification": "a-refaire"}),
        ("filtre modalité carte Vitale + statut PROV", {"channel__exact": "CV", "status__exact": "PROV"}),
        ("tri par date de naissance", {"o": "3"}),
        ("recherche 3 champs", {"nom": "martin", "prenom": "marie", "naissance": "1980"}),
        ("recherche nom seul", {"nom": "dupont"}),
    ]
    timed_get(client, url, {}, 1)
    print("\n## Page liste des identités (temps serveur, client de test Django)\n")
    print("| page | n | p50 ms | p95 ms | p99 ms | max ms |\n|---|---|---|---|---|---|")
    for label, params in pages:
        print(f"| {label} | {summary(timed_get(client, url, params, args.repeat))} |")
    queue_url = reverse("admin:identities_worklistitem_changelist")
    print(f"| files de travail, page 1 | {summary(timed_get(client, queue_url, {}, args.repeat))} |")

    print("\n## Tableau de bord\n")
    print("| mesure | n | p50 ms | p95 ms | p99 ms | max ms |\n|---|---|---|---|---|---|")
    figures_times = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        dashboard.dashboard_figures()
        figures_times.append((time.perf_counter() - started) * 1000)
    print(f"| calcul des indicateurs (dashboard_figures) | {summary(figures_times)} |")
    print(f"| page complète | {summary(timed_get(client, reverse('admin:dashboard'), {}, args.repeat))} |")
    print(f"\nCharge de la machine à la fin : {os.getloadavg()[0]:.1f}.")


if __name__ == "__main__":
    main()
