"""Model keys: one type formats and parses the names of the Fig. 3 chapters' models."""

import pytest

from twostep.core.keys import JOINT_FROM_TWO_STEP, JOINT_RUNS, ModelKey, component_counts, joint, models_of, two_step
from twostep.experiments.joint_runs import run_label


def test_keys_format_and_parse_back():
    assert str(two_step("diag", 10)) == "two_step_diag_10" and str(joint("two_step", 50)) == "joint_two_step_50"
    assert two_step("full", 4).metric("fid_mnist_cnn") == "two_step_full_4.fid_mnist_cnn"
    for key in (two_step("diag", 1), two_step("full", 100), *(joint(run, 10) for run in JOINT_RUNS)):
        assert ModelKey.parse(str(key)) == key
    parsed = ModelKey.parse("joint_two_step_10")  # the run named two_step, not the family
    assert (parsed.family, parsed.variant, parsed.k) == ("joint", "two_step", 10)
    assert JOINT_FROM_TWO_STEP == ("two_step", "converged", "vade")


@pytest.mark.parametrize("text", ["vae_normal", "two_step_gmm", "joint_random", "two_step_diag_0", "joint_other_10",
                                  "two_step_sparse_10", "joint_vade_10.fid_mnist_cnn"])
def test_other_names_are_not_keys(text):
    with pytest.raises(ValueError):
        ModelKey.parse(text)


def test_bad_parts_are_refused_with_what_is_allowed():
    with pytest.raises(ValueError, match="joint variant 'vaed' is not allowed: one of two_step, converged, random, vade"):
        joint("vaed", 10)
    with pytest.raises(ValueError, match="k=0 is not allowed"):
        two_step("diag", 0)
    with pytest.raises(ValueError, match="model family 'vae' is not allowed"):
        ModelKey("vae", "normal", 1)


def test_labels_and_component_counts_from_metric_names():
    assert run_label("joint_vade_10") == "joint, VaDE protocol, 10 comp." == joint("vade", 10).label
    assert two_step("diag", 5).label == "two-step diag GMM, 5 comp."
    metrics = {"two_step_diag_10.fid_x": 1.0, "two_step_diag_2.fid_x": 1.0, "two_step_diag_50.fid_x_batch_std": 1.0,
               "two_step_full_10.fid_x": 1.0, "joint_vade_10.fid_x": 1.0, "vae_normal.fid_x": 1.0}
    assert component_counts(metrics, "two_step", "diag", "fid_x") == [2, 10]  # only that metric, sorted
    assert component_counts(metrics, "two_step", "diag") == [2, 10, 50]  # any metric
    assert component_counts(["two_step_diag_3", "two_step_diag_1"], "two_step", "diag") == [1, 3]
    assert [str(k) for k in models_of(metrics)] == ["joint_vade_10", "two_step_diag_10", "two_step_diag_2",
                                                   "two_step_diag_50", "two_step_full_10"]
