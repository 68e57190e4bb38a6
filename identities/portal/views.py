"""The portal pages behind the admin login: dashboard, home shortcuts, actions on an identity, worklist decisions."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.admin.utils import quote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import CheckConstraint
from django.http import Http404, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django_fsm import can_proceed

from identities.core import birthplaces, services, worklists
from identities.core.errors import ServiceError
from identities.core.models import Attribute, DocumentCheck, Establishment, Identity
from identities.core.screens import apply_service_error
from identities.portal import dashboard as indicators
from identities.portal import dashboard_report as report
from identities.portal.forms import DashboardFilterForm, DocumentCheckForm, ReasonForm, WorklistAssignForm, WorklistDecisionForm

_ATTRIBUTE_FIELDS = {Attribute.DOUT: "doubtful", Attribute.FICT: "fictitious", Attribute.HOMA: "homonym"}


# --- The birthplace field's helper (JSON for static/identities/birthplace.js) ---

def birthplace_search(request):
    """``?code=75012`` says what a typed code is; ``?q=boulogne`` searches by name; ``naissance`` dates both."""
    if not request.user.has_perm("identities.view_identity"):
        raise PermissionDenied
    birth_date = request.GET.get("naissance", "")[:10]
    code = request.GET.get("code", "").strip()
    if code:
        return JsonResponse(birthplaces.birthplace_lookup(code=code[:5], birth_date=birth_date))
    return JsonResponse({"results": birthplaces.birthplaces_search(query=request.GET.get("q", "")[:80], birth_date=birth_date)})


# --- What can be done on an identity, for this user, now ---

@dataclass(frozen=True)
class Offer:
    """A button of the identity page: enabled, or greyed with the reason it is refused."""

    key: str
    label: str
    url: str
    allowed: bool
    why: str = ""
    danger: bool = False


def _action_url(identity: Identity, *parts: str) -> str:
    return reverse("admin:identities_identity_action", args=[quote(identity.pk), "/".join(parts)])


def _combination_refusal(identity: Identity, attribute: str, value: bool) -> str:
    """Why the model's attribute constraints would refuse this change, or "" (the status follows by itself)."""
    candidate = Identity(**{field: getattr(identity, field) for field in _ATTRIBUTE_FIELDS.values()})
    setattr(candidate, _ATTRIBUTE_FIELDS[attribute], value)
    for constraint in Identity._meta.constraints:
        if isinstance(constraint, CheckConstraint):
            try:
                # Constraints on the status or the INS are left out: the service moves them with the attribute;
                # so is the IPP's (an attribute never touches it, and the candidate is never saved).
                constraint.validate(Identity, candidate, exclude={"status", "ins_matricule", "ins_oid", "ipp"})
            except ValidationError as error:
                return " ".join(error.messages)
    return ""


def offered_actions(identity: Identity, user) -> list[Offer]:
    """The decisions offered on the identity page: only those the user's role allows (greyed, with the
    reason, when the identity's state refuses them now); the services still check every one of them."""
    offers = []
    if may_act(user, "piece"):
        offers.append(Offer("document", _("Contrôler une pièce d'identité"), _action_url(identity, "piece"), True))
    invalidate = identity.ins_invalidated
    if may_act(user, "invalider-ins"):
        why = "" if can_proceed(invalidate) else (
            _("L'identité ne porte pas d'INS (statut « %(status)s »).") % {"status": identity.get_status_display()})
        offers.append(Offer("invalidate", _("Invalider l'INS"), _action_url(identity, "invalider-ins"), not why, why, danger=True))
    for attribute, field in _ATTRIBUTE_FIELDS.items():
        value = not getattr(identity, field)
        if not may_act(user, f"attribut/{attribute}/{'poser' if value else 'lever'}"):
            continue
        label = Attribute(attribute).label
        why = _combination_refusal(identity, attribute, value) if value else ""
        text = (_("Poser « %(label)s »") if value else _("Lever « %(label)s »")) % {"label": label}
        offers.append(Offer(
            f"{attribute}-{'on' if value else 'off'}", text,
            _action_url(identity, "attribut", attribute, "poser" if value else "lever"), not why, why,
            danger=value and attribute != Attribute.HOMA,
        ))
    return offers


def may_act(user, action: str) -> bool | None:
    """Whether the user's role allows this decision page at all (the services still check the identity's state);
    None for a page that does not exist."""
    parts = action.split("/")
    if parts == ["piece"]:
        return user.has_perm("identities.record_document_check")
    if parts == ["invalider-ins"]:
        return user.has_perm("identities.invalidate_ins")
    if len(parts) == 2 and parts[0] == "retrait":
        return user.has_perm("identities.withdraw_document_check")
    if len(parts) == 3 and parts[0] == "attribut" and parts[1] in _ATTRIBUTE_FIELDS and parts[2] in ("poser", "lever"):
        return user.has_perm("identities.manage_attributes") or (
            parts[1] == Attribute.DOUT and parts[2] == "poser" and user.has_perm("identities.flag_doubtful"))
    return None


# --- The action pages (mounted by IdentityAdmin.get_urls) ---

def _consequences(identity: Identity, action: str) -> list[str]:
    if action == "piece":
        return [_("Une pièce à haut niveau de confiance, en cours de validité, valide l'identité : "
                  "provisoire → validée, récupérée → qualifiée. Les autres pièces sont enregistrées sans changer le statut.")]
    if action == "invalider-ins":
        return [_("Le matricule INS et l'OID sont invalidés (gardés dans l'historique des matricules)."),
                _("Le statut baisse d'un niveau : qualifiée → validée, récupérée → provisoire.")]
    if action in ("DOUT-poser", "FICT-poser"):
        return [_("L'identité repasse au statut provisoire ; son matricule INS et son OID sont invalidés."),
                _("Les appels au téléservice INSi sont bloqués tant que l'attribut est posé.")]
    if action == "retrait":
        return [_("Sans autre pièce valide : validée → provisoire, qualifiée → récupérée (l'INS est gardé mais n'est plus diffusé).")]
    return []


def identity_action(request, model_admin, object_id: str, action: str):
    """One decision on one identity: a confirmation page with its consequences and reason, then the service."""
    identity = model_admin.get_object(request, object_id)
    if identity is None:
        raise Http404
    allowed = may_act(request.user, action)
    if allowed is None:
        raise Http404
    if not (allowed and model_admin.has_view_permission(request, identity)):
        # A page with « Confirmer » is never shown to a role that would then be refused.
        raise PermissionDenied
    parts = action.split("/")
    form_class, perform, title, key = ReasonForm, None, "", action
    if parts == ["piece"]:
        form_class, title = DocumentCheckForm, _("Contrôler une pièce d'identité")

        def perform(data):
            return services.identity_record_document_check(
                actor=request.user, identity_id=identity.pk, document_type_id=data["document_type"].pk,
                companion_type_id=data["companion_type"].pk if data["companion_type"] else None, expiry_date=data["expiry_date"],
                derogation=data["derogation"],
            ).message
    elif parts == ["invalider-ins"]:
        title = _("Invalider l'INS")

        def perform(data):
            services.identity_invalidate_ins(actor=request.user, identity_id=identity.pk, reason=data["reason"])
            return _("INS invalidé.")
    elif len(parts) == 3 and parts[0] == "attribut" and parts[1] in _ATTRIBUTE_FIELDS and parts[2] in ("poser", "lever"):
        attribute, value = parts[1], parts[2] == "poser"
        key = f"{attribute}-{parts[2]}"
        label = Attribute(attribute).label
        title = (_("Poser « %(label)s »") if value else _("Lever « %(label)s »")) % {"label": label}

        def perform(data):
            services.identity_set_attribute(actor=request.user, identity_id=identity.pk, attribute=attribute, value=value, reason=data["reason"])
            return (_("« %(label)s » posé.") if value else _("« %(label)s » levé.")) % {"label": label}
    elif len(parts) == 2 and parts[0] == "retrait" and parts[1].isdigit():
        check = DocumentCheck.objects.filter(pk=int(parts[1]), identity=identity).first()
        if check is None:
            raise Http404
        key, title = "retrait", _("Retirer le contrôle de pièce « %(check)s »") % {"check": check}

        def perform(data):
            services.identity_withdraw_document_check(actor=request.user, check_id=check.pk, reason=data["reason"])
            return _("Contrôle de pièce retiré.")
    else:
        raise Http404

    form = form_class(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            message = perform(form.cleaned_data)
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            worklists.worklists_sync(actor=request.user, identity_id=identity.pk)
            messages.success(request, message)
            return HttpResponseRedirect(reverse("admin:identities_identity_change", args=[quote(identity.pk)]))
    identity.refresh_from_db()
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "subtitle": str(identity),
        "identity": identity,
        "form": form,
        "consequences": _consequences(identity, key),
        "opts": Identity._meta,
        "original": identity,
        "media": model_admin.media + form.media,
    }
    return TemplateResponse(request, "portal/identity_action.html", context)


# --- Worklists (mounted by WorklistItemAdmin.get_urls) ---

def _back_to_queue(request, model_admin) -> HttpResponseRedirect:
    return HttpResponseRedirect(_next_page(request) or reverse("admin:identities_worklistitem_changelist"))


def _next_page(request) -> str:
    """Where a worklist button asked to come back (the list with its filters), if it is a page of this site."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure())
    return target if target and allowed else ""


def worklist_decide(request, model_admin, object_id: str):
    item = model_admin.get_object(request, object_id)
    if item is None:
        raise Http404
    if request.method != "POST":
        return HttpResponseRedirect(reverse("admin:identities_worklistitem_change", args=[quote(item.pk)]))
    form = WorklistDecisionForm(request.POST, item=item)
    if form.is_valid():
        try:
            decided = worklists.worklist_decide(
                actor=request.user, item_id=item.pk, decision=form.cleaned_data["decision"], note=form.cleaned_data["note"]
            )
        except ServiceError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Élément traité : %(decision)s.") % {"decision": decided.get_decision_display()})
            return _back_to_queue(request, model_admin)
    else:
        messages.error(request, _("Décision : choisissez une des décisions proposées."))
    return HttpResponseRedirect(_next_page(request) or reverse("admin:identities_worklistitem_change", args=[quote(item.pk)]))


def worklist_assign(request, model_admin, object_id: str):
    item = model_admin.get_object(request, object_id)
    if item is None:
        raise Http404
    if request.method == "POST":
        form = WorklistAssignForm(request.POST)
        owner_id = None
        if "claim" in request.POST:
            owner_id = request.user.pk
        elif form.is_valid() and form.cleaned_data["owner"] is not None:
            owner_id = form.cleaned_data["owner"].pk
        try:
            worklists.worklist_assign(actor=request.user, item_id=item.pk, owner_id=owner_id)
        except ServiceError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Responsable mis à jour."))
    return HttpResponseRedirect(_next_page(request) or reverse("admin:identities_worklistitem_change", args=[quote(item.pk)]))


def worklist_refresh(request, model_admin):
    if request.method == "POST":
        try:
            # The state queues only (seconds); the pair sweep over the whole base takes about a
            # minute per million identities and runs at night (manage.py refresh_worklists).
            outcome = worklists.worklists_sync(actor=request.user)
        except ServiceError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _(
                "Files mises à jour : %(opened)d élément(s) ouvert(s), %(closed)d clos (situation résolue). "
                "Les doublons et homonymes sont recherchés à chaque création et chaque nuit."
            ) % vars(outcome))
    return HttpResponseRedirect(reverse("admin:identities_worklistitem_changelist"))


# --- Home page and dashboard (mounted by the portal's admin site) ---

def home_context(request) -> dict:
    user = request.user
    context = {"can_search": user.has_perm("identities.view_identity"), "can_see_dashboard": user.has_perm("identities.view_dashboard")}
    if user.has_perm("identities.view_worklistitem"):
        context["queues"] = worklists.worklist_queue_sizes(user=user)
    return context


def _dashboard_filters(request) -> tuple[DashboardFilterForm, indicators.Period, Establishment | None]:
    """The filters of the query string; a wrong one is said on the form and the default (this month, all) is used."""
    form = DashboardFilterForm(request.GET or None)
    period, establishment = indicators.current_month(), None
    if form.is_bound and form.is_valid():
        start, end = form.cleaned_data["du"], form.cleaned_data["au"]
        if start or end:
            end = end or max(start, timezone.localdate())
            period = indicators.Period(start or end.replace(day=1), end)
        establishment = form.cleaned_data["etablissement"]
    return form, period, establishment


def _presets(establishment: Establishment | None) -> list[tuple[str, str]]:
    """Links to the usual periods, keeping the establishment chosen."""
    today = timezone.localdate()
    last_month_end = today.replace(day=1) - timedelta(days=1)

    def months_back(months: int) -> date:
        year, month = divmod(today.year * 12 + today.month - 1 - months, 12)
        return date(year, month + 1, 1)

    periods = [
        (_("Ce mois-ci"), today.replace(day=1), today),
        (_("Mois dernier"), last_month_end.replace(day=1), last_month_end),
        (_("3 derniers mois"), months_back(2), today),
        (_("12 derniers mois"), months_back(11), today),
        (_("Année en cours"), today.replace(month=1, day=1), today),
    ]
    extra = {"etablissement": establishment.pk} if establishment else {}
    return [(label, "?" + urlencode({"du": start.isoformat(), "au": end.isoformat(), **extra})) for label, start, end in periods]


def _dashboard_figures(request):
    if not request.user.has_perm("identities.view_dashboard"):
        raise PermissionDenied
    form, period, establishment = _dashboard_filters(request)
    figures = indicators.dashboard_figures(period=period, establishment_id=establishment.pk if establishment else None)
    return form, figures, establishment


def dashboard(request, *, site):
    form, figures, establishment = _dashboard_figures(request)
    query = request.GET.urlencode()
    context = {
        **site.each_context(request),
        "title": _("Tableau de bord de l'identitovigilance"),
        "form": form, "figures": figures, "presets": _presets(establishment),
        "kpis": report.kpis(figures), "tables": report.tables(figures), "charts": report.charts(figures),
        "query": f"?{query}" if query else "",
        "can_open_worklists": request.user.has_perm("identities.manage_worklists"),
    }
    return TemplateResponse(request, "portal/dashboard.html", context)


def dashboard_pdf(request):
    _form, figures, establishment = _dashboard_figures(request)
    name = str(establishment) if establishment else _("Tous les établissements")
    response = HttpResponse(report.dashboard_pdf(figures, establishment_name=name), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="tableau-de-bord-{figures.period.start}-{figures.period.end}.pdf"'
    return response


def dashboard_csv(request, slug: str):
    _form, figures, _establishment = _dashboard_figures(request)
    content = report.table_csv(figures, slug)
    if content is None:
        raise Http404(_("Ce tableau n'existe pas."))
    response = HttpResponse(content, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{slug}-{figures.period.start}-{figures.period.end}.csv"'
    return response
