"""The real client against the simulator over HTTP: every identity of insi.md's test book, faults, retries."""
import logging
import socket

import pytest
from lxml import etree

from insi import protocol
from insi.client import InsiClient, InsiConfig, get_client
from insi.errors import InsiConfigurationError
from insi.models import Exchange
from insi.types import (
    CallContext,
    FailureKind,
    Fault,
    Found,
    NotFound,
    Several,
    TraitsQuery,
    TransportFailure,
    VerificationKo,
    VerificationOk,
    VerificationQuery,
    VitaleQuery,
)

pytestmark = pytest.mark.django_db

NIR = "1.2.250.1.213.1.4.8"
NIR_TEST = "1.2.250.1.213.1.4.10"
NIA = "1.2.250.1.213.1.4.9"

# insi.md's table: query → matricule, OID, returned given names and place.
TEST_BOOK = [
    (("ADRTROIS", "DOMINIQUE", "F", "1997-02-26", ""), "297022A02077878", NIR, "DOMINIQUE", "2A020"),
    (("ADRTROIS", "TOUSSAINT", "M", "1960-01-01", ""), "160012B02077713", NIR, "TOUSSAINT", "2B020"),
    (("ADRUN", "ZOE", "F", "1975-12-31", ""), "275126322074974", NIR, "ZOE", "63220"),
    (
        ("D'ARTAGNAN DE L'HERAULT", "PIERRE-ALAIN", "M", "2001-06-17", ""),
        "101066322075460", NIR, "PIERRE-ALAIN GUNTHER", "63220",
    ),
    (
        ("ECETINSI", "PIERRE-ALAIN", "M", "2009-07-14", ""),
        "109076322083489", NIR, "PIERRE-ALAIN MURIEL FLORIANT", "63220",
    ),
    (("PROVISOIRE", "MATRICULE", "M", "2009-07-01", ""), "109076322088835", NIA, "MATRICULE", "63220"),
    (("DE VINCI", "LEONARDO", "M", "2014-02-01", "63220"), "114026322083356", NIR, "LEONARDO PIERO", "63220"),
    (("TCHITCHI", "CATARINA", "F", "1936-06-21", ""), "236066322083656", NIR, "CATARINA BELLA", "63220"),
    (("CORSE", "ANTHONY", "M", "1980-03-02", ""), "180032B02040123", NIR, "ANTHONY", "2B020"),
    (("HERMANN", "GATIEN", "M", "1981-03-24", ""), "181036322045660", NIR, "GATIEN", "63220"),
    (
        ("NESSI", "MICHELANGELO", "M", "2010-08-07", ""),
        "110086322083060", NIR, "MICHELANGELO ANTHONY", "63220",
    ),
    (("NESSI", "NATHALIE", "F", "1977-07-14", ""), "277076322082910", NIR, "NATHALIE", "63220"),
]


def search(context, name, given, sex, born, place=""):
    return get_client().search_by_traits(TraitsQuery(name, given, sex, born, place), context=context)


@pytest.mark.parametrize(("query", "matricule", "oid", "given_names", "place"), TEST_BOOK, ids=lambda v: None)
def test_it_returns_each_test_book_identity_with_its_matricule_and_traits(
    on_simulator, automatic, query, matricule, oid, given_names, place
):
    outcome = search(automatic, *query)

    assert isinstance(outcome, Found)
    assert outcome.active.matricule == matricule
    assert outcome.active.oid == oid
    assert outcome.traits.birth_name == query[0]
    assert outcome.traits.given_names == given_names
    assert (outcome.traits.sex, outcome.traits.birth_date, outcome.traits.birthplace) == (query[2], query[3], place)


def test_it_returns_02_without_the_birthplace_and_00_with_63220(on_simulator, automatic):
    without_place = search(automatic, "DE VINCI", "LEONARDO", "M", "2014-02-01")
    with_place = search(automatic, "DE VINCI", "LEONARDO", "M", "2014-02-01", "63220")

    assert isinstance(without_place, Several)
    assert without_place.code == "02"
    assert isinstance(with_place, Found)
    assert with_place.active.matricule == "114026322083356"


def test_a_nia_comes_back_with_the_nia_oid_and_is_flagged_as_such(on_simulator, automatic):
    outcome = search(automatic, "PROVISOIRE", "MATRICULE", "M", "2009-07-01")

    assert outcome.active.oid == NIA
    assert outcome.active.is_nia


def test_corsican_matricules_keep_2a_and_2b_and_their_keys_check(on_simulator, automatic):
    dominique = search(automatic, "ADRTROIS", "DOMINIQUE", "F", "1997-02-26")
    toussaint = search(automatic, "ADRTROIS", "TOUSSAINT", "M", "1960-01-01")

    assert dominique.active.number == "297022A020778" and dominique.active.key_checks
    assert toussaint.active.number == "160012B020777" and toussaint.active.key_checks


def test_it_returns_the_ins_history_of_ecetinsi(on_simulator, automatic):
    outcome = search(automatic, "ECETINSI", "MURIEL", "M", "2009-07-14")

    assert [entry.matricule for entry in outcome.history] == ["209076322083439"]
    assert outcome.history[0].oid == NIR


def test_a_history_that_repeats_the_active_matricule_is_returned_as_sent(on_simulator, automatic):
    outcome = search(automatic, "CORSE", "ANTHONY", "M", "1980-03-02")

    assert [entry.matricule for entry in outcome.history] == [outcome.active.matricule]


def test_hermann_keys_that_do_not_check_are_kept_and_only_logged(on_simulator, automatic, caplog):
    with caplog.at_level(logging.WARNING, logger="insi"):
        outcome = search(automatic, "HERMANN", "GATIEN", "M", "1981-03-24")

    assert outcome.active.matricule == "181036322045660"
    assert not outcome.active.key_checks
    assert [entry.matricule for entry in outcome.history] == ["181036322045660", "281036322045610"]
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 3
    assert all("1810363220456" not in message and "HERMANN" not in message for message in warnings)


def test_the_out_of_order_history_variant_is_read_the_same(on_simulator, automatic):
    in_order = search(automatic, "HERMANN", "GATIEN", "M", "1981-03-24")
    on_simulator.INSI_SIMULATOR_HISTO_OUT_OF_ORDER = True
    out_of_order = search(automatic, "HERMANN", "GATIEN", "M", "1981-03-24")

    response = bytes(Exchange.objects.get(pk=out_of_order.exchange_id).response_body)
    assert response.index(b"<TIQ>") < response.index(b"<INSHISTO>")
    assert out_of_order.history == in_order.history


@pytest.mark.parametrize("environment", ["test", "production"])
def test_the_simulator_answers_with_the_oids_insi_answers_with_in_every_environment(on_simulator, automatic, environment):
    # The qualification platform answers .4.8 / .4.9 too (captures of the published test identities).
    on_simulator.INS_ENVIRONMENT = environment

    nir = search(automatic, "ADRUN", "ZOE", "F", "1975-12-31")
    nia = search(automatic, "PROVISOIRE", "MATRICULE", "M", "2009-07-01")

    assert nir.active.oid == NIR
    assert nia.active.oid == NIA


@pytest.mark.parametrize("given_name", ["PIERRE", "PAUL", "JACQUES", "PIERRE PAUL JACQUES"])
def test_houilles_is_not_found_whatever_the_given_name(on_simulator, automatic, given_name):
    outcome = search(automatic, "HOUILLES", given_name, "M", "1993-01-27")

    assert isinstance(outcome, NotFound)
    assert outcome.code == "01"


def test_tchitchi_ola_is_01_as_in_the_test_book(on_simulator, automatic):
    assert isinstance(search(automatic, "TCHITCHI", "OLA", "F", "1936-06-21"), NotFound)


def test_tchitchi_ola_gets_insi_102_with_the_platform_quirks_and_is_retried(on_simulator, automatic):
    on_simulator.INSI_SIMULATOR_PLATFORM_QUIRKS = True

    outcome = search(automatic, "TCHITCHI", "OLA", "F", "1936-06-21")

    assert isinstance(outcome, Fault)
    assert (outcome.subcode, outcome.code, outcome.soap_code) == ("siram_40", "insi_102", "Receiver")
    assert outcome.severity == "fatal"
    assert outcome.attempts == 3


def test_d_aeion_coeur_gets_siram_40_insi_102_on_the_platform(on_simulator, automatic):
    on_simulator.INSI_SIMULATOR_PLATFORM_QUIRKS = True

    outcome = search(automatic, "D'AEION", "COEUR", "M", "1987-01-01", "2B020")

    assert isinstance(outcome, Fault)
    assert (outcome.subcode, outcome.code) == ("siram_40", "insi_102")
    assert outcome.http_status == 500


def test_an_unknown_idam_gets_siram_100_desir_550_once(on_simulator, automatic):
    on_simulator.INSI_IDAM = "NOT-AUTHORISED"

    outcome = search(automatic, "ADRUN", "ZOE", "F", "1975-12-31")

    assert isinstance(outcome, Fault)
    assert (outcome.soap_code, outcome.subcode, outcome.code) == ("Sender", "siram_100", "desir_550")
    assert outcome.severity == "erreur"
    assert "autorisation" in outcome.detail
    assert outcome.attempts == 1
    assert outcome.message_id == Exchange.objects.get(pk=outcome.exchange_id).message_id


@pytest.mark.parametrize("sex", ["", "X", "I"])
def test_a_missing_or_malformed_sex_gets_insi_24_once(on_simulator, automatic, sex):
    outcome = search(automatic, "ADRUN", "ZOE", sex, "1975-12-31")

    assert isinstance(outcome, Fault)
    assert outcome.code == "insi_24"
    assert outcome.attempts == 1


@pytest.mark.parametrize(
    ("name", "given_name"),
    [("D'ÆION", "CŒUR"), ("adrun", "ZOE"), ("ADRUN2", "ZOE"), ("ADRUN", "ZOE-"), ("-ADRUN", "ZOE"), ("AD  RUN", "ZOE")],
)
def test_characters_outside_the_insi_rules_get_a_format_fault_once(on_simulator, automatic, name, given_name):
    outcome = search(automatic, name, given_name, "F", "1975-12-31")

    assert isinstance(outcome, Fault)
    assert outcome.soap_code == "Sender"
    assert "format" in outcome.message
    assert outcome.attempts == 1


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("fault", "insi_102"),
        ("http500", "http_500"),
        ("malformed", "malformed"),
    ],
)
def test_technical_failures_are_retried_up_to_the_limit(simulator_url, insi_settings, automatic, kind, expected):
    insi_settings.INSI_ENDPOINT = simulator_url
    client = InsiClient(InsiConfig.from_settings(), extra_http_headers={"X-Insi-Sim-Failure": kind})

    outcome = client.search_by_traits(TraitsQuery("ADRUN", "ZOE", "F", "1975-12-31"), context=automatic)

    assert outcome.technical
    assert outcome.code == expected
    assert outcome.attempts == 3
    assert list(Exchange.objects.order_by("attempt").values_list("attempt", "return_code")) == [
        (1, expected), (2, expected), (3, expected)
    ]


def test_a_timeout_is_retried_and_reported(simulator_url, insi_settings, automatic):
    insi_settings.INSI_TIMEOUT = 0.3
    insi_settings.INSI_RETRY_ATTEMPTS = 2
    insi_settings.INSI_ENDPOINT = simulator_url
    client = InsiClient(
        InsiConfig.from_settings(),
        extra_http_headers={"X-Insi-Sim-Failure": "timeout", "X-Insi-Sim-Timeout-Sleep": "0.6"},
    )

    outcome = client.search_by_traits(TraitsQuery("ADRUN", "ZOE", "F", "1975-12-31"), context=automatic)

    assert isinstance(outcome, TransportFailure)
    assert outcome.kind == FailureKind.TIMEOUT
    assert outcome.attempts == 2
    assert Exchange.objects.filter(return_code="timeout").count() == 2


def test_a_fraction_of_failures_leaves_the_other_calls_answered(on_simulator, automatic):
    on_simulator.INSI_SIMULATOR_FAILURE_RATE = 1.0
    on_simulator.INSI_SIMULATOR_FAILURE_KINDS = ["http500"]
    failed = search(automatic, "ADRUN", "ZOE", "F", "1975-12-31")
    on_simulator.INSI_SIMULATOR_FAILURE_RATE = 0.0
    answered = search(automatic, "ADRUN", "ZOE", "F", "1975-12-31")

    assert failed.code == "http_500"
    assert isinstance(answered, Found)


def test_a_refused_connection_is_a_technical_failure(insi_settings, automatic):
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    insi_settings.INSI_ENDPOINT = f"http://127.0.0.1:{port}/insi-simulator/lps"
    insi_settings.INSI_RETRY_ATTEMPTS = 2

    outcome = get_client().search_by_traits(TraitsQuery("ADRUN", "ZOE", "F", "1975-12-31"), context=automatic)

    assert isinstance(outcome, TransportFailure)
    assert outcome.kind == FailureKind.CONNECTION
    assert outcome.attempts == 2


def test_the_carte_vitale_search_finds_the_beneficiary(on_simulator, automatic):
    outcome = get_client().search_with_vitale(
        VitaleQuery(beneficiary_number="1090763220834", beneficiary_key="89", birth_name="ECETINSI", birth_date="2009-07-14"),
        context=automatic,
    )

    assert isinstance(outcome, Found)
    assert outcome.traits.given_names == "PIERRE-ALAIN MURIEL FLORIANT"


def test_the_carte_vitale_search_accepts_a_lunar_birth_date(on_simulator, automatic):
    outcome = get_client().search_with_vitale(
        VitaleQuery(beneficiary_number="2770763220829", beneficiary_key="10", birth_name="NESSI", birth_date="1977-00-00"),
        context=automatic,
    )

    assert outcome.active.matricule == "277076322082910"


def test_the_carte_vitale_search_with_another_matricule_finds_nobody(on_simulator, automatic):
    outcome = get_client().search_with_vitale(
        VitaleQuery(beneficiary_number="1090763220888", beneficiary_key="35", birth_name="ECETINSI", birth_date="2009-07-14"),
        context=automatic,
    )

    assert isinstance(outcome, NotFound)


def test_the_carte_vitale_data_travels_in_the_bam_context(on_simulator, automatic):
    outcome = get_client().search_with_vitale(
        VitaleQuery(
            beneficiary_number="1090763220834", beneficiary_key="89", birth_name="ECETINSI", birth_date="2009-07-14",
            insured_number="2090763220834", insured_key="39", regime="01", fund="631", centre="0000",
        ),
        context=automatic,
    )

    couverture = _header(outcome).find(f"{{{protocol.CTXBAM_NS}}}ContexteBAM/{{{protocol.CTXBAM_NS}}}COUVERTURE")
    texts = {etree.QName(node).localname: node.text for node in couverture.iter() if node.text}
    assert texts["GrandRegime"] == "01"
    assert [node.text for node in couverture.iter(f"{{{protocol.CTXBAM_NS}}}Num")] == ["2090763220834", "1090763220834"]


ECETINSI_VERIFIED = VerificationQuery(
    number="1090763220834", key="89", oid=NIR, birth_name="ECETINSI",
    given_names="PIERRE-ALAIN MURIEL FLORIANT", sex="M", birth_date="2009-07-14", birthplace="63220",
)


def test_verification_is_ok_when_matricule_and_traits_match(on_simulator, automatic):
    outcome = get_client().verify(ECETINSI_VERIFIED, context=automatic)

    assert isinstance(outcome, VerificationOk)
    assert outcome.code == "OK"


@pytest.mark.parametrize(
    "change",
    [{"key": "88"}, {"given_names": "PIERRE-ALAIN"}, {"oid": NIR_TEST}, {"birth_date": "2009-07-15"}],
    ids=["wrong key", "partial given names", "test OID instead of the one INSi gave", "other date"],
)
def test_verification_is_ko_when_anything_differs(on_simulator, automatic, change):
    outcome = get_client().verify(VerificationQuery(**{**vars(ECETINSI_VERIFIED), **change}), context=automatic)

    assert isinstance(outcome, VerificationKo)


def _header(outcome):
    request = etree.fromstring(bytes(Exchange.objects.get(pk=outcome.exchange_id).request_body))
    return request.find(f"{{{protocol.SOAP12_NS}}}Header")


def test_the_headers_are_those_insi_md_describes_in_certificate_mode(on_simulator, automatic):
    outcome = search(automatic, "ADRUN", "ZOE", "F", "1975-12-31")
    header = _header(outcome)

    assert [etree.QName(child).localname for child in header] == ["ContexteLPS", "MessageID", "ContexteBAM", "Action"]
    lps = header.find(f"{{{protocol.CTXLPS_NS}}}ContexteLPS")
    assert (lps.get("Version"), lps.get("Nature")) == ("01_00", "CTXLPS")
    idam = lps.find(f".//{{{protocol.CTXLPS_NS}}}IDAM")
    assert (idam.text, idam.get("R")) == ("INSPORTAL-TEST", "4")
    ctx = f"{{{protocol.CTXLPS_NS}}}"
    assert lps.findtext(f"{ctx}LPS/{ctx}Nom") == f"urn:lps:{on_simulator.INSI_LPS_NAME}:{on_simulator.INSI_LPS_VERSION}"
    assert lps.findtext(f"{ctx}LPS/{ctx}Instance") == on_simulator.INSI_INSTANCE_ID
    assert lps.findtext(f"{ctx}Emetteur") == on_simulator.INSI_EMITTER
    message_id = header.findtext(f"{{{protocol.WSA_NS}}}MessageID")
    assert message_id.startswith("uuid:") and not message_id.startswith("urn:")
    assert lps.findtext(f"{ctx}Id") == message_id.removeprefix("uuid:")
    bam = header.find(f"{{{protocol.CTXBAM_NS}}}ContexteBAM")
    assert bam.get("Version") == "01_02"
    assert len(bam.find(f"{{{protocol.CTXBAM_NS}}}COUVERTURE")) == 0
    assert header.findtext(f"{{{protocol.WSA_NS}}}Action") == protocol.action_of(protocol.SEARCH_TRAITS)


def test_card_mode_inserts_the_supplied_assertion_verbatim_first(on_simulator, front_desk):
    assertion = (
        b'<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a1" Version="2.0">'
        b'<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignatureValue>c2lnbmVk</ds:SignatureValue>'
        b"</ds:Signature></saml:Assertion>"
    )
    context = CallContext.manual(front_desk, assertions=(assertion,))

    outcome = search(context, "ADRUN", "ZOE", "F", "1975-12-31")

    security = _header(outcome)[0]
    assert etree.QName(security) == etree.QName(protocol.WSSE_NS, "Security")
    # Exclusive canonical form: what the assertion's signature covers.
    assert etree.tostring(security[0], method="c14n", exclusive=True) == etree.tostring(
        etree.fromstring(assertion), method="c14n", exclusive=True
    )
    assert isinstance(outcome, Found)


def test_the_timeout_is_always_set_on_the_transport(on_simulator, automatic):
    search(automatic, "ADRUN", "ZOE", "F", "1975-12-31")

    _, transport, _ = get_client()._service(automatic.mode)
    assert transport.operation_timeout == on_simulator.INSI_TIMEOUT


def test_a_client_without_timeout_is_refused(insi_settings):
    insi_settings.INSI_TIMEOUT = 0.0

    with pytest.raises(InsiConfigurationError, match="INSI_TIMEOUT"):
        InsiClient(InsiConfig.from_settings())
