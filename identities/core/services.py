"""Every write to the identity referential: one transaction each, with its audit event and history."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_fsm import can_proceed, has_transition_perm

from identities.core import matricule, selectors, traits
from identities.core.errors import ConflictError, NotAllowed, RuleViolation, require_permission
from identities.core.events import identity_event_recorded
from identities.core.models import (
    STRICT_TRAIT_FIELDS,
    Attribute,
    Birthplace,
    Channel,
    DocumentCheck,
    DocumentType,
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

def lock_identity(identity_id: int) -> Identity:
    try:
        return Identity.objects.select_for_update().get(pk=identity_id)
    except Identity.DoesNotExist:
        raise RuleViolation(f"identité {identity_id} introuvable") from None


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
}


def _transition(identity: Identity, name: str, actor, *, reason: str, channel: str = "") -> None:
    """Run one transition of the status machine, checking its source, conditions and permission."""
    method = getattr(identity, name)
    what = _TRANSITION_REFUSALS.get(name, name)
    if not can_proceed(method):
        if identity.doubtful or identity.fictitious:
            raise NotAllowed(f"Refusé : {what} est impossible sur une identité douteuse ou fictive.")
        raise NotAllowed(f"Refusé : {what} n'est pas possible depuis le statut « {identity.get_status_display()} ».")
    if not has_transition_perm(method, actor):
        raise NotAllowed(f"Refusé : vous n'avez pas l'habilitation pour {what}.")
    before = identity.status
    method()
    audit_event(identity, IdentityEvent.Kind.STATUS_CHANGED, actor, reason=reason, channel=channel,
                from_status=before, to_status=identity.status, transition=name)


def _as_violation(error: Exception) -> RuleViolation:
    return RuleViolation(getattr(error, "message", str(error)), field=getattr(error, "field", None))


def _check_birthplace(code: str) -> None:
    if code and not Birthplace.objects.filter(code=code).exists():
        raise RuleViolation(f"code INSEE {code} inconnu du référentiel des communes et pays (COG)", field=traits.BIRTHPLACE)


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
) -> CreationOutcome:
    """Create a provisional identity after an anteriority search.

    When the search finds candidates the caller has not acknowledged (seen and judged
    to be other people), nothing is written and the candidates are returned.
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
    _check_birthplace(strict.birthplace_code)

    candidates = selectors.anteriority_search(
        name=strict.birth_name, given_name=strict.first_birth_given_name, birth_date=strict.birth_date
    )
    if used:
        seen = {c.pk for c in candidates}
        candidates += [
            c for c in selectors.anteriority_search(name=used, given_name=strict.first_birth_given_name, birth_date=strict.birth_date)
            if c.pk not in seen
        ]
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
            created_by=actor,
            updated_by=actor,
        )
        identity._history_user = actor
        identity._change_reason = "Création"
        identity.save()
        audit_event(identity, IdentityEvent.Kind.CREATED, actor, channel=channel, to_status=identity.status,
                    acknowledged_candidates=list(acknowledged_candidates))
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
        if "birthplace_code" in diff:
            _check_birthplace(diff["birthplace_code"])
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
            _transition(identity, "ins_invalidated", actor, reason=reason)
            outcome.ins_invalidated = True
        save_identity(identity, actor, reason or "Modification des traits")
    return outcome


# --- Identity documents ---

@dataclass
class DocumentOutcome:
    check: DocumentCheck
    status_changed: bool
    message: str


def _document_validates(document_type: DocumentType, companion: DocumentType | None) -> bool:
    if document_type.trust == DocumentType.Trust.HIGH:
        return True
    if document_type.trust == DocumentType.Trust.WITH_COMPANION and companion is not None:
        return companion.trust in (DocumentType.Trust.HIGH, DocumentType.Trust.COMPANION_ONLY)
    return False


def identity_record_document_check(
    *,
    actor,
    identity_id: int,
    document_type_id: int,
    expiry_date: date | None,
    companion_type_id: int | None = None,
    checked_at: datetime | None = None,
) -> DocumentOutcome:
    """Record that an identity document was checked; a high-trust one validates the identity."""
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
    validates = _document_validates(document_type, companion)
    with transaction.atomic():
        identity = lock_identity(identity_id)
        check = DocumentCheck(
            identity=identity, document_type=document_type, companion_type=companion, expiry_date=expiry_date,
            validates=validates, checked_at=checked_at or timezone.now(), checked_by=actor,
        )
        check._history_user = actor
        check.save()
        audit_event(identity, IdentityEvent.Kind.DOCUMENT_CHECKED, actor, document_type=document_type.code,
                    companion_type=companion.code if companion else None, validates=validates,
                    expiry_date=expiry_date.isoformat() if expiry_date else None, check_id=check.pk)
        status_changed = False
        if not validates:
            message = f"Contrôle enregistré. « {document_type} » ne permet pas de valider l'identité : statut inchangé."
        elif identity.doubtful or identity.fictitious:
            message = "Contrôle enregistré. Identité douteuse ou fictive : elle reste provisoire."
        elif identity.status in (Status.PROV, Status.RECUP):
            _transition(identity, "document_validated", actor, reason=f"Pièce contrôlée : {document_type}")
            identity.validated_at = check.checked_at
            status_changed = True
            message = f"Identité passée au statut « {identity.get_status_display()} »."
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
            _transition(identity, "document_withdrawn", actor, reason=reason)
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
        save_identity(identity, actor, f"{label} {'posé' if value else 'levé'} : {reason}")
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
        _transition(identity, "ins_invalidated", actor, reason=reason)
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


def identity_apply_insi_result(
    *, actor, identity_id: int, result: InsiIdentity, operation: str = "recovery", exchange_id: int | None = None
) -> InsiOutcome:
    """Feed an identity with what INSi returned (code 00 or verification OK) once it is accepted.

    Traits are stored exactly as returned; the matricule and its history are registered;
    PROV→RECUP or VALI→QUAL. A matricule already held by another identity is a collision:
    nothing is integrated and both records are flagged.
    """
    require_permission(actor, "identities.use_insi", "Refusé : vous n'avez pas le droit d'utiliser le téléservice INSi.")
    if operation not in _SOURCES:
        raise RuleViolation(f"opération INSi inconnue : {operation}")
    rejection = traits.insi_result_rejection(
        birth_name=result.birth_name, birth_given_names=result.birth_given_names, sex=result.sex, birth_date=result.birth_date
    )
    if rejection:
        raise RuleViolation(f"Résultat INSi non intégrable : {rejection}.")
    try:
        ins = matricule.check_format(result.active.matricule)
        matricule.check_oid(result.active.oid, environment=settings.INS_ENVIRONMENT)
    except matricule.MatriculeError as error:
        raise _as_violation(error) from error
    if not matricule.key_checks(ins):
        logger.warning("INSi returned a matricule whose key does not check (identity %s); kept as authoritative", identity_id)
    if result.birthplace_code and not Birthplace.objects.filter(code=result.birthplace_code).exists():
        logger.warning("INSi returned a birthplace code unknown to the COG table (identity %s)", identity_id)

    with transaction.atomic():
        identity = lock_identity(identity_id)
        if identity.doubtful or identity.fictitious:
            raise NotAllowed("Refusé : les appels INSi sont bloqués pour une identité douteuse ou fictive.")
        if identity.is_locked and identity.ins_matricule == ins:
            raise RuleViolation(f"Aucune récupération nécessaire : l'identité est déjà « {identity.get_status_display()} ».")
        if identity.is_locked:
            raise RuleViolation("L'identité porte déjà un autre INS : invalidez-le avant d'en intégrer un nouveau.")
        other = selectors.identity_holding_matricule(ins, exclude_id=identity.pk)
        if other is not None:
            IdentityLink.objects.get_or_create(
                kind=IdentityLink.Kind.COLP, identity=identity, other=other,
                defaults={"created_by": actor, "reason": "Même matricule INS retourné par INSi"},
            )
            for record in (identity, other):
                audit_event(record, IdentityEvent.Kind.COLLISION, actor, channel=Channel.INSI,
                            other_identity=(other if record is identity else identity).pk, exchange_id=exchange_id)
            return InsiOutcome(
                identity=identity, applied=False, collision_with=other,
                message=f"Collision : ce matricule INS est déjà porté par l'identité n° {other.pk}. "
                "Rien n'a été intégré ; la collision est signalée à la CIV.",
            )
        before = {name: getattr(identity, name) for name in STRICT_TRAIT_FIELDS}
        identity.birth_name = result.birth_name
        identity.birth_given_names = result.birth_given_names
        identity.first_birth_given_name = traits.first_of(result.birth_given_names)
        identity.sex = result.sex
        identity.birth_date = result.birth_date
        identity.birthplace_code = result.birthplace_code
        identity.birth_date_corrected = False
        identity.ins_matricule, identity.ins_oid = ins, result.active.oid
        now = timezone.now()
        identity.last_insi_call_at = now
        identity.last_verified_at = now
        source = _SOURCES[operation]
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
        changes = {name: [before[name], getattr(identity, name)] for name in STRICT_TRAIT_FIELDS if before[name] != getattr(identity, name)}
        audit_event(identity, IdentityEvent.Kind.INS_SET, actor, channel=Channel.INSI, operation=operation,
                    exchange_id=exchange_id, oid=result.active.oid, nature=matricule.nature_of(result.active.oid), changes=changes)
        _transition(identity, "insi_identity_accepted", actor, reason=f"Résultat INSi accepté ({operation})", channel=Channel.INSI)
        save_identity(identity, actor, f"Résultat INSi intégré ({operation})")
    return InsiOutcome(identity=identity, applied=True, message=f"Identité passée au statut « {identity.get_status_display()} ».")
