"""Columnar form of many records: integer arrays the comparisons and blocking work on, built once per run."""
from __future__ import annotations

import hashlib
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

    def __len__(self) -> int:
        return len(self.ids)

    def __getattr__(self, name: str) -> np.ndarray:
        try:
            return self.__dict__["cols"][name]
        except KeyError:
            raise AttributeError(name) from None


_NAME_COLS = ("key", "core", "sound", "initial", "search")
_GIVEN_COLS = ("gall", "gsorted", "g1", "g2", "g3", "gcount", "first_sound", "first_initial")
_DATE_COLS = ("year", "month", "day", "ordinal")


def encode(records: Iterable[Record], *, keep_records: bool = True) -> Table:
    """Arrays for every trait form a rule needs; the per-string work is cached (names repeat a lot).

    ``keep_records=False`` streams the records (an iterator is read once) and keeps only their
    ids: the sweep of a large base then holds arrays, not a million Python objects.
    """
    if keep_records and not isinstance(records, list):
        records = list(records)
    ids = []
    vocab = Vocabulary()
    names: dict[str, tuple] = {}
    givens: dict[str, tuple] = {}
    dates: dict[str, tuple] = {}
    places: dict[str, tuple] = {}

    def name(value: str) -> tuple:
        found = names.get(value)
        if found is None:
            core = name_core(value)
            found = names[value] = (vocab(name_key(value)), vocab(core), vocab(name_sound(value)),
                                    vocab(core[:1]), vocab(name_search(value)))
        return found

    def given(value: str) -> tuple:
        found = givens.get(value)
        if found is None:
            tokens = given_tokens(value)
            ids = [vocab(token) for token in tokens[:3]] + [0, 0, 0]
            first = tokens[0] if tokens else ""
            found = givens[value] = (vocab(" ".join(tokens)), vocab(" ".join(sorted(tokens))), ids[0], ids[1], ids[2],
                                     len(tokens), vocab(phonetic(first)), vocab(first[:1]))
        return found

    def birth(value: str) -> tuple:
        found = dates.get(value)
        if found is None:
            year, month, day = date_parts(value)
            try:
                ordinal = date(year, month, day).toordinal() if year and month and day else -1
            except ValueError:
                ordinal = -1
            found = dates[value] = (year, month, day, ordinal)
        return found

    def place(value: str) -> tuple:
        found = places.get(value)
        if found is None:
            found = places[value] = (vocab(value), vocab(department(value)), looks_like_postal_code(value))
        return found

    rows_b, rows_u, rows_g, rows_d, rows_p, rows_h, sexes, ins = [], [], [], [], [], [], [], []
    for record in records:
        ids.append(record.id)
        rows_b.append(name(record.birth_name))
        rows_u.append(name(record.used_name) if record.used_name else (0, 0, 0, 0, 0))
        rows_g.append(given(record.birth_given_names or record.first_birth_given_name))
        rows_d.append(birth(record.birth_date))
        rows_p.append(place(record.birthplace_code))
        rows_h.append(vocab(homonym_first_given(record.first_birth_given_name or first_token(record.birth_given_names))))
        sexes.append(_SEX.get(record.sex, 0))
        ins.append(vocab(record.ins_matricule or ""))
    cols: dict[str, np.ndarray] = {}
    for prefix, rows in (("b", rows_b), ("u", rows_u)):
        block = np.array(rows, dtype=np.int64).reshape(-1, len(_NAME_COLS))
        for i, col in enumerate(_NAME_COLS):
            cols[f"{prefix}{col}"] = block[:, i]
    block = np.array(rows_g, dtype=np.int64).reshape(-1, len(_GIVEN_COLS))
    for i, col in enumerate(_GIVEN_COLS):
        cols[col] = block[:, i]
    block = np.array(rows_d, dtype=np.int64).reshape(-1, len(_DATE_COLS))
    for i, col in enumerate(_DATE_COLS):
        cols[col] = block[:, i]
    cols["mmdd"] = np.where((cols["month"] > 0) & (cols["day"] > 0), cols["month"] * 100 + cols["day"], 0)
    cols["date8"] = cols["year"] * 10_000 + cols["month"] * 100 + cols["day"]  # 00 parts kept: exact compare
    cols["full8"] = np.where((cols["year"] > 0) & (cols["mmdd"] > 0), cols["date8"], 0)
    # The eight digits YYYYMMDD, for "one digit off" and "two digits swapped".
    cols["digits"] = (cols["date8"][:, None] // 10 ** np.arange(7, -1, -1)) % 10
    block = np.array(rows_p, dtype=np.int64).reshape(-1, 3)
    cols["place"], cols["dept"], cols["postal"] = block[:, 0], block[:, 1], block[:, 2].astype(bool)
    cols["ghom"] = np.array(rows_h, dtype=np.int64)
    cols["sex"] = np.array(sexes, dtype=np.int8)
    cols["ins"] = np.array(ins, dtype=np.int64)
    strings, hashes = vocab.arrays()
    return Table(records=records if keep_records else None, ids=np.array(ids), strings=strings, hashes=hashes, cols=cols)


def first_token(given_names: str) -> str:
    return given_names.split(" ", 1)[0] if given_names else ""
