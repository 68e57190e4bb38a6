"""The admin screens: identities (search first, then create), worklists, reference tables and audit logs.

Display and navigation only: every change goes through a service, which owns the rules.
"""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.contrib.admin.options import ShowFacets
from django.contrib.admin.utils import quote
from django.contrib.admin.views.main import ORDER_VAR, ChangeList
from django.db.models import F, OuterRef, Subquery
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.timesince import timesince
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin
from simple_history.template_utils import HistoricalRecordContextHelper

from identities.core import birthplaces, matricule, selectors, services, traits, worklists
from identities.core import ipp as ipps
from identities.core.diffusion import shareable_ins
from identities.core.errors import ServiceError
from identities.core.models import (
    STRICT_TRAIT_FIELDS,
    Attribute,
    Birthplace,
    DocumentCheck,
    DocumentType,
    Identity,
    IdentityEvent,
    IdentityLink,
    InsMatricule,
    Status,
    WorklistItem,
)
from identities.core.screens import CappedCountPaginator, ReadOnlyAdmin, attribute_badges, identity_link, status_badge
from identities.documents.admin import print_labels
from identities.matching import admin as matching_admin  # noqa: F401  (registers the thresholds and sweep screens)
from identities.matching import desk as matching_desk
from identities.matching import pairs as matching_pairs
from identities.matching.explain import french_number
from identities.merge import services as merge_services
from identities.portal import views
from identities.portal.forms import (
    AnteriorityForm,
    IdentityForm,
    WorklistAssignForm,
    WorklistDecisionForm,
    field_label,
    locked_change_consequences,
)
from identities.workflows.admin import recover_selected  # also registers the INSi workflow admins

# --- Identity list filters (each one on an indexed column) ---

class AttributeFilter(admin.SimpleListFilter):
    title = _("attribut")
    parameter_name = "attribut"
    _FIELDS = {Attribute.DOUT: "doubtful", Attribute.FICT: "fictitious", Attribute.HOMA: "homonym"}

    def lookups(self, request, model_admin):
        return [*Attribute.choices, ("aucun", _("Aucun attribut"))]

    def queryset(self, request, queryset):
        if self.value() in self._FIELDS:
            return queryset.filter(**{self._FIELDS[self.value()]: True})
        if self.value() == "aucun":
            return queryset.filter(doubtful=False, fictitious=False, homonym=False)
        return queryset


class NatureFilter(admin.SimpleListFilter):
    """NIR or NIA: only qualified identities, since the nature is shown through the diffusion gate only."""

    title = _("nature du matricule INS (identités qualifiées)")
    parameter_name = "nature"

    def lookups(self, request, model_admin):
        return [(nature.value, nature.value) for nature in matricule.Nature]

    def queryset(self, request, queryset):
        if self.value() in matricule.Nature.__members__:
            oids = [oid for oid, info in matricule.OIDS.items() if info.nature == self.value()]
            return queryset.filter(status=Status.QUAL, ins_oid__in=oids)
        return queryset


# The national framework asks for a review every 3 to 5 years; the facility sets its own period.
REVERIFICATION_DAYS = getattr(settings, "INSI_REVERIFICATION_DAYS", 3 * 365)


class VerificationFilter(admin.SimpleListFilter):
    title = _("vérification INSi")
    parameter_name = "verification"

    def lookups(self, request, model_admin):
        years = round(REVERIFICATION_DAYS / 365)
        return [
            ("jamais", _("Jamais vérifiée")),
            ("recente", _("Vérifiée depuis moins de %(years)s ans") % {"years": years}),
            ("a-refaire", _("À revérifier (plus de %(years)s ans)") % {"years": years}),
        ]

    def queryset(self, request, queryset):
        limit = timezone.now() - timedelta(days=REVERIFICATION_DAYS)
        if self.value() == "jamais":
            return queryset.filter(last_verified_at__isnull=True)
        if self.value() == "recente":
            return queryset.filter(last_verified_at__gte=limit)
        if self.value() == "a-refaire":
            return queryset.filter(last_verified_at__lt=limit)
        return queryset


class IdentityChangeList(ChangeList):
    """The anteriority search's own fields (nom, prenom, naissance, ipp) are not lookups on the model."""

    def get_filters_params(self, params=None):
        lookup_params = super().get_filters_params(params)
        for name in AnteriorityForm.PARAMS:
            lookup_params.pop(name, None)
        return lookup_params


class _Refused(Exception):
    """A service said no while saving the form: the form is shown again with its reason."""

    def __init__(self, *, error: ServiceError | None = None, candidates=()):
        self.error = error
        self.candidates = tuple(candidates)


class _IdentityHistoryHelper(HistoricalRecordContextHelper):
    """History entries as the identity page shows them: field labels, « Oui »/« Non », status and sex labels,
    the commune name beside its code, dates in local time; the INS masked (the diffusion gate rules screens too)."""

    MASKED = {"ins_matricule", "ins_oid"}
    HIDDEN = {"version", "updated_by"}

    def context_for_delta_changes(self, delta):
        shown = [change for change in delta.changes if change.field not in self.HIDDEN]
        return super().context_for_delta_changes(dataclasses.replace(delta, changes=shown))

    def prepare_delta_change_value(self, change, value):
        if change.field in self.MASKED:
            return gettext("(renseigné, non affiché)") if value else "—"
        return history_value(Identity._meta.get_field(change.field), value)


def history_value(field, value) -> str:
    """One stored value as the screens show it."""
    if value is None or value == "":
        return "—"
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return gettext("Oui") if value else gettext("Non")
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%d/%m/%Y %H:%M")
    if field.name == "birth_date":
        return traits.parse_birth_date(value).french()
    if field.name == "birthplace_code":
        names = selectors.birthplace_names([value])
        return f"{value} {names[value]}" if value in names else value
    if field.is_relation and field.related_model is not None:
        related = field.related_model._default_manager.filter(pk=value).first()
        return str(related) if related else str(value)
    return str(value)


class DocumentCheckInline(admin.TabularInline):
    model = DocumentCheck
    extra = 0
    can_delete = False
    fields = ("document_type", "companion_type", "derogation", "expiry_date", "validates", "checked_at", "checked_by", "withdrawal",
              "withdraw_action")
    readonly_fields = fields
    verbose_name_plural = _("Contrôles de pièces d'identité")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_fields(self, request, obj=None):
        # The « Retirer » button only for the roles that may withdraw a check.
        if request.user.has_perm("identities.withdraw_document_check"):
            return self.fields
        return tuple(name for name in self.fields if name != "withdraw_action")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("document_type", "companion_type", "checked_by", "withdrawn_by")

    @admin.display(description=_("retrait"))
    def withdrawal(self, check: DocumentCheck):
        if not check.withdrawn_at:
            return "—"
        return format_html(
            "{} ({}) : {}", timezone.localtime(check.withdrawn_at).strftime("%d/%m/%Y"), check.withdrawn_by, check.withdrawal_reason
        )

    @admin.display(description="")
    def withdraw_action(self, check: DocumentCheck):
        if check.withdrawn_at:
            return ""
        url = reverse("admin:identities_identity_action", args=[quote(check.identity_id), f"retrait/{check.pk}"])
        return format_html('<a class="button" href="{}">{}</a>', url, gettext("Retirer"))


@admin.register(Identity)
class IdentityAdmin(SimpleHistoryAdmin):
    form = IdentityForm
    change_list_template = "admin/identities/identity/change_list.html"
    change_form_template = "admin/identities/identity/change_form.html"
    object_history_list_template = "admin/identities/identity/history_list.html"
    # What tells homonyms apart at a glance, narrow enough for 1280 px beside the filters.
    list_display = (
        "birth_name_column", "first_given_name_column", "birth_date_column", "birthplace_column", "ipp_column",
        "status_column", "attributes_column", "nature_column",
    )
    list_display_links = ("birth_name_column",)
    sortable_by = ("birth_name_column", "birth_date_column")
    list_filter = ("status", AttributeFilter, "channel", NatureFilter, VerificationFilter, "is_active")
    list_per_page = 50
    show_full_result_count = False
    show_facets = ShowFacets.NEVER
    paginator = CappedCountPaginator
    actions = [print_labels, recover_selected]
    # Each changelist action is offered only to the roles whose permission it then asks for.
    _ACTION_PERMISSIONS = {"print_labels": "identities.print_identity", "recover_selected": "identities.use_insi"}
    inlines = [DocumentCheckInline]

    # --- List ---

    @admin.display(description=_("nom de naissance (nom utilisé)"), ordering="birth_name_key")
    def birth_name_column(self, identity):
        if identity.used_name and identity.used_name != identity.birth_name:
            return format_html('{} <small class="ins-used-name">({})</small>', identity.birth_name, identity.used_name)
        return identity.birth_name

    @admin.display(description=_("premier prénom"))
    def first_given_name_column(self, identity):
        return identity.first_birth_given_name

    @admin.display(description=_("naissance, sexe"), ordering="birth_date")
    def birth_date_column(self, identity):
        return format_html('{} <abbr title="{}">{}</abbr>', identity.birth_date_display, identity.get_sex_display(), identity.sex)

    @admin.display(description=_("lieu de naissance"))
    def birthplace_column(self, identity):
        if not identity.birthplace_code:
            return "—"
        name = getattr(identity, "birthplace_name", None)
        return format_html('{} <small class="ins-code">{}</small>', name or "?", identity.birthplace_code)

    @admin.display(description=_("IPP"))
    def ipp_column(self, identity):
        return format_html('<span class="ins-ipp">{}</span>', identity.ipp)

    @admin.display(description=_("statut"))
    def status_column(self, identity):
        return status_badge(identity)

    @admin.display(description=_("attributs"))
    def attributes_column(self, identity):
        return attribute_badges(identity)

    @admin.display(description=_("nature INS"))
    def nature_column(self, identity):
        shared = shareable_ins(identity)
        return shared.nature if shared else ""

    def get_changelist(self, request, **kwargs):
        return IdentityChangeList

    def get_queryset(self, request):
        # The commune name of each row, read for the page's rows only (a correlated subquery after LIMIT).
        names = Birthplace.objects.filter(code=OuterRef("birthplace_code")).values("name")[:1]
        return super().get_queryset(request).annotate(birthplace_name=Subquery(names))

    def get_search_results(self, request, queryset, search_term):
        terms = AnteriorityForm.terms(request.GET)
        if not any(terms.values()):
            return queryset, False
        if terms["ipp"]:
            try:
                queryset = queryset.filter(ipp=ipps.normalise(terms["ipp"]))
            except ServiceError as error:
                messages.error(request, error.message)
                return queryset.none(), False
            if not any(terms[name] for name in AnteriorityForm.TRAIT_PARAMS):
                return queryset, False
        try:
            found = matching_desk.ranked_search(
                queryset, selectors.anteriority_queryset(
                    name=terms["nom"], given_name=terms["prenom"], birth_date=terms["naissance"], within=queryset
                ),
                name=terms["nom"], given_name=terms["prenom"], birth_date=terms["naissance"],
            )
        except traits.TraitError as error:
            messages.error(request, f"{traits.FIELD_LABELS[error.field]} : {error.message}")
            return queryset.none(), False
        if ORDER_VAR in request.GET:
            # A column header was clicked: its order wins over the search's ranking.
            found = found.order_by(*queryset.query.order_by)
        return found, False

    def changelist_view(self, request, extra_context=None):
        search = AnteriorityForm(request.GET)
        terms = AnteriorityForm.terms(request.GET)
        searched = any(terms.values())
        by_traits = any(terms[name] for name in AnteriorityForm.TRAIT_PARAMS)
        create_url = None
        if by_traits and self.has_add_permission(request):
            initial = {"birth_name": terms["nom"], "birth_given_names": terms["prenom"], "birth_date": terms["naissance"]}
            create_url = reverse("admin:identities_identity_add") + "?" + urlencode({**initial, "_recherche": "1"})
        merged_hits = []
        if by_traits:
            try:
                merged_hits = list(selectors.anteriority_queryset(
                    name=terms["nom"], given_name=terms["prenom"], birth_date=terms["naissance"], merged=True,
                ).select_related("merged_into")[:10])
            except traits.TraitError:
                pass  # the list's own search reports the unreadable date
        context = {
            "title": gettext("Identités : recherche d'antériorité"),
            "search_form": search, "searched": searched, "create_url": create_url, "merged_hits": merged_hits,
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context=context)

    # --- Form ---

    _TRAITS = ((_("Traits stricts"), [
        "birth_name", ("birth_given_names", "first_birth_given_name"), ("birth_date", "birth_date_corrected"), "sex",
        ("birthplace_code", "birthplace_label"),
    ]), (_("Traits complémentaires"), ["used_name", "used_given_name"]))
    _COMPUTED = (
        "ipp", "birthplace_label", "ins_display", "matricule_history", "recent_events",
        "validated_at", "last_verified_at", "last_insi_call_at", "created_at", "created_by", "updated_at", "updated_by",
    )

    def _may_change_locked(self, request, obj) -> bool:
        return bool(obj and obj.is_locked and request.user.has_perm("identities.modify_locked_traits"))

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [
                (title, {"fields": fields}) for title, fields in self._TRAITS
            ] + [(_("Recueil"), {"fields": ["channel"]})]
        can_change = self.has_change_permission(request, obj)
        strict = {"fields": [*(["expected_version"] if can_change else []), *self._TRAITS[0][1]]}
        if obj.is_locked:
            strict["description"] = (
                gettext("Traits verrouillés : l'identité est « %(status)s ». Seul un utilisateur habilité (référent CIV) peut les modifier.")
                % {"status": obj.get_status_display()}
            )
        fieldsets = [
            (self._TRAITS[0][0], strict),
            (self._TRAITS[1][0], {"fields": self._TRAITS[1][1]}),
            (_("INS"), {"fields": ["ins_display", "matricule_history"]}),
            (_("Recueil et vérifications"), {"fields": [("ipp", "channel"), ("validated_at", "last_verified_at", "last_insi_call_at")]}),
        ]
        if can_change and self._may_change_locked(request, obj):
            fieldsets.append((_("Modification d'un trait verrouillé"), {
                "fields": ["reason", "confirm_locked_change"],
                "description": locked_change_consequences(obj, list(STRICT_TRAIT_FIELDS)),
                "classes": ["ins-locked-change"],
            }))
        fieldsets.append((_("Historique"), {"fields": ["recent_events", ("created_at", "created_by"), ("updated_at", "updated_by")]}))
        return fieldsets

    def get_inlines(self, request, obj):
        # A new identity has no document check yet: they are recorded on the identity page.
        return self.inlines if obj is not None else []

    def get_readonly_fields(self, request, obj=None):
        readonly = list(self._COMPUTED)
        if obj is not None:
            readonly.append("channel")
            if obj.is_locked and not request.user.has_perm("identities.modify_locked_traits"):
                readonly += STRICT_TRAIT_FIELDS
        return readonly

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        refusal = getattr(request, "_identity_refusal", None)
        return type(form.__name__, (form,), {
            "service_error": refusal.error if refusal else None,
            "candidates": refusal.candidates if refusal else (),
            "shown_fields": frozenset(kwargs.get("fields") or ()),
        })

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        initial.pop("_recherche", None)
        return initial

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if object_id is None and request.method == "GET" and "_recherche" not in request.GET and "_popup" not in request.GET:
            messages.info(request, gettext(
                "Recherchez d'abord la personne (nom, prénom, date de naissance) : le bouton de création apparaît sous les résultats."
            ))
            return HttpResponseRedirect(reverse("admin:identities_identity_changelist"))
        if object_id is None:
            extra_context = {"title": gettext("Nouvelle identité"), **(extra_context or {})}
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except _Refused as refusal:
            # Everything of the refused save was rolled back; show the form again with the reason.
            request._identity_refusal = refusal
            return super().changeform_view(request, object_id, form_url, extra_context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        refusal = getattr(request, "_identity_refusal", None)
        context["candidates"] = refusal.candidates if refusal else ()
        if obj is not None:
            context["offers"] = views.offered_actions(obj, request.user)
            context["status_badge"], context["attribute_badges"] = status_badge(obj), attribute_badges(obj)
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    def save_form(self, request, form, change):
        try:
            if change:
                outcome = services.identity_update_traits(
                    actor=request.user, identity_id=form.instance.pk, expected_version=form.cleaned_data.get("expected_version"),
                    reason=form.cleaned_data.get("reason") or "", **form.service_values(),
                )
                if outcome.ins_invalidated:
                    messages.warning(request, gettext(
                        "INS et OID invalidés ; statut passé de « %(source)s » à « %(target)s »."
                    ) % {"source": Status(outcome.from_status).label, "target": outcome.identity.get_status_display()})
                if outcome.changed:
                    self._check_pairs(request, outcome.identity)
                return outcome.identity
            outcome = services.identity_create(
                actor=request.user, channel=form.cleaned_data["channel"], acknowledged_candidates=form.cleaned_data["acknowledged"],
                find_candidates=matching_desk.creation_candidates, **form.service_values(),
            )
        except ServiceError as error:
            raise _Refused(error=error) from error
        if outcome.identity is None:
            raise _Refused(candidates=outcome.candidates)
        worklists.worklists_sync(actor=request.user, identity_id=outcome.identity.pk)
        self._check_pairs(request, outcome.identity)
        return outcome.identity

    def _check_pairs(self, request, identity):
        """The identity just saved, checked against the base at once: what the engine found goes to the CIV."""
        pairs = matching_pairs.worklist_detect_pairs(actor=request.user, identity_id=identity.pk)
        if pairs:
            messages.info(request, gettext("%(count)d homonyme(s) ou doublon(s) potentiel(s) signalé(s) à la CIV.") % {"count": pairs})

    def save_model(self, request, obj, form, change):
        """Saved by the service in save_form."""

    def save_related(self, request, form, formsets, change):
        """Document checks are recorded by their own action, never through the inline."""

    def construct_change_message(self, request, form, formsets, add=False):
        return super().construct_change_message(request, form, [], add)

    def has_change_permission(self, request, obj=None):
        # A merged identity stays for the record and never changes again (the core's services refuse it too).
        return super().has_change_permission(request, obj) and not (obj is not None and obj.is_merged)

    def get_actions(self, request):
        actions = super().get_actions(request)
        return {name: action for name, action in actions.items()
                if name not in self._ACTION_PERMISSIONS or request.user.has_perm(self._ACTION_PERMISSIONS[name])}

    def has_delete_permission(self, request, obj=None):
        # An identity is deactivated by a merge, never deleted: its audit trail must stay.
        return False

    # --- Read-only fields of the change form ---

    @admin.display(description=_("commune ou pays"))
    def birthplace_label(self, identity):
        place = Birthplace.objects.filter(code=identity.birthplace_code).first() if identity.birthplace_code else None
        return birthplaces.place_label(place) if place else "—"

    @admin.display(description=_("matricule INS"))
    def ins_display(self, identity):
        shared = shareable_ins(identity)
        if shared:
            return format_html(
                '<strong class="ins-matricule">{}</strong> — {}<br><small>OID {} ({})</small>',
                matricule.display(shared.matricule), shared.nature, shared.oid, shared.label,
            )
        if identity.ins_matricule:
            return gettext("Matricule INS enregistré, non diffusable : l'identité n'est pas qualifiée.")
        invalidation = selectors.last_ins_invalidation(identity)
        if invalidation is not None:
            return format_html(
                '<span class="ins-invalidated">{}</span>',
                gettext("INS invalidé le %(when)s par %(who)s : %(why)s. Une nouvelle récupération INSi est possible.") % {
                    "when": timezone.localtime(invalidation.at).strftime("%d/%m/%Y à %H:%M"),
                    "who": invalidation.actor_name or gettext("le système"), "why": invalidation.reason or "—",
                },
            )
        return gettext("Aucun matricule INS (l'INS n'a pas été récupéré auprès d'INSi).")

    @admin.display(description=_("historique des matricules"))
    def matricule_history(self, identity):
        rows = InsMatricule.objects.filter(identity=identity).order_by("-recorded_at")
        if not rows:
            return "—"
        shown = shareable_ins(identity) is not None
        return format_html(
            '<table class="ins-history"><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>{}</table>',
            gettext("matricule"), gettext("état"), gettext("origine"), gettext("enregistré le"), gettext("invalidation"),
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", (
                (
                    f"{matricule.display(row.matricule)} ({row.nature})" if shown else gettext("non diffusable"),
                    gettext("Invalidé") if row.invalidated_at else row.get_kind_display(),
                    row.get_source_display(), timezone.localtime(row.recorded_at).strftime("%d/%m/%Y"),
                    f"{timezone.localtime(row.invalidated_at):%d/%m/%Y %H:%M} : {row.invalidation_reason}" if row.invalidated_at else "—",
                )
                for row in rows
            )),
        )

    @admin.display(description=_("derniers événements"))
    def recent_events(self, identity):
        events = IdentityEvent.objects.filter(identity=identity).order_by("-at", "-id")[:10]
        if not events:
            return "—"
        history_url = reverse("admin:identities_identity_history", args=[quote(identity.pk)])
        return format_html(
            '<table class="ins-events">{}</table><a href="{}">{}</a>',
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", (
                (
                    timezone.localtime(event.at).strftime("%d/%m/%Y %H:%M"), event.get_kind_display(), event.actor_name,
                    f"{Status(event.from_status).label} → {Status(event.to_status).label}" if event.from_status and event.to_status else "",
                    event.reason,
                )
                for event in events
            )),
            history_url, gettext("Historique complet des modifications"),
        )

    # --- Actions and history ---

    def get_urls(self):
        return [
            path("<path:object_id>/action/<path:action>/", self.admin_site.admin_view(self.action_view), name="identities_identity_action"),
            *super().get_urls(),
        ]

    def action_view(self, request, object_id, action):
        return views.identity_action(request, self, object_id, action)

    def get_historical_record_context_helper(self, request, historical_record):
        return _IdentityHistoryHelper(self.model, historical_record)

    def history_view_title(self, request, obj):
        return gettext("Historique des modifications : %(identity)s") % {"identity": obj}

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        # One version shown as a form would invite a revert, which would bypass the state machine.
        return HttpResponseRedirect(reverse("admin:identities_identity_history", args=[quote(object_id)]))


# --- Worklists ---

class StateFilter(admin.SimpleListFilter):
    """Open items unless asked otherwise: a queue is what remains to do."""

    title = _("état")
    parameter_name = "etat"

    def lookups(self, request, model_admin):
        return [("traites", _("Traités")), ("tous", _("Tous"))]

    def choices(self, changelist):
        yield {"selected": self.value() is None, "query_string": changelist.get_query_string(remove=[self.parameter_name]),
               "display": gettext("À traiter")}
        for value, label in self.lookup_choices:
            yield {"selected": self.value() == value, "query_string": changelist.get_query_string({self.parameter_name: value}),
                   "display": label}

    def queryset(self, request, queryset):
        if self.value() == "traites":
            return queryset.filter(state=WorklistItem.State.DONE)
        if self.value() == "tous":
            return queryset
        return queryset.filter(state=WorklistItem.State.OPEN)


class OwnerFilter(admin.SimpleListFilter):
    title = _("responsable")
    parameter_name = "responsable"

    def lookups(self, request, model_admin):
        members = [(str(user.pk), user.get_full_name() or user.get_username()) for user in worklists.worklist_civ_members()]
        return [("moi", _("Mes éléments")), ("personne", _("Non attribués")), *members]

    def queryset(self, request, queryset):
        if self.value() == "moi":
            return queryset.filter(owner=request.user)
        if self.value() == "personne":
            return queryset.filter(owner__isnull=True)
        if self.value() and self.value().isdigit():
            return queryset.filter(owner_id=int(self.value()))
        return queryset


class AgeFilter(admin.SimpleListFilter):
    """The same age bands as the queue counts of the home page and the dashboard."""

    title = _("âge")
    parameter_name = "age"

    def lookups(self, request, model_admin):
        return [(band, label) for band, (label, _older, _younger) in worklists.AGE_BANDS.items()]

    def queryset(self, request, queryset):
        if self.value() in worklists.AGE_BANDS:
            return queryset.filter(worklists.age_band_filter(self.value()))
        return queryset


class WorklistActionForm(ActionForm):
    """The list's action bar, with the CIV member the selected items are given to."""

    owner = forms.ModelChoiceField(label=_("à"), queryset=None, required=False, empty_label=_("— responsable —"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = worklists.worklist_civ_members()


# Short words for the decision buttons of a list row (the item's page gives the full wording).
_DECISION_BUTTONS = {
    WorklistItem.Decision.CONFIRMED: _("Confirmer"),
    WorklistItem.Decision.DISMISSED: _("Écarter"),
    WorklistItem.Decision.HANDLED: _("Marquer traité"),
}


@admin.register(WorklistItem)
class WorklistItemAdmin(admin.ModelAdmin):
    change_list_template = "admin/identities/worklistitem/change_list.html"
    change_form_template = "admin/identities/worklistitem/change_form.html"
    list_display = ("kind", "score_column", "identity_column", "other_column", "reason", "owner", "age_column", "decision_column")
    list_filter = ("kind", StateFilter, OwnerFilter, AgeFilter)
    action_form = WorklistActionForm
    list_select_related = ("identity", "other", "owner", "decided_by", "match")
    sortable_by = ("kind", "score_column", "age_column")
    list_per_page = 50
    show_full_result_count = False
    show_facets = ShowFacets.NEVER
    paginator = CappedCountPaginator
    actions = ["claim", "assign_selected", "merge_confirmed"]
    count_nouns = (_("élément"), _("éléments"))
    fields = ("kind", "identity_column", "other_column", "reason", "owner", "opened_at", "created_by", "state",
              "decision", "decision_note", "decided_by", "decided_at")
    readonly_fields = fields

    def get_queryset(self, request):
        return worklists.worklist_items_visible_to(request.user)

    def get_ordering(self, request):
        # The pair queues are worked best score first (certain duplicates on top); items without a score by age.
        return [F("match__score").desc(nulls_last=True), "opened_at", "id"]

    @admin.display(description=_("score"), ordering="match__score")
    def score_column(self, item):
        match = getattr(item, "match", None) if item.other_id else None
        if match is None:
            return ""
        return format_html('<span class="ins-score ins-band-{}" title="{}">{}</span>', match.band or "homonym",
                           match.get_band_display() if match.band else match.get_kind_display(), french_number(match.score))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # Decisions go through their own forms (and services), never through a raw edit.
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_manage_permission(self, request):
        return request.user.has_perm("identities.manage_worklists")

    @admin.display(description=_("identité"))
    def identity_column(self, item):
        return identity_link(item.identity)

    @admin.display(description=_("autre identité"))
    def other_column(self, item):
        return identity_link(item.other) if item.other_id else ""

    @admin.display(description=_("âge"), ordering="opened_at")
    def age_column(self, item):
        return timesince(item.opened_at)

    @admin.display(description=_("décision"))
    def decision_column(self, item):
        if item.state == WorklistItem.State.OPEN:
            return gettext("À traiter")
        return format_html("{} ({}, {})", item.get_decision_display(), item.decided_by or "—",
                           timezone.localtime(item.decided_at).strftime("%d/%m/%Y") if item.decided_at else "")

    @admin.action(description=_("Prendre en charge les éléments sélectionnés"), permissions=["manage"])
    def claim(self, request, queryset):
        try:
            count = worklists.worklist_claim(actor=request.user, item_ids=queryset.values_list("pk", flat=True))
        except ServiceError as error:
            self.message_user(request, error.message, messages.ERROR)
        else:
            self.message_user(request, gettext("%(count)d élément(s) pris en charge.") % {"count": count})

    @admin.action(description=_("Attribuer les éléments sélectionnés au responsable choisi"), permissions=["manage"])
    def assign_selected(self, request, queryset):
        owner_id = request.POST.get("owner") or None
        try:
            count = worklists.worklist_assign_many(
                actor=request.user, item_ids=queryset.values_list("pk", flat=True), owner_id=int(owner_id) if owner_id else None)
        except (ServiceError, ValueError) as error:
            self.message_user(request, getattr(error, "message", gettext("responsable illisible")), messages.ERROR)
        else:
            self.message_user(request, gettext("%(count)d élément(s) attribué(s).") % {"count": count})

    def get_list_display(self, request):
        if not self.has_manage_permission(request):
            return self.list_display
        return (*self.list_display, self._row_actions(request))

    def _row_actions(self, request):
        """The buttons of one row: open (or compare the pair), take it, decide. They submit the list's own form
        to the item's assign or decision URL (formaction), so the list stays one form and works without JavaScript."""
        back = urlencode({"next": request.get_full_path()})

        @admin.display(description=_("agir"))
        def actions_column(item):
            page = reverse("admin:identities_worklistitem_change", args=[quote(item.pk)])
            links = [format_html('<a class="button" href="{}">{}</a>', page,
                                 gettext("Comparer la paire") if item.other_id else gettext("Ouvrir"))]
            if item.state == WorklistItem.State.OPEN:
                if item.owner_id != request.user.pk:
                    url = reverse("admin:identities_worklistitem_assign", args=[quote(item.pk)]) + "?" + back
                    links.append(format_html('<button type="submit" class="button" name="claim" value="1" formaction="{}">{}</button>',
                                             url, gettext("Prendre")))
                url = reverse("admin:identities_worklistitem_decide", args=[quote(item.pk)]) + "?" + back
                for decision, long_label in worklists.decisions_for(item.kind):
                    links.append(format_html(
                        '<button type="submit" class="button" name="decision" value="{}" formaction="{}" title="{}">{}</button>',
                        decision, url, long_label, _DECISION_BUTTONS.get(decision, long_label)))
            return format_html('<span class="ins-row-actions">{}</span>', format_html_join(" ", "{}", ((link,) for link in links)))

        return actions_column

    def has_merge_permission(self, request):
        return request.user.has_perm("identities.merge_identities")

    @admin.action(description=_("Fusionner les doublons avérés sélectionnés"), permissions=["merge"])
    def merge_confirmed(self, request, queryset):
        pairs = list(queryset.filter(kind=WorklistItem.Kind.DUPLICATE, decision=WorklistItem.Decision.CONFIRMED)
                     .values_list("identity_id", "other_id"))
        done, refused = merge_services.merge_proven_pairs(actor=request.user, pairs=pairs)
        self.message_user(request, gettext("%(count)d fusion(s) faite(s) ou proposée(s).") % {"count": len(done)})
        for first_id, second_id, why in refused[:20]:
            self.message_user(request, f"{first_id} / {second_id} : {why}", messages.ERROR)
        skipped = queryset.count() - len(pairs)
        if skipped:
            self.message_user(request, gettext("%(count)d élément(s) ignoré(s) : seuls les doublons avérés se fusionnent.")
                              % {"count": skipped}, messages.WARNING)

    def changelist_view(self, request, extra_context=None):
        context = {
            "title": gettext("Files de travail de la CIV"),
            "queues": worklists.worklist_queue_sizes(user=request.user),
            "can_manage": self.has_manage_permission(request),
            "sweep": matching_pairs.latest_sweep_progress() if self.has_manage_permission(request) else None,
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context=context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        item = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if item is not None:
            context["title"] = f"{item.get_kind_display()} — {item.get_state_display()}"
            context["item"] = item
            context["comparison"] = _comparison(item.identity, item.other) if item.other_id else None
            context["match"] = getattr(item, "match", None) if item.other_id else None
            if item.state == WorklistItem.State.OPEN and self.has_manage_permission(request):
                context["decision_form"] = WorklistDecisionForm(item=item)
                context["assign_form"] = WorklistAssignForm(initial={"owner": item.owner_id})
        return super().change_view(request, object_id, form_url, extra_context=context)

    def get_urls(self):
        site = self.admin_site
        return [
            path("actualiser/", site.admin_view(self.refresh_view), name="identities_worklistitem_refresh"),
            path("<path:object_id>/decision/", site.admin_view(self.decide_view), name="identities_worklistitem_decide"),
            path("<path:object_id>/responsable/", site.admin_view(self.assign_view), name="identities_worklistitem_assign"),
            *super().get_urls(),
        ]

    def refresh_view(self, request):
        return views.worklist_refresh(request, self)

    def decide_view(self, request, object_id):
        return views.worklist_decide(request, self, object_id)

    def assign_view(self, request, object_id):
        return views.worklist_assign(request, self, object_id)


def _comparison(first: Identity, second: Identity) -> list[dict]:
    """The two records of a pair side by side, differences marked (what the CIV compares)."""
    rows = []
    shown = {"birth_date": lambda identity: identity.birth_date_display, "sex": lambda identity: identity.get_sex_display()}
    for name in (*STRICT_TRAIT_FIELDS, "used_name", "used_given_name"):
        left, right = getattr(first, name), getattr(second, name)
        if name in shown:
            left, right = shown[name](first), shown[name](second)
        rows.append({"label": field_label(name), "left": left or "—", "right": right or "—", "differs": left != right})
    rows.append({"label": gettext("Statut"), "left": first.get_status_display(), "right": second.get_status_display(),
                 "differs": first.status != second.status})
    return rows


# --- Reference tables and audit logs ---

@admin.register(DocumentType)
class DocumentTypeAdmin(admin.ModelAdmin):
    list_display = ("label", "code", "trust", "requires_expiry", "active", "position")
    list_filter = ("trust", "active")
    search_fields = ("label", "code")
    ordering = ("position", "label")

    def has_delete_permission(self, request, obj=None):
        # Past checks refer to their type: a type is withdrawn (unticked "proposée"), not deleted.
        return False


@admin.register(Birthplace)
class BirthplaceAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind", "current")
    list_filter = ("kind", "current")
    search_fields = ("=code", "name")
    show_full_result_count = False
    show_facets = ShowFacets.NEVER


@admin.register(IdentityLink)
class IdentityLinkAdmin(ReadOnlyAdmin):
    list_display = ("kind", "identity_column", "other_column", "reason", "created_at", "created_by")
    list_filter = ("kind",)
    list_select_related = ("identity", "other", "created_by")

    @admin.display(description=_("identité"))
    def identity_column(self, link):
        return identity_link(link.identity)

    @admin.display(description=_("autre identité"))
    def other_column(self, link):
        return identity_link(link.other)


@admin.register(IdentityEvent)
class IdentityEventAdmin(ReadOnlyAdmin):
    list_display = ("at", "kind", "identity_column", "actor_name", "status_change", "channel", "reason")
    list_filter = ("kind", "channel")
    list_select_related = ("identity",)
    fields = ("at", "kind", "identity_column", "actor_name", "status_change", "channel", "reason", "changes")
    readonly_fields = fields

    @admin.display(description=_("identité"))
    def identity_column(self, event):
        return identity_link(event.identity)

    @admin.display(description=_("statut"))
    def status_change(self, event):
        if event.from_status and event.to_status:
            return f"{event.from_status} → {event.to_status}"
        return event.to_status or ""

    @admin.display(description=_("modifications"))
    def changes(self, event):
        # Trait changes only: the other details may name an OID, which the diffusion gate keeps off screens.
        changes = event.details.get("changes") or {}
        return format_html_join(
            "", "<div>{} : {} → {}</div>",
            ((traits.FIELD_LABELS.get(name, name), old or "—", new or "—") for name, (old, new) in changes.items()),
        ) or "—"

