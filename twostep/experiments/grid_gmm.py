"""The grid-of-Gaussians experiment (paper Fig. 2): its metrics, table and training-curve figure."""

from __future__ import annotations

import numpy as np

from twostep.autoencoders.mlp import MLPVAE
from twostep.core.profiling import phased
from twostep.data.grid import GridData
from twostep.evaluation.likelihood import importance_log_likelihood
from twostep.evaluation.samples import grid_mode_metrics


@phased("scoring")
def grid_network(*, latent_dim: int, hidden_dim: int, beta: float) -> MLPVAE:
    """The authors' grid VAE network, untrained (2 -> hidden tanh -> latent, linear output, loss
    L1 + beta KL): step 1's VAE and every joint model's fresh network."""
    return MLPVAE(2, latent_dim, (hidden_dim,), output="linear", likelihood="laplace", beta=beta)


def mode_scores(samples: dict[str, np.ndarray], data: GridData) -> dict[str, dict[str, float]]:
    """Modes covered and the fraction of high-quality samples, per model."""
    return {name: grid_mode_metrics(s, data.means, data.std) for name, s in samples.items()}


def grid_metrics(models: dict, scores: dict[str, dict[str, float]], data: GridData, *, scale: float,
                 n_importance: int, seed: int) -> dict[str, float]:
    """Per model (key -> two-step model): modes covered, high-quality fraction, and the held-out
    log-likelihood by importance sampling (Laplace decoder of scale ``scale``); plus the true
    mixture's held-out log-likelihood."""
    metrics = {"data.true_test_log_likelihood": float(data.log_prob(data.test).mean())}
    for key, model in models.items():
        ll = importance_log_likelihood(model.autoencoder, data.test, model.prior, likelihood="laplace", scale=scale,
                                       n_importance=n_importance, seed=seed)
        metrics[f"{key}.modes_covered"] = scores[key]["modes_covered"]
        metrics[f"{key}.high_quality_fraction"] = scores[key]["high_quality_fraction"]
        metrics[f"{key}.test_log_likelihood"] = float(ll.mean())
    return metrics


def grid_table(metrics: dict[str, float], labels: dict[str, str]) -> str:
    w = max(18, *(len(label) + 2 for label in labels.values()))
    lines = [f"{'model':<{w}}{'modes covered':>15}{'high quality':>14}{'test log-lik':>14}"]
    for key, label in labels.items():
        lines.append(f"{label:<{w}}{metrics[key + '.modes_covered']:>12}/16{metrics[key + '.high_quality_fraction']:>14.3f}"
                     f"{metrics[key + '.test_log_likelihood']:>14.3f}")
    lines.append(f"{'true mixture':<{w}}{'':>15}{'':>14}{metrics['data.true_test_log_likelihood']:>14.3f}")
    return "\n".join(lines)


def training_curves(curves: dict[str, list[float]], *, xlabel: str, ylabel: str, title: str):
    """Training losses per epoch on a log scale, one line per model."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for label, history in curves.items():
        ax.plot(history, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_yscale("log")
    ax.legend()
    ax.set_title(title)
    return fig
