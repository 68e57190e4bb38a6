"""install_schedules: the periodic tasks and default campaigns declared in code, installed once, adjustable afterwards."""
import pytest
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from identities.core.models import Status
from identities.workflows.models import VerificationCampaign

pytestmark = pytest.mark.django_db


def test_it_installs_the_default_campaigns_and_the_periodic_tasks():
    call_command("install_schedules")

    review = VerificationCampaign.objects.get(name__startswith="Revue quadriennale")
    assert (review.statuses, review.cycle_days, review.nature) == ([Status.RECUP, Status.QUAL], 1461, "ALL")
    assert review.periodic_task.enabled and review.periodic_task.crontab.hour == "2"
    nia = VerificationCampaign.objects.get(nature="NIA")
    assert nia.periodic_task.task == "identities.tasks.campaign_run_scheduled"
    tasks = set(PeriodicTask.objects.values_list("task", flat=True))
    assert {
        "identities.tasks.purge_insi_exchange_bodies", "identities.tasks.resume_runs", "identities.tasks.sweep_outbox",
        "identities.tasks.refresh_worklists",
    } <= tasks


def test_running_it_again_changes_nothing_and_keeps_what_the_civ_adjusted():
    call_command("install_schedules")
    review = VerificationCampaign.objects.get(name__startswith="Revue quadriennale")
    review.cycle_days = 1826
    review.save()
    counts = (VerificationCampaign.objects.count(), PeriodicTask.objects.count())

    call_command("install_schedules")

    review.refresh_from_db()
    assert (VerificationCampaign.objects.count(), PeriodicTask.objects.count()) == counts
    assert review.cycle_days == 1826
