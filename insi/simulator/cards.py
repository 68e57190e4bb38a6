"""The simulator's cartes Vitale: what a card reader would return, for the creation-from-card flow in tests and the demo.

A card carries the insured person (ouvrant droit) and the beneficiaries attached to it, each
with their own NIR when they have one, their name, first given name, lunar birth date and
birth rank. The people are those of insi.md's test book, so that a search with the card
(RECVITALE) finds them: the NESSI family (NATHALIE, insured, and her son MICHELANGELO) and
ADRUN ZOE alone.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CardBeneficiary:
    beneficiary_nir: str
    insured_nir: str
    birth_name: str
    given_name: str
    birth_date: str  # AAAA-MM-JJ, 00 allowed (lunar)
    birth_rank: str = "1"


CARDS: dict[str, tuple[str, tuple[CardBeneficiary, ...]]] = {
    "SIM-NESSI": ("Carte de NESSI NATHALIE (2 bénéficiaires)", (
        CardBeneficiary("277076322082910", "277076322082910", "NESSI", "NATHALIE", "1977-07-14"),
        CardBeneficiary("110086322083060", "277076322082910", "NESSI", "MICHELANGELO", "2010-08-07"),
    )),
    "SIM-ADRUN": ("Carte de ADRUN ZOE", (
        CardBeneficiary("275126322074974", "275126322074974", "ADRUN", "ZOE", "1975-12-31"),
    )),
}


def card_beneficiaries(card_id: str) -> tuple[CardBeneficiary, ...]:
    """The beneficiaries of the simulated card, or () for a card the simulator does not know."""
    return CARDS.get(card_id, ("", ()))[1]
