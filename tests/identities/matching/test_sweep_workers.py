"""The nightly sweep on real Celery workers: its parts spread over them, a worker killed mid-way, the sweep resumed
by the next worker with no pair written or counted twice."""
from __future__ import annotations

import signal
import time

import pytest
from django.core.management import call_command

from identities.core.models import WorklistItem
from identities.matching import pairs
from identities.matching.models import MatchPair, SweepPart, SweepRun
from tests.processes import stop, worker_process

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]
PARTS = 12


def wait_until(condition, *, seconds: float = 120.0, every: float = 0.05):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(every)
    raise AssertionError(f"still not true after {seconds} s: {condition.__doc__}")


def pair_rows() -> list[tuple]:
    return list(WorklistItem.objects.filter(other__isnull=False).order_by("kind", "identity_id", "other_id")
                .values_list("kind", "identity_id", "other_id", "match__score"))


def test_a_sweep_survives_its_worker_killed_mid_way_without_doubling_pairs(celery_queue, civ_member, birthplaces):
    call_command("generate_identities", 4000, seed=7, verbosity=0)
    first = worker_process(celery_queue)
    try:
        run = pairs.sweep_start(actor=civ_member, parts=PARTS)  # the parts are queued at the commit

        def some_parts_done():
            """a few parts done"""
            return run.parts.filter(state=SweepPart.State.DONE).count() >= 2

        wait_until(some_parts_done)
        stop(first, signal.SIGKILL)
        done_when_killed = run.parts.filter(state=SweepPart.State.DONE).count()
        second = worker_process(celery_queue)  # on start, it queues again what the killed one left
        try:
            def finished():
                """the sweep is finished"""
                run.refresh_from_db()
                return run.state == SweepRun.State.DONE

            wait_until(finished)
        finally:
            stop(second, signal.SIGTERM)
    finally:
        stop(first, signal.SIGKILL)

    assert 2 <= done_when_killed < PARTS
    parts = list(run.parts.all())
    assert all(p.state == SweepPart.State.DONE for p in parts) and len(parts) == PARTS
    found = pair_rows()
    assert found, "the generated base holds planted duplicates"
    # Each pair once, each counted once as new, every one with its verdict.
    assert len({row[:3] for row in found}) == len(found)
    assert sum(p.new for p in parts) == len(found)
    # A pair sharing keys of several parts is explained and stored by one of them only, the parts sharing them out.
    assert sum(p.proposed for p in parts) == len(found)
    assert max(p.proposed for p in parts) < len(found) / 4, sorted(p.proposed for p in parts)
    assert MatchPair.objects.count() == len(found) and all(row[3] is not None for row in found)
    # The same sweep again, in one process: nothing new, nothing doubled, the same pairs.
    again = pairs.sweep_run_inline(actor=civ_member)
    assert again.new == 0
    assert [row[:3] for row in pair_rows()] == [row[:3] for row in found]
