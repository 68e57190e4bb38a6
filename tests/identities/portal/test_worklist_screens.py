"""The worklist screens: who sees which items, deciding from an item page, taking items and refreshing from the list."""
import re

import pytest
from django.urls import reverse

from identities.core import worklists
from identities.core.errors import RuleViolation
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


# --- Acting from the list ---

def _list_post(client, url, data, *, back):
    """What a row button sends: the list's own form, to the item's URL, with the list to come back to."""
    return client.post(f"{url}?next={back}", {"action": "", "select_across": "0", "index": "0", **data})


def test_the_cell_takes_and_decides_an_item_from_the_list_and_stays_on_its_queue(front_desk, civ_member):
    identity = factories.identity(front_desk)
    item = worklists.worklist_add_item(actor=civ_member, kind=Kind.DOUBTFUL, identity_id=identity.pk, reason="à instruire")
    client = logged_in(civ_member)
    back = reverse(QUEUE) + "?kind__exact=DOUT"
    page = client.get(back).content.decode()
    assert 'name="claim"' in page and f'value="{Decision.HANDLED}"' in page and ">Ouvrir</a>" in page

    taken = _list_post(client, reverse("admin:identities_worklistitem_assign", args=[item.pk]), {"claim": "1"}, back=back)
    item.refresh_from_db()
    assert item.owner == civ_member and taken.url == back

    decided = _list_post(client, reverse("admin:identities_worklistitem_decide", args=[item.pk]), {"decision": Decision.HANDLED},
                         back=back)
    item.refresh_from_db()
    assert (item.state, item.decision, item.decided_by) == (State.DONE, Decision.HANDLED, civ_member) and decided.url == back


def test_a_row_button_never_sends_the_user_to_another_site(front_desk, civ_member):
    identity = factories.identity(front_desk)
    item = worklists.worklist_add_item(actor=civ_member, kind=Kind.DOUBTFUL, identity_id=identity.pk, reason="à instruire")
    response = _list_post(logged_in(civ_member), reverse("admin:identities_worklistitem_assign", args=[item.pk]), {"claim": "1"},
                          back="https://ailleurs.example/")
    assert response.url == reverse("admin:identities_worklistitem_change", args=[item.pk])


def test_a_pair_row_opens_the_comparison(front_desk, civ_member):
    first = factories.identity(front_desk, birth_name="DUBOIS", birth_given_names="LEA", birth_date="1992-04-11")
    second = factories.identity(front_desk, birth_name="DUBOIS", birth_given_names="LEA", birth_date="1992-04-11", birthplace_code="")
    item = worklists.worklist_add_item(actor=civ_member, kind=Kind.DUPLICATE, identity_id=first.pk, other_id=second.pk, reason="même personne ?")
    page = logged_in(civ_member).get(reverse(QUEUE) + "?kind__exact=DPOT").content.decode()
    assert f'href="{reverse("admin:identities_worklistitem_change", args=[item.pk])}">Comparer la paire</a>' in page
    assert ">Confirmer</button>" in page and ">Écarter</button>" in page


def test_the_cell_assigns_a_selection_to_one_of_its_members(front_desk, civ_member, civ_referent):
    items = [
        worklists.worklist_add_item(actor=civ_member, kind=Kind.DOUBTFUL, reason="à instruire",
                                    identity_id=factories.identity(front_desk, birth_name=name).pk)
        for name in ("ALPHA", "BETA", "GAMMA")
    ]
    client = logged_in(civ_member)
    response = client.post(reverse(QUEUE), {
        "action": "assign_selected", "owner": civ_referent.pk, "_selected_action": [items[0].pk, items[1].pk], "index": "0",
    }, follow=True)
    assert "2 élément(s) attribué(s)." in response.content.decode()
    assert [WorklistItem.objects.get(pk=item.pk).owner for item in items] == [civ_referent, civ_referent, None]

    # The list offers CIV members only; the service refuses anybody else all the same.
    assert f'value="{front_desk.pk}"' not in re.search(r'<select name="owner".*?</select>', response.content.decode(), re.S).group(0)
    with pytest.raises(RuleViolation, match="le responsable doit être un membre actif de la CIV"):
        worklists.worklist_assign_many(actor=civ_member, item_ids=[items[2].pk], owner_id=front_desk.pk)
    assert WorklistItem.objects.get(pk=items[2].pk).owner is None


def test_the_list_filters_by_age_and_by_assignee(front_desk, civ_member, civ_referent):
    from datetime import timedelta

    from django.utils import timezone

    old = worklists.worklist_add_item(actor=civ_member, kind=Kind.DOUBTFUL, reason="ancien",
                                      identity_id=factories.identity(front_desk, birth_name="ANCIEN").pk, owner=civ_referent)
    WorklistItem.objects.filter(pk=old.pk).update(opened_at=timezone.now() - timedelta(days=45))
    recent = worklists.worklist_add_item(actor=civ_member, kind=Kind.DOUBTFUL, reason="récent",
                                         identity_id=factories.identity(front_desk, birth_name="RECENT").pk)
    client = logged_in(civ_member)

    def listed(query):
        return [item.pk for item in client.get(reverse(QUEUE) + query).context["cl"].result_list]

    assert listed("?age=ancien") == [old.pk]
    assert listed("?age=semaine") == [recent.pk]
    assert listed(f"?responsable={civ_referent.pk}") == [old.pk]
    assert listed("?responsable=personne") == [recent.pk]
