"""WGAN-GP (Gulrajani et al. 2017): critic, gradient penalty and the training loop, shared by the
latent WGAN-GP prior (Fig. 5) and the image generator of Fig. 6."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from twostep.core.guards import check_finite, check_module_finite
from twostep.core.profiling import phased
from twostep.core.runtime import get_device
from twostep.core.checks import check_float, check_int
from twostep.nn.layers import mlp


class GatedGenerator(nn.Module):
    """z -> hidden layers (ReLU) -> [gate logits, dz]; output (1 - sigmoid(gate)) * z + sigmoid(gate) * dz."""

    def __init__(self, dim: int, hidden: int = 1024, layers: int = 4):
        super().__init__()
        self.dim = dim
        self.net = mlp([dim, *[hidden] * layers, 2 * dim], nn.ReLU)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        gate_logits, dz = self.net(z).chunk(2, dim=-1)
        g = torch.sigmoid(gate_logits)
        return (1 - g) * z + g * dz


class MLPGenerator(nn.Module):
    """The authors' Fig. 6 generator: noise -> hidden (tanh) -> pixels (sigmoid)."""

    def __init__(self, noise_dim: int = 40, hidden: int = 600, out_dim: int = 784):
        super().__init__()
        self.noise_dim = noise_dim
        self.net = nn.Sequential(nn.Linear(noise_dim, hidden), nn.Tanh(), nn.Linear(hidden, out_dim), nn.Sigmoid())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


def critic_mlp(in_dim: int, hidden: int, layers: int) -> nn.Sequential:
    """A fully connected WGAN critic (LeakyReLU, no normalisation, as WGAN-GP requires)."""
    return mlp([in_dim, *[hidden] * layers, 1], lambda: nn.LeakyReLU(0.2))


def gradient_penalty(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """WGAN-GP's penalty E[(||grad_x critic(x_hat)|| - 1)^2] at random interpolates x_hat of real and fake."""
    eps = torch.rand((len(real), *([1] * (real.dim() - 1))), generator=generator).to(real.device)
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    grad, = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()


@phased("training")
def train_wgan_gp(
    generator: nn.Module,
    critic: nn.Module,
    data,
    noise: Callable[[int, torch.Generator], torch.Tensor],
    *,
    iterations: int,
    batch_size: int = 256,
    n_critic: int = 5,
    gp_weight: float = 10.0,
    lr: float = 1e-4,
    betas: tuple[float, float] = (0.0, 0.9),
    seed: int = 0,
    device: str | torch.device = "auto",
    progress: bool = True,
    desc: str = "WGAN-GP",
) -> dict[str, list[float]]:
    """WGAN-GP training: ``n_critic`` critic steps per generator step, Adam for both.

    ``noise(n, generator)`` draws generator inputs. Returns the critic's Wasserstein estimate
    (E critic(real) - E critic(fake)) and the generator loss, one value per iteration.
    """
    iterations = check_int("iterations", iterations, minimum=0)
    batch_size = check_int("batch_size", batch_size, minimum=2)
    n_critic = check_int("n_critic", n_critic, minimum=1)
    gp_weight = check_float("gp_weight", gp_weight, minimum=0.0)
    device = get_device(device)
    generator.to(device).train()
    critic.to(device).train()
    data = torch.as_tensor(np.asarray(data), dtype=torch.float32).to(device)
    rng = torch.Generator().manual_seed(seed)
    opt_g = torch.optim.Adam(generator.parameters(), lr=lr, betas=betas)
    opt_c = torch.optim.Adam(critic.parameters(), lr=lr, betas=betas)
    history: dict[str, list[float]] = {"wasserstein": [], "generator_loss": []}
    bar = tqdm(range(iterations), desc=desc, disable=not progress, mininterval=10.0)
    for iteration in bar:
        for _ in range(n_critic):
            real = data[torch.randint(0, len(data), (batch_size,), generator=rng).to(device)]
            with torch.no_grad():
                fake = generator(noise(batch_size, rng).to(device))
            w = critic(real).mean() - critic(fake).mean()
            loss_c = -w + gp_weight * gradient_penalty(critic, real, fake, rng)
            opt_c.zero_grad(set_to_none=True)
            loss_c.backward()
            opt_c.step()
        loss_g = -critic(generator(noise(batch_size, rng).to(device))).mean()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        history["wasserstein"].append(float(w.detach()))
        history["generator_loss"].append(float(loss_g.detach()))
        check_finite(desc, f"iteration {iteration + 1} of {iterations}",
                     {"critic loss": float(loss_c.detach()), "Wasserstein estimate": history["wasserstein"][-1],
                      "generator loss": history["generator_loss"][-1]},
                     hint="Try a smaller learning rate or a larger gp_weight.")
        bar.set_postfix(w=f"{history['wasserstein'][-1]:.3g}", refresh=False)
    check_module_finite(desc + " generator", f"the end of training ({iterations} iterations)", generator)
    check_module_finite(desc + " critic", f"the end of training ({iterations} iterations)", critic)
    generator.eval()
    critic.eval()
    return history


def gaussian_noise(dim: int) -> Callable[[int, torch.Generator], torch.Tensor]:
    return lambda n, g: torch.randn((n, dim), generator=g)
