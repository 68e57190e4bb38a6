"""The desk's matching: one identity (being created, changed, or typed in the search) against the base, through the stored keys."""
from __future__ import annotations

import numpy as np
from django.db.models import Case, IntegerField, QuerySet, Value, When

from identities.core import traits
from identities.core.models import Identity
from identities.matching import store
from identities.matching.records import Record
from identities.matching.sweep import ScoredPair, check, score
from identities.matching.table import encode

# A search typed with a name alone may hit a very common sound (MARTIN): scored, then ranked,
# but never more than this many candidates.
MAX_CANDIDATES = 3000


def _candidates(value: Record, *, exclude_id: int | None = None) -> list[Record]:
    codes = store.lookup_codes(value)
    return store.records_by_id(store.candidate_ids(codes, exclude_id=exclude_id, limit=MAX_CANDIDATES))


def check_record(value: Record, *, exclude_id: int | None = None) -> list[ScoredPair]:
    """The engine's verdicts on this identity against its candidates: duplicates by score first, then homonyms."""
    return check(value, _candidates(value, exclude_id=exclude_id), model=store.current_model(), bands=store.bands())


def check_identity(identity: Identity) -> list[ScoredPair]:
    return check_record(store.identity_record(identity), exclude_id=identity.pk)


def creation_candidates(values: dict) -> list[Identity]:
    """For the core's creation service (passed in by the portal): the existing records the new one may duplicate, best first."""
    found = [pair.right.id for pair in check_record(store.record(values | {"id": 0}))]
    by_id = Identity.objects.in_bulk(found)
    return [by_id[pk] for pk in found if pk in by_id]


def search_record(*, name: str = "", given_name: str = "", birth_date: str = "") -> Record:
    """What an agent typed in the three search fields, as the engine compares it (blank traits say nothing).

    Raises TraitError for an unreadable date, as the search always has.
    """
    text = birth_date.strip()
    if len(text) == 4 and text.isdigit():
        iso = f"{text}-00-00"
    else:
        iso = traits.parse_birth_date(text).iso() if text else ""
    given = traits.search_key(given_name)
    return Record(id=0, birth_name=name.strip(), birth_given_names=given, first_birth_given_name=given.split(" ")[0] if given else "",
                  birth_date=iso)


def search_ranked(*, name: str = "", given_name: str = "", birth_date: str = "", limit: int = 200) -> list[int]:
    """Ids of the identities the search typed finds through the stored keys, best match weight first."""
    typed = search_record(name=name, given_name=given_name, birth_date=birth_date)
    if not typed.birth_name.strip() and not (typed.first_birth_given_name and typed.birth_date):
        return []
    candidates = _candidates(typed)
    if not candidates:
        return []
    table = encode([typed, *candidates])
    right = np.arange(1, len(table))
    weights = score(table, np.zeros(len(right), dtype=np.int64), right, model=store.current_model(), bands=store.bands()).weight
    order = np.argsort(-weights, kind="stable")[:limit]
    return [candidates[int(i)].id for i in order]


def ranked_search(base: QuerySet[Identity], anteriority: QuerySet[Identity], *, name: str = "", given_name: str = "",
                  birth_date: str = "") -> QuerySet[Identity]:
    """The anteriority search of the screens: the engine's candidates ranked by score first, then the core's
    prefix matches (a name typed in part) in their own order. ``base`` carries the screen's filters."""
    ranked = search_ranked(name=name, given_name=given_name, birth_date=birth_date)
    if not ranked:
        return anteriority
    rank = Case(*(When(pk=pk, then=Value(i)) for i, pk in enumerate(ranked)), default=Value(len(ranked)), output_field=IntegerField())
    found = base.filter(is_active=True).filter(pk__in=set(ranked) | set(anteriority.values_list("pk", flat=True)[:200]))
    return found.annotate(match_rank=rank).order_by("match_rank", "birth_name_key", "given_names_key", "birth_date")
