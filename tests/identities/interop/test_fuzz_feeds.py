"""Fuzzing the interoperability feeds (Hypothesis, deterministic): FHIR import and search never answer 500 nor
raise, and every refusal is an OperationOutcome; every HL7 message framed over a real MLLP socket to
``manage.py mllp_listen`` gets exactly one ACK, AA or AE/AR with an ERR segment."""
from __future__ import annotations

import json

import hl7
import pytest
from hypothesis import given
from hypothesis import strategies as st

from identities.interop.mllp import END_BLOCK, MllpClient
from identities.interop.models import InboundMessage
from tests import processes
from tests.fuzz import fuzzed, nasty_text
from tests.identities.interop.test_fhir_api import api  # noqa: F401  (the authorised client fixture)
from tests.identities.interop.test_mllp_listener import start_listener
from tests.identities.interop.test_reception import INS, TEST_OID, a28, patient

# --- FHIR ---

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False) | nasty_text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(nasty_text | st.sampled_from(["system", "value", "url"]),
                                                                        children, max_size=3),
    max_leaves=8,
)
PATIENT_PATHS = ["resourceType", "id", "identifier", "name", "gender", "birthDate", "extension"]


@st.composite
def patient_bodies(draw) -> bytes:
    """A valid Patient with some elements replaced by anything, or a body that is not one at all."""
    kind = draw(st.sampled_from(["mutated", "mutated", "typed", "typed", "nested", "json", "bytes"]))
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    if kind == "json":
        return json.dumps(draw(json_values)).encode()
    if kind == "nested":
        depth = draw(st.integers(20, 20_000))
        return patient().replace(b'"gender"', b'"extension": ' + b"[" * depth + b"]" * depth + b', "gender"')
    data = json.loads(patient())
    if kind == "typed":
        # The right elements with values of any type or text: a null system, a number for a name.
        scalar = st.none() | st.integers(-2**70, 2**70) | nasty_text
        data["identifier"] = [{"system": draw(scalar | st.just(f"urn:oid:{TEST_OID}")), "value": draw(scalar | st.just(INS)),
                               **draw(st.fixed_dictionaries({}, optional={"type": st.just({"coding": [{"code": "PI"}]})}))}]
        data["name"] = [{"use": "official", "family": draw(scalar), "given": draw(st.lists(scalar, max_size=2))}]
        data["birthDate"] = draw(scalar | st.just("1979-03-15"))
        return json.dumps(data).encode()
    for key in draw(st.lists(st.sampled_from(PATIENT_PATHS), min_size=1, max_size=3, unique=True)):
        data[key] = draw(json_values)
    if draw(st.booleans()):
        data["name"] = [{"use": "official", "family": draw(nasty_text), "given": [draw(nasty_text)]}]
    return json.dumps(data, ensure_ascii=draw(st.booleans())).encode("utf-8")


def assert_outcome(response, allowed: set[int]) -> None:
    assert response.status_code in allowed, response.content[:500]
    body = json.loads(response.content)
    if response.status_code >= 400:
        assert body["resourceType"] == "OperationOutcome" and body["issue"][0]["diagnostics"]


@fuzzed(120)
@given(body=patient_bodies())
def test_no_posted_body_makes_the_import_fail(api, birthplaces, body):  # noqa: F811
    before = InboundMessage.objects.count()
    response = api("Patient/$import", method="post", data=body, content_type="application/fhir+json")
    assert_outcome(response, {201, 202, 400})
    assert InboundMessage.objects.count() == before + 1  # every received body is stored, usable or not


@fuzzed(120)
@given(query=st.dictionaries(st.sampled_from(["identifier", "family", "given", "birthdate", "_count", "_offset", "_format"]),
                             nasty_text | st.integers(-2**70, 2**70).map(str), min_size=1, max_size=4))
def test_no_search_makes_the_api_fail(api, birthplaces, query):  # noqa: F811
    response = api("Patient", data=query)
    assert_outcome(response, {200, 400, 406})


# --- HL7 over MLLP ---

@st.composite
def hl7_payloads(draw) -> bytes:
    """An A28 with hostile values in its fields, a valid one cut or spliced with junk, or bytes."""
    kind = draw(st.sampled_from(["fields", "fields", "spliced", "bytes"]))
    if kind == "bytes":
        payload = draw(st.binary(max_size=400))
    elif kind == "spliced":
        raw = a28(control=draw(st.text("AZ09", min_size=1, max_size=8)))
        cut = draw(st.integers(0, len(raw)))
        payload = raw[:cut] + draw(st.binary(max_size=40)) + raw[cut + draw(st.integers(0, 20)):]
    else:
        values = {name: draw(nasty_text) for name in draw(st.lists(
            st.sampled_from(["names", "patient", "control", "birth", "status", "event"]), min_size=1, max_size=3, unique=True))}
        payload = a28(ins=draw(st.sampled_from([INS, "", "27903512151898X"])), oid=TEST_OID, **values)
    return payload.replace(END_BLOCK, b"\x1c")  # an end block inside would make two messages of one


@pytest.fixture
def listener(transactional_db, birthplaces):
    running = start_listener()
    yield running
    processes.stop(running.process)


def test_every_fuzzed_hl7_message_gets_one_ack_over_a_real_mllp_socket(listener):
    answers = []

    @fuzzed(200)
    @given(payload=hl7_payloads())
    def send(payload):
        with MllpClient("127.0.0.1", listener.port, timeout=30) as client:
            ack = hl7.parse(client.exchange(payload).decode("utf-8"))
        code = str(ack.segment("MSA")[1])
        assert code in ("AA", "AE", "AR"), ack
        if code != "AA":
            assert str(ack.segment("ERR")[8]), ack  # the ERR segment says what is wrong
        answers.append(code)

    send()
    assert len(answers) >= 100 and {"AA", "AE"} <= set(answers)
    assert InboundMessage.objects.count() == len(answers)  # each one stored
