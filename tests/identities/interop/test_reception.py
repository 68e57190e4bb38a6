"""Identities received from another domain over HL7 (MLLP) and FHIR: the INS kept only when qualified there, verified before integration; malformed messages refused, stored, and changing nothing."""
import json
import select
import signal

import hl7
import pytest

from identities.core.models import Identity, InsMatricule, Status, WorklistItem
from identities.interop import reception
from identities.interop.mllp import MllpClient
from identities.interop.models import InboundMessage, OutboxMessage
from identities.workflows.ins_integration import ReceivedVerdict
from tests import factories, processes
from tests.identities.interop.conftest import free_port
from tests.identities.workflows.conftest import insi, switchboard  # noqa: F401  (the INSi simulator fixtures)

INS = "279035121518989"  # valid key
TEST_OID = "1.2.250.1.213.1.4.10"  # a test feed: accepted in the test environment, refused in production


def a28(*, status="VALI", ins=INS, oid=TEST_OID, names="DUBOIS^ANNE^ANNE LISE^^^^L~DUBOIS^ANNE^^^^^D", patient="P77", event="A28",
        control="M1", birth="19790315") -> bytes:
    identifiers = f"{patient}^^^DPI&1.2.3.4&ISO^PI" + (f"~{ins}^^^ASIP-SANTE-INS-NIR&{oid}&ISO^INS" if ins else "")
    return (
        f"MSH|^~\\&|DPI|GHT-B|INSPORTAL|CHU|20240301093000||ADT^{event}^ADT_A05|{control}|P|2.5^FRA^2.11|||||FRA|UNICODE UTF-8\r"
        "EVN||20240301093000\r"
        f"PID|||{identifiers}||{names}||{birth}|F|||^^^^^^BDL^^63220|||||||||||||||||||||{status}\r"
        "PV1||N\r"
        "ZFD|||N|N|INSI"
    ).encode()


def confirmed(received):
    return ReceivedVerdict(verified=True, exchange_id=None)


def denied(received):
    return ReceivedVerdict(verified=False, exchange_id=None, message="INS non confirmé par INSi")


def silent(received):
    return ReceivedVerdict(verified=None, exchange_id=None, message="délai dépassé")


def answered(raw: bytes, **kwargs):
    ack = hl7.parse(reception.receive_hl7(raw, **kwargs).decode())
    return ack["MSA.F1"], ack


@pytest.fixture
def setup(db, birthplaces):
    """The system account exists (post-migrate) and the COG codes are loaded."""


def test_a_qualified_identity_with_an_ins_confirmed_by_insi_is_integrated_as_recovered(setup):
    code, ack = answered(a28(), verify=confirmed)
    identity = Identity.objects.get()
    assert code == "AA" and ack["MSA.F2"] == "M1"
    assert (identity.status, identity.ins_matricule, identity.ins_oid) == (Status.RECUP, INS, TEST_OID)
    assert InsMatricule.objects.get(identity=identity).source == InsMatricule.Source.THIRD_PARTY
    message = InboundMessage.objects.get()
    assert (message.state, message.ins_outcome, message.identity, message.sender_patient_id) == ("ACCEPTED", "VERIFIED", identity, "P77")


def test_an_ins_denied_by_insi_leaves_the_traits_only_and_alerts_the_civ(setup):
    code, _ = answered(a28(), verify=denied)
    identity = Identity.objects.get()
    assert code == "AA"
    assert (identity.status, identity.ins_matricule, identity.birth_name) == (Status.PROV, None, "DUBOIS")
    assert InboundMessage.objects.get().ins_outcome == "KO"
    (item,) = WorklistItem.objects.filter(identity=identity)
    assert item.kind == WorklistItem.Kind.INSI_VERIFICATION and "non confirmé par INSi" in item.reason


@pytest.mark.parametrize("verify", [None, silent], ids=["no verifier", "no answer from INSi"])
def test_an_unverified_ins_waits_and_is_never_integrated(verify, setup):
    answered(a28(), verify=verify)
    identity = Identity.objects.get()
    message = InboundMessage.objects.get()
    assert (identity.status, identity.ins_matricule) == (Status.PROV, None)
    assert (message.ins_outcome, message.pending_matricule, message.pending_oid) == ("PENDING", INS, TEST_OID)


def test_the_verifier_is_given_the_received_ins_with_the_normalised_traits(setup):
    asked = []
    answered(a28(names="Dubois^Anne^Anne Lise^^^^L"), verify=lambda received: asked.append(received) or confirmed(received))
    (received,) = asked
    assert (received.matricule, received.oid) == (INS, TEST_OID)
    assert (received.birth_name, received.birth_given_names, received.birth_date) == ("DUBOIS", "ANNE LISE", "1979-03-15")
    assert received.identity_id == Identity.objects.get().pk


@pytest.mark.parametrize("status", ["PROV", ""])
def test_an_ins_received_without_vali_is_dropped(status, setup):
    calls = []
    code, _ = answered(a28(status=status), verify=lambda received: calls.append(received) or confirmed(received))
    identity = Identity.objects.get()
    message = InboundMessage.objects.get()
    assert code == "AA" and calls == []
    assert (identity.status, identity.ins_matricule) == (Status.PROV, None)
    assert (message.ins_outcome, message.pending_matricule) == ("DROPPED", "")


def test_the_used_name_repeated_as_pam_fr_d_name_is_not_stored_as_a_used_name(setup):
    answered(a28(ins=""))
    assert Identity.objects.get().used_name == ""


def test_a_person_already_known_here_is_left_to_the_civ(front_desk, setup):
    known = factories.identity(front_desk, birth_name="DUBOIS", birth_given_names="ANNE", birth_date="1979-03-15")
    code, _ = answered(a28(), verify=confirmed)
    message = InboundMessage.objects.get()
    assert code == "AA"
    assert list(Identity.objects.all()) == [known]
    assert (message.state, message.identity, message.ins_outcome) == ("REVIEW", None, "PENDING")


def test_an_update_of_a_patient_received_before_changes_nothing_and_goes_to_the_civ(setup):
    answered(a28(ins=""))
    code, _ = answered(a28(event="A31", control="M2", names="DUBOIS^ANNE^ANNE LISE^^^^L~MARTIN^ANNE^^^^^D", ins=""))
    identity = Identity.objects.get()
    update = InboundMessage.objects.get(control_id="M2")
    assert code == "AA" and identity.used_name == ""
    assert (update.state, update.identity) == ("REVIEW", identity)


@pytest.mark.parametrize(
    ("raw", "code", "location"),
    [
        (a28(names="DUBOIS^ANNE^^^^^D"), "AE", ("PID", "5")),
        (a28(birth="19791315"), "AE", ("PID", "7")),
        (a28(names="DUB0IS^ANNE^^^^^L"), "AE", ("PID", "5")),
        (a28(ins="279035121518"), "AE", ("PID", "3")),
        (a28(event="A01"), "AR", ("MSH", "9")),
        (b"EVN||20240301\rPID|||1", "AE", ("MSH", None)),
    ],
)
def test_a_malformed_message_is_refused_naming_the_problem_stored_and_changes_nothing(raw, code, location, setup):
    answer, ack = answered(raw, verify=confirmed)
    assert answer == code
    segment, field = location
    assert ack["ERR.F2.R1.C1"] == segment
    if field:
        assert ack["ERR.F2.R1.C3"] == field
    assert ack["ERR.F8"]
    assert Identity.objects.count() == 0 and OutboxMessage.objects.count() == 0
    stored = InboundMessage.objects.get()
    assert stored.state == "REJECTED" and stored.error == ack["ERR.F8"]
    assert stored.payload == raw.decode()


def test_an_iso_8859_1_message_is_read_as_announced(setup):
    raw = a28(ins="", names="DUBOIS^AN\u00cbS^^^^^L").decode().replace("UNICODE UTF-8", "8859/1").encode("latin-1")
    answered(raw)
    assert Identity.objects.get().first_birth_given_name == "ANES"


def test_the_mllp_listen_command_acknowledges_each_message_and_stops_cleanly_on_ctrl_c(transactional_db, birthplaces):
    port = free_port()
    listener = processes.start(["manage.py", "mllp_listen", "--host", "127.0.0.1", "--port", str(port)])
    try:
        assert select.select([listener.stdout], [], [], 30)[0], "the listener said nothing within 30 s"
        assert f"Écoute MLLP sur 127.0.0.1:{port}" in listener.stdout.readline().decode()
        with MllpClient("127.0.0.1", port, timeout=10) as client:
            first = hl7.parse(client.exchange(a28(ins="")).decode())
            second = hl7.parse(client.exchange(a28(names="NOPE")).decode())
    finally:
        code = processes.stop(listener, signal.SIGINT)
    assert (first["MSA.F1"], second["MSA.F1"]) == ("AA", "AE")
    assert Identity.objects.get().birth_name == "DUBOIS"
    assert code == 0


# --- FHIR import (the channel's function; the endpoint is tested with the API) ---

def patient(**changes) -> bytes:
    data = {
        "resourceType": "Patient",
        "identifier": [{"system": f"urn:oid:{TEST_OID}", "value": INS, "use": "official"}],
        "extension": [{"url": "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-identity-reliability",
                       "extension": [{"url": "identityStatus", "valueCoding": {"code": "VALI"}}]}],
        "name": [{"use": "official", "family": "DUBOIS", "given": ["ANNE"]}],
        "gender": "female",
        "birthDate": "1979-03-15",
    } | changes
    return json.dumps(data).encode()


def test_a_fhir_patient_qualified_by_its_sender_is_verified_then_integrated(setup):
    answer = reception.receive_fhir_patient(patient(), client_name="DPI", verify=confirmed)
    identity = Identity.objects.get()
    assert answer.status == 201 and answer.location == f"Patient/{identity.uuid}"
    assert answer.body["issue"][0]["severity"] == "information"
    assert (identity.status, identity.ins_matricule) == (Status.RECUP, INS)
    assert InboundMessage.objects.get().source == "FHIR DPI"


def test_a_fhir_patient_not_qualified_by_its_sender_loses_its_ins(setup):
    reliability = [{"url": "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-identity-reliability",
                    "extension": [{"url": "identityStatus", "valueCoding": {"code": "PROV"}}]}]
    reception.receive_fhir_patient(patient(extension=reliability), client_name="DPI", verify=confirmed)
    assert Identity.objects.get().ins_matricule is None
    assert InboundMessage.objects.get().ins_outcome == "DROPPED"


@pytest.mark.parametrize("code", ["QUAL", "RECUP"])
def test_a_status_outside_fr_core_2_2_0_table_0445_is_refused_naming_identity_status(code, setup):
    """FR Core 2.2.0 codes identityStatus from fr-core-cs-v2-0445 (PROV, VALI…): QUAL and RECUP are later sources' codes."""
    reliability = [{"url": "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-identity-reliability",
                    "extension": [{"url": "identityStatus", "valueCoding": {"code": code}}]}]
    answer = reception.receive_fhir_patient(patient(extension=reliability), client_name="DPI", verify=confirmed)
    assert answer.status == 400
    assert answer.body["issue"][0]["expression"] == ["Patient.extension:identityReliability.identityStatus"]
    assert Identity.objects.count() == 0


def test_a_malformed_fhir_patient_gets_an_operation_outcome_naming_the_element(setup):
    answer = reception.receive_fhir_patient(patient(birthDate="15/03/1979"), client_name="DPI", verify=confirmed)
    issue = answer.body["issue"][0]
    assert answer.status == 400 and issue["severity"] == "error"
    assert issue["expression"] == ["Patient.birthDate"]
    assert Identity.objects.count() == 0
    assert InboundMessage.objects.get().state == "REJECTED"


def test_a_body_that_is_not_json_is_refused_and_stored(setup):
    answer = reception.receive_fhir_patient(b"<Patient/>", client_name="DPI")
    assert answer.status == 400 and "JSON" in answer.body["issue"][0]["diagnostics"]
    assert InboundMessage.objects.get().payload == "<Patient/>"


# --- With the INSi workflows' hook, against the INSi simulator over HTTP ---


@pytest.mark.parametrize(("matricule", "status", "integrated"), [("275126322074974", Status.RECUP, True), ("275126322075073", Status.PROV, False)])
def test_the_configured_hook_checks_a_received_ins_with_insi(matricule, status, integrated, insi, setup):
    # The sender holds the OID INSi gave it (.4.8, the qualification platform included).
    raw = a28(ins=matricule, oid="1.2.250.1.213.1.4.8", names="ADRUN^ZOE^ZOE^^^^L", birth="19751231")
    code, _ = answered(raw, verify=reception.configured_verifier())
    identity = Identity.objects.get()
    assert code == "AA"
    assert (identity.status, identity.ins_matricule == matricule) == (status, integrated)
    assert WorklistItem.objects.filter(identity=identity, kind=WorklistItem.Kind.INSI_VERIFICATION).exists() is not integrated


@pytest.mark.parametrize("status", ["VALI", "PROV"])
def test_a_received_matricule_with_a_wrong_key_is_refused_naming_pid_3_and_never_sent_to_insi(status, insi, setup):
    from insi.models import Exchange

    raw = a28(status=status, ins="275126322074923", oid="1.2.250.1.213.1.4.8", names="ADRUN^ZOE^ZOE^^^^L", birth="19751231")
    code, ack = answered(raw, verify=reception.configured_verifier())
    assert code == "AE"
    assert (ack["ERR.F2.R1.C1"], ack["ERR.F2.R1.C3"]) == ("PID", "3")
    assert "clé" in ack["ERR.F8"]
    assert not Identity.objects.exists() and not Exchange.objects.exists()
    assert InboundMessage.objects.get().error_location == "PID-3"


def test_a_test_oid_is_taken_from_a_feed_in_test_and_refused_in_production(setup, settings):
    assert answered(a28(oid="1.2.250.1.213.1.4.10"), verify=confirmed)[0] == "AA"
    settings.INS_ENVIRONMENT = "production"
    code, ack = answered(a28(oid="1.2.250.1.213.1.4.10", patient="P78"), verify=confirmed)
    assert code == "AE" and ack["ERR.F2.R1.C3"] == "3" and "production" in ack["ERR.F8"]


@pytest.mark.parametrize(("encoding", "charset"), [("iso-8859-15", "8859/15"), ("latin-1", "8859/1")])
def test_a_message_in_iso_8859_is_decoded_as_its_msh_18_announces(encoding, charset, setup):
    raw = a28(names="DUBOÉS^ANNE^ANNE LISE^^^^L").decode().replace("UNICODE UTF-8", charset).encode(encoding)
    assert answered(raw, verify=confirmed)[0] == "AA"
    assert Identity.objects.get().birth_name == "DUBOES"  # É read as É, then transliterated by the trait rules


def test_an_unknown_character_set_is_refused_naming_msh_18(setup):
    raw = a28().decode().replace("UNICODE UTF-8", "EBCDIC").encode()
    code, ack = answered(raw, verify=confirmed)
    assert code == "AE" and ack["ERR.F2.R1.C1"] == "MSH" and ack["ERR.F2.R1.C3"] == "18"
