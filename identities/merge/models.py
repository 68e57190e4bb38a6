"""Records of the merge capability: the merge log (proposals, merges, unmerges), the four-eyes setting, collisions.

Loaded with the ``identities`` app (imported by identities/models.py); foreign keys to the
core's models are named as strings.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from identities.core import roles


class MergePolicy(models.Model):
    """How the facility merges: one row, set by a CIV referent (four eyes or not)."""

    four_eyes = models.BooleanField(
        _("double validation (quatre yeux)"), default=False,
        help_text=_("Activée : un membre de la CIV propose la fusion, une autre personne l'approuve avant qu'elle soit faite."),
    )
    updated_at = models.DateTimeField(_("modifiée le"), auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("règle de fusion")
        verbose_name_plural = _("règles de fusion")
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="mergepolicy_single_row")]

    def __str__(self) -> str:
        return str(_("Double validation activée") if self.four_eyes else _("Fusion sans double validation"))


class Merge(models.Model):
    """One merge of a duplicate pair: proposed, done (with what it moved), possibly undone.

    ``snapshot`` keeps both identities as they were just before the merge and the survivor
    as the merge left it; ``moved`` the ids of every dependent row carried over: an unmerge
    restores from them and nothing else.
    """

    class State(models.TextChoices):
        PROPOSED = "PROPOSED", _("Proposée, à valider")
        DONE = "DONE", _("Fusionnée")
        REJECTED = "REJECTED", _("Proposition refusée")
        UNMERGED = "UNMERGED", _("Défusionnée")

    survivor = models.ForeignKey("identities.Identity", on_delete=models.PROTECT, related_name="+", verbose_name=_("identité conservée"))
    absorbed = models.ForeignKey("identities.Identity", on_delete=models.PROTECT, related_name="+", verbose_name=_("identité absorbée"))
    state = models.CharField(_("état"), max_length=8, choices=State.choices)
    survivor_rule = models.TextField(_("choix de l'identité conservée"))
    kept_traits = models.JSONField(_("traits complémentaires retenus"), default=dict, blank=True)
    reason = models.TextField(_("motif"), blank=True)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("proposée par")
    )
    proposed_at = models.DateTimeField(_("proposée le"), auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("faite ou refusée par"),
    )
    merged_at = models.DateTimeField(_("fusionnée le"), null=True, blank=True, db_index=True)
    rejection_reason = models.TextField(_("motif du refus"), blank=True)
    snapshot = models.JSONField(_("état des identités à la fusion"), default=dict, blank=True, editable=False)
    moved = models.JSONField(_("éléments repris par l'identité conservée"), default=dict, blank=True, editable=False)
    unmerged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("défusionnée par")
    )
    unmerged_at = models.DateTimeField(_("défusionnée le"), null=True, blank=True)
    unmerge_reason = models.TextField(_("motif de la défusion"), blank=True)
    # What changed on the survivor between the merge and the unmerge: kept there, listed for review.
    to_review = models.JSONField(_("à revoir après la défusion"), default=list, blank=True, editable=False)

    class Meta:
        verbose_name = _("fusion d'identités")
        verbose_name_plural = _("journal des fusions")
        ordering = ["-proposed_at", "-id"]
        permissions = [
            ("merge_identities", _("Fusionner les identités d'un doublon avéré (ou proposer la fusion)")),
            ("merge_any_pair", _("Fusionner deux identités choisies à la main (référent CIV)")),
            ("approve_merge", _("Approuver ou refuser une fusion proposée (double validation)")),
            ("unmerge_identities", _("Défusionner deux identités (référent CIV)")),
            ("configure_merge", _("Régler la fusion (double validation)")),
        ]
        indexes = [models.Index(fields=["state", "merged_at"], name="merge_state_at")]
        constraints = [
            models.CheckConstraint(condition=~Q(survivor=models.F("absorbed")), name="merge_two_records"),
            # An identity waits in one proposal at a time.
            models.UniqueConstraint(fields=["absorbed"], condition=Q(state="PROPOSED"), name="merge_one_proposal_per_absorbed"),
        ]

    def __str__(self) -> str:
        return f"{self.absorbed_id} → {self.survivor_id} ({self.get_state_display()})"


class Collision(models.Model):
    """One record suspected (COLP) or confirmed (COLV) to hold two people, until dismissed or split."""

    class State(models.TextChoices):
        SUSPECTED = "COLP", _("Collision potentielle (à instruire)")
        CONFIRMED = "COLV", _("Collision avérée (à séparer)")
        DISMISSED = "DISMISSED", _("Écartée : une seule personne")
        SPLIT = "SPLIT", _("Séparée : deuxième identité créée")

    identity = models.ForeignKey("identities.Identity", on_delete=models.PROTECT, related_name="+", verbose_name=_("identité"))
    state = models.CharField(_("état"), max_length=9, choices=State.choices)
    reason = models.TextField(_("motif du signalement"))
    automatic = models.BooleanField(_("détectée automatiquement"), default=False)
    flagged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("signalée par"))
    flagged_at = models.DateTimeField(_("signalée le"), auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("décidée par")
    )
    decided_at = models.DateTimeField(_("décidée le"), null=True, blank=True)
    decision_note = models.TextField(_("commentaire"), blank=True)
    second_identity = models.ForeignKey(
        "identities.Identity", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("identité de la deuxième personne"),
    )
    moves = models.JSONField(_("éléments déplacés"), default=list, blank=True, editable=False)

    class Meta:
        verbose_name = _("collision")
        verbose_name_plural = _("collisions")
        ordering = ["-flagged_at", "-id"]
        permissions = [
            ("manage_collisions", _("Signaler, confirmer ou écarter les collisions ; signaler ou lever une usurpation")),
            ("split_collision", _("Séparer une collision avérée (référent CIV)")),
        ]
        constraints = [
            models.UniqueConstraint(fields=["identity"], condition=Q(state__in=["COLP", "COLV"]), name="collision_one_open_per_identity"),
        ]

    def __str__(self) -> str:
        return f"{self.get_state_display()} : {self.identity_id}"

    @property
    def is_open(self) -> bool:
        return self.state in (self.State.SUSPECTED, self.State.CONFIRMED)


_CIV = ["view_merge", "merge_identities", "approve_merge", "view_collision", "manage_collisions"]
roles.register_role_permissions(roles.CIV_MEMBER, "identities", _CIV)
roles.register_role_permissions(
    roles.CIV_REFERENT, "identities",
    [*_CIV, "merge_any_pair", "unmerge_identities", "configure_merge", "split_collision", "view_mergepolicy", "change_mergepolicy"],
)
roles.register_role_permissions(roles.MANAGER, "identities", ["view_merge", "view_collision"])
