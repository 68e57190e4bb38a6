"""Reading responses by namespace: whatever the prefixes, the order of INSHISTO, or the shape of a failure."""
import pytest

from insi.parsing import parse_search_body, read_response
from insi.types import FailureKind, Fault, Found, NotFound, Several, TransportFailure

SOAP = "http://www.w3.org/2003/05/soap-envelope"
FOUND_WITH_NS2_PREFIX = f"""<?xml version="1.0" encoding="UTF-8"?>
<env:Envelope xmlns:env="{SOAP}"><env:Header/><env:Body>
<ns2:RESULTAT xmlns:ns2="http://www.cnamts.fr/INSiResultat">
<ns2:CR><ns2:CodeCR>00</ns2:CodeCR><ns2:LibelleCR>OK</ns2:LibelleCR></ns2:CR>
<ns2:INDIVIDU>
<ns2:INSACTIF><ns2:IdIndividu><ns2:NumIdentifiant>1090763220834</ns2:NumIdentifiant><ns2:Cle>89</ns2:Cle></ns2:IdIndividu>
<ns2:OID>1.2.250.1.213.1.4.10</ns2:OID></ns2:INSACTIF>
<ns2:TIQ><ns2:NomNaissance>ECETINSI</ns2:NomNaissance><ns2:Prenom>PIERRE-ALAIN</ns2:Prenom>
<ns2:ListePrenom>PIERRE-ALAIN MURIEL FLORIANT</ns2:ListePrenom><ns2:Sexe>M</ns2:Sexe>
<ns2:DateNaissance>2009-00-00</ns2:DateNaissance><ns2:LieuNaissance>63220</ns2:LieuNaissance></ns2:TIQ>
<ns2:INSHISTO><ns2:DateFin>2009-07-01</ns2:DateFin><ns2:OID>1.2.250.1.213.1.4.10</ns2:OID>
<ns2:DateDeb>2010-01-01</ns2:DateDeb>
<ns2:IdIndividu><ns2:TypeMatricule>NIR</ns2:TypeMatricule><ns2:Cle>39</ns2:Cle><ns2:NumIdentifiant>2090763220834</ns2:NumIdentifiant></ns2:IdIndividu>
</ns2:INSHISTO>
</ns2:INDIVIDU></ns2:RESULTAT></env:Body></env:Envelope>""".encode()


def result(code: str, prefix: str = "S") -> bytes:
    return (
        f'<soap:Envelope xmlns:soap="{SOAP}"><{prefix}:Body xmlns:{prefix}="{SOAP}">'
        f'<RESULTAT xmlns="http://www.cnamts.fr/INSiResultat"><CR><CodeCR>{code}</CodeCR>'
        f"<LibelleCR>libelle</LibelleCR></CR></RESULTAT></{prefix}:Body></soap:Envelope>"
    ).encode()


def test_it_reads_a_found_answer_with_prefixed_elements_and_history_after_tiq():
    outcome = read_response(200, FOUND_WITH_NS2_PREFIX, parse_search_body)

    assert isinstance(outcome, Found)
    assert outcome.active.matricule == "109076322083489"
    assert outcome.traits.first_given_name == "PIERRE-ALAIN"
    assert outcome.traits.birth_date == "2009-00-00"
    (history,) = outcome.history
    assert (history.matricule, history.kind, history.start, history.end) == (
        "209076322083439", "NIR", "2010-01-01", "2009-07-01"
    )


@pytest.mark.parametrize("prefix", ["S", "env", "soap"])
def test_it_reads_01_and_02_whatever_the_body_prefix(prefix):
    assert isinstance(read_response(200, result("01", prefix), parse_search_body), NotFound)
    assert isinstance(read_response(200, result("02", prefix), parse_search_body), Several)


def test_it_reads_a_fault_whose_codes_carry_prefixes():
    fault = f"""<soap:Envelope xmlns:soap="{SOAP}"><env:Body xmlns:env="{SOAP}"><soap:Fault>
    <soap:Code><soap:Value>soap:Receiver</soap:Value><soap:Subcode><soap:Value>soap:siram_40</soap:Value></soap:Subcode></soap:Code>
    <soap:Reason><soap:Text xml:lang="fr">Service temporairement inaccessible</soap:Text></soap:Reason>
    <soap:Detail><siram:Erreur xmlns:siram="urn:siram" code="insi_102" severite="fatal" messageID="uuid:1">Erreur technique</siram:Erreur></soap:Detail>
    </soap:Fault></env:Body></soap:Envelope>""".encode()

    outcome = read_response(500, fault, parse_search_body)

    assert outcome == Fault(
        code="insi_102", subcode="siram_40", soap_code="Receiver", message="Service temporairement inaccessible",
        severity="fatal", detail="Erreur technique", message_id="uuid:1", http_status=500,
    )
    assert outcome.technical


def test_an_html_error_page_is_an_http_failure_that_is_retried():
    outcome = read_response(502, b"<html><body>Bad gateway</body></html>", parse_search_body)

    assert outcome == TransportFailure(kind=FailureKind.HTTP, http_status=502, message=outcome.message)
    assert outcome.code == "http_502"
    assert outcome.technical


def test_a_client_error_without_fault_is_not_retried():
    outcome = read_response(404, b"not found", parse_search_body)

    assert outcome.code == "http_404"
    assert not outcome.technical


@pytest.mark.parametrize(
    "content",
    [
        FOUND_WITH_NS2_PREFIX[: len(FOUND_WITH_NS2_PREFIX) // 2],
        result("07"),
        f'<soap:Envelope xmlns:soap="{SOAP}"><soap:Body><Autre/></soap:Body></soap:Envelope>'.encode(),
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]><x>&e;</x>',
    ],
    ids=["truncated", "unknown CodeCR", "no RESULTAT", "DTD"],
)
def test_an_unusable_200_answer_is_a_malformed_failure(content):
    outcome = read_response(200, content, parse_search_body)

    assert isinstance(outcome, TransportFailure)
    assert outcome.kind == FailureKind.MALFORMED
