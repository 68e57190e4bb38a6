"""Conformance with the interface description: requests and responses against the XSDs, the official WSDL loaded offline.

The official package is read from ../shared/reference/insi-wsdl when it is there; those
tests skip otherwise. The project's own schemas are checked in every case.
"""
import pytest
import xmlschema
from lxml import etree

from insi import protocol
from insi.client import get_client
from insi.errors import InsiConfigurationError
from insi.models import Exchange
from insi.simulator.catalog import TEST_IDENTITIES
from insi.transport import DEFAULT_WSDL, WSDL_DIR, LocalSchemaTransport, load_document
from insi.types import Found, TraitsQuery, VerificationQuery, VitaleQuery

pytestmark = pytest.mark.django_db

OFFICIAL = {
    "RECSANSVITALE": "xsd/ServiceIdentiteCertifiee/INSi_RECSANS_INS.xsd",
    "RECVITALE": "xsd/ServiceIdentiteCertifiee/INSi_RECVITALE_INS.xsd",
    "RESULTAT": "xsd/ServiceIdentiteCertifiee/INSi_RESULTAT_INS.xsd",
    "ContexteLPS": "xsd/CTX/ROOT_ctxlps_CTXLPS_V01_00.xsd",
    "ContexteBAM": "xsd/CTX/ROOT_ctxbam_CTXBAM_V01_02.xsd",
    "Erreur": "xsd/schema_faultSOAP_V01_01.xsd",
}
OWN = {
    "RECSANSVITALE": "xsd/recsans.xsd",
    "RECVITALE": "xsd/recvitale.xsd",
    "RESULTAT": "xsd/resultat.xsd",
    "ContexteLPS": "xsd/ctxlps.xsd",
    "ContexteBAM": "xsd/ctxbam.xsd",
    "Erreur": "xsd/siram-fault.xsd",
    "MessageID": "xsd/ws-addr.xsd",
    "Action": "xsd/ws-addr.xsd",
    "IndividuVerifie": "xsd/verification-provisional.xsd",
}
VITALE = VitaleQuery(
    beneficiary_number="1090763220834", beneficiary_key="89", birth_name="ECETINSI", birth_date="2009-07-14",
    insured_number="2090763220834", insured_key="39", regime="01", fund="631", centre="0000",
)
SEARCHES = {
    "traits": lambda client, context: client.search_by_traits(
        TraitsQuery("DE VINCI", "LEONARDO", "M", "2014-02-01", "63220"), context=context
    ),
    "vitale": lambda client, context: client.search_with_vitale(VITALE, context=context),
}


def schema(folder, relative) -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(folder / relative))


def exchange_parts(outcome):
    """The header and body children of the request, and the payload of the answer."""
    exchange = Exchange.objects.get(pk=outcome.exchange_id)
    request = etree.fromstring(bytes(exchange.request_body))
    answer = etree.fromstring(bytes(exchange.response_body))
    soap = f"{{{protocol.SOAP12_NS}}}"
    return [*request.find(f"{soap}Header"), *request.find(f"{soap}Body")], answer.find(f"{soap}Body")[0]


@pytest.mark.parametrize("search", SEARCHES)
def test_requests_validate_against_the_official_schemas(reference_wsdl_dir, on_simulator, automatic, search):
    outcome = SEARCHES[search](get_client(), automatic)
    parts, _ = exchange_parts(outcome)

    checked = [part for part in parts if etree.QName(part).localname in OFFICIAL]
    for part in checked:
        schema(reference_wsdl_dir, OFFICIAL[etree.QName(part).localname]).validate(part)
    assert len(checked) == 3  # ContexteLPS, ContexteBAM and the body; wsa: is W3C's


@pytest.mark.parametrize("search", SEARCHES)
def test_requests_validate_against_the_projects_own_schemas(on_simulator, automatic, search):
    outcome = SEARCHES[search](get_client(), automatic)
    parts, _ = exchange_parts(outcome)

    assert {etree.QName(part).localname for part in parts} >= {"ContexteLPS", "ContexteBAM", "MessageID", "Action"}
    for part in parts:
        schema(WSDL_DIR, OWN[etree.QName(part).localname]).validate(part)


def test_the_provisional_verification_request_validates_against_its_schema(on_simulator, automatic):
    outcome = get_client().verify(
        VerificationQuery("1090763220834", "89", "1.2.250.1.213.1.4.8", "ECETINSI", "PIERRE-ALAIN MURIEL FLORIANT", "M", "2009-07-14"),
        context=automatic,
    )
    parts, answer = exchange_parts(outcome)

    schema(WSDL_DIR, OWN["IndividuVerifie"]).validate(parts[-1])
    schema(WSDL_DIR, OWN["IndividuVerifie"]).validate(answer)


def all_answers(automatic):
    """One answer of each kind: every test identity (00), 01, 02, and the out-of-order variant excluded."""
    client = get_client()
    outcomes = [
        client.search_by_traits(
            TraitsQuery(person.birth_name, person.given_names, person.sex, person.birth_date, person.birthplace),
            context=automatic,
        )
        for person in TEST_IDENTITIES
    ]
    outcomes.append(client.search_by_traits(TraitsQuery("HOUILLES", "PIERRE", "M", "1993-01-27"), context=automatic))
    outcomes.append(client.search_by_traits(TraitsQuery("DE VINCI", "LEONARDO", "M", "2014-02-01"), context=automatic))
    assert sum(isinstance(outcome, Found) for outcome in outcomes) == len(TEST_IDENTITIES)
    return [exchange_parts(outcome)[1] for outcome in outcomes]


def test_simulator_answers_validate_against_the_official_resultat_schema(reference_wsdl_dir, on_simulator, automatic):
    resultat = schema(reference_wsdl_dir, OFFICIAL["RESULTAT"])

    for answer in all_answers(automatic):
        resultat.validate(answer)


def test_simulator_answers_validate_against_the_projects_own_resultat_schema(on_simulator, automatic):
    resultat = schema(WSDL_DIR, OWN["RESULTAT"])

    for answer in all_answers(automatic):
        resultat.validate(answer)


def fault_detail(on_simulator, automatic, query):
    outcome = get_client().search_by_traits(query, context=automatic)
    _, fault = exchange_parts(outcome)
    return fault.find(f".//{{{protocol.SIRAM_NS}}}Erreur")


def test_simulator_fault_details_follow_the_official_fault_schema(reference_wsdl_dir, on_simulator, automatic):
    on_simulator.INSI_SIMULATOR_PLATFORM_QUIRKS = True
    fault_schema = schema(reference_wsdl_dir, OFFICIAL["Erreur"])

    fault_schema.validate(fault_detail(on_simulator, automatic, TraitsQuery("ADRUN", "ZOE", "X", "1975-12-31")))
    # Like the live service, insi_102 says severite="fatal", outside the published enumeration.
    technical = fault_detail(on_simulator, automatic, TraitsQuery("TCHITCHI", "OLA", "F", "1936-06-21"))
    assert technical.get("severite") == "fatal"
    assert not fault_schema.is_valid(technical)


@pytest.fixture
def on_official_wsdl(reference_wsdl_dir, on_simulator):
    on_simulator.INSI_WSDL = str(reference_wsdl_dir / "DESIR_ICIR_EXP_1.5.0.wsdl")
    return on_simulator


@pytest.mark.parametrize("search", SEARCHES)
def test_the_client_works_with_the_official_wsdl(on_official_wsdl, automatic, search):
    outcome = SEARCHES[search](get_client(), automatic)

    assert isinstance(outcome, Found)
    parts, _ = exchange_parts(outcome)
    assert [etree.QName(part).localname for part in parts][:4] == ["ContexteLPS", "MessageID", "ContexteBAM", "Action"]


def test_the_official_wsdl_builds_the_same_message_as_the_projects_own(on_official_wsdl, automatic):
    official = get_client().search_by_traits(TraitsQuery("ADRUN", "ZOE", "F", "1975-12-31"), context=automatic)
    on_official_wsdl.INSI_WSDL = str(DEFAULT_WSDL)
    own = get_client().search_by_traits(TraitsQuery("ADRUN", "ZOE", "F", "1975-12-31"), context=automatic)

    def shape(outcome):
        return [etree.QName(node).text for part in exchange_parts(outcome)[0] for node in part.iter()]

    assert shape(official) == shape(own)


def test_verification_is_refused_clearly_by_a_wsdl_without_the_operation(on_official_wsdl, automatic):
    query = VerificationQuery("1090763220834", "89", "1.2.250.1.213.1.4.8", "ECETINSI", "PIERRE-ALAIN", "M", "2009-07-14")

    with pytest.raises(InsiConfigurationError, match="verifierInsAvecTraitsIdentite"):
        get_client().verify(query, context=automatic)


def test_loading_a_wsdl_never_fetches_a_remote_schema(tmp_path):
    wsdl = (WSDL_DIR / "ServiceIdentiteCertifiee-v1.wsdl").read_text()
    (tmp_path / "xsd").symlink_to(WSDL_DIR / "xsd")
    remote = wsdl.replace('schemaLocation="xsd/recsans.xsd"', 'schemaLocation="http://example.org/recsans.xsd"')
    (tmp_path / "remote.wsdl").write_text(remote)

    with pytest.raises(InsiConfigurationError, match="example.org"):
        load_document(str(tmp_path / "remote.wsdl"))


def test_the_ws_addressing_import_is_answered_locally():
    content = LocalSchemaTransport().load("http://www.w3.org/2006/03/addressing/ws-addr.xsd")

    assert b"MessageID" in content
