"""Blocking keys: the few short strings per identity whose equality makes two identities candidates."""
from __future__ import annotations

from identities.matching.records import Record, date_parts, given_tokens, name_core, name_sound

# Each key family survives one class of desk error, so a pair with one or two errors still
# shares at least one key. Families (prefix: traits it holds → errors it survives):
#   NY  name core + year              → any day/month error, 00 date, given names, birthplace
#   NG  name core + first given name  → any date error (year typo included)
#   PG  sound of name + of first given → typos both names keep the sound of, with a date error
#   GM  first given + year + month, and first given + year + day
#                                      → name errors (typo, birth/used swap) with one day/month error
#   DG  full date + initial of given  → errors in both names, date right
#   DN  full date + initial of name   → errors in both names, date right
#   NM  name core + month and day      → a year typo with a given-name error
#   GY  first given + month and day    → a year typo with a name error
# Every key holds a trait that is rare across the base (a name, a date), so groups stay small:
# no cross product. Birth name and used name each give their name keys, so a used name
# typed as birth name (and the reverse) still meets.
FAMILIES = ("NY", "NG", "PG", "GM", "DG", "DN", "NM", "GY")


def _names(record: Record) -> set[str]:
    return {core for core in (name_core(record.birth_name), name_core(record.used_name)) if core}


def blocking_keys(record: Record) -> set[str]:
    """The keys stored for an identity (sweep), or looked up for a desk entry (``WHERE key IN …``).

    A trait left blank (a desk search without sex or birthplace) only drops the keys that
    need it; none of these needs sex or birthplace.
    """
    keys: set[str] = set()
    year, month, day = date_parts(record.birth_date)
    tokens = given_tokens(record.birth_given_names or record.first_birth_given_name)
    first = tokens[0] if tokens else ""
    for core in _names(record):
        if year:
            keys.add(f"NY:{core}:{year}")
        if first:
            keys.add(f"NG:{core}:{first}")
            keys.add(f"PG:{name_sound(core)}:{name_sound(first)}")
        if year and month and day:
            keys.add(f"DN:{year}{month:02d}{day:02d}:{core[0]}")
        if month and day:
            keys.add(f"NM:{core}:{month:02d}{day:02d}")
    if first and year:
        # Month and day are written untagged, so a day/month swap shares both keys.
        if month:
            keys.add(f"GM:{first}:{year}:{month:02d}")
        if day:
            keys.add(f"GM:{first}:{year}:{day:02d}")
        if month and day:
            keys.add(f"DG:{year}{month:02d}{day:02d}:{first[0]}")
            keys.add(f"GY:{first}:{month:02d}{day:02d}")
    return keys
