"""Import identities from a CSV file: received from another domain, row by row with INSi verification (columns:
docs/workflows.md), or ``--bulk``: a large base of provisional identities loaded at once (columns: README)."""
from __future__ import annotations

import time
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from identities.core.errors import ServiceError
from identities.matching import store
from identities.workflows.bulk_load import MAX_ERRORS, identities_bulk_load
from identities.workflows.csv_import import identities_import_csv


class Command(BaseCommand):
    help = "Importe des identités reçues d'un autre domaine (CSV UTF-8) : chaque ligne créée, rapprochée ou rejetée avec son motif."

    def add_arguments(self, parser):
        parser.add_argument("path", help="fichier CSV")
        parser.add_argument("--user", help="compte au nom duquel l'import est fait (tracé) ; obligatoire sans --bulk")
        parser.add_argument(
            "--bulk", action="store_true",
            help="chargement en masse d'identités provisoires (COPY sur PostgreSQL), sans INS ni recherche d'antériorité ; "
                 "toutes les lignes contrôlées d'abord, puis clés de rapprochement calculées (lancer ensuite find_duplicates)",
        )

    def handle(self, *args, **options):
        if options["bulk"]:
            return self._bulk(options["path"])
        if not options["user"]:
            raise CommandError("--user est obligatoire (sauf avec --bulk)")
        user = get_user_model().objects.filter(username=options["user"], is_active=True).first()
        if user is None:
            raise CommandError(f"utilisateur inconnu ou inactif : {options['user']}")
        try:
            report = identities_import_csv(actor=user, content=Path(options["path"]).read_bytes())
        except ServiceError as error:
            raise CommandError(error.message) from error
        for row in report.rows:
            parts = [f"ligne {row.line}", row.result_label]
            if row.external_id:
                parts.append(f"[{row.external_id}]")
            if row.identity_id:
                parts.append(f"identité n° {row.identity_id}")
            if row.ins:
                parts.append(row.ins_label)
            if row.column:
                parts.append(f"colonne {row.column}")
            if row.reason and row.result == "rejected":
                parts.append(row.reason)
            self.stdout.write(" — ".join(parts))
        self.stdout.write(report.summary)

    def _bulk(self, path: str) -> None:
        started = time.monotonic()
        try:
            report = identities_bulk_load(path)
        except (OSError, ValueError) as error:
            raise CommandError(str(error)) from error
        if report.errors:
            for line in report.errors:
                self.stderr.write(line)
            raise CommandError(f"{len(report.errors)} ligne(s) refusée(s) (au plus {MAX_ERRORS} affichées) : rien n'a été chargé.")
        loaded = time.monotonic()
        keys = store.keys_rebuild(only_missing=True)
        self.stdout.write(
            f"{report.loaded} identité(s) chargée(s) en {loaded - started:.1f} s ; {keys} clés de rapprochement en "
            f"{time.monotonic() - loaded:.1f} s."
        )
