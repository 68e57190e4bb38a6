"""End to end with a real Celery worker on Redis: the commit of an identity event sends its HL7 message to a loopback system, retries and resumes on their own."""
import time

import pytest
from celery.contrib.testing.app import TestApp, setup_default_app
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.db import connections

# Imported before any test app exists: shared tasks register with every app finalized after.
import identities.workflows.tasks  # noqa: F401
from identities.core import services
from identities.interop import outbox
from identities.interop.models import OutboxMessage
from tests import factories
from tests.identities.interop.conftest import LoopbackSystem, free_port

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]


def _close_connections(**_kwargs):
    # The worker's thread has its own database connection: closed after each task, so the
    # test database can be flushed and dropped.
    connections.close_all()


@pytest.fixture
def worker(settings, celery_queue):
    # The broker of this run (CELERY_BROKER_URL) and a queue of this test's own: nothing of another
    # run's queues is consumed or emptied.
    app = TestApp(set_as_current=False, config={
        "broker_url": settings.CELERY_BROKER_URL, "result_backend": "cache+memory://", "timezone": settings.TIME_ZONE,
        "worker_prefetch_multiplier": 1, "task_acks_late": True, "task_default_queue": celery_queue,
    })
    task_postrun.connect(_close_connections, weak=False)
    try:
        with setup_default_app(app):
            with start_worker(app, pool="solo", perform_ping_check=False, loglevel="WARNING", shutdown_timeout=10,
                              queues=[celery_queue]):
                yield app
    finally:
        task_postrun.disconnect(_close_connections)


def wait_for(condition, *, deadline: float = 30.0, what: str) -> None:
    """Poll until the worker has done its part; fail (not time) when it never does."""
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            pytest.fail(f"still waiting for {what} after {deadline:.0f} s")
        time.sleep(0.1)


def states() -> list[str]:
    return list(OutboxMessage.objects.order_by("pk").values_list("state", flat=True))


def test_the_commit_of_an_identity_event_delivers_its_message(worker, make_receiver, loopback, front_desk, birthplaces):
    make_receiver(loopback.port)
    identity = factories.identity(front_desk)
    wait_for(lambda: states() == ["SENT"], what="the A28 to be acknowledged")
    (message,) = loopback.parsed()
    assert message["PID.F3.R1.C1"] == str(identity.ipp)
    assert str(message.segment("MSH")[9]) == "ADT^A28^ADT_A05"


def test_a_receiver_down_then_up_gets_everything_in_order_without_anyone_stepping_in(worker, make_receiver, front_desk, birthplaces):
    port = free_port()
    make_receiver(port)
    first = factories.identity(front_desk, birth_name="PREMIER")
    services.identity_update_traits(actor=front_desk, identity_id=first.pk, expected_version=first.version, used_name="DUPONT")
    factories.identity(front_desk, birth_name="SECOND")
    wait_for(lambda: OutboxMessage.objects.filter(receiver__connection_failures__gte=1).exists(), what="a failed connection")
    assert states() == ["PENDING"] * 3
    system = LoopbackSystem(port)
    try:
        wait_for(lambda: states() == ["SENT"] * 3, what="the three messages after the receiver came back")
        sent = [(message["PID.F5.R1.C1"], str(message.segment("MSH")[9])) for message in system.parsed()]
    finally:
        system.stop()
    assert sent == [("PREMIER", "ADT^A28^ADT_A05"), ("PREMIER", "ADT^A31^ADT_A05"), ("SECOND", "ADT^A28^ADT_A05")]


def test_a_rejected_message_is_sent_again_after_its_backoff(worker, make_receiver, loopback, front_desk, birthplaces):
    make_receiver(loopback.port)
    loopback.answers = ["AR"]
    factories.identity(front_desk)
    wait_for(lambda: states() == ["SENT"], what="the retried message")
    assert len(loopback.received) == 2
    assert OutboxMessage.objects.get().attempts == 2


def test_a_replay_goes_out_on_commit(worker, make_receiver, loopback, front_desk, administrator, birthplaces):
    make_receiver(loopback.port)
    factories.identity(front_desk)
    wait_for(lambda: states() == ["SENT"], what="the first sending")
    outbox.outbox_replay(actor=administrator, message_ids=list(OutboxMessage.objects.values_list("pk", flat=True)))
    wait_for(lambda: len(loopback.received) == 2, what="the replayed message")
    assert str(loopback.parsed()[1].segment("MSH")[10]).endswith("-R1")
