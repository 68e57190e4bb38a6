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


def test_a_wrong_key_is_refused_without_showing_the_expected_key():
    with pytest.raises(MatriculeError) as error:
        matricule.validate("279035121518988")
    assert "la clé 88 ne correspond pas" in error.value.message
    # The right key (89) would invite typing it over a mistyped digit.
    assert "89" not in error.value.message and "attendue" not in error.value.message


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


INSI, RECEIVED = matricule.OidSource.INSI, matricule.OidSource.RECEIVED


@pytest.mark.parametrize("environment", ["test", "production"])
@pytest.mark.parametrize("oid", ["1.2.250.1.213.1.4.8", "1.2.250.1.213.1.4.9"])
def test_insi_oids_are_accepted_in_both_environments_from_insi_and_from_feeds(environment, oid):
    # The qualification platform answers .4.8 / .4.9 like production does.
    for source in (INSI, RECEIVED):
        assert matricule.check_oid(oid, environment=environment, source=source).oid == oid


@pytest.mark.parametrize("oid", ["1.2.250.1.213.1.4.10", "1.2.250.1.213.1.4.11"])
def test_test_and_demo_oids_come_from_test_documents_and_feeds_never_from_insi(oid):
    assert matricule.check_oid(oid, environment="test", source=RECEIVED).nature == Nature.NIR
    with pytest.raises(MatriculeError, match="INSi ne répond qu'avec"):
        matricule.check_oid(oid, environment="test", source=INSI)


@pytest.mark.parametrize("oid", ["1.2.250.1.213.1.4.10", "1.2.250.1.213.1.4.11"])
def test_production_refuses_the_test_and_demo_oids_from_any_source(oid):
    for source in (INSI, RECEIVED):
        with pytest.raises(MatriculeError, match="refusé"):
            matricule.check_oid(oid, environment="production", source=source)
    with pytest.raises(MatriculeError, match="refusé en production"):
        matricule.check_oid(oid, environment="production", source=RECEIVED)


def test_an_unknown_oid_is_refused():
    with pytest.raises(MatriculeError, match="inconnu"):
        matricule.check_oid("1.2.3.4", environment="test", source=RECEIVED)


def test_every_ins_authority_is_published_within_hd1_length():
    # AnnexN §N.3: HD-1 is 20 characters; ANS names the NIR authority the same whatever the OID.
    assert {info.oid: info.hl7_authority for info in matricule.OIDS.values()} == {
        "1.2.250.1.213.1.4.8": "ASIP-SANTE-INS-NIR", "1.2.250.1.213.1.4.9": "ASIP-SANTE-INS-NIA",
        "1.2.250.1.213.1.4.10": "ASIP-SANTE-INS-NIR", "1.2.250.1.213.1.4.11": "ASIP-SANTE-INS-NIR",
    }


def test_it_groups_the_matricule_for_reading():
    assert matricule.display("279035121518989") == "2 79 03 51 215 189 89"
