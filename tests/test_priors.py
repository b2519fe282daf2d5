import numpy as np
import pytest
from scipy.stats import multivariate_normal
from sklearn.mixture import GaussianMixture

from twostep.core import ParameterError
from twostep.priors import GMMPrior, StandardNormalPrior


def clustered_codes(seed=0, n=600):
    rng = np.random.default_rng(seed)
    centres = np.array([[-4.0, 0.0, 1.0], [4.0, 1.0, -1.0], [0.0, 5.0, 0.0]])
    labels = rng.integers(0, 3, n)
    return centres[labels] + 0.3 * rng.standard_normal((n, 3)), centres


def test_standard_normal_log_prob_matches_scipy():
    prior = StandardNormalPrior().fit(np.zeros((4, 3)))
    x = np.random.default_rng(0).standard_normal((5, 3))
    np.testing.assert_allclose(prior.log_prob(x), multivariate_normal(np.zeros(3), np.eye(3)).logpdf(x))
    s = prior.sample(20000, seed=1)
    assert s.shape == (20000, 3)
    np.testing.assert_allclose(s.mean(0), 0, atol=0.03)
    np.testing.assert_allclose(np.cov(s.T), np.eye(3), atol=0.05)


def test_unfitted_prior_refuses_to_sample():
    with pytest.raises(RuntimeError, match="not fitted"):
        GMMPrior(2).sample(3)


@pytest.mark.parametrize("cov", ["diag", "full", "spherical", "tied"])
def test_gmm_log_prob_equals_sklearn_and_sampling_matches_moments(cov):
    codes, centres = clustered_codes()
    prior = GMMPrior(3, cov, n_init=2, random_state=0).fit(codes)
    reference = GaussianMixture(3, covariance_type=cov, n_init=2, random_state=0, init_params="k-means++").fit(codes)
    np.testing.assert_allclose(prior.log_prob(codes[:50]), reference.score_samples(codes[:50]), rtol=1e-10)
    s = prior.sample(30000, seed=3)
    assert s.shape == (30000, 3)
    mixture_mean = prior.weights_ @ prior.means_
    np.testing.assert_allclose(s.mean(0), mixture_mean, atol=0.06)
    # samples are not grouped by component (scikit-learn's sample() returns them sorted)
    first = prior.predict(s[:300])
    assert len(set(first[:100])) > 1
    if cov == "tied":  # scikit-learn's tied fit merges these clusters; the equality above is what we own
        return
    # the fit recovers the cluster centres
    found = prior.means_[np.argsort(prior.means_[:, 0])]
    np.testing.assert_allclose(found, centres[np.argsort(centres[:, 0])], atol=0.1)


def test_gmm_sampling_is_seeded_and_batches_differ():
    codes, _ = clustered_codes()
    prior = GMMPrior(3, random_state=0).fit(codes)
    np.testing.assert_array_equal(prior.sample(50, seed=4), prior.sample(50, seed=4))
    assert not np.array_equal(prior.sample(50, seed=4), prior.sample(50, seed=5))


@pytest.mark.parametrize("cov", ["diag", "full"])
def test_from_params_reproduces_a_known_mixture(cov):
    weights = np.array([0.2, 0.8])
    means = np.array([[0.0, 1.0], [3.0, -1.0]])
    variances = np.array([[0.5, 2.0], [1.5, 0.3]])
    covs = variances if cov == "diag" else np.stack([np.diag(v) + [[0, 0.2], [0.2, 0]] for v in variances])
    prior = GMMPrior.from_params(weights, means, covs, cov)
    x = np.random.default_rng(0).standard_normal((6, 2))
    full = covs if cov == "full" else np.stack([np.diag(v) for v in variances])
    expected = np.log(sum(w * multivariate_normal(m, c).pdf(x) for w, m, c in zip(weights, means, full)))
    np.testing.assert_allclose(prior.log_prob(x), expected, rtol=1e-10)
    s = prior.sample(50000, seed=0)
    np.testing.assert_allclose(s.mean(0), weights @ means, atol=0.03)


def test_gmm_parameters_are_validated():
    with pytest.raises(ParameterError, match="n_components=0"):
        GMMPrior(0)
    with pytest.raises(ParameterError, match="covariance_type='bogus'"):
        GMMPrior(2, "bogus")
    with pytest.raises(ValueError, match="more than the 2 codes"):
        GMMPrior(5).fit(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="NaN"):
        GMMPrior(1).fit(np.full((4, 2), np.nan))


def _blobs(n=600, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[-4.0, 0.0], [4.0, 0.0], [0.0, 5.0]])
    return centres[rng.integers(0, 3, n)] + 0.5 * rng.standard_normal((n, 2))


def test_kde_prior_density_is_the_mean_of_gaussian_kernels_and_its_bandwidth_is_chosen_on_held_out_codes():
    from scipy.special import logsumexp

    from twostep.priors import KDEPrior

    x = _blobs()
    kde = KDEPrior(bandwidths=(0.01, 0.1, 0.3, 3.0)).fit(x)
    assert kde.bandwidth_ == max(kde.validation_loglik_, key=kde.validation_loglik_.get)
    assert kde.bandwidth_ not in (0.01, 3.0)  # both extremes fit held-out codes worse
    # independent computation: log mean_i N(y; x_i, diag((h s)^2))
    y = _blobs(5, seed=1)
    sd = kde.bandwidth_ * x.std(0)
    terms = -0.5 * (((y[:, None, :] - x[None]) / sd) ** 2).sum(-1) - np.log(2 * np.pi * sd.prod())
    np.testing.assert_allclose(kde.log_prob(y), logsumexp(terms, axis=1) - np.log(len(x)), rtol=1e-8)


def test_dirichlet_process_gmm_switches_off_the_components_it_does_not_need():
    from twostep.priors import BayesianGMMPrior

    prior = BayesianGMMPrior(10, "full", weight_concentration_prior=1e-3).fit(_blobs())
    assert prior.active_components_ == 3
    assert prior.sample(300, seed=0).shape == (300, 2)


def test_flow_prior_learns_a_gaussian_and_stops_early():
    from twostep.priors import FlowPrior

    rng = np.random.default_rng(0)
    cov = np.array([[2.0, 1.2], [1.2, 1.0]])
    x = rng.multivariate_normal([1.0, -2.0], cov, 2000)
    flow = FlowPrior(transforms=2, hidden=16, max_epochs=300, patience=3, progress=False).fit(x)
    assert flow.epochs_ < 300 and flow.history_.best_epoch == int(np.argmin(flow.history_.validation))
    held = rng.multivariate_normal([1.0, -2.0], cov, 2000)
    true = multivariate_normal([1.0, -2.0], cov).logpdf(held).mean()
    assert abs(flow.log_prob(held).mean() - true) < 0.05  # nats per code
    s = flow.sample(4000, seed=0)
    np.testing.assert_allclose(np.cov(s, rowvar=False), cov, atol=0.15)


def test_two_stage_vae_prior_reproduces_the_codes_moments():
    from twostep.priors import TwoStageVAEPrior

    x = _blobs(2000)
    prior = TwoStageVAEPrior(hidden=64, max_epochs=40, patience=10, batch_size=128, progress=False).fit(x)
    s = prior.sample(3000, seed=0)
    # a collapsed second stage (decoder ignoring z) would give a spread of about a tenth of the codes'
    np.testing.assert_allclose(s.mean(0), x.mean(0), atol=0.5)
    np.testing.assert_allclose(s.std(0), x.std(0), rtol=0.3)
    assert prior.model_.log_gamma.exp().item() < 0.2  # gamma shrinks, as Dai & Wipf's analysis predicts


def test_gru_prior_learns_an_autoregressive_process_that_a_time_blind_gaussian_cannot():
    from scipy.stats import norm

    from twostep.priors import GRUPrior

    def ar1(n_seq, seed):  # x_t = 0.9 x_(t-1) + 0.3 e_t, from x_(-1) = 0
        rng = np.random.default_rng(seed)
        x = np.zeros((n_seq, 100, 2))
        for t in range(100):
            x[:, t] = (0.9 * x[:, t - 1] if t else 0.0) + 0.3 * rng.standard_normal((n_seq, 2))
        return x

    train, test = ar1(40, 0), ar1(5, 1)
    gru = GRUPrior(hidden=16, chunk=50, max_epochs=150, patience=10, lr=1e-2, progress=False).fit(list(train))
    true = sum(norm(0.9 * np.concatenate([np.zeros((1, 2)), s[:-1]]), 0.3).logpdf(s).sum() for s in test)
    per_frame = gru.log_prob(list(test)).sum() / (5 * 100)
    assert abs(per_frame - true / 500) < 0.1  # nats per frame
    blind = multivariate_normal(train.reshape(-1, 2).mean(0), np.cov(train.reshape(-1, 2), rowvar=False))
    assert per_frame > blind.logpdf(test.reshape(-1, 2)).mean() + 0.5
    s = gru.sample(400, seed=0)
    assert abs(np.corrcoef(s[1:, 0], s[:-1, 0])[0, 1] - 0.9) < 0.1  # samples keep the lag-1 correlation
