"""One contract per role, checked on every implementation (as scikit-learn's
``parametrize_with_checks`` does): every prior, every autoencoder, and the two-step pipeline over them."""

import numpy as np
import pytest
import torch

from twostep.autoencoders import (
    MLPVAE,
    AudioConvVAE,
    ConvVAE,
    GeneratorAutoencoder,
    PCAAutoencoder,
)
from twostep.nn.gan import MLPGenerator
from twostep.pipeline import TwoStepModel
from twostep.priors import (
    BayesianGMMPrior,
    FlowPrior,
    GMMPrior,
    GRUPrior,
    HMMPrior,
    KDEPrior,
    StandardNormalPrior,
    TwoStageVAEPrior,
    WGANGPPrior,
)

PRIORS = {
    "normal": lambda: StandardNormalPrior(),
    "gmm-diag": lambda: GMMPrior(3, "diag", random_state=0),
    "gmm-full": lambda: GMMPrior(3, "full", random_state=0),
    "hmm": lambda: HMMPrior(3, n_iter=5, random_state=0),
    "wgan-gp": lambda: WGANGPPrior(hidden=16, layers=2, iterations=20, batch_size=32, progress=False),
    "bayesian-gmm": lambda: BayesianGMMPrior(6, "diag", random_state=0),
    "kde": lambda: KDEPrior(),
    "flow": lambda: FlowPrior(transforms=2, hidden=16, max_epochs=3, progress=False),
    "two-stage-vae": lambda: TwoStageVAEPrior(hidden=16, max_epochs=3, progress=False),
    "gru": lambda: GRUPrior(hidden=8, chunk=25, max_epochs=2, progress=False),
}
LENGTHS = [150, 100, 50]


def codes(seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[-3.0, 0.0, 1.0], [3.0, 1.0, -1.0], [0.0, 4.0, 0.0]])
    return centres[rng.integers(0, 3, 300)] + 0.3 * rng.standard_normal((300, 3))


@pytest.mark.parametrize("name", sorted(PRIORS))
def test_prior_contract(name):
    prior = PRIORS[name]()
    assert not [a for a in vars(prior) if a.endswith("_") and not a.startswith("_")], "nothing fitted before fit"
    if not isinstance(prior, StandardNormalPrior):
        with pytest.raises(RuntimeError, match="not fitted"):
            prior.sample(3, seed=0)
    before = set(vars(prior))
    x = codes()
    x_copy = x.copy()
    assert prior.fit(x, LENGTHS) is prior, "fit returns self (every prior takes the sequences' lengths)"
    np.testing.assert_array_equal(x, x_copy)  # fit leaves its input alone
    fitted = set(vars(prior)) - before
    assert fitted and all(a.endswith("_") for a in fitted), f"fitted attributes end in '_': {fitted}"
    assert prior.dim_ == 3
    # one seed rule for all: an integer seed repeats its draws, another seed or None draws anew
    a, b, c = prior.sample(40, seed=1), prior.sample(40, seed=1), prior.sample(40, seed=2)
    assert a.shape == (40, 3) and np.isfinite(a).all()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(prior.sample(40), prior.sample(40))
    if prior.has_log_prob:
        per_sequence = prior.log_prob(x, LENGTHS)  # one log-density per sequence, whatever the prior
        assert per_sequence.shape == (len(LENGTHS),) and np.isfinite(per_sequence).all()
        if not prior.sequential:  # independent rows: one per row, and a sequence's is the sum of its rows'
            rows = prior.log_prob(x)
            assert rows.shape == (300,)
            np.testing.assert_allclose(per_sequence, [rows[:150].sum(), rows[150:250].sum(), rows[250:].sum()])
    else:
        with pytest.raises(NotImplementedError):
            prior.log_prob(x)
    with pytest.raises(ValueError, match="lengths must be positive and sum to the 300 frames"):
        PRIORS[name]().fit(x, [100, 100])
    with pytest.raises(ValueError, match="NaN"):
        bad = x.copy()
        bad[0, 0] = np.nan
        PRIORS[name]().fit(bad, LENGTHS)


@pytest.mark.parametrize("name", sorted(PRIORS))
def test_prior_state_dict_round_trip(name, tmp_path):
    """A fitted prior's state, saved as torch saves weights (``weights_only``) and loaded into a
    fresh unfitted prior, gives the same draws and densities: what lets the model cache store any prior."""
    prior = PRIORS[name]().fit(codes(), LENGTHS)
    state = prior.state_dict()
    assert state and all(isinstance(v, torch.Tensor) for v in state.values())
    torch.save(state, tmp_path / "prior.pt")
    loaded = PRIORS[name]().load_state_dict(torch.load(tmp_path / "prior.pt", weights_only=True))
    assert loaded.dim_ == prior.dim_ == 3
    np.testing.assert_array_equal(loaded.sample(50, seed=3), prior.sample(50, seed=3))
    if prior.has_log_prob:
        x = codes(1)
        np.testing.assert_array_equal(loaded.log_prob(x, LENGTHS), prior.log_prob(x, LENGTHS))
    with pytest.raises(RuntimeError, match="not fitted"):
        PRIORS[name]().state_dict()
    with pytest.raises(KeyError, match="load_state_dict: the state has no"):
        PRIORS[name]().load_state_dict({})


def mlp_vae():
    return MLPVAE(36, 3, (16,), output="sigmoid"), np.random.default_rng(0).random((64, 36)).astype(np.float32)


def conv_vae():
    return ConvVAE((1, 16, 16), 3, width=4, depth=2), np.random.default_rng(0).random((32, 1, 16, 16)).astype(np.float32) * 2 - 1


def audio_vae():
    return AudioConvVAE(64, 3, channels=(2, 2), kernel=8), np.random.default_rng(0).standard_normal((48, 64)).astype(np.float32)


def pca():
    return PCAAutoencoder(3), np.random.default_rng(0).random((40, 36)).astype(np.float32)


def generator_autoencoder():
    torch.manual_seed(0)
    encoder = torch.nn.Sequential(torch.nn.Linear(36, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))
    return GeneratorAutoencoder(encoder, MLPGenerator(3, 16, 36)), np.random.default_rng(0).random((64, 36)).astype(np.float32)


AUTOENCODERS = {f.__name__: f for f in (mlp_vae, conv_vae, audio_vae, pca, generator_autoencoder)}


@pytest.mark.parametrize("name", sorted(AUTOENCODERS))
def test_autoencoder_contract(name):
    torch.manual_seed(0)
    model, x = AUTOENCODERS[name]()
    assert model.fit(x, epochs=1, batch_size=16, device="cpu", progress=False) is model
    assert isinstance(model.latent_dim, int) and model.latent_dim == 3
    h = model.encode(x)
    assert h.shape == (len(x), 3) and np.isfinite(h).all()
    np.testing.assert_array_equal(h, model.encode(x))  # codes are deterministic (encoder means)
    x_hat = np.asarray(model.decode(h))
    assert len(x_hat) == len(x) and x_hat[0].size == x[0].size and np.isfinite(x_hat).all()
    # the pipeline serves every autoencoder with every prior: fit step 2, sample, decode
    for prior_name in ("gmm-diag", "normal"):
        two_step = TwoStepModel(model, PRIORS[prior_name]()).fit(x, train_autoencoder=False)
        samples = two_step.sample(5, seed=0)
        assert len(samples) == 5 and samples[0].size == x[0].size


def test_pipeline_fits_a_sequence_prior_with_lengths():
    model, x = audio_vae()
    model.fit(x, epochs=1, batch_size=16, device="cpu", progress=False)
    two_step = TwoStepModel(model, HMMPrior(2, n_iter=3)).fit(x, lengths=[20, 28], train_autoencoder=False)
    assert two_step.lengths_ == [20, 28] and two_step.prior.dim_ == 3
    assert two_step.sample(7, seed=0).shape == (7, 64)
    other = two_step.with_prior(HMMPrior(3, n_iter=3))
    assert other.prior.dim_ == 3 and other.lengths_ == [20, 28]
