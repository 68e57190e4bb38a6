"""Campaigns and runs worked in this process: scope, even share, schedule, pause/resume/cancel, retries with backoff, pace."""
from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from identities.core import worklists
from identities.core.errors import NotAllowed, RuleViolation
from identities.core.models import Identity, Status, WorklistItem
from identities.workflows import campaigns, pacing, queue
from identities.workflows.models import InsiRun, InsiRunItem, VerificationCampaign
from insi.models import Exchange
from insi.simulator.catalog import generated_identity
from tests.identities.workflows import people

pytestmark = pytest.mark.django_db
Outcome = InsiRunItem.Outcome


def generated(actor, n: int, **changes) -> Identity:
    """The simulator's n-th generated person, recovered here with its INSi traits and matricule."""
    person = generated_identity(n)
    traits = {"birth_name": person.birth_name, "birth_given_names": person.given_names, "birth_date": person.birth_date,
              "sex": person.sex, "birthplace_code": person.birthplace}
    oid = people.NIA_OID if person.nia else people.NIR_TEST
    return people.fed(actor, traits, changes.pop("ins", person.matricule), oid=oid, **changes)


def campaign(civ, **fields) -> VerificationCampaign:
    fields = {"name": "Revue", "statuses": [Status.RECUP, Status.QUAL], "calls_per_second": 1000.0} | fields
    return campaigns.campaign_save(actor=civ, campaign=VerificationCampaign(**fields))


def work(run: InsiRun) -> None:
    """What the worker's slices do, in this process, until the run stops (queued slices never leave: the test transaction does not commit)."""
    while campaigns.run_work(run.pk, seconds=30) == "more":
        pass


def test_the_scope_takes_recovered_and_qualified_identities_with_an_ins_only(insi, front_desk, civ_member):
    recovered = people.fed(front_desk, people.ADRUN, people.ADRUN_INS)
    qualified = people.fed(front_desk, people.ARTAGNAN, "101066322075460", validated=True)
    people.desk(front_desk, people.HOUILLES)

    assert set(campaigns.campaign_scope(campaign(civ_member))) == {recovered, qualified}
    assert set(campaigns.campaign_scope(campaign(civ_member, name="Q", statuses=[Status.QUAL]))) == {qualified}


def test_the_scope_filters_on_nature_last_verification_and_worklist(insi, front_desk, civ_member):
    nia = people.fed(front_desk, people.PROVISOIRE, people.PROVISOIRE_NIA, oid=people.NIA_OID)
    nir = people.fed(front_desk, people.ADRUN, people.ADRUN_INS)
    Identity.objects.filter(pk=nir.pk).update(last_verified_at=timezone.now() - timedelta(days=400))
    worklists.worklist_add_item(actor=civ_member, kind=WorklistItem.Kind.INSI_VERIFICATION, identity_id=nia.pk, reason="à revoir")

    assert list(campaigns.campaign_scope(campaign(civ_member, name="a", nature="NIA"))) == [nia]
    assert list(campaigns.campaign_scope(campaign(civ_member, name="b", nature="NIR"))) == [nir]
    assert list(campaigns.campaign_scope(campaign(civ_member, name="c", not_verified_for_days=365))) == [nir]
    old = timezone.localdate() - timedelta(days=30)
    assert list(campaigns.campaign_scope(campaign(civ_member, name="d", last_verified_before=old))) == [nir]
    assert list(campaigns.campaign_scope(campaign(civ_member, name="e", worklist_kind="INSI_KO"))) == [nia]


def test_a_campaign_refuses_statuses_without_an_ins(civ_member):
    with pytest.raises(RuleViolation) as refused:
        campaign(civ_member, statuses=[Status.PROV])

    assert refused.value.field == "statuses"


def test_a_front_desk_agent_may_not_configure_or_start_campaigns(front_desk, civ_member):
    with pytest.raises(NotAllowed):
        campaign(front_desk)
    configured = campaign(civ_member)
    with pytest.raises(NotAllowed):
        campaigns.campaign_start_run(actor=front_desk, campaign_id=configured.pk)


def test_saving_a_campaign_installs_its_schedule_in_beat(civ_member):
    nightly = CrontabSchedule.objects.create(minute="0", hour="2")

    configured = campaign(civ_member, schedule=nightly)

    task = PeriodicTask.objects.get(pk=configured.periodic_task_id)
    assert (task.task, task.args, task.crontab, task.enabled) == (campaigns.RUN_TASK, f"[{configured.pk}]", nightly, True)
    configured.active = False
    campaigns.campaign_save(actor=civ_member, campaign=configured)
    task.refresh_from_db()
    assert not task.enabled and PeriodicTask.objects.filter(task=campaigns.RUN_TASK).count() == 1


def test_a_run_verifies_each_identity_once_and_counts_the_outcomes(insi, front_desk, civ_member):
    ok = [generated(front_desk, n) for n in (10, 11, 25)]  # 25: a NIA
    ko = generated(front_desk, 12, ins=generated_identity(14).matricule)
    configured = campaign(civ_member)

    run = campaigns.campaign_start_run(actor=civ_member, campaign_id=configured.pk)
    work(run)

    run.refresh_from_db()
    assert run.state == InsiRun.State.DONE and run.total == 4
    assert run.summary == {Outcome.OK: 3, Outcome.KO: 1}
    assert {i.identity_id for i in run.items.filter(outcome=Outcome.OK)} == {i.pk for i in ok}
    assert WorklistItem.objects.filter(identity=ko, kind=WorklistItem.Kind.INSI_VERIFICATION).exists()
    calls = Exchange.objects.filter(identity_id__in=[i.pk for i in ok])
    assert calls.count() == 3 and {c.task_label for c in calls} == {run.label} and {c.mode for c in calls} == {"AUTO"}


def test_starting_a_campaign_while_a_run_is_going_returns_that_run(insi, front_desk, civ_member):
    generated(front_desk, 10)
    configured = campaign(civ_member)

    first = campaigns.campaign_start_run(actor=civ_member, campaign_id=configured.pk)
    second = campaigns.campaign_start_run(actor=civ_member, campaign_id=configured.pk)

    assert first == second and InsiRun.objects.count() == 1


def test_starting_a_run_queues_its_slices_on_commit(insi, front_desk, civ_member, settings, django_capture_on_commit_callbacks):
    settings.INSI_RUN_PARALLELISM = 3
    generated(front_desk, 10)
    configured = campaign(civ_member)

    with django_capture_on_commit_callbacks() as callbacks:
        run = campaigns.campaign_start_run(actor=civ_member, campaign_id=configured.pk)

    [queued] = [c for c in callbacks if getattr(c, "func", None) is queue.start_run_slices]
    assert queued.args == (run.pk, 3)


def test_a_cycle_spreads_the_review_evenly_oldest_first(insi, front_desk, civ_member):
    identities = [generated(front_desk, n) for n in range(40, 48)]
    for days, identity in enumerate(identities):
        Identity.objects.filter(pk=identity.pk).update(last_verified_at=timezone.now() - timedelta(days=100 - days))
    configured = campaign(civ_member, cycle_days=4)

    first = campaigns.campaign_start_run(actor=civ_member, campaign_id=configured.pk)

    # 8 identities over 4 days: 2 a day, the two verified longest ago.
    assert [item.identity_id for item in first.items.order_by("pk")] == [identities[0].pk, identities[1].pk]
    work(first)
    later = campaigns.campaign_start_run(actor=civ_member, campaign_id=configured.pk, now=timezone.now() + timedelta(days=2))
    assert later.total == 4
    assert identities[0].pk not in set(later.items.values_list("identity_id", flat=True))


def test_pause_stops_taking_identities_and_resume_carries_on(insi, front_desk, civ_member):
    for n in (10, 11, 12):
        generated(front_desk, n)
    run = campaigns.campaign_start_run(actor=civ_member, campaign_id=campaign(civ_member).pk)
    assert campaigns.run_step(run.pk).status == "processed"

    campaigns.run_pause(actor=civ_member, run_id=run.pk)
    assert campaigns.run_work(run.pk, seconds=5) == "stopped"
    assert run.items.filter(state=InsiRunItem.State.DONE).count() == 1

    campaigns.run_resume(actor=civ_member, run_id=run.pk)
    work(run)
    run.refresh_from_db()
    assert run.state == InsiRun.State.DONE and run.summary == {Outcome.OK: 3}


def test_cancel_stops_for_good_and_counts_what_was_not_reached(insi, front_desk, civ_member):
    for n in (10, 11, 12):
        generated(front_desk, n)
    run = campaigns.campaign_start_run(actor=civ_member, campaign_id=campaign(civ_member).pk)
    campaigns.run_step(run.pk)

    campaigns.run_cancel(actor=civ_member, run_id=run.pk)

    run.refresh_from_db()
    assert run.state == InsiRun.State.CANCELLED and run.summary == {Outcome.OK: 1, "PENDING": 2}
    with pytest.raises(RuleViolation, match="Annulée"):
        campaigns.run_resume(actor=civ_member, run_id=run.pk)


def test_a_technical_failure_is_retried_later_then_reported_never_as_a_ko(insi, front_desk, civ_member, settings):
    settings.INSI_RUN_MAX_ATTEMPTS = 3
    healing = generated(front_desk, 10)
    broken = generated(front_desk, 11)
    insi.fail(healing.birth_name, times=3)  # the whole first attempt (3 HTTP calls) fails
    insi.fail(broken.birth_name)
    run = campaigns.campaign_start_run(actor=civ_member, campaign_id=campaign(civ_member).pk)

    work(run)

    run.refresh_from_db()
    assert run.summary == {Outcome.OK: 1, Outcome.FAILED: 1}
    assert run.items.get(identity=healing).attempts == 2
    assert run.items.get(identity=broken).attempts == 3
    assert not WorklistItem.objects.filter(kind=WorklistItem.Kind.INSI_VERIFICATION).exists()


def test_a_technical_failure_waits_its_backoff_before_the_next_attempt(insi, front_desk, civ_member, settings):
    settings.INSI_RUN_RETRY_BACKOFF = 3600.0
    broken = generated(front_desk, 11)
    insi.fail(broken.birth_name)
    run = campaigns.campaign_start_run(actor=civ_member, campaign_id=campaign(civ_member).pk)

    assert campaigns.run_step(run.pk).status == "processed"
    step = campaigns.run_step(run.pk)

    item = run.items.get()
    assert step.status == "waiting" and step.wait > 3500
    assert item.state == InsiRunItem.State.PENDING and item.attempts == 1 and item.not_before > timezone.now()


def test_an_identity_no_longer_concerned_is_skipped_without_a_call(insi, front_desk, civ_member):
    from identities.core.services import identity_set_attribute

    identity = generated(front_desk, 10)
    run = campaigns.campaign_start_run(actor=civ_member, campaign_id=campaign(civ_member).pk)
    identity_set_attribute(actor=civ_member, identity_id=identity.pk, attribute="DOUT", value=True, reason="enquête")

    work(run)

    assert run.items.get().outcome == Outcome.SKIPPED and not Exchange.objects.exists()


def test_runs_left_running_with_identities_to_do_are_resumed(insi, front_desk, civ_member):
    generated(front_desk, 10)
    run = campaigns.campaign_start_run(actor=civ_member, campaign_id=campaign(civ_member).pk)

    assert campaigns.runs_to_resume() == [run.pk]
    work(run)
    assert campaigns.runs_to_resume() == []


def test_a_recovery_batch_records_each_identity_with_its_outcome(insi, front_desk, civ_member):
    found = people.desk(front_desk, people.ADRUN)
    missing = people.desk(front_desk, people.HOUILLES)
    done = people.fed(front_desk, people.ARTAGNAN, "101066322075460")

    run = campaigns.recovery_batch_start(actor=front_desk, identity_ids=[found.pk, missing.pk, done.pk])
    work(run)

    run.refresh_from_db()
    assert run.summary == {Outcome.FOUND: 1, Outcome.NOT_FOUND: 1, Outcome.SKIPPED: 1}
    assert found.insi_recoveries.get().run == run
    assert {c.username for c in Exchange.objects.filter(identity_id=found.pk)} == {"camille.accueil"}


def test_a_recovery_batch_is_controlled_by_its_author_or_the_civ(insi, front_desk, civ_member, django_user_model):
    from django.contrib.auth.models import Group

    from identities.core import roles

    other = django_user_model.objects.create_user(username="autre.accueil")
    other.groups.add(Group.objects.get(name=roles.FRONT_DESK))
    run = campaigns.recovery_batch_start(actor=front_desk, identity_ids=[people.desk(front_desk, people.ADRUN).pk])

    with pytest.raises(NotAllowed):
        campaigns.run_pause(actor=other, run_id=run.pk)
    campaigns.run_pause(actor=civ_member, run_id=run.pk)


def test_the_pace_reserves_one_slot_per_call_on_a_shared_clock():
    bucket = f"test-{timezone.now().timestamp()}"

    waits = [pacing.reserve(bucket, calls_per_second=2.0) for _ in range(3)]

    assert waits[0] == 0.0
    assert 0.45 < waits[1] <= 0.5 and 0.95 < waits[2] <= 1.0


def test_the_pace_lets_half_a_second_of_calls_catch_up_and_no_more():
    bucket = f"test-{timezone.now().timestamp()}"

    waits = [pacing.reserve(bucket, calls_per_second=10.0) for _ in range(8)]

    # Five calls (half a second at 10/s) may go at once after an idle time; then one every 0.1 s.
    assert waits[:5] == [0.0] * 5
    # Slots are on the shared clock: the time spent between two reservations comes off the wait.
    assert all(expected - 0.05 < wait <= expected for wait, expected in zip(waits[5:], [0.1, 0.2, 0.3]))


@pytest.mark.parametrize("redis", [True, False])
def test_the_pace_is_the_same_without_redis(settings, redis):
    if not redis:
        settings.INSI_PACE_REDIS_URL = ""
    bucket = f"test-{redis}-{timezone.now().timestamp()}"

    waits = [pacing.reserve(bucket, calls_per_second=4.0) for _ in range(4)]

    assert waits[:2] == [0.0, 0.0]
    assert 0.2 < waits[2] <= 0.25 and 0.45 < waits[3] <= 0.5


@pytest.mark.django_db(transaction=True)
def test_two_workers_never_claim_the_same_identity(insi, front_desk, civ_member):
    """Worker A holds its identity while INSi answers; worker B, meanwhile, takes the next one, not A's.

    The moment is set by events (A's INSi call waits until B is done), not by timing.
    """
    import threading

    from django.db import connection

    first, second = generated(front_desk, 20), generated(front_desk, 21)
    run = campaigns.campaign_start_run(actor=civ_member, campaign_id=campaign(civ_member).pk)
    held, release, steps = threading.Event(), threading.Event(), {}

    def hold(body):
        held.set()
        release.wait(timeout=60)
        return body

    insi.rewrite(first.birth_name, hold)

    def worker_a():
        try:
            steps["a"] = campaigns.run_step(run.pk).status
        finally:
            connection.close()

    thread = threading.Thread(target=worker_a)
    thread.start()
    try:
        assert held.wait(timeout=60), "worker A never reached INSi"
        steps["b"] = campaigns.run_step(run.pk).status
        done_while_a_holds = set(run.items.filter(state=InsiRunItem.State.DONE).values_list("identity_id", flat=True))
    finally:
        release.set()
        thread.join(timeout=60)

    assert steps == {"a": "processed", "b": "processed"}
    assert done_while_a_holds == {second.pk}
    assert set(run.items.filter(state=InsiRunItem.State.DONE).values_list("identity_id", flat=True)) == {first.pk, second.pk}
    assert {pk: Exchange.objects.filter(identity_id=pk).count() for pk in (first.pk, second.pk)} == {first.pk: 1, second.pk: 1}
