"""A loopback HTTP(S) server running the portal in a thread, so tests and benches reach the simulator over real sockets."""
from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django.core.wsgi import get_wsgi_application


class _Handler(WSGIRequestHandler):
    # Answers are written in several small sends: without this, Nagle's algorithm and the
    # client's delayed ACK add 40 ms to every keep-alive exchange on loopback.
    disable_nagle_algorithm = True

    def log_message(self, format, *args):
        # One line per request would drown test and bench output.
        pass

    def get_environ(self):
        environ = super().get_environ()
        # Hand the client certificate's CN to the simulator the way mod_ssl does.
        certificate = self.connection.getpeercert() if isinstance(self.connection, ssl.SSLSocket) else None
        for rdn in (certificate or {}).get("subject", ()):
            for name, value in rdn:
                if name == "commonName":
                    environ["SSL_CLIENT_S_DN_CN"] = value
        return environ


@contextmanager
def serve(*, ssl_context: ssl.SSLContext | None = None) -> Iterator[str]:
    """Serve the portal on 127.0.0.1 (a free port) and yield the simulator's URL."""
    server = ThreadedWSGIServer(("127.0.0.1", 0), _Handler, allow_reuse_address=False)
    server.set_app(get_wsgi_application())
    if ssl_context is not None:
        server.socket = ssl_context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, name="insi-simulator", daemon=True)
    thread.start()
    scheme = "https" if ssl_context is not None else "http"
    try:
        yield f"{scheme}://127.0.0.1:{server.server_port}/insi-simulator/lps"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
