"""The anteriority search, as the desk and the CIV use it from the identity list."""
import pytest
from django.db import connection
from django.urls import reverse

from identities.core import selectors
from tests import factories
from tests.identities.portal.client import logged_in

pytestmark = pytest.mark.usefixtures("birthplaces")


@pytest.fixture
def people(front_desk):
    return {
        "jean_pierre": factories.identity(front_desk, birth_name="DE LA FONTAINE", birth_given_names="JEAN-PIERRE", birth_date="1962-07-08", sex="M"),
        "eloise": factories.identity(front_desk, birth_name="LEFEVRE", birth_given_names="ELOISE", birth_date="1990-12-01"),
        "married": factories.identity(front_desk, birth_name="MARTIN", birth_given_names="CLAIRE", used_name="DUPONT", birth_date="1975-04-30"),
        "artagnan": factories.identity(front_desk, birth_name="D'ARTAGNAN", birth_given_names="CHARLES", birth_date="1961-01-15", sex="M"),
    }


def names(found):
    return {identity.birth_name for identity in found}


@pytest.mark.parametrize("typed", ["de la fontaine", "DE-LA-FONTAINE", "de la-fontaine", "De'la Fontaine"])
def test_hyphen_apostrophe_and_space_are_equivalent_in_a_name(people, typed):
    assert names(selectors.anteriority_search(name=typed)) == {"DE LA FONTAINE"}


@pytest.mark.parametrize("typed", ["jean pierre", "Jean-Pierre", "JEAN'PIERRE"])
def test_hyphen_apostrophe_and_space_are_equivalent_in_a_given_name(people, typed):
    assert names(selectors.anteriority_search(given_name=typed, birth_date="08/07/1962")) == {"DE LA FONTAINE"}


@pytest.mark.parametrize("typed", ["Lefèvre", "LEFÈVRE", "lefevre", "LeFeVrE"])
def test_accents_and_case_are_ignored(people, typed):
    assert names(selectors.anteriority_search(name=typed, given_name="Éloïse")) == {"LEFEVRE"}


def test_a_name_matches_the_used_name_as_well_as_the_birth_name(people):
    assert names(selectors.anteriority_search(name="dupont")) == {"MARTIN"}
    assert names(selectors.anteriority_search(name="martin", given_name="claire")) == {"MARTIN"}


def test_an_apostrophe_name_is_found_with_a_space(people):
    assert names(selectors.anteriority_search(name="d artagnan")) == {"D'ARTAGNAN"}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="typo tolerance uses PostgreSQL trigrams")
@pytest.mark.parametrize(("typed", "expected"), [("LEFEBVRE", "LEFEVRE"), ("DUPOND", "MARTIN"), ("FONTAINNE", "DE LA FONTAINE")])
def test_one_typo_is_tolerated_and_the_closest_comes_first(people, typed, expected):
    found = selectors.anteriority_search(name=typed)
    assert found and found[0].birth_name == expected


@pytest.mark.parametrize("typed", ["01/12/1990", "1990-12-01", "1990", "00/12/1990"])
def test_the_birth_date_is_typed_in_the_usual_forms_or_partly(people, typed):
    assert "LEFEVRE" in names(selectors.anteriority_search(birth_date=typed))


def test_the_identity_list_searches_with_its_three_separate_fields(people, civ_member):
    client = logged_in(civ_member)
    response = client.get(reverse("admin:identities_identity_changelist"), {"nom": "dupont", "prenom": "claire", "naissance": "30/04/1975"})
    assert names(response.context["cl"].result_list) == {"MARTIN"}
    page = response.content.decode()
    assert 'name="nom" value="dupont"' in page


def test_the_search_keeps_the_filters_of_the_list(people, civ_member):
    client = logged_in(civ_member)
    response = client.get(reverse("admin:identities_identity_changelist"), {"naissance": "1961", "status__exact": "PROV"})
    assert names(response.context["cl"].result_list) == {"D'ARTAGNAN"}
    response = client.get(reverse("admin:identities_identity_changelist"), {"naissance": "1961", "status__exact": "QUAL"})
    assert names(response.context["cl"].result_list) == set()


def test_an_unreadable_birth_date_is_refused_naming_the_field(people, civ_member):
    response = logged_in(civ_member).get(reverse("admin:identities_identity_changelist"), {"naissance": "31/02/1990"}, follow=True)
    page = response.content.decode()
    assert "Date de naissance : le jour 31 n&#x27;existe pas en 02/1990" in page or "Date de naissance : le jour 31 n'existe pas" in page
    assert not response.context["cl"].result_list


def test_the_search_leaves_out_merged_identities(people, civ_member):
    merged = people["eloise"]
    type(merged).objects.filter(pk=merged.pk).update(is_active=False)  # as a merge will do
    assert selectors.anteriority_search(name="lefevre") == []


def test_the_ipp_a_patient_brings_finds_their_identity_whatever_its_case_and_spaces(people, civ_member):
    eloise = people["eloise"]
    typed = f"{eloise.ipp[:2].lower()} {eloise.ipp[2:]}"
    response = logged_in(civ_member).get(reverse("admin:identities_identity_changelist"), {"ipp": typed})
    assert names(response.context["cl"].result_list) == {"LEFEVRE"}
    assert f'<span class="ins-ipp">{eloise.ipp}</span>' in response.content.decode()


def test_an_ipp_with_a_wrong_check_digit_is_refused_with_its_reason_and_finds_nobody(people, civ_member):
    ipp = people["eloise"].ipp
    wrong = ipp[:-1] + str((int(ipp[-1]) + 1) % 10)
    response = logged_in(civ_member).get(reverse("admin:identities_identity_changelist"), {"ipp": wrong}, follow=True)
    page = response.content.decode()
    assert response.status_code == 200
    assert f"IPP « {wrong} » : la clé de contrôle (dernier chiffre) ne correspond pas au numéro ; vérifiez la saisie" in page
    assert not response.context["cl"].result_list
