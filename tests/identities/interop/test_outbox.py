"""The outbox: one message per action and receiver, written with the event, delivered in order per identity over MLLP to a loopback system."""
from datetime import timedelta

import pytest
from django.utils import timezone

from identities.core import services
from identities.core.errors import NotAllowed
from identities.core.models import Attribute, Identity
from identities.interop import outbox
from identities.interop.common import Trigger
from identities.interop.models import OutboxMessage, Receiver
from tests import factories
from tests.identities.interop.conftest import LoopbackSystem, free_port

State = OutboxMessage.State


def committed():
    """What the commit of the actions so far does to their messages (the commit hook, or the sweep)."""
    outbox.sweep(now=timezone.now() + timedelta(minutes=2))


def rows(**filters) -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(**filters).order_by("pk"))


def later(seconds: int):
    return lambda: timezone.now() + timedelta(seconds=seconds)


def test_an_identity_event_queues_one_message_per_active_receiver_in_its_own_transaction(make_receiver, front_desk, birthplaces):
    active = make_receiver(2600)
    make_receiver(2601, active=False)
    identity = factories.identity(front_desk)
    (message,) = rows()
    assert (message.receiver, message.identity, message.trigger, message.state) == (active, identity, "A28", State.NEW)


def test_without_receivers_nothing_is_queued(front_desk, birthplaces):
    factories.identity(front_desk)
    assert rows() == []


@pytest.mark.parametrize(
    ("start", "action", "trigger"),
    [
        ("PROV", "document check (PROV→VALI)", "A31"),
        ("PROV", "used name", "A31"),
        ("QUAL", "locked trait (QUAL→VALI, INS invalidated)", "A47 A31"),
        ("QUAL", "document withdrawn (QUAL→RECUP)", "A47"),
        ("QUAL", "doubtful (QUAL→PROV, INS invalidated)", "A47"),
        ("RECUP", "INS invalidated (RECUP→PROV)", "A31"),
        ("PROV", "homonym", "A31"),
    ],
)
def test_the_events_of_one_action_fold_into_one_message_or_an_a47_then_the_traits(start, action, trigger, make_receiver, make_identity, front_desk, civ_member, civ_referent):
    make_receiver(2600)
    identity = make_identity(start)
    committed()
    before = set(OutboxMessage.objects.values_list("pk", flat=True))
    if action.startswith("document check"):
        factories.check_passport(front_desk, identity)
    elif action == "used name":
        services.identity_update_traits(actor=front_desk, identity_id=identity.pk, expected_version=identity.version, used_name="DUPONT")
    elif action.startswith("locked trait"):
        services.identity_update_traits(actor=civ_referent, identity_id=identity.pk, expected_version=identity.version,
                                        birth_name="MARTINE", reason="erreur de saisie")
    elif action.startswith("document withdrawn"):
        services.identity_withdraw_document_check(actor=civ_member, check_id=identity.document_checks.get().pk, reason="pièce falsifiée")
    elif action.startswith("doubtful"):
        services.identity_set_attribute(actor=civ_member, identity_id=identity.pk, attribute=Attribute.DOUT, value=True, reason="doute")
    elif action.startswith("INS invalidated"):
        services.identity_invalidate_ins(actor=civ_member, identity_id=identity.pk, reason="vérification KO")
    else:
        services.identity_set_attribute(actor=civ_member, identity_id=identity.pk, attribute=Attribute.HOMA, value=True, reason="homonyme")
    new = [row for row in rows() if row.pk not in before]
    assert [(row.trigger, row.state) for row in new] == [(kind, State.NEW) for kind in trigger.split()]


def test_the_sweep_releases_messages_whose_commit_hook_was_lost_and_names_receivers_with_work(make_receiver, front_desk, birthplaces):
    waiting, paused = make_receiver(2600), make_receiver(2601, paused=True)
    factories.identity(front_desk)
    assert outbox.sweep() == []  # younger than a minute: its own commit hook will release it
    assert outbox.sweep(now=timezone.now() + timedelta(minutes=2)) == [waiting.pk]
    assert {row.state for row in rows()} == {State.PENDING}
    assert paused.messages.count() == 1


def test_a_message_is_delivered_and_acknowledged(make_receiver, loopback, front_desk, birthplaces):
    receiver = make_receiver(loopback.port)
    identity = factories.identity(front_desk)
    committed()
    report = outbox.deliver(receiver.pk)
    (message,) = rows()
    (received,) = loopback.parsed()
    assert report.sent == 1
    assert str(received.segment("MSH")[10]) == message.control_id == str(message.pk)
    assert str(received.segment("MSH")[9]) == "ADT^A28^ADT_A05"
    assert received["PID.F3.R1.C1"] == str(identity.ipp)
    assert (message.state, message.attempts) == (State.SENT, 1)
    assert message.sent_at is not None and "MSA|AA" in message.ack


def test_a_refusal_dead_letters_the_message_and_holds_back_that_identity_only(make_receiver, loopback, front_desk, birthplaces):
    receiver = make_receiver(loopback.port)
    refused = factories.identity(front_desk, birth_name="REFUS")
    accepted = factories.identity(front_desk, birth_name="ACCEPTE")
    committed()
    loopback.answers = ["AE"]
    outbox.deliver(receiver.pk)
    assert [(row.identity, row.state) for row in rows()] == [(refused, State.DEAD), (accepted, State.SENT)]
    assert "refusé par le destinataire (AE)" in rows(identity=refused)[0].last_error
    services.identity_update_traits(actor=front_desk, identity_id=refused.pk, expected_version=refused.version, used_name="DUPONT")
    committed()
    report = outbox.deliver(receiver.pk)
    assert report.sent == 0 and len(loopback.received) == 2
    assert rows(identity=refused)[-1].state == State.PENDING


def test_a_rejection_is_retried_after_a_backoff(make_receiver, loopback, front_desk, birthplaces):
    receiver = make_receiver(loopback.port)
    factories.identity(front_desk)
    committed()
    loopback.answers = ["AR"]
    report = outbox.deliver(receiver.pk)
    (message,) = rows()
    assert (message.state, message.attempts, report.retried) == (State.PENDING, 1, 1)
    assert report.next_attempt_at == message.next_attempt_at > timezone.now()
    assert outbox.deliver(receiver.pk).sent == 0  # not due yet
    assert outbox.deliver(receiver.pk, now=later(10)).sent == 1
    first, second = loopback.parsed()
    assert str(first.segment("MSH")[10]) == str(second.segment("MSH")[10]) == str(message.pk)


def test_after_max_attempts_without_acknowledgement_the_message_is_dead_lettered(make_receiver, loopback, front_desk, birthplaces):
    receiver = make_receiver(loopback.port, max_attempts=2)
    factories.identity(front_desk)
    committed()
    loopback.answers = ["DROP", "AR"]
    outbox.deliver(receiver.pk)
    assert rows()[0].last_error.startswith("pas d'acquittement")
    outbox.deliver(receiver.pk, now=later(60))
    (message,) = rows()
    assert (message.state, message.attempts) == (State.DEAD, 2)
    assert "échec définitif après 2 envoi(s)" in message.last_error


def test_while_the_receiver_is_down_nothing_is_lost_and_order_is_kept(make_receiver, front_desk, birthplaces):
    port = free_port()
    receiver = make_receiver(port)
    first = factories.identity(front_desk, birth_name="PREMIER")
    committed()
    services.identity_update_traits(actor=front_desk, identity_id=first.pk, expected_version=first.version, used_name="DUPONT")
    factories.identity(front_desk, birth_name="SECOND")
    committed()
    report = outbox.deliver(receiver.pk)
    receiver.refresh_from_db()
    assert report.unreachable and receiver.unreachable_since and receiver.retry_at > timezone.now()
    assert [(row.state, row.attempts) for row in rows()] == [(State.PENDING, 0)] * 3
    assert outbox.deliver(receiver.pk).next_attempt_at == receiver.retry_at  # waits for its retry time
    system = LoopbackSystem(port)
    try:
        report = outbox.deliver(receiver.pk, now=later(60))
        sent = [(message["PID.F5.R1.C1"], str(message.segment("MSH")[9])) for message in system.parsed()]
    finally:
        system.stop()
    assert report.sent == 3
    assert sent == [("PREMIER", "ADT^A28^ADT_A05"), ("PREMIER", "ADT^A31^ADT_A05"), ("SECOND", "ADT^A28^ADT_A05")]
    assert [str(message.segment("MSH")[10]) for message in system.parsed()] == [str(row.pk) for row in rows()]
    receiver.refresh_from_db()
    assert (receiver.unreachable_since, receiver.retry_at, receiver.connection_failures) == (None, None, 0)


def test_a_replayed_message_is_sent_again_under_a_new_control_id(make_receiver, loopback, front_desk, administrator, birthplaces):
    receiver = make_receiver(loopback.port)
    factories.identity(front_desk)
    committed()
    outbox.deliver(receiver.pk)
    (message,) = rows()
    assert outbox.outbox_replay(actor=administrator, message_ids=[message.pk]) == 1
    outbox.deliver(receiver.pk)
    message.refresh_from_db()
    assert [str(received.segment("MSH")[10]) for received in loopback.parsed()] == [str(message.pk), f"{message.pk}-R1"]
    assert (message.state, message.replays, message.replayed_by) == (State.SENT, 1, administrator)


def test_a_receiver_replayed_since_a_date_gets_everything_again_in_order(make_receiver, loopback, front_desk, administrator, birthplaces):
    receiver = make_receiver(loopback.port)
    start = timezone.now()
    for name in ("UN", "DEUX", "TROIS"):
        factories.identity(front_desk, birth_name=name)
    committed()
    outbox.deliver(receiver.pk)
    assert outbox.outbox_replay(actor=administrator, receiver_id=receiver.pk, since=start) == 3
    outbox.deliver(receiver.pk)
    assert [message["PID.F5.R1.C1"] for message in loopback.parsed()] == ["UN", "DEUX", "TROIS"] * 2


def test_only_an_administrator_replays(make_receiver, civ_member, front_desk, birthplaces):
    make_receiver(2600)
    factories.identity(front_desk)
    with pytest.raises(NotAllowed):
        outbox.outbox_replay(actor=civ_member, message_ids=[rows()[0].pk])


def test_a_paused_receiver_keeps_its_messages_until_it_resumes(make_receiver, loopback, front_desk, administrator, birthplaces):
    receiver = make_receiver(loopback.port)
    outbox.receiver_set_paused(actor=administrator, receiver_id=receiver.pk, paused=True)
    factories.identity(front_desk)
    committed()
    assert outbox.deliver(receiver.pk).sent == 0 and loopback.received == []
    outbox.receiver_set_paused(actor=administrator, receiver_id=receiver.pk, paused=False)
    assert outbox.deliver(receiver.pk).sent == 1
    assert [record.history_change_reason for record in Receiver.history.filter(id=receiver.pk).order_by("history_date")][1:] == [
        "Mise en pause", "Reprise",
    ]


def test_the_gate_is_asked_when_the_message_leaves_not_when_it_was_queued(make_receiver, loopback, make_identity, civ_member):
    receiver = make_receiver(loopback.port)
    identity = make_identity("QUAL")
    matricule = identity.ins_matricule
    committed()
    services.identity_set_attribute(actor=civ_member, identity_id=identity.pk, attribute=Attribute.DOUT, value=True, reason="doute")
    committed()
    outbox.deliver(receiver.pk)
    assert len(loopback.received) == 2
    assert all(matricule not in text and "1.2.250.1.213.1.4" not in text for text in loopback.received)


def test_one_sender_at_a_time_per_receiver(make_receiver, loopback, front_desk, birthplaces):
    receiver = make_receiver(loopback.port)
    factories.identity(front_desk)
    committed()
    Receiver.objects.filter(pk=receiver.pk).update(delivering_until=timezone.now() + timedelta(minutes=1))
    report = outbox.deliver(receiver.pk)
    assert report.busy and loopback.received == []


def test_a_wakeup_is_scheduled_once_for_the_earliest_time(make_receiver):
    receiver = make_receiver(2600)
    soon, later_on = timezone.now() + timedelta(seconds=5), timezone.now() + timedelta(seconds=50)
    assert outbox.claim_wakeup(receiver.pk, later_on)
    assert outbox.claim_wakeup(receiver.pk, soon)
    assert not outbox.claim_wakeup(receiver.pk, later_on)



# --- What each receiver holds decides the message: PAM France's A47 withdrawal ---

def _mrg(message) -> list[str]:
    return [str(rep) for rep in message.segment("MRG")[1]]


def _pid3(message) -> list[str]:
    return [str(rep) for rep in message.segment("PID")[3]]


@pytest.mark.parametrize("action", ["doubtful", "document withdrawn", "INS invalidated", "locked trait"])
def test_a_withdrawn_ins_is_named_in_mrg_of_an_a47_to_the_receivers_that_had_it_only(
    action, make_receiver, make_identity, front_desk, civ_member, civ_referent, birthplaces
):
    first = LoopbackSystem()
    try:
        had_it = make_receiver(first.port)
        identity = make_identity("QUAL")
        number, oid = identity.ins_matricule, identity.ins_oid
        committed()
        outbox.deliver(had_it.pk)
        assert number in first.received[-1]
        second = LoopbackSystem()
        try:
            never_had_it = make_receiver(second.port)
            if action == "doubtful":
                services.identity_set_attribute(actor=civ_member, identity_id=identity.pk, attribute=Attribute.DOUT, value=True, reason="doute")
            elif action == "document withdrawn":
                services.identity_withdraw_document_check(actor=civ_member, check_id=identity.document_checks.get().pk, reason="pièce falsifiée")
            elif action == "INS invalidated":
                services.identity_invalidate_ins(actor=civ_member, identity_id=identity.pk, reason="vérification KO")
            else:
                services.identity_update_traits(actor=civ_referent, identity_id=identity.pk, expected_version=Identity.objects.get(pk=identity.pk).version,
                                                birth_name="MARTINE", reason="erreur de saisie")
            committed()
            outbox.deliver(had_it.pk)
            outbox.deliver(never_had_it.pk)
            withdrawal = first.parsed()[1]
            assert str(withdrawal.segment("MSH")[9]) == "ADT^A47^ADT_A30"
            assert _mrg(withdrawal) == [f"{number}^^^ASIP-SANTE-INS-NIR&{oid}&ISO^INS"]
            assert _pid3(withdrawal)[1] == f'""^^^ASIP-SANTE-INS-NIR&{oid}&ISO^INS'
            # The new status rides in PID-32 (§4.4.3): one level down (QUAL→VALI) or provisional.
            assert str(withdrawal.segment("PID")[32][0]) == ("VALI" if action in ("locked trait", "INS invalidated") else "PROV")
            if action == "locked trait":  # the traits follow the withdrawal (§4.1, §4.4.3)
                assert [str(m.segment("MSH")[9]) for m in first.parsed()[2:]] == ["ADT^A31^ADT_A05"]
                assert first.parsed()[2]["PID.F5.R1.C1"] == "MARTINE"
            # The receiver added later never had the INS: it is told the change without it.
            assert all(str(m.segment("MSH")[9]) != "ADT^A47^ADT_A30" for m in second.parsed())
            assert all(number not in text for text in second.received)
            sent = rows(receiver=had_it)
            assert (sent[0].ins_matricule, sent[1].ins_matricule, sent[1].trigger) == (number, "", Trigger.A47)
        finally:
            second.stop()
    finally:
        first.stop()


def test_the_withdrawal_is_sent_once_later_messages_carry_no_matricule(make_receiver, loopback, make_identity, civ_member, front_desk):
    receiver = make_receiver(loopback.port)
    identity = make_identity("QUAL")
    number = identity.ins_matricule
    committed()
    outbox.deliver(receiver.pk)
    services.identity_set_attribute(actor=civ_member, identity_id=identity.pk, attribute=Attribute.DOUT, value=True, reason="doute")
    committed()
    outbox.deliver(receiver.pk)
    services.identity_update_traits(actor=front_desk, identity_id=identity.pk, expected_version=Identity.objects.get(pk=identity.pk).version, used_name="DUPONT")
    committed()
    outbox.deliver(receiver.pk)
    assert [str(m.segment("MSH")[9]) for m in loopback.parsed()] == ["ADT^A28^ADT_A05", "ADT^A47^ADT_A30", "ADT^A31^ADT_A05"]
    assert [number in text for text in loopback.received] == [True, True, False]


def test_a_birth_date_corrected_after_the_ins_left_withdraws_it_with_an_a47(make_receiver, loopback, make_identity, front_desk):
    """PAM France §6.6.4: with a corrected birth date the INS may not be conveyed; a receiver that had it is told to delete it."""
    receiver = make_receiver(loopback.port)
    identity = make_identity("QUAL")
    number = identity.ins_matricule
    committed()
    outbox.deliver(receiver.pk)
    services.identity_update_traits(actor=front_desk, identity_id=identity.pk, expected_version=Identity.objects.get(pk=identity.pk).version,
                                    birth_date_corrected=True)
    committed()
    outbox.deliver(receiver.pk)
    first, withdrawal = loopback.parsed()
    assert str(withdrawal.segment("MSH")[9]) == "ADT^A47^ADT_A30"
    assert str(withdrawal.segment("MRG")[1]).startswith(f"{number}^^^ASIP-SANTE-INS-NIR&")
    assert str(withdrawal.segment("PID")[32]) == "VALI"
    assert number not in str(withdrawal.segment("PID"))


@pytest.mark.parametrize(("held", "now", "expected"), [
    ("old NIR", "QUAL", "A47"), ("same", "QUAL", "A31"), ("NIA", "QUAL", "A31"), ("nothing", "QUAL", "A31"),
    ("same", "withdrawn", "A47"), ("nothing", "withdrawn", "A31"),
], ids=["NIR replaced (§4.4.2)", "unchanged", "NIA replaced by a NIR (§4.4.1)", "first INS", "removed (§4.4.3)", "never had it"])
def test_the_event_sent_follows_what_the_receiver_holds(held, now, expected, make_identity):
    identity = make_identity("QUAL")
    current = (identity.ins_matricule, identity.ins_oid)
    if now == "withdrawn":
        identity.doubtful = True  # in memory only: the gate no longer shares the INS
    holding = {"old NIR": ("280056322099952", "1.2.250.1.213.1.4.8"), "same": current,
               "NIA": ("180056322099952", "1.2.250.1.213.1.4.9"), "nothing": ("", "")}[held]
    composition = outbox.compose(Trigger.A31, identity, holding)
    assert composition.trigger == expected
    assert composition.held_after == (current if now == "QUAL" else ("", "") if expected == "A47" else holding)
    assert (composition.withdrawn is not None) == (expected == "A47")


def test_an_erased_used_name_is_sent_as_the_hl7_null_once(make_receiver, loopback, front_desk, birthplaces):
    receiver = make_receiver(loopback.port)
    identity = factories.identity(front_desk, used_name="DUPONT")
    committed()
    outbox.deliver(receiver.pk)
    services.identity_update_traits(actor=front_desk, identity_id=identity.pk, expected_version=Identity.objects.get(pk=identity.pk).version, used_name="")
    committed()
    outbox.deliver(receiver.pk)
    services.identity_update_traits(actor=front_desk, identity_id=identity.pk, expected_version=Identity.objects.get(pk=identity.pk).version, used_given_name="JEANNOT")
    committed()
    outbox.deliver(receiver.pk)
    names = [[str(rep) for rep in m.segment("PID")[5]][1:] for m in loopback.parsed()]
    assert names == [["DUPONT^JEANNE^^^^^D"], ['""^JEANNE^^^^^D'], ["^JEANNOT^^^^^D"]]
