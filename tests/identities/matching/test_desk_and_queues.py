"""Matching as the desk and the CIV meet it: each desk error found at creation and in the search screen, the pair
queues (homonyms, twins, INS), their French explanations, the thresholds only the referent sets, dismissed pairs."""
from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from identities.core import services, worklists
from identities.core.models import WorklistItem
from identities.matching import desk, pairs
from identities.matching.models import MatchingSettings, MatchKey, MatchPair
from tests import factories
from tests.identities.portal.client import logged_in

pytestmark = pytest.mark.usefixtures("birthplaces")
Kind, State, Decision = WorklistItem.Kind, WorklistItem.State, WorklistItem.Decision
SEARCH = "admin:identities_identity_changelist"

EXISTING = {"birth_name": "LEFEBVRE", "birth_given_names": "JEAN-PIERRE MARC", "birth_date": "1962-03-12", "sex": "M",
            "birthplace_code": "63220"}
# (desk error, the same person typed again with that error): the kinds issue 12 lists.
DESK_ERRORS = [
    ("jour et mois inversés", {"birth_date": "1962-12-03"}),
    ("un jour d'écart", {"birth_date": "1962-03-13"}),
    ("un chiffre de travers", {"birth_date": "1962-03-17"}),
    ("jour 00", {"birth_date": "1962-03-00"}),
    ("mois et jour 00", {"birth_date": "1962-00-00"}),
    ("année mal tapée", {"birth_date": "1926-03-12"}),
    ("lettre remplacée", {"birth_name": "LEFEBVRA"}),
    ("lettre oubliée", {"birth_name": "LEFBVRE"}),
    ("lettre ajoutée", {"birth_name": "LEFEBVRRE"}),
    ("deux lettres inversées", {"birth_name": "LEFEBRVE"}),
    ("prénoms dans un autre ordre", {"birth_given_names": "MARC JEAN-PIERRE"}),
    ("premier prénom seul", {"birth_given_names": "JEAN-PIERRE"}),
    ("prénom composé séparé", {"birth_given_names": "JEAN PIERRE MARC"}),
    ("lieu de naissance non saisi", {"birthplace_code": ""}),
]


@pytest.fixture
def base(front_desk):
    """The existing record among other people (same given names, same year, same name...)."""
    existing = factories.identity(front_desk, **EXISTING)
    factories.identity(front_desk, birth_name="LEFEBVRE", birth_given_names="PAUL", birth_date="1990-06-01", sex="M")
    factories.identity(front_desk, birth_name="MARTIN", birth_given_names="JEAN-PIERRE", birth_date="1962-03-20", sex="M")
    factories.identity(front_desk, birth_name="LEROY", birth_given_names="JEAN-PIERRE MARC", birth_date="1971-03-12", sex="M")
    return existing


@pytest.mark.parametrize(("error", "typed"), DESK_ERRORS, ids=[e for e, _t in DESK_ERRORS])
def test_each_desk_error_is_caught_by_the_check_at_creation(base, front_desk, error, typed):
    outcome = services.identity_create(actor=front_desk, find_candidates=desk.creation_candidates, **(EXISTING | typed))
    assert outcome.identity is None, f"{error}: created without showing the existing record"
    assert outcome.candidates[0] == base


@pytest.mark.parametrize(("error", "typed"), [e for e in DESK_ERRORS if "birthplace_code" not in e[1]],
                         ids=[e for e, t in DESK_ERRORS if "birthplace_code" not in t])
def test_each_desk_error_still_shows_the_existing_record_first_in_the_search_screen(base, front_desk, error, typed):
    traits = EXISTING | typed
    day = traits["birth_date"].split("-")
    response = logged_in(front_desk).get(reverse(SEARCH), {
        "nom": traits["birth_name"].lower(), "prenom": traits["birth_given_names"].split(" ")[0].lower(),
        "naissance": f"{day[2]}/{day[1]}/{day[0]}",
    })
    assert response.status_code == 200
    assert list(response.context["cl"].result_list)[0] == base, error


@pytest.mark.parametrize(("typed", "existing"), [("duboit", "DUBOIS"), ("ndiaye", "N'DIAYE"), ("de fontaine", "DEFONTAINE")])
def test_a_name_typed_alone_with_a_typo_or_another_spelling_is_found_on_any_database(front_desk, typed, existing):
    factories.identity(front_desk, birth_name=existing, birth_given_names="AMINATA", birth_date="1984-09-02")
    factories.identity(front_desk, birth_name="DURAND", birth_given_names="AMINATA", birth_date="1984-09-02")
    response = logged_in(front_desk).get(reverse(SEARCH), {"nom": typed})
    assert [i.birth_name for i in response.context["cl"].result_list][:1] == [existing]


def test_a_used_name_typed_as_the_birth_name_finds_the_record(front_desk):
    married = factories.identity(front_desk, birth_name="MARTIN", used_name="DUPONT", birth_given_names="CLAIRE", birth_date="1975-04-30")
    outcome = services.identity_create(actor=front_desk, find_candidates=desk.creation_candidates, birth_name="DUPONT",
                                       birth_given_names="CLAIRE", birth_date="1975-04-30", sex="F", birthplace_code="63220")
    assert outcome.candidates == [married]


def test_the_keys_follow_a_change_of_traits(front_desk, civ_referent):
    identity = factories.identity(front_desk, birth_name="KERGUELEN")
    before = set(MatchKey.objects.filter(identity=identity).values_list("code", flat=True))
    services.identity_update_traits(actor=civ_referent, identity_id=identity.pk, expected_version=identity.version,
                                    birth_name="KERGOAT", reason="erreur de saisie")
    after = set(MatchKey.objects.filter(identity=identity).values_list("code", flat=True))
    assert before and after and before != after
    assert desk.search_ranked(name="kergoat", given_name="jeanne", birth_date="17/05/1980") == [identity.pk]


# --- The queues ---

def test_homonyms_go_to_the_homonym_queue_and_twins_to_no_queue(front_desk, civ_member):
    factories.identity(front_desk, birth_name="NGUYEN", birth_given_names="CAMILLE", sex="F", birthplace_code="63220")
    factories.identity(front_desk, birth_name="NGUYEN", birth_given_names="CAMILLE", sex="M", birthplace_code="63220")
    factories.identity(front_desk, birth_name="ROUSSEL", birth_given_names="LUCAS", sex="M", birthplace_code="63220")
    factories.identity(front_desk, birth_name="ROUSSEL", birth_given_names="HUGO", sex="M", birthplace_code="63220")
    pairs.worklist_detect_pairs(actor=civ_member)
    homonyms = WorklistItem.objects.filter(kind=Kind.HOMONYM)
    assert [(i.identity.birth_name, i.match.kind) for i in homonyms] == [("NGUYEN", MatchPair.Kind.HOMONYM)]
    assert not WorklistItem.objects.filter(kind=Kind.DUPLICATE).exists()


def test_two_different_ins_are_never_paired_as_duplicates(front_desk, civ_member):
    factories.recovered(front_desk, "2800563220123", birth_name="BERNARD", birth_given_names="ALICE")
    factories.recovered(front_desk, "2800563220124", birth_name="BERNRAD", birth_given_names="ALICE")
    pairs.worklist_detect_pairs(actor=civ_member)
    assert not WorklistItem.objects.filter(kind=Kind.DUPLICATE).exists()


def _same_ins_through_the_register(front_desk):
    """Two stored identities with the same INS: no two hold one matricule (it is unique), but INSi
    reported for the second, as a historical matricule (INSHISTO), the one the first holds; nothing
    else brings them together (other name, given name, date, place)."""
    from identities.core.matricule import compute_key
    from identities.core.models import InsMatricule

    holder = factories.recovered(front_desk, "2800563220123", birth_name="BERNARD", birth_given_names="ALICE")
    held = holder.ins_matricule
    reported = factories.identity(front_desk, birth_name="DURAND", birth_given_names="SOPHIE", birth_date="1975-02-03",
                                  birthplace_code="")
    result = factories.insi_result(reported, matricule="2750263220456",
                                   history=[services.InsiMatricule(matricule=held, oid=holder.ins_oid)])
    services.identity_apply_insi_result(actor=front_desk, identity_id=reported.pk, result=result)
    reported.refresh_from_db()
    assert reported.ins_matricule == "2750263220456" + compute_key("2750263220456")
    assert InsMatricule.objects.filter(identity=reported, matricule=held, kind=InsMatricule.Kind.HISTORICAL).exists()
    return holder, reported


def _certain_pair(holder, reported):
    item = WorklistItem.objects.get(kind=Kind.DUPLICATE)
    assert {item.identity_id, item.other_id} == {holder.pk, reported.pk}
    assert (item.match.kind, item.match.band) == (MatchPair.Kind.INS_COLLISION, "certain")
    assert item.match.explanation[0].startswith(f"matricule INS identique ({holder.ins_matricule}) : doublon certain")


def test_the_same_ins_through_the_register_is_a_certain_duplicate_in_the_sweep(front_desk, civ_member):
    holder, reported = _same_ins_through_the_register(front_desk)
    WorklistItem.objects.filter(kind=Kind.DUPLICATE).delete()  # only what the sweep finds
    pairs.worklist_detect_pairs(actor=civ_member)
    _certain_pair(holder, reported)


def test_the_same_ins_through_the_register_is_a_certain_duplicate_at_the_desk(front_desk, civ_member):
    holder, reported = _same_ins_through_the_register(front_desk)
    [found] = desk.check_identity(reported)
    assert (found.right.id, found.band) == (holder.pk, "certain")
    WorklistItem.objects.filter(kind=Kind.DUPLICATE).delete()
    assert pairs.worklist_detect_pairs(actor=front_desk, identity_id=reported.pk) == 1
    _certain_pair(holder, reported)


def test_the_pair_page_explains_the_score_in_french_beside_the_comparison(front_desk, civ_member):
    factories.identity(front_desk, birth_name="MARTIN", birth_date="1962-03-12")
    factories.identity(front_desk, birth_name="MARTYN", birth_date="1962-12-03")
    pairs.worklist_detect_pairs(actor=civ_member)
    item = WorklistItem.objects.get(kind=Kind.DUPLICATE)
    page = logged_in(civ_member).get(reverse("admin:identities_worklistitem_change", args=[item.pk])).content.decode()
    comparison = page[page.index('class="module ins-comparison"'):]
    explanation = comparison[comparison.index('id="pair-explanation"'):]
    assert "date de naissance : jour et mois inversés (12/03/1962 / 03/12/1962), +" in explanation
    assert "nom de naissance : une lettre de différence (MARTIN / MARTYN)" in explanation or "même prononciation" in explanation
    assert "doublon probable" in explanation or "doublon possible" in explanation
    assert "," in item.match.explanation[0].rsplit(" ", 1)[1]  # a decimal comma


def test_the_duplicate_queue_is_ranked_by_score(front_desk, civ_member):
    factories.identity(front_desk, birth_name="PETIT", birth_given_names="LOUISE", birth_date="1950-01-01")
    factories.identity(front_desk, birth_name="PETIT", birth_given_names="LOUISE", birth_date="1950-01-01", birthplace_code="")
    factories.identity(front_desk, birth_name="GIRARD", birth_given_names="NOEMIE", birth_date="1970-05-05")
    factories.identity(front_desk, birth_name="GIRAUD", birth_given_names="NOEMIE", birth_date="1970-05-05")
    pairs.worklist_detect_pairs(actor=civ_member)
    listed = logged_in(civ_member).get(reverse("admin:identities_worklistitem_changelist"), {"kind__exact": Kind.DUPLICATE})
    scores = [item.match.score for item in listed.context["cl"].result_list]
    assert len(scores) == 2 and scores == sorted(scores, reverse=True)


def test_a_dismissed_pair_comes_back_only_when_a_trait_changes(front_desk, civ_member, civ_referent):
    first = factories.identity(front_desk)
    factories.identity(front_desk, birth_date="1980-05-18")
    pairs.worklist_detect_pairs(actor=civ_member)
    item = WorklistItem.objects.get(kind=Kind.DUPLICATE)
    worklists.worklist_decide(actor=civ_member, item_id=item.pk, decision=Decision.DISMISSED, note="deux personnes")
    assert pairs.worklist_detect_pairs(actor=civ_member) == 0
    first.refresh_from_db()
    services.identity_update_traits(actor=civ_referent, identity_id=first.pk, expected_version=first.version,
                                    birth_given_names="JEANNE MARIE LOUISE", reason="prénom ajouté")
    assert pairs.worklist_detect_pairs(actor=civ_member) == 1
    item.refresh_from_db()
    assert item.state == State.OPEN and "rouverte" in item.decision_note


# --- The thresholds ---

def test_only_the_civ_referent_changes_the_thresholds(civ_member, civ_referent):
    row = MatchingSettings.objects.get()
    url = reverse("admin:identities_matchingsettings_change", args=[row.pk])
    refused = logged_in(civ_member).post(url, {"probable": "2", "possible": "1"})
    row.refresh_from_db()
    assert refused.status_code == 403 and (row.probable, row.possible) == (10.0, 4.0)
    accepted = logged_in(civ_referent).post(url, {"probable": "14", "possible": "6"})
    row.refresh_from_db()
    assert accepted.status_code == 302 and (row.probable, row.possible, row.updated_by) == (14.0, 6.0, civ_referent)


def test_raising_the_threshold_keeps_a_weak_pair_out_of_the_queue(front_desk, civ_member):
    factories.identity(front_desk, birth_name="GIRARD", birth_given_names="NOEMIE", birth_date="1970-05-05")
    factories.identity(front_desk, birth_name="GIRAUD", birth_given_names="NOEMIE", birth_date="1970-05-05")
    MatchingSettings.objects.update(probable=100, possible=90)
    assert pairs.worklist_detect_pairs(actor=civ_member) == 0
    MatchingSettings.objects.update(probable=10, possible=4)
    assert pairs.worklist_detect_pairs(actor=civ_member) == 1


def test_the_civ_follows_the_sweep_from_its_queues(front_desk, civ_member):
    factories.identity(front_desk)
    factories.identity(front_desk, birth_date="1980-05-18")
    run = pairs.sweep_start(actor=civ_member, parts=3)
    page = logged_in(civ_member).get(reverse("admin:identities_worklistitem_changelist")).content.decode()
    assert "Détection des doublons : 0 / 3 parties" in page
    pairs.sweep_part_work(run.parts.get(number=0).pk, actor=civ_member)
    page = logged_in(civ_member).get(reverse("admin:identities_sweeprun_change", args=[run.pk])).content.decode()
    assert "1 / 3 parties" in page
    assert '<meta http-equiv="refresh"' in page and 'id="sweep-pairs"' not in page  # follows itself while it runs
    for number in (1, 2):
        pairs.sweep_part_work(run.parts.get(number=number).pk, actor=civ_member)
    done = logged_in(civ_member).get(reverse("admin:identities_sweeprun_change", args=[run.pk])).content.decode()
    assert "3 / 3 parties" in done and "Terminé" in done
    assert '<meta http-equiv="refresh"' not in done and "kind__exact=DPOT" in done  # the result: on to the pairs
    listed = logged_in(civ_member).get(reverse("admin:identities_sweeprun_changelist")).content.decode()
    assert reverse("admin:identities_sweeprun_change", args=[run.pk]) in listed


def test_the_sweep_command_refuses_parts_without_workers_and_stores_nothing(front_desk):
    factories.identity(front_desk, birth_name="GIRARD", birth_given_names="NOEMIE", birth_date="1970-05-05")
    factories.identity(front_desk, birth_name="GIRAUD", birth_given_names="NOEMIE", birth_date="1970-05-05")
    with pytest.raises(CommandError, match="--parts ne sert qu'avec --workers"):
        call_command("find_duplicates", parts=2, verbosity=0)
    assert not WorklistItem.objects.filter(other__isnull=False).exists()
    call_command("find_duplicates", verbosity=0)  # here, in one pass: the pair is queued
    assert WorklistItem.objects.filter(other__isnull=False, kind=WorklistItem.Kind.DUPLICATE).count() == 1
