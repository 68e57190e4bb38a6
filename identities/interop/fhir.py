"""FHIR R4 FR Core Patient resources (fr-core-patient-ins / fr-core-patient), search bundles, the CapabilityStatement, OperationOutcomes, received Patients (pure, no Django)."""
from __future__ import annotations

import re
from datetime import datetime, tzinfo

from identities.core import matricule, traits
from identities.core.diffusion import SharedIns
from identities.interop.common import (
    PROV,
    RECEIVER_STATUS,
    TABLE_0445,
    VALI,
    Evidence,
    LocalAuthority,
    MessageError,
    ReceivedIdentity,
    ReceivedIns,
    attributes_of,
    declared_status,
)

# Pinned: FR Core 2.2.0 (Interop'Santé, hl7.fhir.fr.core, FHIR 4.0.1), checked against the
# published package hl7.fhir.fr.core#2.2.0 (bench/fr_core_package_check.py, docs/interop.md). Its
# identity-reliability extension codes identityStatus from fr-core-cs-v2-0445 (table 0445: PROV,
# VALI and the attributes, one code per extension, the extension repeated as PID-32 is) and has
# no ``comment``; the four-status code system belongs to sources later than 2.2.0. The canonical
# URLs, sub-extension names and code lists below are all that depends on the release.
FR_CORE_VERSION = "2.2.0"
FHIR_VERSION = "4.0.1"
FR_CORE = "https://hl7.fr/ig/fhir/core"
PROFILE_PATIENT = f"{FR_CORE}/StructureDefinition/fr-core-patient"
PROFILE_PATIENT_INS = f"{FR_CORE}/StructureDefinition/fr-core-patient-ins"
EXT_RELIABILITY = f"{FR_CORE}/StructureDefinition/fr-core-identity-reliability"
EXT_BIRTH_LIST_GIVEN_NAME = f"{FR_CORE}/StructureDefinition/fr-core-patient-birth-list-given-name"
EXT_BIRTHDATE_UPDATE = f"{FR_CORE}/StructureDefinition/fr-core-patient-birthdate-update-indicator"
EXT_INSEE_CODE = f"{FR_CORE}/StructureDefinition/fr-core-address-insee-code"
EXT_BIRTHPLACE = "http://hl7.org/fhir/StructureDefinition/patient-birthPlace"
CS_RELIABILITY = f"{FR_CORE}/CodeSystem/fr-core-cs-v2-0445"
CS_METHOD_COLLECTION = f"{FR_CORE}/CodeSystem/fr-core-cs-method-collection"
CS_VALIDATION_MODE = f"{FR_CORE}/CodeSystem/fr-core-cs-mode-validation-identity"
CS_FR_IDENTIFIER_TYPE = f"{FR_CORE}/CodeSystem/fr-core-cs-v2-0203"
CS_V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
# INSEE COG codes, communes and (99 + country) births abroad alike (FRCoreValueSetINSEECode).
CS_INSEE = "https://mos.esante.gouv.fr/NOS/TRE_R13-CommuneOM/FHIR/TRE-R13-CommuneOM"

# The identifier slices of fr-core-patient-ins, by OID: type code and use.
INS_SLICES = {
    "1.2.250.1.213.1.4.8": ("INS-NIR", "official"),
    "1.2.250.1.213.1.4.9": ("INS-NIA", "official"),  # fr-core-1 (2.2.0): a VALI patient's INS, NIA included, is official
    "1.2.250.1.213.1.4.10": ("INS-NIR-TEST", "official"),
    "1.2.250.1.213.1.4.11": ("INS-NIR-DEMO", "official"),
}
_GENDER = {"M": "male", "F": "female", "I": "unknown"}
_SEX_FROM_GENDER = {"male": "M", "female": "F", "unknown": "I", "other": "I"}
STATUS_LABELS = {PROV: "Identité provisoire", VALI: "Identité validée"}  # displays of fr-core-cs-v2-0445
# fr-core-cs-method-collection 2.2.0 (SM, CV, INSI, CB, RFID): the portal's AV channel has no code
# there and is left out, as in ZFD-5 (extensible binding, no other published code for it).
METHOD_COLLECTION_CODES = frozenset({"SM", "CV", "INSI", "CB", "RFID"})
# fr-core-cs-mode-validation-identity 2.2.0 (required binding): table IHE-FRANCE-ZFD-7 but AV;
# fr-core-patient-ins narrows it to fr-core-vs-mode-validation-identity-ins (PA, CN, AN, LE).
VALIDATION_MODES = frozenset({"AN", "CC", "CE", "CM", "CN", "CS", "LE", "PA", "PC", "TC", "DC", "AC", "IE"})
INS_VALIDATION_MODES = frozenset({"PA", "CN", "AN", "LE"})


def fhir_date(value: str) -> str:
    """FHIR ``date`` with the stored precision: ``1950-05-00`` → ``1950-05``, ``1950-00-00`` → ``1950``."""
    birth = traits.parse_birth_date(value)
    if not birth.month:
        return f"{birth.year:04d}"
    if not birth.day:
        return f"{birth.year:04d}-{birth.month:02d}"
    return birth.iso()


def _day(moment: datetime, zone: tzinfo) -> str:
    return moment.astimezone(zone).date().isoformat()


def _reliability(identity, evidence: Evidence | None, zone: tzinfo, *, with_ins: bool) -> list[dict]:
    """fr-core-identity-reliability (2.2.0), once for the status, with the collection and validation
    details, then once per attribute (DOUT, FICT, HOMA): identityStatus holds one code of table
    0445, so the extension repeats as PID-32 does (*decision*, docs/interop.md)."""
    status = RECEIVER_STATUS[identity.status]
    parts = [{"url": "identityStatus", "valueCoding": {"system": CS_RELIABILITY, "code": status, "display": STATUS_LABELS[status]}}]
    if identity.channel in METHOD_COLLECTION_CODES:
        parts.append({"url": "methodCollection", "valueCoding": {"system": CS_METHOD_COLLECTION, "code": identity.channel}})
    if identity.last_insi_call_at:
        parts.append({"url": "dateCollection", "valueDate": _day(identity.last_insi_call_at, zone)})
    if identity.validated_at:
        parts.append({"url": "validationDate", "valueDate": _day(identity.validated_at, zone)})
    mode = evidence.official_code if evidence is not None else ""
    if mode in (INS_VALIDATION_MODES if with_ins else VALIDATION_MODES):
        parts.append({"url": "validationMode", "valueCoding": {"system": CS_VALIDATION_MODE, "code": mode}})
    return [{"url": EXT_RELIABILITY, "extension": parts}] + [
        {"url": EXT_RELIABILITY, "extension": [{"url": "identityStatus", "valueCoding": {"system": CS_RELIABILITY, "code": code}}]}
        for code in attributes_of(identity)
    ]


def _ins_identifier(ins: SharedIns) -> dict:
    code, use = INS_SLICES[ins.oid]
    return {
        "use": use,
        "type": {"coding": [{"system": CS_FR_IDENTIFIER_TYPE, "code": code}]},
        "system": f"urn:oid:{ins.oid}",
        "value": ins.matricule,
    }


def patient_resource(
    identity, ins: SharedIns | None, *, authority: LocalAuthority, zone: tzinfo, evidence: Evidence | None = None,
    replaced_by: str = "", replaces: tuple[str, ...] | list[str] = (),
) -> dict:
    """The Patient as JSON data: fr-core-patient-ins when the diffusion gate shares its INS
    (``ins`` from ``diffusion.shareable_ins``), fr-core-patient otherwise. A merged record
    (inactive) links to its survivor (``replaced-by``), a survivor to the records it absorbed (``replaces``)."""
    five = ins or identity
    extensions = _reliability(identity, evidence, zone, with_ins=ins is not None)
    if five.birthplace_code:
        extensions.append({"url": EXT_BIRTHPLACE, "valueAddress": {"extension": [
            {"url": EXT_INSEE_CODE, "valueCoding": {"system": CS_INSEE, "code": five.birthplace_code}},
        ]}})
    extensions.append({"url": EXT_BIRTHDATE_UPDATE, "valueBoolean": bool(identity.birth_date_corrected)})
    identifiers = [{
        "use": "usual",
        "type": {"coding": [{"system": CS_V2_0203, "code": "PI"}]},
        "system": authority.system,
        "value": identity.ipp,
    }]
    if ins is not None:
        identifiers.append(_ins_identifier(ins))
    names = [{
        "extension": [{"url": EXT_BIRTH_LIST_GIVEN_NAME, "valueString": five.birth_given_names}],
        "use": "official",
        "family": five.birth_name,
        # FR Core INS: exactly one given name in the official name, the first of the list.
        "given": [identity.first_birth_given_name],
    }]
    if identity.used_name or identity.used_given_name:
        names.append({
            "use": "usual",
            "family": identity.used_name or five.birth_name,
            "given": [identity.used_given_name or identity.first_birth_given_name],
        })
    resource = {
        "resourceType": "Patient",
        "id": str(identity.uuid),  # the logical id: the internal UUID, the IPP being the identifier above
        "meta": {"profile": [PROFILE_PATIENT_INS if ins is not None else PROFILE_PATIENT]},
        "extension": extensions,
        "identifier": identifiers,
        "active": bool(identity.is_active),
        "name": names,
        "gender": _GENDER[five.sex],
        "birthDate": fhir_date(five.birth_date),
    }
    links = [("replaced-by", replaced_by)] if replaced_by else []
    links += [("replaces", other) for other in replaces]
    if links:
        resource["link"] = [{"other": {"reference": f"Patient/{other}"}, "type": kind} for kind, other in links]
    return resource


def search_bundle(resources: list[dict], *, base_url: str, self_url: str, next_url: str = "", outcome: dict | None = None) -> dict:
    """A searchset page; ``outcome`` (an OperationOutcome) is added as the entry FHIR reserves for it (search mode ``outcome``)."""
    links = [{"relation": "self", "url": self_url}]
    if next_url:
        links.append({"relation": "next", "url": next_url})
    bundle = {"resourceType": "Bundle", "type": "searchset", "link": links}
    entries = [
        {"fullUrl": f"{base_url}Patient/{resource['id']}", "resource": resource, "search": {"mode": "match"}}
        for resource in resources
    ]
    if outcome is not None:
        entries.append({"resource": outcome, "search": {"mode": "outcome"}})
    if entries:  # FHIR JSON has no empty arrays
        bundle["entry"] = entries
    return bundle


def capability_statement(*, base_url: str, published: str, search_parameters: dict[str, str], max_count: int,
                         max_offset: int) -> dict:
    """What the API serves (``GET /fhir/metadata``): FR Core Patients, read and searched by
    ``search_parameters`` (name → FHIR type), paged by ``max_count`` resources up to ``max_offset``, JSON only, an application token per call."""
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": published,
        "publisher": "insportal",
        "kind": "instance",
        "software": {"name": "insportal"},
        # The FR Core release every profile, extension and code system served comes from.
        "implementationGuide": [f"{FR_CORE}/ImplementationGuide/hl7.fhir.fr.core|{FR_CORE_VERSION}"],
        "implementation": {"description": "Référentiel d'identités patients (INS)", "url": base_url},
        "fhirVersion": FHIR_VERSION,
        "format": ["json"],
        "rest": [{
            "mode": "server",
            "security": {"cors": False, "description": (
                "Jeton d'application délivré par l'administrateur du référentiel (Authorization: Bearer …) ; "
                "droit « read » pour lire et rechercher, « import » pour Patient/$import.")},
            "resource": [{
                "type": "Patient",
                "profile": PROFILE_PATIENT,
                "supportedProfile": [PROFILE_PATIENT_INS],
                "documentation": (
                    f"Profils FR Core {FR_CORE_VERSION} (hl7.fhir.fr.core). "
                    "Le matricule INS n'est diffusé que pour une identité qualifiée (profil fr-core-patient-ins). "
                    "POST Patient/$import reçoit un Patient d'un autre domaine d'identification. "
                    f"Recherche paginée par _count ({max_count} au plus) et _offset (0 à {max_offset} : au-delà, 400 ; "
                    "la dernière page atteignable porte un OperationOutcome) ; ordre : nom ayant répondu "
                    "(naissance ou utilisé), prénoms, date de naissance ; sans family, date de naissance d'abord."),
                "interaction": [{"code": "read"}, {"code": "search-type"}],
                "readHistory": False,
                "searchParam": [{"name": name, "type": kind} for name, kind in search_parameters.items()],
            }],
        }],
    }


def operation_outcome(severity: str, code: str, diagnostics: str, *, expression: str = "") -> dict:
    issue = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression:
        issue["expression"] = [expression]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


# --- Received Patients (import from another identification domain) ---

_FHIR_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def _validated(data) -> None:
    """Structural FHIR R4 validation by a maintained model library (R4B models, R4-compatible for Patient)."""
    from fhir.resources.R4B.patient import Patient
    from pydantic import ValidationError

    if not isinstance(data, dict) or data.get("resourceType") != "Patient":
        raise MessageError("resourceType", "une ressource Patient est attendue", code="structure")
    try:
        Patient.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        location = "Patient" + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in first["loc"])
        raise MessageError(location, f"ressource FHIR invalide : {first['msg']}", code="structure") from error


def _extension(items, url: str) -> dict | None:
    return next((item for item in items or [] if item.get("url") == url), None)


def _reliability_codes(data: dict) -> set[str]:
    """The identityStatus codes of every fr-core-identity-reliability extension (table 0445, as PID-32)."""
    codes = set()
    for reliability in (item for item in data.get("extension") or [] if item.get("url") == EXT_RELIABILITY):
        status = _extension(reliability.get("extension"), "identityStatus")
        code = ((status or {}).get("valueCoding") or {}).get("code")
        if code:
            codes.add(code)
    unknown = sorted(codes - TABLE_0445)
    if unknown:
        raise MessageError("Patient.extension:identityReliability.identityStatus",
                           f"statut de confiance « {unknown[0]} » absent de fr-core-cs-v2-0445 (table 0445 : PROV, VALI…)")
    return codes


def _received_ins(data: dict) -> tuple[ReceivedIns | None, str]:
    ins, local = None, ""
    for identifier in data.get("identifier") or []:
        system, value = identifier.get("system", ""), identifier.get("value", "")
        oid = system.removeprefix("urn:oid:")
        codes = {coding.get("code") for coding in (identifier.get("type") or {}).get("coding") or []}
        if oid in matricule.OIDS and system.startswith("urn:oid:"):
            ins = ReceivedIns(matricule=value, oid=oid)
        elif "PI" in codes and not local:
            local = value
    return ins, local


def stored_date(value: str) -> str:
    """A FHIR date (AAAA, AAAA-MM, AAAA-MM-JJ) in the portal's form, ``00`` for what it leaves
    out; raises TraitError when it is not one."""
    found = _FHIR_DATE.match(value or "")
    if not found:
        raise traits.TraitError(traits.BIRTH_DATE, "format", "date FHIR attendue : AAAA, AAAA-MM ou AAAA-MM-JJ")
    year, month, day = found.group(1), found.group(2) or "00", found.group(3) or "00"
    return traits.parse_birth_date(f"{year}-{month}-{day}").iso()


def _birth_date(data: dict) -> str:
    if not data.get("birthDate"):
        raise MessageError("Patient.birthDate", "date de naissance absente", code="required")
    try:
        return stored_date(data["birthDate"])
    except traits.TraitError as error:
        raise MessageError("Patient.birthDate", error.message) from error


def read_patient(data) -> ReceivedIdentity:
    """A received Patient as plain data; raises MessageError naming the element at fault."""
    _validated(data)
    names = data.get("name") or []
    official_index = next((index for index, name in enumerate(names) if name.get("use") == "official"), None)
    if official_index is None:
        raise MessageError("Patient.name", "nom de naissance absent : un nom d'usage « official » est attendu", code="required")
    official = names[official_index]
    where = f"Patient.name[{official_index}]"
    if not official.get("family"):
        raise MessageError(f"{where}.family", "nom de naissance absent", code="required")
    given = official.get("given") or []
    if not given:
        raise MessageError(f"{where}.given", "premier prénom de naissance absent", code="required")
    birth_list = (_extension(official.get("extension"), EXT_BIRTH_LIST_GIVEN_NAME) or {}).get("valueString") or " ".join(given)
    usual = next((name for name in names if name.get("use") == "usual"), {})
    gender = data.get("gender")
    if gender not in _SEX_FROM_GENDER:
        raise MessageError("Patient.gender", "sexe absent (male, female ou unknown attendu)", code="required")
    birthplace = _extension(data.get("extension"), EXT_BIRTHPLACE)
    insee = _extension(((birthplace or {}).get("valueAddress") or {}).get("extension"), EXT_INSEE_CODE)
    ins, local = _received_ins(data)
    return ReceivedIdentity(
        birth_name=official["family"],
        birth_given_names=birth_list,
        first_birth_given_name=given[0],
        birth_date=_birth_date(data),
        sex=_SEX_FROM_GENDER[gender],
        birthplace_code=((insee or {}).get("valueCoding") or {}).get("code", ""),
        used_name=usual.get("family", ""),
        used_given_name=(usual.get("given") or [""])[0],
        declared_status=declared_status(_reliability_codes(data), ins),
        ins=ins,
        sender_patient_id=local,
    )
