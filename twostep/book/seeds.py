"""The book's page of results over seeds: for each experiment, its metrics as mean ± std over the
runs of the build (one per seed), and for the Fréchet-distance sweeps (MNIST, CelebA, WGAN-GMM) the
FD-against-components figure with the spread over seeds instead of over sample batches.

    python -m twostep.book.seeds --sweep build/sweep-default --out book/executed/seeds.md
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from twostep.book.claims import CHAPTERS, add_runs_arguments, load_seeded_runs, seed_statistics
from twostep.book.rules import CLAIMS
from twostep.evaluation.fid import distance_label

FD_KEY = re.compile(r"^(?P<model>.+?)(?:_(?P<k>\d+))?\.fid_(?P<features>[a-z0-9_]+?)$")
# per-batch summaries are the within-run error bars; over seeds the single FD of each run is used
HIDDEN_SUFFIXES = ("_batch_mean", "_batch_std")


def fd_curves(stats: Mapping[str, object]) -> dict[str, dict[str, dict[int | None, object]]]:
    """``{features: {model: {k or None: Stat}}}`` from metric names ``<model>_<k>.fid_<features>``
    (``k`` None for a model without a component count, such as ``vae_normal``)."""
    curves: dict[str, dict[str, dict[int | None, object]]] = {}
    for key, value in stats.items():
        match = FD_KEY.match(key)
        if not match or key.endswith(HIDDEN_SUFFIXES):
            continue
        k = int(match["k"]) if match["k"] else None
        curves.setdefault(match["features"], {}).setdefault(match["model"], {})[k] = value
    return curves


def fd_figure(notebook: str, runs: Sequence[Mapping[str, float]], path: Path) -> Path | None:
    """FD against the number of components, mean and ± std band over seeds, one line per model;
    models without components as horizontal bands. None when the notebook has no FD sweep."""
    import matplotlib.pyplot as plt

    curves = fd_curves(seed_statistics(runs))
    swept = {f: models for f, models in curves.items() if any(None not in ks or len(ks) > 1 for ks in models.values())}
    if not swept:
        return None
    fig, axes = plt.subplots(1, len(swept), figsize=(6.5 * len(swept), 4), squeeze=False)
    for ax, (features, models) in zip(axes.flat, sorted(swept.items()), strict=True):
        for model, points in sorted(models.items()):
            if list(points) == [None]:
                stat = points[None]
                ax.axhline(float(stat), ls="--", lw=1.2, color="0.2", label=f"{model} (no components)")
                ax.axhspan(float(stat) - stat.std, float(stat) + stat.std, color="0.2", alpha=0.1)
                continue
            ks = sorted(k for k in points if k is not None)
            mean = np.array([float(points[k]) for k in ks])
            std = np.array([points[k].std for k in ks])
            (line,) = ax.plot(ks, mean, marker="o", label=model)
            ax.fill_between(ks, mean - std, mean + std, color=line.get_color(), alpha=0.18)
        ax.set_xscale("log")
        ax.set_xlabel("number of mixture components k")
        ax.set_ylabel(f"{distance_label(features)} (lower is better)")
        ax.set_title(f"{CHAPTERS.get(notebook, notebook)}: mean ± std over {len(runs)} seed(s)")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def metrics_table(runs: Sequence[Mapping[str, float]]) -> list[str]:
    """Every metric (per-batch summaries left out) as mean ± std, min and max over the seeds."""
    lines = ["| metric | mean ± std | min | max |", "|---|---|---|---|"]
    for key, stat in seed_statistics(runs).items():
        if key.endswith(HIDDEN_SUFFIXES):
            continue
        lines.append(f"| `{key}` | {stat:.4g} | {min(stat.values):.4g} | {max(stat.values):.4g} |")
    return lines


def seeds_table(seeds_by_notebook: Mapping[str, Sequence[int]]) -> list[str]:
    """Which seeds each experiment ran and so how many seeds (``n``) decide each of its claims on
    the claims page: one row per experiment, its claims named by figure."""
    lines = ["| experiment | seeds | n | claims decided on these runs |", "|---|---|---|---|"]
    for notebook, seeds in seeds_by_notebook.items():
        figures = list(dict.fromkeys(c.figure for c in CLAIMS if c.experiment == notebook))
        count = sum(c.experiment == notebook for c in CLAIMS)
        lines.append(f"| {CHAPTERS.get(notebook, notebook)} | {', '.join(map(str, seeds))} | {len(seeds)} | "
                     + (f"{count}: {', '.join(figures)}" if figures else "none") + " |")
    return lines


def render(runs_by_notebook: Mapping[str, Sequence[Mapping[str, float]]], out: Path,
           seeds: Mapping[str, Sequence[int]] | None = None) -> str:
    """The page (figures written beside ``out``); ``seeds`` names each notebook's runs (numbered
    from 0 without it)."""
    seeds = {nb: list((seeds or {}).get(nb) or range(len(runs))) for nb, runs in runs_by_notebook.items()}
    lines = ["# Results over seeds", "",
             "Every experiment of this build ran once per seed (each seed trains every model again: step 1, the "
             "priors and the joint models; the feature networks of the Fréchet distances are instruments, trained "
             "once). The chapters show the first seed's run; this page shows the spread over all of them, read "
             "from each run's `metrics.json`. The error bars inside the chapters are over sample batches of one "
             "model; the bands here are over training runs. At the seeds after the first, chapters with an "
             "`illustrate` parameter run without what decides no claim (for instance MNIST's full-covariance GMMs "
             "and joint model from random): those models are in the chapter, from the first seed, not here.", "",
             "The seeds of each experiment, so the number of seeds (n) behind each claim's interval on the "
             "claims page:", "", *seeds_table(seeds), ""]
    for notebook, runs in runs_by_notebook.items():
        lines += [f"## {CHAPTERS.get(notebook, notebook)} ({{doc}}`chapter <{notebook}>`)", "",
                  f"{len(runs)} run(s).", ""]
        figure = fd_figure(notebook, runs, out.with_name(f"seeds_{notebook}.png"))
        if figure:
            lines += [f"```{{figure}} {figure.name}", f":name: seeds-{notebook.replace('_', '-')}", ":width: 100%", "",
                      f"{CHAPTERS.get(notebook, notebook)}: Fréchet distance on the offline features against the "
                      "number of components, mean over seeds with a ± one standard deviation band.", "```", ""]
        lines += [*metrics_table(runs), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the results-over-seeds page.")
    add_runs_arguments(parser)
    parser.add_argument("--out", required=True, help="Markdown file to write (figures go beside it)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    seeded = load_seeded_runs(args.sweep or args.executed)
    out.write_text(render({nb: [m for _, m in pairs] for nb, pairs in seeded.items()}, out,
                          {nb: [seed for seed, _ in pairs] for nb, pairs in seeded.items()}))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    import matplotlib

    matplotlib.use("Agg")  # a page generator run as a program: files only, whatever the display
    raise SystemExit(main())
