"""Columnar form of many records: integer arrays the comparisons and blocking work on, built once per run."""
from __future__ import annotations

import hashlib
from array import array
from dataclasses import dataclass
from datetime import date
from typing import Iterable, Sequence

import numpy as np

from identities.matching.records import (
    Record, date_parts, department, given_tokens, homonym_first_given, looks_like_postal_code,
    name_core, name_key, name_search, name_sound,
)
from identities.matching.phonetic import phonetic

_SEX = {"M": 1, "F": 2}


def stable_hash(text: str) -> int:
    """64 bits that are the same in every process (Python's hash() is salted per process)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little") if text else 0


class Vocabulary:
    """Every distinct string gets a small id (0 is the empty string) and a stable 64-bit hash."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {"": 0}
        self.strings: list[str] = [""]

    def __call__(self, text: str) -> int:
        found = self.ids.get(text)
        if found is None:
            found = self.ids[text] = len(self.strings)
            self.strings.append(text)
        return found

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        strings = np.array(self.strings, dtype=object)
        hashes = np.fromiter((stable_hash(s) for s in self.strings), dtype=np.uint64, count=len(self.strings))
        return strings, hashes


@dataclass
class Table:
    records: Sequence[Record] | None  # None when the caller keeps them (a 1M-row sweep keeps only ids)
    ids: np.ndarray
    strings: np.ndarray  # vocabulary id → string (object array, for RapidFuzz)
    hashes: np.ndarray  # vocabulary id → stable hash (uint64)
    cols: dict[str, np.ndarray]
    # (rows, stable hashes) of the matricules INSi reported for some records besides their own
    reported: tuple[np.ndarray, np.ndarray] = (np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.uint64))

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, rows: np.ndarray) -> "Table":
        """The records of these rows (sorted, distinct), as a table of their own: the same vocabulary
        (and name fragments, once worked out), row ``i`` of the subset being ``rows[i]`` here."""
        report_rows, report_keys = self.reported
        kept = np.isin(report_rows, rows)
        part = Table(records=None if self.records is None else [self.records[i] for i in rows.tolist()], ids=self.ids[rows],
                     strings=self.strings, hashes=self.hashes, cols={name: col[rows] for name, col in self.cols.items()},
                     reported=(np.searchsorted(rows, report_rows[kept]).astype(np.int32), report_keys[kept]))
        if "_fragments" in self.__dict__:
            part.__dict__["_fragments"] = self.__dict__["_fragments"]
        return part

    def __getattr__(self, name: str) -> np.ndarray:
        try:
            return self.__dict__["cols"][name]
        except KeyError:
            raise AttributeError(name) from None


_NAME_COLS = ("key", "core", "sound", "search")
_GIVEN_COLS = ("gall", "gsorted", "g1", "g2", "g3", "gcount", "first_sound")
_DATE_COLS = ("year", "month", "day", "ordinal")
# One column per stored trait: what a record holds, before any normal form is worked out.
_RAW = ("birth_name", "used_name", "given", "birth_date", "birthplace_code", "first_given", "sex")


def encode(records: Iterable[Record], *, keep_records: bool = True) -> Table:
    """Arrays (int32 ids, int8 small codes) for every trait form a rule needs.

    Each trait column is reduced to its distinct values first (names, dates and places repeat
    a lot: a million identities hold about a hundred thousand names), their normal forms are
    worked out once per distinct value, then spread to the records by one numpy take.
    ``keep_records=False`` streams the records (an iterator is read once) and keeps only their
    ids: the sweep of a large base then holds arrays, not a million Python objects.
    """
    if keep_records and not isinstance(records, list):
        records = list(records)
    ids: list = []
    # Each column is reduced to its distinct values while it is read: a record costs 4 bytes
    # per trait here, and the strings held are the distinct ones only.
    indexes: list[dict[str, int]] = [{} for _ in _RAW]
    rows = [array("i") for _ in _RAW]
    steps = [(index.setdefault, column.append, index) for index, column in zip(indexes, rows)]
    # Matricules are nearly all distinct and only compared for equality: kept as numbers (a
    # dictionary of 700,000 strings was the largest object of a 1,000,000-row run).
    matricules, keys, odd = array("q"), array("Q"), {}
    reported: list[tuple[int, str]] = []  # (row, matricule): few records have any
    add_id, add_ins, add_key = ids.append, matricules.append, keys.append
    for r in records:
        if r.ins_reported:
            reported += [(len(ids), m) for m in r.ins_reported if m and m != r.ins_matricule]
        add_id(r.id)
        for (seen, append, index), value in zip(steps, (
                r.birth_name, r.used_name or "", r.birth_given_names or r.first_birth_given_name, r.birth_date,
                r.birthplace_code, r.first_birth_given_name or first_token(r.birth_given_names), r.sex)):
            append(seen(value, len(index)))
        add_ins(_matricule_number(r.ins_matricule, odd))
        add_key(stable_hash(r.ins_matricule or ""))
    raw = {column: (np.frombuffer(row, dtype=np.int32), list(index)) for column, row, index in zip(_RAW, rows, indexes)}
    del indexes, steps
    vocab = Vocabulary()
    cols: dict[str, np.ndarray] = {}

    def spread(column: str, build, names: tuple[str, ...], prefix: str = "") -> None:
        rows, distinct = raw.pop(column)
        block = np.array([build(value) for value in distinct], dtype=np.int32).reshape(-1, len(names))
        for i, name in enumerate(names):
            cols[prefix + name] = block[rows, i] if len(rows) else np.zeros(0, dtype=np.int32)

    def name(value: str) -> tuple:
        if not value:
            return (0, 0, 0, 0)
        return (vocab(name_key(value)), vocab(name_core(value)), vocab(name_sound(value)), vocab(name_search(value)))

    orders: dict[tuple[str, ...], int] = {(): 0}  # the given names in alphabetical order: compared for equality only

    def given(value: str) -> tuple:
        tokens = given_tokens(value)
        token_ids = [vocab(token) for token in tokens[:3]] + [0, 0, 0]
        in_order = orders.setdefault(tuple(sorted(tokens)), len(orders))
        return (vocab(" ".join(tokens)), in_order, *token_ids[:3], len(tokens),
                vocab(phonetic(tokens[0]) if tokens else ""))

    def birth(value: str) -> tuple:
        year, month, day = date_parts(value)
        try:
            ordinal = date(year, month, day).toordinal() if year and month and day else -1
        except ValueError:
            ordinal = -1
        return (year, month, day, ordinal)

    spread("birth_name", name, _NAME_COLS, "b")
    spread("used_name", name, _NAME_COLS, "u")
    spread("given", given, _GIVEN_COLS)
    spread("birth_date", birth, _DATE_COLS)
    spread("birthplace_code", lambda v: (vocab(v), vocab(department(v)), int(looks_like_postal_code(v))),
           ("place", "dept", "postal"))
    spread("first_given", lambda v: (vocab(homonym_first_given(v)),), ("ghom",))
    spread("sex", lambda v: (_SEX.get(v, 0),), ("sex",))
    # The matricule is only ever compared for equality: a number of its own (0 for none), no vocabulary entry.
    numbers = np.frombuffer(matricules, dtype=np.int64)
    cols["ins"] = _dense(numbers)
    cols["ins_group"] = _dense(_same_ins_groups(numbers, [(row, _matricule_number(m, odd)) for row, m in reported]))
    # The key of each record's own matricule (blocking: the same INS makes candidates whatever the traits).
    cols["ins_key"] = np.frombuffer(keys, dtype=np.uint64)
    report_rows = np.array([row for row, _m in reported], dtype=np.int32)
    report_keys = np.fromiter((stable_hash(m) for _row, m in reported), dtype=np.uint64, count=len(reported))
    cols["sex"] = cols["sex"].astype(np.int8)
    cols["postal"] = cols["postal"].astype(bool)
    cols["mmdd"] = np.where((cols["month"] > 0) & (cols["day"] > 0), cols["month"] * 100 + cols["day"], 0).astype(np.int32)
    cols["date8"] = cols["year"] * 10_000 + cols["month"] * 100 + cols["day"]  # 00 parts kept: exact compare
    # The eight digits YYYYMMDD, for "one digit off" and "two digits swapped".
    cols["digits"] = ((cols["date8"][:, None] // 10 ** np.arange(7, -1, -1, dtype=np.int32)) % 10).astype(np.int8)
    strings, hashes = vocab.arrays()
    return Table(records=records if keep_records else None, ids=np.array(ids), strings=strings, hashes=hashes, cols=cols,
                 reported=(report_rows, report_keys))


def _dense(numbers: np.ndarray) -> np.ndarray:
    """Small ids for numbers compared for equality only (0 stays 0: none)."""
    _distinct, ids = np.unique(numbers, return_inverse=True)
    return np.where(numbers == 0, 0, ids.reshape(-1) + 1).astype(np.int32)


def _same_ins_groups(own: np.ndarray, reported: list[tuple[int, int]]) -> np.ndarray:
    """Per record, a number two records share when they share a matricule, their own or one INSi
    reported for them (carried through: A holds X, B was reported X and Y, C holds Y)."""
    groups = own.copy()
    if not reported:
        return groups
    parent: dict[int, int] = {}  # non-root matricule number → its parent

    def find(x: int) -> int:
        while x in parent:
            x = parent[x]
        return x

    for row, number in reported:
        base = int(own[row]) or int(groups[row]) or number
        groups[row] = base
        a, b = find(base), find(number)
        if a != b:
            parent[max(a, b)] = min(a, b)
    hit = np.flatnonzero(np.isin(groups, np.fromiter(parent, dtype=np.int64, count=len(parent))))
    groups[hit] = np.fromiter((find(int(x)) for x in groups[hit]), dtype=np.int64, count=len(hit))
    return groups


def _matricule_number(value: str | None, odd: dict[str, int]) -> int:
    """A matricule as one exact number: its 15 digits, or for one that is not all digits (a
    Corsican 2A/2B NIR) a negative number of its own; 0 for none."""
    if not value:
        return 0
    if value.isdigit() and len(value) <= 18:
        return int(value) + 1  # + 1: a matricule of zeros is not "none"
    return -odd.setdefault(value, len(odd) + 1)


def first_token(given_names: str) -> str:
    return given_names.split(" ", 1)[0] if given_names else ""
