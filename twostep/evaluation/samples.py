"""Metrics for generated samples."""

from __future__ import annotations

import math

import numpy as np

from twostep.core.checks import check_float


def grid_mode_metrics(
    samples,
    means,
    std: float,
    *,
    n_std: float = 3.0,
    min_fraction: float = 0.2,
) -> dict[str, float]:
    """Mode coverage and sample quality on a mixture of isotropic Gaussians.

    As in the mode-collapse literature (VEEGAN, Srivastava et al. 2017; PacGAN, Lin et al. 2018):
    a sample is *high quality* when it lies within ``n_std`` standard deviations of its nearest
    mode; a mode is *covered* when it receives at least ``min_fraction`` of the high-quality samples
    it would get if every mode were equally likely (PacGAN counts a mode as lost below 20 of 2,500
    samples over 25 modes, i.e. 0.2 of the expected 100), and at least one.

    Returns ``modes_covered``, ``high_quality_fraction`` and ``n_modes``.
    """
    samples = np.asarray(samples, dtype=np.float64)
    means = np.asarray(means, dtype=np.float64)
    check_float("std", std, minimum=0.0, strict_minimum=True)
    check_float("min_fraction", min_fraction, minimum=0.0)
    if samples.ndim != 2 or samples.shape[1] != means.shape[1]:
        raise ValueError(f"samples of shape {samples.shape} do not match means of shape {means.shape}")
    if not np.all(np.isfinite(samples)):
        raise ValueError("samples contain NaN or infinite values")
    dist = np.sqrt(((samples[:, None, :] - means[None, :, :]) ** 2).sum(-1))
    nearest = dist.argmin(1)
    high_quality = dist[np.arange(len(samples)), nearest] <= n_std * std
    counts = np.bincount(nearest[high_quality], minlength=len(means))
    threshold = max(1, math.ceil(min_fraction * len(samples) / len(means)))
    return {
        "modes_covered": int((counts >= threshold).sum()),
        "high_quality_fraction": float(high_quality.mean()),
        "n_modes": len(means),
    }


def clustering_accuracy(labels, clusters) -> float:
    """Unsupervised clustering accuracy: the best one-to-one matching of clusters to labels
    (Hungarian algorithm, scipy's ``linear_sum_assignment``), as VaDE reports it. Clusters beyond
    the number of labels count as errors."""
    from scipy.optimize import linear_sum_assignment

    labels = np.asarray(labels)
    clusters = np.asarray(clusters)
    if labels.shape != clusters.shape or labels.ndim != 1:
        raise ValueError("labels and clusters must be 1-d arrays of the same length")
    _, label_idx = np.unique(labels, return_inverse=True)
    _, cluster_idx = np.unique(clusters, return_inverse=True)
    counts = np.zeros((cluster_idx.max() + 1, label_idx.max() + 1), dtype=np.int64)
    np.add.at(counts, (cluster_idx, label_idx), 1)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, cols].sum() / len(labels))


def laplacian_variance(images) -> np.ndarray:
    """Variance of the (4-neighbour) Laplacian of each 2-d image: a standard focus / sharpness
    measure (Pech-Pacheco et al. 2000). Images are (N, H, W)."""
    from scipy.ndimage import laplace

    images = np.asarray(images, dtype=np.float64)
    return np.array([laplace(im, mode="reflect").var() for im in images])


def high_frequency_energy(images, cutoff: float = 0.25, *, fraction: bool = True) -> np.ndarray:
    """Spectral power (mean removed) at spatial frequencies above ``cutoff`` times the Nyquist
    frequency (radially): as a fraction of each image's total power, or (``fraction=False``) as
    mean power per pixel, which does not call a faint, noisy image "sharp"."""
    images = np.asarray(images, dtype=np.float64)
    n, h, w = images.shape
    fy = np.fft.fftfreq(h)[:, None] / 0.5
    fx = np.fft.fftfreq(w)[None, :] / 0.5
    high = np.sqrt(fx**2 + fy**2) > cutoff
    power = np.abs(np.fft.fft2(images - images.mean(axis=(1, 2), keepdims=True))) ** 2
    if not fraction:
        return power[:, high].sum(1) / (h * w) ** 2
    total = power.sum(axis=(1, 2))
    return power[:, high].sum(1) / np.maximum(total, 1e-300)


def nearest_neighbours(samples, reference, *, exclude_self: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Root-mean-square pixel distance from each sample to its nearest reference image, and the
    index of that image.

    With ``exclude_self`` (``samples`` is ``reference``), each image's own zero distance is skipped:
    the leave-one-out distances of real images are the yardstick for "not copying"."""
    a = np.asarray(samples, dtype=np.float64).reshape(len(samples), -1)
    b = np.asarray(reference, dtype=np.float64).reshape(len(reference), -1)
    d2 = (a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2 * a @ b.T
    d2 = np.maximum(d2, 0.0)
    if exclude_self:
        if a.shape != b.shape:
            raise ValueError("exclude_self needs samples and reference to be the same images")
        np.fill_diagonal(d2, np.inf)
    index = d2.argmin(1)
    return np.sqrt(d2[np.arange(len(a)), index] / a.shape[1]), index


def nearest_neighbour_rms(samples, reference, *, exclude_self: bool = False) -> np.ndarray:
    """The distances of :func:`nearest_neighbours`."""
    return nearest_neighbours(samples, reference, exclude_self=exclude_self)[0]
