"""manage.py refresh_worklists: the pass over the whole base that keeps the CIV's queues up to date."""
from __future__ import annotations

import time

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from identities.core import roles
from identities.matching import pairs


class Command(BaseCommand):
    help = _(
        "Met à jour les files de travail de la CIV : identités provisoires, douteuses et fictives (ouverture et "
        "clôture des éléments), puis recherche des doublons potentiels et des homonymes sur toute la base. "
        "À planifier chaque nuit ; relançable sans risque."
    )

    def add_arguments(self, parser):
        parser.add_argument("--sans-paires", action="store_true", dest="no_pairs",
                            help=_("Ne pas rechercher les doublons et homonymes (files d'états seulement)"))

    def handle(self, *args, no_pairs: bool, **options):
        started = time.monotonic()
        outcome = pairs.worklists_refresh(actor=roles.system_user(), detect_pairs=not no_pairs)
        self.stdout.write(self.style.SUCCESS(_(
            "Files mises à jour en %(seconds).1f s : %(opened)d élément(s) ouvert(s), %(closed)d clos, %(pairs)d paire(s) détectée(s)."
        ) % {"seconds": time.monotonic() - started, "opened": outcome.opened, "closed": outcome.closed, "pairs": outcome.pairs}))
