"""Neural density models as latent priors, trained on the codes with early stopping on held-out
codes: a normalising flow (zuko's masked autoregressive flow) and Dai & Wipf's second-stage VAE.

Both standardise the codes (per dimension) before training; samples and densities are mapped back.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from twostep.core.validation import check_float, check_int
from twostep.nn.training import train_model
from twostep.priors.base import Prior, _as_codes


@contextmanager
def _seeded(seed: int | None):
    """Within it, torch's global generator is seeded with ``seed`` and restored afterwards (left
    alone for None: fresh draws)."""
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


class _NeuralPrior(Prior):
    """Shared fitting: standardise, split off ``validation_fraction`` of the codes, train with Adam
    for at most ``max_epochs`` with early stopping (``patience``) on the held-out loss. After
    ``fit``: ``model_``, ``history_`` (training and ``history_.validation`` losses), ``epochs_``,
    ``shift_``, ``scale_``, ``dim_``."""

    def __init__(self, *, hidden: int, max_epochs: int, patience: int, batch_size: int, lr: float,
                 validation_fraction: float, seed: int, progress: bool):
        self.hidden = check_int("hidden", hidden, minimum=1)
        self.max_epochs = check_int("max_epochs", max_epochs, minimum=1)
        self.patience = check_int("patience", patience, minimum=1)
        self.batch_size = check_int("batch_size", batch_size, minimum=2)
        self.lr = check_float("lr", lr, minimum=0.0, strict_minimum=True)
        self.validation_fraction = check_float("validation_fraction", validation_fraction, minimum=0.0,
                                               strict_minimum=True, maximum=0.5)
        self.seed = seed
        self.progress = progress

    def _build(self, dim: int) -> nn.Module:  # pragma: no cover - interface
        raise NotImplementedError

    def _loss(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    def fit(self, codes) -> "_NeuralPrior":
        codes = _as_codes(codes)
        self.dim_ = codes.shape[1]
        self.shift_, self.scale_ = codes.mean(0), codes.std(0) + 1e-12
        z = ((codes - self.shift_) / self.scale_).astype(np.float32)
        order = np.random.default_rng(self.seed).permutation(len(z))
        n_val = max(1, int(self.validation_fraction * len(z)))
        torch.manual_seed(self.seed)
        self.model_ = self._build(self.dim_)
        self.history_ = train_model(self.model_, lambda x: self._loss(self.model_, x), z[order[n_val:]],
                                    validation=z[order[:n_val]], patience=self.patience, epochs=self.max_epochs,
                                    batch_size=self.batch_size, lr=self.lr, betas=(0.9, 0.999), seed=self.seed,
                                    device="cpu", progress=self.progress, desc=type(self).__name__)
        self.epochs_ = len(self.history_)
        return self


class FlowPrior(_NeuralPrior):
    """A masked autoregressive flow (Papamakarios et al. 2017; zuko's ``MAF``) of ``transforms``
    affine autoregressive layers with ``hidden`` x 2 hidden units, fitted by maximum likelihood."""

    def __init__(self, *, transforms: int = 3, hidden: int = 64, max_epochs: int = 200, patience: int = 10,
                 batch_size: int = 256, lr: float = 1e-3, validation_fraction: float = 0.1, seed: int = 0,
                 progress: bool = True):
        super().__init__(hidden=hidden, max_epochs=max_epochs, patience=patience, batch_size=batch_size, lr=lr,
                         validation_fraction=validation_fraction, seed=seed, progress=progress)
        self.transforms = check_int("transforms", transforms, minimum=1)

    def _build(self, dim: int) -> nn.Module:
        import zuko

        return zuko.flows.MAF(dim, transforms=self.transforms, hidden_features=(self.hidden, self.hidden))

    def _loss(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return -model().log_prob(x).mean()

    def sample(self, n: int, seed: int | None = None) -> np.ndarray:
        self._check_fitted()
        n = check_int("n", n, minimum=1)
        with _seeded(seed), torch.no_grad():
            z = self.model_().sample((n,)).double().numpy()
        return z * self.scale_ + self.shift_

    def log_prob(self, codes) -> np.ndarray:
        self._check_fitted()
        z = (_as_codes(codes) - self.shift_) / self.scale_
        with torch.no_grad():
            lp = self.model_().log_prob(torch.as_tensor(z, dtype=torch.float32)).double().numpy()
        return lp - np.log(self.scale_).sum()

    def __repr__(self) -> str:
        return f"FlowPrior(transforms={self.transforms}, hidden={self.hidden})"


class _SecondVAE(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                     nn.Linear(hidden, 2 * dim))
        self.decoder = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                     nn.Linear(hidden, dim))
        # the learned decoder variance gamma (Dai & Wipf), started at 0.1 rather than their 1: from 1,
        # short CPU runs stay where the decoder ignores z and returns the codes' mean (posterior collapse)
        self.log_gamma = nn.Parameter(torch.tensor(float(np.log(0.1))))


class TwoStageVAEPrior(_NeuralPrior):
    """Dai & Wipf's second stage (2019): a VAE on the codes, with a latent of the codes' size, MLP
    encoder and decoder, and a Gaussian decoder whose variance gamma is learned. Sampling draws
    z ~ N(0, I) and returns the decoder's mean; there is no closed-form density (``log_prob`` is
    undefined)."""

    has_log_prob = False

    def __init__(self, *, hidden: int = 256, max_epochs: int = 200, patience: int = 10, batch_size: int = 256,
                 lr: float = 1e-3, validation_fraction: float = 0.1, seed: int = 0, progress: bool = True):
        super().__init__(hidden=hidden, max_epochs=max_epochs, patience=patience, batch_size=batch_size, lr=lr,
                         validation_fraction=validation_fraction, seed=seed, progress=progress)

    def _build(self, dim: int) -> nn.Module:
        return _SecondVAE(dim, self.hidden)

    def _loss(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        mu, logvar = model.encoder(x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        x_hat = model.decoder(z)
        gamma = model.log_gamma.exp()
        nll = ((x - x_hat) ** 2).sum(1) / (2 * gamma) + 0.5 * x.shape[1] * model.log_gamma
        kl = 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum(1)
        return (nll + kl).mean()

    def sample(self, n: int, seed: int | None = None) -> np.ndarray:
        self._check_fitted()
        n = check_int("n", n, minimum=1)
        g = torch.Generator()
        g.seed() if seed is None else g.manual_seed(seed)
        with torch.no_grad():
            z = self.model_.decoder(torch.randn((n, self.dim_), generator=g)).double().numpy()
        return z * self.scale_ + self.shift_

    def __repr__(self) -> str:
        return f"TwoStageVAEPrior(hidden={self.hidden})"
