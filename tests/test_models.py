import math

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from twostep.autoencoders import MLPVAE, Autoencoder, train_vae
from twostep.autoencoders.base import (
    BERNOULLI_CLAMP,
    log_likelihood,
    reconstruction_loss,
)
from twostep.core import ParameterError
from twostep.data import make_grid_gaussians
from twostep.evaluation.likelihood import importance_log_likelihood
from twostep.nn.layers import gaussian_kl_standard
from twostep.priors import GMMPrior, StandardNormalPrior


def test_observation_models_match_torch_distributions():
    g = torch.Generator().manual_seed(0)
    x, x_hat = torch.randn(4, 6, generator=g), torch.randn(4, 6, generator=g)
    lap = torch.distributions.Laplace(x_hat, 0.1).log_prob(x).sum(-1)
    torch.testing.assert_close(log_likelihood(x, x_hat, "laplace", 0.1), lap)
    gau = torch.distributions.Normal(x_hat, 0.3).log_prob(x).sum(-1)
    torch.testing.assert_close(log_likelihood(x, x_hat, "gaussian", 0.3), gau)
    p, b = torch.rand(4, 6, generator=g) * 0.9 + 0.05, (torch.rand(4, 6, generator=g) > 0.5).float()
    ber = torch.distributions.Bernoulli(probs=p).log_prob(b).sum(-1)
    torch.testing.assert_close(log_likelihood(b, p, "bernoulli", 1.0), ber)


def test_bernoulli_loss_and_gradient_equal_torch_binary_cross_entropy(shared_data):
    # reconstruction_loss computes BCE by hand (half the cost); torch's binary_cross_entropy of the
    # same clamped means is the reference, on real grey-level MNIST targets and means that include
    # exact 0 and 1 (where the clamp holds and the gradient is zero)
    from twostep.data import load_mnist

    x = torch.as_tensor(load_mnist(train=False)[0][:64])
    g = torch.Generator().manual_seed(0)
    p = torch.sigmoid(4 * torch.randn(64, 784, generator=g))
    p[:, :20], p[:, 20:40] = 0.0, 1.0
    assert ((x > 0) & (x < 1)).any()  # grey levels, not only binary pixels
    ours, ref = p.clone().requires_grad_(), p.clone().requires_grad_()
    loss = reconstruction_loss(x, ours, "bernoulli")
    clamped = ref.clamp(BERNOULLI_CLAMP, 1 - BERNOULLI_CLAMP)
    expected = torch.nn.functional.binary_cross_entropy(clamped, x, reduction="none").sum(-1)
    torch.testing.assert_close(loss, expected, rtol=1e-6, atol=1e-3)
    loss.sum().backward()
    expected.sum().backward()
    torch.testing.assert_close(ours.grad, ref.grad, rtol=1e-4, atol=1e-6)
    assert (ours.grad[:, :40] == 0).all()


def test_l1_plus_beta_kl_is_a_scaled_laplace_elbo():
    # L1 + beta*KL = -beta * (log Laplace(x | x_hat, beta) + (-KL)) + const
    g = torch.Generator().manual_seed(1)
    x, x_hat = torch.randn(3, 2, generator=g), torch.randn(3, 2, generator=g)
    mu, logvar = torch.randn(3, 5, generator=g), torch.randn(3, 5, generator=g)
    beta = 0.1
    loss = reconstruction_loss(x, x_hat, "laplace") + beta * gaussian_kl_standard(mu, logvar)
    neg_elbo = -(log_likelihood(x, x_hat, "laplace", beta) - gaussian_kl_standard(mu, logvar))
    torch.testing.assert_close(loss, beta * neg_elbo - beta * 2 * math.log(2 * beta))


def test_kl_matches_torch_distributions():
    mu, logvar = torch.randn(5, 3), torch.randn(5, 3)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros(3), torch.ones(3))
    torch.testing.assert_close(gaussian_kl_standard(mu, logvar), torch.distributions.kl_divergence(q, p).sum(-1))


def test_vae_shapes_and_parameter_checks():
    vae = MLPVAE(2, 5, (16,))
    codes = vae.encode(np.zeros((7, 2), dtype=np.float32))
    assert codes.shape == (7, 5)
    assert vae.decode(codes).shape == (7, 2)
    with pytest.raises(ParameterError, match="likelihood='poisson'"):
        MLPVAE(2, 5, likelihood="poisson")
    with pytest.raises(ParameterError, match="latent_dim=0"):
        MLPVAE(2, 0)


def test_vae_training_reduces_loss_and_is_deterministic():
    data = make_grid_gaussians(20, 2, 2, seed=0).train

    def run():
        torch.manual_seed(0)
        vae = MLPVAE(2, 3, (32,), beta=0.1)
        history = train_vae(vae, data, epochs=60, batch_size=64, lr=1e-3, seed=0, progress=False)
        return vae, history

    vae_a, hist_a = run()
    vae_b, hist_b = run()
    assert hist_a[-1] < 0.6 * hist_a[0]
    assert hist_a == hist_b
    for pa, pb in zip(vae_a.parameters(), vae_b.parameters()):
        assert torch.equal(pa, pb)


class LinearGaussianAE(Autoencoder):
    """x = W h + b + noise: p(x) has a closed form under Gaussian priors. The encoder is a
    shrunk, widened version of the N(0, I) posterior, so it is a proposal, not the answer."""

    def __init__(self, W, b, s):
        super().__init__()
        self.W = torch.nn.Parameter(torch.as_tensor(W, dtype=torch.float32), requires_grad=False)
        self.b = torch.nn.Parameter(torch.as_tensor(b, dtype=torch.float32), requires_grad=False)
        self.latent_dim = self.W.shape[1]
        cov = np.linalg.inv(np.eye(W.shape[1]) + W.T @ W / s**2)
        self.gain = torch.as_tensor(0.9 * cov @ W.T / s**2, dtype=torch.float32)
        self.logvar = torch.as_tensor(np.log(1.5 * np.diag(cov)), dtype=torch.float32)

    def encode_distribution(self, x):
        mu = (x - self.b) @ self.gain.T
        return mu, self.logvar.expand_as(mu)

    def decode_tensor(self, h):
        return h @ self.W.T + self.b


@pytest.mark.parametrize("which", ["normal", "gmm"])
def test_importance_log_likelihood_matches_closed_form(which):
    rng = np.random.default_rng(0)
    W, b, s = rng.standard_normal((3, 2)), rng.standard_normal(3), 0.5
    model = LinearGaussianAE(W, b, s)
    x = rng.standard_normal((6, 3)) * 1.5
    if which == "normal":
        prior = StandardNormalPrior(2)
        exact = multivariate_normal(b, W @ W.T + s**2 * np.eye(3)).logpdf(x)
    else:
        weights, means = np.array([0.3, 0.7]), np.array([[1.0, -1.0], [-1.0, 0.5]])
        variances = np.array([[0.2, 0.5], [0.4, 0.1]])
        prior = GMMPrior.from_params(weights, means, variances)
        exact = np.log(sum(
            w * multivariate_normal(W @ m + b, W @ np.diag(v) @ W.T + s**2 * np.eye(3)).pdf(x)
            for w, m, v in zip(weights, means, variances)
        ))
    est = importance_log_likelihood(model, x, prior, likelihood="gaussian", scale=s, n_importance=20000)
    np.testing.assert_allclose(est, exact, atol=0.03)


def test_conv_vae_in_channels_last_computes_what_the_default_layout_computes():
    """ConvVAE keeps weights and activations in channels_last (faster CPU kernels); the same
    weights in the default layout give the same codes, reconstructions and loss gradients to float
    rounding, on real CelebA-sized inputs of an odd size (padded and cropped)."""
    import copy

    import torch

    from twostep.autoencoders import ConvVAE

    torch.manual_seed(0)
    fast = ConvVAE((3, 30, 26), 8, width=8, depth=3)
    assert fast.encoder[0].weight.is_contiguous(memory_format=torch.channels_last)
    plain = copy.deepcopy(fast).to(memory_format=torch.contiguous_format)
    plain._pad = lambda x, pad=ConvVAE._pad.__get__(plain): pad(x).contiguous()  # the default layout throughout
    assert plain.encoder[0].weight.is_contiguous() and not plain.encoder[0].weight.is_contiguous(
        memory_format=torch.channels_last)
    x = torch.rand(16, 3, 30, 26) * 2 - 1
    for model in (fast, plain):
        model.train()
    mu_f, lv_f = fast.encode_distribution(x)
    mu_p, lv_p = plain.encode_distribution(x)
    torch.testing.assert_close(mu_f, mu_p, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(lv_f, lv_p, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(fast.decode_tensor(mu_f), plain.decode_tensor(mu_p), rtol=1e-5, atol=1e-5)
    torch.manual_seed(1)
    fast.loss(x).backward()
    torch.manual_seed(1)
    plain.loss(x).backward()
    for (name, a), b in zip(fast.named_parameters(), plain.parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-5, msg=name)
