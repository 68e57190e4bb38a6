"""The INSi workflow screens behind the admin login: recovery and its comparison, carte Vitale, ApCV, verification, batches, runs, CSV import."""
from __future__ import annotations

from functools import partial

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from identities.core.errors import RuleViolation, ServiceError
from identities.core.models import Identity, WorklistItem
from identities.core.screens import apply_service_error
from identities.workflows import apcv, campaigns, card_intake, csv_import, recovery
from identities.workflows.forms import ApcvForm, BatchForm, CardForm, ImportForm, RejectForm, RetryForm, VitaleForm
from identities.workflows.guided_retry import variant_label
from identities.workflows.models import InsiRecovery, InsiRun, InsiRunItem
from identities.workflows.similarity import FORMULA
from identities.workflows.verification import Verdict, verification_refusal, verification_verify
from identities.workflows.vitale import SimulatorCardReader, TypedCardReader


def get_urls(site) -> list:
    """Mounted by the portal's admin site (admin_site.PortalAdminSite.get_urls), names in the ``admin`` namespace."""
    def view(function):
        return site.admin_view(partial(function, site=site))

    return [
        path("insi/identite/<int:identity_id>/recuperer/", view(recover), name="insi_recover"),
        path("insi/identite/<int:identity_id>/carte-vitale/", view(vitale), name="insi_vitale"),
        path("insi/identite/<int:identity_id>/verifier/", view(verify), name="insi_verify"),
        path("insi/recuperation/<int:pk>/", view(recovery_page), name="insi_recovery"),
        path("insi/lot/", view(batch), name="insi_batch"),
        path("insi/execution/<int:pk>/", view(run_page), name="insi_run"),
        path("insi/import/", view(import_page), name="insi_import"),
        path("accueil/appli-carte-vitale/", view(apcv_page), name="apcv_read"),
        path("accueil/carte-vitale/", view(card_page), name="card_read"),
    ]


def _identity(request, identity_id: int) -> Identity:
    if not request.user.has_perm("identities.view_identity"):
        raise PermissionDenied
    return get_object_or_404(Identity, pk=identity_id)


def _identity_page(identity_id: int) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("admin:identities_identity_change", args=[identity_id]))


def _render(request, site, template: str, title: str, **context):
    return TemplateResponse(request, f"workflows/{template}", {
        **site.each_context(request), "title": title, "opts": Identity._meta, **context,
    })


# --- One identity ---

@require_POST
def recover(request, identity_id: int, *, site):
    identity = _identity(request, identity_id)
    try:
        found = recovery.recovery_search(actor=request.user, identity_id=identity.pk)
    except ServiceError as error:
        messages.error(request, error.message)
        return _identity_page(identity.pk)
    return HttpResponseRedirect(reverse("admin:insi_recovery", args=[found.pk]))


def vitale(request, identity_id: int, *, site):
    identity = _identity(request, identity_id)
    form = VitaleForm(request.POST or None, initial={"birth_name": identity.birth_name})
    if request.method == "POST" and form.is_valid():
        try:
            card = TypedCardReader(form.cleaned_data).read()
            found = recovery.recovery_search_with_vitale(actor=request.user, identity_id=identity.pk, card=card)
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            return HttpResponseRedirect(reverse("admin:insi_recovery", args=[found.pk]))
    return _render(request, site, "vitale.html", _("Récupération de l'INS avec la carte Vitale"), identity=identity, form=form,
                   refusal=recovery.recovery_refusal(identity))


@require_POST
def verify(request, identity_id: int, *, site):
    identity = _identity(request, identity_id)
    try:
        result = verification_verify(actor=request.user, identity_id=identity.pk)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        level = {Verdict.OK: messages.SUCCESS, Verdict.REPLACED: messages.SUCCESS, Verdict.KO: messages.ERROR}.get(result.verdict, messages.WARNING)
        messages.add_message(request, level, _("Vérification INSi : %(verdict)s. %(message)s") % {
            "verdict": result.verdict, "message": result.message})
    return _identity_page(identity.pk)


def recovery_page(request, pk: int, *, site):
    """A recovery's result: side by side on 00, guidance and retry on 01/02, the decision once taken."""
    found = get_object_or_404(InsiRecovery.objects.select_related("identity", "requested_by", "decided_by"), pk=pk)
    identity = _identity(request, found.identity_id)
    reject_form = RejectForm(request.POST if request.POST.get("action") == "reject" else None)
    retry_form = RetryForm(
        request.POST if request.POST.get("action") == "retry" else None,
        initial={"birth_name": found.query.get("birth_name", identity.birth_name),
                 "birth_given_names": found.query.get("given_names", identity.birth_given_names),
                 "birthplace_code": found.query.get("birthplace", identity.birthplace_code)},
    )
    if request.method == "POST":
        if not request.user.has_perm("identities.use_insi"):
            raise PermissionDenied
        response = _decide(request, found, reject_form, retry_form)
        if response is not None:
            return response
    return _render(
        request, site, "recovery.html", _("Récupération INSi : %(state)s") % {"state": found.get_state_display()},
        identity=identity, recovery=found, rows=recovery.recovery_comparison(found), guidance=recovery.guidance(found),
        formula=FORMULA, reject_form=reject_form, retry_form=retry_form, variant=variant_label(found.query.get("variant", "")),
        can_see_exchanges=request.user.has_perm("insi.view_exchange"), subtitle=str(identity),
        can_decide=request.user.has_perm("identities.use_insi"),  # no « Accepter » shown to be refused
    )


def _decide(request, found: InsiRecovery, reject_form: RejectForm, retry_form: RetryForm):
    action = request.POST.get("action")
    try:
        if action == "accept":
            done = recovery.recovery_accept(actor=request.user, recovery_id=found.pk)
            (messages.success if done.state == InsiRecovery.State.ACCEPTED else messages.error)(request, done.message)
            return _identity_page(found.identity_id)
        if action == "reject" and reject_form.is_valid():
            recovery.recovery_reject(actor=request.user, recovery_id=found.pk, reason=reject_form.cleaned_data["reason"])
            messages.info(request, _("Résultat INSi refusé ; l'identité est inchangée."))
            return _identity_page(found.identity_id)
        if action == "retry" and retry_form.is_valid():
            data = retry_form.cleaned_data
            again = recovery.recovery_search(
                actor=request.user, identity_id=found.identity_id, birth_name=data["birth_name"],
                given_names=data["birth_given_names"], birthplace=data["birthplace_code"], variant=data["variant"],
            )
            return HttpResponseRedirect(reverse("admin:insi_recovery", args=[again.pk]))
    except ServiceError as error:
        apply_service_error(retry_form if action == "retry" else reject_form, error)
        if action == "accept":
            messages.error(request, error.message)
    return None


# --- The Appli carte Vitale ---

def apcv_page(request, *, site):
    """Scan the application's QR code: candidates of the anteriority search to judge, or the identity, qualified."""
    if not (request.user.has_perm("identities.add_identity") and request.user.has_perm("identities.record_document_check")):
        raise PermissionDenied
    form = ApcvForm(request.POST or None)
    intake = None
    if request.method == "POST" and form.is_valid():
        identity_id = request.POST.get("identity_id", "")
        try:
            intake = apcv.apcv_intake(
                actor=request.user, scanned=form.cleaned_data["scanned"],
                identity_id=int(identity_id) if identity_id.isdigit() else None,
                acknowledged_candidates=[int(pk) for pk in request.POST.getlist("acknowledged") if pk.isdigit()],
            )
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            if intake.identity is not None:
                level = messages.SUCCESS if intake.applied else (messages.WARNING if intake.worklist_item else messages.INFO)
                messages.add_message(request, level, intake.message)
                return _identity_page(intake.identity.pk)
    return _render(request, site, "apcv.html", _("Appli carte Vitale"), form=form, intake=intake,
                   scanned=form.data.get("scanned", ""))


# --- Creation from the carte Vitale ---

def card_page(request, *, site):
    """Read the card, choose a beneficiary, judge the anteriority candidates, then the recovery by card."""
    user = request.user
    if not (user.has_perm("identities.add_identity") and user.has_perm("identities.use_insi")):
        raise PermissionDenied
    form = CardForm(request.POST or None)
    context = {"form": form, "reader_available": settings.INSI_SIMULATOR_ENABLED, "card_id": request.POST.get("card", "")}
    if request.method == "POST" and settings.INSI_SIMULATOR_ENABLED and form.is_valid():
        try:
            beneficiaries = SimulatorCardReader(form.cleaned_data["card"]).beneficiaries()
            if request.POST.get("action") == "choose":
                index = request.POST.get("index", "")
                if not (index.isdigit() and int(index) < len(beneficiaries)):
                    raise RuleViolation(_("bénéficiaire inconnu sur cette carte : relisez la carte"), field="card")
                identity_id = request.POST.get("identity_id", "")
                intake = card_intake.card_intake(
                    actor=user, card=beneficiaries[int(index)], identity_id=int(identity_id) if identity_id.isdigit() else None,
                    acknowledged_candidates=[int(pk) for pk in request.POST.getlist("acknowledged") if pk.isdigit()],
                )
                if intake.recovery is not None:
                    return HttpResponseRedirect(reverse("admin:insi_recovery", args=[intake.recovery.pk]))
                if intake.identity is not None:
                    messages.info(request, intake.message)
                    return _identity_page(intake.identity.pk)
                context |= {"intake": intake, "index": index}
            else:
                context["beneficiaries"] = beneficiaries
        except ServiceError as error:
            apply_service_error(form, error)
    return _render(request, site, "card.html", _("Créer depuis la carte Vitale"), **context)


# --- Many identities ---

def start_batch(request, identity_ids: list[int]) -> HttpResponseRedirect:
    """For the identity list's action and the batch page: start a recovery batch and show its progress."""
    try:
        run = campaigns.recovery_batch_start(actor=request.user, identity_ids=identity_ids)
    except ServiceError as error:
        messages.error(request, error.message)
        return HttpResponseRedirect(reverse("admin:identities_identity_changelist"))
    messages.info(request, _("Récupération en lot lancée pour %(count)d identité(s) : vous pouvez quitter cette page.") % {"count": run.total})
    return HttpResponseRedirect(reverse("admin:insi_run", args=[run.pk]))


def batch(request, *, site):
    if not request.user.has_perm("identities.use_insi"):
        raise PermissionDenied
    form = BatchForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        ids = campaigns.worklist_identity_ids(form.cleaned_data["worklist_kind"], request.user, limit=form.cleaned_data["count"])
        if ids:
            return start_batch(request, ids)
        form.add_error("worklist_kind", _("aucun élément ouvert dans cette file"))
    recent = InsiRun.objects.filter(kind=InsiRun.Kind.RECOVERY, started_by=request.user)[:10]
    return _render(request, site, "batch.html", _("Récupération de l'INS en lot"), form=form, recent=recent)


def may_see_every_run(user) -> bool:
    """The CIV and managers follow every run; anybody else, the batches they started."""
    return user.has_perm("identities.view_verificationcampaign")


def _may_see_run(user, run: InsiRun) -> bool:
    return may_see_every_run(user) or run.started_by_id == user.pk


def run_page(request, pk: int, *, site):
    """Progress of a campaign run or a recovery batch; refreshes itself while it runs, and may be left."""
    run = get_object_or_404(InsiRun.objects.select_related("campaign", "started_by"), pk=pk)
    if not _may_see_run(request.user, run):
        raise PermissionDenied
    if request.method == "POST":
        control = {"pause": campaigns.run_pause, "resume": campaigns.run_resume, "cancel": campaigns.run_cancel}.get(request.POST.get("action"))
        if control is not None:
            try:
                control(actor=request.user, run_id=run.pk)
            except ServiceError as error:
                messages.error(request, error.message)
        return HttpResponseRedirect(reverse("admin:insi_run", args=[run.pk]))
    attention = [InsiRunItem.Outcome.FOUND, InsiRunItem.Outcome.KO, InsiRunItem.Outcome.FAILED, InsiRunItem.Outcome.UNUSABLE]
    items = run.items.filter(outcome__in=attention).select_related("identity").order_by("outcome", "pk")[:200]
    recoveries = {r.identity_id: r for r in run.recoveries.filter(identity_id__in=[i.identity_id for i in items])}
    return _render(
        request, site, "run.html", str(run.label), run=run, progress=campaigns.run_progress(run),
        items=[(item, recoveries.get(item.identity_id)) for item in items],
        can_control=request.user.has_perm("identities.change_verificationcampaign") or run.started_by_id == request.user.pk,
    )


def import_page(request, *, site):
    if not request.user.has_perm("identities.import_identities_csv"):
        raise PermissionDenied
    form = ImportForm(request.POST or None, request.FILES or None)
    report = None
    if request.method == "POST" and form.is_valid():
        try:
            # Read no more than the limit and a byte, for the import to refuse a file over it.
            report = csv_import.identities_import_csv(actor=request.user,
                                                      content=form.cleaned_data["file"].read(csv_import.MAX_FILE_BYTES + 1))
        except ServiceError as error:
            form.add_error("file", error.message)
    return _render(request, site, "import.html", _("Import d'identités reçues d'un autre domaine (CSV)"), form=form, report=report,
                   columns=[(name, required, what) for name, (required, what) in csv_import.COLUMNS.items()])


# --- The panel of the identity page (templatetags/insi_workflows.py) ---

def panel_context(identity: Identity, user) -> dict:
    """What the identity page shows of INSi: the actions offered (or why not), open KO alerts, recent recoveries."""
    use_insi = user.has_perm("identities.use_insi")
    missing = _("Réservé aux utilisateurs habilités à interroger INSi.")
    refusal = recovery.recovery_refusal(identity)
    if not refusal and identity.is_locked and not user.has_perm("identities.invalidate_ins"):
        refusal = _("Après une vérification KO, la nouvelle récupération remplace l'INS enregistré : elle est réservée à la CIV.")
    checked = verification_refusal(identity)
    return {
        "identity": identity,
        "recover": {"allowed": use_insi and not refusal, "why": refusal or ("" if use_insi else missing),
                    "url": reverse("admin:insi_recover", args=[identity.pk]), "vitale": reverse("admin:insi_vitale", args=[identity.pk])},
        "verify": {"allowed": use_insi and not checked, "why": checked or ("" if use_insi else missing),
                   "url": reverse("admin:insi_verify", args=[identity.pk])},
        "alerts": WorklistItem.objects.filter(identity=identity, kind=WorklistItem.Kind.INSI_VERIFICATION, state=WorklistItem.State.OPEN),
        "recoveries": identity.insi_recoveries.all()[:5],
    }
