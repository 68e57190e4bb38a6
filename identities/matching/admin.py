"""Matching's screens: the band thresholds (the CIV referent alone changes them) and the sweeps with their progress (the page refreshes itself while one runs)."""
from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from identities.core.screens import ReadOnlyAdmin
from identities.matching import pairs
from identities.matching.models import MatchingSettings, SweepPart, SweepRun


@admin.register(MatchingSettings)
class MatchingSettingsAdmin(admin.ModelAdmin):
    """One row (created by the migration): changing it needs the referent's permission, not only the model's."""

    list_display = ("__str__", "probable", "possible", "updated_at", "updated_by")
    fields = ("probable", "possible", "updated_at", "updated_by")
    readonly_fields = ("updated_at", "updated_by")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm("identities.change_matching_thresholds")

    def save_model(self, request, obj, form, change):
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)


class SweepPartInline(admin.TabularInline):
    model = SweepPart
    extra = 0
    can_delete = False
    fields = ("number", "state", "attempts", "started_at", "finished_at", "candidates", "proposed", "new")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SweepRun)
class SweepRunAdmin(ReadOnlyAdmin):
    """The CIV follows the nightly sweep here: parts done, pairs proposed and new."""

    list_display = ("__str__", "state", "started_at", "finished_at", "identities", "progress")
    fields = ("state", "started_at", "finished_at", "started_by", "identities", "progress")
    readonly_fields = fields
    inlines = [SweepPartInline]

    @admin.display(description=_("avancement"))
    def progress(self, run):
        state = pairs.sweep_progress(run)
        return format_html(
            '<progress max="{}" value="{}"></progress> {}', state.parts, state.done,
            gettext("%(done)s / %(parts)s parties (%(running)s en cours) — %(proposed)s paires proposées, %(new)s nouvelles") % {
                "done": state.done, "parts": state.parts, "running": state.running, "proposed": state.proposed, "new": state.new},
        )
