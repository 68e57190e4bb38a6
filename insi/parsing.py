"""Reading INSi responses by namespace: the SOAP 1.2 envelope, faults and RESULTAT, whatever the prefixes."""
from __future__ import annotations

from collections.abc import Callable

from lxml import etree

from insi import protocol
from insi.types import (
    FailureKind,
    Fault,
    Found,
    InsNumber,
    NotFound,
    Outcome,
    ReturnedTraits,
    Several,
    TransportFailure,
)

# No entity expansion, no network, no DTD: responses come from outside.
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
_SOAP = f"{{{protocol.SOAP12_NS}}}"
_RES = f"{{{protocol.RESULTAT_NS}}}"


class MalformedMessage(ValueError):
    """Not the expected SOAP message: unreadable XML, a DTD, or missing parts."""


def parse_xml(content: bytes) -> etree._Element:
    """The document's root, refusing DTDs; raises MalformedMessage."""
    try:
        root = etree.fromstring(content, _PARSER)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise MalformedMessage(f"unreadable XML: {exc}") from exc
    if root.getroottree().docinfo.doctype:
        raise MalformedMessage("a DTD in a SOAP message is refused")
    return root


def read_response(status: int, content: bytes, parse_body: Callable[[etree._Element], Outcome]) -> Outcome:
    """The outcome of one HTTP exchange: a fault, what ``parse_body`` reads in the Body, or a transport failure."""
    try:
        body = _body(parse_xml(content))
        fault = body.find(f"{_SOAP}Fault")
        if fault is not None:
            return parse_fault(fault, http_status=status)
        if status >= 300:
            return TransportFailure(kind=FailureKind.HTTP, http_status=status, message="HTTP error without a SOAP fault")
        return parse_body(body)
    except MalformedMessage as exc:
        if status >= 300:
            return TransportFailure(kind=FailureKind.HTTP, http_status=status, message=str(exc))
        return TransportFailure(kind=FailureKind.MALFORMED, http_status=status, message=str(exc))


def parse_fault(fault: etree._Element, *, http_status: int | None = None) -> Fault:
    erreur = fault.find(f"{_SOAP}Detail/{{{protocol.SIRAM_NS}}}Erreur")
    subcode = _local(fault.findtext(f"{_SOAP}Code/{_SOAP}Subcode/{_SOAP}Value"))
    return Fault(
        code=(erreur.get("code", "") if erreur is not None else "") or subcode or "soap_fault",
        subcode=subcode,
        soap_code=_local(fault.findtext(f"{_SOAP}Code/{_SOAP}Value")),
        message=(fault.findtext(f"{_SOAP}Reason/{_SOAP}Text") or "").strip(),
        severity=erreur.get("severite", "") if erreur is not None else "",
        detail=(erreur.text or "").strip() if erreur is not None else "",
        message_id=erreur.get("messageID", "") if erreur is not None else "",
        http_status=http_status,
    )


def parse_search_body(body: etree._Element) -> Outcome:
    """RESULTAT of either search: 00 with the individual, 01, 02."""
    resultat = body.find(f".//{_RES}RESULTAT")
    if resultat is None:
        raise MalformedMessage("no RESULTAT in the response body")
    code = _required(resultat, f"{_RES}CR/{_RES}CodeCR", "CodeCR")
    label = (resultat.findtext(f"{_RES}CR/{_RES}LibelleCR") or "").strip()
    if code == protocol.CR_NOT_FOUND:
        return NotFound(label=label)
    if code == protocol.CR_SEVERAL:
        return Several(label=label)
    if code != protocol.CR_FOUND:
        raise MalformedMessage(f"unknown CodeCR {code!r}")
    individu = resultat.find(f"{_RES}INDIVIDU")
    if individu is None:
        raise MalformedMessage("CodeCR 00 without INDIVIDU")
    active = individu.find(f"{_RES}INSACTIF")
    tiq = individu.find(f"{_RES}TIQ")
    if active is None or tiq is None:
        raise MalformedMessage("INDIVIDU without INSACTIF or TIQ")
    return Found(
        label=label,
        active=_ins_number(active),
        # findall keeps document order wherever INSHISTO stands (some answers put it after TIQ).
        history=tuple(_ins_number(entry) for entry in individu.findall(f"{_RES}INSHISTO")),
        traits=ReturnedTraits(
            birth_name=_text(tiq, "NomNaissance"),
            given_names=_text(tiq, "ListePrenom"),
            first_given_name=_text(tiq, "Prenom"),
            sex=_text(tiq, "Sexe"),
            birth_date=_text(tiq, "DateNaissance"),
            birthplace=_text(tiq, "LieuNaissance"),
        ),
    )


def _ins_number(node: etree._Element) -> InsNumber:
    # Children are looked up by name, not position: the order varies between answers.
    return InsNumber(
        number=_required(node, f"{_RES}IdIndividu/{_RES}NumIdentifiant", "NumIdentifiant"),
        key=(node.findtext(f"{_RES}IdIndividu/{_RES}Cle") or "").strip(),
        kind=(node.findtext(f"{_RES}IdIndividu/{_RES}TypeMatricule") or "").strip(),
        oid=_required(node, f"{_RES}OID", "OID"),
        start=_text(node, "DateDeb"),
        end=_text(node, "DateFin"),
    )


def _body(root: etree._Element) -> etree._Element:
    if root.tag != f"{_SOAP}Envelope":
        raise MalformedMessage("not a SOAP 1.2 envelope")
    body = root.find(f"{_SOAP}Body")
    if body is None:
        raise MalformedMessage("SOAP envelope without Body")
    return body


def _text(node: etree._Element, name: str) -> str:
    return (node.findtext(f"{_RES}{name}") or "").strip()


def _required(node: etree._Element, path: str, name: str) -> str:
    value = (node.findtext(path) or "").strip()
    if not value:
        raise MalformedMessage(f"missing {name}")
    return value


def _local(qname: str | None) -> str:
    """``soap:siram_100`` → ``siram_100``: fault codes are QNames with any prefix."""
    return (qname or "").strip().rpartition(":")[2]
