"""A trained generator with an encoder fitted to it (paper eq. 3, Fig. 6), behind the
autoencoder interface."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from twostep.nn.layers import batched
from twostep.nn.training import train_model


def train_encoder(encoder: nn.Module, generator: nn.Module, images, **kwargs) -> list[float]:
    """Eq. 3: fit ``encoder`` so that generator(encoder(x)) reconstructs x (squared error), with the
    generator frozen. Keyword arguments go to :func:`twostep.nn.training.train_model` (the authors:
    Adam lr 1e-4, betas (0.5, 0.9), 100 epochs)."""
    for p in generator.parameters():
        p.requires_grad_(False)
    generator.eval()

    def loss(x: torch.Tensor) -> torch.Tensor:
        return (generator(encoder(x)) - x.flatten(1)).pow(2).sum(-1).mean()

    kwargs.setdefault("desc", "encoder (eq. 3)")
    return train_model(encoder, loss, images, **kwargs)


class GeneratorAutoencoder:
    """A frozen generator (decoder) and its trained encoder, behind the autoencoder protocol, so
    that the two-step pipeline fits a GMM on E(x) and samples G(z) for z from that GMM."""

    def __init__(self, encoder: nn.Module, generator: nn.Module, latent_dim: int | None = None):
        self.encoder = encoder.eval()
        self.generator = generator.eval()
        self.device = next(generator.parameters()).device
        self.latent_dim = latent_dim if latent_dim is not None else getattr(generator, "noise_dim", None)

    def fit(self, data, **kwargs) -> "GeneratorAutoencoder":
        """Train the encoder with the generator frozen (:func:`train_encoder`; keyword arguments go to it)."""
        train_encoder(self.encoder, self.generator, data, **kwargs)
        self.encoder.eval()
        return self

    def encode(self, x, batch_size: int = 4096) -> np.ndarray:
        return batched(self.encoder, np.asarray(x).reshape(len(x), -1), batch_size, self.device)

    def decode(self, codes, batch_size: int = 4096) -> np.ndarray:
        return batched(self.generator, codes, batch_size, self.device)
