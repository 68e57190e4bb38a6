"""The similarity rate between local traits and the traits INSi returned, and the side-by-side comparison."""
from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rapidfuzz import fuzz

from identities.core import traits

# Weights of each trait in the rate; a birthplace unknown locally weighs nothing (it cannot disagree).
WEIGHTS = {"birth_name": 3, "birth_given_names": 2, "birth_date": 2, "sex": 2, "birthplace_code": 1}

FORMULA = gettext_lazy(
    "taux = Σ(poids × score) / Σ(poids) × 100 ; nom de naissance ×3 (ressemblance des lettres), "
    "prénoms ×2 (prénoms locaux retrouvés dans la liste INSi), date de naissance ×2 (part du jour, mois, année identiques), "
    "sexe ×2 (identique ou non), lieu de naissance ×1 (identique ou non ; ignoré s'il est inconnu localement). "
    "Casse, accents, tirets et apostrophes ne comptent pas."
)


@dataclass(frozen=True)
class Similarity:
    rate: float  # 0..100, one decimal
    scores: dict[str, float]  # per trait, 0..1 (absent: not counted)

    def as_json(self) -> dict:
        return {"rate": self.rate, "scores": self.scores}


def _date_score(local: str, returned: str) -> float:
    if local == returned:
        return 1.0
    pairs = zip(local.split("-"), returned.split("-"))
    return sum(a == b for a, b in pairs) / 3


def similarity(local: dict, returned: dict) -> Similarity:
    """How close the returned traits are to the local ones (both dicts keyed by the Identity field names)."""
    key = traits.search_key
    scores = {
        "birth_name": fuzz.ratio(key(local["birth_name"]), key(returned["birth_name"])) / 100,
        # token_set_ratio: a local list that is part of the returned one ("PIERRE-ALAIN" in "PIERRE-ALAIN GUNTHER") scores 1.
        "birth_given_names": fuzz.token_set_ratio(key(local["birth_given_names"]), key(returned["birth_given_names"])) / 100,
        "birth_date": _date_score(local["birth_date"], returned["birth_date"]),
        "sex": float(local["sex"] == returned["sex"]),
    }
    if local.get("birthplace_code"):
        scores["birthplace_code"] = float(local["birthplace_code"] == returned["birthplace_code"])
    weight = sum(WEIGHTS[name] for name in scores)
    rate = round(100 * sum(WEIGHTS[name] * score for name, score in scores.items()) / weight, 1)
    return Similarity(rate=rate, scores={name: round(score, 3) for name, score in scores.items()})


@dataclass(frozen=True)
class Row:
    """One line of the side-by-side screen."""

    field: str
    label: str
    local: str
    returned: str

    @property
    def differs(self) -> bool:
        return self.local != self.returned


def _date(value: str) -> str:
    parts = value.split("-")
    return "/".join(reversed(parts)) if len(parts) == 3 else value


def comparison(local: dict, returned: dict, *, places: dict[str, str] | None = None) -> list[Row]:
    """Local and returned traits line by line; ``differs`` marks what INSi would change (exact values)."""
    places = places or {}

    def place(code: str) -> str:
        return f"{code} {places[code]}" if code in places else code

    returned_first = traits.first_of(returned["birth_given_names"])
    return [
        Row("birth_name", traits.FIELD_LABELS[traits.BIRTH_NAME], local["birth_name"], returned["birth_name"]),
        Row("birth_given_names", traits.FIELD_LABELS[traits.GIVEN_NAMES], local["birth_given_names"], returned["birth_given_names"]),
        Row("first_birth_given_name", traits.FIELD_LABELS[traits.FIRST_GIVEN_NAME], local["first_birth_given_name"], returned_first),
        Row("birth_date", traits.FIELD_LABELS[traits.BIRTH_DATE], _date(local["birth_date"]), _date(returned["birth_date"])),
        Row("sex", traits.FIELD_LABELS[traits.SEX], local["sex"], returned["sex"]),
        Row("birthplace_code", traits.FIELD_LABELS[traits.BIRTHPLACE], place(local["birthplace_code"]) or "—",
            place(returned["birthplace_code"]) or "—"),
    ]


def decision_text(rate: float, threshold: float) -> str:
    if not threshold:
        return _("Intégration automatique désactivée : la décision revient à l'utilisateur.")
    if rate >= threshold:
        return _("Taux %(rate)s %% ≥ seuil %(threshold)s %% : intégration automatique.") % {"rate": rate, "threshold": threshold}
    return _("Taux %(rate)s %% < seuil %(threshold)s %% : la décision revient à l'utilisateur.") % {"rate": rate, "threshold": threshold}
