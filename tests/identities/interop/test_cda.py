"""The CDA R2 recordTarget fragment of CI-SIS, checked by XPath on its serialised form."""
import pytest
from lxml import etree

from identities.diffusion import shareable_ins
from identities.interop import cda
from tests.identities.interop.conftest import CASES

NS = {"v3": "urn:hl7-org:v3"}


def fragment(identity, authority) -> etree._Element:
    text = etree.tostring(cda.record_target(identity, shareable_ins(identity), authority=authority))
    return etree.fromstring(text)


def xpath(tree, path: str) -> list:
    return tree.xpath(path, namespaces=NS)


@pytest.mark.parametrize("case", CASES)
def test_the_ins_is_an_id_of_the_patient_role_only_when_the_identity_is_qualified(case, make_identity, authority):
    identity = make_identity(case)
    tree = fragment(identity, authority)
    ids = [(found.get("root"), found.get("extension")) for found in xpath(tree, "/v3:recordTarget/v3:patientRole/v3:id")]
    if case in ("QUAL", "QUAL+HOMA"):
        assert ids == [("1.2.250.1.213.1.4.10", identity.ins_matricule), (authority.oid, str(identity.ipp))]
    else:
        assert ids == [(authority.oid, str(identity.ipp))]
        if identity.ins_matricule:
            assert identity.ins_matricule.encode() not in etree.tostring(tree)


def test_names_sex_birth_date_and_birthplace_follow_ci_sis(make_identity, authority):
    identity = make_identity("QUAL", birth_given_names="JEANNE MARIE", used_name="DUPONT", used_given_name="JANE", birthplace_code="2A004")
    patient = xpath(fragment(identity, authority), "/v3:recordTarget/v3:patientRole/v3:patient")[0]
    assert xpath(patient, "string(v3:name/v3:family[@qualifier='BR'])") == "MARTIN"
    assert xpath(patient, "string(v3:name/v3:family[@qualifier='SP'])") == "DUPONT"
    assert xpath(patient, "string(v3:name/v3:given[@qualifier='BR'])") == "JEANNE"
    assert xpath(patient, "v3:name/v3:given[not(@qualifier)]/text()") == ["JEANNE MARIE"]
    assert xpath(patient, "string(v3:name/v3:given[@qualifier='CL'])") == "JANE"
    assert xpath(patient, "string(v3:administrativeGenderCode/@code)") == "F"
    assert xpath(patient, "string(v3:administrativeGenderCode/@codeSystem)") == "2.16.840.1.113883.5.1"
    assert xpath(patient, "string(v3:birthTime/@value)") == "19800517"
    assert xpath(patient, "string(v3:birthplace/v3:place/v3:addr/v3:county)") == "2A004"


def test_without_used_name_nor_birthplace_nothing_empty_is_written(make_identity, authority):
    identity = make_identity("PROV", birthplace_code="", birth_date="1950-05-00", sex="I")
    patient = xpath(fragment(identity, authority), "//v3:patient")[0]
    assert xpath(patient, "v3:name/v3:family/@qualifier") == ["BR"]
    assert xpath(patient, "v3:birthplace") == []
    assert xpath(patient, "string(v3:birthTime/@value)") == "195005"
    assert xpath(patient, "string(v3:administrativeGenderCode/@code)") == "UN"
