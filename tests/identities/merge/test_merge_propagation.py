"""What receivers learn of a merge and an unmerge: the A40 over MLLP (read with the independent ``hl7`` parser), its order, FHIR links, CDA."""
from datetime import timedelta

import pytest
from django.utils import timezone
from fhir.resources.R4B.patient import Patient

from identities.core.models import Identity
from identities.interop import outbox
from identities.interop.models import OutboxMessage
from identities.merge import services as merge_services
from tests.identities.interop.conftest import loopback, make_receiver, token_for  # noqa: F401 - fixtures
from tests.identities.merge.conftest import prove

INS_AUTHORITY = "ASIP-SANTE-INS-NIR-TEST"


def committed():
    outbox.sweep(now=timezone.now() + timedelta(minutes=2))


def merged_pair(make_identity, civ_member, survivor_status, absorbed_status):
    survivor = make_identity(survivor_status)
    absorbed = make_identity(absorbed_status, birth_given_names="JEANNE")
    prove(civ_member, survivor, absorbed)
    done = merge_services.merge_request(actor=civ_member, first_id=survivor.pk, second_id=absorbed.pk)
    assert done.survivor_id == survivor.pk
    return Identity.objects.get(pk=survivor.pk), Identity.objects.get(pk=absorbed.pk), done


def identifiers(message, field: str) -> list[tuple[str, str]]:
    """(CX-1, CX-5) of every repetition of PID-3 or MRG-1."""
    segment, number = field.split("-")
    found = message.segment(segment)[int(number)]
    return [(str(rep[0]), str(rep[4])) for rep in found]


@pytest.mark.parametrize(("survivor_status", "ins_expected"), [("QUAL", True), ("RECUP", False)])
def test_the_merge_is_an_a40_naming_the_absorbed_record_in_mrg_1(survivor_status, ins_expected, make_receiver, loopback,
                                                                  make_identity, civ_member):
    receiver = make_receiver(loopback.port)
    survivor, absorbed, done = merged_pair(make_identity, civ_member, survivor_status, "PROV")
    committed()
    outbox.deliver(receiver.pk)
    a40 = [message for message in loopback.parsed() if str(message.segment("MSH")[9]) == "ADT^A40^ADT_A39"]
    assert len(a40) == 1
    (message,) = a40
    assert identifiers(message, "MRG-1") == [(str(absorbed.ipp), "PI")]
    pid3 = identifiers(message, "PID-3")
    assert pid3[0] == (str(survivor.ipp), "PI")
    assert ((survivor.ins_matricule, "INS") in pid3) is ins_expected
    if not ins_expected:
        assert survivor.ins_matricule not in loopback.received[-1]  # a RECUP survivor's matricule never leaves
        assert str(message.segment("PID")[32][0]) == "PROV"
    assert OutboxMessage.objects.get(trigger="A40").state == OutboxMessage.State.SENT


def test_the_a40_waits_behind_the_absorbed_records_earlier_messages(make_receiver, loopback, make_identity, civ_member):
    receiver = make_receiver(loopback.port)
    survivor = make_identity("PROV")
    absorbed = make_identity("PROV", birth_given_names="JEANNE")
    committed()
    loopback.answers = ["AA", "AR"]  # the absorbed record's A28 is rejected for now: it will be sent again
    prove(civ_member, survivor, absorbed)
    merge_services.merge_request(actor=civ_member, first_id=survivor.pk, second_id=absorbed.pk)
    committed()
    outbox.deliver(receiver.pk)
    assert [str(m.segment("MSH")[9]) for m in loopback.parsed()] == ["ADT^A28^ADT_A05", "ADT^A28^ADT_A05"]
    assert OutboxMessage.objects.get(trigger="A40").state == OutboxMessage.State.PENDING
    outbox.deliver(receiver.pk, now=lambda: timezone.now() + timedelta(minutes=5))
    sent = [(str(m.segment("MSH")[9]), str(m.segment("PID")[3][0][0])) for m in loopback.parsed()[2:]]
    assert sent == [("ADT^A28^ADT_A05", str(absorbed.ipp)), ("ADT^A40^ADT_A39", str(survivor.ipp))]


def test_the_unmerge_re_creates_the_restored_record_and_updates_the_survivor(make_receiver, loopback, make_identity, civ_member,
                                                                            civ_referent):
    receiver = make_receiver(loopback.port)
    survivor, absorbed, done = merged_pair(make_identity, civ_member, "PROV", "PROV")
    committed()
    outbox.deliver(receiver.pk)
    already = len(loopback.received)
    merge_services.unmerge(actor=civ_referent, merge_id=done.pk, reason="erreur de fusion")
    committed()
    outbox.deliver(receiver.pk)
    sent = [(str(m.segment("MSH")[9]), str(m.segment("PID")[3][0][0])) for m in loopback.parsed()[already:]]
    assert sorted(sent) == sorted([("ADT^A28^ADT_A05", str(absorbed.ipp)), ("ADT^A31^ADT_A05", str(survivor.ipp))])


@pytest.fixture
def api(client, token_for):  # noqa: F811 - the fixture imported above
    token = token_for("read")

    def call(path: str):
        return client.get(path, secure=True, HTTP_AUTHORIZATION=f"Bearer {token}")

    return call


def test_fhir_the_absorbed_patient_is_inactive_and_replaced_by_the_survivor_which_replaces_it(api, make_identity, civ_member):
    survivor, absorbed, _done = merged_pair(make_identity, civ_member, "QUAL", "PROV")
    gone = Patient.model_validate_json(api(f"/fhir/Patient/{absorbed.uuid}").content)
    assert gone.active is False
    assert [(link.type, link.other.reference) for link in gone.link] == [("replaced-by", f"Patient/{survivor.uuid}")]
    kept = Patient.model_validate_json(api(f"/fhir/Patient/{survivor.uuid}").content)
    assert kept.active is True and [(link.type, link.other.reference) for link in kept.link] == [("replaces", f"Patient/{absorbed.uuid}")]


def test_cda_producers_asking_for_the_absorbed_record_get_the_survivor(api, make_identity, civ_member):
    survivor, absorbed, _done = merged_pair(make_identity, civ_member, "QUAL", "PROV")
    fragment = api(f"/cda/Patient/{absorbed.uuid}/recordTarget").content.decode()
    assert str(survivor.ipp) in fragment and str(absorbed.ipp) not in fragment
    assert survivor.ins_matricule in fragment  # the survivor is qualified: its INS goes through the gate
