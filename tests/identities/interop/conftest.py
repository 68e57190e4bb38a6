"""Fixtures of the interoperability tests: identities in every status, a loopback HL7 system, receivers."""
from __future__ import annotations

import itertools
import threading

import hl7
import pytest

from identities.core import services
from identities.core.models import Attribute
from identities.interop import clients
from identities.interop.common import LocalAuthority
from identities.interop.mllp import MllpServer
from identities.interop.models import ClientApplication, Receiver
from tests import factories
from tests.processes import free_port

# Every status, with and without an attribute; DOUT is set on a qualified identity (its INS
# is then invalidated), FICT on a provisional one.
CASES = ["PROV", "PROV+HOMA", "RECUP", "RECUP+HOMA", "VALI", "VALI+HOMA", "QUAL", "QUAL+HOMA", "DOUT", "DOUT+HOMA", "FICT"]
_serial = itertools.count(100)


def next_matricule13() -> str:
    """A fresh 13-character matricule (NIR, Puy-de-Dôme) for each identity of a test."""
    return f"2800563220{next(_serial):03d}"


@pytest.fixture
def authority(settings) -> LocalAuthority:
    return LocalAuthority.from_settings(settings)


@pytest.fixture
def make_identity(front_desk, civ_member, birthplaces):
    """``make_identity("QUAL+HOMA", birth_name=...)``: an identity brought to that case through the services."""

    def make(case: str, **overrides):
        status, _, attribute = case.partition("+")
        start = "QUAL" if status == "DOUT" else ("PROV" if status == "FICT" else status)
        if start == "QUAL":
            identity = factories.qualified(front_desk, matricule13=next_matricule13(), **overrides)
        elif start == "RECUP":
            identity = factories.recovered(front_desk, matricule13=next_matricule13(), **overrides)
        else:
            identity = factories.identity(front_desk, **overrides)
            if start == "VALI":
                factories.check_passport(front_desk, identity)
        for code in ({"DOUT": [Attribute.DOUT], "FICT": [Attribute.FICT]}.get(status, []) + ([attribute] if attribute else [])):
            services.identity_set_attribute(actor=civ_member, identity_id=identity.pk, attribute=code, value=True, reason="test")
        identity.refresh_from_db()
        return identity

    return make


class LoopbackSystem:
    """A receiving system on 127.0.0.1: keeps every message it gets, answers the ACK codes it is
    given in turn (AA once they run out; DROP hangs up without answering)."""

    def __init__(self, port: int = 0):
        self.received: list[str] = []
        self.answers: list[str] = []
        self.server = MllpServer(("127.0.0.1", port), respond=self._respond)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _respond(self, raw: bytes) -> bytes:
        text = raw.decode("utf-8")
        self.received.append(text)
        control_id = str(hl7.parse(text).segment("MSH")[10])
        code = self.answers.pop(0) if self.answers else "AA"
        if code == "DROP":
            raise ConnectionAbortedError("hangs up without acknowledging")
        return f"MSH|^~\\&|SIH|CHU|||20240101120000||ACK|A{control_id}|P|2.5\rMSA|{code}|{control_id}|réponse {code}".encode()

    def parsed(self) -> list:
        return [hl7.parse(text) for text in self.received]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def loopback():
    system = LoopbackSystem()
    yield system
    system.stop()


@pytest.fixture
def make_receiver(db):
    def make(port: int, **fields) -> Receiver:
        return Receiver.objects.create(
            **{"name": f"SIH {port}", "host": "127.0.0.1", "port": port, "receiving_application": "SIH",
               "receiving_facility": "CHU", "timeout_seconds": 2, "max_attempts": 3} | fields
        )

    return make


@pytest.fixture
def token_for(administrator):
    """``token_for("read import")``: the bearer token of a new client application holding those scopes."""
    def issue(scopes: str = "read", name: str = "DPI") -> str:
        return clients.client_application_save(actor=administrator, application=ClientApplication(name=name, scopes=scopes))

    return issue
