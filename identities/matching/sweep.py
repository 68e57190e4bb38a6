"""The matching runs: the sweep over many identities (splittable in parts) and the desk check of one identity."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np

from identities.matching.blocking import family_codes
from identities.matching.comparison import Comparison, compare
from identities.matching.explain import explain
from identities.matching.model import Model, estimate
from identities.matching.records import Record
from identities.matching.rules import BANDS, KINDS, Bands, Decision, decide, facts
from identities.matching.table import Table, encode

# A key shared by more identities than this says too little to compare them all (it would
# be a cross product); such groups are skipped and counted. None reaches it on 1,000,000
# generated identities.
MAX_GROUP = 2000
# Keys grouped at once (see candidate_pairs).
GROUPING = 2_000_000


@dataclass(frozen=True)
class ScoredPair:
    left: Record
    right: Record
    weight: float
    kind: str  # DUPLICATE or HOMONYM
    band: str  # certain / probable / possible for duplicates, "" for homonyms
    explanation: list[str]


@dataclass
class Scored:
    """All candidate pairs of a run with their levels, weights and decisions (arrays, one row per pair)."""

    table: Table
    comparison: Comparison
    contributions: np.ndarray
    weight: np.ndarray
    decision: Decision
    model: Model
    skipped_groups: int = 0

    def __len__(self) -> int:
        return len(self.weight)

    def proposed(self) -> np.ndarray:
        """Indexes of the pairs for a queue (duplicates and homonyms), best score first."""
        rows = np.flatnonzero(self.decision.kind > 0)
        return rows[np.argsort(-self.weight[rows], kind="stable")]

    def pair(self, i: int, records: Mapping[int | str, Record] | None = None) -> ScoredPair:
        """Pair ``i`` explained; ``records`` (id → record) when the table kept none (a sweep of the whole base)."""
        left, right = int(self.comparison.left[i]), int(self.comparison.right[i])
        if records is None:
            a, b = self.table.records[left], self.table.records[right]
        else:
            a, b = records[self.table.ids[left].item()], records[self.table.ids[right].item()]
        kind, band = KINDS[self.decision.kind[i]], BANDS[self.decision.band[i]]
        lines = explain(a, b, self.comparison.levels[i], self.contributions[i], prior_weight=self.model.prior_weight,
                        kind=kind, band=band,
                        same_ins=bool(self.decision.same_ins[i]), different_ins=bool(self.decision.different_ins[i]),
                        twins=bool(self.decision.twins[i]))
        return ScoredPair(left=a, right=b, weight=float(self.weight[i]), kind=kind, band=band, explanation=lines)

    def proposed_ids(self, rows: np.ndarray) -> set:
        """The identity ids of both sides of these pairs (the records an explanation needs)."""
        return set(self.table.ids[self.comparison.left[rows]].tolist()) | set(self.table.ids[self.comparison.right[rows]].tolist())


def candidate_pairs(table: Table, *, parts: int = 1, part: int = 0, max_group: int = MAX_GROUP,
                    counts: dict[str, int] | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """(left rows, right rows, skipped groups): each pair of identities sharing a key, once.

    ``parts``/``part`` keep only the keys whose code falls in one of ``parts`` hash ranges, so
    workers can share the base; a pair sharing keys in two ranges comes out of both (the
    store keeps it once: a unique pair constraint), so parts can run in any order, or again.
    The keys are paired one family at a time (memory stays that of one family's keys); a
    ``counts`` dict receives the pairs each family gave, before the families' pairs are merged.
    """
    n = np.int64(len(table))
    found, skipped = [], 0
    for family, codes, rows in family_codes(table):
        if parts > 1:
            mine = (codes.view(np.uint64) % np.uint64(parts)) == np.uint64(part)
            codes, rows = codes[mine], rows[mine]
        # A large family is grouped a range of codes at a time (a key lives in one range): the
        # sort and the pair arrays of one range stay ~100 MB whatever the base.
        ranges = max(1, -(-len(codes) // GROUPING))
        for piece in range(ranges):
            if ranges > 1:
                mine = (codes.view(np.uint64) // np.uint64(parts)) % np.uint64(ranges) == np.uint64(piece)
                pairs, skipped_here = _group_pairs(codes[mine], rows[mine], max_group)
            else:
                pairs, skipped_here = _group_pairs(codes, rows, max_group)
            skipped += skipped_here
            found.append(pairs[0] * n + pairs[1])
            if counts is not None:
                counts[family] = counts.get(family, 0) + len(pairs[0])
        del codes, rows
    unique = np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)
    # int64 rows, as before: callers combine them (left * n + right) and must not overflow.
    return unique // n, unique % n, skipped


def stored_here(table: Table, left: np.ndarray, right: np.ndarray, *, parts: int, part: int) -> np.ndarray:
    """For pairs of part ``part`` (rows, left < right): True where this part is the one to explain
    and store them. A pair sharing keys of several parts is found by each of them; it belongs to
    one of those, chosen by a hash of the two identity ids (the same in every worker), so that
    the parts share the pairs evenly (the lowest part would otherwise take nearly all of them).

    Worked out on the pairs' own records only (a few per cent of the base for the proposed pairs).
    A key's group counts only these records here: a pair whose key of another part was skipped
    as too common there (more than ``MAX_GROUP`` identities, none at 1,000,000) would be taken for
    found by that part.
    """
    if parts == 1 or not len(left):
        return np.ones(len(left), dtype=bool)
    members = np.unique(np.concatenate([left, right]))
    m = np.int64(len(members))
    wanted = np.searchsorted(members, left).astype(np.int64) * m + np.searchsorted(members, right)
    finders = np.zeros((len(left), parts), dtype=bool)
    finders[:, part] = True
    for _family, codes, rows in family_codes(table.subset(members)):
        code_parts = codes.view(np.uint64) % np.uint64(parts)
        for other in range(parts):
            if other != part:
                mine = code_parts == np.uint64(other)
                (lo, hi), _skipped = _group_pairs(codes[mine], rows[mine], MAX_GROUP)
                finders[:, other] |= np.isin(wanted, lo * m + hi)
    ids = table.ids.astype(np.uint64)
    pick = (ids[left] * np.uint64(0x9E3779B97F4A7C15) ^ ids[right]) % finders.sum(axis=1).astype(np.uint64)
    # The pick-th part (in number order) among those that find the pair.
    rank_of_part = np.cumsum(finders, axis=1)[:, part] - 1
    return rank_of_part.astype(np.uint64) == pick


def _group_pairs(codes: np.ndarray, rows: np.ndarray, max_group: int) -> tuple[tuple[np.ndarray, np.ndarray], int]:
    """(lo rows, hi rows) of every two records sharing a code, and how many groups were too big."""
    order = np.lexsort((rows, codes))
    codes, rows = codes[order], rows[order]
    fresh = np.ones(len(codes), dtype=bool)
    fresh[1:] = (codes[1:] != codes[:-1]) | (rows[1:] != rows[:-1])  # one record, one key: once
    codes, rows = codes[fresh], rows[fresh]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]) if len(codes) else np.zeros(0, dtype=np.int64)
    sizes = np.diff(np.r_[starts, len(codes)])
    skipped = int((sizes > max_group).sum())
    keep = (sizes >= 2) & (sizes <= max_group)
    starts, sizes = starts[keep], sizes[keep]
    # Every member pairs with the members after it in its group, without a Python loop.
    member_group = np.repeat(np.arange(len(starts)), sizes)
    position = np.repeat(starts, sizes) + (np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes))
    after = (starts + sizes)[member_group] - position - 1
    left_pos = np.repeat(position, after)
    offset = np.arange(after.sum()) - np.repeat(np.cumsum(after) - after, after)
    right_pos = left_pos + 1 + offset
    a, b = rows[left_pos].astype(np.int64), rows[right_pos].astype(np.int64)
    return (np.minimum(a, b), np.maximum(a, b)), skipped


def score(table: Table, left: np.ndarray, right: np.ndarray, *, model: Model | None = None,
          bands: Bands = Bands(), skipped_groups: int = 0) -> Scored:
    comparison = compare(table, left, right)
    known = facts(table, comparison)
    model = model or estimate(table, comparison, ignore=known.decided())
    contributions = model.contributions(table, comparison)
    weight = contributions.sum(axis=1) + model.prior_weight
    return Scored(table=table, comparison=comparison, contributions=contributions, weight=weight,
                  decision=decide(table, comparison, weight, bands, known=known), model=model,
                  skipped_groups=skipped_groups)


def sweep(records: Iterable[Record], *, model: Model | None = None, bands: Bands = Bands(),
          parts: int = 1, part: int = 0) -> Scored:
    """Score every candidate pair of the records (one hash range of keys if ``parts`` > 1).

    Without a model, m/u are learnt from these records by EM (the nightly run does this
    once, stores the model, and the desk and the parts reuse it).
    """
    table = encode(records)
    left, right, skipped = candidate_pairs(table, parts=parts, part=part)
    return score(table, left, right, model=model, bands=bands, skipped_groups=skipped)


def check(record: Record, candidates: Sequence[Record], *, model: Model, bands: Bands = Bands()) -> list[ScoredPair]:
    """The desk: one identity (being created, or typed in the search) against the identities its
    keys found in the base, duplicates first by score, then homonyms."""
    if not candidates:
        return []
    table = encode([record, *candidates])
    right = np.arange(1, len(table))
    scored = score(table, np.zeros(len(right), dtype=np.int64), right, model=model, bands=bands)
    return [scored.pair(int(i)) for i in scored.proposed()]
