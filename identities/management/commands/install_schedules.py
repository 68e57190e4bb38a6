"""Install the portal's periodic tasks and default verification campaigns into django-celery-beat (idempotent)."""
from __future__ import annotations

import json
from dataclasses import dataclass

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from identities.core import roles
from identities.core.models import Status
from identities.workflows.campaigns import campaign_save
from identities.workflows.models import VerificationCampaign


@dataclass(frozen=True)
class Periodic:
    name: str
    task: str
    crontab: dict | None = None  # minute, hour, day_of_week...
    every_seconds: int | None = None


# Declared here, installed once; afterwards the schedules are adjusted in the admin (Tâches périodiques).
PERIODIC = (
    Periodic("Purge des contenus des échanges INSi", "identities.tasks.purge_insi_exchange_bodies", crontab={"minute": "30", "hour": "3"}),
    Periodic("Reprise des exécutions INSi interrompues", "identities.tasks.resume_runs", every_seconds=300),
    Periodic("Relance des messages HL7 en attente", "identities.tasks.sweep_outbox", every_seconds=60),
    Periodic("Mise à jour nocturne des files de la CIV", "identities.tasks.refresh_worklists", crontab={"minute": "0", "hour": "1"}),
    Periodic("Suppression des PDF d'étiquettes anciens", "identities.documents.purge_label_jobs", crontab={"minute": "15"}),
    Periodic("Regroupement des décomptes du tableau de bord", "identities.tasks.compact_identity_tally", every_seconds=900),
)

DAILY_AT_2 = {"minute": "0", "hour": "2"}
WEEKLY_MONDAY_AT_3 = {"minute": "0", "hour": "3", "day_of_week": "1"}
DEFAULT_CAMPAIGNS = (
    {
        "name": "Revue quadriennale des identités récupérées et qualifiées",
        "description": "Chaque nuit, la part du jour des identités récupérées et qualifiées (les moins récemment vérifiées "
                       "d'abord) : toute la base est revue en 4 ans (référentiel national : tous les 3 à 5 ans).",
        "statuses": [Status.RECUP, Status.QUAL], "cycle_days": 1461, "calls_per_second": 2.0, "crontab": DAILY_AT_2,
    },
    {
        "name": "Vérification des NIA",
        "description": "Chaque semaine, les identités dont le matricule est un NIA (temporaire), pour intégrer le NIR qui le remplace.",
        "statuses": [Status.RECUP, Status.QUAL], "nature": VerificationCampaign.Nature.NIA, "not_verified_for_days": 7,
        "calls_per_second": 1.0, "crontab": WEEKLY_MONDAY_AT_3,
    },
)


def _crontab(spec: dict) -> CrontabSchedule:
    fields = {"minute": "*", "hour": "*", "day_of_week": "*", "day_of_month": "*", "month_of_year": "*"} | spec
    return CrontabSchedule.objects.get_or_create(**fields, timezone=settings.TIME_ZONE)[0]


class Command(BaseCommand):
    help = "Installe les tâches périodiques et les campagnes de vérification par défaut (sans écraser les réglages faits ensuite)."

    def handle(self, *args, **options):
        created = []
        with transaction.atomic():
            for periodic in PERIODIC:
                if PeriodicTask.objects.filter(name=periodic.name).exists():
                    continue
                schedule = (
                    {"crontab": _crontab(periodic.crontab)} if periodic.crontab
                    else {"interval": IntervalSchedule.objects.get_or_create(every=periodic.every_seconds, period=IntervalSchedule.SECONDS)[0]}
                )
                PeriodicTask.objects.create(name=periodic.name, task=periodic.task, args=json.dumps([]), **schedule)
                created.append(periodic.name)
            actor = roles.system_user()
            for spec in DEFAULT_CAMPAIGNS:
                if VerificationCampaign.objects.filter(name=spec["name"]).exists():
                    continue
                fields = {key: value for key, value in spec.items() if key != "crontab"}
                campaign_save(actor=actor, campaign=VerificationCampaign(**fields, schedule=_crontab(spec["crontab"])))
                created.append(spec["name"])
        for name in created:
            self.stdout.write(f"installé : {name}")
        self.stdout.write(f"{len(created)} planification(s) installée(s), les autres existaient déjà.")
