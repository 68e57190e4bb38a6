"""Interoperability records: HL7 receivers, the outbox of identity messages, received messages, FHIR client applications.

Loaded with the ``identities`` app (imported at the end of identities/models.py); foreign
keys name their targets as strings so this module never imports identities.core.models.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from identities.core import roles
from identities.interop.common import Trigger


class Receiver(models.Model):
    """A system fed with PAM-FR identity messages over MLLP."""

    name = models.CharField(_("nom"), max_length=100, unique=True)
    host = models.CharField(_("hôte"), max_length=255)
    port = models.PositiveIntegerField(_("port"))
    receiving_application = models.CharField(_("application réceptrice (MSH-5)"), max_length=100, blank=True)
    receiving_facility = models.CharField(_("établissement récepteur (MSH-6)"), max_length=100, blank=True)
    active = models.BooleanField(
        _("actif"), default=True, help_text=_("Un destinataire inactif ne reçoit plus rien, pas même en file d'attente.")
    )
    paused = models.BooleanField(
        _("en pause"), default=False, help_text=_("Les messages s'accumulent sans être envoyés jusqu'à la reprise.")
    )
    timeout_seconds = models.PositiveSmallIntegerField(_("délai d'attente de l'acquittement (s)"), default=10)
    max_attempts = models.PositiveSmallIntegerField(
        _("envois avant échec définitif"), default=10,
        help_text=_("Un message refusé ou resté sans acquittement passe en échec définitif après ce nombre d'envois."),
    )
    # Delivery bookkeeping, written by the sender (kept out of the audit history).
    unreachable_since = models.DateTimeField(_("injoignable depuis"), null=True, blank=True, editable=False)
    connection_failures = models.PositiveIntegerField(_("échecs de connexion consécutifs"), default=0, editable=False)
    retry_at = models.DateTimeField(_("prochaine tentative de connexion"), null=True, blank=True, editable=False)
    last_error = models.TextField(_("dernière erreur"), blank=True, editable=False)
    delivering_until = models.DateTimeField(null=True, blank=True, editable=False)
    wakeup_at = models.DateTimeField(null=True, blank=True, editable=False)

    history = HistoricalRecords(
        excluded_fields=["unreachable_since", "connection_failures", "retry_at", "last_error", "delivering_until", "wakeup_at"]
    )

    class Meta:
        verbose_name = _("destinataire HL7")
        verbose_name_plural = _("destinataires HL7")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.host}:{self.port})"


class OutboxMessage(models.Model):
    """One identity message for one receiver, kept until acknowledged or dead-lettered.

    Written in the transaction of the identity event (state NEW), released on commit
    (PENDING), sent in creation order per identity; its text is built at each sending
    from the identity's current state, so the diffusion gate is asked as late as possible.
    """

    class State(models.TextChoices):
        NEW = "NEW", _("En préparation")
        PENDING = "PENDING", _("À envoyer")
        SENT = "SENT", _("Acquitté")
        DEAD = "DEAD", _("En échec définitif")

    receiver = models.ForeignKey(Receiver, on_delete=models.PROTECT, related_name="messages", verbose_name=_("destinataire"))
    identity = models.ForeignKey("identities.Identity", on_delete=models.PROTECT, related_name="+", verbose_name=_("identité"))
    event = models.ForeignKey(
        "identities.IdentityEvent", on_delete=models.PROTECT, related_name="+", null=True, verbose_name=_("événement"),
    )
    trigger = models.CharField(_("événement HL7"), max_length=3, choices=[(t.value, t.value) for t in Trigger])
    state = models.CharField(_("état"), max_length=7, choices=State.choices, default=State.NEW)
    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)
    attempts = models.PositiveIntegerField(_("envois"), default=0)
    next_attempt_at = models.DateTimeField(_("prochain envoi"), default=timezone.now)
    sent_at = models.DateTimeField(_("acquitté le"), null=True, blank=True)
    payload = models.TextField(_("dernier message envoyé"), blank=True)
    ack = models.TextField(_("dernier acquittement reçu"), blank=True)
    last_error = models.TextField(_("dernière erreur"), blank=True)
    replays = models.PositiveSmallIntegerField(_("rejeux"), default=0)
    replayed_at = models.DateTimeField(_("rejoué le"), null=True, blank=True)
    replayed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("rejoué par"),
    )
    # What the receiver holds once this message is acknowledged (written when it is built): the
    # INS it was given, so that a withdrawal names it (A47 MRG-1) to receivers that had it only.
    ins_matricule = models.CharField(_("INS détenu par le destinataire"), max_length=15, blank=True, editable=False)
    ins_oid = models.CharField(_("OID de l'INS détenu"), max_length=64, blank=True, editable=False)
    # Complementary traits the action erased (from the event's changes): sent as HL7's null in PID-5.
    used_name_erased = models.BooleanField(_("nom utilisé effacé"), default=False, editable=False)
    used_given_name_erased = models.BooleanField(_("prénom utilisé effacé"), default=False, editable=False)

    class Meta:
        verbose_name = _("message HL7 sortant")
        verbose_name_plural = _("messages HL7 sortants")
        ordering = ["-id"]
        indexes = [
            # The sender's scan: the open messages of a receiver, in order. Acknowledged
            # messages (nearly all of them) stay out of the index.
            models.Index(
                fields=["receiver", "state", "id"], name="outbox_open",
                condition=Q(state__in=["NEW", "PENDING", "DEAD"]),
            ),
            models.Index(fields=["identity", "id"], name="outbox_identity"),
        ]

    def __str__(self) -> str:
        return f"{self.trigger} n° {self.pk} → {self.receiver.name}"

    @property
    def control_id(self) -> str:
        """MSH-10: stable across retries (receivers spot duplicates), new for each replay."""
        return f"{self.pk}" if not self.replays else f"{self.pk}-R{self.replays}"


class InboundMessage(models.Model):
    """A message received from another identification domain, kept for inspection whatever its fate."""

    class Channel(models.TextChoices):
        HL7 = "HL7", _("HL7 v2 (MLLP)")
        FHIR = "FHIR", _("FHIR (import)")

    class State(models.TextChoices):
        ACCEPTED = "ACCEPTED", _("Intégré")
        REVIEW = "REVIEW", _("À rapprocher par la CIV")
        REJECTED = "REJECTED", _("Rejeté (message invalide)")

    class InsOutcome(models.TextChoices):
        NONE = "NONE", _("Sans INS")
        DROPPED = "DROPPED", _("INS ignoré : identité non qualifiée chez l'émetteur")
        PENDING = "PENDING", _("INS en attente de vérification INSi")
        VERIFIED = "VERIFIED", _("INS vérifié par INSi et intégré")
        KO = "KO", _("INS non confirmé par INSi : traits seuls")
        NOT_APPLIED = "NOT_APPLIED", _("INS vérifié mais non intégré")

    channel = models.CharField(_("canal"), max_length=4, choices=Channel.choices)
    source = models.CharField(_("émetteur"), max_length=200)
    control_id = models.CharField(_("identifiant du message"), max_length=100, blank=True)
    sender_patient_id = models.CharField(_("identifiant chez l'émetteur"), max_length=100, blank=True)
    received_at = models.DateTimeField(_("reçu le"), auto_now_add=True, db_index=True)
    payload = models.TextField(_("message reçu"))
    state = models.CharField(_("état"), max_length=8, choices=State.choices)
    error_location = models.CharField(_("élément en cause"), max_length=200, blank=True)
    error = models.TextField(_("problème"), blank=True)
    outcome = models.TextField(_("résultat"), blank=True)
    identity = models.ForeignKey(
        "identities.Identity", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("identité"),
    )
    ins_outcome = models.CharField(_("INS reçu"), max_length=11, choices=InsOutcome.choices, default=InsOutcome.NONE)
    # Kept only while a received INS waits for its INSi verification (never integrated before).
    pending_matricule = models.CharField(_("matricule INS à vérifier"), max_length=15, blank=True)
    pending_oid = models.CharField(_("OID à vérifier"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("message reçu d'un autre domaine")
        verbose_name_plural = _("messages reçus d'un autre domaine")
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["state", "received_at"], name="inbound_state"),
            models.Index(fields=["ins_outcome"], name="inbound_ins_pending", condition=Q(ins_outcome="PENDING")),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.control_id or self.pk} ({self.get_state_display()})"


class ClientApplication(models.Model):
    """An application allowed to use the FHIR API, with its bearer token (stored hashed) and scopes."""

    class Scope(models.TextChoices):
        READ = "read", _("Lecture (recherche et consultation des patients)")
        IMPORT = "import", _("Import (réception de patients d'un autre domaine)")

    name = models.CharField(_("nom"), max_length=100, unique=True)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.CharField(_("droits"), max_length=100, help_text=_("« read », « import », séparés par un espace."))
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("créée le"), auto_now_add=True)

    history = HistoricalRecords(excluded_fields=["token_hash"])

    class Meta:
        verbose_name = _("application cliente FHIR")
        verbose_name_plural = _("applications clientes FHIR")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def allows(self, scope: str) -> bool:
        return self.active and scope in self.scopes.split()


# The CIV sees what left and what came in (dead letters, messages to reconcile); piloting
# receivers, replaying and managing API clients stay with the administrators.
_INTEROP_VIEW = ["view_receiver", "view_outboxmessage", "view_inboundmessage"]
for _role in (roles.CIV_MEMBER, roles.CIV_REFERENT):
    roles.register_role_permissions(_role, "identities", _INTEROP_VIEW)
