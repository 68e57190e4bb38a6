"""Pages for paper and scanners: print a document or labels (large label prints as followed jobs), and read an INS datamatrix at the desk (channel CB)."""
from __future__ import annotations

import warnings

import zxingcpp
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db import transaction
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _t
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods
from PIL import Image, UnidentifiedImageError

from identities.core import matricule, selectors, services, traits
from identities.core.errors import NotAllowed, ServiceError
from identities.core.models import Channel
from identities.documents import selectors as printing
from identities.documents import datamatrix
from identities.documents import labels as label_services
from identities.workflows.ins_integration import Reception, reception_verify_ins

app_name = "documents"


def _pdf_response(pdf: bytes, filename: str, *, attachment: bool) -> HttpResponse:
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'{"attachment" if attachment else "inline"}; filename="{filename}"'
    return response


def identity_url(identity_id: int) -> str:
    return reverse("admin:identities_identity_change", args=[identity_id])


def _page(request, template: str, context: dict, *, status: int = 200) -> TemplateResponse:
    return TemplateResponse(request, template, {**admin.site.each_context(request), **context}, status=status)


# --- Printing ---

@login_required
@permission_required("identities.print_identity", raise_exception=True)
def identity_document(request, identity_id: int):
    try:
        pdf = label_services.identity_print_document(actor=request.user, identity_id=identity_id)
    except ServiceError as error:
        raise Http404(error.message) from error
    return _pdf_response(pdf, f"fiche-identite-{identity_id}.pdf", attachment=False)


class LabelForm(forms.Form):
    identities = forms.CharField(widget=forms.HiddenInput)
    profile = forms.ModelChoiceField(queryset=None, label=_("Profil d'étiquettes"), empty_label=None)
    label_format = forms.ModelChoiceField(
        queryset=None, label=_("Format"), required=False, empty_label=_("Format du profil")
    )
    copies = forms.IntegerField(label=_("Exemplaires par identité"), min_value=1, max_value=label_services.MAX_COPIES, initial=1)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["profile"].queryset = printing.label_profiles_for(user)
        self.fields["label_format"].queryset = printing.label_formats()

    def clean_identities(self) -> list[int]:
        try:
            return [int(pk) for pk in self.cleaned_data["identities"].split(",") if pk.strip()]
        except ValueError:
            raise forms.ValidationError(_("Sélection d'identités illisible.")) from None


def labels_form_page(request, identity_ids: list[int], form: LabelForm | None = None, *, status: int = 200):
    """The label options page, for one identity or an admin selection (also used by the admin action)."""
    form = form or LabelForm(user=request.user, initial={"identities": ",".join(map(str, identity_ids))})
    return _page(request, "documents/labels_form.html",
                 {"form": form, "count": len(identity_ids), "title": _t("Imprimer des étiquettes"),
                  "job_above": settings.LABEL_JOB_ABOVE}, status=status)


@login_required
@permission_required("identities.print_identity", raise_exception=True)
@require_http_methods(["GET", "POST"])
def identity_labels(request):
    if request.method == "GET":
        ids = [int(pk) for pk in request.GET.get("ids", "").split(",") if pk.strip().isdigit()]
        return labels_form_page(request, ids)
    form = LabelForm(request.POST, user=request.user)
    if not form.is_valid():
        return labels_form_page(request, [], form, status=400)
    data = form.cleaned_data
    try:
        printed = label_services.identities_print_labels(
            actor=request.user, identity_ids=data["identities"], profile_id=data["profile"].pk,
            label_format_id=data["label_format"].pk if data["label_format"] else None, copies=data["copies"],
        )
    except ServiceError as error:
        form.add_error(error.field if error.field in form.fields else None, error.message)
        return labels_form_page(request, data["identities"], form, status=400)
    if printed.job is not None:
        messages.info(request, _t("%(count)d étiquettes : l'impression est préparée en tâche de fond. Vous pouvez quitter cette "
                                  "page et revenir la chercher dans « Mes impressions d'étiquettes ».") % {"count": printed.labels})
        return redirect("documents:label_job", job_id=printed.job.pk)
    return _pdf_response(printed.pdf, "etiquettes.pdf", attachment=True)


def _followed_job(request, job_id: int):
    try:
        return label_services.label_job_for(actor=request.user, job_id=job_id)
    except NotAllowed as error:
        raise PermissionDenied(error.message) from error
    except ServiceError as error:
        raise Http404(error.message) from error


@login_required
@permission_required("identities.print_identity", raise_exception=True)
def label_jobs(request):
    """The label jobs the user may follow (their own; every one for the CIV referent), newest first."""
    jobs = list(printing.label_jobs_for(request.user)[:50])
    return _page(request, "documents/label_jobs.html", {
        "title": _t("Mes impressions d'étiquettes"), "jobs": jobs, "any_live": any(job.is_live for job in jobs),
        "every": request.user.has_perm("identities.view_every_label_job"),
        "retention_hours": settings.LABEL_JOB_RETENTION_HOURS,
    })


@login_required
@permission_required("identities.print_identity", raise_exception=True)
@require_http_methods(["GET", "POST"])
def label_job(request, job_id: int):
    """Progress of a label job (the page refreshes itself while it runs), then its result: the download, or why it failed."""
    job = _followed_job(request, job_id)
    if request.method == "POST":
        try:
            label_services.label_job_retry(actor=request.user, job_id=job.pk)
        except ServiceError as error:
            messages.error(request, error.message)
        else:
            messages.info(request, _t("Impression relancée."))
        return redirect("documents:label_job", job_id=job.pk)
    return _page(request, "documents/label_job.html", {
        "title": _t("Impression d'étiquettes"), "job": job, "retention_hours": settings.LABEL_JOB_RETENTION_HOURS,
        "stalled_minutes": settings.LABEL_JOB_STALLED_MINUTES,
    })


@login_required
@permission_required("identities.print_identity", raise_exception=True)
def label_job_download(request, job_id: int):
    _followed_job(request, job_id)
    try:
        pdf = label_services.label_job_pdf(actor=request.user, job_id=job_id)
    except ServiceError as error:
        messages.error(request, error.message)
        return redirect("documents:label_job", job_id=job_id)
    return _pdf_response(pdf, f"etiquettes-{job_id}.pdf", attachment=True)


# --- Reading an INS datamatrix at the desk (channel CB) ---

class DatamatrixReadForm(forms.Form):
    scan = forms.CharField(
        label=_("Datamatrix lu par la douchette"), required=False, strip=False,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "off", "size": 80}),
        help_text=_("Placez le curseur ici et scannez le datamatrix « INS à scanner »."),
    )
    image = forms.FileField(label=_("… ou une photo du datamatrix"), required=False)

    def clean(self):
        data = super().clean()
        scan, image = data.get("scan", ""), data.get("image")
        if bool(scan.strip()) == bool(image):
            raise forms.ValidationError(_("Scannez le datamatrix ou joignez une image, l'un ou l'autre."))
        text = datamatrix.normalise_scanned(scan) if scan.strip() else _decode_image(image)
        try:
            ins = datamatrix.parse_payload(text)
            matricule.check_oid(ins.oid, environment=settings.INS_ENVIRONMENT, source=matricule.OidSource.RECEIVED)
        except (datamatrix.DatamatrixError, matricule.MatriculeError) as error:
            raise forms.ValidationError(_t("Datamatrix INS refusé : %(reason)s") % {"reason": error.message}) from error
        data["payload"], data["ins"] = text, ins
        return data


# A phone photo is a few megabytes; anything far larger is not a datamatrix picture.
MAX_IMAGE_BYTES = 15 * 1024 * 1024
# A 48-megapixel phone photo is 8000 × 6000. The size is read from the header before any pixel is:
# a 32 kB PNG can declare 16000 × 16000 (a decompression bomb of 256 megapixels).
MAX_IMAGE_PIXELS = 50_000_000


def _decode_image(upload) -> str:
    if upload.size > MAX_IMAGE_BYTES:
        raise forms.ValidationError(_("Image trop lourde (15 Mo au plus)."))
    too_large = forms.ValidationError(_("Image trop grande : 50 millions de pixels au plus."))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(upload)
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                raise too_large
            # Grey levels: what the decoder reads, whatever mode the file came in (palette, CMYK, 16 bits).
            image = image.convert("L")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise too_large from error
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as error:
        # A broken or hostile file makes Pillow raise any of these.
        raise forms.ValidationError(_("Le fichier joint n'est pas une image lisible.")) from error
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.DataMatrix, text_mode=zxingcpp.TextMode.Plain)
    if not found:
        raise forms.ValidationError(_("Aucun datamatrix trouvé sur l'image : reprenez la photo, bien à plat et nette."))
    return found[0].text


_COMPARED = ("birth_name", "birth_given_names", "sex", "birth_date", "birthplace_code")


def _differences(identity, ins: datamatrix.DatamatrixIns) -> list[str]:
    """The traits where the identity and the datamatrix disagree, for the agent to see at once."""
    return [traits.FIELD_LABELS[name] for name in _COMPARED if getattr(ins, name) and getattr(identity, name) != getattr(ins, name)]


def _read_result(request, form: DatamatrixReadForm, *, status: int = 200):
    ins = form.cleaned_data["ins"]
    by_matricule = selectors.identities_holding_matricule_ever(ins.matricule)
    held = {ident.pk for ident in by_matricule}
    candidates = [
        ident for ident in selectors.anteriority_search(
            name=ins.birth_name, given_name=ins.first_birth_given_name, birth_date=ins.birth_date
        )
        if ident.pk not in held
    ]
    can_verify = request.user.has_perm("identities.use_insi")
    rows = [
        {"identity": ident, "url": identity_url(ident.pk), "by_matricule": ident.pk in held, "differences": _differences(ident, ins),
         "can_integrate": can_verify and not ident.ins_matricule and not (ident.doubtful or ident.fictitious)}
        for ident in [*by_matricule, *candidates]
    ]
    return _page(request, "documents/datamatrix_read.html", {
        "title": _t("Lecture d'un datamatrix INS"), "form": form, "ins": ins, "rows": rows,
        "acknowledged": ",".join(str(row["identity"].pk) for row in rows),
        # GS is a control character a form field would not carry: sent back in its typed form.
        "payload": form.cleaned_data["payload"].replace(datamatrix.GS, "<GS>"), "can_create": request.user.has_perm("identities.add_identity"),
        "can_verify": can_verify,
    }, status=status)


@login_required
@permission_required("identities.view_identity", raise_exception=True)
@require_http_methods(["GET", "POST"])
def datamatrix_read(request):
    """Read (keyboard wedge or image), search by matricule and traits, then open or create (PROV, channel CB); the INS after INSi OK."""
    if request.method == "GET":
        return _page(request, "documents/datamatrix_read.html", {"title": _t("Lecture d'un datamatrix INS"), "form": DatamatrixReadForm()})
    if request.POST.get("action") == "integrate":
        return _integrate(request)
    if request.POST.get("action") != "create":
        form = DatamatrixReadForm(request.POST, request.FILES)
        if not form.is_valid():
            return _page(request, "documents/datamatrix_read.html",
                         {"title": _t("Lecture d'un datamatrix INS"), "form": form}, status=400)
        return _read_result(request, form)

    form = DatamatrixReadForm({"scan": request.POST.get("payload", "")})
    if not form.is_valid():
        return _page(request, "documents/datamatrix_read.html", {"title": _t("Lecture d'un datamatrix INS"), "form": form}, status=400)
    ins = form.cleaned_data["ins"]
    acknowledged = [int(pk) for pk in request.POST.get("acknowledged", "").split(",") if pk.strip().isdigit()]
    verify = bool(request.POST.get("verify_ins")) and request.user.has_perm("identities.use_insi")
    try:
        with transaction.atomic():
            # The traits only: the matricule of a datamatrix comes from another identification
            # domain, so it is integrated only once INSi confirms it (the reception rule).
            outcome = services.identity_create(
                actor=request.user, birth_name=ins.birth_name, birth_given_names=ins.birth_given_names,
                birth_date=ins.birth_date, sex=ins.sex, birthplace_code=ins.birthplace_code,
                channel=Channel.CB, acknowledged_candidates=acknowledged,
            )
            reception = None
            if outcome.identity is not None and verify:
                reception = reception_verify_ins(actor=request.user, identity_id=outcome.identity.pk,
                                                 matricule_value=ins.matricule, oid=ins.oid)
    except ServiceError as error:
        messages.error(request, error.message)
        return _read_result(request, form, status=400)
    if outcome.identity is None:
        messages.warning(request, _t("De nouvelles identités proches ont été enregistrées entre-temps : vérifiez-les avant de créer."))
        return _read_result(request, form, status=409)
    if reception is None:
        messages.success(request, _t(
            "Identité créée au statut provisoire (modalité : datamatrix). Le datamatrix ne vaut pas vérification INSi : "
            "lancez une récupération INSi et contrôlez une pièce d'identité pour la qualifier."
        ))
    else:
        _reception_message(request, reception)
    return redirect(identity_url(outcome.identity.pk))


def _reception_message(request, reception) -> None:
    if reception.outcome == Reception.INTEGRATED:
        messages.success(request, _t("INS du datamatrix confirmé par INSi (vérification OK) et intégré. %(message)s") % {
            "message": reception.message})
    elif reception.outcome == Reception.TRAITS_ONLY:
        messages.error(request, _t("INS du datamatrix refusé : INSi ne le confirme pas pour ces traits (vérification KO). "
                                   "Seuls les traits sont gardés ; la CIV est alertée."))
    else:
        messages.info(request, reception.message)


def _integrate(request):
    """A found identity takes the datamatrix's INS once INSi confirms it (OK), never on a KO."""
    form = DatamatrixReadForm({"scan": request.POST.get("payload", "")})
    if not form.is_valid():
        return _page(request, "documents/datamatrix_read.html", {"title": _t("Lecture d'un datamatrix INS"), "form": form}, status=400)
    identity_id = request.POST.get("identity_id", "")
    if not identity_id.isdigit():
        raise Http404
    ins = form.cleaned_data["ins"]
    try:
        reception = reception_verify_ins(actor=request.user, identity_id=int(identity_id), matricule_value=ins.matricule, oid=ins.oid)
    except ServiceError as error:
        messages.error(request, error.message)
        return _read_result(request, form, status=400)
    _reception_message(request, reception)
    return redirect(identity_url(int(identity_id)))


urlpatterns = [
    path("identites/<int:identity_id>/fiche.pdf", identity_document, name="identity_document"),
    path("etiquettes/", identity_labels, name="identity_labels"),
    path("etiquettes/impressions/", label_jobs, name="label_jobs"),
    path("etiquettes/impressions/<int:job_id>/", label_job, name="label_job"),
    path("etiquettes/impressions/<int:job_id>/etiquettes.pdf", label_job_download, name="label_job_download"),
    path("datamatrix/", datamatrix_read, name="datamatrix_read"),
]
