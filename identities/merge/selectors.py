"""Every read of the merge capability: the setting, proven pairs, the merge log and its worklists, what a merged record points to."""
from __future__ import annotations

from datetime import timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext

from identities.core import matricule
from identities.core.diffusion import shareable_ins
from identities.core.models import COMPLEMENTARY_TRAIT_FIELDS, STRICT_TRAIT_FIELDS, Identity, IdentityLink
from identities.merge.models import Collision, Merge, MergePolicy

RECENT_DAYS = 30


def merge_policy(*, for_update: bool = False) -> MergePolicy:
    rows = MergePolicy.objects.select_for_update() if for_update else MergePolicy.objects
    return rows.get_or_create(pk=1)[0]


def is_proven_duplicate(first_id: int, second_id: int) -> bool:
    """The CIV confirmed the pair as one person (a DOUA link, left by the duplicates worklist)."""
    return IdentityLink.objects.filter(kind=IdentityLink.Kind.DOUA).filter(
        Q(identity_id=first_id, other_id=second_id) | Q(identity_id=second_id, other_id=first_id)
    ).exists()


def collision_split_between(first_id: int, second_id: int) -> bool:
    """The two records are the two people of a split collision."""
    return Collision.objects.filter(state=Collision.State.SPLIT).filter(
        Q(identity_id=first_id, second_identity_id=second_id) | Q(identity_id=second_id, second_identity_id=first_id)
    ).exists()


def proposals() -> QuerySet[Merge]:
    """Merges to approve (four eyes), oldest first."""
    return Merge.objects.filter(state=Merge.State.PROPOSED).select_related("survivor", "absorbed", "proposed_by").order_by("proposed_at")


def recent_merges(*, now=None) -> QuerySet[Merge]:
    """Merges done in the last 30 days: those an unmerge is offered for on the worklist."""
    since = (now or timezone.now()) - timedelta(days=RECENT_DAYS)
    return Merge.objects.filter(state=Merge.State.DONE, merged_at__gte=since).select_related("survivor", "absorbed", "decided_by")


def merged_matching(identity_ids) -> QuerySet[Identity]:
    """Merged records among these ids, with their survivor (for the « fusionnée dans … » notices)."""
    return Identity.objects.filter(pk__in=list(identity_ids), merged_into__isnull=False).select_related("merged_into")


def done_merge_of(absorbed_id: int) -> Merge | None:
    return Merge.objects.filter(absorbed_id=absorbed_id, state=Merge.State.DONE).select_related("survivor", "decided_by").first()


def _ins_text(identity: Identity) -> str:
    shared = shareable_ins(identity)
    if shared:
        return f"{matricule.display(shared.matricule)} ({shared.nature})"
    return gettext("enregistré, non diffusable") if identity.ins_matricule else "—"


def pair_comparison(survivor: Identity, absorbed: Identity) -> list[dict]:
    """The merge screen's rows: each trait of both records, differences marked, and what each record holds."""
    shown = {"birth_date": lambda i: i.birth_date_display, "sex": lambda i: i.get_sex_display(), "status": lambda i: i.get_status_display()}
    rows = []
    for name, kind in [*((n, "strict") for n in STRICT_TRAIT_FIELDS), *((n, "complementary") for n in COMPLEMENTARY_TRAIT_FIELDS),
                       ("status", "status")]:
        read = shown.get(name, lambda i, name=name: getattr(i, name))
        left, right = read(survivor), read(absorbed)
        rows.append({"field": name, "label": capfirst(Identity._meta.get_field(name).verbose_name), "kind": kind,
                     "survivor": left or "—", "absorbed": right or "—", "differs": left != right})
    extra = [
        (gettext("Attributs"), lambda i: ", ".join(i.attributes) or "—"),
        (gettext("Matricule INS"), _ins_text),
        (gettext("Créée le"), lambda i: timezone.localtime(i.created_at).strftime("%d/%m/%Y %H:%M")),
        (gettext("Contrôles de pièces"), lambda i: str(i.document_checks.count())),
        (gettext("Événements"), lambda i: str(i.events.count())),
    ]
    for label, read in extra:
        left, right = read(survivor), read(absorbed)
        rows.append({"field": "", "label": label, "kind": "record", "survivor": left, "absorbed": right, "differs": left != right})
    return rows


def open_collisions() -> QuerySet[Collision]:
    return Collision.objects.filter(state__in=[Collision.State.SUSPECTED, Collision.State.CONFIRMED]).select_related(
        "identity", "flagged_by").order_by("flagged_at")


def events_of(identity: Identity) -> QuerySet:
    return identity.events.order_by("-at", "-id")[:200]


def checks_of(identity: Identity) -> QuerySet:
    return identity.document_checks.select_related("document_type").order_by("-checked_at")
