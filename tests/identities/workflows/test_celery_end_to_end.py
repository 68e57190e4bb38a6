"""End to end with a real Celery worker on Redis and the simulator over HTTP: batches, campaigns, automatic verifications,
and a campaign of a few hundred identities whose worker is killed (SIGKILL) and restarted mid-way."""
from __future__ import annotations

import signal
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from identities.core.models import Identity, IdentityEvent, Status, WorklistItem
from identities.workflows import campaigns, recovery
from identities.workflows.models import InsiRecovery, InsiRun, InsiRunItem, VerificationCampaign
from identities.workflows.verification import verification_before_admission
from insi.models import Exchange
from insi.simulator.catalog import generated_identity
from tests.identities.workflows import people
from tests.processes import stop, worker_process

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]
Outcome = InsiRunItem.Outcome


def wait_until(condition, *, seconds: float = 60.0, every: float = 0.1):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"still not true after {seconds} s: {condition.__doc__ or condition}")


def finished(run: InsiRun) -> InsiRun:
    def done():
        """the run is finished"""
        run.refresh_from_db()
        return run.state == InsiRun.State.DONE

    wait_until(done)
    return run


def generated(actor, n: int, *, ins: str | None = None) -> Identity:
    person = generated_identity(n)
    traits = {"birth_name": person.birth_name, "birth_given_names": person.given_names, "birth_date": person.birth_date,
              "sex": person.sex, "birthplace_code": person.birthplace}
    return people.fed(actor, traits, ins or person.matricule, oid=people.NIA_OID if person.nia else people.NIR_TEST)


def test_a_recovery_batch_runs_in_the_worker_and_its_results_wait_for_the_user(worker, front_desk, settings):
    settings.INSI_AUTO_FEED_THRESHOLD = 95.0
    exact = people.desk(front_desk, people.ARTAGNAN)  # 100 %: fed automatically
    close = people.desk(front_desk, people.ADRUN, birthplace_code="75056")  # 90 %: the user decides
    missing = people.desk(front_desk, people.HOUILLES)
    done = people.fed(front_desk, people.ECETINSI, people.ECETINSI_INS)

    run = finished(campaigns.recovery_batch_start(actor=front_desk, identity_ids=[exact.pk, close.pk, missing.pk, done.pk]))

    assert run.summary == {Outcome.AUTO: 1, Outcome.FOUND: 1, Outcome.NOT_FOUND: 1, Outcome.SKIPPED: 1}
    exact.refresh_from_db()
    assert exact.status == Status.RECUP
    waiting = close.insi_recoveries.get()
    assert waiting.state == InsiRecovery.State.AWAITING and waiting.similarity == 90.0
    recovery.recovery_reject(actor=front_desk, recovery_id=waiting.pk, reason="lieu de naissance à vérifier")
    assert {c.username for c in Exchange.objects.filter(identity_id__in=[exact.pk, close.pk, missing.pk])} == {"camille.accueil"}


def test_a_campaign_runs_in_the_worker_with_oks_a_ko_and_a_nia_replaced(worker, front_desk, civ_member, settings):
    settings.INSI_KO_ALERT_EMAILS = ["civ@example.org"]
    ok = [generated(front_desk, n) for n in (100, 101, 125)]  # 125: a NIA still active
    ko = generated(front_desk, 102, ins=generated_identity(104).matricule)
    replaced = people.fed(front_desk, people.ECETINSI, people.ECETINSI_OLD, oid=people.NIA_OID)
    campaign = campaigns.campaign_save(actor=civ_member, campaign=VerificationCampaign(
        name="Revue", statuses=[Status.RECUP, Status.QUAL], calls_per_second=50.0, email_alerts=True,
    ))

    run = finished(campaigns.campaign_start_run(actor=civ_member, campaign_id=campaign.pk))

    assert run.summary == {Outcome.OK: 3, Outcome.KO: 1, Outcome.REPLACED: 1}
    replaced.refresh_from_db()
    assert replaced.ins_matricule == people.ECETINSI_INS and replaced.ins_oid == people.NIR_TEST
    assert WorklistItem.objects.filter(identity=ko, kind=WorklistItem.Kind.INSI_VERIFICATION, state="OPEN").exists()
    assert {e.task_label for e in Exchange.objects.filter(identity_id__in=[i.pk for i in ok])} == {run.label}
    from django.core import mail

    # The run is marked done, then its KO summary is mailed: wait for the mail, not only the state.
    wait_until(lambda: mail.outbox)
    [summary] = mail.outbox
    assert f"/identities/identity/{ko.pk}/change/" in summary.body


def test_a_change_to_a_nia_identity_is_verified_by_the_worker(worker, front_desk):
    identity = people.fed(front_desk, people.ECETINSI, people.ECETINSI_OLD, oid=people.NIA_OID)

    from tests import factories

    factories.check_passport(front_desk, identity)  # RECUP → QUAL: a change

    def replaced():
        """the worker replaced the NIA"""
        identity.refresh_from_db()
        return identity.ins_matricule == people.ECETINSI_INS

    wait_until(replaced)
    assert identity.status == Status.QUAL
    call = Exchange.objects.filter(identity_id=identity.pk).last()
    assert call.mode == "AUTO" and call.task_label == "Vérification d'un NIA (identité modifiée)"


def test_a_pre_admission_is_verified_by_the_worker(worker, front_desk):
    identity = people.fed(front_desk, people.ADRUN, people.ADRUN_INS, validated=True)
    before = identity.last_verified_at

    verification_before_admission(actor=front_desk, identity_id=identity.pk, admission_at=timezone.now() + timedelta(hours=1))

    def verified():
        """the worker verified the identity"""
        identity.refresh_from_db()
        return identity.last_verified_at > before

    wait_until(verified)
    assert IdentityEvent.objects.filter(identity=identity, kind=IdentityEvent.Kind.INSI_VERIFICATION,
                                        details__trigger="pre_admission", details__verdict="OK").exists()


# --- A few hundred identities, faults injected, the worker killed and restarted ---

SIZE = 300


def _worker_process(queue: str, url: str):
    return worker_process(
        queue, INSI_ENDPOINT=url, INSI_IDAM="INSPORTAL-TEST", INSI_RETRY_BACKOFF="0", INSI_TIMEOUT="5", INSI_RUN_SLICE_SECONDS="2",
        INSI_RUN_RETRY_BACKOFF="0.2", INSI_RUN_MAX_ATTEMPTS="3", INSI_RUN_PARALLELISM="2",
    )


def test_a_campaign_survives_its_worker_killed_mid_way_exactly(transactional_db, insi, celery_queue, front_desk, civ_member):
    failing, healing, blipping = set(range(0, 10)), set(range(10, 20)), set(range(20, 30))
    wrong = set(range(30, 50))  # their matricule is another person's: KO
    identities = {
        n: generated(front_desk, 1000 + n, ins=generated_identity(5000 + n).matricule if n in wrong else None) for n in range(SIZE)
    }
    for n in failing:
        insi.fail(identities[n].birth_name)  # every call: reported as failed, never KO
    for n in healing:
        insi.fail(identities[n].birth_name, times=3)  # a whole first attempt fails, the retry succeeds
    for n in blipping:
        insi.fail(identities[n].birth_name, times=1)  # the client's own retry succeeds
    campaign = campaigns.campaign_save(actor=civ_member, campaign=VerificationCampaign(
        name="Revue", statuses=[Status.RECUP, Status.QUAL], calls_per_second=60.0,
    ))
    first = _worker_process(celery_queue, insi.url)
    try:
        run = campaigns.campaign_start_run(actor=civ_member, campaign_id=campaign.pk)

        def a_third_done():
            """a third of the identities processed"""
            return run.items.filter(state=InsiRunItem.State.DONE).count() >= SIZE // 3

        wait_until(a_third_done, seconds=90, every=0.05)
        stop(first, signal.SIGKILL)
        killed_at = run.items.filter(state=InsiRunItem.State.DONE).count()
        second = _worker_process(celery_queue, insi.url)
        try:
            finished(run)
        finally:
            stop(second, signal.SIGTERM)
    finally:
        stop(first, signal.SIGKILL)

    assert SIZE // 3 <= killed_at < SIZE
    ok = SIZE - len(failing) - len(wrong)
    assert run.summary == {Outcome.OK: ok, Outcome.KO: len(wrong), Outcome.FAILED: len(failing)}
    items = run.items.all()
    assert items.count() == SIZE and {item.identity_id for item in items} == {i.pk for i in identities.values()}
    assert not items.filter(state=InsiRunItem.State.PENDING).exists()
    # Verified once, never twice: one recorded verification per identity, whatever was in flight when it was killed.
    events = IdentityEvent.objects.filter(kind=IdentityEvent.Kind.INSI_VERIFICATION, details__trigger="campaign")
    assert events.count() == SIZE - len(failing)
    assert events.values("identity_id").distinct().count() == SIZE - len(failing)
    healthy = [identities[n].pk for n in range(50, SIZE)]
    calls = Exchange.objects.filter(identity_id__in=healthy)
    assert calls.count() == len(healthy) and {c.task_label for c in calls} == {run.label}
    assert items.get(identity=identities[0]).attempts == 3
    assert not WorklistItem.objects.filter(identity__in=[identities[n] for n in failing]).exists()
