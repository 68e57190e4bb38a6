"""Bench: a 1,000-label job end to end, through a real Celery worker process on Redis.

1,000 distinct qualified identities (the 1,000 of ``documents_demo.many_qualified``, inserted
in bulk the first time: set-up, not measured) are printed once each on A4 sheets of 24
(42 sheets, 1,000 different datamatrices) the way the label page does it: the request
records the job and its audit, a worker (one prefork process, as in production) renders
it sheet after sheet, the PDF is read back as the download reads it. Measured: the request,
the wait in the queue, the rendering, the whole from the click to the PDF in hand; the load
average beside them. Needs PostgreSQL and Redis; uses the database it is given, migrated here.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/insportal_bench CELERY_BROKER_URL=redis://127.0.0.1:6379/6 \\
        python bench/label_job.py --runs 1
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from measures import stop  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MARK = "PATIENT "


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "insportal.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only")
    os.environ.setdefault("INS_ENVIRONMENT", "test")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def populate(count: int) -> list[int]:
    """The ids of ``count`` qualified identities (created once, kept for the next runs)."""
    from django.db import transaction

    from bench.documents_demo import many_qualified
    from identities.core import establishments, ipp
    from identities.core.models import Birthplace, Identity

    Birthplace.objects.get_or_create(code="63220", defaults={"name": "Mazoires", "kind": Birthplace.Kind.COMMUNE})
    if Identity.objects.filter(birth_name__startswith=MARK).count() < count:
        Identity.objects.filter(birth_name__startswith=MARK).delete()
        people, home = many_qualified(count), establishments.default_establishment()
        for person in people:
            person.uuid, person.ipp, person.establishment = uuid.uuid4(), "", home  # the examples' fixed ids, replaced
            person.refresh_search_keys()
        with transaction.atomic():
            Identity.objects.bulk_create(ipp.assign(people))
    return list(Identity.objects.filter(birth_name__startswith=MARK).order_by("pk").values_list("pk", flat=True)[:count])


def printer():
    """A front-desk account and its profile (every trait, the datamatrix) on A4 sheets of 24."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from identities.core import roles
    from identities.documents import labels
    from identities.documents import selectors as printing
    from identities.documents.models import LabelFormat

    user, _created = get_user_model().objects.get_or_create(username="bench.etiquettes")
    user.groups.add(Group.objects.get(name=roles.FRONT_DESK))
    user = get_user_model().objects.get(pk=user.pk)  # permissions read afresh
    profile = printing.label_profiles_for(user).filter(owner=user, name="Banc").first() or labels.label_profile_save(
        actor=user, name="Banc", label_format_id=LabelFormat.objects.get(code="a4-3x8").pk, extra_traits=list(labels.EXTRA_TRAITS),
    )
    return user, profile


def start_worker(queue: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "insportal", "worker", "-Q", queue, "-c", "1", "-P", "prefork",
         "--max-tasks-per-child", "1", "--without-mingle", "--without-gossip", "--without-heartbeat", "-l", "WARNING"],
        env=os.environ | {"CELERY_TASK_DEFAULT_QUEUE": queue}, cwd=ROOT, start_new_session=True,
    )


def one_job(user, profile, identity_ids: list[int]) -> dict:
    from identities.documents import labels
    from identities.documents.models import LabelJob

    clicked = time.monotonic()
    job = labels.identities_print_labels(actor=user, identity_ids=identity_ids, profile_id=profile.pk).job
    requested = time.monotonic()
    while True:
        time.sleep(0.2)
        job.refresh_from_db()
        if not job.is_live:
            break
    pdf = labels.label_job_pdf(actor=user, job_id=job.pk)
    in_hand = time.monotonic()
    if job.state != LabelJob.State.DONE:
        raise SystemExit(f"job {job.pk} {job.state}: {job.error}")
    return {
        "request": requested - clicked, "queued": (job.started_at - job.created_at).total_seconds(),
        "render": (job.finished_at - job.started_at).total_seconds(), "end_to_end": in_hand - clicked,
        "pages": job.pages_total, "kib": len(pdf) / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    setup_django()
    from django.conf import settings
    from django.core.management import call_command

    from insportal.celery import app

    call_command("migrate", verbosity=0)
    identity_ids = populate(args.labels)
    user, profile = printer()
    queue = f"insportal-bench-labels-{uuid.uuid4().hex[:8]}"
    settings.CELERY_TASK_DEFAULT_QUEUE = app.conf.task_default_queue = queue
    worker = start_worker(queue)
    try:
        time.sleep(5)  # the worker is up (its start is not the job's)
        print(f"load before: {os.getloadavg()[0]:.2f}; chunk {settings.LABEL_JOB_CHUNK_PAGES} sheets", flush=True)
        print("| run | request (s) | queued (s) | render (s) | end to end (s) | pages | PDF (KiB) | load 1 min after |", flush=True)
        print("|---|---|---|---|---|---|---|---|", flush=True)
        for run in range(1, args.runs + 1):
            row = one_job(user, profile, identity_ids)
            print(f"| {run} | {row['request']:.2f} | {row['queued']:.2f} | {row['render']:.2f} | {row['end_to_end']:.2f} | "
                  f"{row['pages']} | {row['kib']:.0f} | {os.getloadavg()[0]:.2f} |", flush=True)
    finally:
        stop(worker)
        with app.connection_for_write() as connection:
            connection.default_channel.queue_delete(queue)


if __name__ == "__main__":
    main()
