"""manage.py mllp_listen: receive HL7 v2 A28/A31 identity messages from another identification domain over MLLP."""
from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connections

from identities.interop import reception
from identities.interop.mllp import MllpServer


class Command(BaseCommand):
    help = "Écoute les messages HL7 v2 (PAM-FR A28/A31) d'un autre domaine d'identification, sur MLLP."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=settings.MLLP_LISTEN_HOST, help="adresse d'écoute (MLLP_LISTEN_HOST)")
        parser.add_argument("--port", type=int, default=settings.MLLP_LISTEN_PORT, help="port d'écoute (MLLP_LISTEN_PORT)")

    def handle(self, *args, host: str, port: int, **options):
        verify = reception.configured_verifier()
        if verify is None:
            self.stderr.write("INS_RECEPTION_VERIFIER non configuré : les INS reçus resteront en attente de vérification INSi.")
        server = MllpServer(
            (host, port),
            respond=lambda raw: reception.receive_hl7(raw, verify=verify),
            # Each connection has its own thread, hence its own database connection: closed with it.
            on_disconnect=connections.close_all,
        )
        self.stdout.write(f"Écoute MLLP sur {host}:{server.server_address[1]} (Ctrl-C pour arrêter).")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
