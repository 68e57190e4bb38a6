"""Recovery of the INS through INSi (by traits or carte Vitale): the call, the comparison, the user's or automatic decision."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from identities.core import selectors, services, traits, worklists
from identities.core.errors import ConflictError, NotAllowed, RuleViolation, ServiceError, require_permission
from identities.core.models import Channel, Identity, IdentityEvent, Status, WorklistItem
from identities.core.services import audit_event, lock_identity
from identities.workflows import guided_retry
from identities.workflows import insi_adapter as insi
from identities.workflows.guided_retry import Suggestion
from identities.workflows.models import InsiRecovery
from identities.workflows.similarity import FORMULA, comparison, decision_text, similarity
from identities.workflows.vitale import VitaleCard

logger = logging.getLogger(__name__)

State = InsiRecovery.State
_USE_INSI = "identities.use_insi"
_TRAITS = ("birth_name", "birth_given_names", "first_birth_given_name", "birth_date", "sex", "birthplace_code")


def local_traits(identity: Identity) -> dict:
    return {name: getattr(identity, name) for name in _TRAITS}


def verification_ko_open(identity: Identity) -> bool:
    """A verification KO awaits the CIV: a new recovery is what it invites, even on a RECUP/QUAL identity."""
    return WorklistItem.objects.filter(
        identity=identity, kind=WorklistItem.Kind.INSI_VERIFICATION, state=WorklistItem.State.OPEN).exists()


def recovery_refusal(identity: Identity) -> str | None:
    """Why no recovery may or need be made for this identity now (the screen shows it), or None."""
    if not identity.is_active:
        return _("Identité désactivée (fusionnée) : aucune récupération.")
    if identity.doubtful or identity.fictitious:
        return _("Refusé : les appels INSi sont bloqués pour une identité douteuse ou fictive.")
    if identity.status in (Status.RECUP, Status.QUAL) and not verification_ko_open(identity):
        return _("Aucune récupération nécessaire : l'identité est déjà « %(status)s » (son INS est enregistré).") % {
            "status": identity.get_status_display()
        }
    return None


def _refuse_if_needed(identity: Identity) -> None:
    refusal = recovery_refusal(identity)
    if refusal:
        raise NotAllowed(refusal) if identity.doubtful or identity.fictitious else RuleViolation(refusal)


def _refuse_automatic(context: insi.CallContext | None) -> None:
    if context is not None and context.mode != insi.Mode.MANU:
        raise NotAllowed(_("Refusé : la récupération de l'INS est déclenchée par un utilisateur, jamais par une tâche automatique."))


def _normalised_query(identity: Identity, *, birth_name, given_names, birthplace) -> dict:
    """The traits sent: the identity's, or those typed for a retry, in INSi form."""
    try:
        query = {
            "birth_name": traits.normalise_name(birth_name, field=traits.BIRTH_NAME) if birth_name else identity.birth_name,
            "given_names": traits.normalise_given_names(given_names) if given_names else identity.birth_given_names,
            "birthplace": traits.normalise_cog(birthplace) if birthplace else identity.birthplace_code,
        }
    except traits.TraitError as error:
        raise RuleViolation(error.message, field=error.field) from error
    if identity.sex not in traits.INSI_SEXES:
        raise RuleViolation(_("sexe « indéterminé » : INSi n'accepte que M ou F ; corrigez le sexe avant la recherche"), field=traits.SEX)
    return query | {"sex": identity.sex, "birth_date": identity.birth_date}


def recovery_search(
    *,
    actor,
    identity_id: int,
    birth_name: str = "",
    given_names: str = "",
    birthplace: str = "",
    context: insi.CallContext | None = None,
    run=None,
    variant: str = "",
) -> InsiRecovery:
    """Search the identity's INS by traits (one call per given name, then all joined; birthplace on 02).

    ``birth_name``, ``given_names`` and ``birthplace`` replace the identity's own for a retry
    (01/02 guidance; ``variant`` names the guided retry clicked, kept with the traits sent).
    The calls, their outcome and a 00's full image are recorded in the same transaction as
    any change to the identity; a 00 is fed automatically only when the
    similarity threshold is set and reached. A search is a user's act (INSI-MANU): an automatic
    context (a job, a campaign) is refused, so no task can recover over the base or an import.
    """
    require_permission(actor, _USE_INSI, _("Refusé : vous n'avez pas le droit d'utiliser le téléservice INSi."))
    _refuse_automatic(context)
    if variant and not guided_retry.is_variant(variant):
        raise RuleViolation(_("relance guidée inconnue : %(variant)s") % {"variant": variant}, field="variant")
    identity = _unlocked(identity_id)
    _refuse_if_needed(identity)
    query = _normalised_query(identity, birth_name=birth_name, given_names=given_names, birthplace=birthplace)
    context = insi.for_identity(context or insi.manual(actor, identity.pk), identity.pk)
    # The call runs without holding the identity: INSi may take tens of seconds (timeouts x retries).
    report = insi.search_by_traits(**query, context=context)
    exchange_ids = [step.outcome.exchange_id for step in report.steps]
    if variant:
        query["variant"] = variant
    return _record(identity, actor, InsiRecovery.Method.TRAITS, query, report.outcome, exchange_ids, run=run)


def recovery_search_with_vitale(*, actor, identity_id: int, card: VitaleCard, context: insi.CallContext | None = None) -> InsiRecovery:
    """Search the identity's INS with the data of a carte Vitale (read by a card reader or typed)."""
    require_permission(actor, _USE_INSI, _("Refusé : vous n'avez pas le droit d'utiliser le téléservice INSi."))
    _refuse_automatic(context)
    identity = _unlocked(identity_id)
    _refuse_if_needed(identity)
    context = insi.for_identity(context or insi.manual(actor, identity.pk), identity.pk)
    outcome = insi.search_with_vitale(card, context=context)
    return _record(identity, actor, InsiRecovery.Method.VITALE, card.as_json(), outcome, [outcome.exchange_id], run=None)


def _unlocked(identity_id: int) -> Identity:
    identity = Identity.objects.filter(pk=identity_id).first()
    if identity is None:
        raise RuleViolation(_("identité %(id)s introuvable") % {"id": identity_id})
    return identity


def _record(asked: Identity, actor, method, query, outcome, exchange_ids, *, run) -> InsiRecovery:
    """After the call: lock the identity, check it again, record the outcome with its audit event."""
    with transaction.atomic():
        identity = lock_identity(asked.pk)
        changed = identity.version != asked.version
        if changed:
            _refuse_if_needed(identity)
        return _record_locked(identity, actor, method, query, outcome, exchange_ids, run=run,
                              asked_version=asked.version, changed_during_call=changed)


def _record_locked(identity, actor, method, query, outcome, exchange_ids, *, run, asked_version, changed_during_call) -> InsiRecovery:
    recovery = InsiRecovery(
        identity=identity, method=method, requested_by=actor, run=run, identity_version=asked_version, query=query,
        code=outcome.code, exchange_ids=[pk for pk in exchange_ids if pk is not None],
    )
    threshold = settings.INSI_AUTO_FEED_THRESHOLD
    if isinstance(outcome, insi.Found):
        returned = insi.insi_identity(outcome)
        recovery.returned = insi.to_json(returned)
        rate = similarity(local_traits(identity), _returned_traits(recovery.returned))
        recovery.similarity = rate.rate
        rejection = traits.insi_result_rejection(
            birth_name=returned.birth_name, birth_given_names=returned.birth_given_names, sex=returned.sex, birth_date=returned.birth_date
        )
        if rejection:
            recovery.state = State.UNUSABLE
            recovery.message = _("Résultat INSi non intégrable : %(why)s.") % {"why": rejection}
        else:
            recovery.state = State.AWAITING
            recovery.message = decision_text(rate.rate, threshold)
    elif isinstance(outcome, insi.NotFound):
        recovery.state = State.NOT_FOUND
    elif isinstance(outcome, insi.Several):
        recovery.state = State.SEVERAL
    else:
        recovery.state = State.FAILED
        recovery.message = _("Appel INSi en échec : %(why)s.") % {"why": insi.failure_text(outcome)}
    # Not stored: whether a retry later may succeed, for the batch that made the call.
    recovery.technical = insi.is_technical(outcome)
    recovery.save()
    logger.info(
        "INSi recovery=%s identity=%s method=%s code=%s rate=%s threshold=%s state=%s",
        recovery.pk, identity.pk, method, recovery.code, recovery.similarity, threshold or "off", recovery.state,
    )
    if changed_during_call and recovery.state == State.AWAITING:
        # The traits compared were those sent; accepting is refused until a new search (identity_version).
        recovery.message = _("L'identité a été modifiée pendant l'appel INSi : relancez la recherche pour comparer ses traits actuels.")
        recovery.save(update_fields=["message"])
    auto = recovery.state == State.AWAITING and threshold and recovery.similarity >= threshold and not changed_during_call
    audit_event(identity, IdentityEvent.Kind.INSI_RECOVERY, actor, channel=Channel.INSI, reason=recovery.message,
                recovery_id=recovery.pk, method=method, code=recovery.code, exchange_ids=recovery.exchange_ids,
                similarity=recovery.similarity, formula=str(FORMULA) if recovery.similarity is not None else "",
                threshold=threshold or None, decision="auto" if auto else recovery.state, variant=query.get("variant", ""))
    if auto:
        _integrate(recovery, actor, accepted_state=State.AUTO_ACCEPTED)
    return recovery


def _returned_traits(returned: dict) -> dict:
    return {
        "birth_name": returned["birth_name"], "birth_given_names": returned["birth_given_names"],
        "first_birth_given_name": traits.first_of(returned["birth_given_names"]), "birth_date": returned["birth_date"],
        "sex": returned["sex"], "birthplace_code": returned["birthplace_code"],
    }


def _integrate(recovery: InsiRecovery, actor, *, accepted_state: str) -> None:
    """Feed the identity with the returned identity; a refusal by the referential is recorded, not raised."""
    try:
        with transaction.atomic():
            identity = recovery.identity
            after_ko = identity.is_locked and verification_ko_open(identity)
            outcome = services.identity_apply_insi_result(
                actor=actor, identity_id=recovery.identity_id, result=insi.from_json(recovery.returned),
                operation="recovery", exchange_id=recovery.exchange_id, replace_after_ko=after_ko,
            )
            if after_ko and outcome.applied:
                worklists.worklist_close_resolved(actor=actor, identity_id=identity.pk, kind=WorklistItem.Kind.INSI_VERIFICATION,
                                                  note=services.REPLACED_AFTER_KO)
    except ServiceError as error:
        recovery.state, recovery.message = State.UNUSABLE, error.message
    else:
        recovery.state = accepted_state if outcome.applied else State.COLLISION
        recovery.message = outcome.message
    recovery.decided_by, recovery.decided_at = actor, timezone.now()
    recovery.save(update_fields=["state", "message", "decided_by", "decided_at"])


def _awaiting(recovery_id: int) -> InsiRecovery:
    recovery = InsiRecovery.objects.select_for_update().filter(pk=recovery_id).first()
    if recovery is None:
        raise RuleViolation(_("récupération INSi %(id)s introuvable") % {"id": recovery_id})
    if recovery.state != State.AWAITING:
        raise RuleViolation(_("cette récupération est déjà close (« %(state)s ») : rien n'a été modifié") % {
            "state": recovery.get_state_display()
        })
    return recovery


def recovery_accept(*, actor, recovery_id: int) -> InsiRecovery:
    """The user compared the traits and accepts: the identity takes the returned traits and INS (PROV→RECUP, VALI→QUAL)."""
    require_permission(actor, _USE_INSI, _("Refusé : vous n'avez pas le droit d'utiliser le téléservice INSi."))
    with transaction.atomic():
        recovery = _awaiting(recovery_id)
        identity = lock_identity(recovery.identity_id)
        if identity.version != recovery.identity_version:
            raise ConflictError(_(
                "L'identité a été modifiée depuis la recherche INSi : relancez la recherche pour comparer ses traits actuels. "
                "Rien n'a été intégré."
            ))
        _integrate(recovery, actor, accepted_state=State.ACCEPTED)
    return recovery


def recovery_reject(*, actor, recovery_id: int, reason: str) -> InsiRecovery:
    """The user compared the traits and refuses the returned identity; the reason is recorded."""
    require_permission(actor, _USE_INSI, _("Refusé : vous n'avez pas le droit d'utiliser le téléservice INSi."))
    if not reason.strip():
        raise RuleViolation(_("un motif est obligatoire pour refuser le résultat INSi"), field="reason")
    with transaction.atomic():
        recovery = _awaiting(recovery_id)
        identity = lock_identity(recovery.identity_id)
        recovery.state, recovery.decision_reason = State.REJECTED, reason.strip()
        recovery.decided_by, recovery.decided_at = actor, timezone.now()
        recovery.save(update_fields=["state", "decision_reason", "decided_by", "decided_at"])
        audit_event(identity, IdentityEvent.Kind.INSI_RECOVERY, actor, channel=Channel.INSI, reason=recovery.decision_reason,
                    recovery_id=recovery.pk, code=recovery.code, exchange_ids=recovery.exchange_ids, decision=State.REJECTED)
    return recovery


# --- What the screens show ---

@dataclass(frozen=True)
class Guidance:
    advice: list[str]
    suggestions: list[Suggestion]


def guidance(recovery: InsiRecovery) -> Guidance | None:
    """What to check and try after a 01 or a 02 (domain.md §3, insi.md: 01 hits married names first)."""
    identity = recovery.identity
    sent = recovery.query
    suggestions = []
    if recovery.state == State.NOT_FOUND:
        advice = [
            _("Vérifiez que le nom saisi comme nom de naissance n'est pas un nom d'usage (nom d'époux ou d'épouse) : "
              "c'est la première cause de « aucune identité trouvée »."),
            _("Ajoutez les autres prénoms de naissance, dans l'ordre de l'état civil (pièce d'identité)."),
        ]
        suggestions = guided_retry.not_found_variants(
            identity={name: getattr(identity, name) for name in ("birth_name", "birth_given_names", "used_name", "used_given_name")},
            sent=sent, tried=identity.insi_recoveries.filter(method=InsiRecovery.Method.TRAITS).values_list("query", flat=True),
        )
    elif recovery.state == State.SEVERAL:
        advice = [
            _("Plusieurs personnes répondent à ces traits : ajoutez d'abord les autres prénoms de naissance."),
            _("Puis renseignez le lieu de naissance (code INSEE de la commune, ou 99 suivi du code pays pour une naissance à l'étranger)."),
        ]
        if identity.birthplace_code and identity.birthplace_code != sent.get("birthplace"):
            suggestions.append(Suggestion(
                _("Relancer avec le lieu de naissance %(code)s") % {"code": identity.birthplace_code},
                birth_name=sent.get("birth_name", ""), given_names=sent.get("given_names", ""), birthplace=identity.birthplace_code,
                variant=guided_retry.Variant.BIRTHPLACE,
            ))
    else:
        return None
    return Guidance(advice=advice, suggestions=suggestions)


def recovery_comparison(recovery: InsiRecovery):
    """The side-by-side rows of a 00 (local traits as they are now)."""
    if not recovery.returned:
        return []
    local = local_traits(recovery.identity)
    returned = _returned_traits(recovery.returned)
    places = selectors.birthplace_names([local["birthplace_code"], returned["birthplace_code"]])
    return comparison(local, returned, places=places)


def recovery_records_move(*, recovery_ids, to_identity_id: int) -> int:
    """Re-attach finished recoveries (and their INSi exchange references) to another identity:
    the merge carries them to the survivor, the unmerge brings them back. The INSi exchange log
    itself is never rewritten (it records what was sent, for whom, as it happened)."""
    return InsiRecovery.objects.filter(pk__in=list(recovery_ids)).exclude(state=InsiRecovery.State.AWAITING).update(
        identity_id=to_identity_id
    )
