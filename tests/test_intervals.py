"""The verdict arithmetic of the claims page (twostep.book.intervals) against independent references."""

import math

import numpy as np
import pytest
from scipy import stats

from twostep.book.intervals import (MAX_SEEDS, NOT_REPRODUCED, REPRODUCED, UNDECIDED, decide, mean_interval,
                                    seeds_needed)


def test_below_five_seeds_the_interval_is_students_t():
    x = [1.0, 3.0, 2.0, 6.0]
    i = mean_interval(x)
    lo, hi = stats.t.interval(0.95, len(x) - 1, loc=np.mean(x), scale=stats.sem(x))  # scipy's own t interval
    assert i.method == "t" and i.low == pytest.approx(lo) and i.high == pytest.approx(hi) and i.mean == 3.0
    assert "95% Student's t, n = 4" in i.describe()


def test_from_five_seeds_the_interval_is_a_seeded_bootstrap_of_the_mean():
    x = [1.0, 2.0, 3.0, 4.0, 10.0]
    i = mean_interval(x)
    assert i.method == "bootstrap" and i.low < np.mean(x) < i.high and mean_interval(x) == i  # deterministic
    rng = np.random.default_rng(7)
    means = rng.choice(x, size=(40000, 5)).mean(axis=1)
    assert i.low == pytest.approx(np.percentile(means, 2.5), abs=0.2)
    assert i.high == pytest.approx(np.percentile(means, 97.5), abs=0.2)


def test_one_seed_has_no_interval_and_decides_nothing():
    i = mean_interval([5.0])
    assert i.method == "none" and math.isnan(i.low) and decide(i, 0.0) == UNDECIDED and seeds_needed(i, 0.0) is None
    with pytest.raises(ValueError):
        mean_interval([])
    with pytest.raises(ValueError):
        mean_interval([1.0, float("nan")])


def test_decide_against_the_margin_inclusive_or_strict():
    above, below, spans = mean_interval([2.0, 2.5, 3.0]), mean_interval([-2.0, -2.5, -3.0]), mean_interval([-1.0, 1.0, 2.0])
    assert [decide(i, 0.0) for i in (above, below, spans)] == [REPRODUCED, NOT_REPRODUCED, UNDECIDED]
    on = mean_interval([0.0, 0.0, 0.0])  # no spread, exactly on the margin
    assert decide(on, 0.0) == REPRODUCED and decide(on, 0.0, strict=True) == NOT_REPRODUCED


def test_seeds_needed_is_the_first_count_whose_t_interval_clears_the_margin():
    x = [-1.0, 1.0, 2.0]  # undecided against 0 at n = 3
    i = mean_interval(x)
    assert decide(i, 0.0) == UNDECIDED
    n = seeds_needed(i, 0.0)
    mean, s = np.mean(x), np.std(x, ddof=1)

    def clears(k):  # scipy's t interval for k seeds of the same mean and spread lies above the margin
        return stats.t.interval(0.95, k - 1, loc=mean, scale=s / math.sqrt(k))[0] > 0.0

    assert n > 3 and clears(n) and not clears(n - 1)
    # a margin on the far side asks the same question from below; farther margins need fewer seeds
    assert seeds_needed(i, 2 * mean) == n and seeds_needed(i, -1.0) < n
    assert seeds_needed(mean_interval([0.9, 1.1]), 1.0) is None  # the mean on the margin: no count decides
    assert seeds_needed(mean_interval([0.0, 1e-9, 2.0]), 0.667) == MAX_SEEDS + 1  # too close to say
