"""What a scored pair is: certain / probable / possible duplicate, homonym, or nothing (INS and homonym rules)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from identities.matching.comparison import Comparison, Date, Given, Name, Place, Sex
from identities.matching.table import Table

DUPLICATE, HOMONYM, NONE = "DUPLICATE", "HOMONYM", ""
CERTAIN, PROBABLE, POSSIBLE = "certain", "probable", "possible"
KINDS = (NONE, DUPLICATE, HOMONYM)
BANDS = ("", CERTAIN, PROBABLE, POSSIBLE)


@dataclass(frozen=True)
class Bands:
    """Match-weight thresholds (bits) of the duplicate bands; the CIV referent edits them."""

    probable: float = 10.0
    possible: float = 4.0


@dataclass
class Decision:
    """Per pair: kind and band as small codes (indexes into KINDS and BANDS), plus the facts behind them."""

    kind: np.ndarray
    band: np.ndarray
    same_ins: np.ndarray
    different_ins: np.ndarray
    twins: np.ndarray


def same_names_and_date(t: Table, c: Comparison) -> np.ndarray:
    """The existing homonym test: same birth or used name (stored key form), same first given name, same date."""
    a, b = c.left, c.right
    ba, ua, bb, ub = t.bsearch[a], t.usearch[a], t.bsearch[b], t.usearch[b]
    names = (ba == bb) | ((ub > 0) & (ba == ub)) | ((ua > 0) & ((ua == bb) | (ua == ub)))
    return names & (t.ghom[a] == t.ghom[b]) & (t.ghom[a] > 0) & (t.date8[a] == t.date8[b]) & (t.year[a] > 0)


@dataclass
class Facts:
    """Per pair, what the INS, homonym and twin rules say whatever the score."""

    same_ins: np.ndarray
    different_ins: np.ndarray
    homonym: np.ndarray
    twins: np.ndarray

    def decided(self) -> np.ndarray:
        """Pairs a rule decides, so their score decides nothing (the model is not fitted on them)."""
        return self.same_ins | self.different_ins | self.homonym | self.twins


def facts(t: Table, c: Comparison) -> Facts:
    a, b = c.left, c.right
    ins_a, ins_b = t.ins[a], t.ins[b]
    # INS knowledge beats any score: one matricule on two records is one person (an INS
    # collision to merge), be it one's own and one INSi reported for the other (a historical
    # matricule); two matricules of their own, never reported for the other, are two people,
    # whatever their traits say.
    same_ins = (t.ins_group[a] > 0) & (t.ins_group[a] == t.ins_group[b])
    different_ins = (ins_a > 0) & (ins_b > 0) & (ins_a != ins_b) & ~same_ins
    levels = c.levels
    # As precise as the queue it replaces: same names and date, and a sign of two people.
    # A code that looks like the postal code of the same department is a desk error, not a sign.
    two_people = (levels[:, 3] == Sex.DIFFERENT) | different_ins | np.isin(levels[:, 4], (Place.SAME_AREA, Place.DIFFERENT))
    homonym = same_names_and_date(t, c) & two_people & ~same_ins
    # Twins (and siblings) share name, date and often birthplace; their given names have
    # nothing in common, which no desk error produces.
    twins = np.isin(levels[:, 0], (Name.EXACT, Name.PARTICLE, Name.CROSS)) & (levels[:, 2] == Date.EXACT) & (levels[:, 1] == Given.OTHER)
    return Facts(same_ins=same_ins, different_ins=different_ins, homonym=homonym, twins=twins)


def decide(t: Table, c: Comparison, weight: np.ndarray, bands: Bands = Bands(), *, known: Facts | None = None) -> Decision:
    f = known or facts(t, c)
    scored = ~f.different_ins & ~f.homonym & ~f.twins & (weight >= bands.possible)
    duplicate = f.same_ins | scored
    kind = np.where(duplicate, 1, np.where(f.homonym, 2, 0)).astype(np.int8)
    band = np.where(f.same_ins, 1, np.where(duplicate & (weight >= bands.probable), 2, np.where(duplicate, 3, 0))).astype(np.int8)
    return Decision(kind=kind, band=band, same_ins=f.same_ins, different_ins=f.different_ins, twins=f.twins)
