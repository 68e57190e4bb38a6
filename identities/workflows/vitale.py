"""The carte Vitale reader seam: what a reader returns, the reader fed by a typed form, and the simulator's cards (no card reader here)."""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Protocol

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from identities.core import matricule, traits
from identities.core.errors import RuleViolation
from insi.simulator import cards as simulated_cards

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
    given_name: str = ""  # the first given name the card shows (not sent to INSi; the creation's starting point)

    def as_json(self) -> dict:
        return asdict(self)

    @property
    def sex(self) -> str:
        """From the NIR's first digit (1, 3, 7: M; 2, 4, 8: F): the card itself carries no sex."""
        return {"1": "M", "3": "M", "7": "M", "2": "F", "4": "F", "8": "F"}.get(self.beneficiary_nir[:1], "")


class CardReader(Protocol):
    """Anything that reads the beneficiary of a carte Vitale: a SESAM-Vitale reader later, a typed form now."""

    def read(self) -> VitaleCard: ...


class CardBeneficiaries(Protocol):
    """A reader that lists every beneficiary of the card inserted (the insured person and those attached)."""

    def beneficiaries(self) -> list[VitaleCard]: ...


class SimulatorCardReader:
    """The simulator's cards (insi/simulator/cards.py), for tests and the demo: no SESAM-Vitale reader here."""

    def __init__(self, card_id: str):
        self.card_id = card_id

    def beneficiaries(self) -> list[VitaleCard]:
        found = simulated_cards.card_beneficiaries(self.card_id)
        if not found:
            raise RuleViolation(_("carte Vitale illisible ou inconnue : réinsérez-la"), field="card")
        return [VitaleCard(beneficiary_nir=b.beneficiary_nir, birth_name=b.birth_name, birth_date=b.birth_date,
                           birth_rank=b.birth_rank, insured_nir=b.insured_nir, given_name=b.given_name) for b in found]


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
