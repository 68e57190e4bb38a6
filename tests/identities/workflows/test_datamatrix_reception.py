"""A datamatrix from another facility's document: the desk finds or creates the identity, its INS integrated only after INSi OK."""
import pytest
from django.urls import reverse

from identities.core.diffusion import SharedIns
from identities.core.matricule import compute_key
from identities.core.models import Channel, Identity, Status, WorklistItem
from identities.documents import datamatrix
from insi.models import Exchange
from tests.identities.portal.client import logged_in
from tests.identities.workflows import people

pytestmark = pytest.mark.django_db
OTHER_NUMBER = "2751263220750"  # a well-formed matricule INSi does not hold for ADRUN
OTHER_INS = OTHER_NUMBER + compute_key(OTHER_NUMBER)


def adrun_datamatrix(ins: str = people.ADRUN_INS) -> str:
    return datamatrix.build_payload(SharedIns(
        matricule=ins, oid=people.NIR_TEST, nature="NIR", hl7_authority="ASIP-SANTE-INS-NIR-TEST", label="INS-NIR de test",
        birth_name="ADRUN", birth_given_names="ZOE", sex="F", birth_date="1975-12-31", birthplace_code="63220",
    ))


def _scan(client, payload: str):
    return client.post(reverse("documents:datamatrix_read"), {"scan": payload, "action": "Lire"}, secure=True)


def _create(client, read, *, verify: bool):
    return client.post(reverse("documents:datamatrix_read"), {
        "action": "create", "payload": read.context["payload"], "acknowledged": read.context["acknowledged"],
        **({"verify_ins": "1"} if verify else {}),
    }, secure=True, follow=True)


def test_a_created_identity_takes_the_datamatrix_ins_after_insi_confirms_it(insi, front_desk):
    client = logged_in(front_desk)
    read = _scan(client, adrun_datamatrix())
    assert read.context["can_verify"] and read.context["rows"] == []

    page = _create(client, read, verify=True).content.decode()

    identity = Identity.objects.get()
    assert (identity.status, identity.channel, identity.ins_matricule) == (Status.RECUP, Channel.CB, people.ADRUN_INS)
    assert "vérification OK" in page
    assert list(Exchange.objects.values_list("operation", flat=True)) == [Exchange.Operation.VERIFY]


def test_a_datamatrix_ins_insi_does_not_confirm_is_refused_and_only_the_traits_are_kept(insi, front_desk):
    client = logged_in(front_desk)

    page = _create(client, _scan(client, adrun_datamatrix(OTHER_INS)), verify=True).content.decode()

    identity = Identity.objects.get()
    assert (identity.status, identity.ins_matricule, identity.birth_name) == (Status.PROV, None, "ADRUN")
    assert "refusé" in page and "vérification KO" in page
    assert WorklistItem.objects.filter(identity=identity, kind=WorklistItem.Kind.INSI_VERIFICATION, state="OPEN").exists()


def test_a_found_identity_gets_the_datamatrix_ins_only_on_insi_ok(insi, front_desk):
    known = people.desk(front_desk, people.ADRUN)
    client = logged_in(front_desk)
    read = _scan(client, adrun_datamatrix())
    [row] = read.context["rows"]
    assert row["identity"].pk == known.pk and row["can_integrate"]

    client.post(reverse("documents:datamatrix_read"), {
        "action": "integrate", "payload": read.context["payload"], "identity_id": known.pk,
    }, secure=True)

    known.refresh_from_db()
    assert (known.status, known.ins_matricule) == (Status.RECUP, people.ADRUN_INS)


def test_when_insi_does_not_answer_nothing_is_created(insi, front_desk):
    insi.fail("ADRUN")
    client = logged_in(front_desk)

    page = _create(client, _scan(client, adrun_datamatrix()), verify=True)

    assert page.status_code == 400 and "a pas répondu" in page.content.decode()
    assert not Identity.objects.exists()
