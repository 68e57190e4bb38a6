"""The FHIR API as a client application sees it: a bearer token per application, JSON only, search without leaking an INS, pagination, import."""
import json

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.patient import Patient

from identities.core.models import Identity
from identities.interop.models import ClientApplication, InboundMessage

INS_SYSTEM = "urn:oid:1.2.250.1.213.1.4.8"


@pytest.fixture
def api(client, token_for):
    token = token_for("read import")

    def call(path: str, method: str = "get", **kwargs):
        kwargs.setdefault("HTTP_AUTHORIZATION", f"Bearer {token}")
        return getattr(client, method)(f"/fhir/{path}", secure=True, **kwargs)

    return call


def bundle_of(response) -> Bundle:
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/fhir+json")
    return Bundle.model_validate_json(response.content)


def names_in(bundle: Bundle) -> list[str]:
    return [entry.resource.name[0].family for entry in bundle.entry or []]


def outcome_of(response, status: int) -> OperationOutcome:
    assert response.status_code == status, response.content
    return OperationOutcome.model_validate_json(response.content)


def test_any_client_can_read_what_the_api_serves_and_every_declared_search_is_answered(client, api, make_identity):
    response = client.get("/fhir/metadata", secure=True)  # no token: a client discovers the API before it has one
    assert response.status_code == 200 and response["Content-Type"].startswith("application/fhir+json")
    statement = CapabilityStatement.model_validate_json(response.content)
    assert (statement.fhirVersion, statement.format, statement.kind) == ("4.0.1", ["json"], "instance")
    assert statement.implementation.url == "https://testserver/fhir/"
    (rest,) = statement.rest
    (patient,) = rest.resource
    assert patient.type == "Patient" and patient.profile.endswith("/fr-core-patient")
    assert [profile.rsplit("/", 1)[1] for profile in patient.supportedProfile] == ["fr-core-patient-ins"]
    assert sorted(interaction.code for interaction in patient.interaction) == ["read", "search-type"]
    declared = {parameter.name: parameter.type for parameter in patient.searchParam}
    assert declared == {"identifier": "token", "family": "string", "given": "string", "birthdate": "date"}
    identity = make_identity("PROV", birth_name="DUBOIS", birth_given_names="ANNE", birth_date="1979-03-15")
    examples = {"identifier": str(identity.ipp), "family": "DUBOIS", "given": "ANNE", "birthdate": "1979-03-15"}
    for name in declared:
        assert names_in(bundle_of(api(f"Patient?{name}={examples[name]}"))) == ["DUBOIS"], name
    assert client.get("/fhir/metadata", secure=True, HTTP_ACCEPT="application/fhir+xml").status_code == 406


def test_a_request_without_a_valid_token_is_refused(client, token_for, make_identity):
    url, token = f"/fhir/Patient/{make_identity('PROV').uuid}", token_for("read")
    assert outcome_of(client.get(url, secure=True), 401).issue[0].code == "login"
    assert client.get(url, secure=True)["WWW-Authenticate"].startswith("Bearer")
    assert client.get(url, secure=True, HTTP_AUTHORIZATION="Bearer not-the-token").status_code == 401
    assert client.get(url, secure=True, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    ClientApplication.objects.update(active=False)
    assert client.get(url, secure=True, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401


def test_an_application_without_the_scope_is_forbidden(client, token_for, birthplaces):
    token = token_for("read")
    response = client.post("/fhir/Patient/$import", data=b"{}", content_type="application/fhir+json", secure=True,
                           HTTP_AUTHORIZATION=f"Bearer {token}")
    assert outcome_of(response, 403).issue[0].code == "forbidden"


def test_only_json_is_served(api, make_identity):
    identity = make_identity("PROV")
    assert api(f"Patient/{identity.uuid}", HTTP_ACCEPT="application/fhir+xml").status_code == 406
    assert api(f"Patient/{identity.uuid}?_format=xml").status_code == 406
    assert api(f"Patient/{identity.uuid}", HTTP_ACCEPT="application/fhir+json").status_code == 200


def test_reading_a_patient_goes_through_the_diffusion_gate(api, make_identity):
    qualified, recovered = make_identity("QUAL"), make_identity("RECUP")
    shared = Patient.model_validate_json(api(f"Patient/{qualified.uuid}").content)
    assert [identifier.value for identifier in shared.identifier if identifier.system == INS_SYSTEM] == [qualified.ins_matricule]
    response = api(f"Patient/{recovered.uuid}")
    assert response.status_code == 200
    assert recovered.ins_matricule.encode() not in response.content
    assert api("Patient/00000000-0000-0000-0000-000000000000").status_code == 404
    assert api("Patient/not-an-id").status_code == 404


def test_a_matricule_finds_only_the_identity_that_may_carry_it(api, make_identity):
    qualified, recovered = make_identity("QUAL"), make_identity("RECUP")
    found = bundle_of(api(f"Patient?identifier={INS_SYSTEM}|{qualified.ins_matricule}"))
    assert [entry.resource.id for entry in found.entry] == [str(qualified.uuid)]
    assert bundle_of(api(f"Patient?identifier={INS_SYSTEM}|{recovered.ins_matricule}")).entry is None
    assert bundle_of(api(f"Patient?identifier={recovered.ins_matricule}")).entry is None


def test_the_permanent_identifier_finds_its_patient_with_or_without_its_system(api, make_identity, authority):
    identity = make_identity("VALI")
    for criterion in (f"{authority.system}|{identity.ipp}", str(identity.ipp)):
        assert [entry.resource.id for entry in bundle_of(api(f"Patient?identifier={criterion}")).entry] == [str(identity.uuid)]
    assert bundle_of(api("Patient?identifier=urn:oid:9.9.9|whatever")).entry is None


def test_family_matches_birth_and_used_names_without_accents_and_given_and_birthdate_narrow_it(api, make_identity):
    make_identity("PROV", birth_name="LEFEVRE", birth_given_names="ANNE MARIE", birth_date="1980-05-17")
    make_identity("PROV", birth_name="DURAND", used_name="LEFEVRE", birth_given_names="PAUL", birth_date="1975-01-02")
    make_identity("PROV", birth_name="MARTIN", birth_given_names="MARIE", birth_date="1950-00-00")
    # Ordered by the name that matched (LEFEVRE twice: birth name, used name), then given names.
    assert names_in(bundle_of(api("Patient?family=Lefèvre"))) == ["LEFEVRE", "DURAND"]
    assert names_in(bundle_of(api("Patient?family=lefevre&given=marie"))) == ["LEFEVRE"]
    assert names_in(bundle_of(api("Patient?given=MARIE"))) == ["LEFEVRE", "MARTIN"]
    assert names_in(bundle_of(api("Patient?birthdate=1950"))) == ["MARTIN"]
    assert names_in(bundle_of(api("Patient?birthdate=eq1980-05"))) == ["LEFEVRE"]
    assert names_in(bundle_of(api("Patient?birthdate=1980-05-17&family=LEF"))) == ["LEFEVRE"]


def test_results_come_in_pages_linked_one_to_the_next(api, make_identity):
    for name in ("DURAND", "DUPONT", "DUVAL"):
        make_identity("PROV", birth_name=name)
    first = bundle_of(api("Patient?family=DU&_count=2"))
    assert names_in(first) == ["DUPONT", "DURAND"]
    (following,) = [link.url for link in first.link if link.relation == "next"]
    second = bundle_of(api(following.split("/fhir/", 1)[1]))
    assert names_in(second) == ["DUVAL"]
    assert [link.relation for link in second.link] == ["self"]


def pages(api, query: str) -> list[Bundle]:
    """Every page of a search, following the next links."""
    found = [bundle_of(api(query))]
    while nexts := [link.url for link in found[-1].link if link.relation == "next"]:
        found.append(bundle_of(api(nexts[0].split("/fhir/", 1)[1])))
    return found


def test_pages_of_birth_and_used_names_interleave_by_the_name_that_matched_each_listed_once(api, make_identity):
    make_identity("PROV", birth_name="DUVAL", birth_given_names="ANNE")
    make_identity("PROV", birth_name="MARTIN", used_name="DUBOIS", birth_given_names="BERTHE")
    make_identity("PROV", birth_name="DUPONT", used_name="DURAND", birth_given_names="CLAIRE")  # both names match: once
    make_identity("PROV", birth_name="LEROY", used_name="DUVAL", birth_given_names="AGATHE")
    make_identity("PROV", birth_name="DUMAS", birth_given_names="DENISE")
    found = [name for page in pages(api, "Patient?family=DU&_count=2") for name in names_in(page)]
    # DUBOIS (used), DUMAS, DUPONT, DUVAL AGATHE (used), DUVAL ANNE.
    assert found == ["MARTIN", "DUMAS", "DUPONT", "LEROY", "DUVAL"]


def test_a_given_name_is_found_in_any_position_each_identity_once_in_the_order_of_the_given_names_that_matched(api, make_identity):
    for name, given in [("DUPONT", "MARIE"), ("ABEL", "ANNE MARIETTE"), ("BRUN", "ANNE CLAIRE MARIE"),
                        ("CAZE", "ANNE CLAIRE LISE MARION"), ("DIAZ", "ANNE CLAIRE LISE ROSE MARIE"),
                        ("ELIE", "MARIE JOSE MARIETTE"), ("FAURE", "ANNE"), ("GAY", "ANNE-MARIE"), ("HUET", "ROSEMARIE")]:
        make_identity("PROV", birth_name=name, birth_given_names=given)
    # By the given names from the one that matched: MARIE (BRUN, DUPONT, GAY: ANNE-MARIE is ANNE MARIE),
    # MARIE JOSE MARIETTE (ELIE, its MARIETTE not listed again), MARIETTE, MARION, ROSE MARIE; not ROSEMARIE.
    expected = ["BRUN", "DUPONT", "GAY", "ELIE", "ABEL", "CAZE", "DIAZ"]
    assert names_in(bundle_of(api("Patient?given=mari"))) == expected
    for count in (1, 2, 3):
        assert [name for page in pages(api, f"Patient?given=MARI&_count={count}") for name in names_in(page)] == expected, count


def test_a_search_is_paged_up_to_the_maximum_offset_and_its_last_page_says_to_narrow_it(api, make_identity, settings):
    settings.FHIR_MAX_OFFSET = 2
    for given in ("ANNE", "BEA", "CLARA", "DIANE", "EVA"):
        make_identity("PROV", birth_name="DUPONT", birth_given_names=given)
    found = pages(api, "Patient?family=DUPONT&_count=1")
    assert [len(page.entry) for page in found] == [1, 1, 2]  # offsets 0, 1, 2: the last with its OperationOutcome
    last = found[-1].entry
    assert [entry.search.mode for entry in last] == ["match", "outcome"]
    assert last[1].resource.issue[0].code == "too-costly" and "précisez" in last[1].resource.issue[0].diagnostics
    refused = outcome_of(api("Patient?family=DUPONT&_offset=3"), 400)
    assert "_offset" in refused.issue[0].diagnostics and "2" in refused.issue[0].diagnostics
    statement = json.loads(api("metadata").content)
    assert "_offset (0 à 2" in statement["rest"][0]["resource"][0]["documentation"]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("Patient", "required"),
        ("Patient?name=DUPONT", "not-supported"),
        ("Patient?birthdate=gt1980", "value"),
        ("Patient?birthdate=17/05/1980", "value"),
        ("Patient?family=X&_count=0", "value"),
    ],
)
def test_a_search_the_api_cannot_answer_exactly_is_refused_rather_than_widened(query, code, api, birthplaces):
    assert outcome_of(api(query), 400).issue[0].code == code


def test_a_patient_imported_from_another_domain_is_created_and_located(api, birthplaces):
    body = {"resourceType": "Patient", "name": [{"use": "official", "family": "DUBOIS", "given": ["ANNE"]}],
            "gender": "female", "birthDate": "1979-03-15"}
    response = api("Patient/$import", method="post", data=json.dumps(body), content_type="application/fhir+json")
    identity = Identity.objects.get()
    assert outcome_of(response, 201).issue[0].severity == "information"
    assert response["Location"].endswith(f"/fhir/Patient/{identity.uuid}")
    assert InboundMessage.objects.get().source == "FHIR DPI"


def test_a_malformed_import_gets_an_operation_outcome_and_changes_nothing(api, birthplaces):
    response = api("Patient/$import", method="post", data=json.dumps({"resourceType": "Patient", "gender": "female"}),
                   content_type="application/fhir+json")
    issue = outcome_of(response, 400).issue[0]
    assert issue.expression == ["Patient.name"] and issue.diagnostics
    assert Identity.objects.count() == 0
    assert InboundMessage.objects.get().state == "REJECTED"
