"""The worklist screens: who sees which items, deciding from an item page, taking items and refreshing from the list."""
import pytest
from django.urls import reverse

from identities.core import worklists
from identities.core.models import WorklistItem
from identities.matching import pairs
from tests import factories
from tests.identities.portal.client import logged_in

pytestmark = pytest.mark.usefixtures("birthplaces")

Kind, State, Decision = WorklistItem.Kind, WorklistItem.State, WorklistItem.Decision
QUEUE = "admin:identities_worklistitem_changelist"


def open_items(kind):
    return WorklistItem.objects.filter(kind=kind, state=State.OPEN)


@pytest.fixture
def second_agent(django_user_model):
    from django.contrib.auth.models import Group

    from identities.core import roles

    user = django_user_model.objects.create_user(username="lou.accueil", password="not-a-real-password-2")
    user.groups.add(Group.objects.get(name=roles.FRONT_DESK))
    return user


def test_the_front_desk_sees_its_own_items_only(front_desk, second_agent, civ_member):
    mine = factories.identity(front_desk, birth_name="MIEN")
    factories.identity(second_agent, birth_name="AUTRE")
    worklists.worklists_sync(actor=civ_member)
    response = logged_in(front_desk).get(reverse(QUEUE))
    assert [item.identity for item in response.context["cl"].result_list] == [mine]
    other_item = WorklistItem.objects.exclude(identity=mine).get()
    hidden = logged_in(front_desk).get(reverse("admin:identities_worklistitem_change", args=[other_item.pk]))
    assert hidden.status_code == 302  # "does not exist" for this user: back to the list


def test_the_cell_sees_every_item_with_reason_owner_and_age(front_desk, second_agent, civ_member):
    factories.identity(front_desk, birth_name="PREMIER")
    factories.identity(second_agent, birth_name="SECOND")
    worklists.worklists_sync(actor=civ_member)
    response = logged_in(civ_member).get(reverse(QUEUE), {"kind__exact": Kind.PROVISIONAL})
    page = response.content.decode()
    assert len(response.context["cl"].result_list) == 2
    assert "camille.accueil" in page and "lou.accueil" in page and "pièce d&#x27;identité" in page


def test_the_cell_decides_from_the_item_page_and_lands_back_on_the_queue(front_desk, civ_member):
    factories.identity(front_desk, birth_given_names="CLAUDE", sex="F")
    factories.identity(front_desk, birth_given_names="CLAUDE", sex="M")
    pairs.worklist_detect_pairs(actor=civ_member)
    item = open_items(Kind.HOMONYM).get()
    client = logged_in(civ_member)
    page = client.get(reverse("admin:identities_worklistitem_change", args=[item.pk])).content.decode()
    assert "ins-differs" in page and 'id="decision-form"' in page
    response = client.post(reverse("admin:identities_worklistitem_decide", args=[item.pk]), {"decision": "CONFIRMED", "note": "vus"})
    assert response.status_code == 302 and response["Location"] == reverse(QUEUE)
    item.refresh_from_db()
    assert item.decision == Decision.CONFIRMED and item.decided_by == civ_member
    done = client.get(reverse(QUEUE), {"etat": "traites"}).content.decode()
    assert "dominique.civ" in done


def test_the_front_desk_gets_no_decision_form(front_desk, civ_member):
    identity = factories.identity(front_desk)
    worklists.worklists_sync(actor=civ_member)
    item = WorklistItem.objects.get(identity=identity)
    client = logged_in(front_desk)
    page = client.get(reverse("admin:identities_worklistitem_change", args=[item.pk])).content.decode()
    assert 'id="decision-form"' not in page
    client.post(reverse("admin:identities_worklistitem_decide", args=[item.pk]), {"decision": "HANDLED"})
    item.refresh_from_db()
    assert item.state == State.OPEN


def test_the_cell_takes_items_and_refreshes_the_queues_from_the_list(front_desk, civ_member):
    factories.identity(front_desk)
    client = logged_in(civ_member)
    client.post(reverse("admin:identities_worklistitem_refresh"))
    item = open_items(Kind.PROVISIONAL).get()
    client.post(reverse(QUEUE), {"action": "claim", "_selected_action": [item.pk]})
    item.refresh_from_db()
    assert item.owner == civ_member
    mine = client.get(reverse(QUEUE), {"responsable": "moi"})
    assert list(mine.context["cl"].result_list) == [item]
