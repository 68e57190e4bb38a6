"""The Appli carte Vitale at the desk: qualified without INSi, anteriority first, a locked mismatch sent to the CIV (simulator over HTTP)."""
import pytest
from django.urls import reverse

from identities.core.errors import RuleViolation
from identities.core.models import Channel, DocumentCheck, Identity, InsMatricule, Status, WorklistItem
from identities.workflows import apcv
from insi.models import Exchange
from insi.simulator import apcv as apcv_side
from insi.simulator.catalog import TEST_IDENTITIES
from tests.identities.portal.client import logged_in
from tests.identities.workflows import people

pytestmark = pytest.mark.django_db
ADRUN = next(person for person in TEST_IDENTITIES if person.birth_name == "ADRUN")
ADRUN_QR = apcv_side.qr_code_of(ADRUN)


@pytest.fixture
def application(insi, settings):
    """The simulator's ApCV side, behind the same loopback server as its INSi side."""
    settings.APCV_ENDPOINT = insi.url.replace("/lps", "/apcv")
    settings.APCV_TIMEOUT = 5.0
    return insi


def test_an_identity_from_the_application_is_created_qualified_without_any_insi_call(application, front_desk):
    intake = apcv.apcv_intake(actor=front_desk, scanned=ADRUN_QR)

    identity = Identity.objects.get(pk=intake.identity.pk)
    assert intake.applied and identity.status == Status.QUAL
    assert (identity.ins_matricule, identity.ins_oid) == (people.ADRUN_INS, people.NIR_TEST)
    assert (identity.birth_name, identity.birth_given_names, identity.birthplace_code) == ("ADRUN", "ZOE", "63220")
    assert identity.channel == Channel.AV and identity.last_insi_call_at is None
    check = DocumentCheck.objects.get(identity=identity)
    assert check.document_type.code == "appli-carte-vitale" and check.validates
    assert InsMatricule.objects.get(identity=identity).source == InsMatricule.Source.APCV
    assert identity.events.filter(kind="STATUS", channel=Channel.AV, to_status=Status.QUAL).exists()
    assert not Exchange.objects.exists()


def test_the_anteriority_search_comes_first_and_the_agent_chooses_the_record(application, front_desk):
    known = people.desk(front_desk, people.ADRUN)

    first = apcv.apcv_intake(actor=front_desk, scanned=ADRUN_QR)
    assert first.identity is None and [c.pk for c in first.candidates] == [known.pk]
    assert Identity.objects.count() == 1

    chosen = apcv.apcv_intake(actor=front_desk, scanned=ADRUN_QR, identity_id=known.pk)

    known.refresh_from_db()
    assert chosen.identity.pk == known.pk and known.status == Status.QUAL and known.ins_matricule == people.ADRUN_INS
    assert not Exchange.objects.exists()


def test_a_record_holding_the_transmitted_ins_is_matched_and_qualified(application, front_desk):
    recovered = people.fed(front_desk, people.ADRUN, people.ADRUN_INS)

    intake = apcv.apcv_intake(actor=front_desk, scanned=ADRUN_QR)

    recovered.refresh_from_db()
    assert intake.identity.pk == recovered.pk and recovered.status == Status.QUAL


def test_a_mismatch_with_locked_traits_goes_to_the_civ_and_overwrites_nothing(application, front_desk):
    locked = people.fed(front_desk, people.ADRUN | {"birth_given_names": "ZOE MARIE"}, people.ADRUN_INS)
    before = (locked.birth_given_names, locked.status, locked.version)

    intake = apcv.apcv_intake(actor=front_desk, scanned=ADRUN_QR)

    locked.refresh_from_db()
    assert not intake.applied and (locked.birth_given_names, locked.status, locked.version) == before
    item = WorklistItem.objects.get(kind=WorklistItem.Kind.APCV_MISMATCH, identity=locked, state="OPEN")
    assert "Prénom(s) de naissance" in item.reason
    assert not DocumentCheck.objects.filter(identity=locked, validates=True).exists()


@pytest.mark.parametrize(("scanned", "words"), [
    ("APCV1:APCV-000000000000000", "inconnu ou expiré"),
    ("S1275126322074974", "n'est pas un QR code de l'Appli carte Vitale"),
    ("", "n'est pas un QR code"),
])
def test_a_bad_scan_names_the_field_and_writes_nothing(application, front_desk, scanned, words):
    with pytest.raises(RuleViolation) as refused:
        apcv.apcv_intake(actor=front_desk, scanned=scanned)

    assert refused.value.field == "scanned" and words in refused.value.message
    assert not Identity.objects.exists()


def test_an_unreachable_application_service_is_a_clear_error(application, front_desk, settings):
    settings.APCV_ENDPOINT = "http://127.0.0.1:9/insi-simulator/apcv"

    with pytest.raises(RuleViolation, match="injoignable"):
        apcv.apcv_intake(actor=front_desk, scanned=ADRUN_QR)


def test_the_scan_page_creates_and_opens_the_qualified_identity(application, front_desk):
    response = logged_in(front_desk).post(reverse("admin:apcv_read"), {"scanned": ADRUN_QR}, follow=True)

    identity = Identity.objects.get()
    assert response.redirect_chain[-1][0] == reverse("admin:identities_identity_change", args=[identity.pk])
    assert "sans appel INSi" in response.content.decode() and identity.status == Status.QUAL


def test_a_manager_cannot_use_the_scan_page(application, manager):
    assert logged_in(manager).get(reverse("admin:apcv_read")).status_code == 403
