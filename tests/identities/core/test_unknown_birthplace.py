"""The unknown birthplace (COG 99999, RNIV 2024): carried by a provisional identity, never by a validated or qualified one."""
from datetime import date, timedelta

import pytest

from identities.core import services
from identities.core.errors import RuleViolation
from identities.core.models import DocumentCheck, DocumentType, Identity, Status
from tests import factories

pytestmark = pytest.mark.django_db
UNKNOWN = "99999"


def test_a_provisional_identity_may_be_created_with_an_unknown_birthplace(front_desk, birthplaces):
    identity = factories.identity(front_desk, birth_name="INCONNU", birthplace_code=UNKNOWN)

    assert (identity.status, identity.birthplace_code) == (Status.PROV, UNKNOWN)


def test_a_high_trust_document_does_not_validate_an_identity_born_in_an_unknown_place(front_desk, birthplaces):
    identity = factories.identity(front_desk, birth_name="INCONNU", birthplace_code=UNKNOWN)

    with pytest.raises(RuleViolation) as error:
        factories.check_passport(front_desk, identity)

    assert error.value.field == "birthplace_code" and "99999" in error.value.message
    identity.refresh_from_db()
    assert identity.status == Status.PROV and identity.version == 1
    assert not DocumentCheck.objects.filter(identity=identity).exists()


def test_once_the_birthplace_is_known_the_same_document_validates(front_desk, birthplaces):
    identity = factories.identity(front_desk, birth_name="INCONNU", birthplace_code=UNKNOWN)
    services.identity_update_traits(actor=front_desk, identity_id=identity.pk, expected_version=identity.version,
                                    birthplace_code="99109")

    factories.check_passport(front_desk, identity)

    identity.refresh_from_db()
    assert identity.status == Status.VALI


def test_a_document_that_does_not_validate_is_still_recorded_for_an_unknown_birthplace(front_desk, birthplaces):
    identity = factories.identity(front_desk, birth_name="INCONNU", birthplace_code=UNKNOWN)
    licence = DocumentType.objects.get(code="permis-conduire")

    outcome = services.identity_record_document_check(actor=front_desk, identity_id=identity.pk, document_type_id=licence.pk,
                                                      expiry_date=date.today() + timedelta(days=30))

    assert not outcome.status_changed and outcome.check.pk


def test_a_validated_identity_cannot_take_the_unknown_birthplace(front_desk, birthplaces):
    identity = factories.identity(front_desk, birth_name="VALIDEE")
    factories.check_passport(front_desk, identity)
    identity.refresh_from_db()

    with pytest.raises(RuleViolation) as error:
        services.identity_update_traits(actor=front_desk, identity_id=identity.pk, expected_version=identity.version,
                                        birthplace_code=UNKNOWN)

    assert error.value.field == "birthplace_code"
    identity.refresh_from_db()
    assert (identity.status, identity.birthplace_code) == (Status.VALI, "63220")


def test_a_qualified_identity_is_not_downgraded_to_validated_with_an_unknown_birthplace(front_desk, civ_referent, birthplaces):
    identity = factories.qualified(front_desk)

    with pytest.raises(RuleViolation) as error:
        services.identity_update_traits(actor=civ_referent, identity_id=identity.pk, expected_version=identity.version,
                                        birthplace_code=UNKNOWN, reason="Lieu inconnu")

    assert error.value.field == "birthplace_code" and "99999" in error.value.message
    identity.refresh_from_db()
    assert identity.status == Status.QUAL and identity.ins_matricule


def test_a_recovered_identity_downgraded_to_provisional_may_take_it(front_desk, civ_referent, birthplaces):
    identity = factories.recovered(front_desk)

    services.identity_update_traits(actor=civ_referent, identity_id=identity.pk, expected_version=identity.version,
                                    birthplace_code=UNKNOWN, reason="Lieu inconnu")

    identity.refresh_from_db()
    assert (identity.status, identity.birthplace_code, identity.ins_matricule) == (Status.PROV, UNKNOWN, None)


def test_insi_fills_the_unknown_birthplace_on_recovery(front_desk, birthplaces):
    identity = factories.identity(front_desk, birth_name="INCONNU", birthplace_code=UNKNOWN)
    returned = factories.insi_result({**{f: getattr(identity, f) for f in ("birth_name", "birth_given_names", "sex", "birth_date")},
                                      "birthplace_code": "63220"})

    services.identity_apply_insi_result(actor=front_desk, identity_id=identity.pk, result=returned)

    identity.refresh_from_db()
    assert (identity.status, identity.birthplace_code) == (Status.RECUP, "63220")


def test_an_insi_result_with_the_unknown_birthplace_does_not_qualify_a_validated_identity(front_desk, birthplaces):
    identity = factories.identity(front_desk, birth_name="VALIDEE")
    factories.check_passport(front_desk, identity)
    returned = factories.insi_result({**{f: getattr(identity, f) for f in ("birth_name", "birth_given_names", "sex", "birth_date")},
                                      "birthplace_code": UNKNOWN})

    with pytest.raises(RuleViolation):
        services.identity_apply_insi_result(actor=front_desk, identity_id=identity.pk, result=returned)

    assert Identity.objects.get(pk=identity.pk).status == Status.VALI
