"""The CDA R2 recordTarget fragment of CI-SIS, checked by XPath on its serialised form."""
import re

import pytest
from lxml import etree

from identities.core.diffusion import shareable_ins
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
        assert ids == [("1.2.250.1.213.1.4.8", identity.ins_matricule), (authority.oid, identity.ipp)]
    else:
        assert ids == [(authority.oid, identity.ipp)]
        assert re.fullmatch(r"IP[0-9]{8}", identity.ipp)  # the short IPP
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


# --- The CDA API: what a document producer receives over HTTP ---

def record_target_over_http(client, identity, token: str):
    return client.get(f"/cda/Patient/{identity.uuid}/recordTarget", secure=True, HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.mark.parametrize("case", CASES)
def test_a_document_producer_gets_the_ins_only_for_a_qualified_identity(case, client, token_for, make_identity, authority):
    identity = make_identity(case)
    response = record_target_over_http(client, identity, token_for("read"))
    assert response.status_code == 200 and response["Content-Type"].startswith("application/xml")
    tree = etree.fromstring(response.content)
    roots = [found.get("root") for found in xpath(tree, "/v3:recordTarget/v3:patientRole/v3:id")]
    if case in ("QUAL", "QUAL+HOMA"):
        assert roots == ["1.2.250.1.213.1.4.8", authority.oid]
    else:
        assert roots == [authority.oid]
        assert not identity.ins_matricule or identity.ins_matricule.encode() not in response.content
        assert b"1.2.250.1.213.1.4." not in response.content  # no INS OID either


def test_the_cda_api_wants_an_application_token_with_the_read_scope(client, token_for, make_identity):
    identity = make_identity("QUAL")
    anonymous = client.get(f"/cda/Patient/{identity.uuid}/recordTarget", secure=True)
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"].startswith("Bearer")
    assert identity.ins_matricule.encode() not in anonymous.content
    forbidden = record_target_over_http(client, identity, token_for("import", name="Import seul"))
    assert forbidden.status_code == 403 and "n'a pas le droit « read »" in forbidden.content.decode()
    missing = client.get("/cda/Patient/00000000-0000-0000-0000-000000000000/recordTarget", secure=True,
                         HTTP_AUTHORIZATION=f"Bearer {token_for('read', name='DPI 2')}")
    assert missing.status_code == 404
