"""The CIV worklists: filling the queues (sync, pair detection), claiming, assigning and deciding items."""
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

from identities import services
from identities.errors import RuleViolation
from identities.errors import require_permission
from identities.models import Attribute, Identity, IdentityLink, Status, WorklistItem

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

# Two names are "close" from this trigram similarity on (one typo in a name of six letters
# scores about 0.55); used by the duplicate sweep on PostgreSQL only.
CLOSE_NAME_SIMILARITY = 0.5


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


@dataclass(frozen=True)
class _PairSide:
    id: int
    sex: str
    birthplace_code: str
    ins_matricule: str | None


def _pair_kind_and_reason(a: _PairSide, b: _PairSide, same_names: bool) -> tuple[str, str]:
    """Same names, first given name and birth date but evidence of two people: homonyms; otherwise a potential duplicate."""
    if not same_names:
        return Kind.DUPLICATE, _("Même date de naissance, noms et prénoms proches (une faute de frappe ?)")
    differences = []
    if a.sex != b.sex:
        differences.append(_("sexes différents"))
    if a.ins_matricule and b.ins_matricule and a.ins_matricule != b.ins_matricule:
        differences.append(_("matricules INS différents"))
    if a.birthplace_code and b.birthplace_code and a.birthplace_code != b.birthplace_code:
        differences.append(_("lieux de naissance différents"))
    same = _("Même nom (de naissance ou utilisé), même premier prénom, même date de naissance")
    if differences:
        return Kind.HOMONYM, f"{same} ; {', '.join(differences)}"
    return Kind.DUPLICATE, same


def _first_given_name_key(alias: str) -> str:
    # Stored given names are already in INSi form (upper case, no accents), so folding the
    # separators is enough to make hyphen, apostrophe and space alike, as traits.search_key does.
    return f"replace(replace({alias}.first_birth_given_name, '-', ' '), '''', ' ')"


def _pair_rows(identity_id: int | None) -> list[tuple]:
    table = Identity._meta.db_table
    same_names = (
        f"({_first_given_name_key('a')} = {_first_given_name_key('b')} AND ("
        "a.birth_name_key IN (b.birth_name_key, b.used_name_key)"
        " OR (a.used_name_key <> '' AND a.used_name_key IN (b.birth_name_key, b.used_name_key))))"
    )
    params: list = []
    condition = same_names
    if connection.vendor == "postgresql":
        # Close names by trigrams; on other databases only exact normalised keys are compared.
        condition = (
            f"{same_names} OR (GREATEST(similarity(a.birth_name_key, b.birth_name_key), similarity(a.used_name_key, b.used_name_key)) >= %s"
            " AND similarity(a.given_names_key, b.given_names_key) >= %s)"
        )
        params += [CLOSE_NAME_SIMILARITY, CLOSE_NAME_SIMILARITY]
    scope = "a.id = %s AND b.id <> a.id" if identity_id is not None else "a.id < b.id"
    if identity_id is not None:
        params.append(identity_id)
    sql = f"""
        SELECT a.id, a.sex, a.birthplace_code, a.ins_matricule, b.id, b.sex, b.birthplace_code, b.ins_matricule,
               CASE WHEN {same_names} THEN 1 ELSE 0 END
        FROM {table} a JOIN {table} b ON b.birth_date = a.birth_date
        WHERE a.is_active AND b.is_active AND ({condition}) AND {scope}
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def worklist_detect_pairs(*, actor, identity_id: int | None = None) -> int:
    """Find potential duplicates and homonyms, for one identity or the whole base; returns new items.

    A pair shares its birth date and either the same normalised birth or used name and
    first given name, or (PostgreSQL) close names by trigram similarity. Pairs with the
    same names but a sign of two people (sex, INS, birthplace) go to the homonym queue.
    """
    require_permission(actor, "identities.view_identity", _("Refusé : vous n'avez pas accès aux identités."))
    items = []
    for row in _pair_rows(identity_id):
        a, b = _PairSide(*row[0:4]), _PairSide(*row[4:8])
        if a.id > b.id:
            a, b = b, a
        kind, reason = _pair_kind_and_reason(a, b, same_names=bool(row[8]))
        items.append(WorklistItem(kind=kind, identity_id=a.id, other_id=b.id, reason=reason, created_by=actor))
    known = set()
    first_ids = sorted({item.identity_id for item in items})
    for start in range(0, len(first_ids), 1000):
        known |= set(
            WorklistItem.objects.filter(other__isnull=False, identity_id__in=first_ids[start:start + 1000])
            .values_list("kind", "identity_id", "other_id")
        )
    # A pair already queued, or dismissed, is not queued again.
    new = [item for item in items if (item.kind, item.identity_id, item.other_id) not in known]
    with transaction.atomic():
        # ignore_conflicts: a concurrent detection of the same pair hits the unique constraint.
        WorklistItem.objects.bulk_create(new, batch_size=1000, ignore_conflicts=True)
    return len(new)


@dataclass
class RefreshOutcome:
    opened: int
    closed: int
    pairs: int


def worklists_refresh(*, actor, detect_pairs: bool = True) -> RefreshOutcome:
    """The periodic (or on demand) pass over the whole base: state queues, then the pair sweep."""
    synced = worklists_sync(actor=actor)
    pairs = worklist_detect_pairs(actor=actor) if detect_pairs else 0
    return RefreshOutcome(opened=synced.opened, closed=synced.closed, pairs=pairs)


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
