"""The operators' command: the recommended search for one set of traits, every call printed."""
import pytest
from django.core.management import CommandError, call_command

from insi.models import Exchange

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command("insi_search", *args, stdout=out)
    return out.getvalue()


def test_it_prints_the_02_then_the_00_found_with_the_birthplace(on_simulator):
    output = run("--nom", "DE VINCI", "--prenoms", "LEONARDO", "--sexe", "M", "--date", "2014-02-01", "--lieu", "63220")

    lines = output.splitlines()
    assert lines[0] == "1. prénom « LEONARDO » → 02 Plusieurs identites trouvees"
    assert lines[1] == "2. prénom « LEONARDO », lieu 63220 → 00 OK"
    assert "matricule 114026322083356 OID 1.2.250.1.213.1.4.8" in output
    assert "LEONARDO PIERO" in output
    assert lines[-1] == "Résultat : 00"


def test_it_prints_one_line_per_call_when_nothing_is_found(on_simulator):
    output = run("--nom", "houilles", "--prenoms", "Pierre Paul Jacques", "--sexe", "M", "--date", "1993-01-27")

    assert [line.split(" → ")[1] for line in output.splitlines()[:4]] == ["01 Aucune identite trouvee"] * 4
    assert "« PIERRE PAUL JACQUES »" in output


def test_it_flags_a_key_that_does_not_check(on_simulator):
    output = run("--nom", "HERMANN", "--prenoms", "GATIEN", "--sexe", "M", "--date", "1981-03-24")

    assert "clé incohérente" in output
    assert "historique 281036322045610" in output


def test_it_prints_a_fault_with_its_codes(on_simulator):
    on_simulator.INSI_SIMULATOR_PLATFORM_QUIRKS = True

    output = run("--nom", "TCHITCHI", "--prenoms", "OLA", "--sexe", "F", "--date", "1936-06-21")

    assert "erreur insi_102 (siram_40)" in output
    assert "(3 tentatives)" in output


def test_calls_are_logged_as_the_named_user(on_simulator, front_desk):
    run("--nom", "ADRUN", "--prenoms", "ZOE", "--sexe", "F", "--date", "1975-12-31", "--user", "camille.accueil")

    assert Exchange.objects.get().user == front_desk


def test_calls_without_a_user_are_logged_as_the_command(on_simulator):
    run("--nom", "ADRUN", "--prenoms", "ZOE", "--sexe", "F", "--date", "1975-12-31", "--mode", "AUTO")

    assert (Exchange.objects.get().task_label, Exchange.objects.get().mode) == ("commande insi_search", "AUTO")


def test_an_unknown_user_is_refused(on_simulator):
    with pytest.raises(CommandError, match="inconnu"):
        run("--nom", "ADRUN", "--prenoms", "ZOE", "--sexe", "F", "--date", "1975-12-31", "--user", "personne")
