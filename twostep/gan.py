"""WGAN-GP (Gulrajani et al. 2017) in the two roles of the paper's section 5:

* :class:`WGANGPPrior`: a GAN trained on a VAE's latent codes, used as a prior with the library's
  ``fit`` / ``sample`` protocol (Fig. 5). Its generator has the gated output of the authors' code
  and of Engel et al.'s latent constraints: from noise z it computes a gate g and a proposal dz and
  returns z' = (1 - g) * z + g * dz.
* :func:`train_wgan_gp` on images with :class:`MLPGenerator` (the authors' 40 -> 600 -> 784
  generator), followed by :func:`train_encoder` (eq. 3: an encoder fitted with the generator frozen),
  so that a GMM can be fitted on E(x) (Fig. 6).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from twostep.guards import check_finite, check_module_finite
from twostep.priors import Prior, _as_codes
from twostep.utils import check_float, check_int, get_device


def _mlp(sizes: list[int], act: Callable[[], nn.Module]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


class GatedGenerator(nn.Module):
    """z -> hidden layers (ReLU) -> [gate logits, dz]; output (1 - sigmoid(gate)) * z + sigmoid(gate) * dz."""

    def __init__(self, dim: int, hidden: int = 1024, layers: int = 4):
        super().__init__()
        self.dim = dim
        self.net = _mlp([dim, *[hidden] * layers, 2 * dim], nn.ReLU)

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
    return _mlp([in_dim, *[hidden] * layers, 1], lambda: nn.LeakyReLU(0.2))


def gradient_penalty(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """WGAN-GP's penalty E[(||grad_x critic(x_hat)|| - 1)^2] at random interpolates x_hat of real and fake."""
    eps = torch.rand((len(real), *([1] * (real.dim() - 1))), generator=generator).to(real.device)
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    grad, = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()


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


class WGANGPPrior(Prior):
    """A latent prior learnt by WGAN-GP on the codes (no density: ``log_prob`` is undefined).

    Defaults are a CPU-sized version of the authors' (4 x 1024 hidden units, 100k iterations with
    batch 3,000, lr 2e-5). After ``fit``: ``generator_``, ``critic_``, ``history_``, ``dim_``.
    """

    has_log_prob = False

    def __init__(self, *, hidden: int = 256, layers: int = 4, iterations: int = 3000, batch_size: int = 256,
                 n_critic: int = 5, gp_weight: float = 10.0, lr: float = 1e-4, seed: int = 0,
                 device: str | torch.device = "cpu", progress: bool = True):
        self.hidden = check_int("hidden", hidden, minimum=1)
        self.layers = check_int("layers", layers, minimum=1)
        self.iterations = check_int("iterations", iterations, minimum=0)
        self.batch_size = check_int("batch_size", batch_size, minimum=2)
        self.n_critic = check_int("n_critic", n_critic, minimum=1)
        self.gp_weight = check_float("gp_weight", gp_weight, minimum=0.0)
        self.lr = check_float("lr", lr, minimum=0.0, strict_minimum=True)
        self.seed = seed
        self.device = get_device(device)
        self.progress = progress

    def fit(self, codes) -> "WGANGPPrior":
        codes = _as_codes(codes)
        self.dim_ = codes.shape[1]
        torch.manual_seed(self.seed)
        self.generator_ = GatedGenerator(self.dim_, self.hidden, self.layers)
        self.critic_ = critic_mlp(self.dim_, self.hidden, self.layers)
        self.history_ = train_wgan_gp(
            self.generator_, self.critic_, codes.astype(np.float32), gaussian_noise(self.dim_),
            iterations=self.iterations, batch_size=self.batch_size, n_critic=self.n_critic, gp_weight=self.gp_weight,
            lr=self.lr, seed=self.seed, device=self.device, progress=self.progress, desc="WGAN-GP prior",
        )
        return self

    def sample(self, n: int, seed: int | None = None) -> np.ndarray:
        self._check_fitted()
        n = check_int("n", n, minimum=1)
        g = torch.Generator().manual_seed(0 if seed is None else seed)
        with torch.no_grad():
            z = torch.randn((n, self.dim_), generator=g).to(self.device)
            return self.generator_(z).double().cpu().numpy()


def train_encoder(encoder: nn.Module, generator: nn.Module, images, **kwargs) -> list[float]:
    """Eq. 3: fit ``encoder`` so that generator(encoder(x)) reconstructs x (squared error), with the
    generator frozen. Keyword arguments go to :func:`twostep.models.train_model` (the authors:
    Adam lr 1e-4, betas (0.5, 0.9), 100 epochs)."""
    from twostep.models import train_model

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

    def __init__(self, encoder: nn.Module, generator: nn.Module):
        self.encoder = encoder.eval()
        self.generator = generator.eval()
        self.device = next(generator.parameters()).device

    def _run(self, net: nn.Module, array, batch_size: int = 4096) -> np.ndarray:
        array = torch.as_tensor(np.asarray(array), dtype=torch.float32)
        with torch.no_grad():
            return np.concatenate([net(array[i : i + batch_size].to(self.device)).cpu().numpy()
                                   for i in range(0, len(array), batch_size)])

    def encode(self, x) -> np.ndarray:
        return self._run(self.encoder, np.asarray(x).reshape(len(x), -1))

    def decode(self, codes) -> np.ndarray:
        return self._run(self.generator, codes)
