"""An INS received from another identification domain: verified with INSi before anything of it is integrated (rule 4)."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from identities.core import matricule, services
from identities.core.errors import ConflictError, NotAllowed, RuleViolation, require_permission
from identities.core.models import Channel, Identity, IdentityEvent, Status
from identities.core.services import InsiIdentity, InsiMatricule, InsiOutcome, audit_event, lock_identity
from identities.workflows import insi_adapter as insi
from identities.workflows.verification import verification_alert

logger = logging.getLogger(__name__)


class Reception(StrEnum):
    INTEGRATED = "INTEGRATED"  # verified: matricule, OID and traits integrated
    TRAITS_ONLY = "TRAITS_ONLY"  # KO: the traits only, alert and worklist
    ALREADY_QUALIFIED = "ALREADY_QUALIFIED"  # QUAL here already: nothing asked, nothing changed
    SAME_INS = "SAME_INS"  # this INS is already recorded on the identity
    COLLISION = "COLLISION"  # verified, but held by another identity: flagged, not integrated


@dataclass(frozen=True)
class ReceptionResult:
    outcome: Reception
    message: str
    exchange_id: int | None = None


@dataclass(frozen=True)
class ReceivedVerdict:
    """What INSi said of a received INS, for a caller that integrates it itself."""

    verified: bool | None  # None: no answer (technical failure)
    exchange_id: int | None
    message: str = ""


def received_ins(value: str, oid: str) -> str:
    """The received matricule in its 15-character form, refused when malformed or of the other environment."""
    try:
        ins = matricule.check_format(value)
    except matricule.MatriculeError as error:
        raise RuleViolation(error.message, field="matricule") from error
    try:
        matricule.check_oid(oid, environment=settings.INS_ENVIRONMENT, source=matricule.OidSource.RECEIVED)
    except matricule.MatriculeError as error:
        raise RuleViolation(error.message, field="oid") from error
    return ins


def reception_verify_ins(*, actor, identity_id: int, matricule_value: str, oid: str, context=None) -> ReceptionResult:
    """An identity holds traits received from another domain with their INS: ask INSi before integrating the INS.

    Not QUAL here → verify the received matricule against the identity's traits. OK → the
    matricule, OID and traits are integrated (PROV→RECUP, VALI→QUAL). KO → the traits stay,
    the INS is not integrated, an alert and a worklist item are raised. No answer from INSi
    → RuleViolation and nothing is changed (the caller's transaction rolls back). The identity
    is not locked during the call; changed meanwhile → ConflictError and nothing is written.
    """
    require_permission(actor, "identities.use_insi", _("Refusé : vous n'avez pas le droit d'utiliser le téléservice INSi."))
    ins = received_ins(matricule_value, oid)
    # Read without a lock, ask INSi, then lock, check again and write: INSi may take tens of
    # seconds (timeout x retries) and nobody else's save waits for it.
    asked = Identity.objects.filter(pk=identity_id).first()
    if asked is None:
        raise RuleViolation(_("identité %(id)s introuvable") % {"id": identity_id})
    settled = _settled_reception(asked, ins)
    if settled:
        return settled
    verdict = _ask_insi(
        ins=ins, oid=oid, birth_name=asked.birth_name, birth_given_names=asked.birth_given_names, sex=asked.sex,
        birth_date=asked.birth_date, birthplace_code=asked.birthplace_code,
        context=insi.for_identity(context or insi.manual(actor, asked.pk), asked.pk),
    )
    if verdict.verified is None:
        raise RuleViolation(_("INSi n'a pas répondu (%(why)s) : rien n'est intégré, réessayez plus tard.") % {
            "why": verdict.message}, field="matricule")
    with transaction.atomic():
        identity = lock_identity(identity_id)
        if identity.version != asked.version:
            # INSi judged the traits as they were read: what is stored now was never asked about.
            raise ConflictError(_("L'identité a été modifiée pendant l'appel INSi : rien n'est intégré, "
                                  "relancez la vérification de l'INS reçu sur ses traits actuels."))
        if verdict.verified:
            applied = integrate_confirmed_ins(actor=actor, identity=identity, ins=ins, oid=oid, exchange_id=verdict.exchange_id)
            result = ReceptionResult(Reception.INTEGRATED if applied.applied else Reception.COLLISION, applied.message, verdict.exchange_id)
        else:
            reason = _("INS reçu d'un autre domaine non confirmé par INSi : seuls les traits sont intégrés ; nouvelle récupération à faire.")
            audit_event(identity, IdentityEvent.Kind.INSI_VERIFICATION, actor, channel=Channel.INSI, reason=reason,
                        verdict="KO", trigger="reception", exchange_id=verdict.exchange_id)
            verification_alert(identity=identity, actor=actor, reason=reason)
            result = ReceptionResult(Reception.TRAITS_ONLY, reason, verdict.exchange_id)
    logger.info("INS reception identity=%s outcome=%s exchange=%s", identity_id, result.outcome, result.exchange_id)
    return result


def _settled_reception(identity: Identity, ins: str) -> ReceptionResult | None:
    """What makes an INSi call useless (a result) or forbidden (raised), before it is made."""
    if identity.is_merged:
        raise NotAllowed(services.merged_refusal(identity))
    if identity.status == Status.QUAL:
        return ReceptionResult(Reception.ALREADY_QUALIFIED, _("Identité déjà qualifiée ici : l'INS reçu n'est pas réintégré."))
    if identity.ins_matricule == ins:
        return ReceptionResult(Reception.SAME_INS, _("Cet INS est déjà enregistré sur l'identité."))
    if identity.ins_matricule:
        raise RuleViolation(_("l'identité porte déjà un autre matricule INS : à instruire par la CIV"), field="matricule")
    if identity.doubtful or identity.fictitious:
        raise NotAllowed(_("Refusé : les appels INSi sont bloqués pour une identité douteuse ou fictive."))
    return None


def integrate_confirmed_ins(*, actor, identity: Identity, ins: str, oid: str, exchange_id: int | None) -> InsiOutcome:
    """Feed an identity with the INS another domain sent, once INSi confirmed it for the identity's own traits."""
    return services.identity_apply_insi_result(
        actor=actor, identity_id=identity.pk, operation="third_party", exchange_id=exchange_id,
        result=InsiIdentity(
            active=InsiMatricule(matricule=ins, oid=oid), birth_name=identity.birth_name,
            birth_given_names=identity.birth_given_names, sex=identity.sex, birth_date=identity.birth_date,
            birthplace_code=identity.birthplace_code,
        ),
    )


def verify_received_ins(received, *, context=None) -> ReceivedVerdict:
    """The INS_RECEPTION_VERIFIER hook: does INSi confirm this matricule for these traits? Only the exchange is written.

    ``received`` has ``matricule``, ``oid``, ``birth_name``, ``birth_given_names``, ``sex``,
    ``birth_date``, ``birthplace_code`` (and optionally ``identity_id`` for the exchange log).
    """
    identity_id = getattr(received, "identity_id", None)
    return _ask_insi(
        ins=received_ins(received.matricule, received.oid), oid=received.oid, birth_name=received.birth_name,
        birth_given_names=received.birth_given_names, sex=received.sex, birth_date=received.birth_date,
        birthplace_code=received.birthplace_code or "",
        context=context or insi.automatic(_("Réception d'un autre domaine"), identity_id),
    )


def _ask_insi(*, ins: str, oid: str, birth_name: str, birth_given_names: str, sex: str, birth_date: str, birthplace_code: str,
              context) -> ReceivedVerdict:
    outcome = insi.verify(
        matricule=ins, oid=oid, birth_name=birth_name, given_names=birth_given_names, sex=sex, birth_date=birth_date,
        birthplace=birthplace_code, context=context,
    )
    if isinstance(outcome, insi.VerificationOk):
        return ReceivedVerdict(True, outcome.exchange_id)
    if isinstance(outcome, insi.VerificationKo):
        return ReceivedVerdict(False, outcome.exchange_id, _("INS non confirmé par INSi"))
    return ReceivedVerdict(None, outcome.exchange_id, insi.failure_text(outcome))
