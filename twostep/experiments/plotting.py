"""Figures shared by the notebooks."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np

from twostep.evaluation.fid import distance_label
from twostep.evaluation.scoring import SampleScorer


def sample_panels(
    panels: Mapping[str, np.ndarray],
    data: np.ndarray,
    *,
    ncols: int = 2,
    panel_size: float = 3.6,
    limits: tuple[float, float] | None = None,
    subtitles: Mapping[str, str] | None = None,
):
    """Scatter each model's 2-d samples (orange) over the data (grey), one panel per model."""
    names = list(panels)
    nrows = int(np.ceil(len(names) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_size * ncols, panel_size * nrows), squeeze=False)
    if limits is None:
        lo, hi = float(data.min()), float(data.max())
        pad = 0.15 * (hi - lo)
        limits = (lo - pad, hi + pad)
    for ax, name in zip(axes.flat, names):
        ax.scatter(data[:, 0], data[:, 1], s=3, c="0.7", label="data", rasterized=True)
        s = panels[name]
        ax.scatter(s[:, 0], s[:, 1], s=3, c="tab:orange", alpha=0.6, label="samples", rasterized=True)
        ax.set_title(name if subtitles is None else f"{name}\n{subtitles[name]}", fontsize=10)
        ax.set_xlim(*limits)
        ax.set_ylim(*limits)
        ax.set_aspect("equal")
        ax.set_xlabel("$x_1$")
        ax.set_ylabel("$x_2$")
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    axes.flat[0].legend(loc="upper left", fontsize=8, markerscale=3)
    fig.tight_layout()
    return fig


def image_grid(ax, images, shape: tuple[int, ...] = (28, 28), ncols: int = 8, title: str | None = None):
    """Tile images (rows of pixels in [0, 1]) on ``ax``: grey for 1 channel, RGB for 3."""
    images = np.asarray(images, dtype=np.float32)
    n = len(images)
    nrows = int(np.ceil(n / ncols))
    if len(shape) == 2:
        h, w = shape
        tiles = images.reshape(n, h, w, 1)
    else:
        c, h, w = shape
        tiles = images.reshape(n, c, h, w).transpose(0, 2, 3, 1)
    canvas = np.ones((nrows * (h + 1) + 1, ncols * (w + 1) + 1, tiles.shape[-1]), dtype=np.float32)
    for i in range(n):
        r, c_ = divmod(i, ncols)
        canvas[1 + r * (h + 1) : 1 + r * (h + 1) + h, 1 + c_ * (w + 1) : 1 + c_ * (w + 1) + w] = tiles[i]
    ax.imshow(canvas.squeeze(-1) if canvas.shape[-1] == 1 else canvas.clip(0, 1), cmap="gray", vmin=0, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def fid_curves(ax, curves: Mapping[str, tuple], baseline: tuple[float, float] | None = None,
               baseline_label: str = "N(0, I) prior", ylabel: str = "FID (lower is better)"):
    """FID against the number of GMM components: ``curves[label] = (components, means, stds)``;
    ``baseline`` is a horizontal (mean, std) band."""
    markers = iter("osD^vP*X")
    for label, (ks, means, stds) in curves.items():
        ax.errorbar(ks, means, yerr=stds, marker=next(markers), capsize=3, label=label)
    if baseline is not None:
        ax.axhline(baseline[0], color="k", ls="--", label=baseline_label)
        ax.axhspan(baseline[0] - baseline[1], baseline[0] + baseline[1], color="k", alpha=0.1)
    ticks = sorted({int(k) for ks, _, _ in curves.values() for k in ks})
    ax.set_xscale("log")
    if ticks:
        ax.set_xticks(ticks)
        ax.set_xticklabels([str(t) for t in ticks])
        ax.minorticks_off()
    ax.set_xlabel("number of GMM components")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return ax


def sample_figure(scorer: SampleScorer, panels: dict[str, str | np.ndarray], image_shape: tuple[int, ...], *,
                  features: str, n_show: int = 64, ncols: int = 8, panel_size: tuple[float, float] = (3.2, 3.6)):
    """One panel of samples per model: ``panels`` maps a title to a scored model's key (its
    samples, titled with its FID on ``features``) or to an array of images shown as they are."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(panel_size[0] * len(panels), panel_size[1]))
    for ax, (title, what) in zip(np.atleast_1d(axes), panels.items()):
        if isinstance(what, str):
            fid = scorer.results[what][features].full
            image_grid(ax, scorer.grids[what][:n_show], image_shape, ncols=ncols,
                       title=f"{title}\n{distance_label(features)} {fid:.2f}")
        else:
            image_grid(ax, np.asarray(what)[:n_show], image_shape, ncols=ncols, title=title)
    fig.tight_layout()
    return fig
