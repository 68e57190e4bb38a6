"""``manage.py mllp_listen`` as a process, over a real socket: every framed message is answered (AA, AE or AR with
an ERR segment), broken ones stored and refused, the listener stops cleanly on SIGTERM and SIGINT, even when
started in the background, and writes no traceback text of its own."""
from __future__ import annotations

import select
import signal
import socket
import tempfile

import hl7
import pytest

from identities.core.models import Identity
from identities.interop.mllp import END_BLOCK, KEPT_BYTES, MAX_MESSAGE_BYTES, MllpClient, frame
from identities.interop.models import InboundMessage
from tests import processes
from tests.identities.interop.conftest import free_port
from tests.identities.interop.test_reception import a28


class Listener:
    def __init__(self, process, port: int, log):
        self.process, self.port, self.log = process, port, log

    def stderr(self) -> str:
        self.log.seek(0)
        return self.log.read().decode("utf-8", errors="replace")

    def exchange(self, payload: bytes) -> hl7.Message:
        with MllpClient("127.0.0.1", self.port, timeout=30) as client:
            return hl7.parse(client.exchange(payload).decode())


def start_listener(**popen) -> Listener:
    """The listener on a free port; its log goes to a file (a pipe nobody reads would block it once full)."""
    port, log = free_port(), tempfile.TemporaryFile()
    process = processes.start(["manage.py", "mllp_listen", "--host", "127.0.0.1", "--port", str(port)], stderr=log, **popen)
    assert select.select([process.stdout], [], [], 60)[0], "the listener said nothing within 60 s"
    assert f"Écoute MLLP sur 127.0.0.1:{port}" in process.stdout.readline().decode()
    return Listener(process, port, log)


@pytest.fixture
def listener(transactional_db, birthplaces):
    running = start_listener()
    yield running
    processes.stop(running.process)


def err_of(ack: hl7.Message) -> tuple[str, str]:
    return str(ack.segment("ERR")[3]), str(ack.segment("ERR")[8])


BROKEN = {
    "backslash in MSH-10": (a28(control="M\\1"), "AE", "MSH-10"),
    "NUL bytes": (a28(names="DU\x00BOIS^ANNE^^^^^L"), "AE", "message"),
    "NUL in MSH-10": (a28(control="M\x00"), "AE", "message"),
    "binary junk": (bytes(range(256)) * 4, "AE", "MSH-18"),
    "control characters": (b"\x01\x02\x03 bonjour", "AE", "message"),
    "text that is not HL7": (b"GET / HTTP/1.1", "AE", "MSH"),
    "junk after an MSH": (b"MSH|^~\\&|\xff\xfe\x00\x01", "AE", "MSH-18"),
    "MSH-10 of 101 characters": (a28(control="M" * 101), "AE", "MSH-10"),
    "name over 100 characters": (a28(names="D" * 101 + "^ANNE^^^^^L"), "AE", "PID-5"),
    "sender patient id over 100 characters": (a28(patient="P" * 101, ins=""), "AE", "PID-3"),
}


def test_every_broken_message_gets_a_negative_ack_with_err_and_is_stored(listener):
    for name, (raw, code, location) in BROKEN.items():
        ack = listener.exchange(raw)
        assert ack["MSA.F1"] == code, name
        assert err_of(ack)[1], name  # ERR-8: what is wrong, in words
        stored = InboundMessage.objects.order_by("-pk").first()
        assert stored is not None and stored.state == "REJECTED", name
        assert stored.error_location == location, (name, stored.error_location)
    assert InboundMessage.objects.count() == len(BROKEN)
    assert Identity.objects.count() == 0
    # The control id is echoed only when it can be: a usable one still comes back in MSA-2.
    assert listener.exchange(a28(ins="", control="OK1"))["MSA.F2"] == "OK1"


def test_a_message_over_the_limit_is_refused_stored_by_its_beginning_and_the_connection_goes_on(listener):
    big = a28(ins="", control="BIG").replace(b"PV1||N", b"NTE|||" + b"x" * MAX_MESSAGE_BYTES)
    with MllpClient("127.0.0.1", listener.port, timeout=60) as client:
        refused = hl7.parse(client.exchange(big).decode())
        after = hl7.parse(client.exchange(a28(ins="", control="NEXT")).decode())
    assert (refused["MSA.F1"], refused["MSA.F2"]) == ("AE", "BIG")
    assert str(len(big)) in err_of(refused)[1]
    assert (after["MSA.F1"], after["MSA.F2"]) == ("AA", "NEXT")
    stored = InboundMessage.objects.get(control_id="BIG")
    assert stored.state == "REJECTED" and len(stored.payload) == KEPT_BYTES and big.decode().startswith(stored.payload)


def test_a_message_cut_across_many_segments_is_answered_once(listener):
    raw = frame(a28(ins="", control="SLOW"))
    with socket.create_connection(("127.0.0.1", listener.port), timeout=30) as sock:
        for index in range(0, len(raw), 7):
            sock.sendall(raw[index:index + 7])
        answer = b""
        while not answer.endswith(END_BLOCK):
            answer += sock.recv(65536)
    assert hl7.parse(answer[1:-2].decode())["MSA.F2"] == "SLOW"


def _ignoring_sigint():
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # what a shell does to a job started with &


@pytest.mark.parametrize(("how", "background"), [(signal.SIGTERM, False), (signal.SIGINT, False), (signal.SIGINT, True),
                                                 (signal.SIGTERM, True)])
def test_the_listener_stops_cleanly_on_sigterm_and_sigint(transactional_db, birthplaces, how, background):
    running = start_listener(**({"preexec_fn": _ignoring_sigint} if background else {}))
    try:
        assert running.exchange(a28(ins=""))["MSA.F1"] == "AA"
    finally:
        code = processes.stop(running.process, how, grace=15)
    assert code == 0  # stopped by itself, not killed
    assert "Traceback" not in running.stderr()
