"""Verification of stored INS through the simulator: OK, KO with its alert, NIA→NIR, failures, pre-admission, NIA on change."""
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from identities.core.errors import NotAllowed
from identities.core.models import IdentityEvent, InsMatricule, Status, WorklistItem
from identities.core.services import identity_set_attribute
from identities.workflows import queue, tasks
from identities.workflows.verification import Verdict, verification_before_admission, verification_verify
from insi.models import Exchange
from tests import factories
from tests.identities.workflows import people

pytestmark = pytest.mark.django_db


def _ko_items(identity):
    return WorklistItem.objects.filter(identity=identity, kind=WorklistItem.Kind.INSI_VERIFICATION, state=WorklistItem.State.OPEN)


def test_an_ok_moves_the_last_verified_date_and_logs_the_call(insi, front_desk):
    identity = people.fed(front_desk, people.ADRUN, people.ADRUN_INS, validated=True)
    before = identity.last_verified_at

    result = verification_verify(actor=front_desk, identity_id=identity.pk)

    identity.refresh_from_db()
    assert result.verdict == Verdict.OK
    assert identity.last_verified_at > before and identity.status == Status.QUAL
    call = Exchange.objects.get(pk=result.exchange_id)
    assert (call.operation, call.return_code, call.identity_id, call.username) == (
        "verifierInsAvecTraitsIdentite", "OK", identity.pk, "camille.accueil"
    )


def test_a_ko_alerts_the_civ_with_a_worklist_item_and_never_downgrades(insi, front_desk, settings, django_capture_on_commit_callbacks):
    settings.INSI_KO_ALERT_EMAILS = ["civ@example.org"]
    # A matricule that is not this person's: the verification says KO, the search finds another one.
    identity = people.fed(front_desk, people.ADRUN, "275126322074900"[:13] + "23")

    with django_capture_on_commit_callbacks(execute=True):
        result = verification_verify(actor=front_desk, identity_id=identity.pk)

    identity.refresh_from_db()
    assert result.verdict == Verdict.KO and "autre matricule" in result.message
    assert identity.status == Status.RECUP and identity.ins_matricule is not None
    assert _ko_items(identity).count() == 1
    assert "Vérification INSi KO" in _ko_items(identity).get().reason
    [message] = mail.outbox
    assert message.to == ["civ@example.org"] and f"/identities/identity/{identity.pk}/change/" in message.body
    assert "ADRUN" not in message.body  # identifiers only, no personal data
    assert [c.return_code for c in Exchange.objects.filter(identity_id=identity.pk).order_by("pk")] == ["KO", "00"]
    assert result.calls == 2  # what a campaign's pace counts


def test_a_second_ko_does_not_queue_the_identity_twice(insi, front_desk):
    identity = people.fed(front_desk, people.ADRUN, "275126322074923")

    verification_verify(actor=front_desk, identity_id=identity.pk)
    verification_verify(actor=front_desk, identity_id=identity.pk)

    assert _ko_items(identity).count() == 1


def test_a_nia_replaced_by_a_nir_is_replaced_and_kept_in_the_history(insi, front_desk):
    # The desk recovered the identity when INSi still answered with a NIA.
    identity = people.fed(front_desk, people.ECETINSI, people.ECETINSI_OLD, oid=people.NIA_OID, validated=True)

    result = verification_verify(actor=front_desk, identity_id=identity.pk)

    identity.refresh_from_db()
    assert result.verdict == Verdict.REPLACED and "remplacé par un NIR" in result.message
    assert (identity.ins_matricule, identity.ins_oid, identity.status) == (people.ECETINSI_INS, people.NIR_TEST, Status.QUAL)
    old = InsMatricule.objects.get(identity=identity, matricule=people.ECETINSI_OLD, kind=InsMatricule.Kind.ACTIVE)
    assert old.invalidated_at is not None and old.oid == people.NIA_OID
    assert InsMatricule.objects.filter(identity=identity, matricule=people.ECETINSI_INS, kind=InsMatricule.Kind.ACTIVE,
                                       invalidated_at__isnull=True).exists()
    assert not _ko_items(identity).exists()


def test_a_new_nir_replacing_an_old_one_keeps_the_old_one_too(insi, front_desk):
    identity = people.fed(front_desk, people.ECETINSI, people.ECETINSI_OLD)

    result = verification_verify(actor=front_desk, identity_id=identity.pk)

    identity.refresh_from_db()
    assert result.verdict == Verdict.REPLACED and identity.ins_matricule == people.ECETINSI_INS
    assert InsMatricule.objects.filter(identity=identity, matricule=people.ECETINSI_OLD).exists()
    # The verification said KO first; the search found the old matricule in INSHISTO.
    assert [c.return_code for c in Exchange.objects.filter(identity_id=identity.pk).order_by("pk")] == ["KO", "00"]


def test_a_nia_still_active_is_verified_by_a_search(insi, front_desk):
    identity = people.fed(front_desk, people.PROVISOIRE, people.PROVISOIRE_NIA, oid=people.NIA_OID)

    result = verification_verify(actor=front_desk, identity_id=identity.pk)

    identity.refresh_from_db()
    assert result.verdict == Verdict.OK and identity.ins_matricule == people.PROVISOIRE_NIA
    assert Exchange.objects.get(pk=result.exchange_id).operation == "rechercherInsAvecTraitsIdentite"


def test_a_technical_failure_changes_nothing_and_is_never_a_ko(insi, front_desk):
    identity = people.fed(front_desk, people.ADRUN, people.ADRUN_INS)
    version = identity.version
    insi.fail("ADRUN")

    result = verification_verify(actor=front_desk, identity_id=identity.pk)

    identity.refresh_from_db()
    assert result.verdict == Verdict.FAILED and result.technical
    assert identity.version == version and not _ko_items(identity).exists()
    assert Exchange.objects.filter(identity_id=identity.pk, return_code="http_500").count() == 3


def test_there_is_nothing_to_verify_without_an_ins(insi, front_desk):
    identity = people.desk(front_desk, people.ADRUN)

    result = verification_verify(actor=front_desk, identity_id=identity.pk)

    assert result.verdict == Verdict.SKIPPED and "Aucun INS" in result.message
    assert not Exchange.objects.exists()


def test_a_doubtful_identity_is_never_sent_to_insi(insi, front_desk, civ_member):
    identity = people.desk(front_desk, people.ADRUN)
    identity_set_attribute(actor=civ_member, identity_id=identity.pk, attribute="DOUT", value=True, reason="enquête")

    result = verification_verify(actor=civ_member, identity_id=identity.pk)

    assert result.verdict == Verdict.SKIPPED and "douteuse" in result.message
    assert not Exchange.objects.exists()


def test_a_manager_may_not_verify(insi, front_desk, manager):
    identity = people.fed(front_desk, people.ADRUN, people.ADRUN_INS)

    with pytest.raises(NotAllowed):
        verification_verify(actor=manager, identity_id=identity.pk)


def test_a_pre_admission_queues_the_verification_ahead_of_the_admission(insi, front_desk, settings, django_capture_on_commit_callbacks):
    settings.INSI_PRE_ADMISSION_LEAD_HOURS = 48
    identity = people.fed(front_desk, people.ADRUN, people.ADRUN_INS)
    admission = timezone.now() + timedelta(days=10)

    with django_capture_on_commit_callbacks() as queued:
        due = verification_before_admission(actor=front_desk, identity_id=identity.pk, admission_at=admission)

    assert due == admission - timedelta(hours=48)
    [callback] = queued
    assert callback.func is queue.enqueue_verification
    assert callback.args == (identity.pk, "pre_admission") and callback.keywords == {"eta": due}


def test_an_admission_tomorrow_is_verified_at_once(insi, front_desk, django_capture_on_commit_callbacks):
    identity = people.fed(front_desk, people.ADRUN, people.ADRUN_INS)
    before = timezone.now()

    with django_capture_on_commit_callbacks():
        due = verification_before_admission(actor=front_desk, identity_id=identity.pk, admission_at=before + timedelta(days=1))

    assert before <= due <= timezone.now()


def test_a_change_to_a_nia_identity_queues_its_verification(insi, front_desk, django_capture_on_commit_callbacks):
    identity = people.fed(front_desk, people.PROVISOIRE, people.PROVISOIRE_NIA, oid=people.NIA_OID)

    with django_capture_on_commit_callbacks() as queued:
        factories.check_passport(front_desk, identity)

    verifications = [c for c in queued if getattr(c, "func", None) is queue.enqueue_verification]
    assert verifications and {c.args for c in verifications} == {(identity.pk, "nia_change")}


def test_a_change_to_a_nir_identity_queues_nothing(insi, front_desk, django_capture_on_commit_callbacks):
    identity = people.fed(front_desk, people.ADRUN, people.ADRUN_INS)

    with django_capture_on_commit_callbacks() as queued:
        factories.check_passport(front_desk, identity)

    assert not [c for c in queued if getattr(c, "func", None) is queue.enqueue_verification]


def test_the_automatic_task_skips_an_identity_verified_since_it_was_asked(insi, front_desk):
    identity = people.fed(front_desk, people.ADRUN, people.ADRUN_INS)
    asked = (identity.last_verified_at - timedelta(minutes=1)).isoformat()

    tasks.verify_identity.apply(args=(identity.pk, "nia_change", asked))

    assert not Exchange.objects.exists()


def test_the_automatic_task_calls_as_insi_auto_with_its_label(insi, front_desk):
    identity = people.fed(front_desk, people.PROVISOIRE, people.PROVISOIRE_NIA, oid=people.NIA_OID)

    tasks.verify_identity.apply(args=(identity.pk, "nia_change", timezone.now().isoformat()))

    call = Exchange.objects.get(identity_id=identity.pk)
    assert (call.mode, call.username) == ("AUTO", "")
    assert call.task_label == "Vérification d'un NIA (identité modifiée)"
    assert IdentityEvent.objects.filter(identity=identity, kind=IdentityEvent.Kind.INSI_VERIFICATION, details__verdict="OK").exists()


# --- The identity is not held during the call ---

@pytest.mark.django_db(transaction=True)
def test_the_identity_is_not_locked_while_insi_verifies_and_a_change_meanwhile_concludes_nothing(insi, front_desk):
    from django.db import connection, transaction

    from identities.core.models import Identity
    from identities.core.services import identity_update_traits

    identity = people.fed(front_desk, people.ADRUN, people.ADRUN_INS)
    seen = {}

    def lock_and_change(body):
        try:
            with transaction.atomic():
                Identity.objects.select_for_update(nowait=True).get(pk=identity.pk)
            identity_update_traits(actor=front_desk, identity_id=identity.pk, expected_version=identity.version, used_name="DURAND")
            seen["ok"] = True
        except Exception as error:
            seen["error"] = error
        finally:
            connection.close()
        return body

    insi.rewrite("ADRUN", lock_and_change)
    result = verification_verify(actor=front_desk, identity_id=identity.pk)

    identity.refresh_from_db()
    assert seen == {"ok": True}
    assert result.verdict == Verdict.FAILED and result.technical and "modifiée pendant l'appel INSi" in result.message
    assert identity.last_verified_at is None or identity.last_verified_at < identity.updated_at
