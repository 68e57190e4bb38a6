"""Trait normalisation and validation at the INSi boundary (domain.md §1)."""
from datetime import date

import pytest

from identities.core import traits
from identities.core.traits import TraitError


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Éléonore", "ELEONORE"),
        ("françois", "FRANCOIS"),
        ("Œdipe", "OEDIPE"),
        ("lætitia", "LAETITIA"),
        ("D’Artagnan", "D'ARTAGNAN"),
        ("  Müller ", "MULLER"),
        ("Jean‑Pierre", "JEAN-PIERRE"),
    ],
)
def test_it_transliterates_accents_ligatures_and_look_alikes(typed, stored):
    assert traits.normalise_name(typed, field=traits.BIRTH_NAME) == stored


@pytest.mark.parametrize(
    ("typed", "message_part"),
    [
        ("DUPONT2", "chiffres"),
        ("DU_PONT", "« _ »"),
        ("DU/PONT", "« / »"),
        ("ΔΗΜΗΤΡΗΣ", "aucune translittération"),
        ("DUPONT  MARTIN", "double espace"),
        ("D''ARTAGNAN", "double apostrophe"),
        ("D' ARTAGNAN", "apostrophe et espace"),
        ("D 'ARTAGNAN", "espace et apostrophe"),
        ("-DUPONT", "commencer"),
    ],
)
def test_it_rejects_a_name_with_the_broken_rule_in_the_message(typed, message_part):
    with pytest.raises(TraitError) as error:
        traits.normalise_name(typed, field=traits.BIRTH_NAME)
    assert error.value.field == traits.BIRTH_NAME
    assert message_part in error.value.message
    assert "Nom de naissance" in str(error.value)


def test_a_double_hyphen_is_allowed_only_inside_a_birth_name():
    assert traits.normalise_name("MARTIN--DUPONT", field=traits.BIRTH_NAME) == "MARTIN--DUPONT"
    with pytest.raises(TraitError, match="double tiret"):
        traits.normalise_name("MARTIN--DUPONT", field=traits.USED_NAME)
    with pytest.raises(TraitError, match="double tiret"):
        traits.normalise_given_names("JEAN--PIERRE")


@pytest.mark.parametrize("typed", ["JEAN-", "JEAN'", "PIERRE JEAN- PAUL"])
def test_a_given_name_does_not_end_with_a_hyphen_or_an_apostrophe(typed):
    with pytest.raises(TraitError) as error:
        traits.normalise_given_names(typed)
    assert error.value.code == "bad_last_character"


def test_an_empty_name_is_refused_as_required():
    with pytest.raises(TraitError) as error:
        traits.normalise_name("   ", field=traits.BIRTH_NAME)
    assert error.value.code == "required"


@pytest.mark.parametrize(
    ("first", "given_names", "matches"),
    [
        ("PIERRE-ALAIN", "PIERRE-ALAIN GUNTHER", True),
        ("PIERRE ALAIN", "PIERRE-ALAIN GUNTHER", True),
        ("JEAN-PIERRE", "JEAN PIERRE MARIE", True),
        ("PIERRE", "PIERRE-ALAIN GUNTHER", False),
        ("GUNTHER", "PIERRE-ALAIN GUNTHER", False),
        ("MARIE", "MARIE", True),
    ],
)
def test_the_first_given_name_must_open_the_list_with_separators_alike(first, given_names, matches):
    assert traits.first_given_name_matches(first, given_names) is matches


def test_strict_traits_refuse_a_first_given_name_that_is_not_the_first_of_the_list():
    with pytest.raises(TraitError) as error:
        traits.normalise_strict_traits(
            birth_name="NESSI", birth_given_names="MICHELANGELO ANTHONY", first_birth_given_name="ANTHONY",
            birth_date="2010-08-07", sex="M", birthplace_code="63220",
        )
    assert error.value.field == traits.FIRST_GIVEN_NAME


def test_strict_traits_take_the_first_given_name_from_the_list_when_not_typed():
    strict = traits.normalise_strict_traits(
        birth_name="d'artagnan de l'hérault", birth_given_names="Pierre-Alain Gunther",
        birth_date="17/06/2001", sex="m", birthplace_code="63220",
    )
    assert strict.birth_name == "D'ARTAGNAN DE L'HERAULT"
    assert strict.first_birth_given_name == "PIERRE-ALAIN"
    assert strict.birth_date == "2001-06-17"
    assert strict.sex == "M"


@pytest.mark.parametrize(
    ("typed", "iso", "partial"),
    [
        ("1950-00-00", "1950-00-00", True),
        ("1950-05-00", "1950-05-00", True),
        ("00/00/1950", "1950-00-00", True),
        ("29/02/2000", "2000-02-29", False),
        ("2001-06-17", "2001-06-17", False),
    ],
)
def test_partial_dates_are_kept_as_typed_never_turned_into_a_fake_calendar_date(typed, iso, partial):
    parsed = traits.parse_birth_date(typed, today=date(2026, 11, 28))
    assert parsed.iso() == iso
    assert parsed.is_partial is partial


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("1950-13-01", "month"),
        ("29/02/2001", "day"),
        ("2030-01-01", "year"),
        ("2026-12-01", "future"),
        ("17-06-2001", "format"),
        ("1849-01-01", "year"),
    ],
)
def test_impossible_dates_are_refused_with_the_reason(typed, code):
    with pytest.raises(TraitError) as error:
        traits.parse_birth_date(typed, today=date(2026, 11, 28))
    assert error.value.field == traits.BIRTH_DATE
    assert error.value.code == code


@pytest.mark.parametrize("code", ["63220", "2A004", "2b020", "99100"])
def test_cog_codes_accept_communes_corsica_and_countries(code):
    assert traits.normalise_cog(code) == code.upper()


@pytest.mark.parametrize("code", ["6322", "2C004", "ABCDE", "63 220"])
def test_malformed_cog_codes_are_refused(code):
    with pytest.raises(TraitError) as error:
        traits.normalise_cog(code)
    assert error.value.field == traits.BIRTHPLACE


def test_search_keys_make_hyphen_apostrophe_and_space_alike_and_fold_accents():
    assert traits.search_key("D'Artagnan-de l’Hérault") == traits.search_key("D ARTAGNAN DE L HERAULT")
    assert traits.search_key("Lætitia") == "LAETITIA"
    assert traits.search_key("") == ""


@pytest.mark.parametrize(
    ("fields", "reason_part"),
    [
        ({"birth_date": "1950-00-00"}, "contient 00"),
        ({"birth_date": "1950-06-00"}, "contient 00"),
        ({"birth_name": ""}, "nom de naissance"),
        ({"birth_given_names": " "}, "prénoms"),
        ({"sex": ""}, "sexe"),
    ],
)
def test_an_insi_result_with_a_00_date_or_an_empty_trait_is_not_integrable(fields, reason_part):
    result = {"birth_name": "ADRUN", "birth_given_names": "ZOE", "sex": "F", "birth_date": "1975-12-31"} | fields
    assert reason_part in traits.insi_result_rejection(**result)


def test_a_complete_insi_result_is_integrable():
    assert traits.insi_result_rejection(birth_name="ADRUN", birth_given_names="ZOE", sex="F", birth_date="1975-12-31") is None
