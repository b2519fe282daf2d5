"""The paper's fully connected VAE."""

from __future__ import annotations

import torch

from twostep.autoencoders.base import LIKELIHOODS, OUTPUTS, Autoencoder
from twostep.core.checks import check_choice, check_float, check_int
from twostep.nn.layers import ACTIVATIONS, mlp


class MLPVAE(Autoencoder):
    """The paper's fully connected VAE: ``input -> hidden (tanh) -> 2 * latent`` and back.

    ``output`` is the decoder's final non-linearity: ``"linear"`` for the grid data, ``"sigmoid"``
    for MNIST pixels in [0, 1]. ``likelihood`` and ``beta`` define the training loss
    ``reconstruction + beta * KL`` and the decoder's observation model (see the module doc).

    Parameters
    ----------
    input_dim, latent_dim : int
        Data and code sizes.
    hidden_dims : sequence of int
        Hidden layer widths of the encoder (reversed for the decoder); the authors: ``(600,)``.
    activation : str
        Hidden non-linearity (the authors: ``"tanh"``).
    output : {"linear", "sigmoid", "tanh"}
        The decoder's final non-linearity.
    likelihood : {"laplace", "gaussian", "bernoulli"}
        Reconstruction term (L1, squared error / 2, binary cross-entropy) and observation model.
    beta : float
        Weight of the KL term.
    """

    def __init__(
        self,
        input_dim: int,
        latent_dim: int,
        hidden_dims: tuple[int, ...] | list[int] = (600,),
        *,
        activation: str = "tanh",
        output: str = "linear",
        likelihood: str = "laplace",
        beta: float = 0.1,
    ):
        super().__init__()
        self.input_dim = check_int("input_dim", input_dim, minimum=1)
        self.latent_dim = check_int("latent_dim", latent_dim, minimum=1)
        hidden = [check_int("hidden_dims", h, minimum=1) for h in hidden_dims]
        check_choice("activation", activation, ACTIVATIONS)
        self.output = check_choice("output", output, OUTPUTS)
        self.likelihood = check_choice("likelihood", likelihood, LIKELIHOODS)
        self.beta = check_float("beta", beta, minimum=0.0, strict_minimum=True)
        self.encoder = mlp([self.input_dim, *hidden, 2 * self.latent_dim], activation, None)
        self.decoder = mlp([self.latent_dim, *reversed(hidden), self.input_dim], activation, output)

    def encode_distribution(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x.flatten(1)).chunk(2, dim=-1)
        return mu, logvar

    def decode_tensor(self, h: torch.Tensor) -> torch.Tensor:
        return self.decoder(h)
