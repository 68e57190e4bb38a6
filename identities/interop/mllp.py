"""MLLP over TCP: framing, a client that waits for each ACK, and a threaded server (pure, no Django)."""
from __future__ import annotations

import logging
import socket
import socketserver
from collections.abc import Callable

logger = logging.getLogger(__name__)

START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c\r"
# A PAM identity message is a few hundred bytes; anything this big is not one.
MAX_MESSAGE_BYTES = 1_000_000
# Of a message over the limit, what is kept to address and record its refusal (the MSH and more).
KEPT_BYTES = 65_536
# A connection that sends nothing for this long is closed (a stalled peer holds a thread).
IDLE_SECONDS = 300.0


class MllpError(Exception):
    """The peer broke the framing, sent too much, or closed before answering."""


class OversizeMessage(MllpError):
    """A framed message over MAX_MESSAGE_BYTES, read to its end: ``head`` is its first KEPT_BYTES, ``size`` its length."""

    def __init__(self, head: bytes, size: int):
        super().__init__(f"message MLLP de {size} octets, plus de {MAX_MESSAGE_BYTES} octets")
        self.head, self.size = head, size


def frame(payload: bytes) -> bytes:
    return START_BLOCK + payload + END_BLOCK


class FrameReader:
    """Reads framed messages from a socket, one at a time, across TCP segment boundaries."""

    def __init__(self, sock: socket.socket):
        self._sock = sock
        self._buffer = b""

    def read(self) -> bytes | None:
        """The next message's payload, or None when the peer closed cleanly between messages."""
        while True:
            end = self._buffer.find(END_BLOCK)
            if end >= 0:
                block, self._buffer = self._buffer[:end], self._buffer[end + len(END_BLOCK):]
                start = block.find(START_BLOCK)
                if start < 0:
                    raise MllpError("bloc MLLP sans caractère de début (0x0B)")
                payload = block[start + 1:]
                if len(payload) > MAX_MESSAGE_BYTES:
                    raise OversizeMessage(payload[:KEPT_BYTES], len(payload))
                return payload
            if len(self._buffer) > MAX_MESSAGE_BYTES:
                self._skip_oversize()
            chunk = self._sock.recv(65536)
            if not chunk:
                if self._buffer.strip():
                    raise MllpError("connexion fermée au milieu d'un message MLLP")
                return None
            self._buffer += chunk

    def _skip_oversize(self) -> None:
        """Read an oversize message to its end block in bounded memory, then raise OversizeMessage.

        The next message of the connection starts after it, so the sender gets one answer per message.
        """
        start = self._buffer.find(START_BLOCK)
        head = self._buffer[start + 1:][:KEPT_BYTES] if start >= 0 else self._buffer[:KEPT_BYTES]
        size, tail = len(self._buffer) - (start + 1 if start >= 0 else 0), self._buffer[-1:]
        while True:
            chunk = self._sock.recv(65536)
            if not chunk:
                raise MllpError("connexion fermée au milieu d'un message MLLP")
            window = tail + chunk
            end = window.find(END_BLOCK)
            if end >= 0:
                size += end - len(tail)
                self._buffer = window[end + len(END_BLOCK):]
                raise OversizeMessage(head, size)
            size, tail = size + len(chunk), chunk[-1:]


class MllpClient:
    """One connection to a receiver; ``exchange`` sends a message and returns its ACK's bytes.

    Socket errors (refused, reset, timeout) propagate as OSError: the caller decides to retry.
    """

    def __init__(self, host: str, port: int, *, timeout: float):
        self.host, self.port, self.timeout = host, port, timeout
        self._sock: socket.socket | None = None
        self._reader: FrameReader | None = None

    def __enter__(self) -> MllpClient:
        self._sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        self._reader = FrameReader(self._sock)
        return self

    def __exit__(self, *exc) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = self._reader = None

    def exchange(self, payload: bytes) -> bytes:
        self._sock.sendall(frame(payload))
        answer = self._reader.read()
        if answer is None:
            raise MllpError("le destinataire a fermé la connexion sans acquitter")
        return answer


class _Connection(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.settimeout(IDLE_SECONDS)
        reader = FrameReader(self.request)
        try:
            while True:
                try:
                    payload = reader.read()
                except OversizeMessage as oversize:
                    if self.server.refuse_oversize is None:
                        raise
                    answer = self.server.refuse_oversize(oversize.head, oversize.size)
                else:
                    if payload is None:
                        return
                    answer = self.server.respond(payload)
                self.request.sendall(frame(answer))
        except (MllpError, OSError):
            # A broken peer only loses its own connection; the listener goes on.
            return

    def finish(self) -> None:
        if self.server.on_disconnect is not None:
            self.server.on_disconnect()


class MllpServer(socketserver.ThreadingTCPServer):
    """Listens for MLLP connections; ``respond`` turns each received message into its answer.

    One thread per connection, messages of a connection answered in order. A message over
    MAX_MESSAGE_BYTES is answered by ``refuse_oversize(head, size)`` (without one, its
    connection is closed). ``on_disconnect`` runs in the connection's thread when it ends (to
    release per-thread resources).
    """

    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, address: tuple[str, int], respond: Callable[[bytes], bytes], *,
                 refuse_oversize: Callable[[bytes, int], bytes] | None = None, on_disconnect: Callable[[], None] | None = None):
        self.respond = respond
        self.refuse_oversize = refuse_oversize
        self.on_disconnect = on_disconnect
        super().__init__(address, _Connection)

    def handle_error(self, request, client_address) -> None:
        # socketserver would print the traceback, with the exception's text, to stderr: it goes
        # through the logging configuration instead (frames and class, never the text).
        logger.exception("MLLP connection from %s failed", client_address[0])
