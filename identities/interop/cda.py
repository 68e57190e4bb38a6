"""The CDA R2 ``recordTarget`` of CI-SIS documents, for the portal's document producers (pure, no Django)."""
from __future__ import annotations

from lxml import etree

from identities.core.diffusion import SharedIns
from identities.interop.common import LocalAuthority, compact_date

NS = "urn:hl7-org:v3"
GENDER_SYSTEM = "2.16.840.1.113883.5.1"  # HL7 AdministrativeGender
_GENDER = {"M": ("M", "Masculin"), "F": ("F", "Féminin"), "I": ("UN", "Indéterminé")}


def _sub(parent, tag: str, text: str = "", **attributes) -> etree._Element:
    element = etree.SubElement(parent, f"{{{NS}}}{tag}", {key: value for key, value in attributes.items() if value})
    if text:
        element.text = text
    return element


def record_target(identity, ins: SharedIns | None, *, authority: LocalAuthority) -> etree._Element:
    """``recordTarget/patientRole`` per CI-SIS: the INS (root = OID, extension = matricule) only
    when the diffusion gate returned it, with the five traits it was cleared with."""
    five = ins or identity
    root = etree.Element(f"{{{NS}}}recordTarget", nsmap={None: NS})
    role = _sub(root, "patientRole")
    if ins is not None:
        _sub(role, "id", root=ins.oid, extension=ins.matricule)
    _sub(role, "id", root=authority.oid, extension=identity.ipp)
    patient = _sub(role, "patient")
    name = _sub(patient, "name")
    _sub(name, "given", identity.first_birth_given_name, qualifier="BR")
    _sub(name, "given", five.birth_given_names)
    if identity.used_given_name:
        _sub(name, "given", identity.used_given_name, qualifier="CL")
    _sub(name, "family", five.birth_name, qualifier="BR")
    if identity.used_name:
        _sub(name, "family", identity.used_name, qualifier="SP")
    code, label = _GENDER[five.sex]
    _sub(patient, "administrativeGenderCode", code=code, codeSystem=GENDER_SYSTEM, displayName=label)
    _sub(patient, "birthTime", value=compact_date(five.birth_date))
    if five.birthplace_code:
        place = _sub(_sub(patient, "birthplace"), "place")
        _sub(_sub(place, "addr"), "county", five.birthplace_code)
    return root
