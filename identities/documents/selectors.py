"""The reads of printing: label formats offered, the profiles a user may print with, the label jobs a user may follow."""
from __future__ import annotations

from django.db.models import Q, QuerySet

from identities.documents.models import LabelFormat, LabelJob, LabelProfile


def label_formats() -> QuerySet[LabelFormat]:
    return LabelFormat.objects.filter(active=True)


def label_profiles_for(user) -> QuerySet[LabelProfile]:
    """The user's own label profiles, then the shared ones."""
    return LabelProfile.objects.filter(Q(owner=user) | Q(owner__isnull=True)).select_related("label_format").order_by(
        "owner", "site", "name"
    )


def label_jobs_for(user) -> QuerySet[LabelJob]:
    """The label jobs a user may follow and download: their own; every one for a holder of ``view_every_label_job``.

    Nobody without the right to print sees any: a job's PDF is a print. The PDF column is
    deferred (up to a few MiB a row) and read only for a download.
    """
    if not user.has_perm("identities.print_identity"):
        return LabelJob.objects.none()
    jobs = LabelJob.objects.select_related("requested_by", "label_format", "profile").defer("pdf")
    return jobs if user.has_perm("identities.view_every_label_job") else jobs.filter(requested_by=user)
