"""A DCGAN-style convolutional VAE (Radford et al.'s architecture, as in the authors' CelebA code):
stride-2 4x4 convolutions with BatchNorm and LeakyReLU down to a small feature map, linear maps to
the latent mean and log-variance, and the mirror image with transposed convolutions and a tanh
output. Inputs of any size are padded to a multiple of 2^depth and outputs cropped back.

Weights and activations use torch's ``channels_last`` memory layout (NHWC), for which oneDNN has
faster CPU kernels: a training step of the CelebA chapter's network took 2.2 times less time than in
the default layout (``benchmarks/conv_layout.py``). The layout changes the order of float sums, so
numbers differ from the default layout's in late digits, as they do between CPU kinds."""

from __future__ import annotations

import torch
from torch import nn

from twostep.autoencoders.base import LIKELIHOODS, OUTPUTS, Autoencoder
from twostep.core.checks import check_choice, check_float, check_int


class ConvVAE(Autoencoder):
    """A convolutional VAE for images.

    Parameters
    ----------
    image_shape : tuple of int
        ``(channels, height, width)``.
    latent_dim : int
        Code size.
    width : int
        The first layer's channel count (the authors use 128), doubled at each stage.
    depth : int
        Stride-2 stages of the encoder (and of the decoder).
    output, likelihood, beta
        As :class:`~twostep.autoencoders.MLPVAE`'s.
    """

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        latent_dim: int,
        *,
        width: int = 32,
        depth: int = 4,
        output: str = "tanh",
        likelihood: str = "laplace",
        beta: float = 0.1,
    ):
        super().__init__()
        self.image_shape = tuple(int(v) for v in image_shape)
        c, h, w = self.image_shape
        self.latent_dim = check_int("latent_dim", latent_dim, minimum=1)
        width = check_int("width", width, minimum=1)
        self.depth = check_int("depth", depth, minimum=1, maximum=8)
        self.output = check_choice("output", output, OUTPUTS)
        self.likelihood = check_choice("likelihood", likelihood, LIKELIHOODS)
        self.beta = check_float("beta", beta, minimum=0.0, strict_minimum=True)
        unit = 2**self.depth
        self.padded = (-(-h // unit) * unit, -(-w // unit) * unit)
        self.feature_hw = (self.padded[0] // unit, self.padded[1] // unit)
        enc: list[nn.Module] = []
        channels = [c] + [width * 2**i for i in range(self.depth)]
        for i in range(self.depth):
            enc += [nn.Conv2d(channels[i], channels[i + 1], 4, 2, 1, bias=i == 0)]
            if i > 0:
                enc.append(nn.BatchNorm2d(channels[i + 1]))
            enc.append(nn.LeakyReLU(0.2))
        self.encoder = nn.Sequential(*enc, nn.Flatten())
        flat = channels[-1] * self.feature_hw[0] * self.feature_hw[1]
        self.to_latent = nn.Linear(flat, 2 * self.latent_dim)
        self.from_latent = nn.Linear(self.latent_dim, flat)
        dec: list[nn.Module] = [nn.Unflatten(1, (channels[-1], *self.feature_hw))]
        for i in range(self.depth, 0, -1):
            last = i == 1
            dec.append(nn.ConvTranspose2d(channels[i], channels[i - 1], 4, 2, 1, bias=last))
            if not last:
                dec += [nn.BatchNorm2d(channels[i - 1]), nn.ReLU()]
        if output == "tanh":
            dec.append(nn.Tanh())
        elif output == "sigmoid":
            dec.append(nn.Sigmoid())
        self.decoder = nn.Sequential(nn.ReLU(), *dec)
        self.to(memory_format=torch.channels_last)

    def _pad(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(-1, *self.image_shape)
        ph, pw = self.padded[0] - x.shape[2], self.padded[1] - x.shape[3]
        if ph or pw:
            fill = -1.0 if self.output == "tanh" else 0.0  # the background value of the data
            x = nn.functional.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), value=fill)
        return x.contiguous(memory_format=torch.channels_last)

    def encode_distribution(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.to_latent(self.encoder(self._pad(x))).chunk(2, dim=-1)
        # a guard against the rare log-variance blow-up that spikes the loss on small data sets
        return mu, logvar.clamp(-15.0, 10.0)

    def decode_tensor(self, h: torch.Tensor) -> torch.Tensor:
        y = self.decoder(self.from_latent(h))
        _, hh, ww = self.image_shape
        top, left = (self.padded[0] - hh) // 2, (self.padded[1] - ww) // 2
        return y[:, :, top : top + hh, left : left + ww]
