import numpy as np
import pytest
import torch
from torch import nn

from twostep.autoencoders import GeneratorAutoencoder, train_encoder
from twostep.evaluation.samples import grid_mode_metrics
from twostep.nn.gan import GatedGenerator, MLPGenerator, critic_mlp, gradient_penalty
from twostep.pipeline import TwoStepModel
from twostep.priors import GMMPrior, WGANGPPrior


def test_gradient_penalty_of_a_linear_critic_is_closed_form():
    critic = nn.Linear(3, 1)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[3.0, 0.0, 4.0]]))  # gradient norm 5 everywhere
    real, fake = torch.randn(16, 3), torch.randn(16, 3)
    assert gradient_penalty(critic, real, fake).item() == pytest.approx((5 - 1) ** 2)


def test_gated_generator_interpolates_between_noise_and_proposal():
    gen = GatedGenerator(2, hidden=8, layers=1)
    z = torch.randn(5, 2)
    gate_logits, dz = gen.net(z).chunk(2, dim=-1)
    g = torch.sigmoid(gate_logits)
    torch.testing.assert_close(gen(z), (1 - g) * z + g * dz)
    with torch.no_grad():  # a gate shut by a large negative bias returns the noise itself
        gen.net[-1].bias[:2] = -50.0
    torch.testing.assert_close(gen(z), z, atol=1e-5, rtol=0)


def test_wgan_gp_prior_learns_a_multimodal_code_distribution():
    rng = np.random.default_rng(0)
    centres = np.array([[-3.0, -3.0], [3.0, 3.0], [-3.0, 3.0], [3.0, -3.0]])
    codes = centres[rng.integers(0, 4, 2000)] + 0.2 * rng.standard_normal((2000, 2))
    prior = WGANGPPrior(hidden=64, layers=2, iterations=600, batch_size=128, lr=1e-3, random_state=0, progress=False).fit(codes)
    s = prior.sample(2000, seed=1)
    assert s.shape == (2000, 2)
    np.testing.assert_array_equal(s, prior.sample(2000, seed=1))
    m = grid_mode_metrics(s, centres, 0.2, n_std=4)
    assert m["modes_covered"] == 4
    n = grid_mode_metrics(rng.standard_normal((2000, 2)) * 3, centres, 0.2, n_std=4)
    assert m["high_quality_fraction"] > 2 * n["high_quality_fraction"]
    with pytest.raises(NotImplementedError):
        prior.log_prob(codes)


def test_encoder_fits_a_frozen_generator_and_feeds_a_gmm():
    torch.manual_seed(0)
    gen = MLPGenerator(noise_dim=3, hidden=16, out_dim=10)
    with torch.no_grad():
        images = gen(torch.randn(400, 3)).numpy()
    before = [p.detach().clone() for p in gen.parameters()]
    encoder = nn.Sequential(nn.Linear(10, 32), nn.Tanh(), nn.Linear(32, 3))
    hist = train_encoder(encoder, gen, images, epochs=60, batch_size=64, lr=3e-3, progress=False)
    assert hist[-1] < 0.2 * hist[0]
    assert all(torch.equal(a, b) for a, b in zip(before, gen.parameters()))  # G is frozen
    model = TwoStepModel(GeneratorAutoencoder(encoder, gen), GMMPrior(3, "full", random_state=0)).fit(
        images, train_autoencoder=False
    )
    assert model.sample(7, seed=0).shape == (7, 10)


def test_critic_has_no_normalisation_layers():
    critic = critic_mlp(5, 8, 3)
    assert not any(isinstance(m, (nn.BatchNorm1d, nn.LayerNorm)) for m in critic.modules())
    assert critic(torch.zeros(2, 5)).shape == (2, 1)
