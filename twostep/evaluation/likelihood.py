"""Held-out log-likelihoods of two-step models by importance sampling."""

from __future__ import annotations

import math

import numpy as np
import torch

from twostep.autoencoders.base import Autoencoder, log_likelihood
from twostep.core.checks import check_float, check_int


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
    ``log_prob`` (any :class:`twostep.priors.base.Prior` with a density).
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
