"""FID∞: a Fréchet distance with its sample-size bias extrapolated away (Chong and Forsyth 2020).

FID on ``N`` samples overestimates the distance between the two distributions by a term that, to first
order, falls as ``1 / N`` (their section 3). Chong and Forsyth compute FID at
several sizes, fit a line in ``1 / N`` and read its intercept, FID∞: the value at infinitely many
samples, which does not depend on how many samples a paper happened to score.

Here both sides are subsampled at each size ``N`` (``N`` generated and ``N`` real rows, each drawn
without replacement), where Chong and Forsyth keep the real statistics of 50,000 training images
fixed: on a CPU the real side is a few thousand Inception features too, and its own ``1 / N`` bias
is extrapolated away with the generated side's. At each size the distance is the mean over
``draws`` independent draws. The fit and its points are kept, so a chapter can show them.

The estimator is tested where the answer is known (``tests/test_fid_infinity.py``): Gaussian
features whose Fréchet distance has a closed form, and two halves of one real set (distance zero).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from twostep.core.checks import check_int
from twostep.evaluation.fid import feature_statistics, frechet_distance

POINTS = 8  # sizes in the fit (Chong and Forsyth: 15, from 5,000 to 50,000)
SMALLEST = 0.2  # the smallest size, as a share of the largest (theirs: 0.1)
DRAWS = 3  # independent draws averaged at each size


@dataclass(frozen=True)
class FIDInfinity:
    """FID at each size (``fids``, mean over draws) and the line ``value + slope / N`` fitted to
    them; ``value`` is FID∞."""

    sizes: tuple[int, ...]
    fids: tuple[float, ...]
    value: float
    slope: float

    def at(self, n: float) -> float:
        """The fitted FID at ``n`` samples (``math.inf`` gives FID∞)."""
        return self.value + self.slope / n

    @property
    def largest(self) -> float:
        """The measured FID at the largest size, the number FID∞ corrects."""
        return self.fids[-1]

    def residual(self) -> float:
        """The largest distance of a measured point from the line, in FID units: how well the
        ``1 / N`` law describes these sizes."""
        return float(max(abs(f - self.at(n)) for n, f in zip(self.sizes, self.fids, strict=True)))


def fit_sizes(largest: int, points: int = POINTS, smallest: float = SMALLEST) -> list[int]:
    """``points`` sizes evenly spaced from ``smallest * largest`` to ``largest`` (distinct, rising)."""
    largest = check_int("largest", largest, minimum=4)
    points = check_int("points", points, minimum=2)
    if not 0 < smallest < 1:
        raise ValueError(f"smallest={smallest} is not allowed: a share of the largest size in (0, 1)")
    sizes = sorted({int(round(s)) for s in np.linspace(max(2, smallest * largest), largest, points)})
    if len(sizes) < 2:
        raise ValueError(f"largest={largest} gives fewer than two sizes to fit")
    return sizes


def fid_infinity(generated: np.ndarray, real: np.ndarray, *, seed: int, sizes: Sequence[int] | None = None,
                 draws: int = DRAWS) -> FIDInfinity:
    """FID∞ between two feature matrices (rows are samples): at each of ``sizes`` (default
    :func:`fit_sizes` up to the smaller set), the Fréchet distance between ``N`` rows of each drawn
    without replacement, averaged over ``draws`` draws (seeded with ``seed``); then the least-squares
    line in ``1 / N`` and its intercept."""
    generated, real = np.asarray(generated, np.float64), np.asarray(real, np.float64)
    if generated.ndim != 2 or real.ndim != 2 or generated.shape[1] != real.shape[1]:
        raise ValueError(f"feature matrices of one width are needed, got {generated.shape} and {real.shape}")
    most = min(len(generated), len(real))
    sizes = fit_sizes(most) if sizes is None else sorted(int(n) for n in sizes)
    if len(set(sizes)) < 2 or sizes[0] < 2 or sizes[-1] > most:
        raise ValueError(f"sizes={sizes} are not allowed: at least two distinct sizes between 2 and {most} "
                         "(the rows of the smaller feature matrix)")
    draws = check_int("draws", draws, minimum=1)
    rng = np.random.default_rng(seed)
    fids = []
    for n in sizes:
        values = []
        for _ in range(draws):
            a = generated[rng.choice(len(generated), n, replace=False)]
            b = real[rng.choice(len(real), n, replace=False)]
            values.append(frechet_distance(feature_statistics(a), feature_statistics(b)))
        fids.append(float(np.mean(values)))
    slope, value = np.polyfit(1.0 / np.asarray(sizes, float), np.asarray(fids), 1)
    return FIDInfinity(tuple(sizes), tuple(fids), float(value), float(slope))
