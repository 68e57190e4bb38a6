"""Matricule INS: key computation (Corsica included), format, OIDs and environments."""
import pytest

from identities.core import matricule
from identities.core.matricule import MatriculeError, Nature

VALID = ["279035121518989", "253072B07300470", "253072A07300443", "297022A02077878", "160012B02077713", "109076322088835"]


@pytest.mark.parametrize("value", VALID)
def test_it_accepts_the_valid_samples_and_agrees_with_python_stdnum(value):
    assert matricule.validate(value) == value
    assert matricule.stdnum_agrees(value)


def test_corsican_departments_count_as_19_and_18_in_the_key():
    assert matricule.compute_key("253072A073004") == "43"
    assert matricule.compute_key("253072B073004") == "70"


def test_a_wrong_key_is_refused_with_the_expected_key_in_the_message():
    with pytest.raises(MatriculeError) as error:
        matricule.validate("279035121518988")
    assert "clé attendue : 89" in error.value.message


@pytest.mark.parametrize("value", ["27903512151898", "2790351215189890", "2790351215X8989", "253072C07300470"])
def test_a_malformed_matricule_is_refused(value):
    with pytest.raises(MatriculeError, match="15 caractères"):
        matricule.validate(value)


def test_insi_values_with_a_key_that_does_not_check_are_recognised_not_refused():
    # HERMANN's INSHISTO entries in the INSi test book: authoritative even though the key is wrong.
    assert matricule.check_format("281036322045610") == "281036322045610"
    assert not matricule.key_checks("281036322045610")


def test_spaces_and_dots_are_ignored_on_entry():
    assert matricule.validate("2 79 03 51 215 189 89") == "279035121518989"


def test_the_nature_comes_from_the_oid_only():
    assert matricule.nature_of("1.2.250.1.213.1.4.8") == Nature.NIR
    assert matricule.nature_of("1.2.250.1.213.1.4.9") == Nature.NIA
    assert matricule.nature_of("1.2.250.1.213.1.4.10") == Nature.NIR


def test_test_and_production_oids_never_mix():
    assert matricule.check_oid("1.2.250.1.213.1.4.10", environment="test").nature == Nature.NIR
    assert matricule.check_oid("1.2.250.1.213.1.4.8", environment="production").nature == Nature.NIR
    with pytest.raises(MatriculeError, match="de production refusé"):
        matricule.check_oid("1.2.250.1.213.1.4.8", environment="test")
    with pytest.raises(MatriculeError, match="de test refusé"):
        matricule.check_oid("1.2.250.1.213.1.4.10", environment="production")
    with pytest.raises(MatriculeError, match="inconnu"):
        matricule.check_oid("1.2.3.4", environment="test")


def test_it_groups_the_matricule_for_reading():
    assert matricule.display("279035121518989") == "2 79 03 51 215 189 89"
