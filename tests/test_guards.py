"""Every fit and training loop fails loudly on non-finite values (issue: the clarinet chapter ran on
with a NaN HMM), and the HMM fit survives states that lose their data."""

import logging
import warnings

import numpy as np
import pytest
import torch
from hmmlearn.hmm import GaussianHMM
from torch import nn

from twostep.autoencoders import MLPVAE
from twostep.core import NonFiniteError, check_finite, check_module_finite
from twostep.joint import JointHMMVAE
from twostep.nn.gan import critic_mlp, train_wgan_gp
from twostep.nn.training import train_model
from twostep.priors import GMMPrior, HMMPrior, WGANGPPrior


def heavy_tailed_frames(seed=0, n=60, d=20):
    """Few heavy-tailed frames for many states: Baum-Welch starves states of data."""
    rng = np.random.default_rng(seed)
    return rng.standard_t(2, (n, d)) * rng.gamma(1, 1, d)


def test_check_finite_names_the_model_the_step_and_the_values():
    check_finite("m", "step 1", {"a": 1.0, "b": np.ones(3), "c": torch.zeros(2)})
    with pytest.raises(NonFiniteError, match=r"^m: non-finite b \(2 of 3 values\), c \(= inf\) at step 4\. try this$"):
        check_finite("m", "step 4", {"a": 0.0, "b": [np.nan, 1.0, np.inf], "c": float("inf")}, hint="try this")
    net = nn.Linear(2, 2)
    with torch.no_grad():
        net.bias[0] = float("nan")
    with pytest.raises(NonFiniteError, match=r"non-finite parameter bias \(1 of 2 values\) at epoch 3"):
        check_module_finite("net", "epoch 3", net)


def test_plain_hmmlearn_ends_with_nan_on_starved_states_and_hmm_prior_reseeds_them():
    """The dead-state condition of the clarinet chapter at seed 1, on 60 frames and 10 states."""
    x = heavy_tailed_frames()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("hmmlearn").disabled = True
        try:
            plain = GaussianHMM(10, covariance_type="diag", n_iter=20, tol=1e-6, min_covar=1e-3, random_state=0)
            plain.fit(x, [30, 30])
        finally:
            logging.getLogger("hmmlearn").disabled = False
    assert not np.isfinite(plain.means_).all(), "the reproduction no longer reproduces the dead state"
    assert plain.monitor_.converged, "hmmlearn calls the NaN model converged"

    prior = HMMPrior(10, n_iter=20, tol=1e-6, random_state=0).fit(x, [30, 30])
    assert prior.n_reseeded_ >= 1
    for name in ("startprob_", "transmat_", "means_", "_covars_"):
        assert np.isfinite(getattr(prior.model_, name)).all(), name
    np.testing.assert_allclose(prior.model_.transmat_.sum(1), 1.0)
    scores = prior.log_prob(x, [30, 30])
    assert scores.shape == (2,) and np.isfinite(scores).all()
    # every state is in use again: each explains at least a fraction of a frame
    posteriors = prior.model_.predict_proba(x, [30, 30])
    assert posteriors.sum(0).min() > 1e-3
    assert np.isfinite(prior.sample(50, seed=1)).all()
    # and the fit beats hmmlearn's own starting point (k-means means, uniform transitions)
    start = GaussianHMM(10, covariance_type="diag", n_iter=1, min_covar=1e-3, random_state=0, params="").fit(x, [30, 30])
    assert scores.sum() > start.score(x, [30, 30])


def test_without_reseeding_the_nan_stops_the_fit_naming_the_em_iteration():
    with pytest.raises(NonFiniteError, match=r"HMMPrior\(n_states=10\): non-finite means_ .* at EM iteration \d+ of 20"):
        HMMPrior(10, n_iter=20, tol=1e-6, random_state=0, min_state_frames=0.0).fit(heavy_tailed_frames(), [30, 30])


def test_hmm_reaching_n_iter_is_not_converged_and_a_fit_without_dead_states_is_hmmlearns():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(m, 0.5, (40, 2)) for m in (-3, 0, 3)])
    prior = HMMPrior(3, n_iter=2, tol=1e-9, random_state=0).fit(x)
    assert prior.n_iter_ == 2 and not prior.converged_
    converged = HMMPrior(3, n_iter=200, tol=1e-2, random_state=0).fit(x)
    assert converged.converged_ and converged.n_iter_ < 200 and converged.n_reseeded_ == 0
    plain = GaussianHMM(3, covariance_type="diag", n_iter=200, tol=1e-2, min_covar=1e-3, random_state=0,
                        implementation="scaling").fit(x)
    np.testing.assert_array_equal(converged.model_.means_, plain.means_)
    np.testing.assert_array_equal(converged.model_.transmat_, plain.transmat_)


def test_hmm_prior_takes_one_array_with_lengths_or_a_list_of_sequences():
    x = heavy_tailed_frames(n=40, d=3)
    a = HMMPrior(2, n_iter=5, random_state=0).fit(x, [15, 25])
    b = HMMPrior(2, n_iter=5, random_state=0).fit([x[:15], x[15:]])
    np.testing.assert_array_equal(a.model_.means_, b.model_.means_)
    np.testing.assert_array_equal(a.log_prob(x, [15, 25]), b.log_prob([x[:15], x[15:]]))
    with pytest.raises(ValueError, match="sum to the 40 frames"):
        HMMPrior(2).fit(x, [10, 10])
    with pytest.raises(ValueError, match="NaN"):
        HMMPrior(2).fit(np.full((10, 2), np.nan))


def test_hmm_from_non_finite_parameters_raises():
    with pytest.raises(NonFiniteError, match=r"HMMPrior\(n_states=2\): non-finite means \(1 of 4 values\)"):
        HMMPrior.from_params([0.5, 0.5], np.full((2, 2), 0.5), [[0.0, np.nan], [1.0, 1.0]], np.ones((2, 2)))


def test_gmm_on_collapsed_codes_raises_naming_the_model():
    codes = np.repeat(np.random.default_rng(0).normal(size=(2, 3)), 20, axis=0)  # two points, 20 copies each
    with pytest.raises(NonFiniteError, match=r"GMMPrior\(n_components=4, covariance_type='full'\): EM failed on 40 codes"):
        GMMPrior(4, "full", reg_covar=0.0).fit(codes)
    with pytest.raises(NonFiniteError, match=r"GMMPrior\(n_components=2, covariance_type='diag'\): non-finite weights"):
        GMMPrior.from_params([np.nan, 0.5], np.zeros((2, 3)), np.ones((2, 3)))


def test_a_nan_loss_stops_training_before_the_step_naming_model_epoch_and_batch():
    model = nn.Linear(3, 1)
    before = [p.detach().clone() for p in model.parameters()]
    calls = []

    def loss(x):
        calls.append(1)
        out = model(x).pow(2).mean()
        return out * float("nan") if len(calls) == 5 else out  # the 5th batch: epoch 2, batch 1

    data = np.random.default_rng(0).normal(size=(16, 3)).astype(np.float32)
    with pytest.raises(NonFiniteError, match=r"^toy: non-finite loss \(= nan\) at epoch 2 of 3, batch 1\. "):
        train_model(model, loss, data, epochs=3, batch_size=4, lr=1e-2, device="cpu", progress=False, desc="toy")
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters())), "epoch 1 trained"


def test_parameters_that_become_infinite_stop_training_at_the_end_of_the_epoch():
    model = nn.Linear(2, 1)
    calls = []

    def loss(x):  # a finite loss, while the weight (outside the graph) is overwritten with inf
        calls.append(1)
        if len(calls) == 2:  # epoch 1, batch 2
            with torch.no_grad():
                model.weight.fill_(float("inf"))
        return 0.0 * model.bias.sum()

    with pytest.raises(NonFiniteError, match=r"^toy: non-finite parameter weight \(2 of 2 values\) at the end of epoch 1 of 2"):
        train_model(model, loss, np.zeros((4, 2), np.float32), epochs=2, batch_size=2, device="cpu",
                    progress=False, desc="toy")


def test_joint_hmm_vae_with_a_nan_hmm_fails_at_its_first_batch():
    vae = MLPVAE(4, 2, (8,))
    joint = JointHMMVAE.random_init(vae, 3, seed=0)
    with torch.no_grad():
        joint.means[0, 0] = float("nan")
    chunks = np.random.default_rng(0).normal(size=(6, 5, 4)).astype(np.float32)
    with pytest.raises(NonFiniteError, match=r"^joint: non-finite loss \(= nan\) at epoch 1 of 2, batch 1"):
        train_model(joint, joint.loss, chunks, epochs=2, batch_size=3, device="cpu", progress=False, desc="joint")


def test_wgan_gp_with_a_diverging_learning_rate_stops_naming_the_iteration():
    torch.manual_seed(0)
    codes = np.random.default_rng(0).normal(size=(64, 2)).astype(np.float32)
    gen, critic = nn.Linear(2, 2), critic_mlp(2, 8, 1)
    with torch.no_grad():
        gen.weight.fill_(float("nan"))
    with pytest.raises(NonFiniteError, match=r"^WGAN-GP: non-finite .*Wasserstein estimate.* at iteration 1 of 5"):
        train_wgan_gp(gen, critic, codes, lambda n, g: torch.randn((n, 2), generator=g), iterations=5,
                      batch_size=16, device="cpu", progress=False)
    with pytest.raises(NonFiniteError, match=r"^WGAN-GP prior: non-finite"):
        WGANGPPrior(hidden=8, layers=1, iterations=3, batch_size=16, lr=1e30, progress=False).fit(codes * 1e30)
