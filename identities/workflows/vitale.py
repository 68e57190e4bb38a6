"""The carte Vitale reader seam: what a reader returns, and the reader fed by a typed form (no card reader here)."""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Protocol

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from identities.core import matricule, traits
from identities.core.errors import RuleViolation

# A lunar date: the card may hold 00 for an unknown day or month, never a calendar check.
_LUNAR_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_LUNAR_FR = re.compile(r"^(\d{2})/(\d{2})/(\d{4})$")

FIELD_LABELS = {
    "beneficiary_nir": gettext_lazy("NIR du bénéficiaire"),
    "insured_nir": gettext_lazy("NIR de l'assuré (ouvrant droit)"),
    "birth_name": gettext_lazy("Nom de naissance"),
    "birth_date": gettext_lazy("Date de naissance (lunaire)"),
    "birth_rank": gettext_lazy("Rang de naissance"),
}


@dataclass(frozen=True)
class VitaleCard:
    """One beneficiary as the card holds it (the NIRs with their keys, 15 characters)."""

    beneficiary_nir: str
    birth_name: str
    birth_date: str  # AAAA-MM-JJ, 00 allowed
    birth_rank: str = "1"
    insured_nir: str = ""

    def as_json(self) -> dict:
        return asdict(self)


class CardReader(Protocol):
    """Anything that reads the beneficiary of a carte Vitale: a SESAM-Vitale reader later, a typed form now."""

    def read(self) -> VitaleCard: ...


def _nir(value: str, field: str, *, required: bool) -> str:
    if not (value or "").strip():
        if required:
            raise RuleViolation(_("ce champ est obligatoire"), field=field)
        return ""
    try:
        return matricule.validate(value)
    except matricule.MatriculeError as error:
        raise RuleViolation(error.message, field=field) from error


def _lunar_date(value: str) -> str:
    text = (value or "").strip()
    iso, french = _LUNAR_ISO.match(text), _LUNAR_FR.match(text)
    if not (iso or french):
        raise RuleViolation(_("format attendu JJ/MM/AAAA (00 admis pour un jour ou un mois inconnu)"), field="birth_date")
    year, month, day = iso.groups() if iso else tuple(reversed(french.groups()))
    if int(month) > 12 or int(day) > 31:
        raise RuleViolation(_("jour (00 à 31) ou mois (00 à 12) hors limites"), field="birth_date")
    return f"{year}-{month}-{day}"


class TypedCardReader:
    """The card's data typed by the agent from the card or its certificate (attestation)."""

    def __init__(self, data: Mapping[str, str]):
        self.data = data

    def read(self) -> VitaleCard:
        get = self.data.get
        try:
            birth_name = traits.normalise_name(get("birth_name", ""), field=traits.BIRTH_NAME)
        except traits.TraitError as error:
            raise RuleViolation(error.message, field="birth_name") from error
        rank = (get("birth_rank") or "1").strip()
        if not (rank.isdigit() and 1 <= int(rank) <= 9):
            raise RuleViolation(_("rang de naissance attendu entre 1 et 9 (jumeaux : 1, 2…)"), field="birth_rank")
        return VitaleCard(
            beneficiary_nir=_nir(get("beneficiary_nir", ""), "beneficiary_nir", required=True),
            insured_nir=_nir(get("insured_nir", ""), "insured_nir", required=False),
            birth_name=birth_name,
            birth_date=_lunar_date(get("birth_date", "")),
            birth_rank=rank,
        )
