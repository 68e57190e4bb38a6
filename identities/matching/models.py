"""The truth of generated identities: which records are one person, so matching can be scored."""
from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from identities.core.models import Identity


class SyntheticLabel(models.Model):
    """Ground truth of generated identities: which records are one person, which are true homonyms.

    Only members of a cluster are labelled; an unlabelled generated identity is a person
    recorded once. Filled by ``generate_identities`` so matching can be scored.
    """

    class Kind(models.TextChoices):
        ORIGINAL = "ORIGINAL", _("Fiche d'origine d'une personne dupliquée")
        DUPLICATE = "DUPLICATE", _("Doublon : la même personne, saisie à nouveau avec des écarts")
        HOMONYM = "HOMONYM", _("Homonyme : une autre personne, mêmes nom, premier prénom et date de naissance")

    identity = models.OneToOneField(
        Identity, on_delete=models.CASCADE, primary_key=True, related_name="synthetic_label", verbose_name=_("identité")
    )
    cluster = models.BigIntegerField(_("groupe"), db_index=True)
    kind = models.CharField(_("nature"), max_length=9, choices=Kind.choices)
    detail = models.CharField(_("écarts de saisie"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("étiquette d'identité générée")
        verbose_name_plural = _("étiquettes d'identités générées")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} (groupe {self.cluster})"
