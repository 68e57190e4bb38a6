"""Records of the INSi workflows: recovery attempts, verification campaigns, their runs and per-identity items."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from identities.core import roles


class InsiRecovery(models.Model):
    """One recovery of an identity's INS through INSi: what was asked, what came back, what was decided."""

    class Method(models.TextChoices):
        TRAITS = "TRAITS", _("Recherche par traits")
        VITALE = "VITALE", _("Carte Vitale")

    class State(models.TextChoices):
        AWAITING = "AWAITING", _("Résultat à comparer puis accepter ou refuser")
        ACCEPTED = "ACCEPTED", _("Accepté : identité alimentée")
        AUTO_ACCEPTED = "AUTO", _("Intégré automatiquement (taux de similarité suffisant)")
        REJECTED = "REJECTED", _("Refusé par l'utilisateur")
        UNUSABLE = "UNUSABLE", _("Résultat non intégrable")
        COLLISION = "COLLISION", _("Collision : matricule déjà porté par une autre identité")
        NOT_FOUND = "NOT_FOUND", _("Aucune identité trouvée (01)")
        SEVERAL = "SEVERAL", _("Plusieurs identités trouvées (02)")
        FAILED = "FAILED", _("Échec de l'appel INSi")

    identity = models.ForeignKey(
        "identities.Identity", on_delete=models.PROTECT, related_name="insi_recoveries", verbose_name=_("identité")
    )
    method = models.CharField(_("mode de recherche"), max_length=6, choices=Method.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("demandée par")
    )
    run = models.ForeignKey(
        "identities.InsiRun", on_delete=models.PROTECT, null=True, blank=True, related_name="recoveries", verbose_name=_("lot")
    )
    # The identity's version when INSi was asked: accepting after somebody changed it is refused.
    identity_version = models.PositiveIntegerField(_("version de l'identité"))
    query = models.JSONField(_("traits envoyés"), default=dict)
    code = models.CharField(_("code retour"), max_length=32)
    exchange_ids = models.JSONField(_("échanges INSi"), default=list)
    returned = models.JSONField(_("identité retournée"), null=True, blank=True)
    similarity = models.FloatField(_("taux de similarité (%)"), null=True, blank=True)
    state = models.CharField(_("état"), max_length=9, choices=State.choices)
    message = models.TextField(_("explication"), blank=True)
    created_at = models.DateTimeField(_("le"), auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("décidée par")
    )
    decided_at = models.DateTimeField(_("décidée le"), null=True, blank=True)
    decision_reason = models.TextField(_("motif de la décision"), blank=True)

    class Meta:
        verbose_name = _("récupération INSi")
        verbose_name_plural = _("récupérations INSi")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["identity", "-created_at"], name="insirecovery_identity")]

    def __str__(self) -> str:
        return f"{self.get_method_display()} {self.code} ({self.get_state_display()})"

    @property
    def exchange_id(self) -> int | None:
        """The call that decided (the last one made)."""
        return self.exchange_ids[-1] if self.exchange_ids else None


class VerificationCampaign(models.Model):
    """A mass verification the CIV configures: which identities, how often, at what pace."""

    class Nature(models.TextChoices):
        ALL = "ALL", _("NIR et NIA")
        NIR = "NIR", _("NIR seulement")
        NIA = "NIA", _("NIA seulement")

    name = models.CharField(_("nom"), max_length=120, unique=True)
    description = models.TextField(_("description"), blank=True)
    active = models.BooleanField(_("active"), default=True, help_text=_("Inactive : la planification est suspendue."))
    statuses = models.JSONField(_("statuts concernés"), default=list, help_text=_("Identités récupérées et/ou qualifiées."))
    nature = models.CharField(_("nature du matricule"), max_length=3, choices=Nature.choices, default=Nature.ALL)
    last_verified_before = models.DateField(
        _("vérifiées pour la dernière fois avant le"), null=True, blank=True,
        help_text=_("Vide : sans condition de date. Les identités jamais vérifiées sont toujours incluses."),
    )
    not_verified_for_days = models.PositiveIntegerField(
        _("non vérifiées depuis (jours)"), null=True, blank=True, help_text=_("Condition glissante, recalculée à chaque exécution.")
    )
    worklist_kind = models.CharField(
        _("file de travail"), max_length=8, blank=True,
        help_text=_("Seulement les identités ayant un élément ouvert dans cette file."),
    )
    cycle_days = models.PositiveIntegerField(
        _("revue étalée sur (jours)"), null=True, blank=True,
        help_text=_("Chaque exécution vérifie sa part du périmètre (les moins récemment vérifiées d'abord) "
                    "pour que tout le périmètre soit revu sur cette durée. Vide : tout le périmètre à chaque exécution."),
    )
    calls_per_second = models.FloatField(
        _("cadence maximale (appels par seconde)"), default=2.0,
        help_text=_("Partagée par tous les workers : le téléservice n'est jamais sollicité plus vite."),
    )
    schedule = models.ForeignKey(
        "django_celery_beat.CrontabSchedule", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("fréquence"), help_text=_("Vide : lancement manuel seulement."),
    )
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask", on_delete=models.SET_NULL, null=True, blank=True, editable=False, related_name="+"
    )
    email_alerts = models.BooleanField(
        _("prévenir la CIV par courriel"), default=False,
        help_text=_("Un courriel récapitulatif en fin d'exécution s'il y a des KO (adresses : INSI_KO_ALERT_EMAILS)."),
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(_("créée le"), auto_now_add=True)
    updated_at = models.DateTimeField(_("modifiée le"), auto_now=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("campagne de vérification INSi")
        verbose_name_plural = _("campagnes de vérification INSi")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(calls_per_second__gt=0), name="campaign_positive_pace",
                violation_error_message=_("La cadence doit être strictement positive."),
            ),
            models.CheckConstraint(
                condition=Q(cycle_days__isnull=True) | Q(cycle_days__gte=1), name="campaign_cycle_at_least_a_day",
                violation_error_message=_("L'étalement se compte en jours, au moins un."),
            ),
        ]

    def __str__(self) -> str:
        return str(self.name)


class InsiRun(models.Model):
    """One execution over a list of identities: a campaign run (verification) or a recovery batch."""

    class Kind(models.TextChoices):
        VERIFICATION = "VERIF", _("Vérification en masse")
        RECOVERY = "RECUP", _("Récupération en lot")

    class State(models.TextChoices):
        RUNNING = "RUNNING", _("En cours")
        PAUSED = "PAUSED", _("En pause")
        CANCELLED = "CANCELLED", _("Annulée")
        DONE = "DONE", _("Terminée")

    kind = models.CharField(_("nature"), max_length=5, choices=Kind.choices)
    campaign = models.ForeignKey(
        VerificationCampaign, on_delete=models.PROTECT, null=True, blank=True, related_name="runs", verbose_name=_("campagne")
    )
    # What the INSi exchange log shows as the caller of automatic calls.
    label = models.CharField(_("libellé"), max_length=200)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("lancée par")
    )
    state = models.CharField(_("état"), max_length=9, choices=State.choices, default=State.RUNNING)
    total = models.PositiveIntegerField(_("identités"), default=0)
    calls_per_second = models.FloatField(_("cadence (appels par seconde)"))
    created_at = models.DateTimeField(_("lancée le"), auto_now_add=True)
    finished_at = models.DateTimeField(_("terminée le"), null=True, blank=True)
    summary = models.JSONField(_("bilan"), default=dict, blank=True)

    class Meta:
        verbose_name = _("exécution INSi")
        verbose_name_plural = _("exécutions INSi (campagnes et lots)")
        ordering = ["-created_at", "-id"]
        permissions = [
            ("import_identities_csv", _("Importer des identités reçues d'un autre domaine (fichier CSV)")),
        ]
        indexes = [models.Index(fields=["state"], name="insirun_state")]

    def __str__(self) -> str:
        return f"{self.label} ({self.get_state_display()})"

    @property
    def is_live(self) -> bool:
        return self.state in (self.State.RUNNING, self.State.PAUSED)


class InsiRunItem(models.Model):
    """One identity of a run. Claimed under a row lock and closed by compare-and-swap: done once, never twice."""

    class State(models.TextChoices):
        PENDING = "PENDING", _("À traiter")
        DONE = "DONE", _("Traitée")

    class Outcome(models.TextChoices):
        OK = "OK", _("Vérifiée (OK)")
        REPLACED = "REPLACED", _("Vérifiée, matricule remplacé (historique conservé)")
        KO = "KO", _("Non vérifiée (KO) : alerte et file de travail")
        FAILED = "FAILED", _("Échec technique après nouvelles tentatives")
        SKIPPED = "SKIPPED", _("Non concernée au moment du traitement")
        FOUND = "FOUND", _("Trouvée (00) : à comparer et valider")
        AUTO = "AUTO", _("Trouvée (00) et intégrée automatiquement")
        NOT_FOUND = "NOT_FOUND", _("Aucune identité trouvée (01)")
        SEVERAL = "SEVERAL", _("Plusieurs identités trouvées (02)")
        UNUSABLE = "UNUSABLE", _("Résultat non intégrable ou collision")

    run = models.ForeignKey(InsiRun, on_delete=models.CASCADE, related_name="items", verbose_name=_("exécution"))
    identity = models.ForeignKey("identities.Identity", on_delete=models.PROTECT, related_name="+", verbose_name=_("identité"))
    state = models.CharField(_("état"), max_length=7, choices=State.choices, default=State.PENDING, db_default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(_("tentatives"), default=0, db_default=0)
    # A technical failure puts the item back with a delay (backoff) instead of counting it.
    not_before = models.DateTimeField(_("pas avant"), null=True, blank=True)
    outcome = models.CharField(_("résultat"), max_length=9, choices=Outcome.choices, blank=True, default="", db_default="")
    detail = models.TextField(_("détail"), blank=True, default="", db_default="")
    exchange_id = models.BigIntegerField(_("échange INSi"), null=True, blank=True)
    finished_at = models.DateTimeField(_("traitée le"), null=True, blank=True)

    class Meta:
        verbose_name = _("identité d'une exécution")
        verbose_name_plural = _("identités d'une exécution")
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["run", "identity"], name="insirunitem_once_per_run")]
        # The claim (a run's first pending item by id) reads only pending items, however many items of
        # this and earlier runs are done before them, and whatever the planner's statistics say.
        indexes = [models.Index(fields=["run", "id"], name="insirunitem_pending", condition=Q(state="PENDING"))]

    def __str__(self) -> str:
        return f"{self.run_id}/{self.identity_id} {self.outcome or self.state}"


_CAMPAIGNS = ["view_verificationcampaign", "add_verificationcampaign", "change_verificationcampaign", "view_insirun"]
_RECOVERIES = ["view_insirecovery", "view_insirun"]
roles.register_role_permissions(roles.FRONT_DESK, "identities", _RECOVERIES)
for _role in (roles.CIV_MEMBER, roles.CIV_REFERENT):
    roles.register_role_permissions(_role, "identities", [*_RECOVERIES, *_CAMPAIGNS, "import_identities_csv"])
roles.register_role_permissions(roles.MANAGER, "identities", ["view_verificationcampaign", "view_insirun"])
