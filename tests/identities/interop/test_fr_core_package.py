"""What the FHIR API emits, checked against the published FR Core package it pins (hl7.fhir.fr.core#2.2.0).

The package is not in the repository (nor on npm, and its registry is not reachable from the
development machines): point ``FR_CORE_PACKAGE`` at its ``package.tgz`` — the one published with
the release, ``https://hl7.fr/ig/fhir/core/2.2.0/package.tgz``, also kept in Interop'Santé's
``IG-website-release`` repository (``www/ig/fhir/core/2.2.0/package.tgz``; docs/interop.md gives its
SHA-256) — or at the folder it unpacks to. Without it these tests skip, saying so.

For every status, attribute, collection channel, validating document and INS kind the portal
can emit: each profile, extension and sub-extension is defined by the package, and each coding of
an FR Core code system names a code that system publishes, inside the value set its element is
bound to when the binding is required.
"""
from __future__ import annotations

import dataclasses
import json
import os
import tarfile
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from identities.core.diffusion import shareable_ins
from identities.interop import fhir
from identities.interop.common import Evidence
from tests.identities.interop.conftest import CASES

PACKAGE = os.environ.get("FR_CORE_PACKAGE", "")
pytestmark = pytest.mark.skipif(
    not PACKAGE or not Path(PACKAGE).exists(),
    reason="FR_CORE_PACKAGE ne désigne pas le paquet publié hl7.fhir.fr.core#2.2.0 (package.tgz ou son dossier)",
)
DOCUMENTS = ("passeport", "cni", "titre-sejour", "eidas", "appli-carte-vitale", "extrait-naissance", "livret-famille", "tiers-confiance")
INS_OIDS = ("1.2.250.1.213.1.4.8", "1.2.250.1.213.1.4.9", "1.2.250.1.213.1.4.10", "1.2.250.1.213.1.4.11")


def _resources(path: Path) -> list[dict]:
    if path.is_dir():
        return [json.loads(file.read_text(encoding="utf-8")) for file in (path / "package").glob("*.json")]
    with tarfile.open(path) as archive:
        return [json.load(archive.extractfile(member)) for member in archive.getmembers()
                if member.isfile() and member.name.startswith("package/") and member.name.count("/") == 1
                and member.name.endswith(".json")]


@pytest.fixture(scope="module")
def package() -> dict[str, dict]:
    resources = _resources(Path(PACKAGE))
    manifest = next(resource for resource in resources if resource.get("name") == "hl7.fhir.fr.core" and "resourceType" not in resource)
    assert (manifest["version"], manifest["fhirVersions"]) == (fhir.FR_CORE_VERSION, [fhir.FHIR_VERSION])
    return {resource["url"]: resource for resource in resources if "url" in resource and "resourceType" in resource}


def _codes(code_system: dict) -> set[str]:
    return {concept["code"] for concept in code_system.get("concept", [])}


def _value_set_codes(value_set: dict, package: dict) -> set[str]:
    codes = set()
    for include in value_set["compose"]["include"]:
        listed = {concept["code"] for concept in include.get("concept", [])}
        codes |= {(include["system"], code) for code in (listed or _codes(package.get(include["system"], {})))}
    return codes


def _binding(definition: dict, element_id: str) -> dict:
    return next((element.get("binding", {}) for element in definition["snapshot"]["element"] if element["id"] == element_id), {})


def _emitted(make_identity, authority):
    zone = ZoneInfo("Europe/Paris")
    for case in CASES:
        identity = make_identity(case)
        shared = shareable_ins(identity)
        for channel in ("SM", "CV", "INSI", "CB", "RFID", "AV"):
            identity.channel = channel
            for document in DOCUMENTS:
                evidence = Evidence(document, None, identity.created_at)
                for oid in INS_OIDS if shared else (None,):
                    ins = dataclasses.replace(shared, oid=oid) if shared else None
                    yield fhir.patient_resource(identity, ins, authority=authority, zone=zone, evidence=evidence)


def test_every_profile_extension_and_code_the_api_emits_is_in_the_published_package(package, make_identity, authority):
    reliability = package[fhir.EXT_RELIABILITY]
    slices = {element["sliceName"] for element in reliability["snapshot"]["element"]
              if element["path"] == "Extension.extension" and "sliceName" in element}
    checked = set()
    for resource in _emitted(make_identity, authority):
        (profile,) = resource["meta"]["profile"]
        assert package[profile]["type"] == "Patient"
        for extension in resource["extension"]:
            if extension["url"].startswith(fhir.FR_CORE):
                assert package[extension["url"]]["type"] == "Extension", extension["url"]
        for extension in (item for item in resource["extension"] if item["url"] == fhir.EXT_RELIABILITY):
            assert {part["url"] for part in extension["extension"]} <= slices
            for part in extension["extension"]:
                coding = part.get("valueCoding")
                if coding is None:
                    continue
                assert coding["code"] in _codes(package[coding["system"]]), (part["url"], coding)
                binding = _binding(package[profile], f"Patient.extension:identityReliability.extension:{part['url']}.value[x]") \
                    or _binding(reliability, f"Extension.extension:{part['url']}.value[x]")
                if binding.get("strength") == "required":
                    allowed = _value_set_codes(package[binding["valueSet"].partition("|")[0]], package)
                    assert (coding["system"], coding["code"]) in allowed, (profile, part["url"], coding["code"])
                checked.add((part["url"], coding["code"]))
        for identifier in resource["identifier"]:
            for coding in identifier["type"]["coding"]:
                if coding["system"].startswith(fhir.FR_CORE):
                    assert coding["code"] in _codes(package[coding["system"]]), coding
                    checked.add(("identifier", coding["code"]))
    # Every kind of value was met: statuses, attributes, channels, documents, the four INS types.
    assert {code for url, code in checked if url == "identityStatus"} == {"PROV", "VALI", "DOUT", "FICT", "HOMA"}
    assert {code for url, code in checked if url == "identifier"} == {"INS-NIR", "INS-NIA", "INS-NIR-TEST", "INS-NIR-DEMO"}
    assert {code for url, code in checked if url == "methodCollection"} == {"SM", "CV", "INSI", "CB", "RFID"}


def test_the_fr_core_lists_the_portal_pins_are_the_published_ones(package):
    assert _codes(package[fhir.CS_METHOD_COLLECTION]) == fhir.METHOD_COLLECTION_CODES
    assert _codes(package[fhir.CS_VALIDATION_MODE]) == fhir.VALIDATION_MODES
    ins_modes = _value_set_codes(package[f"{fhir.FR_CORE}/ValueSet/fr-core-vs-mode-validation-identity-ins"], package)
    assert {code for _, code in ins_modes} == fhir.INS_VALIDATION_MODES
    assert _codes(package[fhir.CS_RELIABILITY]) == fhir.TABLE_0445
