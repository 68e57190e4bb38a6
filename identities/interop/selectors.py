"""The reads of the channels: the FHIR search, client applications, identities received before."""
from __future__ import annotations

import heapq
import itertools
import uuid

from django.db.models import Q

from identities.core import ipp as ipps
from identities.core import traits
from identities.core.diffusion import shareable_ins
from identities.core.errors import RuleViolation
from identities.core.models import Identity
from identities.core.selectors import active_identities, birth_date_filter, given_name_filter
from identities.interop.models import ClientApplication, InboundMessage


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def identity_by_uuid(text: str) -> Identity | None:
    """The identity whose internal id (FHIR Patient.id, the CDA endpoint's id) is ``text``."""
    value = _uuid(text)
    return Identity.objects.filter(uuid=value).first() if value else None


def _ipp(text: str) -> str:
    """``text`` as an IPP, or "" when it cannot be one (wrong shape or check digit: nothing to find)."""
    try:
        return ipps.normalise(text) if text else ""
    except RuleViolation:
        return ""


def patient_search(
    *, ipp: str = "", matricule: str = "", ins_oid: str = "", family: str = "", given: str = "", birth_date: str = "",
    offset: int = 0, limit: int = 20,
) -> list[Identity]:
    """Active identities for the FHIR search, in a stable order; no criterion, no result.

    ``ipp`` and ``matricule`` given together mean "either" (an identifier searched without its
    system); an IPP whose check digit is wrong finds nothing. A matricule finds an identity only
    when the diffusion gate shares that very INS, so a search cannot reveal the matricule of an
    identity that may not carry it.
    ``birth_date`` takes the forms of the anteriority search; raises TraitError when unreadable.

    The order is the one of an index, so that a page is read off it and the database stops
    after ``offset + limit`` rows whatever the number of matches (a frequent name, a short
    prefix, a birth year): with ``family``, by the name that matched (birth name, else used
    name), given names, birth date; else with ``birthdate``, by birth date, name, given names;
    else (``given`` alone) by the given names from the one that matched on, name, birth date.
    The API bounds ``offset`` (settings.FHIR_MAX_OFFSET).
    """
    filters = Q()
    given_key = traits.search_key(given)
    if given_key:
        filters &= given_name_filter(given_key)
    if birth_date.strip():
        filters &= birth_date_filter(birth_date)
    family_key = traits.search_key(family)
    if ipp or matricule:
        by_name = Q(birth_name_key__startswith=family_key) | Q(used_name_key__startswith=family_key) if family_key else Q()
        return _by_identifier(ipp, matricule, ins_oid, filters & by_name)[offset:offset + limit]
    if not (filters or family_key):
        return []
    candidates = active_identities().filter(filters)
    if family_key:
        # Two index range scans merged, each in the order of its own index: the birth names, then
        # the used names of the others (an identity matching both is listed once, by birth name).
        tail = ("given_names_key", "birth_date", "pk")
        by_birth_name = candidates.filter(birth_name_key__startswith=family_key)
        by_used_name = (  # the used-name index holds no empty name: said so, the planner may take it
            candidates.exclude(used_name_key="").filter(used_name_key__startswith=family_key)
            .exclude(birth_name_key__startswith=family_key)
        )
        keys = heapq.merge(
            by_birth_name.order_by("birth_name_key", *tail).values_list("birth_name_key", *tail)[:offset + limit],
            by_used_name.order_by("used_name_key", *tail).values_list("used_name_key", *tail)[:offset + limit],
        )
        page = [key[-1] for key in itertools.islice(keys, offset, offset + limit)]
    elif birth_date.strip():
        order = ("birth_date", "birth_name_key", "given_names_key", "pk")
        page = list(candidates.order_by(*order).values_list("pk", flat=True)[offset:offset + limit])
    else:
        page = _by_given_name(given_key, offset=offset, limit=limit)
    found = Identity.objects.in_bulk(page)
    return [found[pk] for pk in page]


# Where a given name can sit, each column with its index in the order of the page (core.models:
# identity_search_given_N); the last one holds the fourth given name and those after it.
_GIVEN_POSITIONS = ("given_names_key", "given_names_key_from_2", "given_names_key_from_3", "given_names_key_from_4")


def _by_given_name(given_key: str, *, offset: int, limit: int) -> list[int]:
    """Ids of a page of identities holding a given name that starts with ``given_key``, in any position.

    One index range scan per position, merged (an identity matching in two positions is listed
    at the first). Each scan reads ``fetch`` rows: when one was cut there, only the first ``fetch``
    rows of the merge are sure, and when they hold fewer than ``offset + limit`` identities (the
    same identity twice) the scans read twice as far.
    """
    wanted = fetch = offset + limit
    while True:
        scans = []
        for position, column in enumerate(_GIVEN_POSITIONS):
            matches = Q(**{f"{column}__startswith": given_key})
            if column == _GIVEN_POSITIONS[-1]:
                matches |= Q(**{f"{column}__contains": f" {given_key}"})
            rows = active_identities().filter(matches)
            if position:  # said so, the planner takes the position's partial index
                rows = rows.exclude(**{column: ""})
            ordered = rows.order_by(column, "birth_name_key", "birth_date", "pk")
            scans.append(list(ordered.values_list(column, "birth_name_key", "birth_date", "pk")[:fetch]))
        truncated = any(len(scan) == fetch for scan in scans)
        merged = heapq.merge(*scans)
        page = list(dict.fromkeys(row[-1] for row in (itertools.islice(merged, fetch) if truncated else merged)))
        if len(page) >= wanted or not truncated:
            return page[offset:wanted]
        fetch *= 2


def _by_identifier(ipp: str, matricule: str, ins_oid: str, filters: Q) -> list[Identity]:
    """At most a couple of rows (the IPP and the matricule are unique), the matricule checked against the gate."""
    by_identifier = Q(pk__in=[])
    if _ipp(ipp):
        by_identifier |= Q(ipp=_ipp(ipp))
    if matricule:
        by_identifier |= Q(ins_matricule=matricule, **({"ins_oid": ins_oid} if ins_oid else {}))
    found = active_identities().filter(by_identifier, filters).order_by("birth_name_key", "given_names_key", "birth_date", "pk")
    return [
        identity for identity in found
        if identity.ipp == _ipp(ipp) or getattr(shareable_ins(identity), "matricule", None) == matricule
    ]


def client_application(token_hash: str) -> ClientApplication | None:
    return ClientApplication.objects.filter(token_hash=token_hash, active=True).first()


def identity_received_from(source: str, sender_patient_id: str) -> Identity | None:
    """The identity already created from this sender's patient, if any (its earlier messages)."""
    if not sender_patient_id:
        return None
    found = (
        InboundMessage.objects.filter(source=source, sender_patient_id=sender_patient_id, identity__isnull=False)
        .select_related("identity").order_by("received_at").first()
    )
    return found.identity if found else None
