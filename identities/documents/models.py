"""Label formats and label profiles (domain.md §5): how each site or user prints identities."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
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


# Printing and the label settings join the roles where their permissions are declared.
_PRINTING = ["print_identity", "view_labelformat", "view_labelprofile", "add_labelprofile", "change_labelprofile"]
for _role in (roles.FRONT_DESK, roles.CIV_MEMBER):
    roles.register_role_permissions(_role, "identities", _PRINTING)
roles.register_role_permissions(
    roles.CIV_REFERENT, "identities",
    [*_PRINTING, "manage_label_settings", "delete_labelprofile", "add_labelformat", "change_labelformat"],
)
