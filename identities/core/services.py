"""Every write to the identity referential: one transaction each, with its audit event and history."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable
from datetime import date, datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_fsm import can_proceed, has_transition_perm

from identities.core import birthplaces, derogations, establishments, matricule, selectors, traits
from identities.core.errors import ConflictError, NotAllowed, RuleViolation, require_permission
from identities.core.events import identity_event_recorded
from identities.core.models import (
    STRICT_TRAIT_FIELDS,
    Attribute,
    Birthplace,
    Channel,
    DocumentCheck,
    DocumentType,
    Establishment,
    Identity,
    IdentityEvent,
    IdentityLink,
    InsMatricule,
    Status,
)

logger = logging.getLogger(__name__)

TRAIT_FIELDS = (*STRICT_TRAIT_FIELDS, "used_name", "used_given_name", "birth_date_corrected")
CREATION_CHANNELS = tuple(value for value in Channel.values if value != Channel.INSI)


# --- Plumbing shared by every service ---

def lock_identity(identity_id: int, *, merged_allowed: bool = False) -> Identity:
    """The identity, row-locked for the write that follows. A merged identity is never
    changed again (the core's rule, whatever the service): only the merge package's own
    services, which restore it, pass ``merged_allowed``."""
    try:
        identity = Identity.objects.select_for_update().get(pk=identity_id)
    except Identity.DoesNotExist:
        raise RuleViolation(f"identité {identity_id} introuvable") from None
    if identity.is_merged and not merged_allowed:
        raise NotAllowed(merged_refusal(identity))
    return identity


def merged_refusal(identity: Identity) -> str:
    """What a user is told when they try to act on a merged identity."""
    when = timezone.localtime(identity.merged_at).strftime("%d/%m/%Y") if identity.merged_at else "?"
    return (
        f"Refusé : cette identité a été fusionnée dans l'identité n° {identity.merged_into_id} le {when} ; "
        "elle n'est plus modifiable. Travaillez sur l'identité conservée."
    )


def _check_version(identity: Identity, expected_version: int | None) -> None:
    """Optimistic concurrency, on every write from a form: no version said is no version checked, so it is refused."""
    if expected_version is None:
        raise ConflictError(
            "Version de l'identité absente du formulaire : rechargez l'identité pour voir ses données actuelles, "
            "rien n'a été enregistré."
        )
    if identity.version != expected_version:
        who = identity.updated_by.get_username() if identity.updated_by else "un autre utilisateur"
        when = timezone.localtime(identity.updated_at).strftime("%d/%m/%Y %H:%M")
        raise ConflictError(
            f"Cette identité a été modifiée par {who} le {when} depuis que vous l'avez ouverte : "
            "rechargez-la pour voir ses données actuelles, rien n'a été enregistré."
        )


def save_identity(identity: Identity, actor, reason: str) -> None:
    identity.updated_by = actor
    identity.version += 1
    identity._history_user = actor
    identity._change_reason = reason[:100] if reason else ""
    identity.save()


def audit_event(identity: Identity, kind: str, actor, *, reason: str = "", channel: str = "", **details) -> IdentityEvent:
    from_status = details.pop("from_status", "")
    to_status = details.pop("to_status", "")
    event = IdentityEvent.objects.create(
        identity=identity,
        kind=kind,
        actor=actor,
        actor_name=actor.get_username(),
        channel=channel,
        from_status=from_status,
        to_status=to_status,
        reason=reason,
        details=details,
    )
    identity_event_recorded.send(sender=IdentityEvent, event=event)
    return event


_TRANSITION_REFUSALS = {
    "document_validated": "la validation par pièce d'identité",
    "insi_identity_accepted": "l'intégration d'un résultat INSi",
    "document_withdrawn": "le retrait du contrôle de pièce",
    "ins_invalidated": "l'invalidation de l'INS",
    "apcv_identity_accepted": "la qualification par l'Appli carte Vitale",
}


def apply_transition(identity: Identity, name: str, actor, *, reason: str, channel: str = "") -> None:
    """Run one transition of the status machine, checking its source, conditions and permission."""
    method = getattr(identity, name)
    what = _TRANSITION_REFUSALS.get(name, name)
    if not can_proceed(method):
        if identity.doubtful or identity.fictitious:
            raise NotAllowed(f"Refusé : {what} est impossible sur une identité douteuse ou fictive.")
        if identity.birthplace_code == traits.UNKNOWN_BIRTHPLACE and can_proceed(method, check_conditions=False):
            refusal = traits.unknown_birthplace_refusal(identity.birthplace_code, status=Status.QUAL)
            raise RuleViolation(f"Refusé : {what} est impossible, {refusal}.", field=traits.BIRTHPLACE)
        raise NotAllowed(f"Refusé : {what} n'est pas possible depuis le statut « {identity.get_status_display()} ».")
    if not has_transition_perm(method, actor):
        raise NotAllowed(f"Refusé : vous n'avez pas l'habilitation pour {what}.")
    before = identity.status
    method()
    audit_event(identity, IdentityEvent.Kind.STATUS_CHANGED, actor, reason=reason, channel=channel,
                from_status=before, to_status=identity.status, transition=name)


def _as_violation(error: Exception) -> RuleViolation:
    return RuleViolation(getattr(error, "message", str(error)), field=getattr(error, "field", None))


def _check_birthplace(code: str, birth_date: str, *, status: str = Status.PROV) -> None:
    """Refused: 99999 (unknown birthplace) for a status above PROV, a code the COG does not know at that birth date."""
    refusal = traits.unknown_birthplace_refusal(code, status=status)
    if refusal:
        raise RuleViolation(refusal, field=traits.BIRTHPLACE)
    refusal = code != traits.UNKNOWN_BIRTHPLACE and birthplaces.birthplace_refusal(code, birth_date)
    if refusal:
        raise RuleViolation(refusal, field=traits.BIRTHPLACE)


def _drop_ins(identity: Identity, actor, *, reason: str) -> dict:
    """Remove the active INS from the identity, keeping it invalidated in the register."""
    dropped = {"matricule_invalidated": True, "oid": identity.ins_oid}
    for row in InsMatricule.objects.filter(
        identity=identity, matricule=identity.ins_matricule, kind=InsMatricule.Kind.ACTIVE, invalidated_at__isnull=True
    ):
        row.invalidated_at, row.invalidation_reason = timezone.now(), reason
        row._history_user = actor
        row.save(update_fields=["invalidated_at", "invalidation_reason"])
    identity.ins_matricule = None
    identity.ins_oid = None
    return dropped


# --- Creation ---

@dataclass
class CreationOutcome:
    identity: Identity | None
    candidates: list[Identity] = field(default_factory=list)


def _anteriority_candidates(strict, used: str) -> list[Identity]:
    candidates = selectors.anteriority_search(
        name=strict.birth_name, given_name=strict.first_birth_given_name, birth_date=strict.birth_date
    )
    if used:
        seen = {c.pk for c in candidates}
        candidates += [
            c for c in selectors.anteriority_search(name=used, given_name=strict.first_birth_given_name, birth_date=strict.birth_date)
            if c.pk not in seen
        ]
    return candidates


def identity_create(
    *,
    actor,
    birth_name: str,
    birth_given_names: str,
    birth_date: str,
    sex: str,
    birthplace_code: str = "",
    first_birth_given_name: str = "",
    used_name: str = "",
    used_given_name: str = "",
    birth_date_corrected: bool = False,
    channel: str = Channel.SM,
    acknowledged_candidates: list[int] | tuple[int, ...] = (),
    find_candidates: Callable[[dict], list[Identity]] | None = None,
    establishment: Establishment | None = None,
) -> CreationOutcome:
    """Create a provisional identity after an anteriority search.

    When the search finds candidates the caller has not acknowledged (seen and judged
    to be other people), nothing is written and the candidates are returned. The search is
    the selectors' one unless the caller passes its own ``find_candidates`` (the portal
    passes the matching engine's, which takes the normalised traits); the core knows no
    capability. The identity belongs to ``establishment``, by default the actor's.
    """
    require_permission(actor, "identities.add_identity", "Refusé : vous n'avez pas le droit de créer une identité.")
    if channel not in Channel.values:
        raise RuleViolation(f"modalité de recueil inconnue : {channel}", field="channel")
    if channel not in CREATION_CHANNELS:
        # Only an accepted INSi result says INSi: a creation (always provisional) cannot claim it.
        raise RuleViolation("« Téléservice INSi » n'est pas une modalité de création : l'INSi s'interroge "
                            "depuis l'identité une fois créée", field="channel")
    try:
        strict = traits.normalise_strict_traits(
            birth_name=birth_name,
            birth_given_names=birth_given_names,
            first_birth_given_name=first_birth_given_name,
            birth_date=birth_date,
            sex=sex,
            birthplace_code=birthplace_code,
        )
        used = traits.normalise_name(used_name, field=traits.USED_NAME) if used_name.strip() else ""
        used_given = traits.normalise_given_name(used_given_name, field=traits.USED_GIVEN_NAME) if used_given_name.strip() else ""
    except traits.TraitError as error:
        raise _as_violation(error) from error
    _check_birthplace(strict.birthplace_code, strict.birth_date)

    if find_candidates is not None:
        candidates = list(find_candidates(vars(strict) | {"used_name": used, "used_given_name": used_given}))
    else:
        candidates = _anteriority_candidates(strict, used)
    unacknowledged = [c for c in candidates if c.pk not in set(acknowledged_candidates)]
    if unacknowledged:
        return CreationOutcome(identity=None, candidates=unacknowledged)

    with transaction.atomic():
        identity = Identity(
            **vars(strict),
            used_name=used,
            used_given_name=used_given,
            birth_date_corrected=birth_date_corrected,
            channel=channel,
            establishment=establishment or establishments.establishment_of(actor),
            created_by=actor,
            updated_by=actor,
        )
        identity._history_user = actor
        identity._change_reason = "Création"
        identity.save()
        # anteriority_hits: how many identities the search found and the agent judged to be other
        # people (the dashboard's share of creations made without any hit to review).
        audit_event(identity, IdentityEvent.Kind.CREATED, actor, channel=channel, to_status=identity.status,
                    acknowledged_candidates=list(acknowledged_candidates), anteriority_hits=len(candidates))
    return CreationOutcome(identity=identity, candidates=candidates)


# --- Traits ---

@dataclass
class UpdateOutcome:
    identity: Identity
    changed: list[str]
    ins_invalidated: bool = False
    from_status: str = ""


def _normalised_changes(identity: Identity, changes: dict) -> dict:
    unknown = set(changes) - set(TRAIT_FIELDS)
    if unknown:
        raise RuleViolation(f"champ(s) non modifiable(s) par ce formulaire : {', '.join(sorted(unknown))}")
    merged = {name: getattr(identity, name) for name in TRAIT_FIELDS} | changes
    try:
        strict = traits.normalise_strict_traits(**{name: merged[name] for name in STRICT_TRAIT_FIELDS})
        used = traits.normalise_name(merged["used_name"], field=traits.USED_NAME) if merged["used_name"].strip() else ""
        used_given = (
            traits.normalise_given_name(merged["used_given_name"], field=traits.USED_GIVEN_NAME)
            if merged["used_given_name"].strip() else ""
        )
    except traits.TraitError as error:
        raise _as_violation(error) from error
    normalised = vars(strict) | {
        "used_name": used, "used_given_name": used_given, "birth_date_corrected": bool(merged["birth_date_corrected"]),
    }
    return {name: value for name, value in normalised.items() if getattr(identity, name) != value}


def identity_update_traits(*, actor, identity_id: int, expected_version: int, reason: str = "", **changes) -> UpdateOutcome:
    """Change traits. Strict traits of a RECUP/QUAL identity are locked: only a habilitated
    user may change them, with a reason, and doing so invalidates the INS and downgrades
    the status one level (QUAL→VALI, RECUP→PROV)."""
    require_permission(actor, "identities.change_identity", "Refusé : vous n'avez pas le droit de modifier une identité.")
    with transaction.atomic():
        identity = lock_identity(identity_id)
        _check_version(identity, expected_version)
        diff = _normalised_changes(identity, changes)
        if not diff:
            return UpdateOutcome(identity=identity, changed=[])
        if {"birthplace_code", "birth_date"} & set(diff):
            # A locked identity is downgraded by the change: the transition checks its new status.
            _check_birthplace(diff.get("birthplace_code", identity.birthplace_code), diff.get("birth_date", identity.birth_date),
                              status=Status.PROV if identity.is_locked else identity.status)
        locked_changes = sorted(set(diff) & set(STRICT_TRAIT_FIELDS)) if identity.is_locked else []
        outcome = UpdateOutcome(identity=identity, changed=sorted(diff), from_status=identity.status)
        if locked_changes:
            if not actor.has_perm("identities.modify_locked_traits"):
                labels = ", ".join(traits.FIELD_LABELS[name] for name in locked_changes)
                raise NotAllowed(
                    f"Refusé : {labels} verrouillé(s) sur une {identity.get_status_display().lower()} ; "
                    "seul un utilisateur habilité (référent CIV) peut les modifier."
                )
            if not reason.strip():
                raise RuleViolation("un motif est obligatoire pour modifier un trait verrouillé", field="reason")
        before = {name: getattr(identity, name) for name in diff}
        for name, value in diff.items():
            setattr(identity, name, value)
        audit_event(identity, IdentityEvent.Kind.TRAITS_CHANGED, actor, reason=reason,
                    changes={name: [before[name], diff[name]] for name in diff})
        if locked_changes:
            audit_event(identity, IdentityEvent.Kind.INS_INVALIDATED, actor, reason=reason,
                        **_drop_ins(identity, actor, reason=f"Trait verrouillé modifié : {reason}"))
            apply_transition(identity, "ins_invalidated", actor, reason=reason)
            outcome.ins_invalidated = True
        save_identity(identity, actor, reason or "Modification des traits")
    return outcome


# --- Identity documents ---

@dataclass
class DocumentOutcome:
    check: DocumentCheck
    status_changed: bool
    message: str


def _derogation_used(identity: Identity, document_type: DocumentType, companion: DocumentType | None, derogation: str,
                     day: date) -> str:
    """The RNIV 2024 exception this check relies on: the one named (refused unless it applies), else the one that fits."""
    presented = derogations.Presented(
        document=document_type.code, document_high_trust=document_type.trust == DocumentType.Trust.HIGH,
        companion=companion.code if companion else "", companion_high_trust=bool(companion and companion.trust == DocumentType.Trust.HIGH),
    )
    if derogation:
        refused = derogations.refusal(derogation, presented, birth_date=identity.birth_date, day=day)
        if refused:
            raise RuleViolation(refused[1], field=refused[0])
        return derogation
    if presented.document_high_trust:
        return ""
    return derogations.applicable(presented, birth_date=identity.birth_date, day=day)


def _not_validating_message(document_type: DocumentType) -> str:
    uses = [rule for rule in derogations.EXCEPTIONS.values() if document_type.code in rule.documents]
    if not uses:
        return f"Contrôle enregistré. « {document_type} » ne permet pas de valider l'identité : statut inchangé."
    return (f"Contrôle enregistré. « {document_type} » ne valide l'identité que dans une dérogation : "
            + " ; ".join(f"{rule.label} ({rule.describe()})" for rule in uses) + ". Statut inchangé.")


def identity_record_document_check(
    *,
    actor,
    identity_id: int,
    document_type_id: int,
    expiry_date: date | None,
    companion_type_id: int | None = None,
    checked_at: datetime | None = None,
    derogation: str = "",
) -> DocumentOutcome:
    """Record that an identity document was checked; a high-trust one validates the identity.

    So does a combination of the RNIV 2024 exceptions (``derogation``: the one the agent
    names, refused with nothing written when what was shown does not fulfil it; or, when
    none is named, the one the documents fulfil), recorded on the check.
    """
    require_permission(actor, "identities.record_document_check", "Refusé : vous n'avez pas le droit d'enregistrer un contrôle de pièce.")
    document_type = DocumentType.objects.filter(pk=document_type_id, active=True).first()
    if document_type is None:
        raise RuleViolation("type de pièce d'identité inconnu ou désactivé", field="document_type")
    companion = None
    if companion_type_id:
        companion = DocumentType.objects.filter(pk=companion_type_id, active=True).first()
        if companion is None:
            raise RuleViolation("type de pièce complémentaire inconnu ou désactivé", field="companion_type")
    if document_type.trust == DocumentType.Trust.COMPANION_ONLY:
        raise RuleViolation(f"« {document_type} » ne s'enregistre qu'en pièce complémentaire", field="document_type")
    today = timezone.localdate()
    if expiry_date is None and document_type.requires_expiry:
        raise RuleViolation("la date d'expiration de la pièce est obligatoire", field="expiry_date")
    if expiry_date and expiry_date < today and document_type.requires_expiry:
        raise RuleViolation(f"pièce périmée depuis le {expiry_date:%d/%m/%Y} : elle ne peut pas valider l'identité", field="expiry_date")
    with transaction.atomic():
        identity = lock_identity(identity_id)
        used = _derogation_used(identity, document_type, companion, derogation, today)
        validates = document_type.trust == DocumentType.Trust.HIGH or bool(used)
        check = DocumentCheck(
            identity=identity, document_type=document_type, companion_type=companion, expiry_date=expiry_date,
            validates=validates, derogation=used, checked_at=checked_at or timezone.now(), checked_by=actor,
        )
        check._history_user = actor
        check.save()
        audit_event(identity, IdentityEvent.Kind.DOCUMENT_CHECKED, actor, document_type=document_type.code,
                    companion_type=companion.code if companion else None, validates=validates, derogation=used,
                    expiry_date=expiry_date.isoformat() if expiry_date else None, check_id=check.pk)
        status_changed = False
        if not validates:
            message = _not_validating_message(document_type)
        elif identity.doubtful or identity.fictitious:
            message = "Contrôle enregistré. Identité douteuse ou fictive : elle reste provisoire."
        elif identity.status in (Status.PROV, Status.RECUP):
            apply_transition(identity, "document_validated", actor, reason=f"Pièce contrôlée : {document_type}")
            identity.validated_at = check.checked_at
            status_changed = True
            message = f"Identité passée au statut « {identity.get_status_display()} »."
            if used:
                message += f" Dérogation RNIV : {derogations.EXCEPTIONS[used].label}."
        else:
            message = "Contrôle enregistré ; l'identité était déjà validée."
        save_identity(identity, actor, f"Contrôle de pièce : {document_type}")
    return DocumentOutcome(check=check, status_changed=status_changed, message=message)


def identity_withdraw_document_check(*, actor, check_id: int, reason: str) -> Identity:
    """Withdraw a document check; without another validating one, VALI→PROV and QUAL→RECUP."""
    require_permission(actor, "identities.withdraw_document_check", "Refusé : vous n'avez pas le droit de retirer un contrôle de pièce.")
    if not reason.strip():
        raise RuleViolation("un motif est obligatoire pour retirer un contrôle de pièce", field="reason")
    with transaction.atomic():
        check = DocumentCheck.objects.select_for_update().filter(pk=check_id, withdrawn_at__isnull=True).first()
        if check is None:
            raise RuleViolation("contrôle de pièce introuvable ou déjà retiré")
        identity = lock_identity(check.identity_id)
        check.withdrawn_at, check.withdrawn_by, check.withdrawal_reason = timezone.now(), actor, reason
        check._history_user = actor
        check.save()
        audit_event(identity, IdentityEvent.Kind.DOCUMENT_WITHDRAWN, actor, reason=reason, check_id=check.pk)
        still_valid = identity.document_checks.filter(validates=True, withdrawn_at__isnull=True).exists()
        if not still_valid and identity.status in (Status.VALI, Status.QUAL):
            apply_transition(identity, "document_withdrawn", actor, reason=reason)
            identity.validated_at = None
        save_identity(identity, actor, f"Retrait du contrôle de pièce : {reason}")
    return identity


# --- Attributes ---

_ATTRIBUTE_FIELDS = {Attribute.DOUT: "doubtful", Attribute.FICT: "fictitious", Attribute.HOMA: "homonym"}


def identity_set_attribute(*, actor, identity_id: int, attribute: str, value: bool, reason: str) -> Identity:
    """Set or clear DOUT, FICT or HOMA. DOUT/FICT force PROV and invalidate the INS."""
    if attribute not in _ATTRIBUTE_FIELDS:
        raise RuleViolation(f"attribut inconnu : {attribute}", field="attribute")
    label = Attribute(attribute).label
    if not (attribute == Attribute.DOUT and value and actor.has_perm("identities.flag_doubtful")):
        require_permission(actor, "identities.manage_attributes", f"Refusé : seule la CIV peut {'poser' if value else 'lever'} l'attribut « {label} ».")
    if not reason.strip():
        raise RuleViolation("un motif est obligatoire pour poser ou lever un attribut", field="reason")
    with transaction.atomic():
        identity = lock_identity(identity_id)
        name = _ATTRIBUTE_FIELDS[attribute]
        if getattr(identity, name) == value:
            return identity
        if value and attribute == Attribute.FICT and (identity.doubtful or identity.homonym):
            raise RuleViolation("« identité fictive » ne se combine avec aucun autre attribut : levez d'abord les autres", field="attribute")
        if value and attribute != Attribute.FICT and identity.fictitious:
            raise RuleViolation(f"une identité fictive ne peut pas être aussi « {label} »", field="attribute")
        setattr(identity, name, value)
        audit_event(identity, IdentityEvent.Kind.ATTRIBUTE_CHANGED, actor, reason=reason, attribute=attribute, value=value)
        if value and attribute in (Attribute.DOUT, Attribute.FICT):
            if identity.ins_matricule:
                audit_event(identity, IdentityEvent.Kind.INS_INVALIDATED, actor, reason=reason,
                            **_drop_ins(identity, actor, reason=f"{label} : {reason}"))
            before = identity.status
            identity.marked_unreliable()
            if before != identity.status:
                audit_event(identity, IdentityEvent.Kind.STATUS_CHANGED, actor, reason=reason,
                            from_status=before, to_status=identity.status, transition="marked_unreliable")
        save_identity(identity, actor, f"Attribut « {label} » {'posé' if value else 'levé'} : {reason}")
    return identity


# --- INS ---

def identity_invalidate_ins(*, actor, identity_id: int, reason: str) -> Identity:
    """The CIV invalidates the INS (after a KO verification, for instance): one level down."""
    require_permission(actor, "identities.invalidate_ins", "Refusé : vous n'avez pas le droit d'invalider un INS.")
    if not reason.strip():
        raise RuleViolation("un motif est obligatoire pour invalider un INS", field="reason")
    with transaction.atomic():
        identity = lock_identity(identity_id)
        if not identity.ins_matricule:
            raise RuleViolation("cette identité ne porte pas d'INS")
        audit_event(identity, IdentityEvent.Kind.INS_INVALIDATED, actor, reason=reason, **_drop_ins(identity, actor, reason=reason))
        apply_transition(identity, "ins_invalidated", actor, reason=reason)
        save_identity(identity, actor, f"INS invalidé : {reason}")
    return identity


@dataclass(frozen=True)
class InsiMatricule:
    matricule: str
    oid: str
    start_date: str = ""
    end_date: str = ""


@dataclass(frozen=True)
class InsiIdentity:
    """An identity as INSi returned it: the traits exactly as sent, the active INS, its history."""

    active: InsiMatricule
    birth_name: str
    birth_given_names: str
    sex: str
    birth_date: str
    birthplace_code: str
    history: tuple[InsiMatricule, ...] = ()


@dataclass
class InsiOutcome:
    identity: Identity
    applied: bool
    message: str
    collision_with: Identity | None = None


_SOURCES = {
    "recovery": InsMatricule.Source.INSI_RECOVERY,
    "verification": InsMatricule.Source.INSI_VERIFICATION,
    "third_party": InsMatricule.Source.THIRD_PARTY,
}


def _checked_national_ins(result: InsiIdentity, identity_id: int, *, source_label: str,
                          oid_source: matricule.OidSource = matricule.OidSource.INSI) -> str:
    """The matricule of an identity from the national base (INSi, the Appli carte Vitale), refused under rule 5 or malformed."""
    rejection = traits.insi_result_rejection(
        birth_name=result.birth_name, birth_given_names=result.birth_given_names, sex=result.sex, birth_date=result.birth_date
    )
    if rejection:
        raise RuleViolation(f"{source_label} non intégrable : {rejection}.")
    try:
        ins = matricule.check_format(result.active.matricule)
        matricule.check_oid(result.active.oid, environment=settings.INS_ENVIRONMENT, source=oid_source)
    except matricule.MatriculeError as error:
        raise _as_violation(error) from error
    if not matricule.key_checks(ins):
        logger.warning("A national identity came with a matricule whose key does not check (identity %s); kept as authoritative",
                       identity_id)
    if result.birthplace_code and not Birthplace.objects.filter(code=result.birthplace_code).exists():
        logger.warning("A national identity came with a birthplace code unknown to the COG table (identity %s)", identity_id)
    return ins


def _collision(identity: Identity, ins: str, actor, *, channel: str, exchange_id: int | None, why: str) -> InsiOutcome | None:
    """A matricule already held by another identity: both flagged (COLP), nothing integrated; None when it is free."""
    other = selectors.identity_holding_matricule(ins, exclude_id=identity.pk)
    if other is None:
        return None
    IdentityLink.objects.get_or_create(
        kind=IdentityLink.Kind.COLP, identity=identity, other=other, defaults={"created_by": actor, "reason": why},
    )
    for record in (identity, other):
        audit_event(record, IdentityEvent.Kind.COLLISION, actor, channel=channel,
                    other_identity=(other if record is identity else identity).pk, exchange_id=exchange_id)
    return InsiOutcome(
        identity=identity, applied=False, collision_with=other,
        message=f"Collision : ce matricule INS est déjà porté par l'identité n° {other.pk}. "
        "Rien n'a été intégré ; la collision est signalée à la CIV.",
    )


def _feed(identity: Identity, result: InsiIdentity, ins: str, actor, *, source: str, exchange_id: int | None) -> dict:
    """Take the national identity's traits exactly as sent and register its matricules; returns the strict traits changed."""
    before = {name: getattr(identity, name) for name in STRICT_TRAIT_FIELDS}
    identity.birth_name = result.birth_name
    identity.birth_given_names = result.birth_given_names
    identity.first_birth_given_name = traits.first_of(result.birth_given_names)
    identity.sex = result.sex
    identity.birth_date = result.birth_date
    identity.birthplace_code = result.birthplace_code
    identity.birth_date_corrected = False
    identity.ins_matricule, identity.ins_oid = ins, result.active.oid
    rows = [InsMatricule(identity=identity, matricule=ins, oid=result.active.oid, kind=InsMatricule.Kind.ACTIVE,
                         start_date=result.active.start_date, end_date=result.active.end_date, source=source,
                         insi_exchange_id=exchange_id, recorded_by=actor)]
    rows += [
        InsMatricule(identity=identity, matricule=h.matricule, oid=h.oid, kind=InsMatricule.Kind.HISTORICAL,
                     start_date=h.start_date, end_date=h.end_date, source=source, insi_exchange_id=exchange_id, recorded_by=actor)
        for h in result.history
        if (h.matricule, h.oid) != (ins, result.active.oid)
    ]
    for row in rows:
        row._history_user = actor
        row.save()
    return {name: [before[name], getattr(identity, name)] for name in STRICT_TRAIT_FIELDS if before[name] != getattr(identity, name)}


REPLACED_AFTER_KO = "Nouvelle récupération INSi après une vérification KO"


def identity_apply_insi_result(
    *, actor, identity_id: int, result: InsiIdentity, operation: str = "recovery", exchange_id: int | None = None,
    replace_after_ko: bool = False,
) -> InsiOutcome:
    """Feed an identity with what INSi returned (code 00 or verification OK) once it is accepted.

    Traits are stored exactly as returned; the matricule and its history are registered;
    PROV→RECUP or VALI→QUAL. A matricule already held by another identity is a collision:
    nothing is integrated and both records are flagged. ``replace_after_ko``: the new recovery
    a verification KO invites; the stored INS is invalidated (one level down, by a user who may
    invalidate an INS) and the returned one integrated, in the same transaction.
    """
    require_permission(actor, "identities.use_insi", "Refusé : vous n'avez pas le droit d'utiliser le téléservice INSi.")
    if operation not in _SOURCES:
        raise RuleViolation(f"opération INSi inconnue : {operation}")
    # A third party's INS keeps the OID it came with (INSi verified it): a received OID, not an INSi answer.
    ins = _checked_national_ins(result, identity_id, source_label="Résultat INSi", oid_source=(
        matricule.OidSource.RECEIVED if operation == "third_party" else matricule.OidSource.INSI))

    with transaction.atomic():
        identity = lock_identity(identity_id)
        if identity.doubtful or identity.fictitious:
            raise NotAllowed("Refusé : les appels INSi sont bloqués pour une identité douteuse ou fictive.")
        if identity.is_locked and replace_after_ko:
            require_permission(actor, "identities.invalidate_ins",
                               "Refusé : remplacer l'INS après une vérification KO est réservé à la CIV (invalidation de l'INS).")
            audit_event(identity, IdentityEvent.Kind.INS_INVALIDATED, actor, reason=REPLACED_AFTER_KO,
                        **_drop_ins(identity, actor, reason=REPLACED_AFTER_KO))
            apply_transition(identity, "ins_invalidated", actor, reason=REPLACED_AFTER_KO)
        if identity.is_locked and identity.ins_matricule == ins:
            raise RuleViolation(f"Aucune récupération nécessaire : l'identité est déjà « {identity.get_status_display()} ».")
        if identity.is_locked:
            raise RuleViolation("L'identité porte déjà un autre INS : invalidez-le avant d'en intégrer un nouveau.")
        collision = _collision(identity, ins, actor, channel=Channel.INSI, exchange_id=exchange_id,
                               why="Même matricule INS retourné par INSi")
        if collision is not None:
            return collision
        source = _SOURCES[operation]
        changes = _feed(identity, result, ins, actor, source=source, exchange_id=exchange_id)
        now = timezone.now()
        identity.last_insi_call_at = now
        identity.last_verified_at = now
        audit_event(identity, IdentityEvent.Kind.INS_SET, actor, channel=Channel.INSI, operation=operation,
                    exchange_id=exchange_id, oid=result.active.oid, nature=matricule.nature_of(result.active.oid), changes=changes)
        apply_transition(identity, "insi_identity_accepted", actor, reason=f"Résultat INSi accepté ({source.label})", channel=Channel.INSI)
        save_identity(identity, actor, f"Résultat INSi intégré ({source.label})")
    return InsiOutcome(identity=identity, applied=True, message=f"Identité passée au statut « {identity.get_status_display()} ».")


# --- The Appli carte Vitale: an identity qualified without an INSi call (RNIV volet 1 v2.0) ---

APCV_DOCUMENT_TYPE = "appli-carte-vitale"


@dataclass
class ApcvOutcome:
    identity: Identity
    applied: bool
    message: str
    mismatched: list[str] = field(default_factory=list)  # strict traits that differ from the identity's locked ones
    collision_with: Identity | None = None


def identity_qualify_from_apcv(*, actor, identity_id: int, result: InsiIdentity) -> ApcvOutcome:
    """The Appli carte Vitale transmitted this identity for this record: strict traits and INS taken, status QUAL.

    The application is both the national identity and a high-trust document: no INSi call
    is made. Collection channel and validation mode ``AV`` (the identity's channel, a check of
    the ``appli-carte-vitale`` document type). A RECUP/QUAL record whose locked traits or INS
    differ is left untouched: the differences are returned for the CIV. A matricule held by
    another record is a collision, flagged.
    """
    require_permission(actor, "identities.record_document_check",
                       "Refusé : vous n'avez pas le droit d'enregistrer un contrôle de pièce.")
    document_type = DocumentType.objects.filter(code=APCV_DOCUMENT_TYPE, active=True).first()
    if document_type is None:
        raise RuleViolation("le type de pièce « Appli carte Vitale » est désactivé ou absent du paramétrage", field="document_type")
    ins = _checked_national_ins(result, identity_id, source_label="Identité de l'Appli carte Vitale",
                                oid_source=matricule.OidSource.RECEIVED)
    with transaction.atomic():
        identity = lock_identity(identity_id)
        if identity.doubtful or identity.fictitious:
            raise NotAllowed("Refusé : une identité douteuse ou fictive ne peut pas être qualifiée.")
        if identity.is_locked:
            transmitted = {"birth_name": result.birth_name, "birth_given_names": result.birth_given_names, "sex": result.sex,
                           "birth_date": result.birth_date, "birthplace_code": result.birthplace_code, "ins_matricule": ins}
            mismatched = [name for name, value in transmitted.items() if getattr(identity, name) != value]
            if mismatched:
                audit_event(identity, IdentityEvent.Kind.DOCUMENT_CHECKED, actor, channel=Channel.AV, validates=False,
                            document_type=APCV_DOCUMENT_TYPE, mismatched=mismatched,
                            reason="Appli carte Vitale : traits ou INS différents des traits verrouillés, rien n'est modifié")
                return ApcvOutcome(identity=identity, applied=False, mismatched=mismatched,
                                   message="L'Appli carte Vitale ne transmet pas les traits ni l'INS verrouillés de cette identité : "
                                   "rien n'est modifié, l'écart est signalé à la CIV.")
        else:
            collision = _collision(identity, ins, actor, channel=Channel.AV, exchange_id=None,
                                   why="Même matricule INS transmis par l'Appli carte Vitale")
            if collision is not None:
                return ApcvOutcome(identity=identity, applied=False, message=collision.message, collision_with=collision.collision_with)
            changes = _feed(identity, result, ins, actor, source=InsMatricule.Source.APCV, exchange_id=None)
            identity.channel = Channel.AV
            audit_event(identity, IdentityEvent.Kind.INS_SET, actor, channel=Channel.AV, operation="apcv",
                        oid=result.active.oid, nature=matricule.nature_of(result.active.oid), changes=changes)
        if identity.status == Status.QUAL:
            return ApcvOutcome(identity=identity, applied=False, message="Identité déjà qualifiée ; l'Appli carte Vitale la confirme.")
        check = DocumentCheck(identity=identity, document_type=document_type, validates=True, checked_at=timezone.now(), checked_by=actor)
        check._history_user = actor
        check.save()
        audit_event(identity, IdentityEvent.Kind.DOCUMENT_CHECKED, actor, channel=Channel.AV, document_type=APCV_DOCUMENT_TYPE,
                    validates=True, check_id=check.pk, validation_mode=Channel.AV)
        apply_transition(identity, "apcv_identity_accepted", actor, reason="Identité transmise par l'Appli carte Vitale", channel=Channel.AV)
        identity.validated_at = check.checked_at
        save_identity(identity, actor, "Appli carte Vitale : identité qualifiée")
    return ApcvOutcome(identity=identity, applied=True, message="Identité qualifiée par l'Appli carte Vitale (sans appel INSi).")
