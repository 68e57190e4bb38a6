"""Blocking keys: the few short keys per identity whose equality makes two identities candidates."""
from __future__ import annotations

import numpy as np

from identities.matching.records import Record, date_parts, given_tokens, name_core, name_sound
from identities.matching.phonetic import phonetic
from identities.matching.table import Table, stable_hash

# Each family survives one class of desk error, so a pair with one or two errors still shares
# at least one key (traits it holds → errors it survives):
#   NY  name core + year               → any day/month error, 00 date, given names, birthplace
#   NG  name core + first given        → any date error (year typo included)
#   PG  sound of name + of first given → typos that keep the sound, with a date error
#   GM  first given + year + month, and first given + year + day (untagged, so a day/month
#       swap shares both)              → name errors (typo, birth/used swap) with a day or month error
#   DG  full date + initial of given   → errors in both names, date right
#   DN  full date + initial of name    → errors in both names, date right
#   NM  name core + month and day      → a year typo with a given-name error
#   GY  first given + month and day    → a year typo with a name error
# Every key holds a trait that is rare across the base (a name, a date), so groups stay small:
# no cross product. Birth name and used name each give their name keys, so a used name typed
# as birth name (and the reverse) still meets. No key needs sex or birthplace: the desk search
# may leave them blank.
FAMILIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("NY", ("core", "year")),
    ("NG", ("core", "first")),
    ("PG", ("sound", "first_sound")),
    ("GM", ("first", "year", "month")),
    ("GM", ("first", "year", "day")),
    ("DG", ("full8", "first_initial")),
    ("DN", ("full8", "initial")),
    ("NM", ("core", "mmdd")),
    ("GY", ("first", "mmdd")),
)
_PER_NAME = {"core", "sound", "initial"}  # components given once for the birth name, once for the used name
_NUMBERS = {"year", "month", "day", "mmdd", "full8"}
_WIDTH = {"year": 4, "month": 2, "day": 2, "mmdd": 4, "full8": 8}


def _components(record: Record) -> tuple[list[dict[str, str]], dict[str, str]]:
    """The readable component values: one dict per name (birth, used), one for the rest ('' absent)."""
    year, month, day = date_parts(record.birth_date)
    tokens = given_tokens(record.birth_given_names or record.first_birth_given_name)
    first = tokens[0] if tokens else ""
    numbers = {"year": year, "month": month, "day": day, "mmdd": month * 100 + day if month and day else 0,
               "full8": year * 10_000 + month * 100 + day if year and month and day else 0}
    common = {key: f"{value:0{_WIDTH[key]}d}" if value else "" for key, value in numbers.items()}
    common |= {"first": first, "first_sound": phonetic(first), "first_initial": first[:1]}
    sides = []
    for value in (record.birth_name, record.used_name):
        core = name_core(value) if value else ""
        if core:
            sides.append({"core": core, "sound": name_sound(value), "initial": core[:1]})
    return sides, common


def blocking_keys(record: Record) -> set[str]:
    """The readable keys of one identity (``NY:MARTIN:1950``): for tests, debugging and explanations."""
    sides, common = _components(record)
    keys = set()
    for family, parts in FAMILIES:
        for side in (sides if _PER_NAME & set(parts) else [{}]):
            values = [side.get(part) or common.get(part, "") for part in parts]
            if all(values):
                keys.add(f"{family}:{':'.join(values)}")
    return keys


def key_code(key: str) -> int:
    """The stored form of a readable key: a signed 64-bit integer (a bigint column) for ``WHERE key IN``."""
    family, *values = key.split(":")
    kinds = next(parts for name, parts in FAMILIES if name == family)  # both GM entries have the same kinds
    words = [int(v) if kind in _NUMBERS else stable_hash(v) for kind, v in zip(kinds, values)]
    return int(_mix(np.uint64(stable_hash(family)), [np.array([w], dtype=np.uint64) for w in words])[0].astype(np.int64))


def _mix(seed, words: list[np.ndarray]) -> np.ndarray:
    # FNV-style fold of 64-bit words, then a splitmix64 finaliser: stable across processes.
    with np.errstate(over="ignore"):
        h = np.full(len(words[0]), seed, dtype=np.uint64)
        for word in words:
            h = (h ^ word.astype(np.uint64)) * np.uint64(0x100000001B3)
            h ^= h >> np.uint64(29)
        h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return h ^ (h >> np.uint64(31))


def key_codes(table: Table) -> tuple[np.ndarray, np.ndarray]:
    """(codes, rows): every key of every record as int64 codes, the same numbers ``key_code`` gives."""
    h = table.hashes
    sides = [{"core": h[table.bcore], "sound": h[table.bsound], "initial": h[table.binitial], "present": table.bcore > 0},
             {"core": h[table.ucore], "sound": h[table.usound], "initial": h[table.uinitial], "present": table.ucore > 0}]
    common = {"first": h[table.g1], "first_sound": h[table.first_sound], "first_initial": h[table.first_initial],
              **{name: table.cols[name].astype(np.uint64) for name in _NUMBERS}}
    rows = np.arange(len(table), dtype=np.int64)
    all_codes, all_rows = [], []
    for family, parts in FAMILIES:
        for side in (sides if _PER_NAME & set(parts) else [{"present": np.ones(len(table), dtype=bool)}]):
            words = [side[part] if part in _PER_NAME else common[part] for part in parts]
            present = side["present"].copy()
            for word in words:
                present &= word != 0
            codes = _mix(np.uint64(stable_hash(family)), [word[present] for word in words]).astype(np.int64)
            all_codes.append(codes)
            all_rows.append(rows[present])
    return np.concatenate(all_codes), np.concatenate(all_rows)
