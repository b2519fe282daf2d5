import numpy as np
import pytest
import torch

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


def _unbiased_poly_mmd2(x, y):
    """Direct unbiased MMD² with KID's kernel k(a, b) = (a·b / d + 1)³, written from Bińkowski et al."""
    d = x.shape[1]
    kxx, kyy, kxy = ((x @ x.T) / d + 1) ** 3, ((y @ y.T) / d + 1) ** 3, ((x @ y.T) / d + 1) ** 3
    m = len(x)
    return ((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
            - 2 * kxy.mean())


def test_kid_is_the_unbiased_polynomial_mmd():
    from twostep.evaluation.quality import kernel_distance

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 8)), rng.normal(0.5, 1.0, size=(60, 8))
    # subsets of all 60 rows are permutations of the whole sets: every subset gives the same value
    kid, kid_std = kernel_distance(x, y, subsets=3, subset_size=60)
    assert kid == pytest.approx(_unbiased_poly_mmd2(x, y), rel=1e-4) and kid_std == pytest.approx(0, abs=1e-6)
    same, _ = kernel_distance(x, rng.normal(size=(60, 8)), subsets=20, subset_size=50)
    assert abs(same) < kid  # unbiased: about zero for one distribution, and clearly above it otherwise


def test_kid_equals_torch_fidelitys_to_rounding():
    """The same subsets, kernel blocks and sums as torch-fidelity's kid_features_to_metric (the
    cube as two products instead of powf: an ulp per element), on sets of unequal sizes, for a
    distance about zero and a large one; the real rows' terms, computed once, serve every call."""
    from torch_fidelity.metric_kid import kid_features_to_metric

    from twostep.evaluation.quality import KernelDistance

    rng = np.random.default_rng(3)
    real = (3 * rng.standard_normal((900, 32))).astype(np.float32)
    kid = KernelDistance(real, subsets=12, subset_size=300, seed=7)
    for shift, n in ((0.0, 700), (1.0, 700), (0.3, 500)):
        fake = (3 * rng.standard_normal((n, 32)) + shift).astype(np.float32)
        ref = kid_features_to_metric(torch.from_numpy(real), torch.from_numpy(fake), kid_subsets=12,
                                     kid_subset_size=300, rng_seed=7, verbose=False)
        mean, std = kid(fake)
        assert mean == pytest.approx(ref["kernel_inception_distance_mean"], rel=1e-5, abs=1e-6 * std)
        assert std == pytest.approx(ref["kernel_inception_distance_std"], rel=1e-4)
    assert sorted(kid._plans) == [500, 700]  # one plan of subsets per number of generated rows


def test_prdc_matches_the_prdc_package_and_sees_mode_dropping():
    from prdc import compute_prdc

    from twostep.evaluation.quality import PRDC

    rng = np.random.default_rng(1)
    centres = rng.normal(scale=6.0, size=(4, 5))
    real = (centres[rng.integers(0, 4, 400)] + rng.normal(size=(400, 5))).astype(np.float32)
    fake = (centres[rng.integers(0, 4, 300)] + 1.2 * rng.normal(size=(300, 5))).astype(np.float32)
    ours = PRDC(real, k=5)(fake)
    theirs = compute_prdc(real, fake, nearest_k=5)
    assert ours == pytest.approx({k: float(v) for k, v in theirs.items()})
    # a model that drops three of four modes keeps its precision but loses recall and coverage
    one_mode = (centres[0] + rng.normal(size=(300, 5))).astype(np.float32)
    dropped = PRDC(real, k=5)(one_mode)
    assert dropped["precision"] > 0.8 and dropped["recall"] < 0.4 and dropped["coverage"] < 0.4
    assert ours["coverage"] > 0.8
