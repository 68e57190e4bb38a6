"""The reads of printing: label formats offered and the profiles a user may print with."""
from __future__ import annotations

from django.db.models import Q, QuerySet

from identities.documents.models import LabelFormat, LabelProfile


def label_formats() -> QuerySet[LabelFormat]:
    return LabelFormat.objects.filter(active=True)


def label_profiles_for(user) -> QuerySet[LabelProfile]:
    """The user's own label profiles, then the shared ones."""
    return LabelProfile.objects.filter(Q(owner=user) | Q(owner__isnull=True)).select_related("label_format").order_by(
        "owner", "site", "name"
    )
