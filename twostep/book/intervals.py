"""Intervals of a claim's effect over seeds, and the verdict they give against the claim's margin.

A claim's effect is one number per run (seed), oriented so that the claim holds above its margin;
the runs of one seed are paired (same data split, same step-1 model), so the effect of a seed is a
paired difference and the seeds are independent replicates of it. Over ``n`` seeds:

- the mean effect and a 95 % interval of it: Student's t at ``n < 5`` (``scipy.stats.t``), a
  bootstrap of the mean at ``n >= 5`` (``scipy.stats.bootstrap``, percentile method, as rliable
  reports aggregate scores; :data:`BOOTSTRAP_FROM`); none at ``n = 1``;
- the verdict: *reproduced* when the interval lies on the claim's side of the margin, *not
  reproduced* when on the other side, *undecided* when it spans the margin (or at ``n = 1``), and
  for an undecided one the number of seeds that would decide it at the observed spread.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

REPRODUCED, NOT_REPRODUCED, UNDECIDED = "reproduced", "not reproduced", "undecided"
CONFIDENCE = 0.95
BOOTSTRAP_FROM = 5  # seeds from which the interval is a bootstrap instead of Student's t
BOOTSTRAP_RESAMPLES = 9999
MAX_SEEDS = 1000  # seeds_needed says "more than" this


@dataclass(frozen=True)
class Interval:
    """The mean of ``values`` and its ``confidence`` interval (``low``, ``high``; NaN at n = 1)."""

    values: tuple[float, ...]
    mean: float
    low: float
    high: float
    method: str  # "t", "bootstrap" or "none"

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def std(self) -> float:
        return float(np.std(self.values, ddof=1)) if self.n > 1 else 0.0

    def describe(self, spec: str = ".3g") -> str:
        if self.method == "none":
            return f"{self.mean:{spec}} (one seed: no interval)"
        name = "Student's t" if self.method == "t" else "bootstrap"
        return f"{self.mean:{spec}} [{self.low:{spec}}, {self.high:{spec}}] (95% {name}, n = {self.n})"


def mean_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """The mean of ``values`` (one per seed) with its interval: Student's t below
    :data:`BOOTSTRAP_FROM` values, a percentile bootstrap of the mean from there (seeded: the same
    values give the same interval); a single value has none. Equal values give a zero-width interval."""
    x = np.asarray([float(v) for v in values], float)
    if x.size == 0:
        raise ValueError("mean_interval needs at least one value")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"mean_interval: non-finite values {x.tolist()}")
    mean = float(x.mean())
    if x.size == 1:
        return Interval(tuple(x.tolist()), mean, math.nan, math.nan, "none")
    if np.all(x == x[0]):
        return Interval(tuple(x.tolist()), mean, mean, mean, "t" if x.size < BOOTSTRAP_FROM else "bootstrap")
    if x.size < BOOTSTRAP_FROM:
        from scipy.stats import t

        half = float(t.ppf(0.5 + confidence / 2, x.size - 1)) * float(x.std(ddof=1)) / math.sqrt(x.size)
        return Interval(tuple(x.tolist()), mean, mean - half, mean + half, "t")
    from scipy.stats import bootstrap

    res = bootstrap((x,), np.mean, confidence_level=confidence, n_resamples=BOOTSTRAP_RESAMPLES,
                    method="percentile", random_state=0)
    return Interval(tuple(x.tolist()), mean, float(res.confidence_interval.low), float(res.confidence_interval.high),
                    "bootstrap")


def decide(interval: Interval, margin: float, *, strict: bool = False) -> str:
    """The verdict of one effect against its ``margin``: *reproduced* when the whole interval is at
    or above the margin (``strict``: above it), *not reproduced* when it is wholly below (``strict``:
    at or below), *undecided* otherwise and always at one seed."""
    if interval.method == "none":
        return UNDECIDED
    lo, hi = interval.low, interval.high
    if (lo > margin) if strict else (lo >= margin):
        return REPRODUCED
    if (hi <= margin) if strict else (hi < margin):
        return NOT_REPRODUCED
    return UNDECIDED


def seeds_needed(interval: Interval, margin: float, confidence: float = CONFIDENCE) -> int | None:
    """How many seeds would decide an undecided effect if its mean and spread stayed as observed:
    the smallest ``n`` whose Student's t half-width, ``t(n - 1) s / sqrt(n)``, is below the mean's
    distance to the margin. None when no number would (the mean on the margin, or no spread
    measured: one seed); :data:`MAX_SEEDS` + 1 stands for "more than MAX_SEEDS"."""
    from scipy.stats import t

    gap = abs(interval.mean - margin)
    if interval.n < 2 or gap == 0:
        return None
    s = interval.std
    if s == 0:
        return interval.n
    for n in range(max(2, interval.n), MAX_SEEDS + 1):
        if float(t.ppf(0.5 + confidence / 2, n - 1)) * s / math.sqrt(n) < gap:
            return n
    return MAX_SEEDS + 1
