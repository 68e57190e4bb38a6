"""manage.py find_duplicates: the duplicate and homonym sweep over the whole base, here or on the workers, and its CSV export."""
from __future__ import annotations

import csv
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from identities.core import roles
from identities.core.models import WorklistItem
from identities.matching import pairs, store
from identities.matching.models import MatchPair

EXPORT_COLUMNS = ("identity_id", "identity_ipp", "other_id", "other_ipp", "score", "band", "kind", "state", "explanation")


class Command(BaseCommand):
    help = _(
        "Recherche les doublons potentiels et les homonymes sur toute la base (moteur probabiliste expliqué) et les "
        "place dans les files de la CIV ; --export écrit les paires proposées en CSV."
    )

    def add_arguments(self, parser):
        parser.add_argument("--parts", type=int, help=_("Avec --workers : parties du passage (plages de clés), "
                                                         "défaut MATCHING_SWEEP_PARTS"))
        parser.add_argument("--workers", action="store_true",
                            help=_("Confier les parties aux workers Celery et suivre l'avancement (sinon : ici, en un seul passage)"))
        parser.add_argument("--rebuild-keys", action="store_true",
                            help=_("Recalculer d'abord les clés de rapprochement de toutes les identités (après un chargement en masse)"))
        parser.add_argument("--export", metavar="PAIRS.CSV",
                            help=_("Écrire les paires ouvertes en CSV (identifiants, IPP, score, bande, nature, explication)"))

    def handle(self, *args, parts: int | None, workers: bool, rebuild_keys: bool, export: str | None, **options):
        if parts is not None and parts < 1:
            raise CommandError(_("--parts doit être au moins 1"))
        if parts is not None and not workers:
            raise CommandError(_("--parts ne sert qu'avec --workers : ici, le passage se fait en une fois"))
        actor = roles.system_user()
        started = time.monotonic()
        if rebuild_keys:
            written = store.keys_rebuild()
            self.stdout.write(_("%(n)d clés de rapprochement recalculées en %(s).1f s") % {"n": written, "s": time.monotonic() - started})
        if workers:
            run = pairs.sweep_start(actor=actor, parts=parts)
            while True:
                run.refresh_from_db()
                progress = pairs.sweep_progress(run)
                self.stdout.write(_("  %(done)d / %(parts)d parties, %(running)d en cours")
                                  % {"done": progress.done, "parts": progress.parts, "running": progress.running})
                if run.state == run.State.DONE:
                    break
                time.sleep(2)
            new = progress.new
        else:
            outcome = pairs.sweep_run_inline(actor=actor)
            run, new = outcome.run, outcome.new
        progress = pairs.sweep_progress(run)
        self.stdout.write(self.style.SUCCESS(_(
            "Passage n° %(run)d : %(identities)d identités, %(proposed)d paires proposées dont %(new)d nouvelle(s) ou "
            "rouverte(s) dans les files, en %(s).1f s."
        ) % {"run": run.pk, "identities": run.identities, "proposed": progress.proposed, "new": new, "s": time.monotonic() - started}))
        if export:
            count = export_pairs(Path(export))
            self.stdout.write(_("%(n)d paires écrites dans %(path)s") % {"n": count, "path": export})


def export_pairs(path: Path) -> int:
    """The open pair items with their engine verdicts, best score first."""
    rows = (MatchPair.objects.filter(item__state=WorklistItem.State.OPEN)
            .select_related("item__identity", "item__other").order_by("-score", "item__identity_id", "item__other_id"))
    count = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(EXPORT_COLUMNS)
        for match in rows.iterator(chunk_size=5000):
            item = match.item
            out.writerow((item.identity_id, item.identity.ipp, item.other_id, item.other.ipp, f"{match.score:.2f}", match.band,
                          match.kind, item.state, " | ".join(match.explanation)))
            count += 1
    return count
