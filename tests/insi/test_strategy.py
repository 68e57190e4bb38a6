"""The recommended query strategy against the simulator: per given name, stop at 00, then all joined."""
import pytest

from insi.models import Exchange
from insi.simulator import generated_identity
from insi.strategy import search_recommended
from insi.types import Fault, Found, NotFound, Several

pytestmark = pytest.mark.django_db


def steps_of(report):
    return [(step.given_name, step.birthplace, step.outcome.code) for step in report.steps]


def test_houilles_is_tried_with_each_given_name_then_all_of_them(on_simulator, automatic):
    report = search_recommended(
        birth_name="HOUILLES", given_names=["PIERRE", "PAUL", "JACQUES"], sex="M", birth_date="1993-01-27",
        context=automatic,
    )

    assert steps_of(report) == [
        ("PIERRE", "", "01"), ("PAUL", "", "01"), ("JACQUES", "", "01"), ("PIERRE PAUL JACQUES", "", "01")
    ]
    assert isinstance(report.outcome, NotFound)
    assert Exchange.objects.count() == 4


def test_it_stops_at_the_first_given_name_that_finds_the_identity(on_simulator, automatic):
    report = search_recommended(
        birth_name="ECETINSI", given_names=["JEAN", "MURIEL", "FLORIANT"], sex="M", birth_date="2009-07-14",
        context=automatic,
    )

    assert steps_of(report) == [("JEAN", "", "01"), ("MURIEL", "", "00")]
    assert report.outcome.active.matricule == "109076322083489"


def test_a_single_given_name_is_not_sent_twice(on_simulator, automatic):
    report = search_recommended(
        birth_name="HOUILLES", given_names="PIERRE", sex="M", birth_date="1993-01-27", context=automatic
    )

    assert steps_of(report) == [("PIERRE", "", "01")]


def test_de_vinci_gets_02_then_00_once_the_birthplace_is_sent(on_simulator, automatic):
    report = search_recommended(
        birth_name="DE VINCI", given_names=["LEONARDO"], sex="M", birth_date="2014-02-01", birthplace="63220",
        context=automatic,
    )

    assert steps_of(report) == [("LEONARDO", "", "02"), ("LEONARDO", "63220", "00")]
    assert isinstance(report.outcome, Found)


def test_02_on_one_given_name_moves_on_to_the_next(on_simulator, automatic):
    report = search_recommended(
        birth_name="DE VINCI", given_names=["LEONARDO", "PIERO"], sex="M", birth_date="2014-02-01", context=automatic
    )

    assert steps_of(report) == [("LEONARDO", "", "02"), ("PIERO", "", "00")]
    assert report.outcome.active.matricule == "114026322083356"


def test_a_generated_homonym_pair_is_told_apart_by_the_birthplace(on_simulator, automatic):
    twin = generated_identity(199)

    report = search_recommended(
        birth_name=twin.birth_name, given_names=twin.given_names.split(), sex=twin.sex, birth_date=twin.birth_date,
        birthplace=twin.birthplace, context=automatic,
    )

    assert [code for *_, code in steps_of(report)] == ["02", "00"]
    assert report.outcome.active.matricule == twin.matricule


def test_the_strategy_stops_at_a_fault(on_simulator, automatic):
    report = search_recommended(
        birth_name="ADRUN", given_names=["ZOE", "ANNE"], sex="X", birth_date="1975-12-31", context=automatic
    )

    assert steps_of(report) == [("ZOE", "", "insi_24")]
    assert isinstance(report.outcome, Fault)


def test_a_several_answer_left_unresolved_is_the_outcome(on_simulator, automatic):
    report = search_recommended(
        birth_name="DE VINCI", given_names=["LEONARDO"], sex="M", birth_date="2014-02-01", context=automatic
    )

    assert isinstance(report.outcome, Several)


def test_the_strategy_needs_a_given_name(on_simulator, automatic):
    with pytest.raises(ValueError, match="given name"):
        search_recommended(birth_name="ADRUN", given_names=[], sex="F", birth_date="1975-12-31", context=automatic)
