"""The reads of the channels: the FHIR search, client applications, identities received before."""
from __future__ import annotations

import uuid

from django.db.models import Q, Value
from django.db.models.functions import Concat

from identities.core import ipp as ipps
from identities.core import traits
from identities.core.diffusion import shareable_ins
from identities.core.errors import RuleViolation
from identities.core.models import Identity
from identities.core.selectors import active_identities, birth_date_filter
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
    system); an IPP whose check digit is wrong finds nothing. A matricule finds an identity only when the diffusion gate shares that very INS,
    so a search cannot reveal the matricule of an identity that may not carry it.
    ``birth_date`` takes the forms of the anteriority search; raises TraitError when unreadable.
    """
    query = Q()
    if ipp or matricule:
        by_identifier = Q(pk__in=[])
        if _ipp(ipp):
            by_identifier |= Q(ipp=_ipp(ipp))
        if matricule:
            by_identifier |= Q(ins_matricule=matricule, **({"ins_oid": ins_oid} if ins_oid else {}))
        query &= by_identifier
    family_key, given_key = traits.search_key(family), traits.search_key(given)
    if family_key:
        query &= Q(birth_name_key__startswith=family_key) | Q(used_name_key__startswith=family_key)
    if given_key:
        query &= Q(given_names_key__startswith=given_key) | Q(given_names_key__contains=f" {given_key}")
    if birth_date.strip():
        query &= birth_date_filter(birth_date)
    if not query:
        return []
    # Ordered by an expression no index provides: PostgreSQL then finds the matches through the
    # search indexes and sorts them, rather than walk the name index from "A" to reach a deep
    # page of a frequent name (seconds at _offset=1000 on a million identities, see
    # docs/benchmarks-interop.md).
    order = Concat("birth_name_key", Value("")), "given_names_key", "birth_date", "pk"
    found = active_identities().filter(query).order_by(*order)
    if not matricule:
        return list(found[offset:offset + limit])
    # The matricule is unique: at most a couple of rows to check against the gate.
    return [
        identity for identity in found
        if identity.ipp == _ipp(ipp) or getattr(shareable_ins(identity), "matricule", None) == matricule
    ][offset:offset + limit]


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
