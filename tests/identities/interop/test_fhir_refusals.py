"""Hostile or broken FHIR requests: each gets a 400 (or 413) OperationOutcome naming the element and the rule, the
received body is stored with the element at fault, nothing else is written, never an HTTP 500."""
import json

import pytest
from fhir.resources.R4B.operationoutcome import OperationOutcome

from identities.core.models import Identity
from identities.interop.fhir_api import MAX_IMPORT_BYTES
from identities.interop.models import InboundMessage
from tests.identities.interop.test_fhir_api import api  # noqa: F401  (the authorised client fixture)

PATIENT = {"resourceType": "Patient", "name": [{"use": "official", "family": "DUBOIS", "given": ["ANNE"]}],
           "gender": "female", "birthDate": "1979-03-15"}


def post(api, body: bytes | str):  # noqa: F811
    return api("Patient/$import", method="post", data=body, content_type="application/fhir+json")


def refusal(response, status: int = 400):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/fhir+json")
    (issue,) = OperationOutcome.model_validate_json(response.content).issue
    assert issue.severity == "error" and issue.diagnostics
    return issue


def nested(depth: int) -> str:
    return json.dumps(PATIENT | {"extension": "PLACEHOLDER"}).replace('"PLACEHOLDER"', "[" * depth + "]" * depth)


@pytest.mark.parametrize(("body", "element", "rule"), [
    (json.dumps(PATIENT | {"identifier": [{"system": None, "value": "P1"}]}), "Patient.identifier[0].system", "null"),
    (json.dumps(PATIENT | {"identifier": [{"system": 12, "value": "P1"}]}), "Patient.identifier[0].system", "string"),
    (json.dumps(PATIENT | {"name": [{"use": "official", "family": "DUBOIS", "given": [None]}]}), "Patient.name[0].given[0]", "null"),
    (nested(10_000), "(corps)", "imbriqué"),
    (nested(100), "Patient.extension", "imbriqués"),
    (json.dumps(PATIENT | {"name": [{"use": "official", "family": "DU\u0000BOIS", "given": ["ANNE"]}]}), "Patient.name[0].family", "0x00"),
    ('{"resourceType": "Patient", "gender": "female\u0000"}', "(corps)", "JSON"),
    (json.dumps(PATIENT | {"name": [{"use": "official", "family": "D" * 101, "given": ["ANNE"]}]}), "Patient.name.family", "100 caractères"),
    (json.dumps(PATIENT | {"name": [{"use": "official", "family": "DUBOIS", "given": ["A" * 101]}]}), "Patient.name.", "100 caractères"),
    (json.dumps(PATIENT | {"id": "x" * 101}), "Patient.id", "100 caractères"),
    (json.dumps(PATIENT | {"identifier": [{"value": "9" * 101, "type": {"coding": [{"code": "PI"}]}}]}), "Patient.identifier", "100 caractères"),
])
def test_a_malformed_patient_is_refused_naming_the_element_and_stored_with_it(api, birthplaces, body, element, rule):  # noqa: F811
    issue = refusal(post(api, body))
    assert issue.expression[0].startswith(element) and rule in issue.diagnostics
    assert Identity.objects.count() == 0
    stored = InboundMessage.objects.get()
    assert (stored.state, stored.error_location, stored.error) == ("REJECTED", issue.expression[0], issue.diagnostics)
    assert stored.payload.replace("\ufffd", "\u0000") == body  # kept as received; a NUL is shown as U+FFFD


def test_a_body_over_the_limit_is_refused_with_413_and_its_beginning_stored(api, birthplaces):  # noqa: F811
    body = json.dumps(PATIENT | {"id": "big", "text": {"status": "generated", "div": "x" * MAX_IMPORT_BYTES}})
    issue = refusal(post(api, body), 413)
    assert issue.code == "too-costly" and str(MAX_IMPORT_BYTES) in issue.diagnostics
    stored = InboundMessage.objects.get()
    assert stored.state == "REJECTED" and body.startswith(stored.payload) and 0 < len(stored.payload) < len(body)


@pytest.mark.parametrize(("query", "parameter"), [
    ("Patient?family=DUBOIS&_offset=9223372036854775808", None),
    ("Patient?family=DUBOIS&_offset=1001", None),
    ("Patient?identifier=%00", "identifier"),
    ("Patient?family=DU%00BOIS", "family"),
    ("Patient?given=" + "A" * 201, "given"),
])
def test_a_search_the_database_cannot_run_is_refused_with_400(api, birthplaces, query, parameter):  # noqa: F811
    issue = refusal(api(query))
    assert issue.code == "value"
    if parameter:
        assert issue.expression == [parameter]
    else:
        assert "_offset" in issue.diagnostics


def test_the_last_allowed_offset_is_answered(api, birthplaces):  # noqa: F811
    response = api("Patient?family=DUBOIS&_offset=1000")  # settings.FHIR_MAX_OFFSET
    assert response.status_code == 200 and not json.loads(response.content).get("entry")
