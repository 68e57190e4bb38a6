"""PROVISIONAL adapter for INSi unitary verification: the only module that knows its message shapes.

The request (IndividuVerifie) follows insi.md; the response (RESULTAT/CR/CodeCR = OK or KO,
in the request's namespace) is a guess modelled on the search RESULTAT. When the official
Lot 2 package is published, change this module and xsd/verification-provisional.xsd: the
client and the simulator take everything about verification from here.
"""
from __future__ import annotations

from lxml import etree

from insi.parsing import MalformedMessage
from insi.types import Outcome, VerificationKo, VerificationOk, VerificationQuery

OPERATION = "verifierInsAvecTraitsIdentite"
NAMESPACE = "http://www.cnamts.fr/INSiLot2/REPUnitaire"
REQUEST_ELEMENT = f"{{{NAMESPACE}}}IndividuVerifie"
_NS = f"{{{NAMESPACE}}}"
LABELS = {"OK": "Identite verifiee", "KO": "Identite non verifiee"}


def request_body(query: VerificationQuery) -> dict:
    """The keyword arguments zeep needs to build IndividuVerifie."""
    traits = {
        "NomNaissance": query.birth_name,
        "ListePrenom": query.given_names,
        "Sexe": query.sex,
        "DateNaissance": query.birth_date,
    }
    if query.birthplace:
        traits["LieuNaissance"] = query.birthplace
    return {
        "INSFourni": {"IdIndividu": {"NumIdentifiant": query.number, "Cle": query.key}, "OID": query.oid},
        "TraitsIdentiteIndividu": traits,
    }


def parse_body(body: etree._Element) -> Outcome:
    code = (body.findtext(f"{_NS}RESULTAT/{_NS}CR/{_NS}CodeCR") or "").strip()
    label = (body.findtext(f"{_NS}RESULTAT/{_NS}CR/{_NS}LibelleCR") or "").strip()
    if code == "OK":
        return VerificationOk(label=label)
    if code == "KO":
        return VerificationKo(label=label)
    raise MalformedMessage(f"verification answer without OK/KO (got {code!r})")


def read_request(element: etree._Element) -> VerificationQuery:
    """The simulator's side: the query carried by an IndividuVerifie element."""

    def text(path: str) -> str:
        return (element.findtext("/".join(_NS + step for step in path.split("/"))) or "").strip()

    return VerificationQuery(
        number=text("INSFourni/IdIndividu/NumIdentifiant"),
        key=text("INSFourni/IdIndividu/Cle"),
        oid=text("INSFourni/OID"),
        birth_name=text("TraitsIdentiteIndividu/NomNaissance"),
        given_names=text("TraitsIdentiteIndividu/ListePrenom"),
        sex=text("TraitsIdentiteIndividu/Sexe"),
        birth_date=text("TraitsIdentiteIndividu/DateNaissance"),
        birthplace=text("TraitsIdentiteIndividu/LieuNaissance"),
    )


def response_element(verified: bool) -> etree._Element:
    """The simulator's side: the RESULTAT answering a verification."""
    code = "OK" if verified else "KO"
    resultat = etree.Element(f"{_NS}RESULTAT", nsmap={None: NAMESPACE})
    cr = etree.SubElement(resultat, f"{_NS}CR")
    etree.SubElement(cr, f"{_NS}CodeCR").text = code
    etree.SubElement(cr, f"{_NS}LibelleCR").text = LABELS[code]
    return resultat
