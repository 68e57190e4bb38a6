"""The simulator seen from the wire: dispatch, checks, switches and the generated catalog."""
import pytest
import requests
from lxml import etree

from insi import protocol
from insi.simulator import generated_identity
from insi.simulator.catalog import identities_named

SOAP = protocol.SOAP12_NS
SOAP_HEADERS = {"Content-Type": "application/soap+xml; charset=utf-8"}


def envelope(body: str, *, action: str | None = protocol.action_of(protocol.SEARCH_TRAITS), idam="INSPORTAL-TEST") -> bytes:
    action_header = f'<wsa:Action xmlns:wsa="{protocol.WSA_NS}">{action}</wsa:Action>' if action else ""
    return (
        f'<e:Envelope xmlns:e="{SOAP}"><e:Header>'
        f'<l:ContexteLPS xmlns:l="{protocol.CTXLPS_NS}" Version="01_00"><l:Id>1</l:Id><l:Temps>2024-01-01T00:00:00Z</l:Temps>'
        f'<l:LPS><l:IDAM R="4">{idam}</l:IDAM></l:LPS></l:ContexteLPS>'
        f'<wsa:MessageID xmlns:wsa="{protocol.WSA_NS}">uuid:42</wsa:MessageID>{action_header}'
        f"</e:Header><e:Body>{body}</e:Body></e:Envelope>"
    ).encode()


def traits(name, given, sex, born, place="") -> str:
    place_element = f"<r:LieuNaissance>{place}</r:LieuNaissance>" if place else ""
    return (
        f'<r:RECSANSVITALE xmlns:r="{protocol.RECSANS_NS}"><r:NomNaissance>{name}</r:NomNaissance>'
        f"<r:Prenom>{given}</r:Prenom><r:Sexe>{sex}</r:Sexe><r:DateNaissance>{born}</r:DateNaissance>{place_element}"
        "</r:RECSANSVITALE>"
    )


def post(url, content: bytes, **headers):
    return requests.post(url, data=content, headers={**SOAP_HEADERS, **headers}, timeout=5)


def code_of(answer) -> str:
    root = etree.fromstring(answer.content)
    erreur = root.find(f".//{{{protocol.SIRAM_NS}}}Erreur")
    if erreur is not None:
        return erreur.get("code")
    return root.findtext(f".//{{{protocol.RESULTAT_NS}}}CodeCR")


def test_it_dispatches_on_the_body_when_there_is_no_action(on_simulator):
    answer = post(on_simulator.INSI_ENDPOINT, envelope(traits("ADRUN", "ZOE", "F", "1975-12-31"), action=None))

    assert answer.status_code == 200
    assert code_of(answer) == "00"


def test_an_unknown_action_is_a_sender_fault(on_simulator):
    answer = post(on_simulator.INSI_ENDPOINT, envelope(traits("ADRUN", "ZOE", "F", "1975-12-31"), action="urn:autre"))

    assert answer.status_code == 500
    assert code_of(answer) == "insi_sim_requete"


def test_an_action_that_does_not_match_the_body_is_refused(on_simulator):
    body = traits("ADRUN", "ZOE", "F", "1975-12-31")
    answer = post(on_simulator.INSI_ENDPOINT, envelope(body, action=protocol.action_of(protocol.SEARCH_VITALE)))

    assert code_of(answer) == "insi_sim_requete"


def test_faults_are_soap_12_with_http_500_and_echo_the_message_id(on_simulator):
    answer = post(on_simulator.INSI_ENDPOINT, envelope(traits("ADRUN", "ZOE", "F", "1975-12-31"), idam="INCONNU"))

    assert answer.status_code == 500
    assert answer.headers["Content-Type"].startswith("application/soap+xml")
    fault = etree.fromstring(answer.content).find(f"{{{SOAP}}}Body/{{{SOAP}}}Fault")
    assert fault.findtext(f"{{{SOAP}}}Code/{{{SOAP}}}Value") == "soap:Sender"
    assert fault.findtext(f"{{{SOAP}}}Code/{{{SOAP}}}Subcode/{{{SOAP}}}Value") == "soap:siram_100"
    erreur = fault.find(f"{{{SOAP}}}Detail/{{{protocol.SIRAM_NS}}}Erreur")
    assert (erreur.get("code"), erreur.get("severite"), erreur.get("messageID")) == ("desir_550", "erreur", "uuid:42")


def test_a_request_that_is_not_xml_gets_a_sender_fault(on_simulator):
    answer = post(on_simulator.INSI_ENDPOINT, b"<not-closed")

    assert answer.status_code == 500
    assert code_of(answer) == "insi_sim_requete"


def test_only_post_is_served(on_simulator):
    assert requests.get(on_simulator.INSI_ENDPOINT, timeout=5).status_code == 405


@pytest.mark.parametrize(
    ("name", "given"),
    [("D'ARTAGNAN DE L'HERAULT", "PIERRE-ALAIN"), ("MARTIN--DURAND", "ANNE"), ("O'NEIL", "JEAN MARIE")],
)
def test_names_within_the_character_rules_are_searched(on_simulator, name, given):
    assert code_of(post(on_simulator.INSI_ENDPOINT, envelope(traits(name, given, "M", "2001-06-17")))) in {"00", "01"}


@pytest.mark.parametrize(
    ("name", "given"),
    [
        ("ÉLODIE", "ANNE"), ("MARTIN", "anne"), ("MARTIN", "ANNE--MARIE"), ("MARTIN", "ANNE'"),
        ("MARTIN '", "ANNE"), ("MARTIN_", "ANNE"), (" MARTIN", "ANNE"), ("MARTIN", "ANNE  MARIE"),
    ],
)
def test_names_outside_the_character_rules_get_a_format_fault(on_simulator, name, given):
    assert code_of(post(on_simulator.INSI_ENDPOINT, envelope(traits(name, given, "F", "2001-06-17")))) == "insi_sim_format"


@pytest.mark.parametrize(("born", "place"), [("17/06/2001", ""), ("2001-06-17", "632")])
def test_a_malformed_date_or_place_gets_a_format_fault(on_simulator, born, place):
    answer = post(on_simulator.INSI_ENDPOINT, envelope(traits("ADRUN", "ZOE", "F", born, place)))

    assert code_of(answer) == "insi_sim_format"


def test_the_quirks_switch_also_works_per_request(on_simulator):
    request = envelope(traits("TCHITCHI", "OLA", "F", "1936-06-21"))

    assert code_of(post(on_simulator.INSI_ENDPOINT, request)) == "01"
    assert code_of(post(on_simulator.INSI_ENDPOINT, request, **{"X-Insi-Sim-Quirks": "1"})) == "insi_102"


def test_a_forced_http_500_is_not_soap(on_simulator):
    answer = post(on_simulator.INSI_ENDPOINT, envelope(traits("ADRUN", "ZOE", "F", "1975-12-31")), **{"X-Insi-Sim-Failure": "http500"})

    assert answer.status_code == 500
    assert answer.headers["Content-Type"].startswith("text/html")


def test_forced_malformed_xml_cannot_be_parsed(on_simulator):
    answer = post(on_simulator.INSI_ENDPOINT, envelope(traits("ADRUN", "ZOE", "F", "1975-12-31")), **{"X-Insi-Sim-Failure": "malformed"})

    assert answer.status_code == 200
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(answer.content)


def test_latency_is_accepted_per_request(on_simulator):
    answer = post(on_simulator.INSI_ENDPOINT, envelope(traits("ADRUN", "ZOE", "F", "1975-12-31")), **{"X-Insi-Sim-Latency": "0.01"})

    assert code_of(answer) == "00"


def test_the_response_action_is_the_request_action_plus_response(on_simulator):
    answer = post(on_simulator.INSI_ENDPOINT, envelope(traits("ADRUN", "ZOE", "F", "1975-12-31")))

    header = etree.fromstring(answer.content).find(f"{{{SOAP}}}Header")
    assert header.findtext(f"{{{protocol.WSA_NS}}}Action") == protocol.response_action_of(protocol.SEARCH_TRAITS)
    assert header.findtext(f"{{{protocol.WSA_NS}}}RelatesTo") == "uuid:42"


@pytest.mark.parametrize("n", [0, 1, 3, 25, 98, 12_345, 999_998])
def test_each_generated_identity_is_found_by_its_own_traits(on_simulator, n):
    person = generated_identity(n)
    request = envelope(traits(person.birth_name, person.given_names.split()[1], person.sex, person.birth_date, person.birthplace))

    answer = etree.fromstring(post(on_simulator.INSI_ENDPOINT, request).content)

    res = f"{{{protocol.RESULTAT_NS}}}"
    assert answer.findtext(f".//{res}CodeCR") == "00"
    assert answer.findtext(f".//{res}INSACTIF/{res}IdIndividu/{res}NumIdentifiant") == person.number
    expected_oid = "1.2.250.1.213.1.4.9" if person.nia else "1.2.250.1.213.1.4.8"
    assert answer.findtext(f".//{res}INSACTIF/{res}OID") == expected_oid
    assert len(answer.findall(f".//{res}INSHISTO")) == len(person.history)


def test_generated_identities_beyond_the_configured_count_do_not_exist(on_simulator):
    on_simulator.INSI_SIMULATOR_GENERATED_COUNT = 10
    person = generated_identity(10)

    answer = post(on_simulator.INSI_ENDPOINT, envelope(traits(person.birth_name, person.given_names, person.sex, person.birth_date)))

    assert code_of(answer) == "01"


def test_the_generated_catalog_is_deterministic_and_keys_check():
    from insi.oids import key_checks

    people = [generated_identity(n) for n in range(0, 5000, 7)]

    assert people == [generated_identity(n) for n in range(0, 5000, 7)]
    assert all(key_checks(p.number, p.key) and len(p.number) == 13 for p in people)
    assert sum(p.nia for p in people) > 0 and sum(bool(p.history) for p in people) > 0


def test_a_generated_pair_of_homonyms_shares_every_trait_but_the_birthplace():
    first, second = generated_identity(298), generated_identity(299)

    assert (first.birth_name, first.given_names, first.sex, first.birth_date) == (
        second.birth_name, second.given_names, second.sex, second.birth_date
    )
    assert first.birthplace != second.birthplace and first.number != second.number
    assert identities_named(first.birth_name, generated_count=1000) == [first, second]
