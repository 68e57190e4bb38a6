"""The Appli carte Vitale (ApCV) at the desk: the reader seam, and the intake that qualifies an identity without INSi.

The ApCV payload is not public: everything it is assumed to be is behind ``ApcvReader``
(docs/workflows.md, « Appli carte Vitale »). The reader used is ``HttpApcvReader``: the QR
code scanned holds ``APCV1:<token>``, exchanged at ``APCV_ENDPOINT`` (JSON ``{"jeton": …}``)
for the beneficiary's strict traits and INS; the simulator serves that endpoint for tests
and the demo (insi/simulator/apcv.py). Another payload needs another reader, nothing else.

RNIV volet 1 v2.0: an identity from the ApCV is qualified without an INSi call. The intake
runs the anteriority search first (the INS held, then the traits), creates or matches, and
hands the record to ``services.identity_qualify_from_apcv``; a mismatch with a record's
locked traits goes to the CIV's worklist and changes nothing.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

import requests
from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from identities.core import services, traits, worklists
from identities.core.errors import RuleViolation, require_permission
from identities.core.models import Channel, Identity, WorklistItem
from identities.core.services import InsiIdentity, InsiMatricule
from identities.workflows.card_intake import open_or_create

logger = logging.getLogger(__name__)

QR_PREFIX = "APCV1:"


@dataclass(frozen=True)
class ApcvBeneficiary:
    """The person the application transmits (the holder or a dependant), as the national base knows them."""

    birth_name: str
    birth_given_names: str
    sex: str
    birth_date: str  # AAAA-MM-JJ
    birthplace_code: str
    matricule: str  # 15 characters, key included
    oid: str
    used_name: str = ""
    used_given_name: str = ""

    def as_national_identity(self) -> InsiIdentity:
        return InsiIdentity(active=InsiMatricule(matricule=self.matricule, oid=self.oid), birth_name=self.birth_name,
                            birth_given_names=self.birth_given_names, sex=self.sex, birth_date=self.birth_date,
                            birthplace_code=self.birthplace_code)


class ApcvReader(Protocol):
    """Turns what the desk scanned from the application into the beneficiary; RuleViolation (field ``scanned``) otherwise."""

    def read(self, scanned: str) -> ApcvBeneficiary: ...


# The JSON the endpoint is assumed to answer: {"beneficiaire": {key: value}}, keys → ApcvBeneficiary fields.
_FIELDS = {
    "nomNaissance": "birth_name", "prenoms": "birth_given_names", "sexe": "sex", "dateNaissance": "birth_date",
    "lieuNaissance": "birthplace_code", "matriculeINS": "matricule", "oid": "oid", "nomUtilise": "used_name",
    "prenomUtilise": "used_given_name",
}
_REQUIRED = ("nomNaissance", "prenoms", "sexe", "dateNaissance", "matriculeINS", "oid")


class HttpApcvReader:
    """The QR token exchanged over HTTPS for the beneficiary (the shape assumed in docs/workflows.md)."""

    def __init__(self, endpoint: str, *, timeout: float):
        self.endpoint = endpoint
        self.timeout = timeout

    def read(self, scanned: str) -> ApcvBeneficiary:
        text = (scanned or "").strip()
        if not text.startswith(QR_PREFIX) or len(text) == len(QR_PREFIX):
            raise RuleViolation(_("ce code n'est pas un QR code de l'Appli carte Vitale (« APCV1:… » attendu)"), field="scanned")
        if not self.endpoint:
            raise RuleViolation(_("le service de l'Appli carte Vitale n'est pas configuré (APCV_ENDPOINT)"), field="scanned")
        try:
            response = requests.post(self.endpoint, json={"jeton": text[len(QR_PREFIX):]}, timeout=self.timeout)
        except requests.RequestException as error:
            logger.warning("ApCV service unreachable: %s", type(error).__name__)
            raise RuleViolation(_("service de l'Appli carte Vitale injoignable : réessayez ou saisissez l'identité"),
                                field="scanned") from None
        if response.status_code == 404:
            raise RuleViolation(_("QR code inconnu ou expiré : demandez au patient de le régénérer dans l'application"),
                                field="scanned")
        try:
            data = response.json()["beneficiaire"] if response.ok else None
        except (ValueError, KeyError, TypeError):
            data = None
        if not isinstance(data, dict) or any(not str(data.get(key) or "").strip() for key in _REQUIRED):
            logger.warning("ApCV service answered status=%s without a usable beneficiary", response.status_code)
            raise RuleViolation(_("réponse de l'Appli carte Vitale inexploitable : rien n'est enregistré"), field="scanned")
        return ApcvBeneficiary(**{name: str(data.get(key) or "").strip() for key, name in _FIELDS.items()})


def get_reader() -> ApcvReader:
    return HttpApcvReader(settings.APCV_ENDPOINT, timeout=settings.APCV_TIMEOUT)


@dataclass
class ApcvIntake:
    """What the scan led to: the identity (created or matched) and the outcome, or candidates to judge first."""

    beneficiary: ApcvBeneficiary
    identity: Identity | None = None
    applied: bool = False
    message: str = ""
    candidates: list[Identity] = field(default_factory=list)
    worklist_item: WorklistItem | None = None


def apcv_intake(
    *, actor, scanned: str, identity_id: int | None = None, acknowledged_candidates=(), reader: ApcvReader | None = None,
) -> ApcvIntake:
    """Read the application, search anteriority, then create or match and qualify — one transaction, no INSi call.

    ``identity_id`` is the record the agent chose among the candidates; without it, the
    record holding the transmitted INS is taken, else the anteriority search runs on the
    transmitted traits and, when it finds people the agent has not judged to be others,
    nothing is written and they are returned.
    """
    require_permission(actor, "identities.record_document_check",
                       _("Refusé : vous n'avez pas le droit d'enregistrer un contrôle de pièce."))
    beneficiary = (reader or get_reader()).read(scanned)
    intake = ApcvIntake(beneficiary=beneficiary)
    with transaction.atomic():
        target, intake.candidates = open_or_create(
            actor=actor, matricule=beneficiary.matricule, identity_id=identity_id, acknowledged_candidates=acknowledged_candidates,
            birth_name=beneficiary.birth_name, birth_given_names=beneficiary.birth_given_names, birth_date=beneficiary.birth_date,
            sex=beneficiary.sex, birthplace_code=beneficiary.birthplace_code, used_name=beneficiary.used_name,
            used_given_name=beneficiary.used_given_name, channel=Channel.AV,
        )
        if target is None:
            return intake
        outcome = services.identity_qualify_from_apcv(actor=actor, identity_id=target, result=beneficiary.as_national_identity())
        intake.identity, intake.applied, intake.message = outcome.identity, outcome.applied, outcome.message
        if outcome.mismatched:
            labels = ", ".join(traits.FIELD_LABELS.get(name, _("matricule INS")) for name in outcome.mismatched)
            intake.worklist_item = worklists.worklist_add_item(
                actor=actor, kind=WorklistItem.Kind.APCV_MISMATCH, identity_id=target,
                reason=_("L'Appli carte Vitale transmet des valeurs différentes des traits verrouillés : %(fields)s. "
                         "Rien n'a été modifié ; à instruire par la CIV.") % {"fields": labels},
            )
    logger.info("ApCV intake identity=%s applied=%s mismatched=%s", target, intake.applied, bool(intake.worklist_item))
    return intake
