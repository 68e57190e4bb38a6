"""The retry policy, checked at the outbound seam (requests' Session.post) without a server."""
from unittest import mock

import pytest
import requests

from insi.client import get_client
from insi.models import Exchange
from insi.types import Fault, NotFound, TraitsQuery, TransportFailure

pytestmark = pytest.mark.django_db

SOAP = "http://www.w3.org/2003/05/soap-envelope"
NOT_FOUND = (
    f'<soap:Envelope xmlns:soap="{SOAP}"><soap:Body><RESULTAT xmlns="http://www.cnamts.fr/INSiResultat">'
    "<CR><CodeCR>01</CodeCR><LibelleCR>Aucune identite trouvee</LibelleCR></CR></RESULTAT></soap:Body></soap:Envelope>"
).encode()
QUERY = TraitsQuery("ADRUN", "ZOE", "F", "1975-12-31")


def fault(subcode: str, code: str) -> bytes:
    return (
        f'<soap:Envelope xmlns:soap="{SOAP}"><soap:Body><soap:Fault><soap:Code><soap:Value>soap:Sender</soap:Value>'
        f"<soap:Subcode><soap:Value>soap:{subcode}</soap:Value></soap:Subcode></soap:Code>"
        f'<soap:Reason><soap:Text xml:lang="fr">raison</soap:Text></soap:Reason><soap:Detail>'
        f'<siram:Erreur xmlns:siram="urn:siram" code="{code}" severite="erreur">detail</siram:Erreur>'
        "</soap:Detail></soap:Fault></soap:Body></soap:Envelope>"
    ).encode()


def response(status: int, content: bytes) -> requests.Response:
    answer = requests.Response()
    answer.status_code = status
    answer._content = content
    return answer


@pytest.fixture
def network(insi_settings):
    insi_settings.INSI_ENDPOINT = "https://insi.invalid/lps"
    insi_settings.INSI_RETRY_BACKOFF = 0.5
    with mock.patch.object(requests.Session, "post") as post, mock.patch("insi.client.time.sleep") as sleep:
        yield post, sleep


def test_a_technical_error_is_retried_with_a_doubling_backoff_until_an_answer(network, automatic):
    post, sleep = network
    post.side_effect = [
        response(500, fault("siram_40", "insi_102")),
        requests.ReadTimeout("read timed out"),
        response(200, NOT_FOUND),
    ]

    outcome = get_client().search_by_traits(QUERY, context=automatic)

    assert isinstance(outcome, NotFound)
    assert outcome.attempts == 3
    assert [call.args for call in sleep.call_args_list] == [(0.5,), (1.0,)]
    assert list(Exchange.objects.order_by("attempt").values_list("return_code", flat=True)) == ["insi_102", "timeout", "01"]


def test_a_functional_fault_is_not_retried(network, automatic):
    post, sleep = network
    post.return_value = response(500, fault("siram_100", "desir_550"))

    outcome = get_client().search_by_traits(QUERY, context=automatic)

    assert isinstance(outcome, Fault) and outcome.code == "desir_550"
    assert post.call_count == 1
    sleep.assert_not_called()


def test_a_functional_answer_is_not_retried(network, automatic):
    post, _ = network
    post.return_value = response(200, NOT_FOUND)

    get_client().search_by_traits(QUERY, context=automatic)

    assert post.call_count == 1


def test_a_server_error_page_is_retried_and_the_last_failure_returned(network, automatic):
    post, _ = network
    post.return_value = response(503, b"<html>maintenance</html>")

    outcome = get_client().search_by_traits(QUERY, context=automatic)

    assert isinstance(outcome, TransportFailure) and outcome.code == "http_503"
    assert post.call_count == 3


def test_every_post_carries_the_configured_timeout(network, automatic, insi_settings):
    post, _ = network
    post.return_value = response(200, NOT_FOUND)

    get_client().search_by_traits(QUERY, context=automatic)

    assert post.call_args.kwargs["timeout"] == insi_settings.INSI_TIMEOUT


def test_the_exact_bytes_posted_are_the_ones_logged(network, automatic):
    post, _ = network
    post.return_value = response(200, NOT_FOUND)

    outcome = get_client().search_by_traits(QUERY, context=automatic)

    exchange = Exchange.objects.get(pk=outcome.exchange_id)
    assert bytes(exchange.request_body) == post.call_args.kwargs["data"]
    assert bytes(exchange.response_body) == NOT_FOUND
