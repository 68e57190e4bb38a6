"""Label formats and label profiles (domain.md §5): how each site or user prints identities; label jobs rendered in the background."""
from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from identities.core import roles

_MM = {"max_digits": 6, "decimal_places": 2}


class LabelFormat(models.Model):
    """A sheet or roll of labels: page size, grid and label size, in millimetres."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("libellé"), max_length=120)
    page_width_mm = models.DecimalField(_("largeur de page (mm)"), **_MM)
    page_height_mm = models.DecimalField(_("hauteur de page (mm)"), **_MM)
    columns = models.PositiveSmallIntegerField(_("colonnes"), default=1)
    rows = models.PositiveSmallIntegerField(_("lignes"), default=1)
    label_width_mm = models.DecimalField(_("largeur d'étiquette (mm)"), **_MM)
    label_height_mm = models.DecimalField(_("hauteur d'étiquette (mm)"), **_MM)
    margin_top_mm = models.DecimalField(_("marge haute (mm)"), default=0, **_MM)
    margin_left_mm = models.DecimalField(_("marge gauche (mm)"), default=0, **_MM)
    column_gap_mm = models.DecimalField(_("espace entre colonnes (mm)"), default=0, **_MM)
    row_gap_mm = models.DecimalField(_("espace entre lignes (mm)"), default=0, **_MM)
    padding_mm = models.DecimalField(_("marge intérieure (mm)"), default=2, **_MM)
    font_size_pt = models.DecimalField(_("taille du texte (pt)"), max_digits=4, decimal_places=1, default=8)
    # Printers differ: a module must cover whole dots on a thermal head to stay readable.
    datamatrix_module_mm = models.DecimalField(_("module du datamatrix (mm)"), max_digits=4, decimal_places=3, default=0.5)
    active = models.BooleanField(_("proposé"), default=True)
    position = models.PositiveSmallIntegerField(_("ordre"), default=0)

    class Meta:
        verbose_name = _("format d'étiquettes")
        verbose_name_plural = _("formats d'étiquettes")
        ordering = ["position", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(columns__gte=1, rows__gte=1, label_width_mm__gt=0, label_height_mm__gt=0),
                name="labelformat_positive_grid",
                violation_error_message=_("Au moins une colonne, une ligne et une étiquette de taille non nulle."),
            ),
            models.CheckConstraint(
                condition=Q(
                    page_width_mm__gte=models.F("margin_left_mm")
                    + models.F("columns") * models.F("label_width_mm")
                    + (models.F("columns") - 1) * models.F("column_gap_mm"),
                    page_height_mm__gte=models.F("margin_top_mm")
                    + models.F("rows") * models.F("label_height_mm")
                    + (models.F("rows") - 1) * models.F("row_gap_mm"),
                ),
                name="labelformat_grid_fits_page",
                violation_error_message=_("La grille d'étiquettes (marges, étiquettes et espaces) dépasse de la page."),
            ),
        ]

    def __str__(self) -> str:
        return str(self.name)

    @property
    def per_page(self) -> int:
        return self.columns * self.rows


class LabelProfile(models.Model):
    """Which traits a site or a user adds to labels; the minimum is always printed and has no switch."""

    name = models.CharField(_("nom du profil"), max_length=120)
    site = models.CharField(_("site ou service"), max_length=120, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        verbose_name=_("utilisateur"), help_text=_("Vide : profil partagé du site."),
    )
    label_format = models.ForeignKey(LabelFormat, on_delete=models.PROTECT, related_name="+", verbose_name=_("format par défaut"))
    show_birth_given_names = models.BooleanField(_("liste des prénoms de naissance"), default=False)
    show_used_name = models.BooleanField(_("nom utilisé"), default=True)
    show_used_given_name = models.BooleanField(_("prénom utilisé"), default=True)
    show_birthplace = models.BooleanField(_("lieu de naissance"), default=False)
    show_ipp = models.BooleanField(_("identifiant permanent (IPP)"), default=False)
    show_ins = models.BooleanField(_("matricule INS et sa nature (identité qualifiée seulement)"), default=True)
    show_datamatrix = models.BooleanField(_("datamatrix INS (identité qualifiée seulement)"), default=True)
    updated_at = models.DateTimeField(_("modifié le"), auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("profil d'étiquettes")
        verbose_name_plural = _("profils d'étiquettes")
        ordering = ["site", "name"]
        permissions = [
            ("print_identity", _("Imprimer les fiches et étiquettes d'identité")),
            ("manage_label_settings", _("Gérer les formats d'étiquettes et les profils partagés")),
        ]

    def __str__(self) -> str:
        return f"{self.site} — {self.name}" if self.site else str(self.name)


class LabelJob(models.Model):
    """A label job too large for the request: rendered by a Celery worker, its PDF kept here until the purge.

    The PDF lives in the row (about 0.9 MiB for 1,000 labels, 2,000 labels at most): the web
    and the workers share the database, not a disk, and the purge is one UPDATE.
    """

    class State(models.TextChoices):
        QUEUED = "QUEUED", _("en attente")
        RUNNING = "RUNNING", _("en cours")
        DONE = "DONE", _("terminée")
        FAILED = "FAILED", _("échouée")

    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("demandée par"))
    created_at = models.DateTimeField(_("demandée le"), auto_now_add=True)
    started_at = models.DateTimeField(_("commencée le"), null=True, blank=True)
    finished_at = models.DateTimeField(_("terminée le"), null=True, blank=True)
    state = models.CharField(_("état"), max_length=8, choices=State.choices, default=State.QUEUED)
    identity_ids = models.JSONField(_("identités"), default=list)
    profile = models.ForeignKey(LabelProfile, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("profil"))
    label_format = models.ForeignKey(LabelFormat, on_delete=models.PROTECT, related_name="+", verbose_name=_("format"))
    copies = models.PositiveSmallIntegerField(_("exemplaires par identité"), default=1)
    labels = models.PositiveIntegerField(_("étiquettes"))
    pages_total = models.PositiveIntegerField(_("pages"))
    pages_done = models.PositiveIntegerField(_("pages rendues"), default=0)
    progress_at = models.DateTimeField(_("dernier progrès le"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("tentatives"), default=0)
    error = models.TextField(_("motif de l'échec"), blank=True)
    # Identities whose matricule the diffusion gate let onto this PDF, asked when it was rendered.
    ins_printed_ids = models.JSONField(_("identités imprimées avec leur matricule"), default=list)
    pdf = models.BinaryField(_("PDF"), null=True, editable=False)
    pdf_size = models.PositiveIntegerField(_("taille du PDF (octets)"), null=True)
    purged_at = models.DateTimeField(_("PDF supprimé le"), null=True, blank=True)

    class Meta:
        verbose_name = _("impression d'étiquettes en tâche de fond")
        verbose_name_plural = _("impressions d'étiquettes en tâche de fond")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["requested_by", "-created_at"], name="labeljob_requester_idx")]
        permissions = [("view_every_label_job", _("Suivre et télécharger les impressions d'étiquettes de tous les utilisateurs"))]

    def __str__(self) -> str:
        return f"{self.labels} étiquettes — {self.get_state_display()}"

    @property
    def is_live(self) -> bool:
        return self.state in (self.State.QUEUED, self.State.RUNNING)

    @classmethod
    def retryable(cls) -> Q:
        """Failed, or stalled: running with no sheet laid out for LABEL_JOB_STALLED_MINUTES (its worker was stopped)."""
        stalled_since = timezone.now() - timedelta(minutes=settings.LABEL_JOB_STALLED_MINUTES)
        return Q(state=cls.State.FAILED) | Q(state=cls.State.RUNNING, progress_at__lt=stalled_since)

    @property
    def stalled(self) -> bool:
        return self.state == self.State.RUNNING and LabelJob.objects.filter(self.retryable(), pk=self.pk).exists()

    @property
    def percent(self) -> int:
        return round(100 * self.pages_done / self.pages_total) if self.pages_total else 0


# Printing and the label settings join the roles where their permissions are declared.
_PRINTING = ["print_identity", "view_labelformat", "view_labelprofile", "add_labelprofile", "change_labelprofile"]
for _role in (roles.FRONT_DESK, roles.CIV_MEMBER):
    roles.register_role_permissions(_role, "identities", _PRINTING)
roles.register_role_permissions(
    roles.CIV_REFERENT, "identities",
    [*_PRINTING, "manage_label_settings", "delete_labelprofile", "add_labelformat", "change_labelformat", "view_every_label_job"],
)
