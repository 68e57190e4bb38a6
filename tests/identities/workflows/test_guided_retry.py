"""Guided retry after a 01: the likely variants as one-click retries, each traced, on the simulator's guided-retry book."""
import pytest
from django.urls import reverse

from identities.core.models import IdentityEvent
from identities.workflows import guided_retry
from identities.workflows import recovery as rec
from identities.workflows.models import InsiRecovery
from insi.simulator import retry_book
from tests import factories
from tests.identities.portal.client import logged_in
from tests.identities.workflows.guided import click_through

State = InsiRecovery.State
V = guided_retry.Variant


def _variants(sent, *, tried=(), **identity):
    person = {"birth_name": sent["birth_name"], "birth_given_names": sent["given_names"], "used_name": "", "used_given_name": ""}
    return guided_retry.not_found_variants(identity=person | identity, sent=sent, tried=tried)


def test_the_used_name_comes_first_then_the_given_names_then_both():
    sent = {"birth_name": "MARIEE", "given_names": "ANNE SOPHIE", "birthplace": ""}

    proposals = _variants(sent, used_name="NEE")

    assert [(p.variant, p.birth_name, p.given_names) for p in proposals] == [
        (V.USED_NAME, "NEE", "ANNE SOPHIE"), (V.GIVEN_NAMES, "MARIEE", "ANNE-SOPHIE"),
        (f"{V.USED_NAME}+{V.GIVEN_NAMES}", "NEE", "ANNE-SOPHIE"),
    ]
    assert proposals[0].label == "Relancer avec « NEE » comme nom de naissance"


def test_the_first_part_of_a_composed_first_given_name_is_proposed_alone():
    [proposal] = _variants({"birth_name": "PREMIER", "given_names": "MARIE-LOU", "birthplace": "63220"})

    assert (proposal.variant, proposal.given_names, proposal.birthplace) == (V.FIRST_GIVEN_NAME, "MARIE", "63220")


def test_the_used_given_name_is_tried_as_a_birth_given_name():
    [proposal] = _variants({"birth_name": "DUPONT", "given_names": "MARIE", "birthplace": ""}, used_given_name="MARYSE")

    assert (proposal.variant, proposal.given_names) == (V.GIVEN_NAMES, "MARYSE")


def test_a_search_already_made_is_never_proposed_again():
    sent = {"birth_name": "NEE", "given_names": "ANNE SOPHIE", "birthplace": ""}
    first = {"birth_name": "MARIEE", "given_names": "ANNE SOPHIE"}

    proposals = _variants(sent, tried=[first], birth_name="MARIEE", birth_given_names="ANNE SOPHIE", used_name="NEE")

    assert (proposals[0].birth_name, proposals[0].given_names) == ("NEE", "ANNE-SOPHIE")
    assert ("MARIEE", "ANNE SOPHIE") not in {(p.birth_name, p.given_names) for p in proposals}


def test_nothing_is_proposed_when_no_variant_is_likely():
    assert _variants({"birth_name": "DURAND", "given_names": "LUC", "birthplace": ""}) == []


# --- Against the simulator: each kind of the book is found by clicking the proposals in order ---

def _desk(front_desk, case):
    return factories.identity(front_desk, **case.desk)


@pytest.mark.django_db
@pytest.mark.parametrize(("kind", "searches", "variants"), [
    ("USED_NAME", 2, [V.USED_NAME]),
    ("GIVEN_NAMES", 2, [V.GIVEN_NAMES]),
    ("FIRST_GIVEN_NAME", 2, [V.FIRST_GIVEN_NAME]),
    ("USED_NAME+GIVEN_NAMES", 3, [V.USED_NAME, V.GIVEN_NAMES]),
    ("BIRTHPLACE", 1, []),
])
def test_each_kind_of_the_book_is_found_within_four_searches(insi, front_desk, kind, searches, variants):
    case = retry_book.cases(1, kinds=(kind,))[0]
    identity = _desk(front_desk, case)

    made = click_through(front_desk, identity.pk)

    assert [r.state for r in made] == [State.NOT_FOUND] * (searches - 1) + [State.AWAITING]
    assert made[-1].returned["birth_name"] == case.national["birth_name"]
    assert [r.query.get("variant") for r in made[1:]] == variants
    traced = IdentityEvent.objects.filter(identity=identity, kind=IdentityEvent.Kind.INSI_RECOVERY).order_by("pk")
    assert [e.details["variant"] for e in traced] == ["", *variants]


@pytest.mark.django_db
def test_the_control_nobody_of_the_base_runs_out_of_proposals(insi, front_desk):
    identity = _desk(front_desk, retry_book.cases(1, kinds=("ABSENT",))[0])

    made = click_through(front_desk, identity.pk)

    assert [r.state for r in made] == [State.NOT_FOUND]


@pytest.mark.django_db
def test_a_proposal_is_one_click_on_the_recovery_page_and_the_retry_says_which(insi, front_desk):
    case = retry_book.cases(1, kinds=("GIVEN_NAMES",))[0]
    identity = _desk(front_desk, case)
    client = logged_in(front_desk)
    first = rec.recovery_search(actor=front_desk, identity_id=identity.pk)
    page = client.get(reverse("admin:insi_recovery", args=[first.pk])).content.decode()
    assert "Relancer avec « JEAN-PIERRE » comme prénom(s) de naissance" in page

    response = client.post(reverse("admin:insi_recovery", args=[first.pk]), {
        "action": "retry", "birth_name": case.desk["birth_name"], "birth_given_names": "JEAN-PIERRE",
        "birthplace_code": "63220", "variant": "GIVEN_NAMES",
    }, follow=True)

    retried = InsiRecovery.objects.exclude(pk=first.pk).get()
    assert retried.state == State.AWAITING and retried.query["variant"] == "GIVEN_NAMES"
    assert "Relance guidée : <strong>autres prénoms</strong>" in response.content.decode()


@pytest.mark.django_db
def test_an_unknown_variant_is_refused_before_any_call(insi, front_desk):
    identity = _desk(front_desk, retry_book.cases(1, kinds=("GIVEN_NAMES",))[0])

    with pytest.raises(rec.RuleViolation) as refused:
        rec.recovery_search(actor=front_desk, identity_id=identity.pk, variant="GUESS")

    assert refused.value.field == "variant" and not InsiRecovery.objects.exists()
