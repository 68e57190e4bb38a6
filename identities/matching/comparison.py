"""Comparison levels per trait for arrays of candidate pairs: each level is one desk error, or a disagreement."""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from rapidfuzz.distance import OSA, JaroWinkler
from rapidfuzz.process import cpdist

from identities.matching.table import Table

# Jaro-Winkler from which two names are "close" (one typo in a long name, two in a very long one).
CLOSE = 0.88


class Name(IntEnum):
    EXACT = 0
    PARTICLE = 1  # same name but for a particle (LE GALL / GALL)
    CROSS = 2  # one's used name is the other's birth name
    TYPO = 3  # one letter replaced, dropped, added, or two swapped
    SOUND = 4
    CLOSE = 5
    OTHER = 6


class Given(IntEnum):
    EXACT = 0  # a composed name split (JEAN-PIERRE / JEAN PIERRE) is exact
    PREFIX = 1  # only the first given name(s) typed
    REORDERED = 2
    FIRST_SAME = 3  # same first given name, the others differ
    TYPO = 4
    SHARED = 5  # the first of one is among the other's
    CLOSE = 6
    OTHER = 7
    BLANK = 8  # not typed (desk search): says nothing


class Date(IntEnum):
    EXACT = 0
    PARTIAL = 1  # 00 for a day or month, the rest agrees
    SWAPPED = 2  # day and month swapped
    ONE_DAY = 3
    ONE_DIGIT = 4  # one digit wrong, or two neighbouring digits swapped (year typos included)
    TWO_DIGITS = 5  # two errors at once (a year typo and a day off)
    SAME_YEAR = 6
    OTHER = 7
    BLANK = 8


class Sex(IntEnum):
    SAME = 0
    UNKNOWN = 1  # I, or not typed
    DIFFERENT = 2


class Place(IntEnum):
    SAME = 0
    BLANK = 1
    POSTAL = 2  # same department and one code looks like a postal code
    SAME_AREA = 3
    DIFFERENT = 4


TRAITS = ("name", "given", "date", "sex", "place")
LEVELS: dict[str, type[IntEnum]] = {"name": Name, "given": Given, "date": Date, "sex": Sex, "place": Place}
# Levels that carry no evidence: their weight is 0 whatever the data says.
NEUTRAL = {("given", Given.BLANK), ("date", Date.BLANK)}


@dataclass
class Comparison:
    """Levels of n pairs (n × 5, in TRAITS order) and what the term-frequency adjustment needs."""

    left: np.ndarray
    right: np.ndarray
    levels: np.ndarray
    name_value: np.ndarray  # vocabulary id of the agreeing name (exact / particle / cross), else 0
    given_value: np.ndarray  # vocabulary id of the agreeing given names (exact) or first given name, else 0


def _strings(table: Table, ids: np.ndarray) -> np.ndarray:
    return table.strings[ids]


def _distance(table: Table, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if not len(x):
        return np.zeros(0, dtype=np.int32)
    return cpdist(_strings(table, x), _strings(table, y), scorer=OSA.distance, workers=-1).astype(np.int32)


def _similarity(table: Table, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if not len(x):
        return np.zeros(0)
    return cpdist(_strings(table, x), _strings(table, y), scorer=JaroWinkler.normalized_similarity, workers=-1)


def _assign(levels: np.ndarray, undecided: np.ndarray, condition: np.ndarray, level: int) -> None:
    """Give ``level`` to the undecided pairs meeting ``condition`` (checks run from strongest level down)."""
    hit = undecided & condition
    levels[hit] = level
    undecided &= ~hit


def name_levels(t: Table, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = len(a)
    levels = np.full(n, Name.OTHER, dtype=np.int8)
    value = np.zeros(n, dtype=np.int32)
    todo = np.ones(n, dtype=bool)
    exact = t.bkey[a] == t.bkey[b]
    value[exact] = t.bkey[a][exact]
    _assign(levels, todo, exact, Name.EXACT)
    particle = t.bcore[a] == t.bcore[b]
    value[todo & particle] = t.bcore[a][todo & particle]
    _assign(levels, todo, particle, Name.PARTICLE)
    ua, ub = t.ucore[a], t.ucore[b]
    cross_ab = (ub > 0) & (t.bcore[a] == ub)
    # Birth name against used name only: a shared used name (a married name) is no such error.
    cross_ba = (ua > 0) & (ua == t.bcore[b])
    value[todo & cross_ab] = ub[todo & cross_ab]
    value[todo & cross_ba & ~cross_ab] = ua[todo & cross_ba & ~cross_ab]
    _assign(levels, todo, cross_ab | cross_ba, Name.CROSS)
    rest = np.flatnonzero(todo)
    distance = _distance(t, t.bkey[a][rest], t.bkey[b][rest])
    typo = np.zeros(n, dtype=bool)
    typo[rest] = (distance <= 1) & (np.minimum(_lengths(t, t.bkey[a][rest]), _lengths(t, t.bkey[b][rest])) >= 3)
    _assign(levels, todo, typo, Name.TYPO)
    sound = (t.bsound[a] == t.bsound[b]) | ((ub > 0) & (t.bsound[a] == t.usound[b])) | ((ua > 0) & (t.usound[a] == t.bsound[b]))
    _assign(levels, todo, sound, Name.SOUND)
    rest = np.flatnonzero(todo)
    close = np.zeros(n, dtype=bool)
    close[rest] = _similarity(t, t.bkey[a][rest], t.bkey[b][rest]) >= CLOSE
    _assign(levels, todo, close, Name.CLOSE)
    return levels, value


def _lengths(t: Table, ids: np.ndarray) -> np.ndarray:
    cache = t.__dict__.setdefault("_lengths", [])
    if not cache:
        cache.append(np.fromiter((len(s) for s in t.strings), dtype=np.int32, count=len(t.strings)))
    return cache[0][ids]


def given_levels(t: Table, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = len(a)
    levels = np.full(n, Given.OTHER, dtype=np.int8)
    value = np.zeros(n, dtype=np.int32)
    todo = np.ones(n, dtype=bool)
    _assign(levels, todo, (t.gcount[a] == 0) | (t.gcount[b] == 0), Given.BLANK)
    exact = t.gall[a] == t.gall[b]
    value[todo & exact] = t.gall[a][todo & exact]
    _assign(levels, todo, exact, Given.EXACT)
    g = [(t.g1[a], t.g1[b]), (t.g2[a], t.g2[b]), (t.g3[a], t.g3[b])]
    shorter = np.minimum(t.gcount[a], t.gcount[b])
    same = [x == y for x, y in g]
    # One list is the start of the other (compared on the first three names: longer lists are rare).
    prefix = same[0] & ((shorter == 1) | (same[1] & ((shorter == 2) | same[2])))
    first_same = same[0]
    value[todo & first_same] = t.g1[a][todo & first_same]
    _assign(levels, todo, prefix, Given.PREFIX)
    _assign(levels, todo, t.gsorted[a] == t.gsorted[b], Given.REORDERED)
    _assign(levels, todo, first_same, Given.FIRST_SAME)
    rest = np.flatnonzero(todo)
    typo = np.zeros(n, dtype=bool)
    typo[rest] = _distance(t, t.g1[a][rest], t.g1[b][rest]) <= 1
    _assign(levels, todo, typo, Given.TYPO)
    shared = np.zeros(n, dtype=bool)
    for x, _ in g:
        for _, y in g:
            shared |= (x > 0) & (x == y)
    _assign(levels, todo, shared, Given.SHARED)
    rest = np.flatnonzero(todo)
    close = np.zeros(n, dtype=bool)
    close[rest] = _similarity(t, t.g1[a][rest], t.g1[b][rest]) >= CLOSE
    _assign(levels, todo, close, Given.CLOSE)
    return levels, value


def date_levels(t: Table, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    n = len(a)
    levels = np.full(n, Date.OTHER, dtype=np.int8)
    todo = np.ones(n, dtype=bool)
    ya, yb, ma, mb, da, db = t.year[a], t.year[b], t.month[a], t.month[b], t.day[a], t.day[b]
    _assign(levels, todo, (ya == 0) | (yb == 0), Date.BLANK)
    _assign(levels, todo, t.date8[a] == t.date8[b], Date.EXACT)
    partial = (ya == yb) & ((ma == mb) | (ma == 0) | (mb == 0)) & ((da == db) | (da == 0) | (db == 0))
    _assign(levels, todo, partial, Date.PARTIAL)
    _assign(levels, todo, (ya == yb) & (ma == db) & (da == mb) & (ma > 0) & (da > 0), Date.SWAPPED)
    oa, ob = t.ordinal[a], t.ordinal[b]
    _assign(levels, todo, (oa >= 0) & (ob >= 0) & (np.abs(oa - ob) == 1), Date.ONE_DAY)
    xa, xb = t.digits[a], t.digits[b]
    differ = xa != xb
    count = differ.sum(axis=1)
    # Two neighbouring digits swapped: exactly two differences, side by side, crossed.
    first = np.argmax(differ, axis=1)
    nxt = np.minimum(first + 1, 7)
    rows = np.arange(n)
    swapped = (count == 2) & differ[rows, nxt] & (xa[rows, first] == xb[rows, nxt]) & (xa[rows, nxt] == xb[rows, first])
    _assign(levels, todo, (count == 1) | swapped, Date.ONE_DIGIT)
    _assign(levels, todo, (count == 2) & (t.ordinal[a] >= 0) & (t.ordinal[b] >= 0), Date.TWO_DIGITS)
    _assign(levels, todo, ya == yb, Date.SAME_YEAR)
    return levels


def sex_levels(t: Table, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    sa, sb = t.sex[a], t.sex[b]
    return np.where((sa == 0) | (sb == 0), Sex.UNKNOWN, np.where(sa == sb, Sex.SAME, Sex.DIFFERENT)).astype(np.int8)


def place_levels(t: Table, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    n = len(a)
    levels = np.full(n, Place.DIFFERENT, dtype=np.int8)
    todo = np.ones(n, dtype=bool)
    pa, pb = t.place[a], t.place[b]
    _assign(levels, todo, (pa == 0) | (pb == 0), Place.BLANK)
    _assign(levels, todo, pa == pb, Place.SAME)
    same_area = t.dept[a] == t.dept[b]
    _assign(levels, todo, same_area & (t.postal[a] | t.postal[b]), Place.POSTAL)
    _assign(levels, todo, same_area, Place.SAME_AREA)
    return levels


# Pairs compared at once: the temporaries of one chunk (a few arrays of ints and the strings
# handed to RapidFuzz) stay a few hundred MB whatever the number of candidates.
CHUNK = 500_000


def compare(t: Table, a: np.ndarray, b: np.ndarray, *, chunk: int = CHUNK) -> Comparison:
    """Every trait's level for the pairs (a[i], b[i]) of table rows, ``chunk`` pairs at a time.

    Levels are int8 and the agreeing values int32: 13 bytes a pair are kept.
    """
    n = len(a)
    levels = np.empty((n, len(TRAITS)), dtype=np.int8)
    name_value = np.empty(n, dtype=np.int32)
    given_value = np.empty(n, dtype=np.int32)
    for start in range(0, n, chunk):
        x, y = a[start:start + chunk], b[start:start + chunk]
        part = slice(start, start + len(x))
        levels[part, 0], name_value[part] = name_levels(t, x, y)
        levels[part, 1], given_value[part] = given_levels(t, x, y)
        levels[part, 2] = date_levels(t, x, y)
        levels[part, 3] = sex_levels(t, x, y)
        levels[part, 4] = place_levels(t, x, y)
    return Comparison(left=a, right=b, levels=levels, name_value=name_value, given_value=given_value)
