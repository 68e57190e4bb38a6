"""Guided retry after INSi's "not found" (01): the likely variants of the traits sent, proposed as one-click retries.

Each variant changes one thing of the search it follows, in the order of the causes seen
at the desk (insi.md: 01 hits women first, married names typed as birth names):

1. ``USED_NAME`` — the used name tried as the birth name (a married name was typed as the
   birth name, the birth name recorded as the used one);
2. ``GIVEN_NAMES`` — the other given names: the list as it would be written if a composed
   given name was typed as two (``JEAN PIERRE`` → ``JEAN-PIERRE``), then the used given
   name tried as the birth given name;
3. ``FIRST_GIVEN_NAME`` — the first given name only, when what was typed as the first is a
   composed name whose first part alone is the civil-status name (``MARC-ANTOINE`` → ``MARC``).

The birthplace needs no variant: every search already leaves it out and sends it only to
narrow a 02 (insi.strategy), so a wrong local COG code never turns a 00 into a 01.

A variant is proposed only when its traits were not already sent for this identity, so a
chain of clicks never repeats a search. Pure: no database, no INSi.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from identities.core import traits


class Variant(StrEnum):
    USED_NAME = "USED_NAME"
    GIVEN_NAMES = "GIVEN_NAMES"
    FIRST_GIVEN_NAME = "FIRST_GIVEN_NAME"
    BIRTH_NAME = "BIRTH_NAME"  # back to the recorded birth name, after a retry with the used name
    BIRTHPLACE = "BIRTHPLACE"  # the 02 narrowing (recovery.guidance), never a 01 variant


@dataclass(frozen=True)
class Suggestion:
    """A one-click retry: the traits to send instead of the identity's, what the button says, and which variant it is."""

    label: str
    birth_name: str = ""
    given_names: str = ""
    birthplace: str = ""
    variant: str = ""


_LABELS = {
    Variant.USED_NAME: gettext_lazy("nom utilisé comme nom de naissance"),
    Variant.GIVEN_NAMES: gettext_lazy("autres prénoms"),
    Variant.FIRST_GIVEN_NAME: gettext_lazy("premier prénom seul"),
    Variant.BIRTH_NAME: gettext_lazy("nom de naissance saisi"),
    Variant.BIRTHPLACE: gettext_lazy("lieu de naissance ajouté"),
}


def variant_label(value: str) -> str:
    """What the recovery page says of the guided retry that made a search (``USED_NAME+GIVEN_NAMES`` → two parts)."""
    return " + ".join(str(_LABELS.get(part, part)) for part in value.split("+")) if value else ""


def is_variant(value: str) -> bool:
    """A variant as a retry carries it: one kind, or kinds joined by ``+``."""
    return bool(value) and all(part in Variant.__members__.values() for part in value.split("+"))


# At most this many buttons: a chain of clicks goes on from the retry's own page.
MAX_SUGGESTIONS = 4


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(value for value in values if value))


def _given_name_variants(given_names: str, used_given_name: str) -> list[tuple[str, Variant]]:
    tokens = given_names.split(" ")
    found: list[tuple[str, Variant]] = []
    if len(tokens) > 1:
        found.append(("-".join(tokens[:2]) + "".join(f" {token}" for token in tokens[2:]), Variant.GIVEN_NAMES))
    if used_given_name and used_given_name not in tokens:
        found.append((used_given_name, Variant.GIVEN_NAMES))
    first = traits.first_of(given_names)
    if "-" in first:
        found.append((first.split("-", 1)[0], Variant.FIRST_GIVEN_NAME))
    return found


def _label(name: str, names: str, *, sent: dict) -> str:
    if names == sent.get("given_names"):
        return _("Relancer avec « %(name)s » comme nom de naissance") % {"name": name}
    if name == sent.get("birth_name"):
        return _("Relancer avec « %(names)s » comme prénom(s) de naissance") % {"names": names}
    return _("Relancer avec « %(name)s » et « %(names)s »") % {"name": name, "names": names}


def not_found_variants(*, identity: dict, sent: dict, tried: Iterable[dict]) -> list[Suggestion]:
    """The retries worth proposing after a 01 on the search ``sent`` (its ``birth_name``, ``given_names``, ``birthplace``).

    ``identity`` holds the identity's ``birth_name``, ``birth_given_names``, ``used_name`` and
    ``used_given_name``; ``tried`` the queries already sent for it (left out). Variants that
    change one thing come first, the used name before the given names; then the pairs.
    """
    sent_name, sent_names = sent.get("birth_name", ""), sent.get("given_names", "")
    used_name = identity.get("used_name", "")
    already = {(query.get("birth_name", ""), query.get("given_names", "")) for query in tried} | {(sent_name, sent_names)}
    names = _unique([sent_name, used_name, identity.get("birth_name", "")])
    lists: list[tuple[str, Variant | None]] = []
    for base in _unique([sent_names, identity.get("birth_given_names", "")]):
        lists += [(base, None if base == sent_names else Variant.GIVEN_NAMES),
                  *_given_name_variants(base, identity.get("used_given_name", ""))]
    ranked = []
    for name in names:
        name_kind = None if name == sent_name else (Variant.USED_NAME if name == used_name else Variant.BIRTH_NAME)
        for given, given_kind in lists:
            if (name, given) in already:
                continue
            already.add((name, given))
            changes = (name != sent_name) + (given != sent_names)
            kinds = "+".join(kind for kind in (name_kind, given_kind) if kind)
            suggestion = Suggestion(_label(name, given, sent=sent), birth_name=name, given_names=given,
                                    birthplace=sent.get("birthplace", ""), variant=kinds)
            ranked.append(((changes, given != sent_names), suggestion))
    ranked.sort(key=lambda pair: pair[0])
    return [suggestion for _rank, suggestion in ranked[:MAX_SUGGESTIONS]]
