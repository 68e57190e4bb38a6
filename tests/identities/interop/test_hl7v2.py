"""HL7 v2.5 PAM-FR messages, read back with python-hl7 (an independent parser): the diffusion gate in PID-3, the PAM-FR fields, ACKs and received A28/A31."""
from datetime import date, datetime, timedelta, timezone

import hl7
import pytest

from identities.core.diffusion import shareable_ins
from identities.interop import hl7v2
from identities.interop.common import Evidence, MessageError, Trigger
from tests.identities.interop.conftest import CASES

MOMENT = datetime(2024, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=1)))


def header(control_id="42") -> hl7v2.Header:
    return hl7v2.Header("INSPORTAL", "CHU-TEST", "SIH", "GHT", control_id, MOMENT)


def build(identity, authority, trigger=Trigger.A31, **kwargs) -> str:
    return hl7v2.build_message(
        trigger, identity, shareable_ins(identity), header=header(), authority=authority, event_at=MOMENT, **kwargs
    )


def repetitions(message, segment: str, field: int) -> list[str]:
    return [str(repetition) for repetition in message.segment(segment)[field]]


def ins_repetitions(message) -> list[str]:
    return [rep for rep in repetitions(message, "PID", 3) if rep.endswith("^INS")]


@pytest.mark.parametrize("case", CASES)
def test_it_sends_the_matricule_only_for_a_qualified_identity_and_always_with_the_five_traits(case, make_identity, authority):
    identity = make_identity(case)
    text = build(identity, authority)
    message = hl7.parse(text)
    if case in ("QUAL", "QUAL+HOMA"):
        assert ins_repetitions(message) == [f"{identity.ins_matricule}^^^ASIP-SANTE-INS-NIR-TEST&1.2.250.1.213.1.4.10&ISO^INS"]
        assert message["PID.F5.R1.C1"] == identity.birth_name
        assert message["PID.F5.R1.C3"] == identity.birth_given_names
        assert message["PID.F7"] == identity.birth_date.replace("-", "")
        assert message["PID.F8"] == identity.sex
        assert message["PID.F11.R1.C9"] == identity.birthplace_code
    else:
        assert ins_repetitions(message) == []
        assert "1.2.250.1.213.1.4" not in text
        # A recovered identity holds a matricule: it must not leak anywhere in the message.
        if identity.ins_matricule:
            assert identity.ins_matricule not in text
    assert message["PID.F3.R1.C1"] == str(identity.ipp)
    assert message["PID.F3.R1.C4.S2"] == authority.oid
    assert message["PID.F3.R1.C5"] == "PI"


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("PROV", ["PROV"]), ("RECUP", ["PROV"]), ("VALI", ["VALI"]), ("QUAL", ["VALI"]),
        ("QUAL+HOMA", ["VALI", "HOMA"]), ("RECUP+HOMA", ["PROV", "HOMA"]), ("DOUT", ["PROV", "DOUT"]),
        ("DOUT+HOMA", ["PROV", "DOUT", "HOMA"]), ("FICT", ["PROV", "FICT"]),
    ],
)
def test_pid_32_gives_receivers_prov_or_vali_then_the_attributes(case, expected, make_identity, authority):
    message = hl7.parse(build(make_identity(case), authority))
    assert repetitions(message, "PID", 32) == expected


def test_the_names_travel_as_a_birth_name_with_its_given_names_and_a_used_name(make_identity, authority):
    identity = make_identity("VALI", birth_given_names="JEAN-PIERRE MARIE", used_name="DUPONT", used_given_name="JEANPI")
    message = hl7.parse(build(identity, authority))
    birth, used = repetitions(message, "PID", 5)
    assert birth == "MARTIN^JEAN-PIERRE^JEAN-PIERRE MARIE^^^^L"
    assert used == "DUPONT^JEANPI^^^^^D"


def test_without_a_used_name_the_used_name_is_the_birth_name(make_identity, authority):
    message = hl7.parse(build(make_identity("PROV"), authority))
    assert repetitions(message, "PID", 5)[1] == "MARTIN^JEANNE^^^^^D"


def test_msh_and_the_event_follow_pam_france(make_identity, authority):
    message = hl7.parse(build(make_identity("PROV"), authority, trigger=Trigger.A28))
    msh = message.segment("MSH")
    assert str(msh[9]) == "ADT^A28^ADT_A05"
    assert str(msh[10]) == "42"
    assert str(msh[12]) == "2.5^FRA^2.11"
    assert (str(msh[3]), str(msh[5])) == ("INSPORTAL", "SIH")
    assert str(msh[18]) == "UNICODE UTF-8"
    assert message["EVN.F2"] == "20240301093000+0100"
    assert message["PV1.F2"] == "N"


def test_zfd_carries_the_channel_the_insi_date_and_the_validating_document(make_identity, authority):
    identity = make_identity("QUAL")
    evidence = Evidence("passeport", date(2031, 5, 2), MOMENT)
    message = hl7.parse(build(identity, authority, evidence=evidence))
    assert message["ZFD.F4"] == "N"
    assert message["ZFD.F5"] == "SM"
    assert message["ZFD.F6"] == identity.last_insi_call_at.astimezone(MOMENT.tzinfo).strftime("%Y%m%d")
    assert (message["ZFD.F7"], message["ZFD.F8"]) == ("PA", "20310502")


def test_a_partial_birth_date_keeps_its_precision_and_its_lunar_form(make_identity, authority):
    message = hl7.parse(build(make_identity("PROV", birth_date="1950-05-00"), authority))
    assert message["PID.F7"] == "195005"
    assert str(message.segment("ZFD")[1]) == "00^05^1950"


def test_a47_names_the_patient_by_its_permanent_identifier_never_by_a_withdrawn_matricule(make_identity, authority, civ_member):
    identity = make_identity("DOUT")  # was qualified: its INS was invalidated
    text = build(identity, authority, trigger=Trigger.A47)
    message = hl7.parse(text)
    assert str(message.segment("MSH")[9]) == "ADT^A47^ADT_A30"
    assert message["MRG.F1.R1.C1"] == str(identity.ipp)
    assert ins_repetitions(message) == []
    assert "1.2.250.1.213.1.4" not in text


def test_a40_carries_the_merged_record_in_mrg(make_identity, authority):
    survivor = make_identity("QUAL")
    message = hl7.parse(build(survivor, authority, trigger=Trigger.A40, merged_ipp="merged-record"))
    assert str(message.segment("MSH")[9]) == "ADT^A40^ADT_A39"
    assert message["MRG.F1.R1.C1"] == "merged-record"
    assert len(ins_repetitions(message)) == 1


def test_only_a40_takes_a_merged_record(make_identity, authority):
    with pytest.raises(ValueError):
        build(make_identity("PROV"), authority, trigger=Trigger.A31, merged_ipp="other")


def test_a_negative_ack_names_the_field_and_the_problem():
    error = MessageError("PID-5", "nom de naissance absent", code="required")
    text = hl7v2.build_ack(header=header("A1"), trigger="A28", acknowledged_id="77", code="AE", text=error.message, error=error)
    ack = hl7.parse(text)
    assert str(ack.segment("MSH")[9]) == "ACK^A28^ACK"
    assert (ack["MSA.F1"], ack["MSA.F2"]) == ("AE", "77")
    assert (ack["ERR.F2.R1.C1"], ack["ERR.F2.R1.C3"]) == ("PID", "5")
    assert ack["ERR.F3.R1.C1"] == "101"
    assert ack["ERR.F8"] == "nom de naissance absent"
    assert hl7v2.read_ack(text) == hl7v2.Ack(code="AE", control_id="77", text="nom de naissance absent")


def test_it_refuses_an_answer_that_is_not_an_ack():
    with pytest.raises(MessageError) as refused:
        hl7v2.read_ack("MSH|^~\\&|X||||20240101||ADT^A01|1|P|2.5")
    assert refused.value.location == "MSA"


# --- Received A28/A31 ---

def test_a_message_of_ours_reads_back_with_the_status_the_sender_meant(make_identity, authority):
    qualified = make_identity("QUAL", used_name="DUPONT")
    received = hl7v2.read_patient_message(build(qualified, authority, trigger=Trigger.A28)).identity
    assert received.declared_status == "QUAL"
    assert received.ins.matricule == qualified.ins_matricule and received.ins.oid == qualified.ins_oid
    assert (received.birth_name, received.birth_given_names, received.first_birth_given_name) == ("MARTIN", "JEANNE MARIE", "JEANNE")
    assert (received.birth_date, received.sex, received.birthplace_code) == ("1980-05-17", "F", "63220")
    assert (received.used_name, received.sender_patient_id) == ("DUPONT", str(qualified.ipp))
    assert hl7v2.read_patient_message(build(make_identity("VALI"), authority)).identity.declared_status == "VALI"
    assert hl7v2.read_patient_message(build(make_identity("RECUP"), authority)).identity.declared_status == "PROV"


RECEIVED = (
    "MSH|^~\\&|DPI|GHT-B|INSPORTAL|CHU|20240301093000||ADT^A28^ADT_A05|M1|P|2.5^FRA^2.11|||||FRA|UNICODE UTF-8\r"
    "EVN||20240301093000\r"
    "PID|||P77^^^DPI&1.2.3.4&ISO^PI~279035121518989^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS||"
    "{names}||19790315|F|||^^^^^^BDL^^63220|||||||||||||||||||||VALI\r"
    "PV1||N\r"
    "ZFD|||N|N|INSI"
)


def test_a_received_a28_is_read_into_plain_data():
    message = hl7v2.read_patient_message(RECEIVED.format(names="DUBOIS^ANNE^ANNE LISE^^^^L"))
    assert message.header == hl7v2.ReceivedHeader(control_id="M1", trigger="A28", sending_application="DPI", sending_facility="GHT-B")
    assert message.identity.ins.matricule == "279035121518989"
    assert message.identity.declared_status == "QUAL"
    assert message.identity.birth_date == "1979-03-15"


@pytest.mark.parametrize(
    ("text", "location"),
    [
        (RECEIVED.format(names="DUBOIS^ANNE^^^^^D"), "PID-5"),
        (RECEIVED.format(names="DUBOIS^ANNE^^^^^L").replace("|19790315|", "|1979031|"), "PID-7"),
        (RECEIVED.format(names="DUBOIS^ANNE^^^^^L").replace("|F|||", "|X|||"), "PID-8"),
        (RECEIVED.format(names="DUBOIS^ANNE^^^^^L").replace("ADT^A28^ADT_A05", "ADT^A01^ADT_A01"), "MSH-9"),
        (RECEIVED.format(names="DUBOIS^ANNE^^^^^L").replace("&1.2.250.1.213.1.4.8&", "&1.2.3&"), "PID-3"),
        ("PID|||P77", "MSH"),
        ("MSH|^~\\&|DPI|GHT-B|INSPORTAL|CHU|20240301093000||ADT^A28^ADT_A05|M1|P|2.5\rEVN||20240301\rPV1||N", "message"),
    ],
)
def test_it_refuses_a_malformed_message_naming_where(text, location):
    with pytest.raises(MessageError) as refused:
        hl7v2.read_patient_message(text)
    assert refused.value.location == location
    assert refused.value.message


def test_a_passport_check_is_evidence_coded_pa(make_identity):
    identity = make_identity("VALI")
    assert Evidence.of(identity.document_checks.get()).official_code == "PA"
