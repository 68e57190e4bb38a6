"""Recovery stays unitary: a batch is an explicit selection of at most INSI_RECOVERY_BATCH_MAX, on every path; no job recovers."""
import pytest
from django.urls import reverse

from identities.core import worklists
from identities.core.errors import NotAllowed, RuleViolation
from identities.core.models import Identity
from identities.workflows import campaigns, csv_import
from identities.workflows import insi_adapter as insi_calls
from identities.workflows import recovery as rec
from identities.workflows.models import InsiRecovery, InsiRun
from insi.models import Exchange
from tests.identities.portal.client import logged_in
from tests.identities.workflows import people

pytestmark = pytest.mark.django_db


@pytest.fixture
def bound(settings):
    settings.INSI_RECOVERY_BATCH_MAX = 2
    return 2


def _three(front_desk):
    return [people.desk(front_desk, people.ADRUN), people.desk(front_desk, people.HOUILLES), people.desk(front_desk, people.ARTAGNAN)]


def test_a_batch_over_the_bound_is_refused_and_nothing_starts(insi, front_desk, bound):
    ids = [identity.pk for identity in _three(front_desk)]

    with pytest.raises(RuleViolation) as refused:
        campaigns.recovery_batch_start(actor=front_desk, identity_ids=ids)

    assert "au plus 2" in refused.value.message and "3 identités" in refused.value.message
    assert not InsiRun.objects.exists() and not Exchange.objects.exists()


def test_a_batch_at_the_bound_starts(insi, front_desk, bound):
    ids = [identity.pk for identity in _three(front_desk)][:2]

    run = campaigns.recovery_batch_start(actor=front_desk, identity_ids=ids)

    assert run.total == 2


def test_the_admin_action_refuses_a_selection_over_the_bound(insi, front_desk, bound):
    ids = [identity.pk for identity in _three(front_desk)]

    response = logged_in(front_desk).post(reverse("admin:identities_identity_changelist"), {
        "action": "recover_selected", "_selected_action": ids,
    }, follow=True)

    assert "au plus 2" in response.content.decode()
    assert not InsiRun.objects.exists() and not Exchange.objects.exists()


def test_the_admin_action_refuses_the_whole_list(insi, front_desk, bound):
    _three(front_desk)

    response = logged_in(front_desk).post(reverse("admin:identities_identity_changelist"), {
        "action": "recover_selected", "select_across": "1", "_selected_action": [Identity.objects.first().pk],
    }, follow=True)

    assert "au plus 2" in response.content.decode()
    assert not InsiRun.objects.exists()


def test_a_worklist_batch_takes_the_oldest_items_up_to_the_count_asked(insi, front_desk, civ_member, bound):
    identities = _three(front_desk)
    worklists.worklists_sync(actor=civ_member)

    response = logged_in(civ_member).post(reverse("admin:insi_batch"), {"worklist_kind": "PROV", "count": "2"})

    run = InsiRun.objects.get()
    assert response.url == reverse("admin:insi_run", args=[run.pk])
    assert sorted(run.items.values_list("identity_id", flat=True)) == sorted(i.pk for i in identities[:2])


def test_a_worklist_batch_cannot_ask_for_more_than_the_bound(insi, front_desk, civ_member, bound):
    _three(front_desk)
    worklists.worklists_sync(actor=civ_member)

    response = logged_in(civ_member).post(reverse("admin:insi_batch"), {"worklist_kind": "PROV", "count": "3"})

    assert response.status_code == 200 and "inférieure ou égale à 2" in response.content.decode()
    assert not InsiRun.objects.exists()


def test_a_job_cannot_run_a_recovery(insi, front_desk):
    identity = people.desk(front_desk, people.ADRUN)

    with pytest.raises(NotAllowed, match="jamais par une tâche automatique"):
        rec.recovery_search(actor=front_desk, identity_id=identity.pk, context=insi_calls.automatic("Tâche", identity.pk))

    assert not Exchange.objects.exists() and not InsiRecovery.objects.exists()


def test_an_import_never_searches_insi(insi, civ_member):
    content = (
        "nom_naissance;prenoms_naissance;date_naissance;sexe;lieu_naissance;matricule_ins;oid\n"
        "ADRUN;ZOE;31/12/1975;F;63220;;\n"
        "HOUILLES;PIERRE PAUL JACQUES;27/01/1993;M;;;\n"
        f"D'ARTAGNAN DE L'HERAULT;PIERRE-ALAIN GUNTHER;17/06/2001;M;63220;101066322075460;{people.NIR_TEST}\n"
    )

    report = csv_import.identities_import_csv(actor=civ_member, content=content)

    assert report.count(csv_import.CREATED) == 3
    # Only the received INS is verified (rule 4); nobody's INS is searched for.
    assert list(Exchange.objects.values_list("operation", flat=True)) == [Exchange.Operation.VERIFY]
    assert not InsiRecovery.objects.exists() and not InsiRun.objects.exists()
