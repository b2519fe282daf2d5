"""Torch building blocks shared by the autoencoders, priors and joint models: fully connected
networks, the reparameterisation trick, Gaussian KL and entropy, and batched inference on arrays."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

LOG_2PI = math.log(2 * math.pi)
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU}


def mlp(sizes: list[int], activation: str | Callable[[], nn.Module], output: str | None = None) -> nn.Sequential:
    """Linear layers of ``sizes`` with ``activation`` (a name of :data:`ACTIVATIONS` or a module
    factory) between them, and an optional final ``"sigmoid"`` or ``"tanh"``."""
    act = ACTIVATIONS[activation] if isinstance(activation, str) else activation
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(act())
    if output == "sigmoid":
        layers.append(nn.Sigmoid())
    elif output == "tanh":
        layers.append(nn.Tanh())
    return nn.Sequential(*layers)


def reparameterise(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """One draw h ~ N(mu, exp(logvar)) that gradients flow through (torch's global generator)."""
    return mu + torch.randn_like(mu) * (0.5 * logvar).exp()


def gaussian_kl_standard(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) per row (summed over latent dimensions)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1)


def gaussian_entropy(logvar: torch.Tensor) -> torch.Tensor:
    """Entropy of N(mu, diag exp(logvar)) per row, 2 pi constant included."""
    return 0.5 * (1.0 + LOG_2PI + logvar).sum(-1)


def batched(fn: Callable[[torch.Tensor], torch.Tensor], array, batch_size: int = 4096,
            device: str | torch.device = "cpu", *, progress: bool = False, desc: str = "") -> np.ndarray:
    """``fn`` applied without gradients to float32 batches of ``array`` on ``device``; the outputs
    as one NumPy array (empty input: an empty array)."""
    tensor = torch.as_tensor(np.asarray(array), dtype=torch.float32)
    out = []
    with torch.no_grad():
        for start in tqdm(range(0, len(tensor), batch_size), desc=desc, disable=not progress, mininterval=1.0):
            out.append(fn(tensor[start : start + batch_size].to(device)).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0,))
