"""The Fellegi–Sunter model: m and u per comparison level, learnt from the base itself, and pair weights."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from identities.matching.comparison import LEVELS, NEUTRAL, TRAITS, Comparison, Date, Given, Name, compare
from identities.matching.table import Table

# Probabilities are kept off 0 and 1: a level never seen among matches is strong evidence
# against, not an impossibility (weights stay within about ±17 bits).
_FLOOR = 1e-5
# Levels whose agreement is adjusted for how common the agreeing value is (MARTIN < KERGUELEN).
_TF_NAME = (Name.EXACT, Name.PARTICLE, Name.CROSS)
_TF_GIVEN = (Given.EXACT, Given.PREFIX, Given.FIRST_SAME)


@dataclass
class Model:
    m: dict[str, list[float]]  # P(level | same person), per trait, learnt by EM
    u: dict[str, list[float]]  # P(level | two people), from random pairs
    prior: float  # P(same person) for two identities drawn at random from the base
    # "name" / "given" → value → share of identities holding it
    frequencies: dict[str, dict[str, float]] = field(default_factory=dict)
    unseen_frequency: float = 1e-6  # for a value the model never saw (a rare name)

    def weight_table(self) -> dict[str, np.ndarray]:
        """log2(m/u) per trait and level; 0 for the levels that carry no evidence."""
        table = {}
        for trait in TRAITS:
            m, u = np.clip(self.m[trait], _FLOOR, 1), np.clip(self.u[trait], _FLOOR, 1)
            w = np.log2(m / u)
            for level in LEVELS[trait]:
                if (trait, level) in NEUTRAL:
                    w[level] = 0.0
            table[trait] = w
        return table

    def contributions(self, t: Table, c: Comparison) -> np.ndarray:
        """Weight of each trait for each pair (n × 5), term-frequency adjusted where values agree."""
        weights = {trait: w.astype(np.float32) for trait, w in self.weight_table().items()}
        out = np.empty(c.levels.shape, dtype=np.float32)
        for k, trait in enumerate(TRAITS):
            out[:, k] = weights[trait][c.levels[:, k]]
        for k, trait, tf_levels, values in ((0, "name", _TF_NAME, c.name_value), (1, "given", _TF_GIVEN, c.given_value)):
            hit = np.isin(c.levels[:, k], tf_levels) & (values > 0)
            # Splink's adjustment: a random pair agrees on this very value with probability
            # ~ its frequency, instead of the level's average u (Σ f²).
            base = np.clip(np.asarray(self.u[trait])[c.levels[hit, k]], _FLOOR, 1)
            out[hit, k] += np.log2(base / self._frequency_array(t, trait)[values[hit]]).astype(np.float32)
        return out

    @property
    def prior_weight(self) -> float:
        """log2 of the prior odds: with it, a total of 0 bits is a 50 % chance of one person."""
        return float(np.log2(self.prior / (1 - self.prior)))

    def _frequency_array(self, t: Table, kind: str) -> np.ndarray:
        cache = t.__dict__.setdefault("_frequency_cache", {})
        if (id(self), kind) not in cache:
            shares = self.frequencies.get(kind, {})
            cache[(id(self), kind)] = np.fromiter((shares.get(s, self.unseen_frequency) for s in t.strings),
                                                  dtype=np.float64, count=len(t.strings))
        return cache[(id(self), kind)]

    def to_json(self) -> str:
        return json.dumps({"m": self.m, "u": self.u, "prior": self.prior, "frequencies": self.frequencies,
                           "unseen_frequency": self.unseen_frequency})

    @classmethod
    def from_json(cls, text: str) -> Model:
        return cls(**json.loads(text))


def _distinct_counts(t: Table, columns: tuple[str, ...]) -> np.ndarray:
    """How many identities hold each vocabulary value in any of the columns (once per identity)."""
    counts = np.zeros(len(t.strings), dtype=np.int64)
    block = np.stack([t.cols[column] for column in columns], axis=1)
    for j in range(block.shape[1]):
        fresh = block[:, j] > 0
        for earlier in range(j):
            fresh &= block[:, j] != block[:, earlier]
        np.add.at(counts, block[fresh, j], 1)
    return counts


def value_frequencies(t: Table, *, minimum_count: int = 2) -> tuple[dict[str, dict[str, float]], float]:
    """Share of identities holding each name (birth or used, with or without particle) and each
    given-name value (the list, the first name). Values seen once are left out (most of the
    vocabulary): they get the ``unseen`` share."""
    n = max(len(t), 1)
    out = {}
    for kind, columns in (("name", ("bkey", "bcore", "ukey", "ucore")), ("given", ("gall", "g1"))):
        counts = _distinct_counts(t, columns)
        keep = np.flatnonzero(counts >= minimum_count)
        out[kind] = {t.strings[i]: counts[i] / n for i in keep}
    return out, 1 / n


def estimate_u(t: Table, *, samples: int = 300_000, seed: int = 0) -> dict[str, list[float]]:
    """u: how often two random identities reach each level (they are almost never the same person)."""
    rng = np.random.default_rng(seed)
    n = len(t)
    a = rng.integers(0, n, size=samples)
    b = rng.integers(0, n, size=samples)
    keep = a != b
    c = compare(t, a[keep], b[keep])
    return {trait: _shares(c.levels[:, k], len(LEVELS[trait]), pseudo=0.5) for k, trait in enumerate(TRAITS)}


def _shares(levels: np.ndarray, size: int, *, pseudo: float) -> list[float]:
    counts = np.bincount(levels.astype(np.int64), minlength=size).astype(np.float64) + pseudo
    return (counts / counts.sum()).tolist()


def _geometric_m() -> dict[str, list[float]]:
    # Most mass on agreement, the rest spread geometrically: no level starts at zero.
    m = {}
    for trait in TRAITS:
        size = len(LEVELS[trait])
        raw = 0.2 ** np.arange(size) + 0.001
        m[trait] = (raw / raw.sum()).tolist()
    return m


def sure_pairs(levels: np.ndarray) -> np.ndarray:
    """Which rows of levels (pairs × traits) agree on name, first given name and full date: nearly all one person."""
    return (np.isin(levels[:, 0], _TF_NAME) & np.isin(levels[:, 1], _TF_GIVEN) & (levels[:, 2] == Date.EXACT))


def _initial(patterns: np.ndarray, counts: np.ndarray, sure: np.ndarray, pairs: float) -> tuple[dict[str, list[float]], float]:
    """Where EM starts: m halfway between the level shares of the sure pairs and the geometric
    start (so no level starts at zero), the match rate at the share of sure pairs among all pairs.
    """
    geometric = _geometric_m()
    if not counts[sure].sum():
        return geometric, float(np.clip(counts.sum() / 100 / pairs, 1e-15, 0.5))
    m = {}
    for k, trait in enumerate(TRAITS):
        shares = np.bincount(patterns[sure, k], weights=counts[sure], minlength=len(LEVELS[trait]))
        m[trait] = (0.5 * shares / shares.sum() + 0.5 * np.asarray(geometric[trait])).tolist()
    return m, float(np.clip(counts[sure].sum() / pairs, 1e-15, 0.5))


def estimate(t: Table, c: Comparison, *, u: dict[str, list[float]] | None = None, ignore: np.ndarray | None = None,
             iterations: int = 60, seed: int = 0) -> Model:
    """Fit m and the match rate by expectation–maximisation over all pairs of the base; u from random pairs.

    u is what two people share at random, and random pairs measure it (they are almost never one
    person), so EM holds it there and fits m and the match rate of *all* n(n-1)/2 pairs: a pair
    no key brings together is taken as two people (blocking keeps 98 % of true pairs), so only
    the candidates need computing. The match rate is that of the base, not of the candidates:
    fitted among candidates with u free (as Splink does per blocking rule), the match class
    absorbed the people of one name born the same month of one year at 1,000,000 (prior −19.5
    bits for a truth of −23.8, "same year" worth +4 bits, a different birthplace −0.1).
    ``ignore`` marks pairs a rule decides whatever their score (INS, homonyms, twins): they
    would teach m that true duplicates differ in birthplace or given names. Pairs are reduced
    to their distinct level patterns first (a few thousand), so an iteration costs nothing and
    every candidate counts.
    """
    u = u or estimate_u(t, seed=seed)
    sizes = [len(LEVELS[trait]) for trait in TRAITS]
    levels = c.levels if ignore is None else c.levels[~ignore]
    patterns, counts = np.unique(levels.astype(np.int64), axis=0, return_counts=True)
    counts = counts.astype(np.float64)
    pairs = max(len(t) * (len(t) - 1) / 2, 1.0)
    m, prior = _initial(patterns, counts, sure_pairs(patterns), pairs)
    log_u = sum(np.log(np.clip(np.asarray(u[trait])[patterns[:, k]], _FLOOR, 1)) for k, trait in enumerate(TRAITS))
    for _ in range(iterations):
        log_m = sum(np.log(np.clip(np.asarray(m[trait])[patterns[:, k]], _FLOOR, 1)) for k, trait in enumerate(TRAITS))
        odds = prior / (1 - prior) * np.exp(log_m - log_u)
        weighted = counts * odds / (1 + odds)
        prior = float(np.clip(weighted.sum() / pairs, 1e-15, 0.5))
        for k, trait in enumerate(TRAITS):
            per_level = np.bincount(patterns[:, k], weights=weighted, minlength=sizes[k]) + 1e-9
            m[trait] = (per_level / per_level.sum()).tolist()
    frequencies, unseen = value_frequencies(t)
    return Model(m=m, u=u, prior=prior, frequencies=frequencies, unseen_frequency=unseen)
