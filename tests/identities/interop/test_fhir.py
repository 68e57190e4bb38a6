"""FR Core Patients parsed with fhir.resources (R4B models, R4-compatible for Patient): the diffusion gate, the FR Core invariants, received Patients."""
import dataclasses
import json
import re
from datetime import date
from zoneinfo import ZoneInfo

import pytest
from fhir.resources.R4B.patient import Patient

from identities.core import services
from identities.core.diffusion import shareable_ins
from identities.interop import fhir
from identities.interop.common import Evidence, MessageError
from tests.identities.interop.conftest import CASES

PARIS = ZoneInfo("Europe/Paris")


def resource(identity, authority, **kwargs) -> dict:
    return fhir.patient_resource(identity, shareable_ins(identity), authority=authority, zone=PARIS, **kwargs)


def parsed(identity, authority, **kwargs) -> Patient:
    # Through JSON text, as a client would receive it.
    return Patient.model_validate_json(json.dumps(resource(identity, authority, **kwargs)))


def reliability(patient: Patient) -> dict[str, list]:
    """The sub-extensions of the first fr-core-identity-reliability: the status and its details."""
    extension = next(ext for ext in patient.extension if ext.url == fhir.EXT_RELIABILITY)
    parts: dict[str, list] = {}
    for part in extension.extension:
        parts.setdefault(part.url, []).append(part)
    return parts


def attribute_codes(patient: Patient) -> list[str]:
    """The identityStatus codes of the further reliability extensions: the attributes (as PID-32 repeats)."""
    extensions = [ext for ext in patient.extension if ext.url == fhir.EXT_RELIABILITY][1:]
    assert all([part.url for part in ext.extension] == ["identityStatus"] for ext in extensions)
    return [ext.extension[0].valueCoding.code for ext in extensions]


def ins_identifiers(patient: Patient) -> list:
    return [identifier for identifier in patient.identifier if identifier.system.startswith("urn:oid:1.2.250.1.213.1.4.")]


@pytest.mark.parametrize("case", CASES)
def test_it_profiles_fr_core_patient_ins_and_carries_the_ins_only_for_a_qualified_identity(case, make_identity, authority):
    identity = make_identity(case)
    patient = parsed(identity, authority)
    text = json.dumps(resource(identity, authority))
    if case in ("QUAL", "QUAL+HOMA"):
        assert patient.meta.profile == [fhir.PROFILE_PATIENT_INS]
        (ins,) = ins_identifiers(patient)
        assert (ins.system, ins.value, ins.use) == ("urn:oid:1.2.250.1.213.1.4.8", identity.ins_matricule, "official")
        assert [(coding.system, coding.code) for coding in ins.type.coding] == [(fhir.CS_FR_IDENTIFIER_TYPE, "INS-NIR")]
    else:
        assert patient.meta.profile == [fhir.PROFILE_PATIENT]
        assert ins_identifiers(patient) == []
        assert "1.2.250.1.213.1.4" not in text
        if identity.ins_matricule:
            assert identity.ins_matricule not in text
    (local,) = [identifier for identifier in patient.identifier if identifier.system == authority.system]
    assert (local.value, local.use, local.type.coding[0].code) == (identity.ipp, "usual", "PI")
    assert re.fullmatch(r"IP[0-9]{8}", local.value) and patient.id == str(identity.uuid)  # the short IPP; the UUID as logical id


@pytest.mark.parametrize("case", CASES)
def test_the_fr_core_reliability_invariants_hold(case, make_identity, authority):
    identity = make_identity(case)
    patient = parsed(identity, authority)
    parts = reliability(patient)
    (status,) = parts["identityStatus"]
    attributes = attribute_codes(patient)
    assert status.valueCoding.system == fhir.CS_RELIABILITY
    # Receivers are told PROV or VALI (table 0445); VALI + the INS is what fr-core-patient-ins calls qualified.
    assert status.valueCoding.code == {"PROV": "PROV", "RECUP": "PROV", "VALI": "VALI", "QUAL": "VALI"}[identity.status]
    # DOUT or FICT ⇒ PROV; FICT and DOUT never together.
    if {"DOUT", "FICT"} & set(attributes):
        assert status.valueCoding.code == "PROV"
    assert not {"DOUT", "FICT"} <= set(attributes)
    assert attributes == identity.attributes
    assert [part.valueCoding.code for part in parts["methodCollection"]] == ["SM"]


@pytest.mark.parametrize("case", ["PROV", "VALI", "QUAL", "DOUT"])
def test_the_official_name_has_exactly_one_given_name_and_the_birth_list_beside_it(case, make_identity, authority):
    identity = make_identity(case, birth_given_names="PIERRE-ALAIN GUNTHER", used_name="DURAND")
    patient = parsed(identity, authority)
    (official,) = [name for name in patient.name if name.use == "official"]
    assert official.family == "MARTIN"
    assert official.given == ["PIERRE-ALAIN"]
    (birth_list,) = official.extension
    assert (birth_list.url, birth_list.valueString) == (fhir.EXT_BIRTH_LIST_GIVEN_NAME, "PIERRE-ALAIN GUNTHER")
    (usual,) = [name for name in patient.name if name.use == "usual"]
    assert (usual.family, usual.given) == ("DURAND", ["PIERRE-ALAIN"])


def test_the_birthplace_is_its_insee_code(make_identity, authority):
    patient = parsed(make_identity("QUAL", birthplace_code="2A004"), authority)
    (birthplace,) = [ext for ext in patient.extension if ext.url == fhir.EXT_BIRTHPLACE]
    (code,) = birthplace.valueAddress.extension
    assert code.url == fhir.EXT_INSEE_CODE
    assert (code.valueCoding.system, code.valueCoding.code) == (fhir.CS_INSEE, "2A004")


def test_the_reliability_extension_dates_the_insi_call_and_the_validation_with_its_document(make_identity, authority):
    identity = make_identity("QUAL")
    evidence = Evidence("cni", date(2030, 1, 1), identity.validated_at)
    parts = reliability(parsed(identity, authority, evidence=evidence))
    assert str(parts["dateCollection"][0].valueDate) == identity.last_insi_call_at.astimezone(PARIS).date().isoformat()
    assert str(parts["validationDate"][0].valueDate) == identity.validated_at.astimezone(PARIS).date().isoformat()
    assert (parts["validationMode"][0].valueCoding.system, parts["validationMode"][0].valueCoding.code) == (fhir.CS_VALIDATION_MODE, "CN")


def test_gender_and_a_partial_birth_date(make_identity, authority):
    patient = parsed(make_identity("PROV", sex="M", birth_date="1950-00-00"), authority)
    assert patient.gender == "male"
    assert str(patient.birthDate) == "1950"


def test_a_nia_travels_as_the_official_identifier_fr_core_1_asks_for(make_identity, authority):
    identity = make_identity("QUAL")
    nia = dataclasses.replace(shareable_ins(identity), oid="1.2.250.1.213.1.4.9", nature="NIA")
    patient = Patient.model_validate(fhir.patient_resource(identity, nia, authority=authority, zone=PARIS))
    (ins,) = ins_identifiers(patient)
    assert (ins.system, ins.use, ins.type.coding[0].code) == ("urn:oid:1.2.250.1.213.1.4.9", "official", "INS-NIA")
    # fr-core-2: only one official identifier (the local one is "usual").
    assert [identifier.use for identifier in patient.identifier].count("official") == 1


def test_a_search_bundle_links_to_the_next_page():
    bundle = fhir.search_bundle([{"resourceType": "Patient", "id": "a"}], base_url="https://x/fhir/", self_url="s", next_url="n")
    assert bundle["type"] == "searchset"
    assert bundle["entry"][0]["fullUrl"] == "https://x/fhir/Patient/a"
    assert [link["relation"] for link in bundle["link"]] == ["self", "next"]


# --- Received Patients ---

def test_a_patient_of_ours_reads_back_with_its_ins_and_status(make_identity, authority):
    identity = make_identity("QUAL", used_name="DUPONT")
    received = fhir.read_patient(resource(identity, authority))
    assert received.declared_status == "QUAL"
    assert (received.ins.matricule, received.ins.oid) == (identity.ins_matricule, identity.ins_oid)
    assert (received.birth_name, received.first_birth_given_name, received.birth_given_names) == ("MARTIN", "JEANNE", "JEANNE MARIE")
    assert (received.birth_date, received.sex, received.birthplace_code, received.used_name) == ("1980-05-17", "F", "63220", "DUPONT")
    assert received.sender_patient_id == str(identity.ipp)


def _patient(**changes) -> dict:
    data = {
        "resourceType": "Patient",
        "name": [{"use": "official", "family": "DUBOIS", "given": ["ANNE"]}],
        "gender": "female",
        "birthDate": "1979-03-15",
    }
    return {key: value for key, value in (data | changes).items() if value is not None}


@pytest.mark.parametrize(
    ("data", "location"),
    [
        ({"resourceType": "Observation"}, "resourceType"),
        (_patient(name="DUBOIS"), "Patient.name"),
        (_patient(birthDate="1979-13-01"), "Patient.birthDate"),
        (_patient(birthDate=None), "Patient.birthDate"),
        (_patient(name=[{"use": "usual", "family": "DUBOIS", "given": ["ANNE"]}]), "Patient.name"),
        (_patient(name=[{"use": "official", "given": ["ANNE"]}]), "Patient.name[0].family"),
        (_patient(gender=None), "Patient.gender"),
        (_patient(extension=[{"url": fhir.EXT_RELIABILITY, "extension": [{"url": "identityStatus", "valueCoding": {"code": "SUPER"}}]}]),
         "Patient.extension:identityReliability.identityStatus"),
    ],
)
def test_it_refuses_a_malformed_patient_naming_the_element(data, location):
    with pytest.raises(MessageError) as refused:
        fhir.read_patient(data)
    assert refused.value.location == location


def test_an_operation_outcome_is_a_valid_resource():
    from fhir.resources.R4B.operationoutcome import OperationOutcome

    outcome = OperationOutcome.model_validate(fhir.operation_outcome("error", "required", "date absente", expression="Patient.birthDate"))
    assert outcome.issue[0].expression == ["Patient.birthDate"]



# What the published FR Core 2.2.0 package defines (StructureDefinition-fr-core-identity-reliability
# 2.2.0 and its value sets, see docs/interop.md): nothing else may be emitted.
# What the published package hl7.fhir.fr.core#2.2.0 defines for what the portal emits (checked
# against the package itself by test_fr_core_package.py when it is at hand).
FR_CORE_2_2_0 = {
    "sub-extensions": {"methodCollection", "dateCollection", "identityStatus", "validationDate", "validationMode"},
    fhir.CS_RELIABILITY: {"VIDE", "PROV", "VALI", "DOUB", "DESA", "DPOT", "DOUA", "COLP", "COLV", "FILI", "CACH", "ANOM", "IDVER",
                          "RECD", "IDRA", "USUR", "HOMD", "HOMA", "INVA", "FICT", "DOUT"},
    fhir.CS_METHOD_COLLECTION: {"SM", "CV", "INSI", "CB", "RFID"},
    fhir.CS_VALIDATION_MODE: {"AN", "CC", "CE", "CM", "CN", "CS", "LE", "PA", "PC", "TC", "DC", "AC", "IE"},
    fhir.CS_FR_IDENTIFIER_TYPE: {"INS-NIR", "INS-NIA", "INS-NIR-TEST", "INS-NIR-DEMO"},
}
DOCUMENTS = ("passeport", "cni", "titre-sejour", "eidas", "appli-carte-vitale", "extrait-naissance", "livret-famille")


@pytest.mark.parametrize("channel", ["SM", "CV", "INSI", "CB", "RFID", "AV"])
@pytest.mark.parametrize("case", CASES)
def test_every_reliability_code_emitted_exists_in_fr_core_2_2_0(case, channel, make_identity, authority):
    identity = make_identity(case)
    identity.channel = channel
    for document in DOCUMENTS:
        patient = parsed(identity, authority, evidence=Evidence(document, None, identity.created_at))
        for extension in (ext for ext in patient.extension if ext.url == fhir.EXT_RELIABILITY):
            assert {part.url for part in extension.extension} <= FR_CORE_2_2_0["sub-extensions"]
            assert [part.url for part in extension.extension].count("identityStatus") == 1  # 0..1, and the status is what it says
            for part in (part for part in extension.extension if part.valueCoding is not None):
                assert part.valueCoding.code in FR_CORE_2_2_0[part.valueCoding.system], (part.url, part.valueCoding.code)
        modes = [part.valueCoding.code for part in reliability(patient).get("validationMode", [])]
        if patient.meta.profile == [fhir.PROFILE_PATIENT_INS]:  # fr-core-vs-mode-validation-identity-ins
            assert set(modes) <= {"PA", "CN", "AN", "LE"}


@pytest.mark.parametrize(("document", "with_ins", "code"), [
    ("eidas", False, "IE"), ("passeport", False, "PA"), ("cni", True, "CN"), ("eidas", True, None), ("appli-carte-vitale", False, None),
])
def test_validation_mode_is_coded_only_where_fr_core_2_2_0_has_the_code(document, with_ins, code, make_identity, authority):
    identity = make_identity("QUAL" if with_ins else "VALI")
    parts = reliability(parsed(identity, authority, evidence=Evidence(document, None, identity.created_at)))
    assert [part.valueCoding.code for part in parts.get("validationMode", [])] == ([code] if code else [])


def test_the_appli_carte_vitale_channel_has_no_method_collection_code(make_identity, authority):
    identity = make_identity("VALI")
    identity.channel = "AV"
    assert "methodCollection" not in reliability(parsed(identity, authority))


def test_the_capability_statement_names_the_pinned_fr_core_release():
    statement = fhir.capability_statement(base_url="https://portail/fhir", published="2026-12-01", search_parameters={},
                                          max_count=100, max_offset=1000)
    assert statement["implementationGuide"] == ["https://hl7.fr/ig/fhir/core/ImplementationGuide/hl7.fhir.fr.core|2.2.0"]
    assert "FR Core 2.2.0" in statement["rest"][0]["resource"][0]["documentation"]


@pytest.mark.parametrize(("case", "announced"), [("QUAL", "VALI"), ("QUAL+HOMA", "VALI"), ("RECUP", "PROV"), ("VALI", "VALI")])
def test_a_corrected_birth_date_is_served_without_the_ins_and_neither_recup_nor_qual(case, announced, make_identity, authority, front_desk):
    """PAM France §6.6.4 (INS guide rules 9 and 10), carried into FR Core: fr-core-patient, no INS slice."""
    identity = make_identity(case)
    services.identity_update_traits(actor=front_desk, identity_id=identity.pk, expected_version=identity.version, birth_date_corrected=True)
    identity.refresh_from_db()
    patient = parsed(identity, authority)
    assert patient.meta.profile == [fhir.PROFILE_PATIENT]
    assert ins_identifiers(patient) == []
    if identity.ins_matricule:
        assert identity.ins_matricule not in json.dumps(resource(identity, authority))
    assert [part.valueCoding.code for part in reliability(patient)["identityStatus"]] == [announced]
    (indicator,) = [ext for ext in patient.extension if ext.url == fhir.EXT_BIRTHDATE_UPDATE]
    assert indicator.valueBoolean is True
