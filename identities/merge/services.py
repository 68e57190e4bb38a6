"""Every write of the merge capability: merge (with four eyes), unmerge, the merge setting; one transaction each, with its audit rows."""
from __future__ import annotations

import uuid
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from simple_history.utils import bulk_update_with_history

from identities.core import worklists
from identities.core.errors import ConflictError, NotAllowed, RuleViolation, require_permission
from identities.core.models import (
    STRICT_TRAIT_FIELDS,
    DocumentCheck,
    Identity,
    IdentityEvent,
    IdentityLink,
    InsMatricule,
    Status,
    WorklistItem,
)
from identities.core.services import apply_transition, audit_event, lock_identity, save_identity
from identities.merge import rules, selectors
from identities.merge.models import Merge, MergePolicy
from identities.workflows import recovery as insi_recovery
from identities.workflows import selectors as insi_selectors

# Bookkeeping that every save moves on: never restored (an old version would let a stale form save).
_NOT_RESTORED = {"id", "status", "version", "updated_at", "updated_by", "birth_name_key", "used_name_key", "given_names_key"}
RESTORED_FIELDS = [field for field in Identity._meta.concrete_fields if field.name not in _NOT_RESTORED and not field.generated]


# --- Snapshots: an identity as plain JSON data, and back ---

def _plain(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def snapshot_of(identity: Identity) -> dict:
    """Every field an unmerge restores, and the status, as JSON data."""
    return {"status": identity.status, **{field.attname: _plain(field.value_from_object(identity)) for field in RESTORED_FIELDS}}


def _restore_field(identity: Identity, attname: str, value) -> None:
    field = Identity._meta.get_field(attname)  # forward fields are found by attname too
    setattr(identity, field.attname, None if value is None else field.to_python(value))


# --- The setting ---

def merge_set_policy(*, actor, four_eyes: bool) -> MergePolicy:
    """Switch four eyes on or off (a CIV referent)."""
    require_permission(actor, "identities.configure_merge", "Refusé : seul un référent CIV règle la double validation des fusions.")
    with transaction.atomic():
        policy = selectors.merge_policy(for_update=True)
        policy.four_eyes, policy.updated_by = bool(four_eyes), actor
        policy._history_user = actor
        policy.save()
    return policy


# --- Checks shared by the proposal and the merge itself ---

def merge_refusal(actor, first: Identity, second: Identity) -> str:
    """Why this user may not merge these two records now (French), or ""."""
    why = rules.refusal(first, second)
    if why:
        return why
    busy = insi_selectors.unfinished_insi_work([first.pk, second.pk])
    if busy:
        return f"Fusion refusée : {busy}."
    if selectors.collision_split_between(first.pk, second.pk):
        return "Fusion refusée : ces deux identités sont les deux personnes d'une collision séparée ; elles ne se fusionnent jamais."
    if not selectors.is_proven_duplicate(first.pk, second.pk) and not actor.has_perm("identities.merge_any_pair"):
        return (
            "Refusé : ces deux identités ne sont pas un doublon avéré. Faites confirmer le doublon par la CIV "
            "(file « Doublons potentiels »), ou demandez à un référent CIV, seul habilité à fusionner une paire choisie à la main."
        )
    return ""


def _survivor_of(first: Identity, second: Identity, survivor_id: int | None) -> tuple[Identity, Identity, str]:
    choice = rules.survivor_choice(first, second)
    if survivor_id is None or survivor_id == choice.proposed.pk:
        return choice.proposed, choice.other, choice.why
    if survivor_id != choice.other.pk:
        raise RuleViolation("l'identité conservée doit être l'une des deux identités de la paire", field="survivor")
    if not choice.switchable:
        raise RuleViolation(f"Ce choix n'est pas permis par les règles : {choice.why}", field="survivor")
    return choice.other, choice.proposed, f"Même statut : la CIV a choisi de conserver l'identité n° {choice.other.pk}, la plus récente."


def _kept(survivor: Identity, absorbed: Identity, keep: dict | None) -> dict:
    try:
        return rules.kept_traits(survivor, absorbed, keep)
    except ValueError as error:
        raise RuleViolation(str(error), field="keep") from error


# --- Proposal, approval, merge ---

def merge_request(
    *, actor, first_id: int, second_id: int, survivor_id: int | None = None, keep: dict | None = None, reason: str = "",
) -> Merge:
    """Merge two records of one person, or — four eyes on — propose it for another person to approve.

    Refused with a French reason, and nothing changed, when the rules say no (see
    ``merge_refusal`` and ``rules.survivor_choice``).
    """
    require_permission(actor, "identities.merge_identities", "Refusé : vous n'avez pas le droit de fusionner des identités.")
    with transaction.atomic():
        first, second = _lock_pair(first_id, second_id)
        why = merge_refusal(actor, first, second)
        if why:
            raise RuleViolation(why)
        survivor, absorbed, rule = _survivor_of(first, second, survivor_id)
        kept = _kept(survivor, absorbed, keep)
        pending = Merge.objects.filter(state=Merge.State.PROPOSED).filter(absorbed__in=[first, second]).first()
        if pending is not None:
            raise RuleViolation(
                f"Une fusion de cette identité est déjà proposée par {pending.proposed_by.get_username()} "
                f"(n° {pending.pk}) : elle attend sa validation dans « Fusions à valider »."
            )
        merge = Merge.objects.create(
            survivor=survivor, absorbed=absorbed, state=Merge.State.PROPOSED, survivor_rule=rule,
            kept_traits=kept, reason=reason.strip(), proposed_by=actor,
        )
        if not selectors.merge_policy().four_eyes:
            _perform(actor, merge, survivor, absorbed)
    return merge


def merge_approve(*, actor, merge_id: int) -> Merge:
    """Four eyes: another person than the proposer approves, and the merge is done."""
    require_permission(actor, "identities.approve_merge", "Refusé : vous n'avez pas le droit d'approuver une fusion.")
    with transaction.atomic():
        merge = _pending(merge_id)
        if merge.proposed_by_id == actor.pk:
            raise NotAllowed("Refusé : la double validation exige qu'une autre personne que celle qui a proposé la fusion l'approuve.")
        first, second = _lock_pair(merge.survivor_id, merge.absorbed_id)
        why = merge_refusal(merge.proposed_by, first, second)
        if why:
            raise RuleViolation(why)
        survivor, absorbed = (first, second) if first.pk == merge.survivor_id else (second, first)
        _perform(actor, merge, survivor, absorbed)
    return merge


def merge_reject(*, actor, merge_id: int, reason: str) -> Merge:
    require_permission(actor, "identities.approve_merge", "Refusé : vous n'avez pas le droit de refuser une fusion proposée.")
    if not reason.strip():
        raise RuleViolation("un motif est obligatoire pour refuser une fusion proposée", field="reason")
    with transaction.atomic():
        merge = _pending(merge_id)
        merge.state, merge.decided_by, merge.rejection_reason = Merge.State.REJECTED, actor, reason.strip()
        merge.save(update_fields=["state", "decided_by", "rejection_reason"])
    return merge


def _pending(merge_id: int) -> Merge:
    merge = Merge.objects.select_for_update().filter(pk=merge_id).select_related("proposed_by").first()
    if merge is None:
        raise RuleViolation(f"fusion n° {merge_id} introuvable")
    if merge.state != Merge.State.PROPOSED:
        who = merge.decided_by.get_username() if merge.decided_by else "?"
        raise ConflictError(f"Cette proposition a déjà été traitée ({merge.get_state_display().lower()}, par {who}) : rien n'a été modifié.")
    return merge


def _lock_pair(first_id: int, second_id: int) -> tuple[Identity, Identity]:
    """Both rows locked in id order (two merges of one pair never deadlock: the second waits,
    then sees the first one's result). Merged identities are returned so the rules name them."""
    if first_id == second_id:
        raise RuleViolation("Une fusion réunit deux identités différentes.")
    locked = {pk: lock_identity(pk, merged_allowed=True) for pk in sorted((first_id, second_id))}
    for identity in locked.values():
        if identity.is_merged:
            done = Merge.objects.filter(absorbed=identity, state=Merge.State.DONE).select_related("decided_by").first()
            by = f" par {done.decided_by.get_username()}" if done and done.decided_by else ""
            when = timezone.localtime(identity.merged_at).strftime("%d/%m/%Y %H:%M") if identity.merged_at else "?"
            raise ConflictError(
                f"L'identité n° {identity.pk} a déjà été fusionnée dans l'identité n° {identity.merged_into_id}{by} "
                f"le {when} : rien n'a été modifié."
            )
    return locked[first_id], locked[second_id]


def _perform(actor, merge: Merge, survivor: Identity, absorbed: Identity) -> None:
    """Carry everything of the absorbed identity over to the survivor, inside the caller's transaction."""
    now = timezone.now()
    label = f"Fusion n° {merge.pk}"
    snapshot = {"survivor_before": snapshot_of(survivor), "absorbed_before": snapshot_of(absorbed)}
    moved: dict = {}
    survivor_validated = survivor.document_checks.filter(validates=True, withdrawn_at__isnull=True).exists()

    # Document checks, re-evaluated: a check proves the traits it was made against, which are
    # the survivor's only if both records carry the same strict traits.
    same_traits = all(getattr(survivor, name) == getattr(absorbed, name) for name in STRICT_TRAIT_FIELDS)
    checks = list(DocumentCheck.objects.filter(identity=absorbed).order_by("pk"))
    moved["checks"] = [[check.pk, check.validates] for check in checks]
    for check in checks:
        check.identity = survivor
        check.validates = check.validates and same_traits
    bulk_update_with_history(checks, DocumentCheck, ["identity", "validates"], default_user=actor, default_change_reason=label)
    validating_moved = any(check.validates and check.withdrawn_at is None for check in checks)

    # The INS history (every matricule the absorbed record held or INSi reported).
    rows = list(InsMatricule.objects.filter(identity=absorbed))
    moved["matricules"] = [row.pk for row in rows]
    for row in rows:
        row.identity = survivor
    bulk_update_with_history(rows, InsMatricule, ["identity"], default_user=actor, default_change_reason=label)

    # INSi recoveries and the references of their exchanges.
    moved["recoveries"] = insi_selectors.recovery_ids(absorbed.pk)
    insi_recovery.recovery_records_move(recovery_ids=moved["recoveries"], to_identity_id=survivor.pk)

    moved["worklist"] = _carry_worklist_items(actor, merge, survivor, absorbed, now)
    moved["links"] = _carry_links(survivor, absorbed)

    # The audit trail: every event of the absorbed record now reads on the survivor.
    events = IdentityEvent.objects.filter(identity=absorbed)
    moved["events"] = list(events.values_list("pk", flat=True))
    events.update(identity=survivor)

    # Complementary traits as the CIV chose; strict traits stay the survivor's.
    changes = {name: [getattr(survivor, name), value] for name, value in merge.kept_traits.items() if getattr(survivor, name) != value}
    for name, (_old, value) in changes.items():
        setattr(survivor, name, value)
    if changes:
        audit_event(survivor, IdentityEvent.Kind.TRAITS_CHANGED, actor, reason=label, changes=changes)
    status_before = survivor.status
    if (validating_moved and not survivor_validated and survivor.status in (Status.PROV, Status.RECUP)
            and not (survivor.doubtful or survivor.fictitious)):
        apply_transition(survivor, "document_validated", actor, reason=f"{label} : pièce d'identité reprise de l'identité n° {absorbed.pk}")
        survivor.validated_at = next(check.checked_at for check in checks if check.validates and check.withdrawn_at is None)

    absorbed.is_active, absorbed.merged_into, absorbed.merged_at = False, survivor, now
    audit_event(absorbed, IdentityEvent.Kind.MERGED, actor, reason=merge.reason or label, role="absorbed",
                merge_id=merge.pk, survivor_id=survivor.pk)
    save_identity(absorbed, actor, f"{label} : absorbée par l'identité n° {survivor.pk}")
    audit_event(survivor, IdentityEvent.Kind.MERGED, actor, reason=merge.reason or label, role="survivor", merge_id=merge.pk,
                absorbed_id=absorbed.pk, absorbed_ipp=absorbed.ipp,
                moved={key: len(value) for key, value in moved.items() if isinstance(value, list)})
    save_identity(survivor, actor, f"{label} : identité n° {absorbed.pk} absorbée")

    snapshot["survivor_after"] = snapshot_of(survivor)
    merge.state, merge.decided_by, merge.merged_at = Merge.State.DONE, actor, now
    merge.snapshot, merge.moved = snapshot, moved
    merge.save(update_fields=["state", "decided_by", "merged_at", "snapshot", "moved"])
    if survivor.status != status_before:  # its state queues follow (the absorbed record's items are closed above)
        worklists.worklists_sync(actor=actor, identity_id=survivor.pk)


def _carry_worklist_items(actor, merge: Merge, survivor: Identity, absorbed: Identity, now) -> list[dict]:
    """Open items of the absorbed record: its own queues close (the survivor's are synced),
    the pair with the survivor is handled by the merge, pairs with a third record move."""
    carried = []
    items = WorklistItem.objects.select_for_update().filter(state=WorklistItem.State.OPEN).filter(
        Q(identity=absorbed) | Q(other=absorbed)
    )
    for item in items:
        record = {"id": item.pk, "identity": item.identity_id, "other": item.other_id}
        third = None if item.other_id is None else (item.other_id if item.identity_id == absorbed.pk else item.identity_id)
        low_high = sorted((survivor.pk, third)) if third not in (None, survivor.pk) else None
        if low_high and not WorklistItem.objects.filter(kind=item.kind, identity_id=low_high[0], other_id=low_high[1]).exists():
            item.identity_id, item.other_id = low_high
            item.save(update_fields=["identity", "other"])
            record["action"] = "moved"
        else:
            decision = WorklistItem.Decision.HANDLED if third == survivor.pk else WorklistItem.Decision.OBSOLETE
            item.state, item.decision, item.decided_by, item.decided_at = WorklistItem.State.DONE, decision, actor, now
            item.decision_note = f"Fusion n° {merge.pk}"
            item.save(update_fields=["state", "decision", "decided_by", "decided_at", "decision_note"])
            record["action"] = "closed"
        carried.append(record)
    return carried


def _carry_links(survivor: Identity, absorbed: Identity) -> list[dict]:
    """Links of the absorbed record with third records now name the survivor (unless it already has that link)."""
    carried = []
    for link in IdentityLink.objects.filter(Q(identity=absorbed) | Q(other=absorbed)).exclude(
        Q(identity=survivor) | Q(other=survivor)
    ):
        side = "identity" if link.identity_id == absorbed.pk else "other"
        third = link.other_id if side == "identity" else link.identity_id
        pair = {"identity_id": survivor.pk, "other_id": third} if side == "identity" else {"identity_id": third, "other_id": survivor.pk}
        if IdentityLink.objects.filter(kind=link.kind, **pair).exists():
            continue
        setattr(link, f"{side}_id", survivor.pk)
        link.save(update_fields=[side])
        carried.append({"id": link.pk, "side": side})
    return carried


# --- Unmerge ---

def unmerge(*, actor, merge_id: int, reason: str) -> Merge:
    """Undo a merge: both identities as they were at the merge, every carried row moved back.

    What changed on the survivor since the merge stays there and is listed in ``to_review``.
    """
    require_permission(actor, "identities.unmerge_identities", "Refusé : seul un référent CIV peut défusionner deux identités.")
    if not reason.strip():
        raise RuleViolation("un motif est obligatoire pour défusionner", field="reason")
    with transaction.atomic():
        merge = Merge.objects.select_for_update().filter(pk=merge_id).first()
        if merge is None:
            raise RuleViolation(f"fusion n° {merge_id} introuvable")
        if merge.state != Merge.State.DONE:
            raise ConflictError(f"Cette fusion ne peut pas être défusionnée : elle est « {merge.get_state_display().lower()} ».")
        locked = {pk: lock_identity(pk, merged_allowed=True) for pk in sorted((merge.survivor_id, merge.absorbed_id))}
        survivor, absorbed = locked[merge.survivor_id], locked[merge.absorbed_id]
        if survivor.is_merged:
            raise RuleViolation(
                f"L'identité conservée a depuis été fusionnée dans l'identité n° {survivor.merged_into_id} : "
                "défusionnez d'abord cette fusion-là."
            )
        if absorbed.merged_into_id != survivor.pk:
            raise RuleViolation("L'identité absorbée n'est plus rattachée à l'identité conservée : défusion impossible.")
        label = f"Défusion de la fusion n° {merge.pk}"
        to_review = _restore_survivor(actor, merge, survivor, label)
        _restore(absorbed, merge.snapshot["absorbed_before"])
        _move_back(actor, merge, survivor, absorbed, label, to_review)
        audit_event(absorbed, IdentityEvent.Kind.UNMERGED, actor, reason=reason, role="restored", merge_id=merge.pk,
                    survivor_id=survivor.pk)
        save_identity(absorbed, actor, label)
        audit_event(survivor, IdentityEvent.Kind.UNMERGED, actor, reason=reason, role="survivor", merge_id=merge.pk,
                    restored_id=absorbed.pk, restored_ipp=absorbed.ipp, to_review=len(to_review))
        save_identity(survivor, actor, label)
        merge.state, merge.unmerged_by, merge.unmerged_at = Merge.State.UNMERGED, actor, timezone.now()
        merge.unmerge_reason, merge.to_review = reason.strip(), to_review
        merge.save(update_fields=["state", "unmerged_by", "unmerged_at", "unmerge_reason", "to_review"])
        for identity in (survivor, absorbed):
            worklists.worklists_sync(actor=actor, identity_id=identity.pk)
    return merge


def _restore(identity: Identity, values: dict) -> None:
    for attname, value in values.items():
        if attname != "status":
            _restore_field(identity, attname, value)


def _restore_survivor(actor, merge: Merge, survivor: Identity, label: str) -> list[dict]:
    """Fields the merge changed and nobody touched since go back; the others stay and are listed."""
    before, after, now = merge.snapshot["survivor_before"], merge.snapshot["survivor_after"], snapshot_of(survivor)
    to_review = []
    for attname, value in before.items():
        if value == after[attname]:
            continue
        if now[attname] == after[attname]:
            if attname == "status":
                from_status = survivor.status
                survivor.restored(value)
                audit_event(survivor, IdentityEvent.Kind.STATUS_CHANGED, actor, reason=label, from_status=from_status,
                            to_status=survivor.status, transition="restored")
            else:
                _restore_field(survivor, attname, value)
        else:
            to_review.append({"field": attname, "before_merge": value, "after_merge": after[attname], "now": now[attname]})
    for attname, value in now.items():
        if attname not in {"is_active", "merged_into_id", "merged_at"} and value != after[attname] and before[attname] == after[attname]:
            to_review.append({"field": attname, "before_merge": before[attname], "after_merge": after[attname], "now": value})
    return to_review


def _move_back(actor, merge: Merge, survivor: Identity, absorbed: Identity, label: str, to_review: list) -> None:
    moved = merge.moved
    validates = dict(map(tuple, moved.get("checks", [])))
    checks = list(DocumentCheck.objects.filter(pk__in=validates, identity=survivor))
    for check in checks:
        check.identity, check.validates = absorbed, validates[check.pk]
        if check.withdrawn_at and check.withdrawn_at > merge.merged_at:
            to_review.append({"field": f"document_check:{check.pk}", "before_merge": "", "after_merge": "",
                              "now": f"retiré le {timezone.localtime(check.withdrawn_at):%d/%m/%Y}"})
    bulk_update_with_history(checks, DocumentCheck, ["identity", "validates"], default_user=actor, default_change_reason=label)
    rows = list(InsMatricule.objects.filter(pk__in=moved.get("matricules", []), identity=survivor))
    for row in rows:
        row.identity = absorbed
    bulk_update_with_history(rows, InsMatricule, ["identity"], default_user=actor, default_change_reason=label)
    insi_recovery.recovery_records_move(recovery_ids=moved.get("recoveries", []), to_identity_id=absorbed.pk)
    IdentityEvent.objects.filter(pk__in=moved.get("events", []), identity=survivor).update(identity=absorbed)
    for record in moved.get("links", []):
        IdentityLink.objects.filter(pk=record["id"], **{f"{record['side']}_id": survivor.pk}).update(**{f"{record['side']}_id": absorbed.pk})
    for record in moved.get("worklist", []):
        item = WorklistItem.objects.filter(pk=record["id"]).first()
        if item is None:
            continue
        if record["action"] == "closed" and item.state == WorklistItem.State.DONE and item.decision_note == f"Fusion n° {merge.pk}":
            item.state, item.decision, item.decided_by, item.decided_at, item.decision_note = WorklistItem.State.OPEN, "", None, None, ""
            item.save(update_fields=["state", "decision", "decided_by", "decided_at", "decision_note"])
        elif record["action"] == "moved":
            item.identity_id, item.other_id = record["identity"], record["other"]
            item.save(update_fields=["identity", "other"])


_BATCH_CHUNK = 50


def merge_proven_pairs(*, actor, pairs) -> tuple[list[Merge], list[tuple[int, int, str]]]:
    """Merge a batch of pairs (the confirmed duplicates of the worklist): each pair all or
    nothing (a savepoint), committed by chunks of 50; a refused pair is reported with its
    reason and the others go on."""
    done, refused, pairs = [], [], list(pairs)
    for start in range(0, len(pairs), _BATCH_CHUNK):
        with transaction.atomic():
            for first_id, second_id in pairs[start:start + _BATCH_CHUNK]:
                try:
                    done.append(merge_request(actor=actor, first_id=first_id, second_id=second_id))
                except (RuleViolation, NotAllowed, ConflictError) as error:
                    refused.append((first_id, second_id, error.message))
    return done, refused
