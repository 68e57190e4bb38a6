"""The portal's INSi simulator on a loopback socket, behind a switchboard that injects faults per birth name."""
from __future__ import annotations

import io
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django.core.wsgi import get_wsgi_application

_BIRTH_NAME = re.compile(rb"NomNaissance>([^<]*)<")


class _QuietHandler(WSGIRequestHandler):
    disable_nagle_algorithm = True  # 40 ms per keep-alive exchange otherwise

    def log_message(self, format, *args):
        pass


class Switchboard:
    """A WSGI front of the simulator: a birth name can be made to fail (HTTP 500) or to get a rewritten answer.

    The faults stand where the network stands, outside the portal: the client, its retries,
    its exchange log and the workflows all run for real.
    """

    def __init__(self):
        self._app = get_wsgi_application()
        self._lock = threading.Lock()
        self._failures: dict[str, int | None] = {}
        self._rewrites: dict[str, Callable[[bytes], bytes]] = {}
        self.calls: dict[str, int] = {}

    def reset(self) -> None:
        with self._lock:
            self._failures.clear()
            self._rewrites.clear()
            self.calls.clear()

    def fail(self, birth_name: str, *, times: int | None = None) -> None:
        """HTTP 500 for the next ``times`` calls about this birth name (None: every call)."""
        with self._lock:
            self._failures[birth_name] = times

    def rewrite(self, birth_name: str, change: Callable[[bytes], bytes]) -> None:
        """Answers about this birth name pass through ``change`` (to return what the simulator never does)."""
        with self._lock:
            self._rewrites[birth_name] = change

    def meanwhile(self, birth_name: str, action: Callable[[], object]) -> dict:
        """Run ``action`` on the switchboard's thread (its own database connection) while INSi is being
        asked about this birth name; the returned dict receives its ``result`` or its ``error``."""
        from django.db import connection

        seen: dict = {}

        def run(body: bytes) -> bytes:
            try:
                seen["result"] = action()
            except Exception as error:  # the test reads what happened
                seen["error"] = error
            finally:
                connection.close()
            return body

        self.rewrite(birth_name, run)
        return seen

    def _should_fail(self, name: str) -> bool:
        with self._lock:
            self.calls[name] = self.calls.get(name, 0) + 1
            if name not in self._failures:
                return False
            left = self._failures[name]
            if left is None:
                return True
            if left <= 0:
                return False
            self._failures[name] = left - 1
            return True

    def __call__(self, environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        match = _BIRTH_NAME.search(body)
        name = match.group(1).decode("utf-8") if match else ""
        if self._should_fail(name):
            start_response("500 Internal Server Error", [("Content-Type", "text/html")])
            return [b"<html><body>500 Internal Server Error</body></html>"]
        change = self._rewrites.get(name)
        if change is None:
            return self._app(environ, start_response)
        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers

        content = change(b"".join(self._app(environ, capture)))
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        start_response(captured["status"], [*headers, ("Content-Length", str(len(content)))])
        return [content]


@contextmanager
def serve(switchboard: Switchboard) -> Iterator[str]:
    """Serve the switchboard on 127.0.0.1 (a free port) and yield the simulator's URL."""
    server = ThreadedWSGIServer(("127.0.0.1", 0), _QuietHandler, allow_reuse_address=False)
    server.set_app(switchboard)
    thread = threading.Thread(target=server.serve_forever, name="insi-switchboard", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/insi-simulator/lps"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
