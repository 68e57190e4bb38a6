"""Operator command: drop the bodies of INSi exchanges past the retention period, keeping the rows."""
from django.conf import settings
from django.core.management.base import BaseCommand

from insi.exchanges import exchange_bodies_purge


class Command(BaseCommand):
    help = "Purge les contenus (requête, réponse) des échanges INSi plus anciens que la durée de conservation."

    def add_arguments(self, parser):
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="durée de conservation en jours (par défaut INSI_EXCHANGE_BODY_RETENTION_DAYS)",
        )

    def handle(self, *args, days, **options):
        days = settings.INSI_EXCHANGE_BODY_RETENTION_DAYS if days is None else days
        purged = exchange_bodies_purge(older_than_days=days)
        self.stdout.write(f"{purged} échange(s) INSi purgé(s) de leurs contenus (plus de {days} jours).")
