"""The feature check's disturbances (twostep.evaluation.disturbances) and its pass rule
(twostep.experiments.feature_validation), on real MNIST digits and made-up curves."""

import numpy as np
import pytest

from twostep.evaluation.disturbances import (
    PIXEL_DISTURBANCES,
    disturbances,
    mode_collapse,
    mode_dropping,
    selects_rows,
)
from twostep.evaluation.fid import FeatureNetwork
from twostep.experiments.feature_validation import ValidationCurves, validate_features


@pytest.fixture(scope="module")
def digits():
    from twostep.data.mnist import load_mnist

    x, y = load_mnist(train=False)
    return x[:300].reshape(-1, 1, 28, 28), y[:300]


@pytest.mark.parametrize("name", sorted(PIXEL_DISTURBANCES))
def test_level_zero_changes_nothing_and_stronger_levels_change_more(name, digits, shared_data):
    images, _ = digits
    disturb = PIXEL_DISTURBANCES[name]
    rng = np.random.default_rng(0)
    assert np.array_equal(disturb(images, 0.0, rng), images)
    changes, distinct = [], []
    for level in (0.25, 0.5, 1.0):
        out = disturb(images, level, np.random.default_rng(1))
        assert out.shape == images.shape and out.dtype == images.dtype
        assert out.min() >= 0 and out.max() <= 1
        changes.append(float(np.abs(out - images).mean()))
        distinct.append(len(np.unique(out.reshape(len(out), -1), axis=0)))
    assert changes[0] > 0, changes
    if name == "mode collapse":  # the pixels change by about as much at every level; the variety falls
        assert distinct[0] > distinct[1] > distinct[2] == 10, distinct
    else:
        assert changes[-1] >= changes[0], changes


def test_mode_dropping_keeps_one_class_and_mode_collapse_ten_images(digits, shared_data):
    images, labels = digits
    dropped = mode_dropping(labels)(images, 1.0, np.random.default_rng(0))
    # every image now is a copy of an image of one single class
    flat = images.reshape(len(images), -1)
    sources = [int(np.flatnonzero((flat == row).all(axis=1))[0]) for row in dropped.reshape(len(images), -1)]
    assert len(set(labels[sources])) == 1
    collapsed = mode_collapse(images, 1.0, np.random.default_rng(0))
    assert len(np.unique(collapsed.reshape(len(images), -1), axis=0)) == 10
    assert len(disturbances(images[:5], labels)) == 8


def test_a_curve_rises_within_the_noise_and_the_halves_must_be_close():
    curves = ValidationCurves("net", [0, 0.5, 1], {"a": [0.1, 5.0, 9.0], "b": [0.1, 4.9, 4.88]},
                              split_half=[0.1, 0.12, 0.08])
    assert curves.tolerance == pytest.approx(0.04)  # twice the halves' standard deviation
    assert curves.rises("a") and curves.rises("b")  # b falls back by 0.02, within the noise
    curves.curves["c"] = [1.0, 5.0, 4.0]  # falls back by 1: more than the noise
    assert not curves.rises("c") and not curves.passed
    del curves.curves["c"]
    assert curves.passed
    far = ValidationCurves("net", [0, 1], {"a": [1.0, 5.0]}, split_half=[1.0, 1.2])
    assert not far.halves_close and not far.passed  # halves at 1.1, above a tenth of 5
    metrics = curves.metrics()
    assert metrics["net.a.fd_level_2"] == 9.0 and metrics["net.passed"] == 1.0 and metrics["net.b.rises"] == 1.0


class _MeanPool(FeatureNetwork):
    """A fixed, untrained feature map (4 x 4 block means of the pixels), enough to run the check."""

    name = "pool"
    image_shape = (1, 28, 28)

    def __call__(self, images, batch_size=500, progress=False):
        x = np.asarray(images, np.float64).reshape(-1, 28, 28)[:, :28, :28]
        return x.reshape(len(x), 7, 4, 7, 4).mean(axis=(2, 4)).reshape(len(x), -1)


def test_validate_features_scores_every_disturbance_from_the_same_start(digits, shared_data):
    images, labels = digits
    curves = validate_features(_MeanPool(), images, labels, 1 - images, n_per_half=100, levels=3, n_repeats=2, seed=0)
    assert len(curves.curves) == 8 and curves.levels == [0.0, 0.5, 1.0] and len(curves.split_half) == 2
    starts = {d[0] for d in curves.curves.values()}
    assert len(starts) == 1  # level 0 is the same undisturbed half for every disturbance
    assert curves.rises("gaussian noise") and curves.rises("mixing another data set")
    with pytest.raises(ValueError, match="fewer than two halves"):
        validate_features(_MeanPool(), images[:150], labels[:150], images, n_per_half=100, levels=3, n_repeats=2,
                          seed=0)


def test_row_picking_disturbances_pick_the_same_rows_from_row_numbers(digits, shared_data):
    # the check scores mixing, mode dropping and mode collapse on rows of precomputed features: the
    # rows they pick from an array of row numbers must be the images they pick from the images
    images, labels = digits
    other = 1 - images[:50]
    table = np.concatenate([images, other])
    ids = np.arange(len(images), dtype=np.float64).reshape(-1, 1, 1, 1)
    other_ids = len(images) + np.arange(len(other), dtype=np.float64).reshape(-1, 1, 1, 1)
    picked = disturbances(other_ids, labels)
    for name, disturb in disturbances(other, labels).items():
        if not selects_rows(disturb):
            continue
        for level in (0.25, 0.5, 1.0):
            rows = picked[name](ids, level, np.random.default_rng(7)).ravel().astype(int)
            np.testing.assert_array_equal(disturb(images, level, np.random.default_rng(7)), table[rows])
    assert sorted(n for n, d in picked.items() if selects_rows(d)) == ["mixing another data set", "mode collapse",
                                                                      "mode dropping"]
