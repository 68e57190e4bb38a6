"""The outbox of PAM-FR identity messages: filled with each identity event, delivered over MLLP in order per identity, paused, replayed.

Every identity event that receivers must learn about writes one outbox row per active
receiver in the transaction of the event itself (state NEW): a crash after the commit loses
nothing. The rows are released (PENDING) when the transaction commits and the Celery task
delivers them; the events of one action (traits changed, INS invalidated, status changed…)
fold into one message. A message's text is built when it is sent, from the identity's state
at that moment: the diffusion gate is asked as late as possible.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.dispatch import receiver as subscribe
from django.utils import timezone

from identities.core import selectors
from identities.core.diffusion import shareable_ins
from identities.core.errors import RuleViolation, require_permission
from identities.core.events import identity_event_recorded
from identities.core.models import IdentityEvent, Status
from identities.core.queue import enqueue
from identities.interop import hl7v2, mllp
from identities.interop.common import Evidence, LocalAuthority, MessageError, Trigger
from identities.interop.models import OutboxMessage, Receiver

logger = logging.getLogger(__name__)

State = OutboxMessage.State
Kind = IdentityEvent.Kind

# When the events of one action fold into one message, the strongest event wins: a
# receiver must create before it updates, and must drop a withdrawn INS whatever else changed.
# A40 is the strongest and keeps its own event: it names the absorbed record.
_STRENGTH = {Trigger.A31: 0, Trigger.A47: 1, Trigger.A28: 2, Trigger.A40: 3}
_UPDATES = {Kind.TRAITS_CHANGED, Kind.ATTRIBUTE_CHANGED, Kind.INS_SET, Kind.INS_INVALIDATED}
# Committed NEW rows older than this lost their on-commit release (a crash): the sweep releases them.
_STALE_NEW = timedelta(minutes=1)
_LEASE = timedelta(minutes=2)
_BATCH = 200
_MAX_BACKOFF = timedelta(minutes=15)
DELIVER_TASK = "identities.tasks.deliver_outbox"


def trigger_for(event: IdentityEvent) -> Trigger | None:
    """The PAM-FR event an identity event calls for, or None when receivers need not know.

    Document checks and withdrawals reach receivers through the status change they cause.
    A status leaving QUAL withdraws the shared INS: A47. A merge is an A40 on the survivor
    (the absorbed record's own event says nothing more). An unmerge (PAM France has no such
    event, docs/decisions.md) re-creates the restored record (A28) and updates the survivor (A31).
    """
    if event.kind == Kind.CREATED:
        return Trigger.A28
    if event.kind == Kind.MERGED:
        return Trigger.A40 if event.details.get("role") == "survivor" else None
    if event.kind == Kind.UNMERGED:
        return Trigger.A28 if event.details.get("role") == "restored" else Trigger.A31
    if event.kind == Kind.USURPATION:  # the gate holds the INS back while USUR is set: receivers drop it
        return Trigger.A47 if event.details.get("withdrawn") else Trigger.A31
    if event.kind == Kind.STATUS_CHANGED:
        return Trigger.A47 if event.from_status == Status.QUAL else Trigger.A31
    if event.kind in _UPDATES:
        return Trigger.A31
    return None


@subscribe(identity_event_recorded, dispatch_uid="identities.interop.outbox.record_event")
def record_event(*, event: IdentityEvent, **_signal) -> None:
    """Queue the message an identity event calls for, in the event's transaction (the core's signal)."""
    trigger = trigger_for(event)
    if trigger is None:
        return
    receiver_ids = list(Receiver.objects.filter(active=True).values_list("pk", flat=True))
    if not receiver_ids:
        return
    open_rows = {
        row.receiver_id: row
        for row in OutboxMessage.objects.filter(identity_id=event.identity_id, state=State.NEW, receiver_id__in=receiver_ids)
    }
    queued = []
    for receiver_id in receiver_ids:
        row = open_rows.get(receiver_id)
        if row is None:
            row = OutboxMessage.objects.create(receiver_id=receiver_id, identity_id=event.identity_id, event=event, trigger=trigger)
        else:
            if row.trigger != Trigger.A40 or trigger == Trigger.A40:
                row.event = event
            if _STRENGTH[trigger] > _STRENGTH[Trigger(row.trigger)]:
                row.trigger = trigger
            row.save(update_fields=["event", "trigger"])
        queued.append(row.pk)
    # robust: a broker outage after the commit must not fail the user's action; the sweep catches up.
    transaction.on_commit(lambda: _kick(release(queued)), robust=True)


def release(message_ids) -> list[int]:
    """NEW → PENDING for these messages; the receivers that now have something to send."""
    OutboxMessage.objects.filter(pk__in=message_ids, state=State.NEW).update(state=State.PENDING, next_attempt_at=timezone.now())
    return sorted(set(OutboxMessage.objects.filter(pk__in=message_ids).values_list("receiver_id", flat=True)))


def _kick(receiver_ids) -> None:
    """Ask the Celery workers to deliver (after a commit)."""
    for receiver_id in receiver_ids:
        enqueue(DELIVER_TASK, receiver_id)


def sweep(*, now: datetime | None = None) -> list[int]:
    """Release NEW rows whose commit callback was lost; the receivers with messages due now."""
    now = now or timezone.now()
    OutboxMessage.objects.filter(state=State.NEW, created_at__lt=now - _STALE_NEW).update(state=State.PENDING)
    due = OutboxMessage.objects.filter(state=State.PENDING, next_attempt_at__lte=now).values("receiver_id")
    return list(
        Receiver.objects.filter(active=True, paused=False, pk__in=due)
        .filter(Q(retry_at__isnull=True) | Q(retry_at__lte=now))
        .values_list("pk", flat=True)
    )


# --- Delivery ---

def backoff(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s… up to 15 minutes between two tries."""
    return min(timedelta(seconds=5 * 2 ** max(attempts - 1, 0)), _MAX_BACKOFF)


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    unreachable: bool = False
    busy: bool = False
    next_attempt_at: datetime | None = None


def build(message: OutboxMessage, *, now: datetime | None = None) -> str:
    """The message's text from the identity's current state, through the diffusion gate."""
    identity = selectors.identity_for_diffusion(message.identity_id)
    receiver = message.receiver
    header = hl7v2.Header(
        sending_application=settings.INTEROP_APPLICATION,
        sending_facility=settings.INTEROP_FACILITY,
        receiving_application=receiver.receiving_application,
        receiving_facility=receiver.receiving_facility,
        control_id=message.control_id,
        created_at=timezone.localtime(now),
        processing_id=settings.INTEROP_HL7_PROCESSING_ID,
    )
    check = selectors.validating_checks([identity.pk]).get(identity.pk)
    return hl7v2.build_message(
        message.trigger, identity, shareable_ins(identity),
        header=header, authority=LocalAuthority.from_settings(settings), event_at=timezone.localtime(message.created_at),
        evidence=Evidence.of(check), merged_ipp=_merged_ipp(message),
    )


def _merged_ipp(message: OutboxMessage) -> str:
    """A40's MRG-1: the absorbed record's permanent identifier, kept by the merge event."""
    return message.event.details.get("absorbed_ipp", "") if message.trigger == Trigger.A40 and message.event else ""


def _waits_behind(message: OutboxMessage) -> set[int]:
    """The identities whose earlier messages this one must follow: its own, and for an A40
    the absorbed record too (receivers learn of the absorbed record before it is merged)."""
    identities = {message.identity_id}
    if message.trigger == Trigger.A40 and message.event and message.event.details.get("absorbed_id"):
        identities.add(message.event.details["absorbed_id"])
    return identities


class _Link:
    """The connection to a receiver, opened at the first message that needs it."""

    def __init__(self, receiver: Receiver):
        self.receiver = receiver
        self.client: mllp.MllpClient | None = None

    def open(self) -> None:
        self.client = mllp.MllpClient(self.receiver.host, self.receiver.port, timeout=self.receiver.timeout_seconds).__enter__()

    def close(self) -> None:
        if self.client is not None:
            self.client.__exit__(None, None, None)
            self.client = None


def _claim(receiver_id: int, now: datetime) -> bool:
    """Compare-and-swap lease: one sender per receiver, so messages leave in order."""
    return bool(
        Receiver.objects.filter(pk=receiver_id)
        .filter(Q(delivering_until__isnull=True) | Q(delivering_until__lt=now))
        .update(delivering_until=now + _LEASE)
    )


def _retry(message: OutboxMessage, receiver: Receiver, error: str, now: datetime, report: DeliveryReport) -> None:
    message.last_error = error
    if message.attempts >= receiver.max_attempts:
        message.state = State.DEAD
        message.last_error = f"{error} — échec définitif après {message.attempts} envoi(s)"
        report.dead += 1
    else:
        message.next_attempt_at = now + backoff(message.attempts)
        report.retried += 1
    message.save(update_fields=["state", "attempts", "next_attempt_at", "payload", "ack", "last_error"])


def _send(link: _Link, message: OutboxMessage, now: datetime, report: DeliveryReport) -> bool:
    """Send one message and settle it from the ACK; False when the receiver cannot be reached."""
    receiver = link.receiver
    try:
        text = build(message, now=now)
    except Exception as error:  # a message that cannot be built will never be: dead-letter it, go on
        logger.exception("outbox message %s could not be built", message.pk)
        message.state, message.last_error = State.DEAD, f"message impossible à construire : {error}"
        message.save(update_fields=["state", "last_error"])
        report.dead += 1
        return True
    if link.client is None:
        try:
            link.open()
        except OSError as error:
            _receiver_unreachable(receiver, error, now, report)
            return False
        Receiver.objects.filter(pk=receiver.pk).update(unreachable_since=None, connection_failures=0, retry_at=None, last_error="")
    message.payload, message.attempts = text, message.attempts + 1
    try:
        answer = link.client.exchange(text.encode("utf-8")).decode("utf-8", errors="replace")
    except (OSError, mllp.MllpError) as error:
        # Sent but not acknowledged: counted against the message (it may be what breaks the receiver).
        link.close()
        _retry(message, receiver, f"pas d'acquittement : {error}", now, report)
        return False
    message.ack = answer
    try:
        ack = hl7v2.read_ack(answer)
    except MessageError as error:
        _retry(message, receiver, f"acquittement illisible : {error.message}", now, report)
        return True
    if ack.control_id != message.control_id:
        _retry(message, receiver, f"acquittement d'un autre message ({ack.control_id})", now, report)
    elif ack.accepted:
        message.state, message.sent_at, message.last_error = State.SENT, now, ""
        message.save(update_fields=["state", "sent_at", "attempts", "payload", "ack", "last_error"])
        report.sent += 1
    elif ack.content_refused:
        message.state, message.last_error = State.DEAD, f"refusé par le destinataire ({ack.code}) : {ack.text}"
        message.save(update_fields=["state", "attempts", "payload", "ack", "last_error"])
        report.dead += 1
    else:
        _retry(message, receiver, f"rejeté par le destinataire ({ack.code}) : {ack.text}", now, report)
    return True


def _receiver_unreachable(receiver: Receiver, error: OSError, now: datetime, report: DeliveryReport) -> None:
    # Nobody to talk to: the receiver waits, its messages keep their attempts for their own faults.
    failures = receiver.connection_failures + 1
    retry_at = now + backoff(failures)
    Receiver.objects.filter(pk=receiver.pk).update(
        unreachable_since=receiver.unreachable_since or now, connection_failures=failures, retry_at=retry_at,
        last_error=f"connexion impossible : {error}",
    )
    report.unreachable, report.next_attempt_at = True, retry_at
    logger.warning("HL7 receiver %s unreachable (%s failures)", receiver.pk, failures)


def deliver(receiver_id: int, *, now=timezone.now) -> DeliveryReport:
    """Send a receiver's due messages, oldest first. An identity's later messages wait behind
    its first unacknowledged or dead-lettered one: order is kept per identity."""
    report = DeliveryReport()
    receiver = Receiver.objects.filter(pk=receiver_id).first()
    if receiver is None or not receiver.active or receiver.paused:
        return report
    if receiver.retry_at and receiver.retry_at > now():
        report.next_attempt_at = receiver.retry_at
        return report
    if not _claim(receiver_id, now()):
        report.busy = True
        return report
    link = _Link(receiver)
    held = set(OutboxMessage.objects.filter(receiver_id=receiver_id, state=State.DEAD).values_list("identity_id", flat=True))
    waiting: dict[int, datetime] = {}  # identity → when its first waiting message is due
    try:
        last_id, connected = 0, True
        while connected and (batch := list(
            OutboxMessage.objects.filter(receiver_id=receiver_id, state=State.PENDING, pk__gt=last_id)
            .select_related("receiver", "event").order_by("pk")[:_BATCH]
        )):
            for message in batch:
                last_id = message.pk
                blockers = _waits_behind(message)
                if blockers & held:
                    held.add(message.identity_id)
                    continue
                if blockers & waiting.keys():
                    waiting.setdefault(message.identity_id, min(waiting[pk] for pk in blockers & waiting.keys()))
                    continue
                if message.next_attempt_at > now():
                    waiting[message.identity_id] = message.next_attempt_at
                    continue
                connected = _send(link, message, now(), report)
                if report.unreachable:
                    return report
                if message.state == State.DEAD:
                    held.add(message.identity_id)
                elif message.state == State.PENDING:
                    waiting[message.identity_id] = message.next_attempt_at
                if not connected:
                    break  # the connection broke: the rest waits for the next run
            Receiver.objects.filter(pk=receiver_id).update(delivering_until=now() + _LEASE)
        report.next_attempt_at = min(waiting.values(), default=None)
        return report
    finally:
        link.close()
        Receiver.objects.filter(pk=receiver_id).update(delivering_until=None)


def claim_wakeup(receiver_id: int, at: datetime, *, now: datetime | None = None) -> bool:
    """Whether a delivery should be scheduled at ``at``: False when an earlier one already is."""
    now = now or timezone.now()
    return bool(
        Receiver.objects.filter(pk=receiver_id)
        .filter(Q(wakeup_at__isnull=True) | Q(wakeup_at__lte=now) | Q(wakeup_at__gt=at))
        .update(wakeup_at=at)
    )


# --- Operations on receivers (admin actions) ---

def receiver_set_paused(*, actor, receiver_id: int, paused: bool) -> Receiver:
    """Pause a receiver (its messages wait) or resume it (they leave, in order)."""
    require_permission(actor, "identities.change_receiver", "Refusé : vous n'avez pas le droit de piloter les destinataires HL7.")
    with transaction.atomic():
        receiver = Receiver.objects.select_for_update().get(pk=receiver_id)
        if receiver.paused == paused:
            return receiver
        receiver.paused = paused
        receiver._history_user = actor
        receiver._change_reason = "Mise en pause" if paused else "Reprise"
        receiver.save(update_fields=["paused"])
        if not paused:
            transaction.on_commit(lambda: _kick([receiver_id]), robust=True)
    return receiver


def outbox_replay(*, actor, message_ids=(), receiver_id: int | None = None, since: datetime | None = None) -> int:
    """Send again: chosen messages (typically dead letters), or every message of a receiver
    created since a moment (a receiver that lost its data). Rebuilt from the current state
    when they leave, in their original order; returns how many were queued."""
    require_permission(actor, "identities.change_outboxmessage", "Refusé : vous n'avez pas le droit de rejouer des messages HL7.")
    if bool(message_ids) == (receiver_id is not None):
        raise RuleViolation("rejouer : choisir des messages, ou un destinataire et une date")
    if receiver_id is not None and since is None:
        raise RuleViolation("rejouer un destinataire : la date de départ est obligatoire", field="since")
    selection = OutboxMessage.objects.filter(state__in=[State.SENT, State.DEAD])
    selection = selection.filter(pk__in=message_ids) if message_ids else selection.filter(receiver_id=receiver_id, created_at__gte=since)
    with transaction.atomic():
        receivers = set(selection.values_list("receiver_id", flat=True))
        count = selection.update(
            state=State.PENDING, attempts=0, next_attempt_at=timezone.now(), last_error="",
            replays=F("replays") + 1, replayed_at=timezone.now(), replayed_by=actor,
        )
        transaction.on_commit(lambda: _kick(sorted(receivers)), robust=True)
    logger.info("%s outbox message(s) replayed by user %s", count, actor.pk)
    return count
