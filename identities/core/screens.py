"""Building blocks every capability's screens share: identity link and badges, form errors from services, a capped paginator, a read-only admin."""
from django import forms
from django.contrib import admin
from django.contrib.admin.options import ShowFacets
from django.contrib.admin.utils import quote
from django.core.paginator import Paginator
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from identities.core import traits
from identities.core.errors import ServiceError
from identities.core.models import Attribute, Identity


def status_badge(identity: Identity):
    return format_html(
        '<span class="ins-badge ins-status-{}" title="{}"><b>{}</b> {}</span>',
        identity.status.lower(), identity.get_status_display(), identity.status, identity.get_status_display(),
    )


def attribute_badges(identity: Identity):
    return format_html_join(
        " ", '<span class="ins-badge ins-attribute-{}" title="{}">{}</span>',
        ((code.lower(), Attribute(code).label, Attribute(code).label.split(" ")[-1]) for code in identity.attributes),
    )


def identity_link(identity: Identity | None):
    if identity is None:
        return "—"
    url = reverse("admin:identities_identity_change", args=[quote(identity.pk)])
    return format_html('<a href="{}">{}</a> {}', url, identity, status_badge(identity))


# Fields the services name besides the traits (traits.FIELD_LABELS), as the screens call them.
_SERVICE_FIELDS = {
    "attribute": _("Attribut"), "reason": _("Motif"), "decision": _("Décision"), "owner": _("Responsable"),
    "kind": _("File de travail"), "other": _("Autre identité"), "channel": _("Modalité de recueil"),
    "document_type": _("Pièce présentée"), "companion_type": _("Pièce complémentaire"), "expiry_date": _("Date d'expiration"),
}


def apply_service_error(form: forms.Form, error: ServiceError) -> None:
    """Show a service's refusal on the field it names, or above the form with the field's name."""
    if error.field in form.fields:
        form.add_error(error.field, error.message)
    elif error.field:
        label = traits.FIELD_LABELS.get(error.field) or _SERVICE_FIELDS.get(error.field) or error.field
        form.add_error(None, f"{label} : {error.message}")
    else:
        form.add_error(None, error.message)



class CappedCountPaginator(Paginator):
    """Counts at most CAP rows: a full COUNT(*) over a million identities on every page is what makes lists slow.

    Past the cap the list says "more than 10 000" and asks for a narrower search.
    """

    CAP = 10_000

    @cached_property
    def exact_or_capped(self) -> tuple[int, bool]:
        found = self.object_list.order_by()[: self.CAP + 1].count()
        return min(found, self.CAP), found > self.CAP

    @cached_property
    def count(self) -> int:
        return self.exact_or_capped[0]

    @property
    def is_capped(self) -> bool:
        return self.exact_or_capped[1]


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by the services only, shown for the record; lists never count the whole table."""

    show_full_result_count = False
    show_facets = ShowFacets.NEVER
    paginator = CappedCountPaginator

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
