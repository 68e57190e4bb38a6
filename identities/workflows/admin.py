"""Admin of the INSi workflows: verification campaigns (configured by the CIV), runs and recoveries (read-only, linked to their pages)."""
from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from identities.core.errors import ServiceError
from identities.core.screens import ReadOnlyAdmin
from identities.workflows import campaign_text, campaigns
from identities.workflows import views as workflow_views
from identities.workflows.forms import CampaignForm
from identities.workflows.models import InsiRecovery, InsiRun, VerificationCampaign


def _run_link(run: InsiRun | None):
    if run is None:
        return "—"
    progress = campaigns.run_progress(run)
    return format_html('<a href="{}">{} — {} ({} %)</a>', reverse("admin:insi_run", args=[run.pk]),
                       run.created_at.strftime("%d/%m/%Y %H:%M"), run.get_state_display(), progress.percent)


@admin.action(description=_("Lancer maintenant (une exécution par campagne)"), permissions=["change"])
def start_now(modeladmin, request, queryset):
    """First says which identities each run will take and why; starts only once that is confirmed."""
    if "confirm" not in request.POST:
        previews = []
        for campaign in queryset:
            selection = campaigns.campaign_selection(campaign)
            previews.append({
                "campaign": campaign, "selection": selection, "reasons": campaigns.selection_reasons(campaign),
                "sample": list(selection.identities[:10]),
            })
        return TemplateResponse(request, "workflows/campaign_start_confirm.html", {
            **modeladmin.admin_site.each_context(request), "title": gettext("Lancer maintenant : ce que chaque exécution va vérifier"),
            "previews": previews, "opts": modeladmin.model._meta, "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        })
    for campaign in queryset:
        try:
            run = campaigns.campaign_start_run(actor=request.user, campaign_id=campaign.pk)
        except ServiceError as error:
            messages.error(request, f"{campaign} : {error.message}")
        else:
            messages.success(request, format_html(
                '{} : <a href="{}">{}</a>', campaign, reverse("admin:insi_run", args=[run.pk]), gettext("suivre l'exécution")
            ))


@admin.register(VerificationCampaign)
class VerificationCampaignAdmin(admin.ModelAdmin):
    form = CampaignForm
    list_display = ("name", "active", "in_french", "last_run")
    list_filter = ("active", "nature")
    search_fields = ("name",)
    actions = [start_now]
    readonly_fields = ("in_french", "scheduling", "runs")
    fieldsets = (
        (None, {"fields": ("name", "description", "active", "in_french")}),
        (_("Périmètre"), {"fields": ("statuses", "nature", "last_verified_before", "not_verified_for_days", "worklist_kind", "cycle_days")}),
        (_("Fréquence et cadence"), {"fields": ("schedule", "scheduling", "calls_per_second", "email_alerts")}),
        (_("Exécutions"), {"fields": ("runs",)}),
    )

    @admin.display(description=_("en clair"))
    def in_french(self, campaign):
        if campaign.pk is None:
            return "—"
        return campaign_text.campaign_in_french(campaign, per_run=campaigns.campaign_selection(campaign).taken)

    @admin.display(description=_("dernière exécution"))
    def last_run(self, campaign):
        return _run_link(campaign.runs.order_by("-created_at").first())

    @admin.display(description=_("planification (django-celery-beat)"))
    def scheduling(self, campaign):
        task = campaign.periodic_task
        if task is None:
            return gettext("Aucune : lancement manuel (action « Lancer maintenant »).")
        state = gettext("active") if task.enabled else gettext("suspendue")
        last = task.last_run_at.strftime("%d/%m/%Y %H:%M") if task.last_run_at else "—"
        return gettext("Tâche « %(name)s » %(state)s ; dernier déclenchement : %(last)s") % {"name": task.name, "state": state, "last": last}

    @admin.display(description=_("exécutions"))
    def runs(self, campaign):
        runs = campaign.runs.order_by("-created_at")[:10] if campaign.pk else []
        return format_html_join("", "<div>{}</div>", ((_run_link(run),) for run in runs)) or "—"

    def save_model(self, request, obj, form, change):
        try:
            campaigns.campaign_save(actor=request.user, campaign=obj)
        except ServiceError as error:
            messages.error(request, error.message)

    def has_delete_permission(self, request, obj=None):
        # A campaign's runs and their outcomes are the trace of its verifications: deactivate it instead.
        return False


@admin.register(InsiRun)
class InsiRunAdmin(ReadOnlyAdmin):
    change_list_template = "admin/identities/insirun/change_list.html"
    list_display = ("label", "kind", "state", "total", "follow", "created_at", "started_by")
    list_filter = ("kind", "state")
    ordering = ("-created_at",)

    def get_queryset(self, request):
        qs = super().get_queryset(request).select_related("started_by", "campaign")
        return qs if workflow_views.may_see_every_run(request.user) else qs.filter(started_by=request.user)

    @admin.display(description=_("avancement"))
    def follow(self, run):
        return format_html('<a href="{}">{} %</a>', reverse("admin:insi_run", args=[run.pk]), campaigns.run_progress(run).percent)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return HttpResponseRedirect(reverse("admin:insi_run", args=[object_id]))

    def changelist_view(self, request, extra_context=None):
        user = request.user
        return super().changelist_view(request, extra_context={
            "can_batch": user.has_perm("identities.use_insi"), "can_import": user.has_perm("identities.import_identities_csv"),
            **(extra_context or {}),
        })


@admin.register(InsiRecovery)
class InsiRecoveryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "identity", "method", "code", "state", "similarity", "requested_by")
    list_filter = ("state", "method", "code")
    list_select_related = ("identity", "requested_by")
    ordering = ("-created_at",)
    show_full_result_count = False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return HttpResponseRedirect(reverse("admin:insi_recovery", args=[object_id]))


@admin.action(description=_("Récupérer l'INS de la sélection (INSi, en lot)"))
def recover_selected(modeladmin, request, queryset):
    """For IdentityAdmin.actions: a recovery batch over the selected identities, then its progress page."""
    if not request.user.has_perm("identities.use_insi"):
        messages.error(request, gettext("Refusé : vous n'avez pas le droit d'utiliser le téléservice INSi."))
        return None
    # One more than the bound is enough for the batch to refuse a selection of the whole base.
    bound = settings.INSI_RECOVERY_BATCH_MAX
    return workflow_views.start_batch(request, list(queryset.order_by("pk").values_list("pk", flat=True)[:bound + 1]))
