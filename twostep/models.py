"""Autoencoders for step 1: the interface, the paper's MLP VAE and its training loop.

Every autoencoder offers ``encode(x) -> codes`` and ``decode(codes) -> x`` on NumPy arrays (the
protocol the two-step pipeline uses) and ``fit(data)``. The VAEs here are torch modules that also
expose ``encode_distribution`` / ``decode_tensor`` on tensors, which joint training needs.

Observation models. The authors' "standard VAE" loss is ``L1 + 0.1 * KL``. Dividing by 0.1, this
is the negative ELBO of a VAE whose decoder is a Laplace distribution of scale ``b = 0.1`` (up to a
constant). In general ``L1 + beta * KL`` is the ELBO with a Laplace decoder of scale ``beta``, and
``BCE + beta * KL`` is a Bernoulli decoder with a KL weight ``beta``. We train with the authors'
loss and evaluate log-likelihoods with the decoder it implies, so that the numbers mean something.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from twostep.guards import check_finite, check_module_finite
from twostep.utils import check_choice, check_float, check_int, get_device

LIKELIHOODS = ("laplace", "gaussian", "bernoulli")
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU}
OUTPUTS = ("linear", "sigmoid", "tanh")


def gaussian_kl_standard(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) per row (summed over latent dimensions)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1)


def reconstruction_loss(x: torch.Tensor, x_hat: torch.Tensor, likelihood: str) -> torch.Tensor:
    """The per-row reconstruction term the authors minimise: L1 (laplace), squared error / 2
    (gaussian) or binary cross-entropy (bernoulli), summed over data dimensions."""
    x = x.flatten(1)
    x_hat = x_hat.flatten(1)
    if likelihood == "laplace":
        return (x - x_hat).abs().sum(-1)
    if likelihood == "gaussian":
        return 0.5 * (x - x_hat).pow(2).sum(-1)
    if likelihood == "bernoulli":
        return nn.functional.binary_cross_entropy(x_hat.clamp(1e-6, 1 - 1e-6), x, reduction="none").sum(-1)
    raise ValueError(f"likelihood={likelihood!r}; allowed: {LIKELIHOODS}")


def log_likelihood(x: torch.Tensor, x_hat: torch.Tensor, likelihood: str, scale: float) -> torch.Tensor:
    """log p(x | h) per row for the decoder output ``x_hat``.

    ``laplace``: Laplace(x_hat, scale); ``gaussian``: N(x_hat, scale^2); ``bernoulli``: Bernoulli
    with means ``x_hat`` (``scale`` unused). These are the observation models implied by training
    with ``reconstruction_loss + scale * KL`` (laplace) and ``... / scale^2`` (gaussian).
    """
    x = x.flatten(1)
    x_hat = x_hat.flatten(1)
    d = x.shape[1]
    if likelihood == "laplace":
        return -(x - x_hat).abs().sum(-1) / scale - d * math.log(2 * scale)
    if likelihood == "gaussian":
        return -0.5 * (x - x_hat).pow(2).sum(-1) / scale**2 - d * (math.log(scale) + 0.5 * math.log(2 * math.pi))
    if likelihood == "bernoulli":
        return -reconstruction_loss(x, x_hat, "bernoulli")
    raise ValueError(f"likelihood={likelihood!r}; allowed: {LIKELIHOODS}")


def observation_scale(likelihood: str, beta: float) -> float:
    """Scale of the decoder's observation model implied by ``reconstruction + beta * KL``:
    Laplace scale ``beta``, Gaussian standard deviation ``sqrt(beta)``; unused for Bernoulli."""
    return math.sqrt(beta) if likelihood == "gaussian" else beta


def _mlp(sizes: list[int], activation: str, output: str | None) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    if output == "sigmoid":
        layers.append(nn.Sigmoid())
    elif output == "tanh":
        layers.append(nn.Tanh())
    return nn.Sequential(*layers)


class Autoencoder(nn.Module):
    """Base of the library's torch autoencoders: NumPy-level ``encode`` / ``decode`` around
    tensor-level ``encode_distribution`` / ``decode_tensor`` that subclasses implement."""

    latent_dim: int

    def encode_distribution(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of q(h | x)."""
        raise NotImplementedError  # pragma: no cover - interface

    def decode_tensor(self, h: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError  # pragma: no cover - interface

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def _batched(self, fn, array, batch_size: int) -> np.ndarray:
        was_training = self.training
        self.eval()
        out = []
        with torch.no_grad():
            array = torch.as_tensor(np.asarray(array), dtype=torch.float32)
            for start in range(0, len(array), batch_size):
                out.append(fn(array[start : start + batch_size].to(self.device)).cpu().numpy())
        self.train(was_training)
        return np.concatenate(out) if out else np.zeros((0,))

    def encode(self, x, batch_size: int = 4096) -> np.ndarray:
        """The codes used for step 2: the encoder means mu(x), as in the authors' code."""
        return self._batched(lambda t: self.encode_distribution(t)[0], x, batch_size)

    def decode(self, codes, batch_size: int = 4096) -> np.ndarray:
        """Decoder outputs (the mean of p(x | h)) for the given codes."""
        return self._batched(self.decode_tensor, codes, batch_size)

    def forward(self, x: torch.Tensor):
        mu, logvar = self.encode_distribution(x)
        h = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        return self.decode_tensor(h), mu, logvar

    # VAEs set ``likelihood`` and ``beta``; these define their loss and observation model.
    likelihood: str
    beta: float

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        """Mean over the batch of ``reconstruction + beta * KL`` (one reparameterised sample)."""
        x_hat, mu, logvar = self(x)
        return (reconstruction_loss(x, x_hat, self.likelihood) + self.beta * gaussian_kl_standard(mu, logvar)).mean()

    @property
    def observation_scale(self) -> float:
        """Scale of the decoder's observation model implied by the loss (see the module doc)."""
        return observation_scale(self.likelihood, self.beta)

    def fit(self, data, **kwargs) -> "Autoencoder":
        """Train on :meth:`loss` with :func:`train_model` (keyword arguments are passed on)."""
        kwargs.setdefault("desc", type(self).__name__)
        train_model(self, self.loss, data, **kwargs)
        return self


class MLPVAE(Autoencoder):
    """The paper's fully connected VAE: ``input -> hidden (tanh) -> 2 * latent`` and back.

    ``output`` is the decoder's final non-linearity: ``"linear"`` for the grid data, ``"sigmoid"``
    for MNIST pixels in [0, 1]. ``likelihood`` and ``beta`` define the training loss
    ``reconstruction + beta * KL`` and the decoder's observation model (see the module doc).
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
        self.encoder = _mlp([self.input_dim, *hidden, 2 * self.latent_dim], activation, None)
        self.decoder = _mlp([self.latent_dim, *reversed(hidden), self.input_dim], activation, output)

    def encode_distribution(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x.flatten(1)).chunk(2, dim=-1)
        return mu, logvar

    def decode_tensor(self, h: torch.Tensor) -> torch.Tensor:
        return self.decoder(h)


_NON_FINITE_HINT = "Try a smaller learning rate, or check the data for NaN or infinite values."


def train_model(
    model: nn.Module,
    loss_fn: Callable[..., torch.Tensor],
    data,
    *,
    epochs: int,
    batch_size: int | None = None,
    lr: float = 2e-4,
    betas: tuple[float, float] = (0.5, 0.999),
    seed: int = 0,
    device: str | torch.device = "auto",
    progress: bool = True,
    desc: str = "training",
) -> list[float]:
    """Minimise ``loss_fn(*batch)`` with Adam; return the mean loss of each epoch.

    ``data`` is an array, or a tuple of arrays of equal length (e.g. images and labels) whose
    batches are passed to ``loss_fn`` as separate arguments. ``batch_size=None`` trains full batch,
    as the authors do on the grid data. Shuffling uses a generator seeded with ``seed``, so runs are
    reproducible.

    A non-finite loss stops training before the step that would spread it, and non-finite
    parameters at the end of an epoch stop it too: both raise :class:`~twostep.guards.NonFiniteError`
    naming ``desc``, the epoch and the batch.
    """
    epochs = check_int("epochs", epochs, minimum=0)
    if batch_size is not None:
        batch_size = check_int("batch_size", batch_size, minimum=1)
    device = get_device(device)
    model.to(device)
    arrays = data if isinstance(data, tuple) else (data,)
    tensors = []
    for array in arrays:
        array = np.asarray(array)
        dtype = torch.float32 if np.issubdtype(array.dtype, np.floating) else torch.long
        tensors.append(torch.as_tensor(array, dtype=dtype).to(device))
    n = len(tensors[0])
    if any(len(t) != n for t in tensors):
        raise ValueError("all arrays in data must have the same length")
    batch_size = n if batch_size is None else min(batch_size, n)
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # the reparameterisation noise
    optimiser = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr, betas=betas)
    history: list[float] = []
    model.train()
    bar = tqdm(range(epochs), desc=desc, disable=not progress, mininterval=10.0)
    for epoch in bar:
        order = torch.randperm(n, generator=generator).to(device) if batch_size < n else None
        total = 0.0
        for start in range(0, n, batch_size):
            if order is None:
                batch = tensors
            else:
                index = order[start : start + batch_size]
                batch = [t[index] for t in tensors]
            loss = loss_fn(*batch)
            value = loss.item()
            check_finite(desc, f"epoch {epoch + 1} of {epochs}, batch {start // batch_size + 1}", {"loss": value},
                         hint=_NON_FINITE_HINT)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            total += value * len(batch[0])
        check_module_finite(desc, f"the end of epoch {epoch + 1} of {epochs}", model, hint=_NON_FINITE_HINT)
        history.append(total / n)
        bar.set_postfix(loss=f"{history[-1]:.4g}", refresh=False)
    model.eval()
    return history


def train_vae(model: Autoencoder, data, *, epochs: int, **kwargs) -> list[float]:
    """Step 1: train a VAE on its own loss with the authors' optimiser (Adam, lr 2e-4, betas (0.5, 0.999))."""
    kwargs.setdefault("desc", "VAE")
    return train_model(model, model.loss, data, epochs=epochs, **kwargs)


def importance_log_likelihood(
    model: Autoencoder,
    x,
    prior,
    *,
    likelihood: str,
    scale: float,
    n_importance: int = 500,
    defensive: float = 0.5,
    seed: int = 0,
    batch_size: int = 64,
) -> np.ndarray:
    """Importance-sampled estimate of log p(x) for each row of ``x`` under decoder + ``prior``.

    log p(x) ~= log mean_k p(x | h_k) p(h_k) / r(h_k | x), with the defensive proposal
    r = (1 - defensive) q(h | x) + defensive p(h) (Hesterberg 1995). The encoder alone is a poor
    proposal for a prior fitted after the fact (a GMM can be far narrower than q(h | x)); mixing in
    the prior bounds every weight by p(x | h) / defensive. In expectation the estimate is a lower
    bound on log p(x) that tightens as ``n_importance`` grows. ``prior`` needs ``sample`` and
    ``log_prob`` (any :class:`twostep.priors.Prior` with a density).
    """
    n_importance = check_int("n_importance", n_importance, minimum=1)
    defensive = check_float("defensive", defensive, minimum=0.0, maximum=1.0)
    generator = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    x = torch.as_tensor(np.asarray(x), dtype=torch.float32)
    out = []
    model.eval()
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            xb = x[start : start + batch_size].to(model.device)
            mu, logvar = model.encode_distribution(xb)
            mu, logvar = mu.double().cpu(), logvar.double().cpu()
            b, d = mu.shape
            # h_k from q(h | x) with probability 1 - defensive, else from the prior
            from_q = torch.rand((n_importance, b), generator=generator, dtype=torch.float64) >= defensive
            eps = torch.randn((n_importance, b, d), generator=generator, dtype=torch.float64)
            h = mu + (0.5 * logvar).exp() * eps
            n_prior = int((~from_q).sum())
            if n_prior:
                h[~from_q] = torch.as_tensor(prior.sample(n_prior, seed=int(rng.integers(2**31))), dtype=torch.float64)
            flat = h.reshape(-1, d)
            log_q = (-0.5 * ((h - mu) ** 2 / logvar.exp() + logvar + math.log(2 * math.pi))).sum(-1)
            log_ph = torch.as_tensor(prior.log_prob(flat.numpy()), dtype=torch.float64).reshape(n_importance, b)
            if defensive > 0:
                parts = [log_ph + math.log(defensive)]
                if defensive < 1:
                    parts.append(log_q + math.log1p(-defensive))
                log_r = torch.logsumexp(torch.stack(parts), 0)
            else:
                log_r = log_q
            x_hat = model.decode_tensor(flat.float().to(model.device))
            x_rep = xb.flatten(1).unsqueeze(0).expand(n_importance, -1, -1).reshape(-1, xb[0].numel())
            log_px_h = log_likelihood(x_rep, x_hat, likelihood, scale).double().cpu().reshape(n_importance, b)
            log_w = log_px_h + log_ph - log_r
            out.append((torch.logsumexp(log_w, 0) - math.log(n_importance)).numpy())
    return np.concatenate(out)
