"""HL7 v2.5 PAM France 2.11.2 messages: every message the outbox can emit validated by hl7apy at its
STRICT level and read back with python-hl7 (independent parsers); the diffusion gate in PID-3, A47
withdrawals, PID-5, ZFD, ACKs, and received A28/A31."""
import re
from datetime import date, datetime, timedelta, timezone

import hl7
import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

from identities.core import matricule, services
from identities.core.diffusion import WithdrawnIns, shareable_ins
from identities.interop import hl7v2
from identities.interop.common import IDENTITY_DOCUMENTS, Evidence, MessageError, Trigger
from tests.identities.interop.conftest import CASES

MOMENT = datetime(2024, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=1)))
NIR, NIA = "1.2.250.1.213.1.4.8", "1.2.250.1.213.1.4.9"
OLD_NIR = WithdrawnIns("280056322099952", NIR, "ASIP-SANTE-INS-NIR")
PROFILE_FIELDS = {12: "2.5^FRA^2.11", 17: "FRA", 18: "UNICODE UTF-8", 19: "FR", 21: "2.11^IHE_FRANCE-2.11-PAM"}


def header(control_id="42") -> hl7v2.Header:
    return hl7v2.Header("INSPORTAL", "CHU-TEST", "SIH", "GHT", control_id, MOMENT)


def build(identity, authority, trigger=Trigger.A31, **kwargs) -> str:
    return hl7v2.build_message(
        trigger, identity, shareable_ins(identity), header=header(), authority=authority, event_at=MOMENT, **kwargs
    )


def strict(text: str):
    """hl7apy at its STRICT level (HL7 2.5 structure, data types, lengths, required fields); Z segments aside."""
    standard = "\r".join(segment for segment in text.split("\r") if not segment.startswith("Z"))
    message = parse_message(standard, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
    assert message.validate()
    # The fast path's text is exactly the structure hl7apy reads from it: nothing misplaced.
    assert message.to_er7() == standard
    return message


def repetitions(message, segment: str, field: int) -> list[str]:
    return [str(repetition) for repetition in message.segment(segment)[field]]


def ins_repetitions(message) -> list[str]:
    return [rep for rep in repetitions(message, "PID", 3) if rep.endswith("^INS")]


# --- Every message the outbox can emit, at hl7apy's STRICT level ---

USED_NAMES = {
    "no used name": ("", "", hl7v2.Erased()),
    "used name": ("DUPONT", "", hl7v2.Erased()),
    "used given name": ("", "JEANNOT", hl7v2.Erased()),
    "both": ("DUPONT", "JEANNOT", hl7v2.Erased()),
    "used name erased": ("", "", hl7v2.Erased(used_name=True)),
    "used given name erased": ("", "", hl7v2.Erased(used_given_name=True)),
    "both erased": ("", "", hl7v2.Erased(True, True)),
}


def emitted(identity, authority):
    """(kind, text) of every message the outbox can send for this identity: A28, A31, A40, the A47
    withdrawing an INS, and, when the identity shares an INS, the A47 replacing an old NIR."""
    ins = shareable_ins(identity)
    withdrawn = WithdrawnIns(identity.ins_matricule or OLD_NIR.matricule, identity.ins_oid or NIR, "")
    withdrawn = WithdrawnIns(withdrawn.matricule, withdrawn.oid, matricule.oid_info(withdrawn.oid).hl7_authority)
    for label, (used_name, used_given, erased) in USED_NAMES.items():
        identity.used_name, identity.used_given_name = used_name, used_given
        common = {"header": header(), "authority": authority, "event_at": MOMENT, "erased": erased,
                  "evidence": Evidence("appli-carte-vitale", None, MOMENT)}
        yield f"A28 {label}", hl7v2.build_message(Trigger.A28, identity, ins, **common)
        yield f"A31 {label}", hl7v2.build_message(Trigger.A31, identity, ins, **common)
        yield f"A40 {label}", hl7v2.build_message(Trigger.A40, identity, ins, merged_ipp="0f1e2d3c", **common)
        if ins is None:
            yield f"A47 removal {label}", hl7v2.build_message(Trigger.A47, identity, None, withdrawn=withdrawn, **common)
        else:
            yield f"A47 replacement {label}", hl7v2.build_message(Trigger.A47, identity, ins, withdrawn=OLD_NIR, **common)


@pytest.mark.parametrize("oid", [NIR, NIA], ids=["NIR", "NIA"])
@pytest.mark.parametrize("case", CASES)
def test_every_message_the_outbox_can_emit_is_valid_hl7_2_5_at_hl7apy_strict_level(case, oid, make_identity, authority):
    identity = make_identity(case)
    if identity.ins_oid:
        identity.ins_oid = oid  # the same identity holding a NIA (the builder is pure: nothing saved)
    kinds = []
    for kind, text in emitted(identity, authority):
        message = strict(text)
        msh = message.msh
        assert {number: getattr(msh, f"msh_{number}").to_er7() for number in PROFILE_FIELDS} == PROFILE_FIELDS, kind
        assert (msh.msh_9.to_er7().split("^")[1], "ZFD" in text) == (kind[:3], kind[:3] in ("A28", "A31")), kind
        kinds.append(kind)
    assert len(kinds) == len(USED_NAMES) * 4


@pytest.mark.parametrize(("code", "error"), [
    ("AA", None), ("AE", MessageError("PID-3", "clé | fausse ^ & ~ \\ du matricule")), ("AR", MessageError("message", "erreur", code="internal")),
])
def test_every_ack_is_valid_hl7_2_5_at_strict_level_and_declares_the_profile(code, error):
    text = hl7v2.build_ack(header=header("A1"), trigger="A28", acknowledged_id="77", code=code, text="réponse | ^", error=error)
    message = strict(text)
    assert {number: getattr(message.msh, f"msh_{number}").to_er7() for number in PROFILE_FIELDS} == PROFILE_FIELDS
    assert message.msa.msa_3.to_er7() == "réponse \\F\\ \\S\\"
    assert hl7.parse(text)["MSA.F3"] == "réponse | ^"  # escaped, and read back by an independent parser


def test_delimiters_in_text_values_are_escaped_and_read_back_as_written(make_identity, authority):
    identity = make_identity("PROV")
    identity.used_name = "O|B^R&I~E\\N"  # cannot come through the trait rules, but the builder must not break on it
    text = build(identity, authority)
    assert strict(text).pid.pid_5[1].xpn_1.fn_1.to_er7() == "O\\F\\B\\S\\R\\T\\I\\R\\E\\E\\N"
    assert hl7.parse(text)["PID.F5.R2.C1"] == "O|B^R&I~E\\N"


def test_a_delimiter_in_a_coded_value_is_refused_rather_than_escaped(make_identity, authority):
    identity = make_identity("PROV", birthplace_code="63220")
    identity.birthplace_code = "63^20"
    with pytest.raises(ValueError, match="PID-11"):
        build(identity, authority)


# --- The diffusion gate and the PAM France fields ---

@pytest.mark.parametrize("case", CASES)
def test_it_sends_the_matricule_only_for_a_qualified_identity_and_always_with_the_five_traits(case, make_identity, authority):
    identity = make_identity(case)
    text = build(identity, authority)
    message = hl7.parse(text)
    if case in ("QUAL", "QUAL+HOMA"):
        assert ins_repetitions(message) == [f"{identity.ins_matricule}^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS"]
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
    assert message["PID.F3.R1.C1"] == identity.ipp and re.fullmatch(r"IP[0-9]{8}", identity.ipp)  # the short IPP
    assert message["PID.F3.R1.C4.S2"] == authority.oid
    assert message["PID.F3.R1.C5"] == "PI"


@pytest.mark.parametrize(("oid", "namespace"), [
    (NIR, "ASIP-SANTE-INS-NIR"), (NIA, "ASIP-SANTE-INS-NIA"),
    ("1.2.250.1.213.1.4.10", "ASIP-SANTE-INS-NIR"), ("1.2.250.1.213.1.4.11", "ASIP-SANTE-INS-NIR"),
])
def test_the_ins_authority_is_named_as_ans_publishes_it_within_hd1_length(oid, namespace, make_identity, authority):
    identity = make_identity("QUAL")
    identity.ins_oid = oid
    message = strict(build(identity, authority))
    assert ins_repetitions(hl7.parse(build(identity, authority))) == [f"{identity.ins_matricule}^^^{namespace}&{oid}&ISO^INS"]
    assert message.pid.pid_3[1].cx_4.hd_1.to_er7() == namespace


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


@pytest.mark.parametrize(("used_name", "used_given", "erased", "expected"), [
    ("DUPONT", "JEANPI", hl7v2.Erased(), ["MARTIN^JEAN-PIERRE^JEAN-PIERRE MARIE^^^^L", "DUPONT^JEANPI^^^^^D"]),
    ("DUPONT", "", hl7v2.Erased(), ["MARTIN^JEAN-PIERRE^JEAN-PIERRE MARIE^^^^L", "DUPONT^JEAN-PIERRE^^^^^D"]),
    ("", "JEANPI", hl7v2.Erased(), ["MARTIN^JEAN-PIERRE^JEAN-PIERRE MARIE^^^^L", "^JEANPI^^^^^D"]),
    ("", "", hl7v2.Erased(), ["MARTIN^JEAN-PIERRE^JEAN-PIERRE MARIE^^^^L"]),
    ("", "", hl7v2.Erased(used_name=True), ["MARTIN^JEAN-PIERRE^JEAN-PIERRE MARIE^^^^L", '""^JEAN-PIERRE^^^^^D']),
    ("", "", hl7v2.Erased(used_given_name=True), ["MARTIN^JEAN-PIERRE^JEAN-PIERRE MARIE^^^^L", '^""^^^^^D']),
    ("DUPONT", "", hl7v2.Erased(used_given_name=True), ["MARTIN^JEAN-PIERRE^JEAN-PIERRE MARIE^^^^L", "DUPONT^JEAN-PIERRE^^^^^D"]),
], ids=["both", "used name", "used given name only", "none: no D", "used name erased", "used given name erased", "given erased, name kept"])
def test_pid_5_sends_a_used_name_only_when_defined_and_erases_one_with_the_hl7_null(used_name, used_given, erased, expected, make_identity, authority):
    identity = make_identity("VALI", birth_given_names="JEAN-PIERRE MARIE", used_name=used_name, used_given_name=used_given)
    message = hl7.parse(build(identity, authority, erased=erased))
    assert repetitions(message, "PID", 5) == expected


def test_msh_and_the_event_follow_pam_france(make_identity, authority):
    message = hl7.parse(build(make_identity("PROV"), authority, trigger=Trigger.A28))
    msh = message.segment("MSH")
    assert str(msh[9]) == "ADT^A28^ADT_A05"
    assert str(msh[10]) == "42"
    assert (str(msh[12]), str(msh[17]), str(msh[18]), str(msh[19]), str(msh[21])) == (
        "2.5^FRA^2.11", "FRA", "UNICODE UTF-8", "FR", "2.11^IHE_FRANCE-2.11-PAM")
    assert (str(msh[3]), str(msh[5])) == ("INSPORTAL", "SIH")
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


@pytest.mark.parametrize(("document", "companion", "code"), [
    ("passeport", "", "PA"), ("cni", "", "CN"), ("titre-sejour", "", "CS"), ("eidas", "", "IE"), ("appli-carte-vitale", "", "AV"),
    ("extrait-naissance", "", "AN"), ("extrait-naissance", "carte-vitale-photo", "AC"), ("livret-famille", "", "LE"),
    ("permis-conduire", "", "PC"), ("carte-militaire", "", "CM"), ("carnet-circulation", "", "CC"), ("carte-europeenne", "", "CE"),
    ("tiers-confiance", "", "TC"), ("document-circulation-mineur", "", "DC"), ("tc", "", "TC"), ("carte-de-la-cantine", "", ""),
])
def test_zfd_7_codes_every_document_of_table_ihe_france_zfd_7(document, companion, code, make_identity, authority):
    assert zfd(build(make_identity("VALI"), authority, evidence=Evidence(document, None, MOMENT, companion)))[7] == code


def test_the_document_table_is_table_ihe_france_zfd_7_whole():
    assert set(IDENTITY_DOCUMENTS) == {"AN", "CC", "CE", "CM", "CN", "CS", "LE", "PA", "PC", "TC", "AV", "DC", "AC", "IE"}


def zfd(text: str) -> list[str]:
    """ZFD's fields by number (index 0 is the segment name), however many trailing ones are left out."""
    line = next(segment for segment in text.split("\r") if segment.startswith("ZFD"))
    return (line.split("|") + [""] * 9)[:9]


def test_a_partial_birth_date_keeps_its_precision_and_zfd_1_stays_the_lunar_date(make_identity, authority):
    text = build(make_identity("PROV", birth_date="1950-05-00"), authority)
    assert hl7.parse(text)["PID.F7"] == "195005"
    assert zfd(text)[1] == ""  # §6.18.1: weeks 31-35 of a month, not a carrier for 00


def test_the_appli_carte_vitale_channel_has_no_zfd_5_code(make_identity, authority):
    identity = make_identity("PROV")
    identity.channel = "AV"
    assert zfd(build(identity, authority))[5] == ""


def test_an_a47_removing_an_ins_carries_it_in_mrg_and_the_hl7_null_with_its_authority_in_pid_3(make_identity, authority):
    identity = make_identity("DOUT")  # was qualified: its INS was invalidated
    withdrawn = WithdrawnIns("280056322010012", NIR, "ASIP-SANTE-INS-NIR")
    text = build(identity, authority, trigger=Trigger.A47, withdrawn=withdrawn)
    message = hl7.parse(text)
    assert str(message.segment("MSH")[9]) == "ADT^A47^ADT_A30"
    assert repetitions(message, "PID", 3) == [
        f"{identity.ipp}^^^{authority.namespace}&{authority.oid}&ISO^PI", '""^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS']
    assert repetitions(message, "MRG", 1) == ["280056322010012^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS"]
    assert repetitions(message, "PID", 32) == ["PROV", "DOUT"]
    assert text.count("280056322010012") == 1 and "ZFD" not in text


def test_an_a47_replacing_a_nir_carries_the_old_one_in_mrg_and_the_new_one_in_pid_3(make_identity, authority):
    identity = make_identity("QUAL")
    message = hl7.parse(build(identity, authority, trigger=Trigger.A47, withdrawn=OLD_NIR))
    assert ins_repetitions(message) == [f"{identity.ins_matricule}^^^ASIP-SANTE-INS-NIR&{NIR}&ISO^INS"]
    assert repetitions(message, "MRG", 1) == [f"{OLD_NIR.matricule}^^^ASIP-SANTE-INS-NIR&{NIR}&ISO^INS"]


def test_a40_carries_the_merged_record_in_mrg_and_the_survivor_in_pid_3(make_identity, authority):
    survivor = make_identity("QUAL")
    text = build(survivor, authority, trigger=Trigger.A40, merged_ipp="merged-record")
    message = hl7.parse(text)
    assert str(message.segment("MSH")[9]) == "ADT^A40^ADT_A39"
    assert repetitions(message, "MRG", 1) == [f"merged-record^^^{authority.namespace}&{authority.oid}&ISO^PI"]
    assert message["PID.F3.R1.C1"] == str(survivor.ipp) and len(ins_repetitions(message)) == 1
    assert "ZFD" not in text


def test_only_a40_takes_a_merged_record_and_only_a47_a_withdrawn_ins(make_identity, authority):
    with pytest.raises(ValueError):
        build(make_identity("PROV"), authority, trigger=Trigger.A31, merged_ipp="other")
    with pytest.raises(ValueError):
        build(make_identity("PROV"), authority, trigger=Trigger.A31, withdrawn=OLD_NIR)
    with pytest.raises(ValueError):
        build(make_identity("PROV"), authority, trigger=Trigger.A47)


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


@pytest.mark.parametrize(("pid32", "declared"), [
    ("VALI", "QUAL"), ("HOMA~VALI", "QUAL"), ("PROV", "PROV"), ("", "PROV"), ("VALI~DOUT", "PROV"), ("PROV~FICT", "PROV"),
], ids=["VALI", "VALI not first", "PROV", "absent", "VALI with DOUT", "FICT"])
def test_pid_32_decides_whether_the_received_ins_counts(pid32, declared):
    text = RECEIVED.format(names="DUBOIS^ANNE^^^^^L").replace("|VALI\r", f"|{pid32}\r")
    assert hl7v2.read_patient_message(text).identity.declared_status == declared


@pytest.mark.parametrize("code", ["QUAL", "RECUP", "XYZ"])
def test_a_pid_32_code_outside_table_0445_is_refused_naming_pid_32(code):
    with pytest.raises(MessageError) as refused:
        hl7v2.read_patient_message(RECEIVED.format(names="DUBOIS^ANNE^^^^^L").replace("|VALI\r", f"|{code}\r"))
    assert (refused.value.location, refused.value.code) == ("PID-32", "table")


# --- PAM France §6.6.4: a corrected birth date keeps the INS home ---

def corrected(identity, actor):
    """The user ticks "date corrigée ou complétée" (INS guide rules 9 and 10) on the identity."""
    services.identity_update_traits(actor=actor, identity_id=identity.pk, expected_version=identity.version, birth_date_corrected=True)
    identity.refresh_from_db()
    return identity


@pytest.mark.parametrize(("case", "announced"), [
    ("QUAL", ["VALI"]), ("QUAL+HOMA", ["VALI", "HOMA"]), ("RECUP", ["PROV"]), ("VALI", ["VALI"]), ("PROV", ["PROV"]),
])
@pytest.mark.parametrize("oid", [NIR, NIA], ids=["NIR", "NIA"])
def test_a_corrected_birth_date_sends_no_matricule_and_neither_recup_nor_qual_in_any_message(
    case, announced, oid, make_identity, authority, front_desk,
):
    identity = corrected(make_identity(case), front_desk)
    if identity.ins_oid:
        identity.ins_oid = oid
    assert shareable_ins(identity) is None
    kinds = []
    for kind, text in emitted(identity, authority):
        strict(text)
        message = hl7.parse(text)
        # No matricule in PID-3; an A47 withdraws the INS a receiver held (MRG-1) with "" in PID-3.
        assert [rep.split("^")[0] for rep in ins_repetitions(message)] == (['""'] if kind.startswith("A47") else []), kind
        if identity.ins_matricule and not kind.startswith("A47"):
            assert identity.ins_matricule not in text, kind
        assert repetitions(message, "PID", 32) == announced, kind
        if kind[:3] in ("A28", "A31"):
            assert zfd(text)[4] == "Y", kind
        kinds.append(kind)
    assert len(kinds) == len(USED_NAMES) * 4
