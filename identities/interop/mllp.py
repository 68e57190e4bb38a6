"""MLLP over TCP: framing, a client that waits for each ACK, and a threaded server (pure, no Django)."""
from __future__ import annotations

import socket
import socketserver
from collections.abc import Callable

START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c\r"
# A PAM identity message is a few hundred bytes; anything this big is not one.
MAX_MESSAGE_BYTES = 1_000_000


class MllpError(Exception):
    """The peer broke the framing, sent too much, or closed before answering."""


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
                return block[start + 1:]
            if len(self._buffer) > MAX_MESSAGE_BYTES:
                raise MllpError(f"message MLLP de plus de {MAX_MESSAGE_BYTES} octets")
            chunk = self._sock.recv(65536)
            if not chunk:
                if self._buffer.strip():
                    raise MllpError("connexion fermée au milieu d'un message MLLP")
                return None
            self._buffer += chunk


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
        reader = FrameReader(self.request)
        try:
            while (payload := reader.read()) is not None:
                self.request.sendall(frame(self.server.respond(payload)))
        except (MllpError, OSError):
            # A broken peer only loses its own connection; the listener goes on.
            return

    def finish(self) -> None:
        if self.server.on_disconnect is not None:
            self.server.on_disconnect()


class MllpServer(socketserver.ThreadingTCPServer):
    """Listens for MLLP connections; ``respond`` turns each received message into its answer.

    One thread per connection, messages of a connection answered in order. ``on_disconnect``
    runs in the connection's thread when it ends (to release per-thread resources).
    """

    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, address: tuple[str, int], respond: Callable[[bytes], bytes], *, on_disconnect: Callable[[], None] | None = None):
        self.respond = respond
        self.on_disconnect = on_disconnect
        super().__init__(address, _Connection)
