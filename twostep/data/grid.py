"""The synthetic grid of 16 Gaussians (paper Fig. 2)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twostep.core.profiling import phased


@dataclass
class GridData:
    """Splits of the grid-of-Gaussians data set and the mixture that generated them."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    train_labels: np.ndarray
    val_labels: np.ndarray
    test_labels: np.ndarray
    means: np.ndarray
    std: float

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """Log-density of ``x`` under the true equal-weight mixture (a reference upper bound)."""
        x = np.asarray(x, dtype=np.float64)
        d = x.shape[1]
        sq = ((x[:, None, :] - self.means[None, :, :]) ** 2).sum(-1)
        comp = -0.5 * sq / self.std**2 - d * np.log(self.std) - 0.5 * d * np.log(2 * np.pi)
        comp_max = comp.max(1, keepdims=True)
        return (comp_max[:, 0] + np.log(np.exp(comp - comp_max).mean(1))).astype(np.float64)


def grid_means(grid: int = 4, spacing: float = 2.0) -> np.ndarray:
    """Means on a ``grid`` x ``grid`` lattice at ``{0, spacing, ...}``; row-major order."""
    axis = np.arange(grid, dtype=np.float64) * spacing
    xx, yy = np.meshgrid(axis, axis, indexing="ij")
    return np.stack([xx.ravel(), yy.ravel()], axis=1)


@phased("data loading")
def make_grid_gaussians(
    n_train: int = 100,
    n_val: int = 20,
    n_test: int = 20,
    *,
    grid: int = 4,
    spacing: float = 2.0,
    std: float = 0.1,
    seed: int = 0,
) -> GridData:
    """Sample the grid data set: ``n_*`` points per component for each split, seeded.

    Defaults follow the authors' code: means at ``{0, 2, 4, 6}^2``, isotropic standard deviation
    0.1, 100 train / 20 validation / 20 test points per component.
    """
    rng = np.random.default_rng(seed)
    means = grid_means(grid, spacing)

    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = np.repeat(np.arange(len(means)), n)
        x = means[labels] + std * rng.standard_normal((len(labels), 2))
        order = rng.permutation(len(labels))
        return x[order].astype(np.float32), labels[order]

    train, train_labels = split(n_train)
    val, val_labels = split(n_val)
    test, test_labels = split(n_test)
    return GridData(train, val, test, train_labels, val_labels, test_labels, means, std)
