import numpy as np

from twostep.evaluation.samples import grid_mode_metrics
from twostep.pipeline import TwoStepModel
from twostep.priors import GMMPrior, StandardNormalPrior


class Whitening:
    """A tiny linear autoencoder (standardise, then scale back) standing in for step 1."""

    def fit(self, data):
        self.mean_, self.std_ = data.mean(0), data.std(0)
        self.calls_ = getattr(self, "calls_", 0) + 1
        return self

    def encode(self, x):
        self.encoded_ = getattr(self, "encoded_", 0) + 1
        return (np.asarray(x) - self.mean_) / self.std_

    def decode(self, h):
        return np.asarray(h) * self.std_ + self.mean_


def three_clusters(seed=0, n=900):
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [6.0, 0.0], [3.0, 5.0]])
    return centres[rng.integers(0, 3, n)] + 0.2 * rng.standard_normal((n, 2)), centres


def test_two_step_gmm_prior_recovers_clusters_that_a_normal_prior_smears():
    data, centres = three_clusters()
    normal = TwoStepModel(Whitening(), StandardNormalPrior()).fit(data)
    gmm = normal.with_prior(GMMPrior(3, "full", n_init=3, random_state=0))
    m_normal = grid_mode_metrics(normal.sample(3000, seed=1), centres, 0.2)
    m_gmm = grid_mode_metrics(gmm.sample(3000, seed=1), centres, 0.2)
    assert m_gmm["modes_covered"] == 3 and m_gmm["high_quality_fraction"] > 0.95
    assert m_normal["high_quality_fraction"] < 0.5


def test_with_prior_reuses_step_one():
    data, _ = three_clusters()
    ae = Whitening()
    first = TwoStepModel(ae, StandardNormalPrior()).fit(data)
    second = first.with_prior(GMMPrior(3, random_state=0))
    assert ae.calls_ == 1 and ae.encoded_ == 1
    np.testing.assert_array_equal(second.codes_, first.codes_)
    assert second.autoencoder is ae
    refit = TwoStepModel(ae, GMMPrior(2, random_state=0)).fit(data, train_autoencoder=False)
    assert ae.calls_ == 1 and refit.prior.dim_ == 2
    assert refit.sample(10, seed=0).shape == (10, 2)
