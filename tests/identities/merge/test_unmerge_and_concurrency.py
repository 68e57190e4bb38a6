"""Unmerge restores both identities as they were at the merge; two merges of one pair at once: one wins, the other is told."""
import threading

import pytest
from django.db import connection

from identities.core import services
from identities.core.errors import ConflictError, NotAllowed, RuleViolation
from identities.core.models import DocumentCheck, Identity, IdentityEvent, IdentityLink, InsMatricule, Status, WorklistItem
from identities.merge import services as merge_services
from identities.merge.models import Merge
from tests.identities.merge.conftest import prove

# Moved on by every save: an unmerge never puts an old version back (a stale form could then save).
BOOKKEEPING = {"version", "updated_at", "updated_by_id"}


def every_field(identity_id: int) -> dict:
    identity = Identity.objects.get(pk=identity_id)
    return {f.attname: getattr(identity, f.attname) for f in Identity._meta.concrete_fields if f.attname not in BOOKKEEPING}


def dependents(identity_id: int) -> dict:
    return {
        "checks": sorted(DocumentCheck.objects.filter(identity_id=identity_id).values_list("pk", "validates", "withdrawn_at")),
        "matricules": sorted(InsMatricule.objects.filter(identity_id=identity_id).values_list("pk", flat=True)),
        "events": sorted(IdentityEvent.objects.filter(identity_id=identity_id).values_list("pk", flat=True)),
        "links": sorted(IdentityLink.objects.filter(identity_id=identity_id).values_list("pk", flat=True))
        + sorted(IdentityLink.objects.filter(other_id=identity_id).values_list("pk", flat=True)),
        "open_items": sorted(WorklistItem.objects.filter(identity_id=identity_id, state="OPEN").values_list("pk", "kind")),
    }


def test_unmerge_restores_both_identities_exactly_and_moves_every_dependent_back(proven_pair, make_identity, civ_member, civ_referent):
    first, second = proven_pair("RECUP", "VALI", birth_given_names="JEANNE MARIE", used_name="DUPONT")
    third = make_identity("PROV", birth_name="MARTINEZ")
    IdentityLink.objects.create(kind=IdentityLink.Kind.HOMD, identity=third, other=second, created_by=civ_member)
    WorklistItem.objects.create(kind=WorklistItem.Kind.HOMONYM, identity=second, other=third, reason="test")
    before = {pk: (every_field(pk), dependents(pk)) for pk in (first.pk, second.pk)}
    last_event = IdentityEvent.objects.order_by("-pk").values_list("pk", flat=True).first()

    done = merge_services.merge_request(actor=civ_member, first_id=first.pk, second_id=second.pk, keep={"used_name": "absorbed"})
    survivor = Identity.objects.get(pk=first.pk)
    assert survivor.status == Status.QUAL and survivor.used_name == "DUPONT"  # the merge changed the survivor

    merge_services.unmerge(actor=civ_referent, merge_id=done.pk, reason="deux jumelles : ce n'est pas la même personne")
    for pk in (first.pk, second.pk):
        fields, owned = before[pk]
        assert every_field(pk) == fields
        after = dependents(pk)
        # The merge's and the unmerge's own audit rows are added; every earlier event is back on its identity.
        assert [event for event in after.pop("events") if event <= last_event] == owned.pop("events")
        assert after == owned
    done.refresh_from_db()
    assert done.state == Merge.State.UNMERGED and done.to_review == []


def test_what_changed_on_the_survivor_since_the_merge_stays_and_is_listed(proven_pair, civ_member, civ_referent):
    first, second = proven_pair("PROV", "PROV", used_given_name="JEANNOT")
    done = merge_services.merge_request(actor=civ_member, first_id=first.pk, second_id=second.pk, keep={"used_given_name": "absorbed"})
    services.identity_update_traits(actor=civ_member, identity_id=first.pk, expected_version=Identity.objects.get(pk=first.pk).version, used_given_name="JEANNETTE",
                                    used_name="DURAND")
    undone = merge_services.unmerge(actor=civ_referent, merge_id=done.pk, reason="erreur de fusion")
    survivor = Identity.objects.get(pk=first.pk)
    assert (survivor.used_given_name, survivor.used_name) == ("JEANNETTE", "DURAND")
    assert {row["field"] for row in undone.to_review} == {"used_given_name", "used_name"}
    assert Identity.objects.get(pk=second.pk).is_active


def test_only_a_referent_unmerges_and_always_with_a_reason(proven_pair, civ_member, civ_referent):
    first, second = proven_pair("PROV", "PROV")
    done = merge_services.merge_request(actor=civ_member, first_id=first.pk, second_id=second.pk)
    with pytest.raises(NotAllowed, match="seul un référent CIV"):
        merge_services.unmerge(actor=civ_member, merge_id=done.pk, reason="erreur")
    with pytest.raises(RuleViolation, match="motif est obligatoire"):
        merge_services.unmerge(actor=civ_referent, merge_id=done.pk, reason="")
    merge_services.unmerge(actor=civ_referent, merge_id=done.pk, reason="erreur")
    with pytest.raises(ConflictError, match="défusionnée"):
        merge_services.unmerge(actor=civ_referent, merge_id=done.pk, reason="erreur")


@pytest.mark.django_db(transaction=True)
def test_two_merges_of_one_pair_at_once_one_wins_the_other_is_told(make_identity, civ_member, civ_referent):
    first, second = make_identity("PROV"), make_identity("PROV", birth_given_names="JEANNE")
    prove(civ_member, first, second)
    start = threading.Barrier(2)
    outcomes = {}

    def attempt(actor, survivor_id):
        try:
            start.wait()
            outcomes[actor.username] = merge_services.merge_request(
                actor=actor, first_id=second.pk, second_id=first.pk, survivor_id=survivor_id
            ).state
        except ConflictError as error:
            outcomes[actor.username] = error.message
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(civ_member, first.pk)), threading.Thread(target=attempt, args=(civ_referent, second.pk))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results = sorted(outcomes.values(), key=str)
    assert results[0] == Merge.State.DONE, outcomes
    assert "a déjà été fusionnée dans l'identité n°" in results[1] and "rien n'a été modifié" in results[1], outcomes
    assert Merge.objects.filter(state=Merge.State.DONE).count() == 1
    assert Identity.objects.filter(is_active=False).count() == 1
