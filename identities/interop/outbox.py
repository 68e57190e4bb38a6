"""The outbox of PAM-FR identity messages: filled with each identity event, delivered over MLLP in order per identity, paused, replayed.

Every identity event that receivers must learn about writes one outbox row per active
receiver in the transaction of the event itself (state NEW): a crash after the commit loses
nothing. The rows are released (PENDING) when the transaction commits and the Celery task
delivers them; the events of one action (traits changed, INS invalidated, status changed…)
fold into one message, or two when an INS is withdrawn while traits change (A47 then A31).
A message's text is built when it is sent, from the identity's state at that moment and
from what the receiver holds (the INS the last acknowledged message left it): the diffusion
gate is asked as late as possible, and a withdrawn INS is named only to receivers that had it.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.dispatch import receiver as subscribe
from django.utils import timezone

from identities.core import matricule, selectors
from identities.core.diffusion import SharedIns, WithdrawnIns, shareable_ins, withdrawn_ins
from identities.core.errors import RuleViolation, require_permission
from identities.core.events import identity_event_recorded
from identities.core.models import Identity, IdentityEvent, Status
from identities.core.queue import enqueue
from identities.interop import hl7v2, mllp
from identities.interop.common import Evidence, LocalAuthority, MessageError, Trigger
from identities.interop.models import OutboxMessage, Receiver

logger = logging.getLogger(__name__)

State = OutboxMessage.State
Kind = IdentityEvent.Kind

_UPDATES = {Kind.TRAITS_CHANGED, Kind.ATTRIBUTE_CHANGED, Kind.INS_SET, Kind.INS_INVALIDATED}
# Committed NEW rows older than this lost their on-commit release (a crash): the sweep releases them.
_STALE_NEW = timedelta(minutes=1)
_LEASE = timedelta(minutes=2)
_BATCH = 200
# Settled rows are written together, at least this often (and at each batch's end): one
# commit per group instead of one per message. A crash in between resends the acknowledged
# messages under the same MSH-10 (at least once, as any lost ACK would).
_FLUSH_SECONDS = 0.5
_STATE_FIELDS = ["state", "sent_at", "attempts", "next_attempt_at", "payload", "ack", "last_error", "trigger", "ins_matricule", "ins_oid"]
_MAX_BACKOFF = timedelta(minutes=15)
DELIVER_TASK = "identities.tasks.deliver_outbox"


def trigger_for(event: IdentityEvent) -> Trigger | None:
    """The PAM-FR event an identity event calls for, or None when receivers need not know.

    Document checks and withdrawals reach receivers through the status change they cause.
    An INS that stops being shared (a status leaving QUAL, the INS of a qualified identity
    invalidated) or is replaced by another calls for A47 (§4.4.2-4.4.4); whether a receiver
    gets the A47 depends on what it holds, decided when the message is built (``compose``).
    A merge is an A40 on the survivor (the absorbed record's own event says nothing more). An
    unmerge (PAM France has no such event, docs/decisions.md) re-creates the restored record
    (A28) and updates the survivor (A31).
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
    if event.kind == Kind.INS_INVALIDATED and event.identity.status == Status.QUAL:
        return Trigger.A47  # recorded before the status leaves QUAL
    if event.kind == Kind.INS_SET and "replaced_nature" in event.details:
        return Trigger.A47
    if event.kind in _UPDATES:
        return Trigger.A31
    return None


def _erased(event: IdentityEvent) -> hl7v2.Erased:
    """Used name / given name the event erased (its changes: ``{field: [before, after]}``)."""
    changes = event.details.get("changes", {}) if event.kind == Kind.TRAITS_CHANGED else {}

    def erased(name: str) -> bool:
        before, after = changes.get(name, ("", ""))
        return bool(before) and not after

    return hl7v2.Erased(used_name=erased("used_name"), used_given_name=erased("used_given_name"))


@subscribe(identity_event_recorded, dispatch_uid="identities.interop.outbox.record_event")
def record_event(*, event: IdentityEvent, **_signal) -> None:
    """Queue the message an identity event calls for, in the event's transaction (the core's signal).

    The events of one action fold into the open (NEW) rows of the identity: an A28 stays an
    A28, an INS withdrawal makes the open row an A47; when the open row carried a traits
    change, the traits follow in an A31 after the A47 (§4.1: A47 changes identifiers, A31
    traits; §4.4.3: the status may follow in an A31).
    """
    trigger = trigger_for(event)
    if trigger is None:
        return
    receiver_ids = list(Receiver.objects.filter(active=True).values_list("pk", flat=True))
    if not receiver_ids:
        return
    erased = _erased(event)
    open_rows: dict[int, list[OutboxMessage]] = {}
    for row in OutboxMessage.objects.filter(identity_id=event.identity_id, state=State.NEW, receiver_id__in=receiver_ids).select_related("event").order_by("pk"):
        open_rows.setdefault(row.receiver_id, []).append(row)
    queued = []
    for receiver_id in receiver_ids:
        rows = open_rows.get(receiver_id, [])
        queued += [row.pk for row in _fold(rows, event, trigger, erased, receiver_id)]
    # robust: a broker outage after the commit must not fail the user's action; the sweep catches up.
    transaction.on_commit(lambda: _kick(release(queued)), robust=True)


def _fold(rows: list[OutboxMessage], event: IdentityEvent, trigger: Trigger, erased: hl7v2.Erased, receiver_id: int) -> list[OutboxMessage]:
    def new(kind: Trigger, of: IdentityEvent, names: hl7v2.Erased) -> OutboxMessage:
        return OutboxMessage.objects.create(
            receiver_id=receiver_id, identity_id=event.identity_id, event=of, trigger=kind,
            used_name_erased=names.used_name, used_given_name_erased=names.used_given_name,
        )

    # An A40 names the absorbed record through its own event: it never folds, nor is folded into.
    if not rows or Trigger.A40 in (trigger, rows[-1].trigger):
        return [new(trigger, event, erased)]
    withdrawal = next((row for row in rows if row.trigger == Trigger.A47), None)
    last = rows[-1]
    if trigger == Trigger.A47 and withdrawal is None and last.trigger == Trigger.A31:
        traits_event = last.event if last.event is not None and last.event.kind == Kind.TRAITS_CHANGED else None
        names = hl7v2.Erased(last.used_name_erased, last.used_given_name_erased)
        last.trigger, last.event, last.used_name_erased, last.used_given_name_erased = Trigger.A47, event, False, False
        last.save(update_fields=["trigger", "event", "used_name_erased", "used_given_name_erased"])
        return [last, new(Trigger.A31, traits_event, names)] if traits_event else [last]
    # An A47 folds into the open withdrawal; with none open (an A28 not yet sent), into the last
    # row: the receiver holds nothing yet, and the row is composed from the identity when sent.
    target = withdrawal if trigger == Trigger.A47 and withdrawal is not None else last
    target.event = event
    target.used_name_erased |= erased.used_name
    target.used_given_name_erased |= erased.used_given_name
    target.save(update_fields=["event", "used_name_erased", "used_given_name_erased"])
    return [target]


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


# --- Building: what is sent depends on the identity now and on what the receiver holds ---

@dataclass(frozen=True)
class Composition:
    """The message a row becomes when it leaves, and the INS its receiver then holds."""

    trigger: Trigger
    ins: SharedIns | None
    withdrawn: WithdrawnIns | None
    held_after: tuple[str, str]


def compose(recorded: Trigger, identity, held: tuple[str, str]) -> Composition:
    """A28 (and A40) as recorded; otherwise A47 when the receiver holds an INS that is no longer
    the one shared (§4.4.2 replaced, §4.4.3/§4.4.4 removed), A31 when it holds nothing to
    withdraw or a NIA that a NIR replaces (§4.4.1)."""
    shared = shareable_ins(identity)
    if recorded in (Trigger.A28, Trigger.A40):
        return Composition(recorded, shared, None, (shared.matricule, shared.oid) if shared else held)
    withdrawn = withdrawn_ins(identity, held_matricule=held[0], held_oid=held[1])
    if withdrawn is not None and shared is not None and matricule.nature_of(withdrawn.oid) == matricule.Nature.NIA \
            and shared.nature == matricule.Nature.NIR:
        withdrawn = None
    if shared is not None:
        held_after = (shared.matricule, shared.oid)
    else:
        held_after = ("", "") if withdrawn is not None else held
    return Composition(Trigger.A47 if withdrawn is not None else Trigger.A31, shared, withdrawn, held_after)


class _Batch:
    """What a batch of one receiver's messages is built from, read once for the whole batch."""

    def __init__(self, receiver: Receiver, messages: list[OutboxMessage]):
        identity_ids = {message.identity_id for message in messages}
        self.receiver = receiver
        self.identities = selectors.identities_for_diffusion(identity_ids)
        self.checks = selectors.validating_checks(identity_ids)
        self.held = held_by_receiver(receiver.pk, identity_ids)
        self.authority = LocalAuthority.from_settings(settings)
        self.settled: list[OutboxMessage] = []
        self.flushed_at = time.monotonic()

    def settle(self, message: OutboxMessage) -> None:
        """The message's state row, written with the others of its group."""
        self.settled.append(message)
        if time.monotonic() - self.flushed_at >= _FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        if self.settled:
            _write_states(self.settled)
        self.settled, self.flushed_at = [], time.monotonic()


def _write_states(messages: list[OutboxMessage]) -> None:
    """One UPDATE per row, sent together in one transaction (Django's bulk_update builds a CASE
    per field and row: it cost more than the sending itself)."""
    fields = [OutboxMessage._meta.get_field(name) for name in _STATE_FIELDS]
    assignments = ", ".join(f"{connection.ops.quote_name(field.column)} = %s" for field in fields)
    sql = f"UPDATE {connection.ops.quote_name(OutboxMessage._meta.db_table)} SET {assignments} WHERE id = %s"
    rows = [[field.get_db_prep_save(getattr(message, field.attname), connection) for field in fields] + [message.pk] for message in messages]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def held_by_receiver(receiver_id: int, identity_ids) -> dict[int, tuple[str, str]]:
    """Per identity, the INS the receiver holds: what its last acknowledged message left it."""
    # A plain scan of these identities' acknowledged rows (index outbox_identity), the latest
    # kept per identity: a correlated subquery was planned as a scan of the whole outbox.
    rows = (
        OutboxMessage.objects.filter(identity_id__in=list(identity_ids), receiver_id=receiver_id, state=State.SENT)
        .order_by("identity_id", "-sent_at", "-pk").values_list("identity_id", "ins_matricule", "ins_oid")
    )
    held: dict[int, tuple[str, str]] = {}
    for identity_id, number, oid in rows.iterator(chunk_size=2000):
        held.setdefault(identity_id, (number, oid))
    return held


def build(message: OutboxMessage, *, now: datetime | None = None, batch: _Batch | None = None) -> tuple[str, Composition]:
    """The message's text from the identity's current state and what its receiver holds, through the diffusion gate."""
    batch = batch or _Batch(message.receiver, [message])
    identity = batch.identities[message.identity_id]
    composition = compose(Trigger(message.trigger), identity, batch.held.get(identity.pk, ("", "")))
    receiver = batch.receiver
    header = hl7v2.Header(
        sending_application=settings.INTEROP_APPLICATION,
        sending_facility=settings.INTEROP_FACILITY,
        receiving_application=receiver.receiving_application,
        receiving_facility=receiver.receiving_facility,
        control_id=message.control_id,
        created_at=timezone.localtime(now),
        processing_id=settings.INTEROP_HL7_PROCESSING_ID,
    )
    text = hl7v2.build_message(
        composition.trigger, identity, composition.ins,
        header=header, authority=batch.authority, event_at=timezone.localtime(message.created_at),
        evidence=Evidence.of(batch.checks.get(identity.pk)), withdrawn=composition.withdrawn,
        erased=hl7v2.Erased(message.used_name_erased, message.used_given_name_erased), merged_ipp=_merged_ipp(message),
    )
    return text, composition


def _merged_ipp(message: OutboxMessage) -> str:
    """A40's MRG-1: the IPP of the record the merge event says was absorbed (read from the record, so an
    A40 queued before the short IPP existed carries it too)."""
    if message.trigger != Trigger.A40 or not message.event:
        return ""
    return Identity.objects.filter(pk=message.event.details.get("absorbed_id")).values_list("ipp", flat=True).first() or ""


def _waits_behind(message: OutboxMessage) -> set[int]:
    """The identities whose earlier messages this one must follow: its own, and for an A40
    the absorbed record too (receivers learn of the absorbed record before it is merged)."""
    identities = {message.identity_id}
    if message.trigger == Trigger.A40 and message.event and message.event.details.get("absorbed_id"):
        identities.add(message.event.details["absorbed_id"])
    return identities


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


def _retry(message: OutboxMessage, receiver: Receiver, error: str, now: datetime, report: DeliveryReport, batch: _Batch) -> None:
    message.last_error = error
    if message.attempts >= receiver.max_attempts:
        message.state = State.DEAD
        message.last_error = f"{error} — échec définitif après {message.attempts} envoi(s)"
        report.dead += 1
    else:
        message.next_attempt_at = now + backoff(message.attempts)
        report.retried += 1
    batch.settle(message)


def _send(link: _Link, message: OutboxMessage, now: datetime, report: DeliveryReport, batch: _Batch) -> bool:
    """Send one message and settle it from the ACK; False when the receiver cannot be reached."""
    receiver = link.receiver
    try:
        text, composition = build(message, now=now, batch=batch)
    except Exception as error:  # a message that cannot be built will never be: dead-letter it, go on
        logger.exception("outbox message %s could not be built", message.pk)
        message.state, message.last_error = State.DEAD, f"message impossible à construire : {error}"
        batch.settle(message)
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
        _retry(message, receiver, f"pas d'acquittement : {error}", now, report, batch)
        return False
    message.ack = answer
    try:
        ack = hl7v2.read_ack(answer)
    except MessageError as error:
        _retry(message, receiver, f"acquittement illisible : {error.message}", now, report, batch)
        return True
    if ack.control_id != message.control_id:
        _retry(message, receiver, f"acquittement d'un autre message ({ack.control_id})", now, report, batch)
    elif ack.accepted:
        message.state, message.sent_at, message.last_error = State.SENT, now, ""
        message.trigger, (message.ins_matricule, message.ins_oid) = composition.trigger, composition.held_after
        batch.settle(message)
        batch.held[message.identity_id] = composition.held_after
        report.sent += 1
    elif ack.content_refused:
        message.state, message.last_error = State.DEAD, f"refusé par le destinataire ({ack.code}) : {ack.text}"
        batch.settle(message)
        report.dead += 1
    else:
        _retry(message, receiver, f"rejeté par le destinataire ({ack.code}) : {ack.text}", now, report, batch)
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
    blocked = set(OutboxMessage.objects.filter(receiver_id=receiver_id, state=State.DEAD).values_list("identity_id", flat=True))
    waiting: dict[int, datetime] = {}  # identity → when its first waiting message is due
    context: _Batch | None = None
    try:
        last_id, connected = 0, True
        while connected and (batch := list(
            OutboxMessage.objects.filter(receiver_id=receiver_id, state=State.PENDING, pk__gt=last_id)
            .select_related("receiver", "event").order_by("pk")[:_BATCH]
        )):
            context = _Batch(receiver, batch)
            for message in batch:
                last_id = message.pk
                blockers = _waits_behind(message)
                if blockers & blocked:
                    blocked.add(message.identity_id)
                    continue
                if blockers & waiting.keys():
                    waiting.setdefault(message.identity_id, min(waiting[pk] for pk in blockers & waiting.keys()))
                    continue
                if message.next_attempt_at > now():
                    waiting[message.identity_id] = message.next_attempt_at
                    continue
                connected = _send(link, message, now(), report, context)
                if report.unreachable:
                    return report
                if message.state == State.DEAD:
                    blocked.add(message.identity_id)
                elif message.state == State.PENDING:
                    waiting[message.identity_id] = message.next_attempt_at
                if not connected:
                    break  # the connection broke: the rest waits for the next run
            context.flush()  # before the next batch reads what its receiver holds
            Receiver.objects.filter(pk=receiver_id).update(delivering_until=now() + _LEASE)
        report.next_attempt_at = min(waiting.values(), default=None)
        return report
    finally:
        if context is not None:
            context.flush()
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
