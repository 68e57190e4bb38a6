"""Plain-French explanations of a scored pair: one line per trait with its weight, then the rules that decided."""
from __future__ import annotations

from identities.matching.comparison import TRAITS, Date, Given, Name, Place, Sex
from identities.matching.records import Record

TRAIT_LABELS = {
    "name": "nom de naissance",
    "given": "prénoms",
    "date": "date de naissance",
    "sex": "sexe",
    "place": "lieu de naissance",
}
LEVEL_TEXTS = {
    "name": {
        Name.EXACT: "identique", Name.PARTICLE: "identique à la particule près",
        Name.CROSS: "nom utilisé de l'une saisi en nom de naissance de l'autre",
        Name.TYPO: "une lettre de différence", Name.SOUND: "même prononciation", Name.CLOSE: "orthographes proches",
        Name.OTHER: "différent",
    },
    "given": {
        Given.EXACT: "identiques", Given.PREFIX: "seul le premier prénom saisi sur l'une",
        Given.REORDERED: "dans un autre ordre", Given.FIRST_SAME: "même premier prénom, prénoms suivants différents",
        Given.TYPO: "une lettre de différence dans le premier prénom",
        Given.SHARED: "le premier prénom de l'une figure parmi ceux de l'autre",
        Given.CLOSE: "premiers prénoms proches", Given.OTHER: "sans rapport", Given.BLANK: "non saisis",
    },
    "date": {
        Date.EXACT: "identique", Date.PARTIAL: "compatible (jour ou mois inconnu, 00)",
        Date.SWAPPED: "jour et mois inversés", Date.ONE_DAY: "un jour d'écart",
        Date.ONE_DIGIT: "un chiffre de différence ou deux chiffres inversés", Date.TWO_DIGITS: "deux chiffres de différence",
        Date.SAME_YEAR: "même année seulement",
        Date.OTHER: "différente", Date.BLANK: "non saisie",
    },
    "sex": {Sex.SAME: "identique", Sex.UNKNOWN: "indéterminé ou non saisi", Sex.DIFFERENT: "différent"},
    "place": {
        Place.SAME: "identique", Place.BLANK: "non renseigné sur l'une",
        Place.POSTAL: "même département, un code postal saisi au lieu du code INSEE ?",
        Place.SAME_AREA: "différent, même département", Place.DIFFERENT: "différent",
    },
}
BAND_TEXTS = {"certain": "doublon certain", "probable": "doublon probable", "possible": "doublon possible"}


def french_number(value: float) -> str:
    """+4,1 / -2,3: the sign always shown, a decimal comma."""
    return f"{value:+.1f}".replace(".", ",")


def _french_date(value: str) -> str:
    return f"{value[8:10]}/{value[5:7]}/{value[:4]}" if len(value) == 10 else (value or "?")


def _shown(trait: str, record: Record) -> str:
    if trait == "name":
        return record.birth_name + (f" ({record.used_name})" if record.used_name else "")
    if trait == "given":
        return record.birth_given_names or record.first_birth_given_name
    if trait == "date":
        return _french_date(record.birth_date)
    if trait == "sex":
        return record.sex or "?"
    return record.birthplace_code or "non renseigné"


def trait_line(trait: str, level: int, weight: float, a: Record, b: Record) -> str:
    """« date de naissance : jour et mois inversés (12/03/1950 / 03/12/1950), +4,1 »."""
    text = LEVEL_TEXTS[trait][level]
    left, right = _shown(trait, a), _shown(trait, b)
    values = f" ({left})" if left == right else f" ({left} / {right})"
    return f"{TRAIT_LABELS[trait]} : {text}{values}, {french_number(weight)}"


def explain(a: Record, b: Record, levels, contributions, *, prior_weight: float, kind: str, band: str,
            same_ins: bool, different_ins: bool, twins: bool) -> list[str]:
    """The lines the CIV reads beside the side-by-side comparison, strongest evidence first."""
    lines = [trait_line(trait, int(levels[k]), float(contributions[k]), a, b)
             for k, trait in sorted(enumerate(TRAITS), key=lambda item: -abs(float(contributions[item[0]])))]
    total = prior_weight + float(sum(float(x) for x in contributions))
    lines.append(f"a priori (deux identités de la base prises au hasard) : {french_number(prior_weight)}")
    if same_ins:
        shared = ", ".join(sorted(a.matricules() & b.matricules())) or a.ins_matricule
        lines.insert(0, f"matricule INS identique ({shared}) : doublon certain (collision INS à fusionner)")
    elif different_ins:
        lines.insert(0, "matricules INS différents : deux personnes, jamais un doublon")
    if twins:
        lines.append("mêmes nom et date, prénoms sans rapport : jumeaux ou fratrie, pas un doublon")
    if kind == "HOMONYM":
        lines.append("mêmes nom, premier prénom et date de naissance, mais des signes de deux personnes : homonymes")
    verdict = BAND_TEXTS.get(band, "homonymes" if kind == "HOMONYM" else "pas un doublon")
    lines.append(f"score : {french_number(total)} ({verdict})")
    return lines
