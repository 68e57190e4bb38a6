"""Campaigns in plain French: the crontab, the review cycle, the pace and the share of a run said in words."""
import pytest
from django.utils import translation
from django_celery_beat.models import CrontabSchedule

from identities.workflows import campaign_text
from identities.workflows.models import VerificationCampaign


def cron(minute="30", hour="22", day_of_week="*", day_of_month="*", month_of_year="*"):
    return CrontabSchedule(minute=minute, hour=hour, day_of_week=day_of_week, day_of_month=day_of_month, month_of_year=month_of_year)


@pytest.mark.parametrize(("schedule", "said"), [
    (cron(), "tous les jours à 22:30"),
    (cron(day_of_week="1-5"), "du lundi au vendredi à 22:30"),
    (cron(minute="0", hour="2", day_of_week="6,0"), "le week-end à 02:00"),
    (cron(minute="0", hour="1,3", day_of_week="2,4"), "le mardi et jeudi à 01:00 et 03:00"),
    (cron(minute="15", hour="23", day_of_month="1"), "le 1 du mois à 23:15"),
    (cron(minute="0", hour="2", day_of_month="1", month_of_year="1,7"), "le 1 du mois à 02:00, en janvier et juillet"),
])
def test_a_crontab_is_said_in_words(schedule, said):
    assert campaign_text.crontab_in_french(schedule) == said


@pytest.mark.parametrize("schedule", [cron(minute="*/10"), cron(hour="*"), cron(day_of_week="mon-fri"), cron(day_of_month="1", day_of_week="1")])
def test_a_crontab_beyond_plain_words_is_left_to_the_administrator(schedule):
    assert campaign_text.crontab_in_french(schedule) is None


@pytest.mark.parametrize(("days", "said"), [(1095, "tous les 3 ans"), (1461, "tous les 4 ans"), (365, "tous les ans"),
                                            (180, "tous les 6 mois"), (10, "tous les 10 jours"),
                                            (None, "tout le périmètre à chaque exécution")])
def test_the_review_cycle_is_said_in_years_or_months(days, said):
    assert campaign_text.cycle_in_french(days) == said


@pytest.mark.django_db
def test_the_whole_campaign_reads_as_one_sentence():
    schedule = cron(day_of_week="1-5")
    schedule.save()
    campaign = VerificationCampaign(name="Revue", statuses=["RECUP", "QUAL"], cycle_days=1095, calls_per_second=2.5, schedule=schedule)
    assert campaign_text.campaign_in_french(campaign, per_run=12) == (
        "Vérifie auprès d'INSi les identités récupérées et qualifiées (NIR et NIA) tous les 3 ans ; "
        "lancée du lundi au vendredi à 22:30 ; au plus 2,5 appel(s) par seconde ; environ 12 identités par exécution."
    )


@pytest.mark.django_db
def test_in_english_the_days_months_and_pace_are_english():
    schedule = cron(minute="0", hour="2", day_of_week="2,4", day_of_month="*", month_of_year="1,7")
    schedule.save()
    campaign = VerificationCampaign(name="Review", statuses=["RECUP"], cycle_days=365, calls_per_second=2.5, schedule=schedule)
    with translation.override("en"):
        said = campaign_text.campaign_in_french(campaign)
    assert "on Tuesday and Thursday" in said and "in January and July" in said and "2.5" in said, said
