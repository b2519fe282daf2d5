"""Autoencoders for step 1: the interface and the observation models.

Every autoencoder offers ``encode(x) -> codes`` and ``decode(codes) -> x`` on NumPy arrays (the
protocol the two-step pipeline uses) and ``fit(data)``. The VAEs here are torch modules that also
expose ``encode_distribution`` / ``decode_tensor`` on tensors, which joint training needs.

Observation models. The authors' "standard VAE" loss is ``L1 + 0.1 * KL``. Dividing by 0.1, this
is the negative ELBO of a VAE whose decoder is a Laplace distribution of scale ``b = 0.1`` (up to a
constant). In general ``L1 + beta * KL`` is the ELBO with a Laplace decoder of scale ``beta``, and
``BCE + beta * KL`` is a Bernoulli decoder with a KL weight ``beta``. We train with the authors'
loss and evaluate log-likelihoods with the decoder it implies, so that the numbers mean something.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from twostep.nn.layers import batched, gaussian_kl_standard, reparameterise
from twostep.nn.training import train_model

LIKELIHOODS = ("laplace", "gaussian", "bernoulli")
BERNOULLI_CLAMP = 1e-6  # Bernoulli means are kept in [1e-6, 1 - 1e-6]: every log-probability is finite


OUTPUTS = ("linear", "sigmoid", "tanh")


def reconstruction_loss(x: torch.Tensor, x_hat: torch.Tensor, likelihood: str) -> torch.Tensor:
    """The per-row reconstruction term the authors minimise: L1 (laplace), squared error / 2
    (gaussian) or binary cross-entropy (bernoulli), summed over data dimensions."""
    x = x.flatten(1)
    x_hat = x_hat.flatten(1)
    if likelihood == "laplace":
        return (x - x_hat).abs().sum(-1)
    if likelihood == "gaussian":
        return 0.5 * (x - x_hat).pow(2).sum(-1)
    if likelihood == "bernoulli":
        # -(x log p + (1 - x) log(1 - p)) as x (log p - log(1 - p)) + log(1 - p): torch's
        # binary_cross_entropy of the same clamped p, equal to float rounding, at half its cost
        # (forward and backward; the joint MNIST step's largest cost after the network)
        p = x_hat.clamp(BERNOULLI_CLAMP, 1 - BERNOULLI_CLAMP)
        log_q = torch.log(1 - p)
        return -(x * (torch.log(p) - log_q) + log_q).sum(-1)
    raise ValueError(f"likelihood={likelihood!r}; allowed: {LIKELIHOODS}")


def log_likelihood(x: torch.Tensor, x_hat: torch.Tensor, likelihood: str, scale: float) -> torch.Tensor:
    """log p(x | h) per row for the decoder output ``x_hat``.

    ``laplace``: Laplace(x_hat, scale); ``gaussian``: N(x_hat, scale^2); ``bernoulli``: Bernoulli
    with means ``x_hat`` (``scale`` unused). These are the observation models implied by training
    with ``reconstruction_loss + scale * KL`` (laplace) and ``... / scale^2`` (gaussian).
    """
    x = x.flatten(1)
    x_hat = x_hat.flatten(1)
    d = x.shape[1]
    if likelihood == "laplace":
        return -(x - x_hat).abs().sum(-1) / scale - d * math.log(2 * scale)
    if likelihood == "gaussian":
        return -0.5 * (x - x_hat).pow(2).sum(-1) / scale**2 - d * (math.log(scale) + 0.5 * math.log(2 * math.pi))
    if likelihood == "bernoulli":
        return -reconstruction_loss(x, x_hat, "bernoulli")
    raise ValueError(f"likelihood={likelihood!r}; allowed: {LIKELIHOODS}")


def observation_scale(likelihood: str, beta: float) -> float:
    """Scale of the decoder's observation model implied by ``reconstruction + beta * KL``:
    Laplace scale ``beta``, Gaussian standard deviation ``sqrt(beta)``; unused for Bernoulli."""
    return math.sqrt(beta) if likelihood == "gaussian" else beta


class Autoencoder(nn.Module):
    """Base of the library's torch autoencoders: NumPy-level ``encode`` / ``decode`` around
    tensor-level ``encode_distribution`` / ``decode_tensor`` that subclasses implement."""

    latent_dim: int

    def encode_distribution(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of q(h | x)."""
        raise NotImplementedError  # pragma: no cover - interface

    def decode_tensor(self, h: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError  # pragma: no cover - interface

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def _batched(self, fn, array, batch_size: int) -> np.ndarray:
        was_training = self.training
        self.eval()
        out = batched(fn, array, batch_size, self.device)
        self.train(was_training)
        return out

    def encode(self, x, batch_size: int = 4096) -> np.ndarray:
        """The codes used for step 2: the encoder means mu(x), as in the authors' code."""
        return self._batched(lambda t: self.encode_distribution(t)[0], x, batch_size)

    def decode(self, codes, batch_size: int = 4096) -> np.ndarray:
        """Decoder outputs (the mean of p(x | h)) for the given codes."""
        return self._batched(self.decode_tensor, codes, batch_size)

    def forward(self, x: torch.Tensor):
        mu, logvar = self.encode_distribution(x)
        return self.decode_tensor(reparameterise(mu, logvar)), mu, logvar

    # VAEs set ``likelihood`` and ``beta``; these define their loss and observation model.
    likelihood: str
    beta: float

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        """Mean over the batch of ``reconstruction + beta * KL`` (one reparameterised sample)."""
        x_hat, mu, logvar = self(x)
        return (reconstruction_loss(x, x_hat, self.likelihood) + self.beta * gaussian_kl_standard(mu, logvar)).mean()

    @property
    def observation_scale(self) -> float:
        """Scale of the decoder's observation model implied by the loss (see the module doc)."""
        return observation_scale(self.likelihood, self.beta)

    def fit(self, data, **kwargs) -> "Autoencoder":
        """Train on :meth:`loss` with :func:`train_model` (keyword arguments are passed on)."""
        kwargs.setdefault("desc", type(self).__name__)
        train_model(self, self.loss, data, **kwargs)
        return self


def train_vae(model: Autoencoder, data, *, epochs: int, **kwargs) -> list[float]:
    """Step 1: train a VAE on its own loss with the authors' optimiser (Adam, lr 2e-4, betas (0.5, 0.999))."""
    kwargs.setdefault("desc", "VAE")
    return train_model(model, model.loss, data, epochs=epochs, **kwargs)
