"""Admin screens of the interoperability records: HL7 receivers (pause, resume, replay), outbound messages and dead letters, received messages, FHIR client applications.

Display and actions only: every change goes through identities.interop.outbox or interop.clients.
Imported at the end of identities/admin.py, whose shared helpers it reuses.
"""
from __future__ import annotations

import re

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from identities.core import matricule
from identities.core.diffusion import shareable_ins
from identities.core.errors import ServiceError
from identities.core.screens import ReadOnlyAdmin, identity_link
from identities.interop import clients, outbox
from identities.interop.models import ClientApplication, InboundMessage, OutboxMessage, Receiver

# Anything shaped like a matricule INS (13 characters, Corsica's 2A/2B included, and the key).
_MATRICULE = re.compile(r"(?<![0-9A-Z])[12378]\d{4}(?:\d{2}|2A|2B)\d{6}\d{2}(?![0-9])")
# The rest of an INS identifier: the OIDs of the INS authorities and their HL7 namespaces (the longest first).
_OID = re.compile("|".join(rf"(?<![0-9.]){re.escape(oid)}(?![0-9])" for oid in sorted(matricule.OIDS, key=len, reverse=True)))
_AUTHORITY = re.compile("|".join(
    rf"(?<![A-Z-]){re.escape(name)}(?![A-Z-])"
    for name in sorted({info.hl7_authority for info in matricule.OIDS.values()}, key=len, reverse=True)
))


def masked(text: str, identity) -> str:
    """A stored message as the screen may show it: the diffusion gate applies to screens too, so
    the INS identifier (matricule, OID, namespace) appears only if it is the one the gate shares today."""
    shared = shareable_ins(identity) if identity is not None else None
    keep = {shared.matricule, shared.oid, shared.hl7_authority} if shared else set()

    def mask(label):
        return lambda found: found.group(0) if found.group(0) in keep else label

    text = _MATRICULE.sub(mask("[matricule masqué]"), text)
    text = _OID.sub(mask("[OID masqué]"), text)
    return _AUTHORITY.sub(mask("[autorité masquée]"), text)


def _message_block(text: str):
    return format_html('<pre class="ins-message-text">{}</pre>', text.replace("\r", "\n")) if text else "—"


def _run(request, admin_instance, action, success: str) -> None:
    try:
        count = action()
    except ServiceError as error:
        admin_instance.message_user(request, error.message, messages.ERROR)
        return
    admin_instance.message_user(request, success.format(count=count), messages.SUCCESS)


@admin.register(Receiver)
class ReceiverAdmin(SimpleHistoryAdmin):
    list_display = ("name", "address", "active", "paused", "waiting", "dead_letters", "unreachable_since", "last_error")
    list_filter = ("active", "paused")
    search_fields = ("name", "host")
    fields = (
        "name", "host", "port", "receiving_application", "receiving_facility", "active", "timeout_seconds", "max_attempts",
        "paused", "unreachable_since", "connection_failures", "retry_at", "last_error",
    )
    readonly_fields = ("paused", "unreachable_since", "connection_failures", "retry_at", "last_error")
    actions = ("pause", "resume", "replay_dead_letters")

    def get_queryset(self, request):
        def counted(*states):
            # A subquery on the open-messages index: acknowledged messages (nearly all) are never read.
            rows = OutboxMessage.objects.filter(receiver=OuterRef("pk"), state__in=states)
            return Coalesce(Subquery(rows.values("receiver").annotate(n=Count("pk")).values("n")), 0)

        State = OutboxMessage.State
        return super().get_queryset(request).annotate(
            waiting_count=counted(State.NEW, State.PENDING), dead_count=counted(State.DEAD),
        )

    @admin.display(description=_("adresse"))
    def address(self, receiver):
        return f"{receiver.host}:{receiver.port}"

    @admin.display(description=_("en attente"), ordering="waiting_count")
    def waiting(self, receiver):
        return receiver.waiting_count

    @admin.display(description=_("en échec définitif"), ordering="dead_count")
    def dead_letters(self, receiver):
        return format_html('<strong class="ins-dead-count">{}</strong>', receiver.dead_count) if receiver.dead_count else 0

    @admin.action(description=_("Mettre en pause (les messages s'accumulent)"), permissions=["change"])
    def pause(self, request, queryset):
        self._set_paused(request, queryset, paused=True)

    @admin.action(description=_("Reprendre l'envoi"), permissions=["change"])
    def resume(self, request, queryset):
        self._set_paused(request, queryset, paused=False)

    def _set_paused(self, request, queryset, *, paused: bool) -> None:
        def run():
            for receiver in queryset:
                outbox.receiver_set_paused(actor=request.user, receiver_id=receiver.pk, paused=paused)
            return len(queryset)
        _run(request, self, run, str(_("{count} destinataire(s) en pause.") if paused else _("{count} destinataire(s) repris.")))

    @admin.action(description=_("Rejouer les messages en échec définitif"), permissions=["change"])
    def replay_dead_letters(self, request, queryset):
        dead = OutboxMessage.objects.filter(receiver__in=queryset, state=OutboxMessage.State.DEAD).values_list("pk", flat=True)
        _run(request, self, lambda: outbox.outbox_replay(actor=request.user, message_ids=list(dead)) if dead else 0,
             str(_("{count} message(s) remis en file d'attente.")))


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    list_display = ("id", "receiver", "identity_column", "trigger", "state", "attempts", "created_at", "next_attempt_at", "sent_at", "last_error")
    list_filter = ("state", "receiver", "trigger")
    list_select_related = ("receiver", "identity")
    search_fields = ("=identity__id",)
    fields = (
        "receiver", "identity_column", "trigger", "state", "control_id", "created_at", "attempts", "next_attempt_at",
        "sent_at", "last_error", "replays", "replayed_at", "replayed_by", "payload_text", "ack_text",
    )
    readonly_fields = fields
    actions = ("replay",)

    @admin.display(description=_("identité"))
    def identity_column(self, message):
        return identity_link(message.identity)

    @admin.display(description=_("dernier message envoyé"))
    def payload_text(self, message):
        return _message_block(masked(message.payload, message.identity))

    @admin.display(description=_("dernier acquittement reçu"))
    def ack_text(self, message):
        return _message_block(message.ack)

    def has_replay_permission(self, request):
        return request.user.has_perm("identities.change_outboxmessage")

    @admin.action(description=_("Rejouer (envoyer à nouveau, dans l'ordre)"), permissions=["replay"])
    def replay(self, request, queryset):
        _run(request, self, lambda: outbox.outbox_replay(actor=request.user, message_ids=list(queryset.values_list("pk", flat=True))),
             str(_("{count} message(s) remis en file d'attente.")))


@admin.register(InboundMessage)
class InboundMessageAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "channel", "source", "control_id", "state", "ins_outcome", "identity_column", "error_location", "error")
    list_filter = ("state", "channel", "ins_outcome")
    list_select_related = ("identity",)
    search_fields = ("=control_id", "=sender_patient_id", "source")
    fields = (
        "received_at", "channel", "source", "control_id", "sender_patient_id", "state", "outcome", "error_location", "error",
        "ins_outcome", "identity_column", "payload_text",
    )
    readonly_fields = fields

    @admin.display(description=_("identité"))
    def identity_column(self, message):
        return identity_link(message.identity)

    @admin.display(description=_("message reçu"))
    def payload_text(self, message):
        return _message_block(masked(message.payload, message.identity))


class ClientApplicationForm(forms.ModelForm):
    class Meta:
        model = ClientApplication
        fields = ("name", "scopes", "active")

    def clean_scopes(self):
        try:
            return clients.checked_scopes(self.cleaned_data["scopes"])
        except ServiceError as error:
            raise forms.ValidationError(error.message) from error


@admin.register(ClientApplication)
class ClientApplicationAdmin(SimpleHistoryAdmin):
    form = ClientApplicationForm
    list_display = ("name", "scopes", "active", "created_at")
    list_filter = ("active",)
    actions = ("new_token",)

    def save_model(self, request, obj, form, change):
        token = clients.client_application_save(actor=request.user, application=obj)
        if token:
            self.message_user(request, _("Jeton de « %(name)s », à transmettre maintenant (il ne sera plus affiché) : %(token)s")
                              % {"name": obj.name, "token": token}, messages.WARNING)

    @admin.action(description=_("Émettre un nouveau jeton (l'ancien cesse de fonctionner)"), permissions=["change"])
    def new_token(self, request, queryset):
        for application in queryset:
            try:
                token = clients.client_application_new_token(actor=request.user, application_id=application.pk)
            except ServiceError as error:
                self.message_user(request, error.message, messages.ERROR)
                return
            self.message_user(request, _("Nouveau jeton de « %(name)s » (il ne sera plus affiché) : %(token)s")
                              % {"name": application.name, "token": token}, messages.WARNING)
