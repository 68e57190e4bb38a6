"""The INSi workflow screens, as an agent or the CIV uses them (simulator over HTTP, no worker)."""
import re

import pytest
from django.urls import reverse
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from identities.core import worklists
from identities.core.models import Status, WorklistItem
from identities.workflows.models import InsiRecovery, InsiRun, VerificationCampaign
from tests.identities.portal.client import logged_in
from tests.identities.workflows import people

pytestmark = pytest.mark.django_db


def _row(page: str, field: str) -> tuple[str, str]:
    """The colour class and the content of one line of the comparison."""
    match = re.search(rf'<tr class="([\w-]+)" id="row-{field}">(.*?)</tr>', page, re.S)
    return match.group(1), match.group(2)


def _page(identity):
    return reverse("admin:identities_identity_change", args=[identity.pk])


def test_the_identity_page_offers_recovery_and_says_why_verification_is_not_possible(insi, front_desk):
    identity = people.desk(front_desk, people.ADRUN)

    page = logged_in(front_desk).get(_page(identity)).content.decode()

    assert 'id="insi-recover" value=' in page and reverse("admin:insi_vitale", args=[identity.pk]) in page
    assert "Aucun INS enregistré à vérifier" in page


def test_the_identity_page_of_a_recovered_identity_says_no_recovery_is_needed(insi, front_desk):
    identity = people.fed(front_desk, people.ADRUN, people.ADRUN_INS)

    page = logged_in(front_desk).get(_page(identity)).content.decode()

    assert "Aucune récupération nécessaire" in page and 'id="insi-verify" value=' in page


def test_an_open_verification_ko_is_shown_as_an_alert_on_the_identity(insi, front_desk, civ_member):
    identity = people.fed(front_desk, people.ADRUN, people.ADRUN_INS)
    worklists.worklist_add_item(actor=civ_member, kind=WorklistItem.Kind.INSI_VERIFICATION, identity_id=identity.pk,
                                reason="Vérification INSi KO : traits différents")

    page = logged_in(front_desk).get(_page(identity)).content.decode()

    assert 'id="insi-ko-alert"' in page and "traits différents" in page


def test_after_a_verification_ko_the_civ_recovers_again_and_the_returned_ins_replaces_the_stored_one(insi, front_desk, civ_member):
    identity = people.fed(front_desk, people.ADRUN, people.ADRUN_INS)
    ko = worklists.worklist_add_item(actor=civ_member, kind=WorklistItem.Kind.INSI_VERIFICATION, identity_id=identity.pk,
                                     reason="Vérification INSi KO : traits différents")
    civ = logged_in(civ_member)

    page = civ.get(_page(identity)).content.decode()
    assert "Faites une nouvelle récupération de l'INS" in page
    assert 'id="insi-recover" value=' in page and "Aucune récupération nécessaire" not in page
    # The front desk is told why it is the CIV's to do: the stored INS will be replaced.
    assert "réservée à la CIV" in logged_in(front_desk).get(_page(identity)).content.decode()

    civ.post(reverse("admin:insi_recover", args=[identity.pk]))
    found = identity.insi_recoveries.get()
    civ.post(reverse("admin:insi_recovery", args=[found.pk]), {"action": "accept"})

    identity.refresh_from_db()
    ko.refresh_from_db()
    assert (identity.status, identity.ins_matricule) == (Status.RECUP, people.ADRUN_INS)
    old, new = identity.matricules.order_by("recorded_at", "id")
    assert old.invalidated_at is not None and "vérification KO" in old.invalidation_reason and new.invalidated_at is None
    assert (ko.state, ko.decision) == (WorklistItem.State.DONE, WorklistItem.Decision.OBSOLETE)
    assert "Alerte INSi" not in civ.get(_page(identity)).content.decode()


def test_recovering_shows_the_comparison_with_each_difference_marked_in_words(insi, front_desk):
    identity = people.desk(front_desk, people.ARTAGNAN, birthplace_code="75056")
    client = logged_in(front_desk)

    response = client.post(reverse("admin:insi_recover", args=[identity.pk]), follow=True)

    page = response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("admin:insi_recovery", args=[identity.insi_recoveries.get().pk])
    marked, given_names = _row(page, "birth_given_names")
    assert marked == "insi-diff" and "≠ DIFFÉRENT" in given_names and "PIERRE-ALAIN GUNTHER" in given_names
    marked, birth_name = _row(page, "birth_name")
    assert marked == "insi-same" and "= identique" in birth_name
    assert "Taux de similarité : 90,0 %" in page
    assert "taux = Σ(poids × score)" in page


def test_accepting_from_the_comparison_feeds_the_identity(insi, front_desk):
    identity = people.desk(front_desk, people.ARTAGNAN)
    client = logged_in(front_desk)
    client.post(reverse("admin:insi_recover", args=[identity.pk]))
    found = identity.insi_recoveries.get()

    response = client.post(reverse("admin:insi_recovery", args=[found.pk]), {"action": "accept"})

    identity.refresh_from_db()
    assert response.url == _page(identity) and identity.status == Status.RECUP


def test_a_manager_reads_a_recovery_but_is_offered_no_decision(insi, front_desk, manager):
    identity = people.desk(front_desk, people.ARTAGNAN)
    logged_in(front_desk).post(reverse("admin:insi_recover", args=[identity.pk]))
    found = identity.insi_recoveries.get()
    client = logged_in(manager)

    page = client.get(reverse("admin:insi_recovery", args=[found.pk])).content.decode()
    posted = client.post(reverse("admin:insi_recovery", args=[found.pk]), {"action": "accept"})

    assert "PIERRE-ALAIN GUNTHER" in page and 'id="accept"' not in page and 'id="reject"' not in page
    assert posted.status_code == 403
    identity.refresh_from_db()
    assert identity.status == Status.PROV


def test_a_manager_is_not_offered_to_start_a_campaign(manager, civ_referent):
    from identities.workflows.models import VerificationCampaign

    VerificationCampaign.objects.create(name="Revue", statuses=["QUAL"])
    url = reverse("admin:identities_verificationcampaign_changelist")

    assert 'value="start_now"' not in logged_in(manager).get(url).content.decode()
    assert 'value="start_now"' in logged_in(civ_referent).get(url).content.decode()


def test_refusing_without_a_reason_shows_the_form_again_and_with_one_records_it(insi, front_desk):
    identity = people.desk(front_desk, people.ARTAGNAN)
    client = logged_in(front_desk)
    client.post(reverse("admin:insi_recover", args=[identity.pk]))
    found = identity.insi_recoveries.get()
    url = reverse("admin:insi_recovery", args=[found.pk])

    again = client.post(url, {"action": "reject", "reason": ""})
    done = client.post(url, {"action": "reject", "reason": "Autre personne"})

    found.refresh_from_db()
    assert again.status_code == 200 and "errorlist" in again.content.decode()
    assert done.status_code == 302 and found.state == InsiRecovery.State.REJECTED


def test_a_01_page_guides_and_retries_in_one_click(insi, front_desk):
    identity = people.desk(front_desk, people.ADRUN, birth_name="DURAND", used_name="ADRUN")
    client = logged_in(front_desk)
    client.post(reverse("admin:insi_recover", args=[identity.pk]))
    found = identity.insi_recoveries.get()

    page = client.get(reverse("admin:insi_recovery", args=[found.pk])).content.decode()
    retried = client.post(reverse("admin:insi_recovery", args=[found.pk]), {
        "action": "retry", "birth_name": "ADRUN", "birth_given_names": "ZOE", "birthplace_code": "63220",
    })

    assert 'id="guidance"' in page and "nom d&#x27;usage" in page and "Relancer avec « ADRUN » comme nom de naissance" in page
    latest = identity.insi_recoveries.order_by("-pk").first()
    assert retried.url == reverse("admin:insi_recovery", args=[latest.pk]) and latest.state == InsiRecovery.State.AWAITING


def test_a_retry_with_a_bad_trait_names_the_field(insi, front_desk):
    identity = people.desk(front_desk, people.DE_VINCI)
    client = logged_in(front_desk)
    client.post(reverse("admin:insi_recover", args=[identity.pk]))
    found = identity.insi_recoveries.get()

    page = client.post(reverse("admin:insi_recovery", args=[found.pk]), {
        "action": "retry", "birth_name": "DE VINCI", "birth_given_names": "LEONARDO", "birthplace_code": "6322",
    }).content.decode()

    assert "code officiel géographique INSEE attendu" in page


def test_the_carte_vitale_form_leads_to_the_comparison_or_names_the_wrong_field(insi, front_desk):
    identity = people.desk(front_desk, people.ADRUN)
    client = logged_in(front_desk)
    url = reverse("admin:insi_vitale", args=[identity.pk])

    wrong = client.post(url, {"beneficiary_nir": "275126322074975", "birth_name": "ADRUN", "birth_date": "31/12/1975", "birth_rank": "1"})
    right = client.post(url, {"beneficiary_nir": people.ADRUN_INS, "birth_name": "ADRUN", "birth_date": "31/12/1975", "birth_rank": "1"})

    assert "la clé 75 ne correspond pas aux 13 premiers caractères" in wrong.content.decode()
    assert "attendue" not in wrong.content.decode()
    assert right.url == reverse("admin:insi_recovery", args=[identity.insi_recoveries.get().pk])


def test_verifying_from_the_identity_page_says_the_outcome(insi, front_desk):
    identity = people.fed(front_desk, people.ADRUN, people.ADRUN_INS)

    response = logged_in(front_desk).post(reverse("admin:insi_verify", args=[identity.pk]), follow=True)

    assert "Vérification INSi : OK" in response.content.decode()


def test_recovering_a_selection_starts_a_batch_and_shows_its_progress(insi, front_desk):
    first, second = people.desk(front_desk, people.ADRUN), people.desk(front_desk, people.HOUILLES)
    client = logged_in(front_desk)

    response = client.post(reverse("admin:identities_identity_changelist"), {
        "action": "recover_selected", "_selected_action": [first.pk, second.pk],
    }, follow=True)

    run = InsiRun.objects.get()
    page = response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("admin:insi_run", args=[run.pk])
    assert 'id="run-progress" max="2" value="0"' in page and 'http-equiv="refresh"' in page
    assert "vous pouvez quitter cette page" in page


def test_a_finished_batch_page_is_its_result_and_the_runs_are_listed_from_the_home_page(insi, front_desk):
    from identities.workflows import campaigns

    identity = people.desk(front_desk, people.HOUILLES)
    run = campaigns.recovery_batch_start(actor=front_desk, identity_ids=[identity.pk])
    assert campaigns.run_work(run.pk, seconds=30) == "finished"  # what the worker does, here in the test
    client = logged_in(front_desk)

    page = client.get(reverse("admin:insi_run", args=[run.pk])).content.decode()
    assert "Terminée" in page and 'http-equiv="refresh"' not in page
    assert 'id="run-progress" max="1" value="1"' in page and 'id="count-NOT_FOUND"' in page
    home = client.get(reverse("admin:index")).content.decode()
    runs = reverse("admin:identities_insirun_changelist")
    assert runs in home
    assert reverse("admin:insi_run", args=[run.pk]) in client.get(runs).content.decode()


def test_a_batch_can_start_from_a_worklist(insi, front_desk, civ_member):
    identity = people.desk(front_desk, people.ADRUN)
    worklists.worklists_sync(actor=civ_member)

    response = logged_in(civ_member).post(reverse("admin:insi_batch"), {"worklist_kind": "PROV", "count": "10"})

    run = InsiRun.objects.get()
    assert response.url == reverse("admin:insi_run", args=[run.pk])
    assert list(run.items.values_list("identity_id", flat=True)) == [identity.pk]


def test_the_civ_pauses_and_cancels_a_run_from_its_page(insi, front_desk, civ_member):
    run_url = None
    people.fed(front_desk, people.ADRUN, people.ADRUN_INS)
    client = logged_in(civ_member)
    campaign = VerificationCampaign.objects.create(name="Revue", statuses=["RECUP", "QUAL"])
    client.post(reverse("admin:identities_verificationcampaign_changelist"), {"action": "start_now", "_selected_action": [campaign.pk], "confirm": "1"})
    run = InsiRun.objects.get()
    run_url = reverse("admin:insi_run", args=[run.pk])

    client.post(run_url, {"action": "pause"})
    run.refresh_from_db()
    assert run.state == InsiRun.State.PAUSED
    client.post(run_url, {"action": "cancel"})
    run.refresh_from_db()
    page = client.get(run_url).content.decode()
    assert run.state == InsiRun.State.CANCELLED and 'id="count-PENDING"' in page and 'id="run-cancel"' not in page


def test_lancer_maintenant_says_which_identities_it_will_take_and_why_before_starting(insi, front_desk, civ_member):
    due = people.fed(front_desk, people.ADRUN, people.ADRUN_INS)
    campaign = VerificationCampaign.objects.create(name="Revue", statuses=["RECUP", "QUAL"], not_verified_for_days=0)
    client = logged_in(civ_member)
    url = reverse("admin:identities_verificationcampaign_changelist")

    page = client.post(url, {"action": "start_now", "_selected_action": [campaign.pk]}).content.decode()
    assert not InsiRun.objects.exists()  # nothing started yet
    assert "Cette exécution vérifiera 1 identité sur les 1 du périmètre." in page
    assert "non vérifiées depuis 0 jours (ou jamais) : dues pour une vérification" in page
    assert str(due) in page and 'id="confirm-start"' in page

    client.post(url, {"action": "start_now", "_selected_action": [campaign.pk], "confirm": "1"})
    assert InsiRun.objects.get().total == 1


def test_a_front_desk_agent_does_not_see_others_runs(insi, front_desk, civ_member):
    people.fed(front_desk, people.ADRUN, people.ADRUN_INS)
    campaign = VerificationCampaign.objects.create(name="Revue", statuses=["RECUP"])
    logged_in(civ_member).post(reverse("admin:identities_verificationcampaign_changelist"), {"action": "start_now", "_selected_action": [campaign.pk], "confirm": "1"})
    run = InsiRun.objects.get()

    assert logged_in(front_desk).get(reverse("admin:insi_run", args=[run.pk])).status_code == 403


def test_the_civ_configures_a_campaign_and_its_schedule_in_the_admin(civ_member):
    nightly = CrontabSchedule.objects.create(minute="0", hour="2")
    client = logged_in(civ_member)

    response = client.post(reverse("admin:identities_verificationcampaign_add"), {
        "name": "Revue des NIA", "description": "", "active": "on", "statuses": ["RECUP", "QUAL"], "nature": "NIA",
        "worklist_kind": "", "calls_per_second": "1.5", "schedule": nightly.pk, "cycle_days": "", "not_verified_for_days": "7",
    })

    assert response.status_code == 302, response.content.decode()[:2000]
    campaign = VerificationCampaign.objects.get()
    assert campaign.statuses == ["RECUP", "QUAL"] and campaign.created_by == civ_member
    assert PeriodicTask.objects.get(pk=campaign.periodic_task_id).crontab == nightly
    listing = client.get(reverse("admin:identities_verificationcampaign_changelist")).content.decode()
    assert "Revue des NIA" in listing
    assert "identités récupérées et qualifiées (NIA seulement)" in listing and "lancée tous les jours à 02:00" in listing


def test_the_lists_of_runs_and_recoveries_open(insi, front_desk, civ_member):
    identity = people.desk(front_desk, people.ADRUN)
    logged_in(front_desk).post(reverse("admin:insi_recover", args=[identity.pk]))
    client = logged_in(civ_member)

    runs = client.get(reverse("admin:identities_insirun_changelist")).content.decode()
    recoveries = client.get(reverse("admin:identities_insirecovery_changelist"))

    assert reverse("admin:insi_batch") in runs and reverse("admin:insi_import") in runs
    assert recoveries.status_code == 200 and "ADRUN" in recoveries.content.decode()


def test_the_import_page_reports_every_row(insi, civ_member):
    from django.core.files.uploadedfile import SimpleUploadedFile

    content = ("nom_naissance;prenoms_naissance;date_naissance;sexe\nADRUN;ZOE;31/12/1975;F\nX1;ZOE;31/12/1975;F\n").encode()

    page = logged_in(civ_member).post(reverse("admin:insi_import"), {"file": SimpleUploadedFile("recus.csv", content)}).content.decode()

    assert 'class="import-created"' in page and 'class="import-rejected"' in page and "chiffres ne sont pas autorisés" in page


def test_a_front_desk_agent_may_not_open_the_import(front_desk):
    assert logged_in(front_desk).get(reverse("admin:insi_import")).status_code == 403


def test_a_verification_ko_is_counted_on_the_dashboard(insi, front_desk, civ_member):
    from identities.workflows.verification import verification_verify

    identity = people.fed(front_desk, people.ADRUN, "275126322074923")
    verification_verify(actor=civ_member, identity_id=identity.pk)

    page = logged_in(civ_member).get(reverse("admin:dashboard")).content.decode()

    ages = re.search(r'<table class="ins-dashboard-table" id="table-anciennete">(.*?)</table>', page, re.S).group(1)
    row = re.search(r'<tr><th scope="row">Échecs de vérification INSi</th>(.*?)</tr>', ages, re.S).group(1)
    assert row.startswith('<td class="ins-number">1</td>')
    outcomes = re.search(r'id="table-insi">(.*?)</table>', page, re.S).group(1)
    assert re.search(r'Vérification : INS non confirmé \(KO\)</th><td class="ins-number">1</td>', outcomes)
