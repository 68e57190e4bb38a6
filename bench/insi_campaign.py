"""Bench: a mass verification campaign against the INSi simulator (latency 0) with 1, 2 and 4 worker processes.

A base of ``--identities`` RECUP identities (the simulator's generated people, inserted in
bulk: set-up, not measured); the time to start a run over all of them (its per-identity
items); then for each worker count a run over ``--verify`` of them at an unbounded pace
(identities verified per second) and a run paced below that capacity for ``--pace-seconds``
(calls per second measured in the INSi exchange log, against the limit). Each run takes the
identities verified longest ago (a campaign's share), so no identity is verified twice.
Needs PostgreSQL and Redis; uses a database of its own, migrated here.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/insportal_bench CELERY_BROKER_URL=redis://127.0.0.1:6379/6 \\
        python bench/insi_campaign.py --identities 100000 --verify 100000 --workers 1,2,4 --pace-seconds 60
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVE_SIMULATOR = """
import os, sys, time
sys.path.insert(0, {root!r})
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "insportal.settings")
import django
django.setup()
from insi.simulator.server import serve
from measures import stop  # noqa: E402
with serve() as url:
    print(url, flush=True)
    time.sleep(10 ** 6)
"""


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "insportal.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only")
    os.environ.setdefault("INS_ENVIRONMENT", "test")
    os.environ["INSI_SIMULATOR_LATENCY"] = "0"
    os.environ["INSI_SIMULATOR_FAILURE_RATE"] = "0"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def populate(count: int) -> None:
    """RECUP identities carrying the matricules of the simulator's first ``count`` generated people."""
    from django.db import transaction

    from identities.core import establishments, ipp, matricule
    from identities.core.models import Birthplace, Identity, Status
    from insi.simulator.catalog import _PLACES, generated_identity

    for code in _PLACES:
        Birthplace.objects.get_or_create(code=code, defaults={"name": code, "kind": Birthplace.Kind.COMMUNE})
    have = Identity.objects.filter(birth_name__startswith="GENERE-").count()
    home = establishments.default_establishment()
    batch = []
    for n in range(have, count):
        person = generated_identity(n)
        identity = Identity(
            birth_name=person.birth_name, birth_given_names=person.given_names, first_birth_given_name=person.given_names.split()[0],
            birth_date=person.birth_date, sex=person.sex, birthplace_code=person.birthplace, status=Status.RECUP,
            ins_matricule=person.matricule, ins_oid=matricule.NIA_OID if person.nia else matricule.NIR_OID, establishment=home,
        )
        identity.refresh_search_keys()
        batch.append(identity)
        if len(batch) == 5000:
            with transaction.atomic():
                Identity.objects.bulk_create(ipp.assign(batch))
            batch = []
    with transaction.atomic():
        Identity.objects.bulk_create(ipp.assign(batch))
    print(f"identities: {Identity.objects.filter(birth_name__startswith='GENERE-').count()}", flush=True)


def start_worker(processes: int, queue: str, endpoint: str) -> subprocess.Popen:
    env = os.environ | {
        "CELERY_TASK_DEFAULT_QUEUE": queue, "INSI_ENDPOINT": endpoint, "INSI_RUN_PARALLELISM": str(processes),
        "INSI_RUN_SLICE_SECONDS": "30",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "insportal", "worker", "-Q", queue, "-c", str(processes), "-P", "prefork",
         "--without-mingle", "--without-gossip", "--without-heartbeat", "-l", "WARNING"],
        env=env, cwd=ROOT, start_new_session=True,
    )


def run_campaign(name: str, pace: float, *, cycle_days: int | None, seconds: float | None = None):
    """Start the first run of a new campaign (its share of the base); wait for its end (or cancel it after ``seconds``)."""
    from identities.core import roles
    from identities.workflows import campaigns
    from identities.workflows.models import InsiRun, VerificationCampaign

    actor = roles.system_user()
    campaign = campaigns.campaign_save(actor=actor, campaign=VerificationCampaign(
        name=f"{name} {uuid.uuid4().hex[:6]}", statuses=["RECUP"], calls_per_second=pace, cycle_days=cycle_days,
    ))
    run = campaigns.campaign_start_run(actor=actor, campaign_id=campaign.pk)
    started = time.monotonic()
    while True:
        time.sleep(1.0)
        run.refresh_from_db()
        if run.state != InsiRun.State.RUNNING:
            return run
        if seconds is not None and time.monotonic() - started > seconds:
            campaigns.run_cancel(actor=actor, run_id=run.pk)
            run.refresh_from_db()
            return run


def start_whole_base() -> float:
    """Seconds to start (then cancel) a run over every identity: its items are written in one INSERT … SELECT."""
    from django.db import transaction

    from identities.core import roles
    from identities.workflows import campaigns
    from identities.workflows.models import VerificationCampaign
    from insportal.celery import app

    actor = roles.system_user()
    campaign = campaigns.campaign_save(actor=actor, campaign=VerificationCampaign(name=f"bench-scope {uuid.uuid4().hex[:6]}", statuses=["RECUP"]))
    queue = f"insportal-bench-void-{uuid.uuid4().hex[:8]}"
    app.conf.task_default_queue = queue
    began = time.monotonic()
    with transaction.atomic():
        run = campaigns.campaign_start_run(actor=actor, campaign_id=campaign.pk)
    took = time.monotonic() - began
    campaigns.run_cancel(actor=actor, run_id=run.pk)
    with app.connection_for_write() as connection:
        connection.default_channel.queue_delete(queue)
    return took


def throughput(run) -> tuple[int, float, float]:
    """Identities verified, seconds from the first to the last, identities per second."""
    from django.db.models import Max, Min

    done = run.items.filter(state="DONE")
    span = done.aggregate(first=Min("finished_at"), last=Max("finished_at"))
    seconds = (span["last"] - span["first"]).total_seconds()
    count = done.count()
    return count, seconds, (count - 1) / seconds if seconds else float("nan")


def call_rate(run) -> tuple[int, float]:
    """INSi calls of the run and their rate, from the exchange log (first to last call)."""
    from insi.models import Exchange

    stamps = list(Exchange.objects.filter(task_label=run.label).order_by("started_at").values_list("started_at", flat=True))
    seconds = (stamps[-1] - stamps[0]).total_seconds()
    return len(stamps), (len(stamps) - 1) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--identities", type=int, default=100_000, help="size of the base")
    parser.add_argument("--verify", type=int, default=None, help="identities verified per unbounded run (default: the base)")
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--pace-seconds", type=float, default=60.0)
    parser.add_argument("--pace-fraction", type=float, default=0.6, help="paced run: this fraction of the measured capacity")
    args = parser.parse_args()
    setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    populate(args.identities)
    print(f"starting a run over the whole base: {start_whole_base():.1f} s", flush=True)
    # A campaign's first run takes base/cycle identities: the cycle that makes it about --verify.
    cycle = max(1, round(args.identities / (args.verify or args.identities)))
    simulator = subprocess.Popen([sys.executable, "-c", SERVE_SIMULATOR.format(root=str(ROOT))], stdout=subprocess.PIPE,
                                 text=True, cwd=ROOT, start_new_session=True)
    endpoint = simulator.stdout.readline().strip()
    rows = []
    try:
        for processes in [int(w) for w in args.workers.split(",")]:
            queue = f"insportal-bench-{uuid.uuid4().hex[:8]}"
            worker = start_worker(processes, queue, endpoint)
            try:
                from django.conf import settings

                settings.CELERY_TASK_DEFAULT_QUEUE = queue
                from insportal.celery import app

                app.conf.task_default_queue = queue
                time.sleep(8)  # worker start-up, not measured
                full = run_campaign(f"bench-{processes}-full", 100_000.0, cycle_days=cycle)
                count, seconds, per_second = throughput(full)
                limit = round(per_second * args.pace_fraction, 1)
                paced = run_campaign(f"bench-{processes}-paced", limit, cycle_days=cycle, seconds=args.pace_seconds)
                calls, rate = call_rate(paced)
            finally:
                stop(worker)
            row = (processes, count, seconds, per_second, limit, calls, rate, 100 * (rate - limit) / limit)
            rows.append(row)
            print("| {} | {} | {:.1f} | {:.1f} | {} | {} | {:.2f} | {:+.1f} % |".format(*row), flush=True)
    finally:
        os.killpg(simulator.pid, signal.SIGTERM)
    print("\n| worker processes | identities verified | seconds | identities/s | pace limit (calls/s) | paced calls | measured calls/s | deviation |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print("| {} | {} | {:.1f} | {:.1f} | {} | {} | {:.2f} | {:+.1f} % |".format(*row))


if __name__ == "__main__":
    main()
