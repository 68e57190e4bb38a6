"""The simulator's SOAP 1.2 answers: RESULTAT envelopes and faults shaped like the live service's."""
from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from insi import protocol
from insi.oids import NIA_OID, NIR_OID
from insi.simulator.catalog import SimIdentity

SOAP_CONTENT_TYPE = "application/soap+xml; charset=utf-8"
_SOAP = f"{{{protocol.SOAP12_NS}}}"
_RES = f"{{{protocol.RESULTAT_NS}}}"
_WSA = f"{{{protocol.WSA_NS}}}"


@dataclass(frozen=True)
class SimFault:
    """A fault as the service sends it; ``subcode`` is empty where the live subcode is not known."""

    soap_code: str
    subcode: str
    code: str
    reason: str
    detail: str
    severity: str = "erreur"


UNKNOWN_IDAM = SimFault(
    "Sender", protocol.SUBCODE_UNKNOWN_IDAM, protocol.ERROR_UNKNOWN_IDAM,
    "L'accès par ce progiciel au service n'est pas autorisé. "
    "Contactez l'éditeur du progiciel ou votre responsable informatique.",
    "Numéro d'autorisation du logiciel inconnu.",
)
# The live service sends "fatal" here, outside the XSD enumeration: clients must cope.
TECHNICAL = SimFault(
    "Receiver", protocol.SUBCODE_TECHNICAL, protocol.ERROR_TECHNICAL,
    "Le service est temporairement inaccessible. Veuillez réessayer ultérieurement.",
    "Service temporairement inaccessible.", severity="fatal",
)
CERTIFICATE_CN = SimFault(
    "Sender", "", protocol.ERROR_CERTIFICATE_CN,
    "L'accès au service n'est pas autorisé avec ce certificat.",
    "Le CN du certificat doit être INSI-AUTO ou INSI-MANU.",
)
BAD_SEX = SimFault("Sender", "", protocol.ERROR_SEX, "Le format du champ sexe est incorrect.", "Sexe absent ou invalide.")


def format_fault(field_label: str) -> SimFault:
    # The live code for a malformed name/date/place is not published: this one is the simulator's.
    return SimFault(
        "Sender", "", "insi_sim_format", f"Le format du champ {field_label} est incorrect.",
        f"Caractères ou format non admis dans le champ {field_label}.",
    )


def request_fault(reason: str) -> SimFault:
    return SimFault("Sender", "", "insi_sim_requete", reason, "Requête non conforme.")


def fault_envelope(fault: SimFault, message_id: str) -> bytes:
    # Prefixes mixed as the live service mixes them (soap: on the envelope, env: on the body).
    envelope = etree.Element(f"{_SOAP}Envelope", nsmap={"soap": protocol.SOAP12_NS})
    body = etree.SubElement(envelope, f"{_SOAP}Body", nsmap={"env": protocol.SOAP12_NS})
    node = etree.SubElement(body, f"{_SOAP}Fault")
    code = etree.SubElement(node, f"{_SOAP}Code")
    etree.SubElement(code, f"{_SOAP}Value").text = f"soap:{fault.soap_code}"
    if fault.subcode:
        subcode = etree.SubElement(code, f"{_SOAP}Subcode")
        etree.SubElement(subcode, f"{_SOAP}Value").text = f"soap:{fault.subcode}"
    reason = etree.SubElement(node, f"{_SOAP}Reason")
    text = etree.SubElement(reason, f"{_SOAP}Text")
    text.set("{http://www.w3.org/XML/1998/namespace}lang", "fr")
    text.text = fault.reason
    detail = etree.SubElement(node, f"{_SOAP}Detail")
    erreur = etree.SubElement(detail, f"{{{protocol.SIRAM_NS}}}Erreur", nsmap={"siram": protocol.SIRAM_NS})
    erreur.set("code", fault.code)
    erreur.set("severite", fault.severity)
    if message_id:
        erreur.set("messageID", message_id)
    erreur.text = fault.detail
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def result_envelope(payload: etree._Element, *, action: str, message_id: str) -> bytes:
    envelope = etree.Element(f"{_SOAP}Envelope", nsmap={"soap": protocol.SOAP12_NS})
    header = etree.SubElement(envelope, f"{_SOAP}Header")
    etree.SubElement(header, f"{_WSA}Action", nsmap={"wsa": protocol.WSA_NS}).text = action
    if message_id:
        etree.SubElement(header, f"{_WSA}RelatesTo", nsmap={"wsa": protocol.WSA_NS}).text = message_id
    body = etree.SubElement(envelope, f"{_SOAP}Body", nsmap={"S": protocol.SOAP12_NS})
    body.append(payload)
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def resultat(code: str, identity: SimIdentity | None = None, *, histo_out_of_order: bool = False):
    """RESULTAT with a default namespace, as the live service writes it (the same OIDs in every environment)."""
    root = etree.Element(f"{_RES}RESULTAT", nsmap={None: protocol.RESULTAT_NS})
    cr = etree.SubElement(root, f"{_RES}CR")
    etree.SubElement(cr, f"{_RES}CodeCR").text = code
    etree.SubElement(cr, f"{_RES}LibelleCR").text = protocol.CR_LABELS[code]
    if identity is None:
        return root
    individu = etree.SubElement(root, f"{_RES}INDIVIDU")
    oid = NIA_OID if identity.nia else NIR_OID
    _ins(individu, "INSACTIF", identity.number, identity.key, oid, kind="")
    histo = [
        _ins(individu, "INSHISTO", number, key, oid, kind="NIA" if identity.nia else "NIR")
        for number, key in identity.history
    ]
    tiq = etree.SubElement(individu, f"{_RES}TIQ")
    for name, value in (
        ("NomNaissance", identity.birth_name),
        ("ListePrenom", identity.given_names),
        ("Sexe", identity.sex),
        ("DateNaissance", identity.birth_date),
        ("LieuNaissance", identity.birthplace),
    ):
        etree.SubElement(tiq, f"{_RES}{name}").text = value
    if histo_out_of_order:
        # The variant some answers show: INSHISTO after TIQ, its children in another order.
        for entry in histo:
            individu.append(entry)
            entry[:] = list(reversed(entry))
            entry[-1][:] = list(reversed(entry[-1]))
    return root


def _ins(parent, tag: str, number: str, key: str, oid: str, *, kind: str) -> etree._Element:
    node = etree.SubElement(parent, f"{_RES}{tag}")
    id_individu = etree.SubElement(node, f"{_RES}IdIndividu")
    etree.SubElement(id_individu, f"{_RES}NumIdentifiant").text = number
    etree.SubElement(id_individu, f"{_RES}Cle").text = key
    if kind:
        etree.SubElement(id_individu, f"{_RES}TypeMatricule").text = kind
    etree.SubElement(node, f"{_RES}OID").text = oid
    return node
