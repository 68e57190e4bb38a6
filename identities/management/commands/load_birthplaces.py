"""manage.py load_birthplaces: fill the COG birthplace table from the official INSEE data packages."""
from __future__ import annotations

import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from identities.core import reference_data
from identities.core.models import Birthplace


class Command(BaseCommand):
    help = _(
        "Charge les codes INSEE des lieux de naissance (COG) : communes actuelles, déléguées et associées, "
        "arrondissements municipaux, anciens codes, pays et territoires étrangers (99xxx). Sans --source, "
        "télécharge le paquet npm @etalab/decoupage-administratif. Relançable sans risque."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--source", type=Path,
            help=_("Dossier du paquet déjà décompressé ou archive .tgz (pas de téléchargement)"),
        )

    def handle(self, *args, source: Path | None, **options):
        try:
            if source is not None:
                outcome = reference_data.load_birthplaces(source)
            else:
                outcome = self._load_from_registry()
        except reference_data.ReferenceDataError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(_("Source : %(source)s") % {"source": outcome.source})
        for kind in Birthplace.Kind:
            self.stdout.write(f"  {kind.label} : {outcome.by_kind.get(kind.value, 0)}")
        self.stdout.write(self.style.SUCCESS(
            _("Codes chargés ou mis à jour : %(total)d ; absents de la source, marqués « plus en vigueur » : %(retired)d.")
            % {"total": outcome.total, "retired": outcome.retired}
        ))

    def _load_from_registry(self) -> reference_data.LoadOutcome:
        cache = reference_data.cache_dir()
        try:
            cache.mkdir(parents=True, exist_ok=True)
        except OSError:
            # A read-only install still loads, from a throw-away folder.
            cache = Path(tempfile.mkdtemp(prefix="insportal-cog-"))
        self.stdout.write(_("Téléchargement de %(package)s (npm pack)…") % {"package": reference_data.COG_NPM_PACKAGE})
        return reference_data.load_birthplaces(reference_data.fetch_cog_package(cache))
