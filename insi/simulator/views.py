"""The simulator's endpoint: checks a request like the live service does and answers from the catalog.

Switches come from the INSI_SIMULATOR_* settings, each overridable per request with an
HTTP header (documented on ``Switches``).
"""
from __future__ import annotations

import logging
import random
import re
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from lxml import etree

from insi import protocol, verification
from insi.oids import NIA_OID, NIR_OID
from insi.parsing import MalformedMessage, parse_xml
from insi.simulator import responses
from insi.simulator.catalog import PLATFORM_QUIRKS, SimIdentity, identities_named
from insi.types import VerificationQuery

logger = logging.getLogger(__name__)

FAILURE_KINDS = ("fault", "http500", "timeout", "malformed")
_SOAP = f"{{{protocol.SOAP12_NS}}}"
_OPERATIONS_BY_BODY = {
    f"{{{protocol.RECSANS_NS}}}RECSANSVITALE": protocol.SEARCH_TRAITS,
    f"{{{protocol.RECVIT_NS}}}RECVITALE": protocol.SEARCH_VITALE,
    verification.REQUEST_ELEMENT: verification.OPERATION,
}
_NAME = re.compile(r"^[A-Z'][A-Z' -]*$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_COG = re.compile(r"^[0-9][0-9AB]\d{3}$")


@dataclass(frozen=True)
class Switches:
    """Behaviour switches: setting → header that overrides it for one request.

    INSI_SIMULATOR_PLATFORM_QUIRKS → X-Insi-Sim-Quirks (1/0): insi_102 where the platform sends it;
    INSI_SIMULATOR_HISTO_OUT_OF_ORDER → X-Insi-Sim-Histo-Out-Of-Order (1/0);
    INSI_SIMULATOR_LATENCY → X-Insi-Sim-Latency (seconds);
    INSI_SIMULATOR_FAILURE_RATE → X-Insi-Sim-Failure-Rate (0..1), drawn among
    INSI_SIMULATOR_FAILURE_KINDS; X-Insi-Sim-Failure (fault|http500|timeout|malformed) forces one;
    a timeout sleeps INSI_TIMEOUT + 1 s (X-Insi-Sim-Timeout-Sleep) before answering.
    """

    quirks: bool
    histo_out_of_order: bool
    latency: float
    failure: str

    @classmethod
    def of(cls, request) -> Switches:
        headers = request.headers

        def flag(name: str, default: bool) -> bool:
            value = headers.get(name)
            return default if value is None else value.strip().lower() in {"1", "true", "yes", "on"}

        forced = headers.get("X-Insi-Sim-Failure", "").strip().lower()
        rate = float(headers.get("X-Insi-Sim-Failure-Rate", settings.INSI_SIMULATOR_FAILURE_RATE))
        kinds = settings.INSI_SIMULATOR_FAILURE_KINDS
        if unknown := set(kinds) - set(FAILURE_KINDS):
            raise ImproperlyConfigured(f"INSI_SIMULATOR_FAILURE_KINDS: unknown kinds {sorted(unknown)}")
        drawn = random.choice(kinds) if kinds and rate > 0 and random.random() < rate else ""
        return cls(
            quirks=flag("X-Insi-Sim-Quirks", settings.INSI_SIMULATOR_PLATFORM_QUIRKS),
            histo_out_of_order=flag("X-Insi-Sim-Histo-Out-Of-Order", settings.INSI_SIMULATOR_HISTO_OUT_OF_ORDER),
            latency=float(headers.get("X-Insi-Sim-Latency", settings.INSI_SIMULATOR_LATENCY)),
            failure=forced if forced in FAILURE_KINDS else drawn,
        )


class _Refusal(Exception):
    def __init__(self, fault: responses.SimFault):
        self.fault = fault


@csrf_exempt
@require_POST
def lps(request):
    switches = Switches.of(request)
    if switches.latency > 0:
        time.sleep(min(switches.latency, 60.0))
    message_id = ""
    try:
        envelope = parse_xml(request.body)
        header, body = _header_and_body(envelope)
        message_id = (header.findtext(f"{{{protocol.WSA_NS}}}MessageID") or "").strip()
        operation = _operation(header, body)
        _check_caller(request, header)
        if switches.failure:
            return _failure(switches.failure, request, operation, message_id)
        payload = _answer(operation, body[0], switches)
    except MalformedMessage as exc:
        return _fault_response(responses.request_fault(f"Requête SOAP illisible : {exc}"), message_id)
    except _Refusal as refusal:
        return _fault_response(refusal.fault, message_id)
    content = responses.result_envelope(
        payload, action=protocol.response_action_of(operation), message_id=message_id
    )
    return HttpResponse(content, content_type=responses.SOAP_CONTENT_TYPE)


def _header_and_body(envelope: etree._Element) -> tuple[etree._Element, etree._Element]:
    header = envelope.find(f"{_SOAP}Header")
    body = envelope.find(f"{_SOAP}Body")
    if envelope.tag != f"{_SOAP}Envelope" or header is None or body is None or len(body) == 0:
        raise MalformedMessage("une enveloppe SOAP 1.2 avec en-tête et corps est attendue")
    return header, body


def _operation(header: etree._Element, body: etree._Element) -> str:
    """The operation named by wsa:Action, else by the body's root element; both must agree."""
    action = (header.findtext(f"{{{protocol.WSA_NS}}}Action") or "").strip()
    by_body = _OPERATIONS_BY_BODY.get(body[0].tag)
    if not action:
        if by_body is None:
            raise _Refusal(responses.request_fault("Opération inconnue"))
        return by_body
    operation = action.removeprefix(protocol.ACTION_PREFIX)
    if operation not in _OPERATIONS_BY_BODY.values():
        raise _Refusal(responses.request_fault(f"Action inconnue : {action}"))
    if operation != by_body:
        raise _Refusal(responses.request_fault(f"Le corps du message ne correspond pas à l'action {action}"))
    return operation


def _check_caller(request, header: etree._Element) -> None:
    lps = f"{{{protocol.CTXLPS_NS}}}"
    idam = (header.findtext(f"{lps}ContexteLPS/{lps}LPS/{lps}IDAM") or "").strip()
    if idam != settings.INSI_SIMULATOR_IDAM:
        raise _Refusal(responses.UNKNOWN_IDAM)
    # Set by the TLS front (a web server's SSL_CLIENT_S_DN_CN, or insi.simulator.server).
    common_name = request.META.get("SSL_CLIENT_S_DN_CN")
    if common_name is not None and common_name not in protocol.CERTIFICATE_CNS.values():
        raise _Refusal(responses.CERTIFICATE_CN)


def _answer(operation: str, element: etree._Element, switches: Switches) -> etree._Element:
    count = settings.INSI_SIMULATOR_GENERATED_COUNT
    if operation == verification.OPERATION:
        query = verification.read_request(element)
        _check_sex(query.sex)
        candidates = identities_named(query.birth_name, generated_count=count)
        return verification.response_element(any(_verified(identity, query) for identity in candidates))
    if operation == protocol.SEARCH_VITALE:
        found = _search_vitale(element, count)
    else:
        found = _search_traits(element, switches, count)
    if len(found) == 1:
        return responses.resultat(
            protocol.CR_FOUND, found[0], histo_out_of_order=switches.histo_out_of_order
        )
    code = protocol.CR_NOT_FOUND if not found else protocol.CR_SEVERAL
    return responses.resultat(code)


def _search_traits(element: etree._Element, switches: Switches, count: int) -> list[SimIdentity]:
    # Values are checked as sent, surrounding spaces included: the client must send them clean.
    def text(name: str) -> str:
        return element.findtext(f"{{{protocol.RECSANS_NS}}}{name}") or ""

    birth_name, sex, birth_date, place = text("NomNaissance"), text("Sexe"), text("DateNaissance"), text("LieuNaissance")
    given_name = " ".join(node.text or "" for node in element.findall(f"{{{protocol.RECSANS_NS}}}Prenom"))
    _check_sex(sex)
    _check_name(birth_name, "nom de naissance", birth_name=True)
    _check_name(given_name, "prénom", birth_name=False)
    if not _DATE.match(birth_date):
        raise _Refusal(responses.format_fault("date de naissance"))
    if place and not _COG.match(place):
        raise _Refusal(responses.format_fault("lieu de naissance"))
    if switches.quirks and (birth_name, given_name, sex, birth_date) in PLATFORM_QUIRKS:
        raise _Refusal(responses.TECHNICAL)
    return [
        identity
        for identity in identities_named(birth_name, generated_count=count)
        if identity.sex == sex
        and identity.birth_date == birth_date
        and identity.answers_to(given_name)
        and (not place or identity.birthplace == place)
    ]


def _search_vitale(element: etree._Element, count: int) -> list[SimIdentity]:
    ns = f"{{{protocol.RECVIT_NS}}}"

    def text(path: str) -> str:
        return (element.findtext("/".join(ns + step for step in path.split("/"))) or "").strip()

    birth_name, birth_date = text("NomNaissance"), text("DateNaissance")
    number, key = text("MatriculeIndividu/NumIdentifiant"), text("MatriculeIndividu/Cle")
    _check_name(birth_name, "nom de naissance", birth_name=True)
    if not _DATE.match(birth_date):
        raise _Refusal(responses.format_fault("date de naissance"))
    return [
        identity
        for identity in identities_named(birth_name, generated_count=count)
        if _lunar_match(birth_date, identity.birth_date)
        and (not number or (number, key) in {(identity.number, identity.key), *identity.history})
    ]


def _verified(identity: SimIdentity, query: VerificationQuery) -> bool:
    return (
        (query.number, query.key) == (identity.number, identity.key)
        and query.oid == (NIA_OID if identity.nia else NIR_OID)
        and query.given_names == identity.given_names
        and query.sex == identity.sex
        and query.birth_date == identity.birth_date
        and (not query.birthplace or query.birthplace == identity.birthplace)
    )


def _check_sex(sex: str) -> None:
    if sex not in ("M", "F"):
        raise _Refusal(responses.BAD_SEX)


def _check_name(value: str, label: str, *, birth_name: bool) -> None:
    """domain.md §1: A–Z, space, apostrophe, hyphen; no doubled or combined space/apostrophe;
    '--' only inside a birth name; a given name does not end with '-' or "'"."""
    bad = (
        not _NAME.match(value)
        or any(pair in value for pair in ("  ", "''", " '", "' "))
        or ("--" in value and (not birth_name or value.startswith("--") or value.endswith("--")))
        or (not birth_name and value[-1:] in ("-", "'"))
    )
    if bad:
        raise _Refusal(responses.format_fault(label))


def _lunar_match(query: str, stored: str) -> bool:
    """A carte Vitale date may hold 00 for an unknown day or month."""
    (year, *month_day), (stored_year, *stored_month_day) = query.split("-"), stored.split("-")
    return year == stored_year and all(part in (known, "00") for part, known in zip(month_day, stored_month_day))


def _failure(kind: str, request, operation: str, message_id: str) -> HttpResponse:
    logger.info("INSi simulator injects a failure kind=%s", kind)
    if kind == "fault":
        return _fault_response(responses.TECHNICAL, message_id)
    if kind == "http500":
        return HttpResponse(b"<html><body>500 Internal Server Error</body></html>", status=500, content_type="text/html")
    if kind == "timeout":
        time.sleep(float(request.headers.get("X-Insi-Sim-Timeout-Sleep", settings.INSI_TIMEOUT + 1)))
        return _fault_response(responses.TECHNICAL, message_id)
    # A truncated answer, as a dropped connection behind a proxy leaves it.
    whole = responses.result_envelope(
        responses.resultat(protocol.CR_NOT_FOUND),
        action=protocol.response_action_of(operation),
        message_id=message_id,
    )
    return HttpResponse(whole[: len(whole) // 2], content_type=responses.SOAP_CONTENT_TYPE)


def _fault_response(fault: responses.SimFault, message_id: str) -> HttpResponse:
    return HttpResponse(responses.fault_envelope(fault, message_id), status=500, content_type=responses.SOAP_CONTENT_TYPE)
