"""Operator command: run the recommended INSi search for one set of traits and print every call's outcome."""
import re

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from insi.strategy import search_recommended
from insi.types import CallContext, Fault, Found, Mode, TransportFailure


class Command(BaseCommand):
    help = "Recherche INSi par traits (stratégie recommandée), un appel par prénom puis tous les prénoms."

    def add_arguments(self, parser):
        parser.add_argument("--nom", required=True, help="nom de naissance")
        parser.add_argument("--prenoms", required=True, help='prénoms de naissance, séparés par des espaces ("P1 P2")')
        parser.add_argument("--sexe", required=True, choices=["M", "F"])
        parser.add_argument("--date", required=True, help="date de naissance AAAA-MM-JJ")
        parser.add_argument("--lieu", default="", help="code COG du lieu de naissance (envoyé seulement après un 02)")
        parser.add_argument("--mode", default=Mode.MANU, choices=[mode.value for mode in Mode])
        parser.add_argument("--user", default="", help="nom d'utilisateur à qui rattacher les appels")

    def handle(self, *args, nom, prenoms, sexe, date, lieu, mode, user, **options):
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", date.strip()):
            raise CommandError(f"date de naissance attendue au format AAAA-MM-JJ, reçu « {date} »")
        user_obj = None
        if user:
            try:
                user_obj = get_user_model().objects.get_by_natural_key(user)
            except get_user_model().DoesNotExist:
                raise CommandError(f"utilisateur inconnu : {user}") from None
        context = CallContext(mode=Mode(mode), user=user_obj, task_label="" if user_obj else "commande insi_search")
        # Upper case only: the other character rules belong to the caller (identities.core.traits).
        report = search_recommended(
            birth_name=nom.strip().upper(),
            given_names=prenoms.upper().split(),
            sex=sexe,
            birth_date=date.strip(),
            birthplace=lieu.strip().upper(),
            context=context,
        )
        for number, step in enumerate(report.steps, start=1):
            place = f", lieu {step.birthplace}" if step.birthplace else ""
            self.stdout.write(f"{number}. prénom « {step.given_name} »{place} → {_describe(step.outcome)}")
        self.stdout.write(f"Résultat : {report.outcome.code}")


def _describe(outcome) -> str:
    attempts = f" ({outcome.attempts} tentatives)" if outcome.attempts > 1 else ""
    if isinstance(outcome, Found):
        lines = [
            f"{outcome.code} {outcome.label}{attempts}",
            f"   matricule {outcome.active.matricule} OID {outcome.active.oid}"
            + ("" if outcome.active.key_checks else " (clé incohérente, valeur INSi conservée)"),
            *(f"   historique {entry.matricule} OID {entry.oid}" for entry in outcome.history),
            f"   traits : {outcome.traits.birth_name} / {outcome.traits.given_names} / {outcome.traits.sex}"
            f" / {outcome.traits.birth_date} / {outcome.traits.birthplace}",
        ]
        return "\n".join(lines)
    if isinstance(outcome, Fault):
        return f"erreur {outcome.code} ({outcome.subcode or outcome.soap_code}) : {outcome.message}{attempts}"
    if isinstance(outcome, TransportFailure):
        return f"échec technique {outcome.code} : {outcome.message}{attempts}"
    return f"{outcome.code} {outcome.label}{attempts}"
