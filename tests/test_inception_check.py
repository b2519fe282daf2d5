"""The Inception check's agreement measures and its GPU path (numbers already in the scorer), on
hand-made numbers; the chapters' smoke runs exercise the CPU path with the real network."""

import itertools

import numpy as np
import pytest
from scipy.stats import kendalltau

from twostep.evaluation.fid import FIDResult
from twostep.experiments.inception_check import InceptionCheck, inception_check, inception_section


def check(offline, fid, kid=None):
    models = [f"m{i}" for i in range(len(offline))]
    kid = kid or fid
    return InceptionCheck("net", 300, dict(zip(models, fid)), {m: (k, 0.01) for m, k in zip(models, kid)},
                          dict(zip(models, offline)), 1.0)


def test_agreement_counts_pairs_ordered_alike_and_matches_kendalls_tau_without_ties():
    rng = np.random.default_rng(0)
    for _ in range(20):
        offline, fid = rng.random(7), rng.random(7)
        c = check(list(offline), list(fid))
        a = c.agreement()
        same = sum((offline[i] - offline[j]) * (fid[i] - fid[j]) > 0 for i, j in itertools.combinations(range(7), 2))
        assert a["pairwise_agreement_fid"] == pytest.approx(same / 21)
        # without ties, tau = (concordant - discordant) / pairs = 2 * agreement - 1
        assert a["kendall_tau_fid"] == pytest.approx(kendalltau(offline, fid).statistic)
        assert a["kendall_tau_fid"] == pytest.approx(2 * a["pairwise_agreement_fid"] - 1)
        assert len(c.disagreeing_pairs()) == 21 - same
    same_order = check([1.0, 2.0, 3.0], [10.0, 20.0, 30.0], kid=[3.0, 2.0, 1.0]).agreement()
    assert same_order["pairwise_agreement_fid"] == 1.0 and same_order["kendall_tau_fid"] == pytest.approx(1.0)
    assert same_order["pairwise_agreement_kid"] == 0.0 and same_order["kendall_tau_kid"] == pytest.approx(-1.0)


def test_metrics_and_table_name_every_model():
    c = check([1.0, 3.0, 2.0], [10.0, 20.0, 30.0])
    m = c.metrics()
    assert m["m1.fid_inception"] == 20.0 and m["m1.kid_std_inception"] == 0.01 and m["inception_check.samples"] == 300
    assert m["inception_check.pairwise_agreement_fid"] == pytest.approx(2 / 3)
    table = c.table()
    assert table.index("| m0 |") < table.index("| m2 |") < table.index("| m1 |")  # sorted by the offline FD
    assert "m1 / m2" in table


class Scorer:
    """What inception_check reads of a SampleScorer on a GPU run: every model already on Inception."""

    n_samples = 10000
    kept = 0

    def __init__(self):
        def result(fd, name, kid=None):
            return FIDResult([fd], fd, name, {"kid": kid, "kid_std": 0.001} if kid is not None else {})

        self.results = {m: {"net": result(fd, "net"), "inception": result(fid, "inception", kid)}
                        for m, fd, fid, kid in (("a", 5.0, 20.0, 0.02), ("b", 7.0, 25.0, 0.03))}


def test_on_a_gpu_run_the_check_reads_the_scorers_inception_numbers_without_a_network():
    c = inception_check(Scorer(), ["a", "b"], np.zeros((4, 1, 28, 28)), n=300, offline="net", seed=0)
    assert c.from_scorer and c.n == 10000 and c.fid == {"a": 20.0, "b": 25.0} and c.kid["b"] == (0.03, 0.001)
    assert c.agreement()["pairwise_agreement_fid"] == 1.0
    with pytest.raises(KeyError, match="has not scored"):
        inception_check(Scorer(), ["a", "c"], np.zeros((4, 1, 28, 28)), n=300, offline="net", seed=0)


def test_the_chapter_section_reads_the_check_or_says_it_was_skipped():
    metrics, text = inception_section(Scorer(), ["a", "b"], np.zeros((4, 1, 28, 28)), n=300, offline="net", seed=0)
    assert metrics["a.fid_inception"] == 20.0 and metrics["inception_check.pairwise_agreement_fid"] == 1.0
    assert "| a | 5.00 | 20.00 |" in text and "2 models" in text
    assert inception_section(Scorer(), ["a"], np.zeros((4, 1, 28, 28)), n=0, offline="net", seed=0) == \
        ({}, "Inception check skipped (`inception_samples=0`).")


class Saved:
    """What FID∞ reads of a scorer: the saved uint8 samples of each model."""

    def __init__(self, rng):
        self.kept = 64
        self.saved = {m: (rng.random((64, 1, 4, 4)) * 255 * scale).astype(np.uint8) for m, scale in (("a", 1.0), ("b", 0.5))}


def test_fid_infinity_reuses_the_checks_features_and_equals_the_estimator_on_the_same_features():
    from twostep.core.seeds import stage_seed
    from twostep.evaluation.fid_infinity import fid_infinity
    from twostep.experiments.inception_check import _as_saved, _infinity

    rng = np.random.default_rng(0)
    scorer, real = Saved(rng), rng.random((100, 1, 4, 4))
    seen = []

    def net(images):  # a stand-in feature network: the pixels, counting the images it maps
        seen.append(len(images))
        return images.reshape(len(images), -1).astype(np.float64)

    first = {"a": net(scorer.saved["a"][:20].astype(np.float32) / 255)}
    seen.clear()
    fits = _infinity(net, scorer, ["a", "b"], real, 48, seed=3, first=first)
    assert seen == [48, 28, 48]  # the real images, a's samples after the 20 the check mapped, all of b's
    chosen = np.sort(np.random.default_rng(stage_seed(3, "fid infinity")).choice(100, 48, replace=False))
    real_features = _as_saved(real[chosen]).reshape(48, -1)
    for index, m in enumerate(["a", "b"]):
        samples = scorer.saved[m][:48].astype(np.float32).reshape(48, -1) / 255
        assert fits[m] == fid_infinity(samples, real_features, seed=stage_seed(3, "fid infinity", index + 1))
    assert fits["b"].value > fits["a"].value  # b's samples are darker than the real images
    c = check([1.0, 2.0], [10.0, 20.0])
    c.infinity = {"m0": fits["a"], "m1": fits["b"]}
    assert c.metrics()["m1.fid_infinity_inception"] == fits["b"].value and "FID∞" in c.table()
