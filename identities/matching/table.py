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
    # Each distinct trait value is worked out once into a row of a small table; per record only
    # row numbers are kept (array('q'): 8 bytes each), so a million records cost ~70 MB here.
    tables: dict[str, tuple[dict[str, int], list[tuple]]] = {kind: ({}, []) for kind in ("name", "given", "date", "place")}

    def row(kind: str, value: str, build) -> int:
        index, rows = tables[kind]
        found = index.get(value)
        if found is None:
            found = index[value] = len(rows)
            rows.append(build(value))
        return found

    def name(value: str) -> tuple:
        if not value:
            return (0, 0, 0, 0, 0)
        core = name_core(value)
        return (vocab(name_key(value)), vocab(core), vocab(name_sound(value)), vocab(core[:1]), vocab(name_search(value)))

    def given(value: str) -> tuple:
        tokens = given_tokens(value)
        ids = [vocab(token) for token in tokens[:3]] + [0, 0, 0]
        first = tokens[0] if tokens else ""
        return (vocab(" ".join(tokens)), vocab(" ".join(sorted(tokens))), ids[0], ids[1], ids[2],
                len(tokens), vocab(phonetic(first)), vocab(first[:1]))

    def birth(value: str) -> tuple:
        year, month, day = date_parts(value)
        try:
            ordinal = date(year, month, day).toordinal() if year and month and day else -1
        except ValueError:
            ordinal = -1
        return (year, month, day, ordinal)

    def place(value: str) -> tuple:
        return (vocab(value), vocab(department(value)), int(looks_like_postal_code(value)))

    per_record = {column: array("q") for column in ("b", "u", "g", "d", "p", "ghom", "sex", "ins")}
    b, u, g, d, pl, ghom, sex, ins = per_record.values()
    for record in records:
        ids.append(record.id)
        b.append(row("name", record.birth_name, name))
        u.append(row("name", record.used_name or "", name))
        g.append(row("given", record.birth_given_names or record.first_birth_given_name, given))
        d.append(row("date", record.birth_date, birth))
        pl.append(row("place", record.birthplace_code, place))
        ghom.append(vocab(homonym_first_given(record.first_birth_given_name or first_token(record.birth_given_names))))
        sex.append(_SEX.get(record.sex, 0))
        ins.append(vocab(record.ins_matricule or ""))

    def expand(kind: str, rows: array, width: int) -> np.ndarray:
        block = np.array(tables[kind][1], dtype=np.int64).reshape(-1, width)
        return block[np.frombuffer(rows, dtype=np.int64)] if len(rows) else np.zeros((0, width), dtype=np.int64)

    cols: dict[str, np.ndarray] = {}
    for prefix, rows in (("b", b), ("u", u)):
        block = expand("name", rows, len(_NAME_COLS))
        for i, col in enumerate(_NAME_COLS):
            cols[f"{prefix}{col}"] = block[:, i]
    block = expand("given", g, len(_GIVEN_COLS))
    for i, col in enumerate(_GIVEN_COLS):
        cols[col] = block[:, i]
    block = expand("date", d, len(_DATE_COLS))
    for i, col in enumerate(_DATE_COLS):
        cols[col] = block[:, i]
    cols["mmdd"] = np.where((cols["month"] > 0) & (cols["day"] > 0), cols["month"] * 100 + cols["day"], 0)
    cols["date8"] = cols["year"] * 10_000 + cols["month"] * 100 + cols["day"]  # 00 parts kept: exact compare
    cols["full8"] = np.where((cols["year"] > 0) & (cols["mmdd"] > 0), cols["date8"], 0)
    # The eight digits YYYYMMDD, for "one digit off" and "two digits swapped".
    cols["digits"] = ((cols["date8"][:, None] // 10 ** np.arange(7, -1, -1)) % 10).astype(np.int8)
    block = expand("place", pl, 3)
    cols["place"], cols["dept"], cols["postal"] = block[:, 0], block[:, 1], block[:, 2].astype(bool)
    cols["ghom"] = np.frombuffer(ghom, dtype=np.int64)
    cols["sex"] = np.frombuffer(sex, dtype=np.int64).astype(np.int8)
    cols["ins"] = np.frombuffer(ins, dtype=np.int64)
    strings, hashes = vocab.arrays()
    return Table(records=records if keep_records else None, ids=np.array(ids), strings=strings, hashes=hashes, cols=cols)


def first_token(given_names: str) -> str:
    return given_names.split(" ", 1)[0] if given_names else ""
