"""Verification of a stored INS through INSi: unitary, before an admission, automatic for NIAs; a KO raises an alert."""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from functools import partial

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from identities.core import matricule, selectors, worklists
from identities.core.errors import RuleViolation, require_permission
from identities.core.models import Channel, Identity, IdentityEvent, InsMatricule, WorklistItem
from identities.core.services import InsiIdentity, audit_event, lock_identity, save_identity
from identities.workflows import insi_adapter as insi
from identities.workflows.queue import enqueue_verification

logger = logging.getLogger(__name__)


class Verdict(StrEnum):
    OK = "OK"
    REPLACED = "REPLACED"  # verified; INSi reports a new matricule that replaced the stored one (NIA→NIR, NIR→NIR)
    KO = "KO"
    FAILED = "FAILED"  # no answer to conclude on: never a KO
    SKIPPED = "SKIPPED"  # nothing to verify (no INS, doubtful, fictitious, merged)


class Trigger(StrEnum):
    MANUAL = "manual"
    PRE_ADMISSION = "pre_admission"
    NIA_CHANGE = "nia_change"
    CAMPAIGN = "campaign"


# What the exchange log shows as the caller of an automatic verification.
TRIGGER_LABELS = {
    Trigger.PRE_ADMISSION: gettext_lazy("Vérification avant admission"),
    Trigger.NIA_CHANGE: gettext_lazy("Vérification d'un NIA (identité modifiée)"),
}


@dataclass(frozen=True)
class VerificationResult:
    verdict: Verdict
    message: str
    exchange_id: int | None = None
    technical: bool = False  # a FAILED that may heal by trying again later
    calls: int = 0  # INSi calls made (a campaign's pace counts them)


def verification_refusal(identity: Identity) -> str | None:
    """Why this identity cannot be verified now, or None."""
    if not identity.is_active:
        return _("Identité désactivée (fusionnée) : rien à vérifier.")
    if identity.doubtful or identity.fictitious:
        return _("Les appels INSi sont bloqués pour une identité douteuse ou fictive.")
    if not identity.ins_matricule:
        return _("Aucun INS enregistré à vérifier : récupérez-le d'abord.")
    return None


NIA_OIDS = [oid for oid, info in matricule.OIDS.items() if info.nature == matricule.Nature.NIA]


def holds_nia(identity: Identity) -> bool:
    return bool(identity.ins_oid) and matricule.nature_of(identity.ins_oid) == matricule.Nature.NIA


def _stored_traits(identity: Identity) -> dict:
    return {
        "birth_name": identity.birth_name, "given_names": identity.birth_given_names, "sex": identity.sex,
        "birth_date": identity.birth_date, "birthplace": identity.birthplace_code,
    }


@dataclass(frozen=True)
class _Finding:
    verdict: Verdict
    message: str
    exchange_id: int | None
    technical: bool = False
    returned: InsiIdentity | None = None
    calls: int = 1  # INSi calls made (logical ones: the client's own retries not counted)


def _by_search(identity: Identity, context) -> _Finding:
    """What a search with the stored traits says of the stored INS: still active, replaced, or not confirmed.

    Only a search returns the NIR that replaced a NIA (or a new NIR): the old one then
    comes back in INSHISTO.
    """
    report = insi.search_by_traits(**_stored_traits(identity), context=context)
    return replace(_judge(identity, report.outcome), calls=len(report.steps))


def _judge(identity: Identity, outcome) -> _Finding:
    stored = _stored_traits(identity)
    if isinstance(outcome, insi.Found):
        returned = insi.insi_identity(outcome)
        same = (returned.birth_name, returned.birth_given_names, returned.sex, returned.birth_date, returned.birthplace_code) == (
            stored["birth_name"], stored["given_names"], stored["sex"], stored["birth_date"], stored["birthplace"]
        )
        if not same:
            return _Finding(Verdict.KO, _("INSi retourne des traits différents de ceux enregistrés."), outcome.exchange_id)
        if returned.active.matricule == identity.ins_matricule:
            return _Finding(Verdict.OK, _("INS confirmé par INSi."), outcome.exchange_id)
        if identity.ins_matricule in {entry.matricule for entry in returned.history}:
            return _Finding(Verdict.REPLACED, "", outcome.exchange_id, returned=returned)
        return _Finding(Verdict.KO, _("INSi retourne un autre matricule INS, sans celui enregistré dans son historique."),
                        outcome.exchange_id)
    if isinstance(outcome, (insi.NotFound, insi.Several)):
        return _Finding(Verdict.KO, _("INSi ne retrouve pas l'identité avec les traits enregistrés (code %(code)s).") % {
            "code": outcome.code}, outcome.exchange_id)
    return _Finding(Verdict.FAILED, _("Vérification impossible : %(why)s.") % {"why": insi.failure_text(outcome)},
                    outcome.exchange_id, technical=insi.is_technical(outcome))


def _ask_insi(identity: Identity, context) -> _Finding:
    if holds_nia(identity):
        return _by_search(identity, context)
    outcome = insi.verify(matricule=identity.ins_matricule, oid=identity.ins_oid, **_stored_traits(identity), context=context)
    if isinstance(outcome, insi.VerificationOk):
        return _Finding(Verdict.OK, _("INS confirmé par INSi."), outcome.exchange_id)
    if isinstance(outcome, insi.VerificationKo):
        # Before alerting: a NIR replaced by a new one answers KO, and the search tells.
        found = _by_search(identity, context)
        return replace(found, calls=found.calls + 1)
    return _Finding(Verdict.FAILED, _("Vérification impossible : %(why)s.") % {"why": insi.failure_text(outcome)},
                    outcome.exchange_id, technical=insi.is_technical(outcome))


def verification_verify(*, actor, identity_id: int, context=None, trigger: str = Trigger.MANUAL, email: bool = True) -> VerificationResult:
    """Verify the stored INS with INSi, in one transaction with its exchange log.

    OK: the last-verified date moves. A new matricule reported with the stored one in its
    history replaces it (the old one stays in the register). KO: an alert on the identity,
    a worklist item inviting a new recovery, an e-mail to the CIV when configured — the
    identity is never downgraded silently. A failure to get an answer changes nothing.
    """
    require_permission(actor, "identities.use_insi", _("Refusé : vous n'avez pas le droit d'utiliser le téléservice INSi."))
    asked = Identity.objects.filter(pk=identity_id).first()
    if asked is None:
        raise RuleViolation(_("identité %(id)s introuvable") % {"id": identity_id})
    refusal = verification_refusal(asked)
    if refusal:
        return VerificationResult(Verdict.SKIPPED, refusal)
    # The call runs without holding the identity (INSi may take tens of seconds); then lock, re-check, write.
    finding = _ask_insi(asked, insi.for_identity(context or insi.manual(actor, asked.pk), asked.pk))
    with transaction.atomic():
        identity = lock_identity(identity_id)
        if identity.version != asked.version:
            refusal = verification_refusal(identity)
            if refusal:
                return VerificationResult(Verdict.SKIPPED, refusal, finding.exchange_id, calls=finding.calls)
            # What INSi judged is no longer what is stored: nothing concluded, a later run verifies again.
            return VerificationResult(
                Verdict.FAILED, _("L'identité a été modifiée pendant l'appel INSi : rien n'a été conclu, vérifiez-la à nouveau."),
                finding.exchange_id, technical=True, calls=finding.calls,
            )
        result = _apply(identity, actor, finding, trigger=trigger, email=email)
    logger.info("INSi verification identity=%s trigger=%s verdict=%s exchange=%s", identity_id, trigger, result.verdict, result.exchange_id)
    return result


def _apply(identity: Identity, actor, finding: _Finding, *, trigger: str, email: bool) -> VerificationResult:
    verdict, message = finding.verdict, finding.message
    if verdict == Verdict.FAILED:
        return VerificationResult(verdict, message, finding.exchange_id, technical=finding.technical, calls=finding.calls)
    now = timezone.now()
    if verdict == Verdict.REPLACED:
        refusal = _replacement_refusal(identity, finding.returned)
        if refusal:
            verdict, message = Verdict.KO, refusal
        else:
            message = _replace_matricule(identity, actor, finding.returned, exchange_id=finding.exchange_id)
    identity.last_insi_call_at = now
    if verdict != Verdict.KO:
        identity.last_verified_at = now
    audit_event(identity, IdentityEvent.Kind.INSI_VERIFICATION, actor, channel=Channel.INSI, reason=message,
                verdict=verdict, trigger=trigger, exchange_id=finding.exchange_id)
    save_identity(identity, actor, _("Vérification INSi : %(verdict)s") % {"verdict": verdict})
    if verdict == Verdict.KO:
        verification_alert(identity=identity, actor=actor, reason=_("Vérification INSi KO : %(why)s") % {"why": message}, email=email)
    return VerificationResult(verdict, message, finding.exchange_id, calls=finding.calls)


def _replacement_refusal(identity: Identity, returned: InsiIdentity) -> str | None:
    try:
        matricule.check_format(returned.active.matricule)
        matricule.check_oid(returned.active.oid, environment=settings.INS_ENVIRONMENT, source=matricule.OidSource.INSI)
    except matricule.MatriculeError as error:
        return _("Nouveau matricule INS inutilisable : %(why)s.") % {"why": error.message}
    other = selectors.identity_holding_matricule(returned.active.matricule, exclude_id=identity.pk)
    if other is not None:
        return _("INSi remplace le matricule par un autre, déjà porté par l'identité n° %(id)s (collision à instruire).") % {"id": other.pk}
    return None


def _replace_matricule(identity: Identity, actor, returned: InsiIdentity, *, exchange_id: int | None) -> str:
    """The stored matricule gives way to the one INSi now reports; the old one stays in the register."""
    before = matricule.nature_of(identity.ins_oid)
    now = timezone.now()
    for row in InsMatricule.objects.filter(identity=identity, matricule=identity.ins_matricule, kind=InsMatricule.Kind.ACTIVE,
                                           invalidated_at__isnull=True):
        row.invalidated_at, row.invalidation_reason = now, _("Remplacé par le matricule que retourne INSi (historique INSHISTO)")
        row._history_user = actor
        row.save(update_fields=["invalidated_at", "invalidation_reason"])
    known = set(InsMatricule.objects.filter(identity=identity, kind=InsMatricule.Kind.HISTORICAL).values_list("matricule", "oid"))
    source = InsMatricule.Source.INSI_VERIFICATION
    rows = [InsMatricule(identity=identity, matricule=returned.active.matricule, oid=returned.active.oid, kind=InsMatricule.Kind.ACTIVE,
                         start_date=returned.active.start_date, end_date=returned.active.end_date, source=source,
                         insi_exchange_id=exchange_id, recorded_by=actor)]
    rows += [
        InsMatricule(identity=identity, matricule=entry.matricule, oid=entry.oid, kind=InsMatricule.Kind.HISTORICAL,
                     start_date=entry.start_date, end_date=entry.end_date, source=source, insi_exchange_id=exchange_id, recorded_by=actor)
        for entry in returned.history
        if (entry.matricule, entry.oid) not in known and entry.matricule != returned.active.matricule
    ]
    for row in rows:
        row._history_user = actor
        row.save()
    identity.ins_matricule, identity.ins_oid = returned.active.matricule, returned.active.oid
    after = matricule.nature_of(returned.active.oid)
    audit_event(identity, IdentityEvent.Kind.INS_SET, actor, channel=Channel.INSI, operation="verification", exchange_id=exchange_id,
                oid=returned.active.oid, nature=after, replaced_nature=before)
    return _("INS confirmé par INSi ; le matricule (%(before)s) est remplacé par un %(after)s, l'ancien est gardé dans l'historique.") % {
        "before": before, "after": after}


def verification_alert(*, identity: Identity, actor, reason: str, email: bool = True) -> WorklistItem:
    """A KO on a stored identity: the worklist item the CIV handles (shown on the identity and the dashboard), and an e-mail."""
    item = worklists.worklist_add_item(actor=actor, kind=WorklistItem.Kind.INSI_VERIFICATION, identity_id=identity.pk, reason=reason)
    if email and settings.INSI_KO_ALERT_EMAILS:
        transaction.on_commit(partial(mail_ko_alert, [identity.pk]))
    return item


def mail_ko_alert(identity_ids: list[int], *, context_label: str = "") -> None:
    """Tell the CIV which identities failed verification; identifiers and links only, no personal data."""
    lines = [reverse("admin:identities_identity_change", args=[pk]) for pk in identity_ids[:200]]
    more = len(identity_ids) - len(lines)
    body = _("Vérification INSi KO : %(count)d identité(s) à instruire (file « Échecs de vérification INSi »).") % {
        "count": len(identity_ids)}
    if context_label:
        body += "\n" + context_label
    body += "\n\n" + "\n".join(lines) + (f"\n… (+{more})" if more > 0 else "")
    send_mail(_("[INSportal] Vérification INSi KO"), body, None, settings.INSI_KO_ALERT_EMAILS, fail_silently=True)


def verification_before_admission(*, actor, identity_id: int, admission_at: datetime) -> datetime:
    """For the admission/pre-admission module: verify the identity's INS ahead of a planned admission.

    The verification is queued for INSI_PRE_ADMISSION_LEAD_HOURS before the admission (or at
    once when that moment has passed) and runs as an automatic call. Returns when it will run.
    """
    require_permission(actor, "identities.view_identity", _("Refusé : vous n'avez pas accès aux identités."))
    if not Identity.objects.filter(pk=identity_id).exists():
        raise RuleViolation(_("identité %(id)s introuvable") % {"id": identity_id})
    now = timezone.now()
    due = max(now, admission_at - timedelta(hours=settings.INSI_PRE_ADMISSION_LEAD_HOURS))
    transaction.on_commit(partial(enqueue_verification, identity_id, Trigger.PRE_ADMISSION, eta=due))
    return due
