"""The INSi exchange log: one row per HTTP call to the teleservice, with the exact bytes."""
from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from insi import protocol, verification
from insi.types import Mode


class Exchange(models.Model):
    """One attempt of one INSi call. Rows are never deleted; only their bodies expire."""

    class Operation(models.TextChoices):
        SEARCH_TRAITS = protocol.SEARCH_TRAITS, _("Recherche par traits")
        SEARCH_VITALE = protocol.SEARCH_VITALE, _("Recherche avec la carte Vitale")
        VERIFY = verification.OPERATION, _("Vérification unitaire")

    class CallMode(models.TextChoices):
        MANU = Mode.MANU, _("Manuel (INSI-MANU)")
        AUTO = Mode.AUTO, _("Automatique (INSI-AUTO)")

    operation = models.CharField(_("opération"), max_length=64, choices=Operation.choices)
    mode = models.CharField(_("mode"), max_length=4, choices=CallMode.choices)
    # SET_NULL plus a copy of the name: deleting a user never deletes the trace of their calls.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("utilisateur"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    username = models.CharField(_("nom d'utilisateur"), max_length=150, blank=True)
    task_label = models.CharField(_("tâche ou campagne"), max_length=200, blank=True)
    # A plain number, not a foreign key: insi knows nothing of the identities app.
    identity_id = models.BigIntegerField(_("identité (id)"), null=True, blank=True, db_index=True)
    message_id = models.CharField(_("identifiant du message"), max_length=64, db_index=True)
    attempt = models.PositiveSmallIntegerField(_("tentative"), default=1)
    endpoint = models.CharField(_("adresse du service"), max_length=255)
    started_at = models.DateTimeField(_("début"), db_index=True)
    duration_ms = models.PositiveIntegerField(_("durée (ms)"))
    http_status = models.PositiveSmallIntegerField(_("statut HTTP"), null=True, blank=True)
    return_code = models.CharField(_("code retour"), max_length=32)
    error = models.TextField(_("erreur"), blank=True)
    request_body = models.BinaryField(_("requête envoyée"), null=True, blank=True)
    response_body = models.BinaryField(_("réponse reçue"), null=True, blank=True)
    bodies_purged_at = models.DateTimeField(_("contenus purgés le"), null=True, blank=True)

    class Meta:
        verbose_name = _("échange INSi")
        verbose_name_plural = _("échanges INSi")
        # The log is read-only: no one can be granted the right to add, change or delete rows.
        default_permissions = ("view",)
        # The raw answer carries the matricule and OID whatever the identity's status (docs/decisions.md).
        permissions = [("view_exchange_body", _("Voir les messages INSi bruts (réservé à la CIV)"))]

    def __str__(self):
        return f"{self.get_operation_display()} {self.return_code} ({self.started_at:%Y-%m-%d %H:%M:%S})"
