"""The RNIV 2024 validation exceptions: each combination validates and records its derogation; each near-miss is refused."""
from datetime import date, timedelta

import pytest

from identities.core import derogations, services
from identities.core.errors import RuleViolation
from identities.core.models import DocumentCheck, DocumentType, Status
from tests import factories

pytestmark = pytest.mark.django_db
VALID_UNTIL = date.today() + timedelta(days=400)
ADULT, ELDER = "1985-04-02", "1931-11-20"
MINOR = f"{date.today().year - 9}-03-15"


def _type(code: str) -> DocumentType:
    return DocumentType.objects.get(code=code)


def _check(actor, identity, document: str, companion: str = "", derogation: str = ""):
    return services.identity_record_document_check(
        actor=actor, identity_id=identity.pk, document_type_id=_type(document).pk,
        companion_type_id=_type(companion).pk if companion else None,
        expiry_date=VALID_UNTIL if _type(document).requires_expiry else None, derogation=derogation,
    )


ACCEPTED = [
    (derogations.EHPAD, ELDER, "livret-famille", "carte-vitale-photo"),
    (derogations.EHPAD, ELDER, "extrait-naissance", "carte-vitale-photo"),
    (derogations.MINOR_PARENT, MINOR, "extrait-naissance", "cni"),
    (derogations.MINOR_PARENT, MINOR, "livret-famille", "titre-sejour"),
    (derogations.MINOR_GUARDIAN, MINOR, "piece-tuteur", "decision-justice"),
    (derogations.MINOR_DCEM, MINOR, "dcem", ""),
    (derogations.CHILD_WELFARE, MINOR, "ordonnance-placement", ""),
]


@pytest.mark.parametrize(("derogation", "born", "document", "companion"), ACCEPTED)
def test_each_exception_validates_and_is_recorded_on_the_check(front_desk, birthplaces, derogation, born, document, companion):
    identity = factories.identity(front_desk, birth_date=born)

    outcome = _check(front_desk, identity, document, companion, derogation=derogation)

    identity.refresh_from_db()
    assert identity.status == Status.VALI and outcome.status_changed
    assert (outcome.check.validates, outcome.check.derogation) == (True, derogation)
    assert derogations.EXCEPTIONS[derogation].label in outcome.message
    assert identity.events.get(kind="DOC_CHECK").details["derogation"] == derogation


@pytest.mark.parametrize(("derogation", "born", "document", "companion"), ACCEPTED)
def test_the_derogation_is_found_from_the_documents_when_the_agent_names_none(front_desk, birthplaces, derogation, born,
                                                                                document, companion):
    identity = factories.identity(front_desk, birth_date=born)

    outcome = _check(front_desk, identity, document, companion)

    assert (outcome.check.validates, outcome.check.derogation) == (True, derogation)


NEAR_MISSES = [
    # (derogation named, birth date, document, companion, field at fault, words of the message)
    (derogations.EHPAD, ELDER, "livret-famille", "", "companion_type", "carte-vitale-photo"),
    (derogations.EHPAD, ELDER, "permis-conduire", "carte-vitale-photo", "document_type", "livret-famille"),
    (derogations.MINOR_PARENT, ADULT, "extrait-naissance", "passeport", "derogation", "réservée aux mineurs"),
    (derogations.MINOR_PARENT, MINOR, "extrait-naissance", "permis-conduire", "companion_type", "haut niveau de confiance"),
    (derogations.MINOR_GUARDIAN, MINOR, "piece-tuteur", "", "companion_type", "decision-justice"),
    (derogations.MINOR_DCEM, ADULT, "dcem", "", "derogation", "réservée aux mineurs"),
    (derogations.CHILD_WELFARE, MINOR, "livret-famille", "", "document_type", "ordonnance-placement"),
    (derogations.CHILD_WELFARE, ADULT, "ordonnance-placement", "", "derogation", "réservée aux mineurs"),
]


@pytest.mark.parametrize(("derogation", "born", "document", "companion", "field", "words"), NEAR_MISSES)
def test_a_near_miss_is_refused_naming_the_field_and_nothing_is_written(front_desk, birthplaces, derogation, born, document,
                                                                        companion, field, words):
    identity = factories.identity(front_desk, birth_date=born)

    with pytest.raises(RuleViolation) as refused:
        _check(front_desk, identity, document, companion, derogation=derogation)

    assert refused.value.field == field and words in refused.value.message
    identity.refresh_from_db()
    assert identity.status == Status.PROV and identity.version == 1
    assert not DocumentCheck.objects.filter(identity=identity).exists()


def test_an_adults_birth_extract_with_a_passport_records_the_check_but_does_not_validate(front_desk, birthplaces):
    identity = factories.identity(front_desk, birth_date=ADULT)

    outcome = _check(front_desk, identity, "extrait-naissance", "passeport")

    identity.refresh_from_db()
    assert identity.status == Status.PROV and not outcome.check.validates and outcome.check.derogation == ""
    assert "ne valide l'identité que dans une dérogation" in outcome.message


def test_a_livret_de_famille_with_a_carte_vitale_with_photo_does_not_validate_a_minor_as_a_parents_document(front_desk, birthplaces):
    identity = factories.identity(front_desk, birth_date=MINOR)

    with pytest.raises(RuleViolation, match="haut niveau de confiance"):
        _check(front_desk, identity, "livret-famille", "carte-vitale-photo", derogation=derogations.MINOR_PARENT)


def test_a_passport_validates_without_any_derogation_and_records_none(front_desk, birthplaces):
    identity = factories.identity(front_desk)

    outcome = factories.check_passport(front_desk, identity)

    assert outcome.check.validates and outcome.check.derogation == ""


@pytest.mark.parametrize(("born", "on", "minor"), [
    ("2008-12-02", date(2026, 12, 1), True), ("2008-12-01", date(2026, 12, 1), False),
    # An unknown month counts from January: not certainly a minor.
    ("2008-00-00", date(2026, 12, 1), False), ("2009-00-00", date(2026, 12, 1), True),
])
def test_a_minor_is_under_18_for_certain_on_the_day_of_the_check(born, on, minor):
    assert derogations.is_minor_on(born, on) is minor


def test_the_exceptions_document_types_exist_and_none_of_them_validates_alone_outside_an_exception():
    for code in ("piece-tuteur", "decision-justice", "dcem", "ordonnance-placement"):
        assert _type(code).trust != DocumentType.Trust.HIGH
