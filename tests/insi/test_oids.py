"""The OIDs INSi answers with and the matricule key, as the teleservice needs them."""
import pytest

from insi.oids import NIA_OID, NIR_OID, key_checks, matricule_key


def test_insi_answers_with_the_nir_and_nia_oids_and_never_a_test_oid():
    assert (NIR_OID, NIA_OID) == ("1.2.250.1.213.1.4.8", "1.2.250.1.213.1.4.9")


@pytest.mark.parametrize("matricule", ["279035121518989", "253072B07300470", "253072A07300443"])
def test_the_key_of_valid_samples_checks_including_corsica(matricule):
    assert matricule_key(matricule[:13]) == matricule[13:]
    assert key_checks(matricule[:13], matricule[13:])


@pytest.mark.parametrize(("number", "key"), [("1810363220456", "60"), ("27903512151", "89"), ("27903512151XX", "89")])
def test_a_wrong_key_or_number_does_not_check(number, key):
    assert not key_checks(number, key)
