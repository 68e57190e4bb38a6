"""Matching's tables: stored blocking keys, the estimated model, the thresholds, sweep runs and their parts, scored pairs, and the truth of generated identities."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from identities.core import roles
from identities.core.models import Identity, WorklistItem


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


class MatchKey(models.Model):
    """One blocking key code of one identity: the desk finds its candidates by ``code IN (...)``, never a scan.

    Kept up to date from the core's identity events (``receivers``) and rebuilt in bulk after
    a bulk load; the codes are ``blocking.key_code`` of the engine's keys, plus the desk's
    name-only sound key for a search typed with a name alone.
    """

    identity = models.ForeignKey(Identity, on_delete=models.CASCADE, related_name="+", verbose_name=_("identité"))
    code = models.BigIntegerField(_("code de clé"))

    class Meta:
        verbose_name = _("clé de rapprochement")
        verbose_name_plural = _("clés de rapprochement")
        indexes = [models.Index(fields=["code"], name="matchkey_code"), models.Index(fields=["identity"], name="matchkey_identity")]


class MatchingSettings(models.Model):
    """The band thresholds (match weight, in bits) the CIV referent sets; one row."""

    probable = models.FloatField(_("seuil « doublon probable » (score)"), default=10.0)
    possible = models.FloatField(_("seuil « doublon possible » (score)"), default=4.0)
    updated_at = models.DateTimeField(_("modifié le"), auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("modifié par")
    )

    class Meta:
        verbose_name = _("réglage du rapprochement des doublons")
        verbose_name_plural = _("réglages du rapprochement des doublons")
        permissions = [("change_matching_thresholds", _("Régler les seuils des doublons probables et possibles (référent CIV)"))]
        constraints = [
            models.CheckConstraint(condition=models.Q(probable__gte=models.F("possible")), name="matchingsettings_probable_above_possible"),
        ]

    def __str__(self) -> str:
        return str(_("probable dès %(probable)s, possible dès %(possible)s") % {"probable": self.probable, "possible": self.possible})


class MatchModel(models.Model):
    """The Fellegi–Sunter model (m/u per level, prior, term frequencies) estimated by a sweep; the desk uses the newest."""

    class Source(models.TextChoices):
        SWEEP = "SWEEP", _("Estimé sur la base par un passage complet")
        GENERATED = "GENERATED", _("Estimé sur des identités générées (base encore sans passage)")

    created_at = models.DateTimeField(_("estimé le"), auto_now_add=True)
    source = models.CharField(_("origine"), max_length=9, choices=Source.choices, default=Source.SWEEP)
    identities = models.PositiveIntegerField(_("identités"), default=0)
    data = models.TextField(_("modèle (JSON)"))

    class Meta:
        verbose_name = _("modèle de rapprochement")
        verbose_name_plural = _("modèles de rapprochement")
        ordering = ["-created_at", "-id"]


class SweepRun(models.Model):
    """One pass of the duplicate sweep over the whole base, split in parts that workers take in parallel."""

    class State(models.TextChoices):
        RUNNING = "RUNNING", _("En cours")
        DONE = "DONE", _("Terminé")

    started_at = models.DateTimeField(_("démarré le"), auto_now_add=True)
    finished_at = models.DateTimeField(_("terminé le"), null=True, blank=True)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+",
                                   verbose_name=_("lancé par"))
    state = models.CharField(_("état"), max_length=7, choices=State.choices, default=State.RUNNING)
    model = models.ForeignKey(MatchModel, on_delete=models.PROTECT, related_name="+", verbose_name=_("modèle"))
    identities = models.PositiveIntegerField(_("identités"), default=0)

    class Meta:
        verbose_name = _("passage de détection des doublons")
        verbose_name_plural = _("passages de détection des doublons")
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} n° {self.pk}"


class SweepPart(models.Model):
    """One hash range of blocking keys of a run: claimed by a worker, done once (its pairs written with its state)."""

    class State(models.TextChoices):
        PENDING = "PENDING", _("En attente")
        RUNNING = "RUNNING", _("En cours")
        DONE = "DONE", _("Terminée")

    run = models.ForeignKey(SweepRun, on_delete=models.CASCADE, related_name="parts", verbose_name=_("passage"))
    number = models.PositiveIntegerField(_("partie"))
    state = models.CharField(_("état"), max_length=7, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(_("tentatives"), default=0)
    started_at = models.DateTimeField(_("prise le"), null=True, blank=True)
    finished_at = models.DateTimeField(_("terminée le"), null=True, blank=True)
    candidates = models.PositiveIntegerField(_("paires comparées"), default=0)
    proposed = models.PositiveIntegerField(_("paires proposées"), default=0)
    new = models.PositiveIntegerField(_("paires nouvelles ou rouvertes"), default=0)

    class Meta:
        verbose_name = _("partie d'un passage")
        verbose_name_plural = _("parties d'un passage")
        ordering = ["run", "number"]
        constraints = [models.UniqueConstraint(fields=["run", "number"], name="sweeppart_one_per_number")]


class MatchPair(models.Model):
    """What the engine said of a queued pair (a DPOT or HOMD worklist item): score, band, kind, explanation, fingerprint."""

    class Band(models.TextChoices):
        CERTAIN = "certain", _("doublon certain (même matricule INS)")
        PROBABLE = "probable", _("doublon probable")
        POSSIBLE = "possible", _("doublon possible")
        NONE = "", _("—")

    class Kind(models.TextChoices):
        DUPLICATE = "DUPLICATE", _("doublon")
        INS_COLLISION = "INS", _("doublon certain : même matricule INS (collision)")
        HOMONYM = "HOMONYM", _("homonymes")

    item = models.OneToOneField(WorklistItem, on_delete=models.CASCADE, primary_key=True, related_name="match",
                                verbose_name=_("élément de file de travail"))
    score = models.FloatField(_("score"), db_index=True)
    band = models.CharField(_("bande"), max_length=8, choices=Band.choices, blank=True)
    kind = models.CharField(_("nature"), max_length=9, choices=Kind.choices)
    explanation = models.JSONField(_("explication"), default=list)
    # Of both identities' traits when the pair was last scored: a dismissed pair comes back only if it changes.
    fingerprint = models.CharField(_("empreinte des traits"), max_length=32)
    run = models.ForeignKey(SweepRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("passage"))
    scored_at = models.DateTimeField(_("évalué le"), auto_now=True)

    class Meta:
        verbose_name = _("paire évaluée")
        verbose_name_plural = _("paires évaluées")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.score:+.1f}"


# The referent sets the thresholds; everybody who sees the queues sees them.
roles.register_role_permissions(roles.CIV_REFERENT, "identities", [
    "view_matchingsettings", "change_matchingsettings", "change_matching_thresholds", "view_sweeprun", "view_sweeppart",
])
roles.register_role_permissions(roles.CIV_MEMBER, "identities", ["view_matchingsettings", "view_sweeprun", "view_sweeppart"])
