"""Import identities received from another domain from a CSV file (columns: docs/workflows.md), printing each row's fate."""
from __future__ import annotations

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from identities.core.errors import ServiceError
from identities.workflows.csv_import import identities_import_csv


class Command(BaseCommand):
    help = "Importe des identités reçues d'un autre domaine (CSV UTF-8) : chaque ligne créée, rapprochée ou rejetée avec son motif."

    def add_arguments(self, parser):
        parser.add_argument("path", help="fichier CSV")
        parser.add_argument("--user", required=True, help="compte au nom duquel l'import est fait (tracé)")

    def handle(self, *args, **options):
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
            if row.reason and row.result == "rejected":
                parts.append(row.reason)
            self.stdout.write(" — ".join(parts))
        self.stdout.write(
            f"{report.count('created')} créée(s), {report.count('matched')} rapprochée(s), {report.count('rejected')} rejetée(s)."
        )
