"""The simulator's Appli carte Vitale side: what the application transmits when the desk scans its QR code.

The ApCV payload is not public (docs/workflows.md, « Appli carte Vitale », gives the shape
assumed). Here the QR code carries ``APCV1:<token>``; the desk's reader posts the token as
JSON ``{"jeton": "<token>"}`` and gets the beneficiary back. The simulator knows one token
per person of insi.md's test book, ``APCV-<matricule with key>``, and answers them with the
same traits and INS as its INSi side; any other token is 404 ``jeton inconnu ou expiré``.
"""
from __future__ import annotations

import json

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from insi.oids import NIA_OID, NIR_OID
from insi.simulator.catalog import TEST_IDENTITIES, SimIdentity

TOKEN_PREFIX = "APCV-"
QR_PREFIX = "APCV1:"


def token_of(identity: SimIdentity) -> str:
    return TOKEN_PREFIX + identity.matricule


def qr_code_of(identity: SimIdentity) -> str:
    """What a scanner reads from the person's application (the demo and the tests type it)."""
    return QR_PREFIX + token_of(identity)


def beneficiary(identity: SimIdentity) -> dict:
    return {
        "nomNaissance": identity.birth_name, "prenoms": identity.given_names, "sexe": identity.sex,
        "dateNaissance": identity.birth_date, "lieuNaissance": identity.birthplace,
        "matriculeINS": identity.matricule, "oid": NIA_OID if identity.nia else NIR_OID,
        "nomUtilise": "", "prenomUtilise": "",
    }


@csrf_exempt
@require_POST
def apcv(request):
    try:
        token = json.loads(request.body or b"{}").get("jeton", "")
    except (ValueError, AttributeError):
        return JsonResponse({"erreur": "requête illisible : JSON {\"jeton\": …} attendu"}, status=400)
    person = next((identity for identity in TEST_IDENTITIES if token_of(identity) == token), None)
    if person is None:
        return JsonResponse({"erreur": "jeton inconnu ou expiré"}, status=404)
    return JsonResponse({"beneficiaire": beneficiary(person)})
