"""Duplicate and homonym pairs: which identities look like one person, queued for the CIV's decision."""
from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction
from django.utils.translation import gettext as _

from identities.core.errors import require_permission
from identities.core.models import Identity, WorklistItem
from identities.core.worklists import worklists_sync

Kind = WorklistItem.Kind

# Two names are "close" from this trigram similarity on (one typo in a name of six letters
# scores about 0.55); used by the duplicate sweep on PostgreSQL only.
CLOSE_NAME_SIMILARITY = 0.5


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
