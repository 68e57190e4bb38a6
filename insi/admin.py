"""Read-only admin for the INSi exchange log, shown only to holders of the view permission; the raw bodies to the CIV only."""
from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connection
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from insi.models import Exchange

_ESTIMATE_ABOVE = 10_000
BODY_PERMISSION = "insi.view_exchange_body"


class _EstimatedCountPaginator(Paginator):
    """The unfiltered list uses PostgreSQL's row estimate: the log only grows and COUNT(*) would scan it."""

    @cached_property
    def count(self):
        query = self.object_list.query
        if connection.vendor == "postgresql" and not query.where:
            with connection.cursor() as cursor:
                cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [query.model._meta.db_table])
                row = cursor.fetchone()
            if row and row[0] > _ESTIMATE_ABOVE:
                return row[0]
        return super().count


@admin.register(Exchange)
class ExchangeAdmin(admin.ModelAdmin):
    list_display = ("started_at", "operation", "mode", "return_code", "duration_ms", "attempt", "caller", "identity_id")
    list_filter = ("operation", "mode", "started_at")
    search_fields = ("=identity_id", "=message_id", "=return_code", "username", "task_label")
    ordering = ("-started_at",)
    paginator = _EstimatedCountPaginator
    show_full_result_count = False
    list_select_related = False
    fields = (
        "operation", "mode", "user", "username", "task_label", "identity_id", "message_id", "attempt",
        "endpoint", "started_at", "duration_ms", "http_status", "return_code", "error",
        "request_text", "response_text", "bodies_purged_at",
    )
    readonly_fields = (*fields, "bodies_notice", "bodies_withheld")
    _BODIES = ("request_text", "response_text")

    def get_fields(self, request, obj=None):
        # The bodies hold the matricule and OID for any status: only the CIV reads them (docs/decisions.md).
        if request.user.has_perm(BODY_PERMISSION):
            return (*self.fields[:-3], "bodies_notice", *self.fields[-3:])
        return (*(name for name in self.fields if name not in self._BODIES), "bodies_withheld")

    @admin.display(description=_("messages bruts"))
    def bodies_notice(self, obj):
        return _("Réservés à la CIV : ils portent le matricule INS et l'OID quel que soit le statut de l'identité "
                 "(exception à la règle de diffusion, exigée par le RNIV pour la traçabilité). Ne pas les recopier.")

    @admin.display(description=_("messages bruts"))
    def bodies_withheld(self, obj):
        return _("Non affichés : réservés aux membres et référents de la CIV, car ils portent le matricule INS et l'OID "
                 "quel que soit le statut de l'identité.")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("appelant"))
    def caller(self, obj):
        return obj.username or obj.task_label

    @admin.display(description=_("requête envoyée"))
    def request_text(self, obj):
        return _as_text(obj.request_body)

    @admin.display(description=_("réponse reçue"))
    def response_text(self, obj):
        return _as_text(obj.response_body)


def _as_text(body):
    if body is None:
        return "—"
    return format_html("<pre style='white-space: pre-wrap'>{}</pre>", bytes(body).decode("utf-8", errors="replace"))
