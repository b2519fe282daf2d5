"""The authors' 1-d convolutional VAE for audio frames (paper section 4.2)."""

from __future__ import annotations

import torch
from torch import nn

from twostep.autoencoders.base import LIKELIHOODS, Autoencoder
from twostep.core.checks import check_choice, check_float, check_int


class AudioConvVAE(Autoencoder):
    """The authors' 1-d convolutional VAE for 800-sample frames: encoder Conv1d(1 -> c1, k, stride 2),
    tanh, Conv1d(c1 -> c2, k, stride 2), tanh, then a convolution over the remaining length to
    2 x latent (mean and log-variance); the decoder mirrors it with transposed convolutions and a
    linear output. The authors use c1 = 64, c2 = 128, k = 200, an 80-d latent."""

    def __init__(self, frame: int = 800, latent_dim: int = 80, *, channels: tuple[int, int] = (64, 128),
                 kernel: int = 200, likelihood: str = "laplace", beta: float = 0.1):
        super().__init__()
        self.frame = check_int("frame", frame, minimum=8)
        self.latent_dim = check_int("latent_dim", latent_dim, minimum=1)
        c1, c2 = (check_int("channels", c, minimum=1) for c in channels)
        kernel = check_int("kernel", kernel, minimum=2)
        self.likelihood = check_choice("likelihood", likelihood, LIKELIHOODS)
        self.beta = check_float("beta", beta, minimum=0.0, strict_minimum=True)
        l1 = (frame - kernel) // 2 + 1
        l2 = (l1 - kernel) // 2 + 1
        if l2 < 1:
            raise ValueError(f"kernel={kernel} is too long for frames of {frame} samples")
        self.encoder = nn.Sequential(
            nn.Conv1d(1, c1, kernel, stride=2), nn.Tanh(),
            nn.Conv1d(c1, c2, kernel, stride=2), nn.Tanh(),
            nn.Conv1d(c2, 2 * latent_dim, l2), nn.Flatten(),
        )
        pad1 = l1 - ((l2 - 1) * 2 + kernel)
        pad0 = frame - ((l1 - 1) * 2 + kernel)
        self.decoder = nn.Sequential(
            nn.Unflatten(1, (latent_dim, 1)),
            nn.ConvTranspose1d(latent_dim, c2, l2), nn.Tanh(),
            nn.ConvTranspose1d(c2, c1, kernel, stride=2, output_padding=pad1), nn.Tanh(),
            nn.ConvTranspose1d(c1, 1, kernel, stride=2, output_padding=pad0), nn.Flatten(),
        )

    def encode_distribution(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x.reshape(-1, 1, self.frame)).chunk(2, dim=-1)
        return mu, logvar.clamp(-15.0, 10.0)

    def decode_tensor(self, h: torch.Tensor) -> torch.Tensor:
        return self.decoder(h)
