"""Neural density models as latent priors, trained on the codes with early stopping on held-out
codes: a normalising flow (zuko's masked autoregressive flow) and Dai & Wipf's second-stage VAE.

Both standardise the codes (per dimension) before training; samples and densities are mapped back.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from twostep.core.checks import check_float, check_int
from twostep.nn.training import train_model
from twostep.priors.base import Prior, _as_codes, _iid_codes, _per_sequence, _sequences


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
    ``shift_``, ``scale_``, ``dim_``. ``random_state`` seeds the split, the initial weights and
    the batches."""

    def __init__(self, *, hidden: int, max_epochs: int, patience: int, batch_size: int, lr: float,
                 validation_fraction: float, random_state: int, progress: bool):
        self.hidden = check_int("hidden", hidden, minimum=1)
        self.max_epochs = check_int("max_epochs", max_epochs, minimum=1)
        self.patience = check_int("patience", patience, minimum=1)
        self.batch_size = check_int("batch_size", batch_size, minimum=2)
        self.lr = check_float("lr", lr, minimum=0.0, strict_minimum=True)
        self.validation_fraction = check_float("validation_fraction", validation_fraction, minimum=0.0,
                                               strict_minimum=True, maximum=0.5)
        self.random_state = check_int("random_state", random_state, minimum=0)
        self.progress = progress

    def _build(self, dim: int) -> nn.Module:  # pragma: no cover - interface
        raise NotImplementedError

    def _loss(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    def fit(self, codes, lengths=None) -> "_NeuralPrior":
        return self._fit_rows(_iid_codes(codes, lengths))

    def _fit_rows(self, rows: np.ndarray) -> "_NeuralPrior":
        """Fit on training examples ``rows``: codes ``(n, D)``, or chunks of sequences ``(n, T, D)``."""
        flat = rows.reshape(-1, rows.shape[-1])
        self.dim_ = flat.shape[1]
        self.shift_, self.scale_ = flat.mean(0), flat.std(0) + 1e-12
        z = ((rows - self.shift_) / self.scale_).astype(np.float32)
        order = np.random.default_rng(self.random_state).permutation(len(z))
        n_val = max(1, int(self.validation_fraction * len(z)))
        torch.manual_seed(self.random_state)
        self.model_ = self._build(self.dim_)
        self.history_ = train_model(self.model_, lambda x: self._loss(self.model_, x), z[order[n_val:]],
                                    validation=z[order[:n_val]], patience=self.patience, epochs=self.max_epochs,
                                    batch_size=self.batch_size, lr=self.lr, betas=(0.9, 0.999), seed=self.random_state,
                                    device="cpu", progress=self.progress, desc=type(self).__name__)
        self.epochs_ = len(self.history_)
        return self

    def _state(self) -> dict[str, np.ndarray]:
        weights = {f"model_.{k}": v.detach().cpu().numpy() for k, v in self.model_.state_dict().items()}
        return {**weights, "shift_": self.shift_, "scale_": self.scale_, "epochs_": np.asarray(self.epochs_)}

    def _load_state(self, arrays: dict[str, np.ndarray]) -> None:
        self.shift_, self.scale_ = arrays["shift_"], arrays["scale_"]
        self.dim_, self.epochs_ = len(self.shift_), int(arrays["epochs_"])
        self.model_ = self._build(self.dim_)
        self.model_.load_state_dict({k[len("model_."):]: torch.as_tensor(v) for k, v in arrays.items()
                                     if k.startswith("model_.")})


class FlowPrior(_NeuralPrior):
    """A masked autoregressive flow (Papamakarios et al. 2017; zuko's ``MAF``) of ``transforms``
    affine autoregressive layers with ``hidden`` x 2 hidden units, fitted by maximum likelihood.

    Parameters
    ----------
    transforms, hidden : int
        Autoregressive layers, and hidden units of each layer's two-layer network.
    max_epochs, patience : int
        Training stops after ``max_epochs``, or ``patience`` epochs without a better held-out loss.
    batch_size : int
        Codes per step.
    lr : float
        Adam learning rate.
    validation_fraction : float
        Share of the codes held out for early stopping.
    random_state : int
        Seed of the split, the initial weights and the batches.
    progress : bool
        Show a progress bar.
    """

    def __init__(self, *, transforms: int = 3, hidden: int = 64, max_epochs: int = 200, patience: int = 10,
                 batch_size: int = 256, lr: float = 1e-3, validation_fraction: float = 0.1, random_state: int = 0,
                 progress: bool = True):
        super().__init__(hidden=hidden, max_epochs=max_epochs, patience=patience, batch_size=batch_size, lr=lr,
                         validation_fraction=validation_fraction, random_state=random_state, progress=progress)
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

    def log_prob(self, codes, lengths=None) -> np.ndarray:
        self._check_fitted()
        z = (_as_codes(codes) - self.shift_) / self.scale_
        with torch.no_grad():
            lp = self.model_().log_prob(torch.as_tensor(z, dtype=torch.float32)).double().numpy()
        return _per_sequence(lp - np.log(self.scale_).sum(), lengths)

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
                 lr: float = 1e-3, validation_fraction: float = 0.1, random_state: int = 0, progress: bool = True):
        super().__init__(hidden=hidden, max_epochs=max_epochs, patience=patience, batch_size=batch_size, lr=lr,
                         validation_fraction=validation_fraction, random_state=random_state, progress=progress)

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


class _GRUNet(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.gru = nn.GRU(dim, hidden, batch_first=True)
        self.out = nn.Linear(hidden, 2 * dim)

    def forward(self, previous: torch.Tensor, state: torch.Tensor | None = None):
        """Mean and log standard deviation of each frame given the frames before it."""
        h, state = self.gru(previous, state)
        mean, log_std = self.out(h).chunk(2, dim=-1)
        return mean, log_std.clamp(-7.0, 3.0), state


class GRUPrior(_NeuralPrior):
    """An autoregressive prior over sequences of codes: a GRU reads the frames so far and predicts
    a diagonal Gaussian for the next one (the first from a zero frame). Fitted by maximum
    likelihood on chunks of ``chunk`` frames, with early stopping on held-out chunks. Sequences
    follow hmmlearn's convention, as :class:`~twostep.priors.HMMPrior`: ``fit(codes, lengths)``;
    ``log_prob`` gives one log-likelihood per sequence."""

    sequential = True

    def __init__(self, *, hidden: int = 128, chunk: int = 40, max_epochs: int = 100, patience: int = 10,
                 batch_size: int = 16, lr: float = 1e-3, validation_fraction: float = 0.1, random_state: int = 0,
                 progress: bool = True):
        super().__init__(hidden=hidden, max_epochs=max_epochs, patience=patience, batch_size=batch_size, lr=lr,
                         validation_fraction=validation_fraction, random_state=random_state, progress=progress)
        self.chunk = check_int("chunk", chunk, minimum=2)

    def _build(self, dim: int) -> nn.Module:
        return _GRUNet(dim, self.hidden)

    @staticmethod
    def _shifted(x: torch.Tensor) -> torch.Tensor:
        return torch.cat([torch.zeros_like(x[:, :1]), x[:, :-1]], dim=1)

    def _loss(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        mean, log_std, _ = model(self._shifted(x))
        return (0.5 * ((x - mean) / log_std.exp()) ** 2 + log_std).sum(-1).mean() + 0.5 * x.shape[-1] * np.log(2 * np.pi)

    def fit(self, codes, lengths=None) -> "GRUPrior":
        x, lengths = _sequences(codes, lengths)
        bounds = np.cumsum([0, *lengths])
        chunks = [x[a + i : a + i + self.chunk] for a, b in zip(bounds[:-1], bounds[1:])
                  for i in range(0, b - a - self.chunk + 1, self.chunk)]
        if len(chunks) < 2:
            raise ValueError(f"sequences of {lengths} frames give fewer than 2 chunks of chunk={self.chunk} frames")
        return self._fit_rows(np.stack(chunks))

    def _standardised(self, x: np.ndarray) -> torch.Tensor:
        return torch.as_tensor((x - self.shift_) / self.scale_, dtype=torch.float32)

    def log_prob(self, codes, lengths=None) -> np.ndarray:
        self._check_fitted()
        x, lengths = _sequences(codes, lengths)
        bounds = np.cumsum([0, *lengths])
        out = []
        with torch.no_grad():
            for a, b in zip(bounds[:-1], bounds[1:]):
                z = self._standardised(x[a:b])[None]
                mean, log_std, _ = self.model_(self._shifted(z))
                lp = -(0.5 * ((z - mean) / log_std.exp()) ** 2 + log_std + 0.5 * np.log(2 * np.pi)).sum()
                out.append(float(lp) - (b - a) * np.log(self.scale_).sum())
        return np.array(out)

    def sample(self, n: int, seed: int | None = None) -> np.ndarray:
        """One sequence of ``n`` frames, drawn frame by frame."""
        self._check_fitted()
        n = check_int("n", n, minimum=1)
        g = torch.Generator()
        g.seed() if seed is None else g.manual_seed(seed)
        frames, state = [], None
        previous = torch.zeros((1, 1, self.dim_))
        with torch.no_grad():
            for _ in range(n):
                mean, log_std, state = self.model_(previous, state)
                previous = mean + log_std.exp() * torch.randn(mean.shape, generator=g)
                frames.append(previous[0, 0].double().numpy())
        return np.stack(frames) * self.scale_ + self.shift_

    def __repr__(self) -> str:
        return f"GRUPrior(hidden={self.hidden}, chunk={self.chunk})"
