"""The merge screens over HTTP: who reaches which page, the refusal shown with nothing changed, the merge done from the form."""
import pytest
from django.urls import reverse

from identities.core.models import Identity, WorklistItem
from identities.merge import services as merge_services
from identities.merge.models import Merge
from tests.identities.portal.client import logged_in


@pytest.fixture
def done_merge(proven_pair, civ_member):
    first, second = proven_pair("PROV", "PROV")
    return merge_services.merge_request(actor=civ_member, first_id=first.pk, second_id=second.pk)


@pytest.mark.parametrize(
    ("persona", "pair", "log", "unmerge", "policy"),
    [
        ("front_desk", 403, 403, 403, 403),
        ("manager", 403, 200, 403, 403),
        ("civ_member", 200, 200, 403, 403),
        ("civ_referent", 200, 200, 200, 200),
        ("outsider", 302, 302, 302, 302),  # no role: back to the login page
    ],
)
def test_each_role_reaches_the_merge_screens_it_should(persona, pair, log, unmerge, policy, request, proven_pair, done_merge):
    user = request.getfixturevalue(persona)
    first, second = proven_pair("PROV", "PROV", birth_name="LEROY")
    client = logged_in(user)
    assert client.get(reverse("admin:merge_pair", args=[first.pk, second.pk])).status_code == pair
    assert client.get(reverse("admin:merge_log")).status_code == log
    assert client.get(reverse("admin:merge_proposals")).status_code == log
    assert client.get(reverse("admin:merge_unmerge", args=[done_merge.pk])).status_code == unmerge
    assert client.get(reverse("admin:merge_policy")).status_code == policy


def test_the_merge_screen_shows_the_survivor_why_and_the_differences_then_merges(proven_pair, civ_member):
    first, second = proven_pair("PROV", "VALI", used_name="DUPONT")
    client = logged_in(civ_member)
    page = client.get(reverse("admin:merge_pair", args=[first.pk, second.pk])).content.decode()
    assert f"n° {second.pk} (validée) est conservée" in page
    assert 'class="merge-differs" id="row-birth_given_names"' in page and 'class="merge-differs" id="row-used_name"' in page
    response = client.post(reverse("admin:merge_pair", args=[first.pk, second.pk]),
                           {"survivor": second.pk, "used_name": "survivor", "used_given_name": "survivor", "reason": ""})
    assert response.status_code == 302 and response["Location"] == reverse("admin:identities_identity_change", args=[second.pk])
    assert Identity.objects.get(pk=first.pk).merged_into_id == second.pk


def test_the_pair_worklist_and_the_merge_screen_name_both_records_by_their_ipp(proven_pair, civ_member):
    first, second = proven_pair("PROV", "PROV")
    client = logged_in(civ_member)
    merge_page = client.get(reverse("admin:merge_pair", args=[first.pk, second.pk])).content.decode()
    assert f'<span class="ins-ipp">IPP {first.ipp}</span>' in merge_page and f'<span class="ins-ipp">IPP {second.ipp}</span>' in merge_page
    item = WorklistItem.objects.get(identity=first, other=second)
    pair_page = client.get(reverse("admin:identities_worklistitem_change", args=[item.pk])).content.decode()
    assert f"IPP {first.ipp})</a>" in pair_page and f"IPP {second.ipp})</a>" in pair_page


def test_a_refused_merge_shows_its_reason_and_offers_no_button(proven_pair, civ_member):
    first, second = proven_pair("QUAL", "RECUP")
    client = logged_in(civ_member)
    page = client.get(reverse("admin:merge_pair", args=[first.pk, second.pk])).content.decode()
    assert "collision possible" in page and 'id="confirm-merge"' not in page
    client.post(reverse("admin:merge_pair", args=[first.pk, second.pk]), {"survivor": first.pk, "used_name": "survivor",
                                                                            "used_given_name": "survivor"})
    assert not Merge.objects.exists() and Identity.objects.filter(is_active=False).count() == 0


def test_a_merged_identity_page_says_where_it_went_and_a_search_hit_points_there(done_merge, civ_member):
    client = logged_in(civ_member)
    page = client.get(reverse("admin:identities_identity_change", args=[done_merge.absorbed_id])).content.decode()
    assert f"Identité fusionnée dans l'identité n° {done_merge.survivor_id}" in page and 'name="birth_name"' not in page
    found = client.get(reverse("admin:identities_identity_changelist") + "?nom=MARTIN&prenom=JEANNE").content.decode()
    assert 'id="merged-hits"' in found and "fusionnée dans" in found
    assert reverse("admin:identities_identity_change", args=[done_merge.survivor_id]) in found.split('id="merged-hits"')[1]


def test_a_confirmed_duplicate_in_the_worklist_leads_to_its_merge(make_identity, civ_member):
    from tests.identities.merge.conftest import prove

    first, second = make_identity("PROV"), make_identity("PROV", birth_given_names="JEANNE")
    item = prove(civ_member, first, second)
    page = logged_in(civ_member).get(reverse("admin:identities_worklistitem_change", args=[item.pk])).content.decode()
    assert reverse("admin:merge_pair", args=[item.identity_id, item.other_id]) in page


def test_the_referent_merges_a_pair_found_by_hand_from_the_identity_page(make_identity, civ_referent, civ_member):
    first, second = make_identity("PROV"), make_identity("PROV", birth_given_names="JEANNE")
    page = logged_in(civ_referent).get(reverse("admin:identities_identity_change", args=[first.pk])).content.decode()
    assert reverse("admin:merge_choose", args=[first.pk]) in page
    assert reverse("admin:merge_choose", args=[first.pk]) not in logged_in(civ_member).get(
        reverse("admin:identities_identity_change", args=[first.pk])).content.decode()
    response = logged_in(civ_referent).post(reverse("admin:merge_choose", args=[first.pk]), {"other": second.pk})
    assert response["Location"] == reverse("admin:merge_pair", args=[first.pk, second.pk])


def test_the_log_offers_the_unmerge_to_a_referent_and_the_unmerge_lists_what_to_review(done_merge, civ_referent, civ_member):
    assert f'id="unmerge-{done_merge.pk}"' in logged_in(civ_referent).get(reverse("admin:merge_log")).content.decode()
    assert f'id="unmerge-{done_merge.pk}"' not in logged_in(civ_member).get(reverse("admin:merge_log")).content.decode()
    from identities.core import services

    services.identity_update_traits(actor=civ_member, identity_id=done_merge.survivor_id, expected_version=Identity.objects.get(pk=done_merge.survivor_id).version, used_name="NOUVEAU")
    client = logged_in(civ_referent)
    response = client.post(reverse("admin:merge_unmerge", args=[done_merge.pk]), {"reason": "pas la même personne"}, follow=True)
    page = response.content.decode()
    assert "Défusion faite" in page and 'id="unmerge-review"' in page and "NOUVEAU" in page
    assert Identity.objects.get(pk=done_merge.absorbed_id).is_active


def test_four_eyes_in_the_screens_the_proposal_waits_then_another_person_approves(proven_pair, civ_member, civ_referent):
    logged_in(civ_referent).post(reverse("admin:merge_policy"), {"four_eyes": "on"})
    first, second = proven_pair("PROV", "PROV")
    member = logged_in(civ_member)
    response = member.post(reverse("admin:merge_pair", args=[first.pk, second.pk]),
                           {"survivor": first.pk, "used_name": "survivor", "used_given_name": "survivor"})
    assert response["Location"] == reverse("admin:merge_proposals")
    proposal = Merge.objects.get()
    assert proposal.state == Merge.State.PROPOSED
    assert f'href="{reverse("admin:merge_proposal", args=[proposal.pk])}"' in member.get(reverse("admin:merge_proposals")).content.decode()
    refused = member.post(reverse("admin:merge_proposal", args=[proposal.pk]), {"action": "approve"}, follow=True).content.decode()
    assert "une autre personne que celle qui a proposé" in refused
    logged_in(civ_referent).post(reverse("admin:merge_proposal", args=[proposal.pk]), {"action": "approve"})
    assert Merge.objects.get().state == Merge.State.DONE and not Identity.objects.get(pk=second.pk).is_active


def test_the_dashboard_counts_merges_unmerges_and_collisions_of_the_month(proven_pair, civ_member, civ_referent, manager):
    from identities.portal import dashboard

    first, second = proven_pair("PROV", "PROV")
    third, fourth = proven_pair("PROV", "PROV", birth_name="LEROY")
    merge_services.merge_request(actor=civ_member, first_id=first.pk, second_id=second.pk)
    undone = merge_services.merge_request(actor=civ_member, first_id=third.pk, second_id=fourth.pk)
    merge_services.unmerge(actor=civ_referent, merge_id=undone.pk, reason="erreur")
    figures = dashboard.dashboard_figures()
    merges = {row.code: row.values[0].current for row in figures.duplicates}
    assert (merges["merged"], merges["unmerged"]) == (2, 1)
    assert {row.code: row.values[0].current for row in figures.collisions}["flagged"] == 0
    page = logged_in(manager).get(reverse("admin:dashboard")).content.decode()
    assert 'id="table-doublons"' in page


def test_the_worklist_merges_the_selected_confirmed_duplicates_in_a_batch(make_identity, civ_member):
    from tests.identities.merge.conftest import prove

    items = []
    for name in ("LEROY", "PETIT"):
        first, second = make_identity("PROV", birth_name=name), make_identity("PROV", birth_name=name, birth_given_names="JEANNE")
        items.append(prove(civ_member, first, second))
    response = logged_in(civ_member).post(reverse("admin:identities_worklistitem_changelist") + "?etat=tous", {
        "action": "merge_confirmed", "_selected_action": [item.pk for item in items],
    }, follow=True)
    assert "2 fusion(s) faite(s)" in response.content.decode()
    assert Merge.objects.filter(state=Merge.State.DONE).count() == 2
