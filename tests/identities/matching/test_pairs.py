"""Duplicate and homonym pairs: which records the detection proposes to the CIV, and which it never brings back."""
import pytest

from identities.core import worklists
from identities.core.models import WorklistItem
from identities.matching import pairs
from tests import factories

pytestmark = pytest.mark.usefixtures("birthplaces")

Kind, State, Decision = WorklistItem.Kind, WorklistItem.State, WorklistItem.Decision


def open_items(kind):
    return WorklistItem.objects.filter(kind=kind, state=State.OPEN)


def test_same_names_and_birth_date_make_a_potential_duplicate(front_desk, civ_member):
    first = factories.identity(front_desk, birth_name="MARTIN", birth_given_names="JEANNE", birthplace_code="")
    second = factories.identity(front_desk, birth_name="Martin", birth_given_names="Jeanne Marie", birthplace_code="63220")
    assert pairs.worklist_detect_pairs(actor=civ_member) == 1
    item = open_items(Kind.DUPLICATE).get()
    assert (item.identity, item.other) == (first, second)


def test_a_used_name_typed_as_a_birth_name_still_pairs_the_records(front_desk, civ_member):
    factories.identity(front_desk, birth_name="MARTIN", used_name="DUPONT", birth_given_names="CLAIRE")
    factories.identity(front_desk, birth_name="DUPONT", birth_given_names="CLAIRE")
    pairs.worklist_detect_pairs(actor=civ_member)
    assert open_items(Kind.DUPLICATE).count() == 1


def test_same_names_with_a_sign_of_two_people_make_homonyms(front_desk, civ_member):
    factories.identity(front_desk, birth_name="MARTIN", birth_given_names="CLAUDE", sex="F")
    factories.identity(front_desk, birth_name="MARTIN", birth_given_names="CLAUDE", sex="M")
    pairs.worklist_detect_pairs(actor=civ_member)
    item = open_items(Kind.HOMONYM).get()
    assert "sexes différents" in item.reason


def test_a_typo_in_the_name_on_the_same_birth_date_makes_a_potential_duplicate(front_desk, civ_member):
    factories.identity(front_desk, birth_name="LEFEVRE", birth_given_names="ANNE")
    factories.identity(front_desk, birth_name="LEFEBVRE", birth_given_names="ANNE")
    factories.identity(front_desk, birth_name="GARCIA", birth_given_names="ANNE")
    pairs.worklist_detect_pairs(actor=civ_member)
    item = open_items(Kind.DUPLICATE).get()
    assert {item.identity.birth_name, item.other.birth_name} == {"LEFEVRE", "LEFEBVRE"}
    assert "nom de naissance : une lettre de différence" in item.reason


def test_unrelated_birth_dates_are_not_paired(front_desk, civ_member):
    factories.identity(front_desk, birth_date="1980-05-17")
    factories.identity(front_desk, birth_date="1962-11-03")
    assert pairs.worklist_detect_pairs(actor=civ_member) == 0


def test_a_birth_date_one_day_off_is_a_potential_duplicate(front_desk, civ_member):
    # Issue 12: pairs are no longer compared inside one exact birth date only.
    factories.identity(front_desk, birth_date="1980-05-17")
    factories.identity(front_desk, birth_date="1980-05-18")
    assert pairs.worklist_detect_pairs(actor=civ_member) == 1
    assert "date de naissance : un jour d'écart" in open_items(Kind.DUPLICATE).get().reason


def test_a_dismissed_pair_is_not_brought_back(front_desk, civ_member):
    factories.identity(front_desk)
    factories.identity(front_desk)
    pairs.worklist_detect_pairs(actor=civ_member)
    item = open_items(Kind.DUPLICATE).get()
    worklists.worklist_decide(actor=civ_member, item_id=item.pk, decision=Decision.DISMISSED, note="deux sœurs jumelles")
    assert pairs.worklist_detect_pairs(actor=civ_member) == 0
    assert not open_items(Kind.DUPLICATE).exists()


def test_detection_for_one_new_identity_pairs_it_with_the_base(front_desk):
    known = factories.identity(front_desk)
    factories.identity(front_desk, birth_name="AUTRE", birth_given_names="PAUL", sex="M", birth_date="1955-02-01")
    new = factories.identity(front_desk)
    assert pairs.worklist_detect_pairs(actor=front_desk, identity_id=new.pk) == 1
    item = open_items(Kind.DUPLICATE).get()
    assert (item.identity, item.other) == (known, new)
