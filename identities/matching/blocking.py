"""Blocking keys: the few short keys per identity whose equality makes two identities candidates."""
from __future__ import annotations

import itertools
from typing import Iterator

import numpy as np

from identities.matching.records import Record, date_parts, given_tokens, name_core, name_key, name_sound
from identities.matching.phonetic import phonetic
from identities.matching.table import Table, stable_hash

# Each family survives a class of desk errors, so a pair with one or two errors still shares at
# least one key (traits it holds → errors it survives). "{month|day}" is two keys, one with the
# month, one with the day, untagged: a day/month swap shares both, a 00 day or month against a
# full date shares one, an error in the day or in the month leaves one whole. "months" is the
# month, or for a year-only date (00/00/YYYY) each of the twelve: the few such records get twelve
# keys where others get one, so they meet every date of their year and groups stay small.
#   NY  name core + year + {months|day}         → any given-name error with a day or month error
#                                                 (or a year-only date)
#   NG  name core + first given + {month|day}   → a year typo with a day or month error (or a swap)
#   NA  name core + first given + year          → a 00 day and month against a full date
#   NM  name core + month and day               → a year typo with a given-name error
#   GM  first given + year + {months|day} + name fragment → a name typo with a day or month error
#                                                          (or a year-only date)
#   GY  first given + month and day + name fragment      → a name typo with a year typo
#   DN  date (as typed, 00 parts kept) + name fragment   → a name typo with any given-name error
#   IN  a matricule INS (its own, or one INSi reported for it) → the same INS whatever the traits
# A name fragment is a piece of the name (particle kept) that one letter replaced, dropped, added or two
# swapped leaves whole in one of its keys (see ``fragments``). Every key holds a name (or a
# fragment of it) and most of a date: a key holding only a first given name and part of a date,
# or only a name and a year, makes groups that grow with the base, so pairs per identity grew
# tenfold from 100,000 to 1,000,000. Birth name and used name each give their name keys, so a
# used name typed as birth name (and the reverse) still meets. No key needs sex or birthplace:
# the desk search may leave them blank.
FAMILIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("NY", ("core", "year", "months")),
    ("NY", ("core", "year", "day")),
    ("NG", ("core", "first", "month")),
    ("NG", ("core", "first", "day")),
    ("NA", ("core", "first", "year")),
    ("NM", ("core", "mmdd")),
    ("GM", ("first", "year", "months", "fragment")),
    ("GM", ("first", "year", "day", "fragment")),
    ("GY", ("first", "mmdd", "fragment")),
    ("DN", ("date8", "fragment")),
    ("IN", ("ins",)),
)
_PER_NAME = {"core", "sound", "fragment"}  # components given once for the birth name, once for the used name
_NUMBERS = {"year", "month", "months", "day", "mmdd", "date8"}
_WIDTH = {"year": 4, "month": 2, "months": 2, "day": 2, "mmdd": 4, "date8": 8}
_MONTHS = tuple(range(1, 13))


def fragments(core: str) -> tuple[str, ...]:
    """The fragments of a name key (a key each), tagged apart; '' where there is none.

    The whole name, particle kept (DUTHEIL typed DTUHEIL must not lose its particle DU on one
    side only). A name of six letters or more gives its first three letters and its last three
    (``BER*``, ``*ARD``): one typo leaves one of them whole. A name of six letters or fewer gives
    its first two and its last two (``BE*``, ``*RD``) and, up to four letters, its outer ones
    (``C*U``: CANU / CNAU, two inner letters swapped, keep only those). Six-letter names give
    both sets, so a letter dropped or added (six against five or seven) still shares a scheme.
    """
    if not core:
        return ("",) * 5
    size = len(core)
    short = (f"{core[:2]}*", f"*{core[-2:]}", f"{core[0]}*{core[-1]}" if size <= 4 else "") if size <= 6 else ("", "", "")
    long = (f"{core[:3]}*", f"*{core[-3:]}") if size >= 6 else ("", "")
    return short + long


def _components(record: Record) -> tuple[list[dict], dict[str, str]]:
    """The readable component values: one dict per name (birth, used), one for the rest ('' absent).

    A fragment is a tuple of values (a key per value); every other component is one string.
    """
    year, month, day = date_parts(record.birth_date)
    tokens = given_tokens(record.birth_given_names or record.first_birth_given_name)
    first = tokens[0] if tokens else ""
    numbers = {"year": year, "month": month, "day": day, "mmdd": month * 100 + day if month and day else 0,
               "date8": year * 10_000 + month * 100 + day if year else 0}
    common = {key: f"{value:0{_WIDTH[key]}d}" if value else "" for key, value in numbers.items()}
    common |= {"first": first, "first_sound": phonetic(first), "ins": tuple(sorted(record.matricules())) or "",
               "months": common["month"] or (tuple(f"{m:02d}" for m in _MONTHS) if year and not day else "")}
    sides = []
    for value in (record.birth_name, record.used_name):
        core = name_core(value) if value else ""
        if core:
            sides.append({"core": core, "sound": name_sound(value), "fragment": fragments(name_key(value))})
    return sides, common


def blocking_keys(record: Record) -> set[str]:
    """The readable keys of one identity (``NY:GALL:1950``): for tests, debugging and explanations."""
    sides, common = _components(record)
    keys = set()
    for family, parts in FAMILIES:
        for side in (sides if _PER_NAME & set(parts) else [{}]):
            options = [side.get(part) or common.get(part, "") for part in parts]
            for values in itertools.product(*(o if isinstance(o, tuple) else (o,) for o in options)):
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


def family_codes(table: Table) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """(family, codes, rows) one family at a time (both name sides, both GM entries), a family
    with a name fragment once per kind of fragment.

    The same numbers ``key_code`` gives; produced per family so a run over a large base never
    holds every key of every identity at once (a key is only ever shared within its family, and
    two kinds of fragment never give the same key: ``BE*``, ``*RD``, ``B*D``, ``BER*``, ``*ARD``
    differ in shape). At 1,000,000 the GM family alone held 12 million codes in one piece.
    """
    h = table.hashes
    fragment = _fragment_hashes(table)
    n = len(table)
    # Each component's words are worked out when a key needs them (a take of n uint64), never
    # all at once: 14 name words of 8 bytes per identity would outweigh the table itself.
    sides = [{"core": lambda c=c: h[table.cols[c + "core"]], "sound": lambda c=c: h[table.cols[c + "sound"]],
              "fragment": tuple(lambda c=c, f=f: f[table.cols[c + "key"]] for f in fragment),
              "present": lambda c=c: table.cols[c + "core"] > 0}
             for c in ("b", "u")]
    common = {"first": lambda: h[table.g1], "first_sound": lambda: h[table.first_sound],
              # a date is no key without its year
              "date8": lambda: np.where(table.year > 0, table.date8, 0).astype(np.uint64),
              "months": lambda: table.month.astype(np.uint64),
              **{name: lambda name=name: table.cols[name].astype(np.uint64) for name in _NUMBERS - {"date8", "months"}}}
    everyone = {"present": lambda: np.ones(n, dtype=bool)}
    rows = np.arange(n, dtype=np.int32)
    year_only = (table.year > 0) & (table.month == 0) & (table.day == 0)
    for family, piece in _pieces():
        if family == "IN":  # one key per matricule: the record's own, and those INSi reported for it
            own = np.flatnonzero(table.ins_key != 0).astype(np.int32)
            report_rows, report_keys = table.reported
            words = np.concatenate([table.ins_key[own], report_keys])
            yield family, _mix(np.uint64(stable_hash(family)), [words]).astype(np.int64), np.concatenate([own, report_rows])
            continue
        codes, owners = [], []
        for parts in (parts for name, parts in FAMILIES if name == family):
            for side in (sides if _PER_NAME & set(parts) else [everyone]):
                options = [(side[part][piece],) if part == "fragment" else side[part] if part in _PER_NAME else common[part]
                           for part in parts]
                for makers in itertools.product(*(o if isinstance(o, tuple) else (o,) for o in options)):
                    words = [make() for make in makers]
                    present = side["present"]()
                    for word in words:
                        present &= word != 0
                    codes.append(_mix(np.uint64(stable_hash(family)), [word[present] for word in words]).astype(np.int64))
                    owners.append(rows[present])
                    if "months" in parts:  # a year-only date: one key per month
                        k = parts.index("months")
                        only = side["present"]() & year_only
                        for j, word in enumerate(words):
                            if j != k:
                                only &= word != 0
                        for month in _MONTHS:
                            fixed = [np.full(int(only.sum()), month, dtype=np.uint64) if j == k else word[only]
                                     for j, word in enumerate(words)]
                            codes.append(_mix(np.uint64(stable_hash(family)), fixed).astype(np.int64))
                            owners.append(rows[only])
                    del words, present
        yield family, np.concatenate(codes), np.concatenate(owners)


def _pieces() -> Iterator[tuple[str, int | None]]:
    """(family, kind of fragment or None) in the order ``family_codes`` yields them."""
    for family in dict.fromkeys(name for name, _parts in FAMILIES):
        if any("fragment" in parts for name, parts in FAMILIES if name == family):
            yield from ((family, piece) for piece in range(len(fragments("A"))))
        else:
            yield family, None


def _fragment_hashes(table: Table) -> tuple[np.ndarray, ...]:
    """Per vocabulary id, the hash of each of its fragments (0 for strings that are no name key, or none)."""
    cache = table.__dict__.setdefault("_fragments", [])
    if not cache:
        cores = np.unique(np.concatenate([table.bkey, table.ukey]))
        cores = cores[cores > 0]
        values = [fragments(table.strings[i]) for i in cores.tolist()]
        for k in range(len(fragments("A"))):
            hashes = np.zeros(len(table.strings), dtype=np.uint64)
            hashes[cores] = np.fromiter((stable_hash(v[k]) for v in values), dtype=np.uint64, count=len(values))
            cache.append(hashes)
    return tuple(cache)


def key_codes(table: Table) -> tuple[np.ndarray, np.ndarray]:
    """(codes, rows): every key of every record as int64 codes, the same numbers ``key_code`` gives."""
    pieces = list(family_codes(table))
    if not pieces:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32)
    return np.concatenate([codes for _f, codes, _r in pieces]), np.concatenate([rows for _f, _c, rows in pieces])
