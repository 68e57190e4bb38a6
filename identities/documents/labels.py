"""Writes around paper: label profiles, and printing documents and labels with its audit trail.

A label print above ``settings.LABEL_JOB_ABOVE`` labels is a **label job**: the request
records it (with the audit of the print) and a Celery worker renders it sheet after sheet,
then keeps the PDF in the job's row until the purge (``settings.LABEL_JOB_RETENTION_HOURS``).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from identities.core import selectors
from identities.core.diffusion import shareable_ins
from identities.core.errors import NotAllowed, RuleViolation, require_permission
from identities.core.models import Identity, IdentityEvent
from identities.core.queue import enqueue
from identities.documents import selectors as printing
from identities.documents.models import LabelFormat, LabelJob, LabelProfile
from identities.documents import render as documents

logger = logging.getLogger(__name__)

# Traits a profile may add; the minimum (birth name, first birth given name, birth date,
# sex, status, homonym warning) has no switch at all, so no profile can drop it.
EXTRA_TRAITS = {
    "birth_given_names": "show_birth_given_names",
    "used_name": "show_used_name",
    "used_given_name": "show_used_given_name",
    "birthplace": "show_birthplace",
    "ipp": "show_ipp",
    "ins": "show_ins",
    "datamatrix": "show_datamatrix",
}
MINIMUM_TRAITS = {
    "birth_name": "nom de naissance",
    "first_birth_given_name": "premier prénom de naissance",
    "birth_date": "date de naissance",
    "sex": "sexe",
    "status": "statut",
}
MAX_COPIES = 100
# One job is one WeasyPrint render held in memory (about 200 KiB a label): past this, split it.
MAX_LABELS_PER_JOB = 2000
JOB_TASK = "identities.documents.render_label_job"


def _owner(actor, existing: LabelProfile | None, *, shared: bool):
    """Shared profiles have no owner; a personal one keeps its owner when a referent edits it."""
    if shared:
        return None
    return existing.owner if existing and existing.owner_id else actor


def label_profile_check(
    *, actor, name: str, label_format_id: int, extra_traits=(), site: str = "", shared: bool = False, profile_id: int | None = None
) -> LabelFormat:
    """Every rule of a label profile, without writing (the admin form shows the message on the field).

    ``extra_traits`` lists what is added to the minimum; naming a minimum trait is refused,
    because it is always printed and cannot be switched off.
    """
    require_permission(actor, "identities.change_labelprofile" if profile_id else "identities.add_labelprofile",
             "Refusé : vous n'avez pas le droit de modifier les profils d'étiquettes.")
    if shared and not actor.has_perm("identities.manage_label_settings"):
        raise NotAllowed("Refusé : seul un référent peut créer ou modifier un profil partagé par le site.")
    if not name.strip():
        raise RuleViolation("le nom du profil est obligatoire", field="name")
    for code in extra_traits:
        if code in MINIMUM_TRAITS:
            raise RuleViolation(
                f"« {MINIMUM_TRAITS[code]} » fait partie du minimum imprimé sur toute étiquette : il ne se choisit pas et ne peut pas être retiré",
                field="extra_traits",
            )
        if code not in EXTRA_TRAITS:
            raise RuleViolation(f"trait « {code} » inconnu (choix possibles : {', '.join(EXTRA_TRAITS)})", field="extra_traits")
    label_format = printing.label_formats().filter(pk=label_format_id).first()
    if label_format is None:
        raise RuleViolation("format d'étiquettes inconnu ou désactivé", field="label_format")
    existing = LabelProfile.objects.filter(pk=profile_id).first() if profile_id else None
    if profile_id and existing is None:
        raise RuleViolation("profil d'étiquettes introuvable")
    if existing and existing.owner_id != actor.pk and not actor.has_perm("identities.manage_label_settings"):
        raise NotAllowed("Refusé : ce profil ne vous appartient pas.")
    owner = _owner(actor, existing, shared=shared)
    if LabelProfile.objects.filter(owner=owner, site=site.strip(), name=name.strip()).exclude(pk=profile_id).exists():
        raise RuleViolation(f"un profil « {name.strip()} » existe déjà pour ce site ou cet utilisateur", field="name")
    return label_format


def label_profile_save(
    *,
    actor,
    name: str,
    label_format_id: int,
    extra_traits: list[str] | tuple[str, ...] = (),
    site: str = "",
    shared: bool = False,
    profile_id: int | None = None,
) -> LabelProfile:
    """Create or change a label profile: personal (the actor's own) or shared by a site."""
    with transaction.atomic():
        if profile_id:
            # Locked first, so two editors of one profile are checked one after the other.
            LabelProfile.objects.select_for_update().filter(pk=profile_id).first()
        label_format = label_profile_check(actor=actor, name=name, label_format_id=label_format_id, extra_traits=extra_traits,
                                           site=site, shared=shared, profile_id=profile_id)
        profile = LabelProfile.objects.get(pk=profile_id) if profile_id else LabelProfile()
        profile.name, profile.site, profile.label_format = name.strip(), site.strip(), label_format
        profile.owner = _owner(actor, profile if profile_id else None, shared=shared)
        for code, attribute in EXTRA_TRAITS.items():
            setattr(profile, attribute, code in extra_traits)
        profile.updated_by = actor
        profile._history_user = actor
        profile._change_reason = "Profil d'étiquettes enregistré"
        profile.save()
    return profile


def _record_printing(actor, identities: list[Identity], **details) -> None:
    """One audit event per identity: a print carrying a matricule is a share of the INS."""
    IdentityEvent.objects.bulk_create(
        IdentityEvent(
            identity=identity, kind=IdentityEvent.Kind.PRINTED, actor=actor, actor_name=actor.get_username(),
            details={**details, "ins_printed": details["ins_allowed"] and shareable_ins(identity) is not None},
        )
        for identity in identities
    )


def identity_print_document(*, actor, identity_id: int) -> bytes:
    """The A4 identity document of one identity, recorded in its audit trail."""
    require_permission(actor, "identities.print_identity", "Refusé : vous n'avez pas le droit d'imprimer des documents d'identité.")
    found = selectors.identities_for_printing([identity_id])
    if not found:
        raise RuleViolation(f"identité {identity_id} introuvable ou désactivée")
    pdf = documents.render_identity_document(found[0], printed_by=actor.get_username())
    with transaction.atomic():
        _record_printing(actor, found, document="fiche", ins_allowed=True)
    return pdf


@dataclass(frozen=True)
class LabelPrint:
    """A label print: its PDF at once, or the background job that will render it."""

    pdf: bytes | None
    job: LabelJob | None
    labels: int
    skipped: int  # selected identities not printed (merged away or deleted meanwhile)


def identities_print_labels(
    *, actor, identity_ids: list[int], profile_id: int, label_format_id: int | None = None, copies: int = 1
) -> LabelPrint:
    """A sheet (or roll) of labels for one identity or a selection, ``copies`` of each.

    Up to ``settings.LABEL_JOB_ABOVE`` labels the PDF is rendered here; above, a label job is
    recorded and queued, and the PDF comes later from the job (``label_job_pdf``).
    """
    require_permission(actor, "identities.print_identity", "Refusé : vous n'avez pas le droit d'imprimer des étiquettes.")
    if not 1 <= copies <= MAX_COPIES:
        raise RuleViolation(f"nombre d'exemplaires entre 1 et {MAX_COPIES}", field="copies")
    profile = printing.label_profiles_for(actor).filter(pk=profile_id).first()
    if profile is None:
        raise RuleViolation("profil d'étiquettes inconnu ou réservé à un autre utilisateur", field="profile")
    label_format = (
        printing.label_formats().filter(pk=label_format_id).first() if label_format_id else profile.label_format
    )
    if label_format is None or not label_format.active:
        raise RuleViolation("format d'étiquettes inconnu ou désactivé", field="label_format")
    identities = selectors.identities_for_printing(list(identity_ids))
    if not identities:
        raise RuleViolation("aucune identité active à imprimer", field="identities")
    labels = len(identities) * copies
    if labels > MAX_LABELS_PER_JOB:
        raise RuleViolation(
            f"{labels} étiquettes demandées : {MAX_LABELS_PER_JOB} au plus par impression, scindez la sélection",
            field="copies",
        )
    skipped = len(set(identity_ids)) - len(identities)
    audit = {"document": "etiquettes", "label_format": label_format.code, "profile": profile.pk, "copies": copies,
             "ins_allowed": profile.show_ins or profile.show_datamatrix}
    if labels > settings.LABEL_JOB_ABOVE:
        with transaction.atomic():
            job = LabelJob.objects.create(
                requested_by=actor, identity_ids=[ident.pk for ident in identities], profile=profile, label_format=label_format,
                copies=copies, labels=labels, pages_total=documents.sheets_for(labels, label_format),
            )
            _record_printing(actor, identities, **audit, job=job.pk)
            transaction.on_commit(partial(enqueue, JOB_TASK, job.pk))
        return LabelPrint(pdf=None, job=job, labels=labels, skipped=skipped)
    pdf = documents.render_labels(identities, label_format=label_format, profile=profile, copies=copies)
    with transaction.atomic():
        _record_printing(actor, identities, **audit)
    return LabelPrint(pdf=pdf, job=None, labels=labels, skipped=skipped)


# --- Label jobs: rendered by a worker, followed on their page, downloaded, purged ---

TECHNICAL_FAILURE = ("erreur technique pendant le rendu des étiquettes : relancez l'impression ; "
                     "si l'échec se répète, prévenez l'administrateur")


def label_job_for(*, actor, job_id: int) -> LabelJob:
    """The job if ``actor`` may follow it (``printing.label_jobs_for``), NotAllowed otherwise."""
    if not LabelJob.objects.filter(pk=job_id).exists():
        raise RuleViolation("impression d'étiquettes introuvable")
    job = printing.label_jobs_for(actor).filter(pk=job_id).first()
    if job is None:
        raise NotAllowed("Refusé : cette impression d'étiquettes a été demandée par un autre utilisateur.")
    return job


def label_job_pdf(*, actor, job_id: int) -> bytes:
    """The PDF of a finished job, for whoever may follow the job (the print itself was recorded when it was asked)."""
    job = label_job_for(actor=actor, job_id=job_id)
    if job.state != LabelJob.State.DONE:
        raise RuleViolation("les étiquettes ne sont pas encore prêtes")
    pdf = LabelJob.objects.filter(pk=job.pk).values_list("pdf", flat=True).get()
    if pdf is None:
        raise RuleViolation(
            f"le PDF de cette impression a été supprimé ({settings.LABEL_JOB_RETENTION_HOURS} h après la fin) : relancez l'impression"
        )
    return bytes(pdf)


def label_job_retry(*, actor, job_id: int) -> LabelJob:
    """A failed or stalled job (``LabelJob.retryable``) queued again as it was asked, by whoever may follow it."""
    with transaction.atomic():
        job = label_job_for(actor=actor, job_id=job_id)
        retried = LabelJob.objects.filter(LabelJob.retryable(), pk=job.pk).update(
            state=LabelJob.State.QUEUED, error="", pages_done=0, started_at=None, finished_at=None, progress_at=None,
        )
        if not retried:
            raise RuleViolation("seule une impression échouée ou interrompue peut être relancée")
        transaction.on_commit(partial(enqueue, JOB_TASK, job.pk))
    job.refresh_from_db()
    return job


def _job_failed(job_id: int, message: str) -> None:
    LabelJob.objects.filter(pk=job_id).update(state=LabelJob.State.FAILED, error=message, finished_at=timezone.now())


def label_job_work(job_id: int) -> str:
    """The worker's part: render a queued job sheet after sheet (progress in its row), keep its PDF.

    Idempotent: a job is claimed by compare-and-swap from QUEUED, so a duplicate message finds
    nothing to do. The diffusion gate is asked now, when the labels are drawn: an identity no
    longer qualified prints without its matricule, whatever it was when the job was asked.
    """
    now = timezone.now()
    if not LabelJob.objects.filter(pk=job_id, state=LabelJob.State.QUEUED).update(
        state=LabelJob.State.RUNNING, started_at=now, progress_at=now, attempts=F("attempts") + 1, pages_done=0,
    ):
        return "nothing to do"
    job = LabelJob.objects.select_related("profile", "label_format").defer("pdf").get(pk=job_id)
    profile, label_format = job.profile, job.label_format
    if profile is None:
        _job_failed(job.pk, "le profil d'étiquettes choisi a été supprimé entre-temps : relancez l'impression avec un autre profil")
        return "failed"
    if not label_format.active:
        _job_failed(job.pk, f"le format d'étiquettes « {label_format.name} » a été désactivé entre-temps : "
                            "faites-le réactiver ou relancez l'impression avec un autre format")
        return "failed"
    identities = selectors.identities_for_printing(job.identity_ids)
    if not identities:
        _job_failed(job.pk, "aucune des identités choisies n'est encore active (fusionnées ou désactivées entre-temps)")
        return "failed"
    pages_total = documents.sheets_for(len(identities) * job.copies, label_format)
    LabelJob.objects.filter(pk=job.pk).update(pages_total=pages_total)
    try:
        pdf = documents.render_labels(
            identities, label_format=label_format, profile=profile, copies=job.copies, chunk_pages=settings.LABEL_JOB_CHUNK_PAGES,
            on_progress=lambda done: LabelJob.objects.filter(pk=job.pk).update(pages_done=done, progress_at=timezone.now()),
        )
    except Exception as error:  # noqa: BLE001 — whatever WeasyPrint raises, the user reads why on the page and may retry
        logger.error("label job %s failed while rendering: %s", job.pk, type(error).__name__)
        _job_failed(job.pk, TECHNICAL_FAILURE)
        return "failed"
    ins_printed = [ident.pk for ident in identities if shareable_ins(ident)] if profile.show_ins or profile.show_datamatrix else []
    LabelJob.objects.filter(pk=job.pk, state=LabelJob.State.RUNNING).update(
        state=LabelJob.State.DONE, pdf=pdf, pdf_size=len(pdf), pages_done=pages_total, finished_at=timezone.now(),
        ins_printed_ids=ins_printed,
    )
    return "done"


def label_jobs_purge(*, older_than_hours: int) -> int:
    """The PDFs of jobs finished more than ``older_than_hours`` ago are dropped; the rows stay (who printed what, when)."""
    cutoff = timezone.now() - timedelta(hours=older_than_hours)
    return LabelJob.objects.filter(state=LabelJob.State.DONE, finished_at__lt=cutoff, pdf__isnull=False).update(
        pdf=None, purged_at=timezone.now(),
    )
