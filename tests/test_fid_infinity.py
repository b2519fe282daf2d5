"""FID∞ (twostep.evaluation.fid_infinity) where the answer is known."""

import math

import numpy as np
import pytest

from twostep.evaluation.fid import feature_statistics, frechet_distance
from twostep.evaluation.fid_infinity import fid_infinity, fit_sizes


def _gaussians(n, d, rng):
    real = rng.standard_normal((n, d))
    generated = 0.1 + 1.2 * rng.standard_normal((n, d))  # N(0.1, 1.44 I) against N(0, I)
    return generated, real, d * 0.1**2 + d * (1.2 - 1.0) ** 2  # the closed-form Fréchet distance


def test_on_gaussian_features_fid_infinity_removes_most_of_the_sample_size_bias():
    generated, real, truth = _gaussians(2000, 64, np.random.default_rng(1))
    r = fid_infinity(generated, real, seed=0)
    finite = frechet_distance(feature_statistics(generated), feature_statistics(real))
    assert finite == pytest.approx(r.largest, rel=0.05)  # the fit's largest point is FID on every row
    assert r.largest - truth > 1.0  # 2,000 samples in 64 dimensions: FID is biased upward by ~40 %
    assert abs(r.value - truth) < 0.1 * (r.largest - truth)  # the intercept removes >90 % of it
    assert r.slope > 0 and r.at(math.inf) == r.value and r.residual() < 0.2
    assert list(r.sizes) == fit_sizes(2000) and r.sizes[0] == 400


def test_two_halves_of_one_set_are_at_distance_zero_at_infinitely_many_samples():
    x = np.random.default_rng(2).standard_normal((4000, 64))
    r = fid_infinity(x[:2000], x[2000:], seed=0)
    assert r.largest > 1.0 and abs(r.value) < 0.1 * r.largest


def test_the_same_seed_gives_the_same_fit_and_bad_sizes_are_refused():
    generated, real, _ = _gaussians(300, 8, np.random.default_rng(3))
    assert fid_infinity(generated, real, seed=5) == fid_infinity(generated, real, seed=5)
    assert fid_infinity(generated, real, seed=5) != fid_infinity(generated, real, seed=6)
    with pytest.raises(ValueError, match="sizes"):
        fid_infinity(generated, real, seed=0, sizes=[100, 400])  # more rows than there are
    with pytest.raises(ValueError, match="sizes"):
        fid_infinity(generated, real, seed=0, sizes=[100, 100])
    with pytest.raises(ValueError, match="one width"):
        fid_infinity(generated, real[:, :4], seed=0)
    with pytest.raises(ValueError, match="smallest"):
        fit_sizes(100, smallest=1.5)
