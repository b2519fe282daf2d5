"""A latent prior learnt by WGAN-GP on the codes (paper Fig. 5)."""

from __future__ import annotations

import numpy as np
import torch

from twostep.core.runtime import get_device
from twostep.core.checks import check_float, check_int
from twostep.nn.gan import GatedGenerator, critic_mlp, gaussian_noise, train_wgan_gp
from twostep.priors.base import Prior, _iid_codes


class WGANGPPrior(Prior):
    """A latent prior learnt by WGAN-GP on the codes (no density: ``log_prob`` is undefined).

    Defaults are a CPU-sized version of the authors' (4 x 1024 hidden units, 100k iterations with
    batch 3,000, lr 2e-5). After ``fit``: ``generator_``, ``critic_``, ``history_``, ``dim_``.

    Parameters
    ----------
    hidden, layers : int
        Width and depth of the generator (gated residual MLP) and of the critic.
    iterations : int
        Generator updates.
    batch_size : int
        Codes per update.
    n_critic : int
        Critic updates per generator update.
    gp_weight : float
        Weight of the gradient penalty.
    lr : float
        Adam learning rate (betas 0, 0.9).
    random_state : int
        Seed of the initial weights, the batches and the noise.
    device : str or torch.device
        Where the networks train and sample.
    progress : bool
        Show a progress bar.
    """

    has_log_prob = False

    def __init__(self, *, hidden: int = 256, layers: int = 4, iterations: int = 3000, batch_size: int = 256,
                 n_critic: int = 5, gp_weight: float = 10.0, lr: float = 1e-4, random_state: int = 0,
                 device: str | torch.device = "cpu", progress: bool = True):
        self.hidden = check_int("hidden", hidden, minimum=1)
        self.layers = check_int("layers", layers, minimum=1)
        self.iterations = check_int("iterations", iterations, minimum=0)
        self.batch_size = check_int("batch_size", batch_size, minimum=2)
        self.n_critic = check_int("n_critic", n_critic, minimum=1)
        self.gp_weight = check_float("gp_weight", gp_weight, minimum=0.0)
        self.lr = check_float("lr", lr, minimum=0.0, strict_minimum=True)
        self.random_state = check_int("random_state", random_state, minimum=0)
        self.device = get_device(device)
        self.progress = progress

    def fit(self, codes, lengths=None) -> "WGANGPPrior":
        codes = _iid_codes(codes, lengths)
        modules = self._build(codes.shape[1])
        self.history_ = train_wgan_gp(
            modules["generator"], modules["critic"], codes.astype(np.float32), gaussian_noise(codes.shape[1]),
            iterations=self.iterations, batch_size=self.batch_size, n_critic=self.n_critic, gp_weight=self.gp_weight,
            lr=self.lr, seed=self.random_state, device=self.device, progress=self.progress, desc="WGAN-GP prior",
        )
        self._use(modules)
        return self

    def _build(self, dim: int) -> torch.nn.ModuleDict:
        """Untrained generator and critic for codes of size ``dim`` (seeded with ``random_state``)."""
        torch.manual_seed(self.random_state)
        return torch.nn.ModuleDict({"generator": GatedGenerator(dim, self.hidden, self.layers),
                                    "critic": critic_mlp(dim, self.hidden, self.layers)})

    def _use(self, modules: torch.nn.ModuleDict) -> None:
        self.generator_, self.critic_ = modules["generator"], modules["critic"]
        self.dim_ = self.generator_.dim

    def _state(self) -> dict[str, np.ndarray]:
        modules = torch.nn.ModuleDict({"generator": self.generator_, "critic": self.critic_})
        return {**{k: v.detach().cpu().numpy() for k, v in modules.state_dict().items()}, "dim_": np.asarray(self.dim_)}

    def _load_state(self, arrays: dict[str, np.ndarray]) -> None:
        """The trained networks (on this prior's device); the training history is not part of the state."""
        with torch.random.fork_rng(devices=[]):  # building draws initial weights: leave the caller's generator alone
            modules = self._build(int(arrays["dim_"]))
        modules.load_state_dict({k: torch.as_tensor(v) for k, v in arrays.items() if k != "dim_"})
        self._use(modules.to(self.device))

    def sample(self, n: int, seed: int | None = None) -> np.ndarray:
        self._check_fitted()
        n = check_int("n", n, minimum=1)
        g = torch.Generator()
        if seed is None:
            g.seed()  # fresh randomness, as every prior does for seed=None
        else:
            g.manual_seed(seed)
        with torch.no_grad():
            z = torch.randn((n, self.dim_), generator=g).to(self.device)
            return self.generator_(z).double().cpu().numpy()
