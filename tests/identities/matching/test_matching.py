"""The matching engine: every desk error found and scored as a duplicate; homonyms, twins and INS rules; French explanations."""
from __future__ import annotations

import dataclasses
import random
import re
from collections import Counter, defaultdict
from datetime import datetime, timezone

import numpy as np
import pytest

from identities.matching import synthetic
from identities.matching.blocking import blocking_keys, key_code, key_codes
from identities.matching.records import Record
from identities.matching.rules import DUPLICATE, HOMONYM
from identities.matching.sweep import candidate_pairs, check, sweep
from identities.matching.table import encode

ORIGINAL = Record(id="original", birth_name="BERNARD", used_name="DUPONT", birth_given_names="CLAIRE MARIE",
                  first_birth_given_name="CLAIRE", birth_date="1962-03-12", sex="F", birthplace_code="63113")


def _people(size: int, seed: int) -> list[synthetic.SyntheticIdentity]:
    rng = random.Random(seed)
    communes = sorted({f"{d:02d}{rng.randint(1, 700):03d}" for d in range(1, 96) if d != 20 for _ in range(20)})
    generator = synthetic.IdentityGenerator(
        seed=seed, communes=communes, countries=["99134", "99350"], documents=[("cni", True)], nir_oid="1.2.250.1.213.1.4.8",
        nia_oid="1.2.250.1.213.1.4.9", taken=set(), now=datetime(2026, 1, 1, tzinfo=timezone.utc),
    )
    return list(generator.generate(size))


def _base(size: int, seed: int) -> list[Record]:
    return [Record(id=i, birth_name=p.birth_name, used_name=p.used_name, birth_given_names=p.birth_given_names,
                   first_birth_given_name=p.first_birth_given_name, birth_date=p.birth_date, sex=p.sex,
                   birthplace_code=p.birthplace_code, ins_matricule=p.ins_matricule)
            for i, p in enumerate(_people(size, seed))]


@pytest.fixture(scope="module")
def base() -> list[Record]:
    return _base(20_000, seed=7)


@pytest.fixture(scope="module")
def model(base):
    """The model as the nightly sweep learns it: EM on the unlabelled base."""
    return sweep(base).model


def _desk(record: Record, stored: list[Record], model):
    """What the desk does: fetch the identities sharing a key (``WHERE key IN …``), then score them."""
    index = defaultdict(list)
    for other in stored:
        for key in blocking_keys(other):
            index[key].append(other)
    found = {other.id: other for key in blocking_keys(record) for other in index.get(key, [])}
    return check(record, list(found.values()), model=model)


def _verdict(original: Record, entered: Record, model, base) -> tuple[str, str, list[str]] | None:
    assert blocking_keys(original) & blocking_keys(entered), "no blocking key shared: never a candidate"
    for pair in _desk(entered, [*base[:2000], original], model):
        if pair.right.id == original.id:
            return pair.kind, pair.band, pair.explanation
    return None


DESK_ERRORS = {  # error: (what the desk typed, what the explanation must say)
    "day_and_month_swapped": (dict(birth_date="1962-12-03"), "date de naissance : jour et mois inversés"),
    "one_day_off": (dict(birth_date="1962-03-13"), "date de naissance : un jour d'écart"),
    "one_digit_off_in_the_month": (dict(birth_date="1962-08-12"), "date de naissance : un chiffre de différence"),
    "day_unknown_typed_00": (dict(birth_date="1962-03-00"), "date de naissance : compatible (jour ou mois inconnu, 00)"),
    "day_and_month_unknown": (dict(birth_date="1962-00-00"), "date de naissance : compatible (jour ou mois inconnu, 00)"),
    "year_typo": (dict(birth_date="1963-03-12"), "date de naissance : un chiffre de différence"),
    "year_digits_swapped": (dict(birth_date="1926-03-12"), "date de naissance : un chiffre de différence ou deux chiffres inversés"),
    "letter_replaced_in_the_name": (dict(birth_name="BERNORD"), "nom de naissance : une lettre de différence"),
    "first_letter_replaced": (dict(birth_name="VERNARD"), "nom de naissance : une lettre de différence"),
    "letter_dropped": (dict(birth_name="BERNAD"), "nom de naissance : une lettre de différence"),
    "letter_added": (dict(birth_name="BERNNARD"), "nom de naissance : une lettre de différence"),
    "two_letters_swapped": (dict(birth_name="BERNRAD"), "nom de naissance : une lettre de différence"),
    "used_name_typed_as_birth_name": (dict(birth_name="DUPONT", used_name=""), "nom de naissance : nom utilisé de l'une saisi"),
    "birth_and_used_names_exchanged": (dict(birth_name="DUPONT", used_name="BERNARD"), "nom de naissance : nom utilisé de l'une saisi"),
    "given_names_in_another_order": (dict(birth_given_names="MARIE CLAIRE", first_birth_given_name="MARIE"), "prénoms : dans un autre ordre"),
    "only_the_first_given_name": (dict(birth_given_names="CLAIRE"), "prénoms : seul le premier prénom saisi"),
    "given_name_typo": (dict(birth_given_names="CLAIRA MARIE", first_birth_given_name="CLAIRA"), "prénoms : une lettre de différence"),
    "birthplace_blank": (dict(birthplace_code=""), "lieu de naissance : non renseigné sur l'une"),
    "postal_code_for_the_insee_code": (dict(birthplace_code="63000"), "lieu de naissance : même département, un code postal"),
    "name_typo_and_day_off": (dict(birth_name="BERNRAD", birth_date="1962-03-13"), "date de naissance : un jour d'écart"),
}
SPELLINGS = {  # (stored, typed): separators and particles
    "hyphen_for_space": ("LE GALL", "LE-GALL"),
    "space_left_out": ("LE GALL", "LEGALL"),
    "apostrophe_left_out": ("D'ALMEIDA", "DALMEIDA"),
    "particle_dropped": ("DE LA FONTAINE", "FONTAINE"),
    "particle_glued": ("DE LA FONTAINE", "DELAFONTAINE"),
    "le_dropped": ("LE GOFF", "GOFF"),
}


@pytest.mark.parametrize("error", DESK_ERRORS)
def test_each_desk_error_is_found_and_scored_as_a_duplicate(error, model, base):
    typed, said = DESK_ERRORS[error]
    entered = dataclasses.replace(ORIGINAL, id="entered", **typed)

    verdict = _verdict(ORIGINAL, entered, model, base)

    assert verdict is not None and verdict[0] == DUPLICATE, verdict
    assert any(line.startswith(said) for line in verdict[2]), verdict[2]


TWO_ERRORS = {  # two errors at once on someone without a used name (that name would be a key of its own)
    "name_typo_and_day_off": dict(birth_name="BERNRAD", birth_date="1962-03-13"),
    "name_typo_and_day_month_swapped": dict(birth_name="BERNARF", birth_date="1962-12-03"),
    "name_typo_and_year_typo": dict(birth_name="BERMARD", birth_date="1963-03-12"),
    "name_typo_and_given_names_reordered": dict(birth_name="BENARD", birth_given_names="MARIE CLAIRE",
                                                first_birth_given_name="MARIE"),
    "given_names_reordered_and_year_typo": dict(birth_given_names="MARIE CLAIRE", first_birth_given_name="MARIE",
                                                birth_date="1926-03-12"),
    "given_names_reordered_and_day_off": dict(birth_given_names="MARIE CLAIRE", first_birth_given_name="MARIE",
                                              birth_date="1962-03-11"),
    "year_typo_and_day_off": dict(birth_date="1963-03-13"),
    "first_letter_of_a_short_name_and_day_off": dict(birth_name="VIDAL", birth_date="1962-03-13"),
    # A year-only date (00/00/YYYY) has no day or month for the keys: its twelve months stand in.
    "name_typo_and_year_only_date": dict(birth_name="BERNRAD", birth_date="1962-00-00"),
    "given_name_typo_and_year_only_date": dict(birth_given_names="CLAIRA MARIE", first_birth_given_name="CLAIRA",
                                               birth_date="1962-00-00"),
}


@pytest.mark.parametrize("case", TWO_ERRORS)
def test_two_errors_at_once_are_found_and_scored_as_a_duplicate(case, model, base):
    original = dataclasses.replace(ORIGINAL, used_name="", birth_name="BERNARD" if "short" not in case else "VIDAN")
    entered = dataclasses.replace(original, id="entered", **TWO_ERRORS[case])

    verdict = _verdict(original, entered, model, base)

    assert verdict is not None and verdict[0] == DUPLICATE, verdict


@pytest.mark.parametrize("case", SPELLINGS)
def test_separators_and_particles_are_found_and_scored_as_a_duplicate(case, model, base):
    stored, typed = SPELLINGS[case]
    original = dataclasses.replace(ORIGINAL, birth_name=stored, used_name="")
    entered = dataclasses.replace(original, id="entered", birth_name=typed)

    verdict = _verdict(original, entered, model, base)

    assert verdict is not None and verdict[0] == DUPLICATE, verdict


def test_a_composed_given_name_split_is_found_and_scored_as_a_duplicate(model, base):
    original = dataclasses.replace(ORIGINAL, birth_given_names="ANNE-SOPHIE MARIE", first_birth_given_name="ANNE-SOPHIE")
    entered = dataclasses.replace(original, id="entered", birth_given_names="ANNE SOPHIE MARIE", first_birth_given_name="ANNE")

    assert _verdict(original, entered, model, base)[0] == DUPLICATE


@pytest.mark.parametrize("difference", [dict(birthplace_code="13055"), dict(sex="M", birth_given_names="CLAIRE"),
                                        dict(birthplace_code="99134")])
def test_true_homonyms_go_to_the_homonym_queue_never_to_the_duplicates(difference, model, base):
    other = dataclasses.replace(ORIGINAL, id="other", **{"birth_given_names": "CLAIRE JEANNE", **difference})

    kind, band, lines = _verdict(ORIGINAL, other, model, base)

    assert kind == HOMONYM and band == ""
    assert any("homonymes" in line for line in lines)


def test_the_model_learns_the_share_of_pairs_that_are_one_person_without_labels(model):
    # The "a priori" line of every explanation: the odds that two identities of the base are one
    # person. Learnt without labels; the generator's labels (used here only) give the truth.
    people = _people(20_000, seed=7)
    copies = Counter(p.cluster for p in people if p.label in (synthetic.ORIGINAL, synthetic.DUPLICATE))
    truth = sum(k * (k - 1) / 2 for k in copies.values()) / (len(people) * (len(people) - 1) / 2)

    assert model.prior == pytest.approx(truth, rel=0.05)


def test_twins_are_not_proposed_as_duplicates(model, base):
    twin = dataclasses.replace(ORIGINAL, id="twin", birth_given_names="SOPHIE ANNE", first_birth_given_name="SOPHIE")

    assert _verdict(ORIGINAL, twin, model, base) is None


def test_two_different_ins_are_never_a_duplicate_even_with_identical_traits(model, base):
    a = dataclasses.replace(ORIGINAL, id="a", ins_matricule="262036311300112")
    b = dataclasses.replace(ORIGINAL, id="b", ins_matricule="262036311300215")

    kind, band, lines = _verdict(a, b, model, base)

    assert kind != DUPLICATE
    assert lines[0] == "matricules INS différents : deux personnes, jamais un doublon"


def test_two_different_ins_are_never_a_duplicate_even_when_only_a_typo_tells_them_apart(model, base):
    a = dataclasses.replace(ORIGINAL, id="a", ins_matricule="262036311300112", used_name="")
    b = dataclasses.replace(a, id="b", ins_matricule="262036311300215", birth_name="BERNRAD")

    verdict = _verdict(a, b, model, base)

    assert verdict is None  # neither a duplicate nor, with another name, a homonym


def test_the_same_ins_on_two_identities_is_a_certain_duplicate_whatever_the_traits(model, base):
    a = dataclasses.replace(ORIGINAL, id="a", ins_matricule="262036311300112")
    b = dataclasses.replace(ORIGINAL, id="b", ins_matricule="262036311300112", birth_date="1962-03-13",
                            birthplace_code="75056", birth_given_names="CLAIRE")

    kind, band, lines = _verdict(a, b, model, base)

    assert (kind, band) == (DUPLICATE, "certain")
    assert "collision INS" in lines[0]


def test_a_matricule_insi_reported_for_another_identity_is_the_same_ins_whatever_the_traits(model, base):
    # INSi gave b, as a historical matricule, the one a holds: one person, even under another
    # name and date (no other key brings them together) and with a matricule of its own.
    a = dataclasses.replace(ORIGINAL, id="a", ins_matricule="262036311300112")
    b = Record(id="b", birth_name="LEFEBVRE", birth_given_names="ANNE", first_birth_given_name="ANNE",
               birth_date="1971-07-24", sex="F", birthplace_code="75056", ins_matricule="262036311300215",
               ins_reported=("262036311300112",))

    kind, band, lines = _verdict(a, b, model, base)

    assert (kind, band) == (DUPLICATE, "certain")
    assert lines[0] == "matricule INS identique (262036311300112) : doublon certain (collision INS à fusionner)"


def test_the_explanation_says_each_trait_in_french_with_its_weight(model, base):
    entered = dataclasses.replace(ORIGINAL, id="entered", birth_name="BERNRAD", birth_date="1962-12-03")

    _kind, band, lines = _verdict(ORIGINAL, entered, model, base)  # the desk entry is shown first

    date_line = next(line for line in lines if line.startswith("date de naissance"))
    assert re.fullmatch(r"date de naissance : jour et mois inversés \(03/12/1962 / 12/03/1962\), \+\d+,\d", date_line)
    name_line = next(line for line in lines if line.startswith("nom de naissance"))
    assert name_line.startswith("nom de naissance : une lettre de différence (BERNRAD (DUPONT) / BERNARD (DUPONT)), +")
    assert re.fullmatch(rf"score : \+\d+,\d \(doublon {band}\)", lines[-1])


def test_the_readable_keys_and_the_stored_codes_are_the_same_keys(base):
    records = [dataclasses.replace(r, ins_reported=(f"1{i:014d}",)) if i % 7 == 0 else r for i, r in enumerate(base[:500])]
    table = encode(records)
    codes, rows = key_codes(table)

    for row, record in enumerate(records):
        assert {key_code(key) for key in blocking_keys(record)} == set(codes[rows == row].tolist())


def test_the_sweep_split_in_parts_finds_the_same_pairs_as_in_one_go(base):
    table = encode(base)  # 20,000: the keys are selective, a smaller base gives too few pairs to tell
    whole = set(zip(*candidate_pairs(table)[:2]))
    parts = set()
    for part in range(3):
        left, right, _skipped = candidate_pairs(table, parts=3, part=part)
        parts |= set(zip(left.tolist(), right.tolist()))

    assert parts == {(int(a), int(b)) for a, b in whole} and len(whole) > 500


def test_the_sweep_finds_the_planted_duplicates_of_a_small_base():
    people = list(synthetic.IdentityGenerator(
        seed=3, communes=["63113", "75056", "13055", "2A004", "29019"], countries=["99134"], documents=[("cni", True)],
        nir_oid="x", nia_oid="y", taken=set(), now=datetime(2026, 1, 1, tzinfo=timezone.utc)).generate(5000))
    records = [Record(id=i, birth_name=p.birth_name, used_name=p.used_name, birth_given_names=p.birth_given_names,
                      first_birth_given_name=p.first_birth_given_name, birth_date=p.birth_date, sex=p.sex,
                      birthplace_code=p.birthplace_code, ins_matricule=p.ins_matricule) for i, p in enumerate(people)]
    truth = defaultdict(set)
    for i, p in enumerate(people):
        if p.label in (synthetic.ORIGINAL, synthetic.DUPLICATE):
            truth[p.cluster].add(i)
    expected = {(a, b) for members in truth.values() for a in members for b in members if a < b}

    scored = sweep(records)
    found = {(int(a), int(b)) for a, b, kind in zip(scored.comparison.left, scored.comparison.right, scored.decision.kind) if kind == 1}

    assert len(found & expected) >= 0.95 * len(expected)
    assert len(found & expected) >= 0.95 * len(found)
    assert np.all(np.diff(scored.weight[scored.proposed()]) <= 0)  # queue ranked by score
