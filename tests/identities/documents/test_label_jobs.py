"""Label jobs: a large print is queued and followed, rendered by a real Celery worker, downloaded by who may, failed and retried, purged."""
from __future__ import annotations

import io
import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from identities.core import services
from identities.core.models import IdentityEvent
from identities.documents import labels as label_services
from identities.documents import selectors as printing
from identities.documents import tasks as document_tasks
from identities.documents.models import LabelFormat, LabelJob
from tests import factories
from tests.identities.documents import pdfs
from tests.identities.documents.test_labels import ALL_EXTRAS, profile
from tests.processes import stop, worker_process


def ask(actor, identities, *, copies: int) -> label_services.LabelPrint:
    chosen = printing.label_profiles_for(actor).filter(name="Profil de test").first() or profile(actor, extras=ALL_EXTRAS)
    return label_services.identities_print_labels(actor=actor, identity_ids=[i.pk for i in identities], profile_id=chosen.pk,
                                                  copies=copies)


def page_count(pdf: bytes) -> int:
    return len(PdfReader(io.BytesIO(pdf)).pages)


def job_page(client, job: LabelJob):
    return client.get(reverse("documents:label_job", args=[job.pk]), secure=True)


def download(client, job: LabelJob):
    return client.get(reverse("documents:label_job_download", args=[job.pk]), secure=True)


def test_a_print_above_the_threshold_is_a_queued_job_recorded_with_its_audit(front_desk, birthplaces, settings):
    settings.LABEL_JOB_ABOVE = 48
    qualified = factories.qualified(front_desk)

    small = ask(front_desk, [qualified], copies=48)
    large = ask(front_desk, [qualified], copies=49)

    assert small.job is None and page_count(small.pdf) == 2
    assert large.pdf is None
    job = large.job
    assert (job.state, job.labels, job.pages_total, job.pages_done) == (LabelJob.State.QUEUED, 49, 3, 0)
    [event] = IdentityEvent.objects.filter(kind=IdentityEvent.Kind.PRINTED, details__job=job.pk)
    assert event.identity_id == qualified.pk and event.actor == front_desk
    assert event.details["copies"] == 49 and event.details["ins_printed"] is True


def test_the_label_page_sends_a_large_print_to_its_progress_page(client, front_desk, birthplaces, settings):
    settings.LABEL_JOB_ABOVE = 2
    ident = factories.identity(front_desk)
    chosen = profile(front_desk)
    client.force_login(front_desk)

    response = client.post(reverse("documents:identity_labels"), {"identities": str(ident.pk), "profile": chosen.pk, "copies": 3},
                           secure=True, follow=True)

    job = LabelJob.objects.get()
    assert response.redirect_chain[0] == (reverse("documents:label_job", args=[job.pk]), 302)
    page = response.content.decode()
    assert "en tâche de fond" in page and '<meta http-equiv="refresh"' in page
    assert "0 / 1" in page and "en attente" in page
    listed = client.get(reverse("documents:label_jobs"), secure=True)
    assert reverse("documents:label_job", args=[job.pk]) in listed.content.decode()


def test_a_job_is_followed_and_downloaded_by_its_requester_and_the_referent_only(client, front_desk, civ_referent, colleague_at_desk,
                                                                                 outsider, birthplaces, settings):
    settings.LABEL_JOB_ABOVE = 10
    job = ask(front_desk, [factories.identity(front_desk)], copies=30).job
    assert label_services.label_job_work(job.pk) == "done"
    colleague = colleague_at_desk

    for user, expected in ((front_desk, 200), (civ_referent, 200), (colleague, 403), (outsider, 403)):
        client.force_login(user)
        assert job_page(client, job).status_code == expected, user
        response = download(client, job)
        assert response.status_code == expected, user
        if expected == 200:
            assert response["Content-Type"] == "application/pdf" and page_count(response.content) == 2
    client.force_login(colleague)
    assert reverse("documents:label_job", args=[job.pk]) not in client.get(reverse("documents:label_jobs"), secure=True).content.decode()


def test_a_failed_job_says_why_in_french_and_is_retried(client, front_desk, civ_referent, birthplaces, settings):
    settings.LABEL_JOB_ABOVE = 10
    job = ask(front_desk, [factories.identity(front_desk)], copies=30).job
    sheet = LabelFormat.objects.get(pk=job.label_format_id)
    sheet.active = False
    sheet.save()

    assert label_services.label_job_work(job.pk) == "failed"
    client.force_login(front_desk)
    page = job_page(client, job).content.decode()
    assert "L'impression a échoué" in page and "a été désactivé entre-temps" in page
    assert download(client, job).status_code == 302  # back to the page, nothing to download

    sheet.active = True
    sheet.save()
    retried = client.post(reverse("documents:label_job", args=[job.pk]), secure=True, follow=True)
    assert "Impression relancée" in retried.content.decode()
    job.refresh_from_db()
    assert (job.state, job.error) == (LabelJob.State.QUEUED, "")
    assert label_services.label_job_work(job.pk) == "done"
    assert label_services.label_job_work(job.pk) == "nothing to do"  # a duplicate message renders nothing twice
    job.refresh_from_db()
    assert job.attempts == 2 and page_count(download(client, job).content) == 2
    again = client.post(reverse("documents:label_job", args=[job.pk]), secure=True, follow=True)
    assert "Seule une impression échouée ou interrompue peut être relancée" in again.content.decode()


def test_a_job_whose_worker_stopped_mid_way_is_shown_interrupted_and_retried(client, front_desk, birthplaces, settings):
    settings.LABEL_JOB_ABOVE = 10
    settings.LABEL_JOB_STALLED_MINUTES = 10
    job = ask(front_desk, [factories.identity(front_desk)], copies=30).job
    # What a worker killed while it rendered leaves: the job claimed, some sheets done, then nothing.
    LabelJob.objects.filter(pk=job.pk).update(state=LabelJob.State.RUNNING, pages_done=1, progress_at=timezone.now() - timedelta(minutes=9))
    client.force_login(front_desk)
    assert "semble interrompue" not in job_page(client, job).content.decode()
    assert "Seule une impression échouée ou interrompue" in client.post(
        reverse("documents:label_job", args=[job.pk]), secure=True, follow=True).content.decode()

    LabelJob.objects.filter(pk=job.pk).update(progress_at=timezone.now() - timedelta(minutes=11))
    assert "aucune page rendue depuis plus de 10 min" in job_page(client, job).content.decode()
    client.post(reverse("documents:label_job", args=[job.pk]), secure=True)
    assert label_services.label_job_work(job.pk) == "done"
    job.refresh_from_db()
    assert (job.state, job.pages_done) == (LabelJob.State.DONE, 2)


def test_the_gate_is_asked_when_the_worker_draws_the_labels(front_desk, civ_referent, birthplaces, settings):
    settings.LABEL_JOB_ABOVE = 10
    ident = factories.qualified(front_desk)
    job = ask(front_desk, [ident], copies=30).job
    check = ident.document_checks.get()
    services.identity_withdraw_document_check(actor=civ_referent, check_id=check.pk, reason="pièce contestée")  # QUAL → RECUP

    label_services.label_job_work(job.pk)

    job.refresh_from_db()
    pdf = label_services.label_job_pdf(actor=front_desk, job_id=job.pk)
    text, streams = pdfs.text_of(pdf), pdfs.decoded_streams(pdf)
    assert text.count("MARTIN JEANNE") == 30
    for form in pdfs.matricule_forms(ident.ins_matricule):
        assert form not in text and form.encode() not in streams
    assert job.ins_printed_ids == []


def test_the_purge_drops_old_pdfs_and_keeps_the_rows(client, front_desk, birthplaces, settings):
    settings.LABEL_JOB_ABOVE = 10
    settings.LABEL_JOB_RETENTION_HOURS = 24
    old, recent = (ask(front_desk, [factories.identity(front_desk)], copies=30).job for _ in range(2))
    for job in (old, recent):
        label_services.label_job_work(job.pk)
    LabelJob.objects.filter(pk=old.pk).update(finished_at=timezone.now() - timedelta(hours=25))

    document_tasks.purge_label_jobs()

    client.force_login(front_desk)
    assert download(client, recent).status_code == 200
    refused = client.get(reverse("documents:label_job_download", args=[old.pk]), secure=True, follow=True).content.decode()
    assert "a été supprimé (24 h après la fin)" in refused
    old.refresh_from_db()
    assert old.state == LabelJob.State.DONE and old.purged_at is not None and old.labels == 30


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_a_1000_label_job_runs_through_a_worker_with_progress_and_downloads(client, celery_queue, front_desk, colleague_at_desk,
                                                                            birthplaces, settings):
    """Ten identities, 100 labels each, on A4 sheets of 24: 42 pages; only the qualified ones carry their matricule."""
    settings.LABEL_JOB_ABOVE = 48
    qualified = [factories.qualified(front_desk, f"28005632201{n}", birth_name=f"QUALIFIEE{chr(65 + n)}") for n in range(10, 14)]
    recovered = [factories.recovered(front_desk, f"19012751201{n}", birth_name=f"RECUPEREE{chr(65 + n)}", sex="M",
                                     birth_given_names="PAUL") for n in range(20, 23)]
    provisional = [factories.identity(front_desk, birth_name=f"PROVISOIRE{chr(65 + n)}") for n in range(3)]
    worker = worker_process(celery_queue, LABEL_JOB_CHUNK_PAGES="4")
    try:
        job = ask(front_desk, [*qualified, *recovered, *provisional], copies=100).job
        seen = []
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            job.refresh_from_db()
            seen.append(job.pages_done)
            if not job.is_live:
                break
            time.sleep(0.05)
    finally:
        stop(worker)

    assert job.state == LabelJob.State.DONE, job.error
    assert job.pages_total == 42 and job.pages_done == 42
    assert any(0 < done < 42 for done in seen), f"the progress only showed {sorted(set(seen))}"
    assert seen == sorted(seen)  # never went back
    client.force_login(front_desk)
    response = download(client, job)
    assert response.status_code == 200
    pdf = response.content
    assert page_count(pdf) == 42
    text, streams = pdfs.text_of(pdf), pdfs.decoded_streams(pdf)
    for ident in qualified:
        assert text.count(f"{pdfs.matricule_forms(ident.ins_matricule)[1]} INS-NIR") == 100
    for ident in recovered:
        assert text.count(f"{ident.birth_name} PAUL") == 100
        for form in pdfs.matricule_forms(ident.ins_matricule):
            assert form not in text and form.encode() not in streams
    assert sorted(job.ins_printed_ids) == sorted(ident.pk for ident in qualified)
    client.force_login(colleague_at_desk)
    assert download(client, job).status_code == 403


@pytest.fixture
def colleague_at_desk(front_desk, django_user_model):
    """Another front-desk agent: prints labels, but not someone else's job."""
    colleague = django_user_model.objects.create_user(username="lou.accueil", password="not-a-real-password-1")
    colleague.groups.set(front_desk.groups.all())
    return colleague
