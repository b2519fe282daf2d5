import numpy as np
import pytest

from twostep.data import grid_means
from twostep.evaluation.samples import grid_mode_metrics

MEANS = grid_means()


def test_samples_on_every_mode_cover_all_of_them():
    rng = np.random.default_rng(0)
    s = np.repeat(MEANS, 50, axis=0) + 0.1 * rng.standard_normal((800, 2))
    m = grid_mode_metrics(s, MEANS, 0.1)
    assert m["modes_covered"] == 16
    assert m["high_quality_fraction"] > 0.97  # chi(2) mass within 3 sd is 0.989


def test_collapsed_and_off_grid_samples():
    rng = np.random.default_rng(1)
    on3 = np.repeat(MEANS[:3], 100, axis=0) + 0.05 * rng.standard_normal((300, 2))
    off = np.full((100, 2), 1.0)  # half-way between modes: 1.41 away from the nearest, > 0.3
    m = grid_mode_metrics(np.vstack([on3, off]), MEANS, 0.1)
    assert m["modes_covered"] == 3
    assert m["high_quality_fraction"] == pytest.approx(0.75)


def test_a_mode_with_too_few_samples_is_not_covered():
    # 1600 samples: a mode needs ceil(0.2 * 100) = 20 high-quality samples
    s = np.vstack([np.repeat(MEANS[:15], 105, axis=0), np.repeat(MEANS[15:], 19, axis=0), np.full((6, 2), 50.0)])
    assert grid_mode_metrics(s, MEANS, 0.1)["modes_covered"] == 15


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="do not match"):
        grid_mode_metrics(np.zeros((3, 3)), MEANS, 0.1)
    with pytest.raises(ValueError, match="NaN"):
        grid_mode_metrics(np.full((3, 2), np.nan), MEANS, 0.1)


def test_clustering_accuracy_matches_brute_force_over_permutations():
    import itertools

    from twostep.evaluation.samples import clustering_accuracy

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 200)
    clusters = np.where(rng.random(200) < 0.7, (labels + 1) % 4, rng.integers(0, 4, 200))
    best = max(np.mean(np.array(p)[clusters] == labels) for p in itertools.permutations(range(4)))
    assert clustering_accuracy(labels, clusters) == pytest.approx(best)
    assert clustering_accuracy(labels, (labels + 2) % 4) == 1.0
    # more clusters than labels: the extra clusters count as errors
    assert clustering_accuracy(np.array([0, 0, 1, 1]), np.array([0, 1, 2, 3])) == 0.5
