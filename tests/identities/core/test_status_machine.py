"""The four statuses and their transitions (domain.md §2), driven through the services."""
from datetime import date, timedelta

import pytest
from django.db import IntegrityError, transaction

from identities.core import services
from identities.core.errors import RuleViolation
from identities.core.models import DocumentType, Identity, IdentityEvent, Status
from tests import factories

pytestmark = pytest.mark.usefixtures("birthplaces")


def _status(identity) -> str:
    identity.refresh_from_db()
    return identity.status


def test_every_identity_is_created_provisional_with_its_channel(front_desk):
    ident = factories.identity(front_desk, channel="CV")
    assert ident.status == Status.PROV
    assert ident.channel == "CV"
    assert ident.ins_matricule is None
    event = ident.events.get(kind=IdentityEvent.Kind.CREATED)
    assert event.actor == front_desk and event.to_status == Status.PROV


def test_no_creation_claims_the_insi_channel(front_desk):
    with pytest.raises(RuleViolation, match="n'est pas une modalité de création") as refused:
        services.identity_create(actor=front_desk, birth_name="MARTIN", birth_given_names="JEANNE", birth_date="1980-05-17",
                                 sex="F", channel="INSI")
    assert refused.value.field == "channel" and not Identity.objects.exists()


def test_a_high_trust_document_makes_a_provisional_identity_validated(front_desk):
    ident = factories.identity(front_desk)
    outcome = factories.check_passport(front_desk, ident)
    assert outcome.status_changed
    assert _status(ident) == Status.VALI
    assert ident.validated_at is not None
    event = ident.events.get(kind=IdentityEvent.Kind.STATUS_CHANGED)
    assert (event.from_status, event.to_status, event.actor) == (Status.PROV, Status.VALI, front_desk)


def test_an_accepted_insi_result_makes_a_provisional_identity_recovered(front_desk):
    ident = factories.recovered(front_desk)
    assert ident.status == Status.RECUP
    assert ident.ins_matricule.startswith("2800563220123")
    assert ident.matricules.get().kind == "INSACTIF"


def test_a_document_on_a_recovered_identity_qualifies_it(front_desk):
    ident = factories.recovered(front_desk)
    factories.check_passport(front_desk, ident)
    assert _status(ident) == Status.QUAL


def test_an_insi_result_on_a_validated_identity_qualifies_it(front_desk):
    assert factories.qualified(front_desk).status == Status.QUAL


def test_withdrawing_the_only_document_check_of_a_qualified_identity_keeps_the_ins_unshared(front_desk, civ_member):
    ident = factories.qualified(front_desk)
    check = ident.document_checks.get()
    services.identity_withdraw_document_check(actor=civ_member, check_id=check.pk, reason="Pièce falsifiée")
    ident.refresh_from_db()
    assert ident.status == Status.RECUP
    assert ident.ins_matricule is not None


def test_withdrawing_one_of_two_document_checks_changes_nothing(front_desk, civ_member):
    ident = factories.qualified(front_desk)
    factories.check_passport(front_desk, ident)
    services.identity_withdraw_document_check(actor=civ_member, check_id=ident.document_checks.first().pk, reason="Doublon")
    assert _status(ident) == Status.QUAL


def test_a_document_that_does_not_validate_is_recorded_and_changes_no_status(front_desk):
    ident = factories.identity(front_desk)
    licence = DocumentType.objects.get(code="permis-conduire")
    outcome = services.identity_record_document_check(
        actor=front_desk, identity_id=ident.pk, document_type_id=licence.pk, expiry_date=None
    )
    assert not outcome.status_changed and "ne permet pas de valider" in outcome.message
    assert _status(ident) == Status.PROV
    assert ident.document_checks.count() == 1


def test_a_birth_extract_validates_only_with_a_parent_high_trust_document(front_desk):
    minor = factories.identity(front_desk, birth_date="2019-03-02")
    extract = DocumentType.objects.get(code="extrait-naissance")
    alone = services.identity_record_document_check(actor=front_desk, identity_id=minor.pk, document_type_id=extract.pk, expiry_date=None)
    assert not alone.status_changed
    with_parent = services.identity_record_document_check(
        actor=front_desk, identity_id=minor.pk, document_type_id=extract.pk, expiry_date=None,
        companion_type_id=factories.passport().pk,
    )
    assert with_parent.status_changed
    assert _status(minor) == Status.VALI


def test_an_expired_passport_is_refused_and_nothing_is_recorded(front_desk):
    ident = factories.identity(front_desk)
    with pytest.raises(RuleViolation) as error:
        services.identity_record_document_check(
            actor=front_desk, identity_id=ident.pk, document_type_id=factories.passport().pk,
            expiry_date=date.today() - timedelta(days=1),
        )
    assert error.value.field == "expiry_date" and "périmée" in error.value.message
    assert ident.document_checks.count() == 0
    assert _status(ident) == Status.PROV


def test_no_insi_recovery_is_needed_for_a_qualified_identity(front_desk):
    ident = factories.qualified(front_desk)
    with pytest.raises(RuleViolation, match="Aucune récupération nécessaire"):
        services.identity_apply_insi_result(actor=front_desk, identity_id=ident.pk, result=factories.insi_result(ident))


@pytest.mark.parametrize("birth_date", ["1980-00-00", "1980-05-00"])
def test_an_insi_result_with_00_in_its_date_is_refused_and_changes_nothing(front_desk, birth_date):
    ident = factories.identity(front_desk)
    result = factories.insi_result({**vars(ident), "birth_date": birth_date})
    with pytest.raises(RuleViolation, match="contient 00"):
        services.identity_apply_insi_result(actor=front_desk, identity_id=ident.pk, result=result)
    assert _status(ident) == Status.PROV
    assert not ident.matricules.exists()


@pytest.mark.parametrize("operation", ["recovery", "verification", "third_party"])
def test_an_insi_or_third_party_identity_of_indeterminate_sex_is_refused_and_changes_nothing(front_desk, operation):
    # A local identity may be of sex I; INSi (and a third party's INS identity) knows only M and F.
    ident = factories.identity(front_desk, sex="I")
    result = factories.insi_result(ident)
    with pytest.raises(RuleViolation, match=r"sexe retourné par INSi \(I\) n'est ni M ni F"):
        services.identity_apply_insi_result(actor=front_desk, identity_id=ident.pk, result=result, operation=operation)
    assert _status(ident) == Status.PROV
    assert not ident.matricules.exists()


@pytest.mark.parametrize("oid", ["1.2.250.1.213.1.4.10", "1.2.250.1.213.1.4.11"])
def test_an_insi_result_with_a_test_oid_is_refused_insi_never_answers_it(front_desk, oid):
    ident = factories.identity(front_desk)
    result = factories.insi_result(ident, oid=oid)
    with pytest.raises(RuleViolation, match="INSi ne répond qu'avec"):
        services.identity_apply_insi_result(actor=front_desk, identity_id=ident.pk, result=result)
    ident.refresh_from_db()
    assert (ident.status, ident.ins_oid) == (Status.PROV, None)


@pytest.mark.parametrize("environment", ["test", "production"])
def test_the_oid_insi_answers_with_is_accepted_and_stored_exactly_as_received(front_desk, settings, environment):
    settings.INS_ENVIRONMENT = environment
    ident = factories.identity(front_desk)
    services.identity_apply_insi_result(actor=front_desk, identity_id=ident.pk, result=factories.insi_result(ident, oid="1.2.250.1.213.1.4.8"))
    ident.refresh_from_db()
    assert (ident.status, ident.ins_oid) == (Status.RECUP, "1.2.250.1.213.1.4.8")


def test_insi_traits_are_stored_exactly_as_returned_and_the_first_given_name_comes_from_the_list(front_desk):
    ident = factories.identity(front_desk, birth_name="DARTAGNAN", birth_given_names="PIERRE", birth_date="2001-06-17", sex="M")
    returned = {
        "birth_name": "D'ARTAGNAN DE L'HERAULT", "birth_given_names": "PIERRE-ALAIN GUNTHER", "sex": "M",
        "birth_date": "2001-06-17", "birthplace_code": "63220",
    }
    services.identity_apply_insi_result(
        actor=front_desk, identity_id=ident.pk, result=factories.insi_result(returned, matricule="1010663220754")
    )
    ident.refresh_from_db()
    assert (ident.birth_name, ident.birth_given_names, ident.first_birth_given_name) == (
        "D'ARTAGNAN DE L'HERAULT", "PIERRE-ALAIN GUNTHER", "PIERRE-ALAIN",
    )
    assert ident.ins_matricule == "101066322075460"


def test_the_insi_history_is_kept_beside_the_active_matricule(front_desk):
    ident = factories.identity(front_desk, birth_name="ECETINSI", birth_given_names="PIERRE-ALAIN", sex="M", birth_date="2009-07-14")
    result = factories.insi_result(
        {**vars(ident), "birth_given_names": "PIERRE-ALAIN MURIEL FLORIANT"},
        matricule="1090763220834",
        history=[services.InsiMatricule("209076322083439", factories.INSI_TEST_NIR_OID),
                 services.InsiMatricule("109076322083489", factories.INSI_TEST_NIR_OID)],
    )
    services.identity_apply_insi_result(actor=front_desk, identity_id=ident.pk, result=result)
    kinds = sorted(ident.matricules.values_list("kind", "matricule"))
    assert kinds == [("INSACTIF", "109076322083489"), ("INSHISTO", "209076322083439")]


def test_the_state_field_cannot_be_assigned_directly():
    ident = Identity(birth_name="X", birth_given_names="Y", first_birth_given_name="Y", birth_date="2000-01-01", sex="M")
    with pytest.raises(AttributeError):
        ident.status = Status.QUAL


@pytest.mark.django_db
def test_the_database_refuses_an_ins_on_a_provisional_identity(front_desk):
    ident = factories.identity(front_desk)
    with pytest.raises(IntegrityError), transaction.atomic():
        Identity.objects.filter(pk=ident.pk).update(ins_matricule="279035121518989", ins_oid="1.2.250.1.213.1.4.10")


@pytest.mark.django_db
def test_the_database_refuses_a_doubtful_identity_that_is_not_provisional(front_desk):
    ident = factories.identity(front_desk)
    factories.check_passport(front_desk, ident)
    with pytest.raises(IntegrityError), transaction.atomic():
        Identity.objects.filter(pk=ident.pk).update(doubtful=True)


def test_the_transition_table_offers_only_the_allowed_events_from_each_status(front_desk):
    from django_fsm import can_proceed

    ident = factories.identity(front_desk)
    assert can_proceed(ident.document_validated) and can_proceed(ident.insi_identity_accepted)
    assert not can_proceed(ident.document_withdrawn) and not can_proceed(ident.ins_invalidated)
    qualified = factories.qualified(front_desk, matricule13="1090763220888")
    assert not can_proceed(qualified.document_validated) and not can_proceed(qualified.insi_identity_accepted)
    assert can_proceed(qualified.document_withdrawn) and can_proceed(qualified.ins_invalidated)
