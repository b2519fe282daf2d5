"""Figures shared by the notebooks."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np


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
