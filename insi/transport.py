"""The outbound seam: loading the WSDL without network and posting envelopes while capturing their exact bytes."""
from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from zeep.settings import Settings
from zeep.transports import Transport
from zeep.wsdl import Document

from insi.errors import InsiConfigurationError

WSDL_DIR = Path(__file__).resolve().parent / "wsdl"
DEFAULT_WSDL = WSDL_DIR / "ServiceIdentiteCertifiee-v1.wsdl"
# Remote imports of the official package, answered from local files.
LOCAL_SCHEMAS = {
    "http://www.w3.org/2006/03/addressing/ws-addr.xsd": WSDL_DIR / "xsd" / "ws-addr.xsd",
}


class LocalSchemaTransport(Transport):
    """Loads WSDL/XSD from files only: known remote imports are mapped, any other URL is refused."""

    def load(self, url: str) -> bytes:
        local = LOCAL_SCHEMAS.get(url)
        if local is not None:
            return local.read_bytes()
        if urlparse(url).scheme in ("http", "https"):
            raise InsiConfigurationError(
                f"the INSi WSDL imports {url}: remote schemas are never fetched, add a local copy to LOCAL_SCHEMAS"
            )
        return super().load(url)


@dataclass
class Capture:
    """The exact bytes of one HTTP exchange, as they crossed the wire."""

    sent: bytes = b""
    received: bytes = b""
    http_status: int | None = None


_current_capture: ContextVar[Capture | None] = ContextVar("insi_capture", default=None)


class CapturingTransport(LocalSchemaTransport):
    """Posts through its requests session and keeps what was sent and received in the current capture.

    The capture happens here rather than in a zeep plugin because plugins run before
    WS-Security: only the transport sees the final envelope.
    """

    @contextmanager
    def capture(self) -> Iterator[Capture]:
        capture = Capture()
        token = _current_capture.set(capture)
        try:
            yield capture
        finally:
            _current_capture.reset(token)

    def post(self, address, message, headers):
        # zeep's own post() logs whole bodies at DEBUG level: they hold personal data.
        capture = _current_capture.get()
        if capture is not None:
            capture.sent = message if isinstance(message, bytes) else message.encode("utf-8")
        response = self.session.post(address, data=message, headers=headers, timeout=self.operation_timeout)
        if capture is not None:
            capture.received = response.content
            capture.http_status = response.status_code
        return response


@functools.cache
def load_document(wsdl: str) -> Document:
    """The parsed WSDL, once per process and path; shared by the MANU and AUTO clients."""
    if not Path(wsdl).is_file():
        raise InsiConfigurationError(f"INSI_WSDL does not name a readable file: {wsdl}")
    return Document(wsdl, LocalSchemaTransport(), settings=Settings())
