"""The CIV worklists: what the cell must look at (state queues kept in sync), claiming, assigning, deciding."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection, transaction
from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from identities.core import services
from identities.core.errors import RuleViolation, require_permission
from identities.core.models import Attribute, Identity, IdentityLink, Status, WorklistItem

Kind = WorklistItem.Kind
Decision = WorklistItem.Decision

# What the CIV may decide, per queue, with the words the screen uses.
DECISIONS: dict[str, list[tuple[str, str]]] = {
    Kind.HOMONYM: [
        (Decision.CONFIRMED, gettext_lazy("Homonymes avérés : poser l'attribut « homonyme » sur les deux identités")),
        (Decision.DISMISSED, gettext_lazy("Écarter : ce ne sont pas des homonymes")),
    ],
    Kind.DUPLICATE: [
        (Decision.CONFIRMED, gettext_lazy("Doublon avéré : les deux dossiers sont la même personne (fusion à faire)")),
        (Decision.DISMISSED, gettext_lazy("Écarter : deux personnes différentes")),
    ],
}
_HANDLED = [(Decision.HANDLED, gettext_lazy("Traité"))]

def decisions_for(kind: str) -> list[tuple[str, str]]:
    return DECISIONS.get(kind, _HANDLED)


def _open_item(item_id: int) -> WorklistItem:
    item = WorklistItem.objects.select_for_update().filter(pk=item_id).first()
    if item is None:
        raise RuleViolation(_("élément de file de travail %(id)s introuvable") % {"id": item_id})
    if item.state != WorklistItem.State.OPEN:
        who = item.decided_by.get_username() if item.decided_by else "?"
        raise RuleViolation(_("cet élément a déjà été traité par %(who)s : rien n'a été modifié") % {"who": who})
    return item


# --- Writes ---

def worklist_add_item(*, actor, kind: str, identity_id: int, reason: str, other_id: int | None = None, owner=None) -> WorklistItem:
    """Put an identity, or a pair of identities, in a CIV queue; callable by any workflow.

    An identity already waiting in the same queue is not queued twice (the open item is
    returned); a pair is stored once whatever the order given, and a pair the CIV has
    already dismissed is not brought back.
    """
    require_permission(actor, "identities.view_identity", _("Refusé : vous n'avez pas accès aux identités."))
    if kind not in Kind.values:
        raise RuleViolation(_("file de travail inconnue : %(kind)s") % {"kind": kind}, field="kind")
    if not reason.strip():
        raise RuleViolation(_("le motif de signalement est obligatoire"), field="reason")
    if other_id is not None:
        if other_id == identity_id:
            raise RuleViolation(_("une paire doit réunir deux identités différentes"), field="other")
        identity_id, other_id = sorted((identity_id, other_id))
    with transaction.atomic():
        existing = WorklistItem.objects.filter(kind=kind, identity_id=identity_id, other_id=other_id)
        if other_id is None:
            existing = existing.filter(state=WorklistItem.State.OPEN)
        item = existing.first()
        if item is not None:
            return item
        return WorklistItem.objects.create(
            kind=kind, identity_id=identity_id, other_id=other_id, reason=reason, owner=owner, created_by=actor
        )


def worklist_claim(*, actor, item_ids) -> int:
    """The acting CIV member takes the open items; returns how many were taken."""
    require_permission(actor, "identities.manage_worklists", _("Refusé : seule la CIV prend en charge les éléments des files de travail."))
    with transaction.atomic():
        return WorklistItem.objects.filter(pk__in=list(item_ids), state=WorklistItem.State.OPEN).update(owner=actor)


def worklist_assign(*, actor, item_id: int, owner_id: int | None) -> WorklistItem:
    """Give an open item to a member of the CIV, or release it (owner_id None)."""
    require_permission(actor, "identities.manage_worklists", _("Refusé : seule la CIV attribue les éléments des files de travail."))
    owner = None
    if owner_id is not None:
        owner = get_user_model().objects.filter(pk=owner_id, is_active=True).first()
        if owner is None or not owner.has_perm("identities.manage_worklists"):
            raise RuleViolation(_("le responsable doit être un membre actif de la CIV"), field="owner")
    with transaction.atomic():
        item = _open_item(item_id)
        item.owner = owner
        item.save(update_fields=["owner"])
    return item


def worklist_decide(*, actor, item_id: int, decision: str, note: str = "") -> WorklistItem:
    """Close an item with the CIV's decision, recording who decided what and when.

    Confirming homonyms sets the homonym attribute on both identities and links them
    (HOMA); confirming a duplicate links them as a proven duplicate (DOUA), for the merge.
    """
    require_permission(actor, "identities.manage_worklists", _("Refusé : seule la CIV décide des éléments des files de travail."))
    with transaction.atomic():
        item = _open_item(item_id)
        if decision not in {code for code, _label in decisions_for(item.kind)}:
            raise RuleViolation(
                _("décision « %(decision)s » impossible pour la file « %(kind)s »") % {"decision": decision, "kind": item.get_kind_display()},
                field="decision",
            )
        if decision == Decision.CONFIRMED:
            why = _("décision de la CIV (file de travail n° %(id)s)") % {"id": item.pk} + (f" : {note}" if note.strip() else "")
            if item.kind == Kind.HOMONYM:
                for identity_id in (item.identity_id, item.other_id):
                    services.identity_set_attribute(actor=actor, identity_id=identity_id, attribute=Attribute.HOMA, value=True, reason=why)
            link_kind = IdentityLink.Kind.HOMA if item.kind == Kind.HOMONYM else IdentityLink.Kind.DOUA
            IdentityLink.objects.get_or_create(
                kind=link_kind, identity_id=item.identity_id, other_id=item.other_id, defaults={"created_by": actor, "reason": why}
            )
        item.state = WorklistItem.State.DONE
        item.decision, item.decision_note = decision, note.strip()
        item.decided_by, item.decided_at = actor, timezone.now()
        if item.owner_id is None:
            item.owner = actor
        item.save()
    return item


@dataclass
class SyncOutcome:
    opened: int
    closed: int


# Queues that mirror a state of the identity: (kind, condition on the identity, reason shown).
_STATE_QUEUES = (
    (Kind.PROVISIONAL, "i.status = 'PROV' AND NOT i.doubtful AND NOT i.fictitious",
     gettext_lazy("À qualifier : contrôler une pièce d'identité et récupérer l'INS")),
    (Kind.DOUBTFUL, "i.doubtful", gettext_lazy("Identité signalée douteuse : à instruire par la CIV")),
    (Kind.FICTITIOUS, "i.fictitious", gettext_lazy("Identité fictive : vérifier qu'elle reste justifiée")),
)
_STILL_DUE = {
    Kind.PROVISIONAL: Q(identity__status=Status.PROV, identity__doubtful=False, identity__fictitious=False),
    Kind.DOUBTFUL: Q(identity__doubtful=True),
    Kind.FICTITIOUS: Q(identity__fictitious=True),
}


def worklists_sync(*, actor, identity_id: int | None = None) -> SyncOutcome:
    """Bring the state queues (provisional, doubtful, fictitious) in line with the identities.

    Identities in such a state get an open item (a provisional one is owned by the agent
    who created it, aged from its creation); items whose identity has left the state are
    closed as "no longer relevant". Runs on the whole base (scheduled, or the CIV's
    refresh button) or on one identity after an action on it.
    """
    if identity_id is None:
        require_permission(actor, "identities.manage_worklists", _("Refusé : seule la CIV met à jour les files de travail."))
    else:
        # After any action on one identity: bookkeeping, not a decision, so any identity user triggers it.
        require_permission(actor, "identities.view_identity", _("Refusé : vous n'avez pas accès aux identités."))
    items, identities = WorklistItem._meta.db_table, Identity._meta.db_table
    scope, scope_params = ("AND i.id = %s", [identity_id]) if identity_id is not None else ("", [])
    now = timezone.now()
    opened = 0
    with transaction.atomic(), connection.cursor() as cursor:
        for kind, condition, reason in _STATE_QUEUES:
            opened_at = "i.created_at" if kind == Kind.PROVISIONAL else "%s"
            owner = "i.created_by_id" if kind == Kind.PROVISIONAL else "NULL"
            # One INSERT ... SELECT: the base may hold hundreds of thousands of provisional identities.
            cursor.execute(
                f"""
                INSERT INTO {items} (kind, identity_id, other_id, reason, owner_id, opened_at, created_by_id,
                                     state, decision, decision_note, decided_by_id, decided_at)
                SELECT %s, i.id, NULL, %s, {owner}, {opened_at}, %s, 'OPEN', '', '', NULL, NULL
                FROM {identities} i
                WHERE i.is_active AND {condition} {scope}
                  AND NOT EXISTS (
                    SELECT 1 FROM {items} w
                    WHERE w.identity_id = i.id AND w.kind = %s AND w.state = 'OPEN' AND w.other_id IS NULL)
                """,
                [str(kind), str(reason), *([] if kind == Kind.PROVISIONAL else [connection.ops.adapt_datetimefield_value(now)]),
                 actor.pk, *scope_params, str(kind)],
            )
            opened += cursor.rowcount
        closed = 0
        for kind, still_due in _STILL_DUE.items():
            stale = WorklistItem.objects.filter(kind=kind, state=WorklistItem.State.OPEN).exclude(still_due & Q(identity__is_active=True))
            if identity_id is not None:
                stale = stale.filter(identity_id=identity_id)
            closed += stale.update(state=WorklistItem.State.DONE, decision=Decision.OBSOLETE, decided_by=actor, decided_at=now)
        pairs = WorklistItem.objects.filter(state=WorklistItem.State.OPEN, other__isnull=False).filter(
            Q(identity__is_active=False) | Q(other__is_active=False)
        )
        closed += pairs.update(state=WorklistItem.State.DONE, decision=Decision.OBSOLETE, decided_by=actor, decided_at=now)
    return SyncOutcome(opened=opened, closed=closed)


# --- Reads ---

def worklist_items_visible_to(user) -> QuerySet[WorklistItem]:
    """All items for the CIV; only one's own items for anybody else (a front-desk agent)."""
    qs = WorklistItem.objects.select_related("identity", "other", "owner", "decided_by")
    if not user.has_perm("identities.manage_worklists"):
        qs = qs.filter(owner=user)
    return qs


@dataclass(frozen=True)
class QueueSize:
    kind: str
    label: str
    open: int
    under_a_week: int
    week_to_month: int
    over_a_month: int
    oldest: datetime | None

    @property
    def oldest_age_days(self) -> int | None:
        return (timezone.now() - self.oldest).days if self.oldest else None


def worklist_queue_sizes(*, user=None, now: datetime | None = None) -> list[QueueSize]:
    """Open items per queue with their ages, every queue listed (empty ones at zero)."""
    now = now or timezone.now()
    week, month = now - timedelta(days=7), now - timedelta(days=30)
    qs = WorklistItem.objects.filter(state=WorklistItem.State.OPEN)
    if user is not None and not user.has_perm("identities.manage_worklists"):
        qs = qs.filter(owner=user)
    rows = {
        row["kind"]: row
        for row in qs.values("kind").annotate(
            open=Count("id"),
            under_a_week=Count("id", filter=Q(opened_at__gte=week)),
            week_to_month=Count("id", filter=Q(opened_at__lt=week, opened_at__gte=month)),
            over_a_month=Count("id", filter=Q(opened_at__lt=month)),
            oldest=Min("opened_at"),
        )
    }
    empty = {"open": 0, "under_a_week": 0, "week_to_month": 0, "over_a_month": 0, "oldest": None}
    return [
        QueueSize(kind=kind, label=str(label), **{key: rows.get(kind, empty)[key] for key in empty})
        for kind, label in Kind.choices
    ]


def worklist_civ_members() -> QuerySet:
    """Active users who may hold worklist items (they have the CIV's worklist permission)."""
    permission = Permission.objects.filter(codename="manage_worklists", content_type__app_label="identities").first()
    return (
        get_user_model().objects.filter(is_active=True)
        .filter(Q(groups__permissions=permission) | Q(user_permissions=permission) | Q(is_superuser=True))
        .distinct()
        .order_by("username")
    )
