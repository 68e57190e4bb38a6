"""Collisions (one record, two people: flagged COLP, confirmed COLV, dismissed or split) and usurpation (USUR), with the automatic suspects.

Writes follow the house rule: one transaction each, with its audit events. A collision is
never merged (``services.merge_refusal`` asks ``selectors.collision_split_between``).
"""
from __future__ import annotations

from django.db import transaction
from django.dispatch import receiver as subscribe
from django.utils import timezone
from simple_history.utils import bulk_update_with_history

from identities.core import roles, services
from identities.core.diffusion import shareable_ins
from identities.core.errors import ConflictError, RuleViolation, require_permission
from identities.core.events import identity_event_recorded
from identities.core.models import DocumentCheck, Identity, IdentityEvent, InsMatricule
from identities.core.services import audit_event, lock_identity, save_identity
from identities.merge.models import Collision

_MANAGE = "Refusé : seule la CIV signale, confirme ou écarte une collision."


def collision_flag(*, actor, identity_id: int, reason: str, automatic: bool = False) -> Collision:
    """COLP: this record may hold two people. One open collision per record."""
    require_permission(actor, "identities.manage_collisions", _MANAGE)
    if not reason.strip():
        raise RuleViolation("le motif du signalement est obligatoire", field="reason")
    with transaction.atomic():
        identity = lock_identity(identity_id)
        if Collision.objects.filter(identity=identity, state__in=[Collision.State.SUSPECTED, Collision.State.CONFIRMED]).exists():
            raise RuleViolation("une collision est déjà signalée sur cette identité : elle est en cours d'instruction")
        collision = Collision.objects.create(identity=identity, state=Collision.State.SUSPECTED, reason=reason.strip(),
                                             automatic=automatic, flagged_by=actor)
        audit_event(identity, IdentityEvent.Kind.COLLISION, actor, reason=reason, collision_id=collision.pk, state="COLP",
                    automatic=automatic)
    return collision


def _open(collision_id: int, *states) -> Collision:
    collision = Collision.objects.select_for_update().filter(pk=collision_id).first()
    if collision is None:
        raise RuleViolation(f"collision n° {collision_id} introuvable")
    if collision.state not in states:
        raise ConflictError(f"Cette collision est déjà « {collision.get_state_display().lower()} » : rien n'a été modifié.")
    return collision


def collision_decide(*, actor, collision_id: int, confirmed: bool, note: str = "") -> Collision:
    """The CIV confirms (COLV: to be split) or dismisses (one person after all) a suspected collision."""
    require_permission(actor, "identities.manage_collisions", _MANAGE)
    if not confirmed and not note.strip():
        raise RuleViolation("un commentaire est obligatoire pour écarter une collision", field="note")
    with transaction.atomic():
        collision = _open(collision_id, Collision.State.SUSPECTED)
        collision.state = Collision.State.CONFIRMED if confirmed else Collision.State.DISMISSED
        collision.decided_by, collision.decided_at, collision.decision_note = actor, timezone.now(), note.strip()
        collision.save(update_fields=["state", "decided_by", "decided_at", "decision_note"])
        audit_event(lock_identity(collision.identity_id), IdentityEvent.Kind.COLLISION, actor, reason=note,
                    collision_id=collision.pk, state=collision.state)
    return collision


def collision_split(*, actor, collision_id: int, traits: dict, event_ids=(), check_ids=(), reason: str) -> Collision:
    """A confirmed collision is split: the referent creates the second person's identity from the
    record (the traits given, a provisional identity) and moves the events and document checks
    that belong to that person, each move traced on both identities."""
    require_permission(actor, "identities.split_collision", "Refusé : seul un référent CIV sépare une collision avérée.")
    if not reason.strip():
        raise RuleViolation("un motif est obligatoire pour séparer une collision", field="reason")
    with transaction.atomic():
        collision = _open(collision_id, Collision.State.CONFIRMED)
        record = lock_identity(collision.identity_id)
        everyone = list(Identity.objects.values_list("pk", flat=True))  # the referent creates a known other person
        second = services.identity_create(actor=actor, acknowledged_candidates=everyone, establishment=record.establishment,
                                         **traits).identity
        events = list(IdentityEvent.objects.filter(pk__in=list(event_ids), identity=record).values_list("pk", flat=True))
        if len(events) != len(set(event_ids)):
            raise RuleViolation("un des événements à déplacer n'appartient pas à l'identité en collision", field="event_ids")
        checks = list(DocumentCheck.objects.filter(pk__in=list(check_ids), identity=record))
        if len(checks) != len(set(check_ids)):
            raise RuleViolation("un des contrôles de pièces à déplacer n'appartient pas à l'identité en collision", field="check_ids")
        IdentityEvent.objects.filter(pk__in=events).update(identity=second)
        for check in checks:
            check.identity = second
        bulk_update_with_history(checks, DocumentCheck, ["identity"], default_user=actor, default_change_reason=f"Collision n° {collision.pk}")
        moves = [{"event": pk, "to": second.pk} for pk in events] + [{"document_check": check.pk, "to": second.pk} for check in checks]
        for identity, role in ((record, "from"), (second, "to")):
            audit_event(identity, IdentityEvent.Kind.MOVED, actor, reason=reason, collision_id=collision.pk, role=role,
                        other_identity=(second if role == "from" else record).pk, events=events, document_checks=[c.pk for c in checks])
        collision.state, collision.second_identity, collision.moves = Collision.State.SPLIT, second, moves
        collision.decision_note = "\n".join(filter(None, [collision.decision_note, reason.strip()]))
        collision.save(update_fields=["state", "second_identity", "moves", "decision_note"])
    return collision


def usurpation_set(*, actor, identity_id: int, suspected: bool, reason: str) -> Identity:
    """USUR: somebody used this person's identity. While it is set the INS does not leave the
    system (the diffusion gate holds it back); receivers drop it (A47) and get it back (A31) when resolved."""
    require_permission(actor, "identities.manage_collisions", "Refusé : seule la CIV signale ou lève une usurpation d'identité.")
    if not reason.strip():
        raise RuleViolation("un motif est obligatoire pour signaler ou lever une usurpation", field="reason")
    with transaction.atomic():
        identity = lock_identity(identity_id)
        if identity.usurpation_suspected == suspected:
            return identity
        shared_before = shareable_ins(identity) is not None
        identity.usurpation_suspected = suspected
        audit_event(identity, IdentityEvent.Kind.USURPATION, actor, reason=reason, suspected=suspected,
                    withdrawn=shared_before and suspected)
        save_identity(identity, actor, f"Usurpation {'signalée' if suspected else 'levée'} : {reason}")
    return identity


# --- Automatic suspects ---

def _sex_and_birth(matricule: str) -> tuple[str, str]:
    """What a NIR/NIA says of its holder: sex (odd first digit male, even female) and birth year and month."""
    return ("M" if int(matricule[0]) % 2 else "F"), matricule[1:5]


def contradiction(identity_id: int) -> str:
    """Why the INS history of this record contradicts one person (French), or "": two matricules
    held or reported for it that encode different sexes or birth dates."""
    seen = {}
    for value in InsMatricule.objects.filter(identity_id=identity_id).values_list("matricule", flat=True):
        if value[:1].isdigit():
            seen.setdefault(_sex_and_birth(value), value)
    if len(seen) > 1:
        return ("Collision suspectée automatiquement : les matricules INS reçus pour ce dossier désignent des personnes "
                "de sexes ou de dates de naissance différents.")
    return ""


@subscribe(identity_event_recorded, dispatch_uid="identities.merge.collisions.suspect_on_new_ins")
def suspect_on_new_ins(*, event: IdentityEvent, **_signal) -> None:
    """After an INS is integrated, in its transaction: flag the record when its INS history contradicts one person."""
    if event.kind != IdentityEvent.Kind.INS_SET:
        return
    why = contradiction(event.identity_id)
    if why and not Collision.objects.filter(identity_id=event.identity_id,
                                            state__in=[Collision.State.SUSPECTED, Collision.State.CONFIRMED]).exists():
        collision = Collision.objects.create(identity_id=event.identity_id, state=Collision.State.SUSPECTED, reason=why,
                                             automatic=True, flagged_by=roles.system_user())
        audit_event(event.identity, IdentityEvent.Kind.COLLISION, roles.system_user(), reason=why, collision_id=collision.pk,
                    state="COLP", automatic=True)
