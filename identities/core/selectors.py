"""Every read of identities used by the admin, the API and the tasks (anteriority search lives here)."""
from __future__ import annotations

from django.contrib.postgres.search import TrigramSimilarity
from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.functions import Greatest

from identities.core import traits
from identities.core.models import Birthplace, DocumentCheck, Identity, IdentityEvent, InsMatricule


def active_identities() -> QuerySet[Identity]:
    return Identity.objects.filter(is_active=True)


def given_name_filter(given_key: str) -> Q:
    """A given name (a search key) matching any given name of the list that starts with it."""
    return Q(given_names_key__startswith=given_key) | Q(given_names_key__contains=f" {given_key}")


def birth_date_filter(birth_date: str) -> Q:
    """An exact date, or a partial one (``00`` day/month, or just a year) matching what is known."""
    text = birth_date.strip()
    if len(text) == 4 and text.isdigit():
        return Q(birth_date__startswith=f"{text}-")
    parsed = traits.parse_birth_date(text)
    if not parsed.is_partial:
        return Q(birth_date=parsed.iso())
    prefix = f"{parsed.year:04d}-" + (f"{parsed.month:02d}-" if parsed.month else "")
    return Q(birth_date__startswith=prefix)


def anteriority_search(*, name: str = "", given_name: str = "", birth_date: str = "", limit: int = 50) -> list[Identity]:
    """Candidates for a person about to be created or looked up at the desk.

    A name term matches the birth name or the used name; hyphen, apostrophe and space are
    alike; accents and case are folded; on PostgreSQL one typo is tolerated (trigrams).
    The birth date accepts ``JJ/MM/AAAA``, ``AAAA-MM-JJ`` with ``00`` or a year alone.
    Raises TraitError for an unreadable date.
    """
    return list(anteriority_queryset(name=name, given_name=given_name, birth_date=birth_date)[:limit])


def anteriority_queryset(
    *, name: str = "", given_name: str = "", birth_date: str = "", within: QuerySet[Identity] | None = None,
    merged: bool = False,
) -> QuerySet[Identity]:
    """The anteriority search as a ranked queryset, for screens that paginate (the admin list,
    whose filters come in as ``within``). ``merged`` searches the merged records instead, so
    a hit on one points the user to the identity it lives on in."""
    name_key, given_key = traits.search_key(name), traits.search_key(given_name)
    query = Q()
    if birth_date.strip():
        query &= birth_date_filter(birth_date)
    if given_key:
        query &= given_name_filter(given_key)
    if not (name_key or query):
        return Identity.objects.none()
    if merged:
        qs = Identity.objects.filter(merged_into__isnull=False).filter(query)
    else:
        qs = (active_identities() if within is None else within.filter(is_active=True)).filter(query)
    fuzzy = connection.vendor == "postgresql" and len(name_key) >= 3
    if name_key:
        exact = Q(birth_name_key__startswith=name_key) | Q(used_name_key__startswith=name_key)
        if fuzzy:
            # %-operator lookups use the trigram GIN indexes; similarity ranks the hits.
            exact |= Q(birth_name_key__trigram_similar=name_key) | Q(used_name_key__trigram_similar=name_key)
        qs = qs.filter(exact)
    if fuzzy and name_key:
        # pg_trgm's default threshold (0.3) keeps one typo in a name of four letters or more.
        qs = qs.annotate(
            score=Greatest(TrigramSimilarity("birth_name_key", name_key), TrigramSimilarity("used_name_key", name_key))
        ).order_by("-score", "birth_name_key", "given_names_key", "birth_date")
    else:
        qs = qs.order_by("birth_name_key", "given_names_key", "birth_date")
    return qs


def identity_holding_matricule(matricule: str, *, exclude_id: int | None = None) -> Identity | None:
    qs = Identity.objects.filter(ins_matricule=matricule)
    if exclude_id is not None:
        qs = qs.exclude(pk=exclude_id)
    return qs.first()


# --- Documents, labels and the desk datamatrix reading ---

def identities_holding_matricule_ever(matricule: str) -> list[Identity]:
    """Active identities whose current INS, or any INS they held or INSi reported, is this matricule."""
    held = InsMatricule.objects.filter(matricule=matricule).values("identity_id")
    return list(active_identities().filter(Q(ins_matricule=matricule) | Q(pk__in=held)).order_by("pk"))


def identities_for_printing(identity_ids: list[int]) -> list[Identity]:
    """Active identities in the order they were selected (missing or merged ones left out)."""
    found = active_identities().in_bulk(identity_ids)
    return [found[pk] for pk in dict.fromkeys(identity_ids) if pk in found]


def last_ins_invalidation(identity: Identity):
    """The event that invalidated the identity's INS, when no INS was set after it (None otherwise)."""
    last = identity.events.filter(kind__in=[IdentityEvent.Kind.INS_SET, IdentityEvent.Kind.INS_INVALIDATED]).order_by("-at", "-id").first()
    return last if last is not None and last.kind == IdentityEvent.Kind.INS_INVALIDATED else None


def birthplace_names(codes) -> dict[str, str]:
    return dict(Birthplace.objects.filter(code__in=set(codes) - {""}).values_list("code", "name"))


# --- For the channels: what an output states about an identity ---

def identities_for_diffusion(identity_ids) -> dict[int, Identity]:
    """The identities a batch of outgoing messages is built from, read at once."""
    return Identity.objects.in_bulk(list(identity_ids))


def surviving_identity(identity: Identity) -> Identity:
    """The identity a merged record now lives on in (following later merges); itself when not merged."""
    seen = set()
    while identity.merged_into_id is not None and identity.pk not in seen:
        seen.add(identity.pk)
        identity = Identity.objects.get(pk=identity.merged_into_id)
    return identity


def merge_links(identities) -> dict[int, tuple[str, list[str]]]:
    """Per identity, the internal id (UUID) of the record it was merged into ("" if none) and
    those of the records merged into it (FHIR Patient.link replaced-by / replaces)."""
    identities = list(identities)
    targets = dict(Identity.objects.filter(pk__in=[i.merged_into_id for i in identities if i.merged_into_id]).values_list("pk", "uuid"))
    absorbed: dict[int, list[str]] = {}
    for survivor_id, internal_id in Identity.objects.filter(merged_into__in=identities).order_by("pk").values_list(
            "merged_into_id", "uuid"):
        absorbed.setdefault(survivor_id, []).append(str(internal_id))
    return {
        i.pk: (str(targets[i.merged_into_id]) if i.merged_into_id in targets else "", absorbed.get(i.pk, []))
        for i in identities
    }


def validating_checks(identity_ids) -> dict[int, DocumentCheck]:
    """Per identity, the latest standing document check that validated it (its evidence)."""
    checks = (
        DocumentCheck.objects.filter(identity_id__in=identity_ids, validates=True, withdrawn_at__isnull=True)
        .select_related("document_type", "companion_type").order_by("identity_id", "-checked_at")
    )
    found: dict[int, DocumentCheck] = {}
    for check in checks:
        found.setdefault(check.identity_id, check)
    return found
