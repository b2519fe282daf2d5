"""The claims page: every claim of :mod:`twostep.book.rules` decided in every run (seed) of a
build, its numbers as mean ± std over seeds, the per-seed verdicts, the effects figure, and the
chapters' verdict bullets. Every figure on the page is read from the build's own outputs.

    python -m twostep.book.claims --executed book/executed --out book/executed/claims.md
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from twostep.book.rules import (
    CLAIMS,
    NOT_REPRODUCED,
    NOT_RUN,
    PARTLY,
    REPRODUCED,
    Claim,
    Metrics,
)
from twostep.sweep.tables import PLAN_FILE, planned_runs


class Stat(float):
    """A metric over seeds: behaves as its mean in a rule's comparisons, and formats as
    ``mean ± std`` so that the numbers a rule prints show the spread over seeds."""

    def __new__(cls, values: Sequence[float]):
        values = [float(v) for v in values]
        obj = super().__new__(cls, float(np.mean(values)))
        obj.values = values
        obj.std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
        return obj

    def __format__(self, spec: str) -> str:
        mean = format(float(self), spec)
        return mean if len(self.values) == 1 else f"{mean} ± {format(self.std, spec)}"


def combine_verdicts(verdicts: Sequence[str]) -> str:
    """The verdict over seeds: *reproduced* when the claim holds in every seed, *not reproduced*
    when in none, *partly* otherwise (a seed where it holds partly counts as some); *not run* when
    any seed could not decide it."""
    if not verdicts or NOT_RUN in verdicts:
        return NOT_RUN
    if all(v == REPRODUCED for v in verdicts):
        return REPRODUCED
    if all(v == NOT_REPRODUCED for v in verdicts):
        return NOT_REPRODUCED
    return PARTLY


def seed_statistics(runs: Sequence[Metrics]) -> dict[str, Stat]:
    """Every metric that all ``runs`` have, as a :class:`Stat` over them."""
    keys = set(runs[0]).intersection(*runs[1:]) if runs else set()
    return {k: Stat([m[k] for m in runs]) for k in sorted(keys)}


def bootstrap_interval(effects: Sequence[float], confidence: float = 0.95) -> tuple[float, float] | None:
    """Bootstrap (percentile) interval of the mean effect over seeds, which is a mean of paired
    differences (each seed's models against each other); None below 5 seeds."""
    from scipy.stats import bootstrap

    if len(effects) < 5:
        return None
    if len(set(effects)) == 1:
        return effects[0], effects[0]
    res = bootstrap((np.asarray(effects, float),), np.mean, confidence_level=confidence, n_resamples=9999,
                    method="percentile", random_state=0)
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def evaluate_runs(runs_by_experiment: Mapping[str, Sequence[Metrics]],
                  seeds: Mapping[str, Sequence[int]] | None = None) -> list[dict]:
    """One row per claim, deciding it in every run (seed) of its experiment: experiment, figure,
    claim, numbers (mean ± std over seeds), verdict (:func:`combine_verdicts`), n, the per-seed
    verdicts and numbers (each seed's own: for a joint claim, the joint model that seed's rule
    chose, its epochs and whether it converged), the per-seed effects and, from 5 seeds, a bootstrap
    95% interval of the mean effect. ``seeds`` names each experiment's runs (their seeds, in the
    order of its runs); without it they are numbered from 0."""
    rows = []
    for claim in CLAIMS:
        runs = list(runs_by_experiment.get(claim.experiment) or [])
        names = list((seeds or {}).get(claim.experiment) or range(len(runs)))
        if len(names) != len(runs):
            raise ValueError(f"{claim.experiment}: {len(runs)} runs but seeds {names}")
        row = {"experiment": claim.experiment, "figure": claim.figure, "claim": claim.statement, "n": len(runs),
               "seeds": names, "seed_verdicts": [], "seed_numbers": [], "effects": [], "interval": None}
        if not runs:
            row.update(verdict=NOT_RUN, numbers="the notebook's metrics.json was not found")
            rows.append(row)
            continue
        try:
            row["seed_verdicts"], row["seed_numbers"] = (list(x) for x in zip(*(claim.rule(m) for m in runs), strict=True))
            _, row["numbers"] = claim.rule(seed_statistics(runs))
            row["effects"] = [float(claim.effect.compute(m)) for m in runs]
        except KeyError as missing:
            row.update(verdict=NOT_RUN, numbers=f"metric {missing} is missing")
            rows.append(row)
            continue
        row["verdict"] = combine_verdicts(row["seed_verdicts"])
        row["interval"] = bootstrap_interval(row["effects"])
        row["inception"] = inception_verdict(claim, runs)
        rows.append(row)
    return rows


def inception_verdict(claim: Claim, runs: Sequence[Metrics]) -> dict | None:
    """The claim decided on Inception features in the first run that has them (the book's first
    seed runs the Inception check), beside the offline verdict of that same run: ``{"seed": index of
    the run, "verdict", "numbers", "offline": the run's offline verdict, "agrees", "samples"}``;
    None when the claim has no Inception rule or no run has the numbers."""
    if claim.inception is None:
        return None
    for i, m in enumerate(runs):
        try:
            verdict, numbers = claim.inception(m)
        except KeyError:
            continue
        if verdict == NOT_RUN:
            continue
        offline = claim.rule(m)[0]
        return {"seed": i, "verdict": verdict, "numbers": numbers, "offline": offline, "agrees": verdict == offline,
                "samples": m.get("inception_check.samples")}
    return None


def inception_note(check: dict) -> str:
    """The Inception verdict of a claim in words (claims page and chapters)."""
    size = f", {check['samples']:.0f} samples per model" if check.get("samples") else ""
    agrees = "agrees" if check["agrees"] else f"disagrees: *{check['verdict']}* on Inception"
    return (f"Inception check (run {check['seed'] + 1}{size}): {agrees} with the offline verdict "
            f"*{check['offline']}* of that run ({check['numbers']})")


def evaluate(metrics_by_experiment: Mapping[str, Metrics]) -> list[dict]:
    """:func:`evaluate_runs` with one run per experiment."""
    return evaluate_runs({name: [m] for name, m in metrics_by_experiment.items()})


def chapter_summary(experiment: str, metrics: Metrics) -> str:
    """The verdict on each claim of the paper about ``experiment``, from that run's ``metrics``, as
    Markdown bullets. Chapters show this instead of deciding for themselves, so a chapter and the
    claims page cannot disagree."""
    rows = [r for r in evaluate({experiment: metrics}) if r["experiment"] == experiment]
    if not rows:
        raise KeyError(f"no claim of the paper is about {experiment!r}")
    return "\n".join(f"- **{r['figure']}, {r['verdict']} in this run**: {_lower_first(r['claim'])} "
                     f"Measured: {r['numbers']}." + (f" {inception_note(r['inception'])}." if r.get("inception") else "")
                     for r in rows) + (
        "\n\nThese are this run's verdicts (one seed); the claims page decides each claim over every seed of the build.")


def load_metrics(executed: str | Path) -> dict[str, dict[str, float]]:
    """``{notebook: metrics}`` from ``<executed>/<notebook>/metrics.json``."""
    out = {}
    for path in sorted(Path(executed).glob("*/metrics.json")):
        out[path.parent.name] = json.loads(path.read_text())
    return out


def load_seeded_runs(source: str | Path) -> dict[str, list[tuple[int | None, dict[str, float]]]]:
    """``{notebook: [(seed, metrics) of each run]}``, seeds in order, from a sweep folder (the runs
    its ``plan.json`` lists) or from a folder of executed notebooks (one run each, seed None)."""
    source = Path(source)
    if (source / PLAN_FILE).is_file():
        runs: dict[str, list[tuple[int, dict[str, float]]]] = {}
        for record, metrics in planned_runs(source):
            runs.setdefault(record["notebook"], []).append((record["seed"], metrics))
        return {nb: sorted(pairs, key=lambda p: p[0]) for nb, pairs in sorted(runs.items())}
    return {nb: [(None, m)] for nb, m in load_metrics(source).items()}


def load_runs(source: str | Path) -> dict[str, list[dict[str, float]]]:
    """``{notebook: [metrics of each seed]}``: :func:`load_seeded_runs` without the seeds."""
    return {nb: [m for _, m in pairs] for nb, pairs in load_seeded_runs(source).items()}


def _lower_first(sentence: str) -> str:
    """``sentence`` continued after a comma: its first letter lowered unless it starts an acronym."""
    if len(sentence) > 1 and sentence[1].isupper():
        return sentence
    return sentence[0].lower() + sentence[1:]


CHAPTERS = {"grid_gmm": "Grid", "mnist_fid": "MNIST", "celeba_fid": "CelebA", "clarinet_hmm": "Clarinet",
            "gan_prior": "GAN prior", "wgan_gmm": "WGAN-GMM", "pca_brains": "PCA brains",
            "feature_validation": "Feature check", "prior_zoo": "Prior zoo"}
COLOURS = {REPRODUCED: "#1a7f37", PARTLY: "#9a6700", NOT_REPRODUCED: "#cf222e", NOT_RUN: "#6e7781"}


def badge(verdict: str) -> str:
    """The verdict as a coloured label (inline HTML, readable without colour too)."""
    return (f'<span style="background:{COLOURS[verdict]};color:#fff;border-radius:0.7em;padding:0.1em 0.6em;'
            f'white-space:nowrap;font-weight:600">{verdict}</span>')


def _seeds_cell(row: dict) -> str:
    if row["n"] <= 1:
        return str(row["n"])
    held = sum(v == REPRODUCED for v in row["seed_verdicts"])
    return f"{row['n']} (holds in {held})"


def render(rows: list[dict], profile_note: str, figure: str | None = None) -> str:
    """The claims page in MyST Markdown: a summary line, one row per claim (verdict badge, figure,
    claim, numbers as mean ± std over the seeds, seeds, chapter), the effect figure, the rules."""
    counts = {v: sum(r["verdict"] == v for r in rows) for v in (REPRODUCED, PARTLY, NOT_REPRODUCED, NOT_RUN)}
    n = sorted({r["n"] for r in rows})
    lines = [
        "# Claims and verdicts",
        "",
        "One row per claim of the paper, decided in every seed the build ran. The numbers come from the",
        "executed notebooks' `metrics.json` (mean ± standard deviation over seeds), and the verdicts from",
        "rules written in `twostep/book/rules.py` and tested in `tests/test_claims.py`; nothing on this",
        "page is typed by hand. A claim is *reproduced* when its comparison holds in every seed, *partly*",
        "when in some (or within a stated tolerance), *not reproduced* when in none.",
        "",
        f"```{{note}}\n{profile_note}\n```",
        "",
        " ".join(f"{badge(v)} {counts[v]}" for v in counts if counts[v] or v != NOT_RUN)
        + f" &nbsp; (seeds per claim: {', '.join(map(str, n))})",
        "",
        "| verdict | figure | claim | measured (mean ± std over seeds) | seeds | chapter |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        numbers = r["numbers"]
        if r.get("interval"):
            lo, hi = r["interval"]
            numbers += f"; effect 95% bootstrap interval [{lo:.3g}, {hi:.3g}]"
        if r.get("inception"):
            numbers += f". {inception_note(r['inception'])}"
        chapter = f"{{doc}}`{CHAPTERS.get(r['experiment'], r['experiment'])} <{r['experiment']}>`"
        lines.append(f"| {badge(r['verdict'])} | {r['figure']} | {r['claim']} | {numbers} | {_seeds_cell(r)} | {chapter} |")
    if figure:
        lines += ["", "## Every claim's effect, seed by seed", "",
                  f"```{{figure}} {figure}", ":name: claims-effects", ":width: 100%", "",
                  "Each panel is one claim's effect, one dot per seed and a bar at the mean; the claim's comparison "
                  "holds on the side of the dashed line the arrow points to. Colours are the verdicts above.", "```"]
    lines += seed_by_seed(rows)
    lines += ["", "## How the verdicts are decided", ""]
    for claim in CLAIMS:
        lines.append(f"- {claim.figure}, {_lower_first(claim.statement)} {claim.criterion} "
                     f"Effect plotted: {claim.effect.label}.")
    lines.append("- Inception check: the FID claims of the MNIST and CelebA chapters are decided a second time, by the "
                 "same rule, on Inception FIDs (pytorch-fid's network with the standard TF weights) of the models that "
                 "decide them, at the first seed and on the chapter's `inception_samples` samples per model; the "
                 "measured column says whether that verdict agrees with the offline one of the same run.")
    lines.append("- Over seeds: *reproduced* when every seed's verdict is reproduced, *not reproduced* when none "
                 "reproduces even partly, *partly* otherwise. With 5 seeds or more, the measured column also gives a "
                 "bootstrap 95% interval (scipy's `bootstrap`, percentile method) of the mean effect.")
    return "\n".join(lines) + "\n"


def seed_by_seed(rows: list[dict]) -> list[str]:
    """Markdown lines: for every claim decided on more than one seed, each seed's verdict and the
    numbers its rule used (for a joint claim: which joint model, its epochs, converged or not, in
    that seed); no lines for a single-seed build, whose table above already says it all."""
    if all(r["n"] <= 1 for r in rows):
        return []
    lines = ["", "## Seed by seed", "",
             "Each claim decided in each seed on its own, by the same rule: the verdicts that the table above "
             "combines, and the numbers each seed's rule read (a joint claim names the joint model it chose in that "
             "seed, with its epochs and whether it converged).", ""]
    for r in rows:
        if r["n"] <= 1 or not r["seed_numbers"]:
            continue
        chapter = CHAPTERS.get(r["experiment"], r["experiment"])
        lines += [f"**{chapter}, {r['figure']}**: {r['claim']}", "", "| seed | verdict | measured |", "|---|---|---|"]
        lines += [f"| {seed if seed is not None else '?'} | {badge(v)} | {numbers} |"
                  for seed, v, numbers in zip(r["seeds"], r["seed_verdicts"], r["seed_numbers"], strict=True)]
        lines.append("")
    return lines


def effects_figure(rows: list[dict], path: str | Path) -> Path:
    """One small panel per claim: its effect in each seed (dots), the mean (bar) and the line
    where the claim's comparison starts to hold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = 3
    nrows = math.ceil(len(rows) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(12, 2.1 * nrows), squeeze=False)
    for ax, row, claim in zip(axes.flat, rows, CLAIMS, strict=False):
        effects = row["effects"]
        colour = COLOURS[row["verdict"]]
        if effects:
            y = np.zeros(len(effects)) + np.linspace(-0.15, 0.15, len(effects))
            ax.scatter(effects, y, color=colour, s=28, zorder=3, label="seeds")
            ax.plot([np.mean(effects)] * 2, [-0.35, 0.35], color=colour, lw=3)
        threshold = claim.effect.threshold
        span = [*effects, threshold]
        pad = 0.15 * (max(span) - min(span) or 1.0)
        ax.set_xlim(min(span) - pad, max(span) + 2 * pad)
        ax.axvline(threshold, color="0.3", ls="--", lw=1)
        ax.annotate(" holds →", xy=(threshold, 0.55), fontsize=8, color="0.3", ha="left")
        ax.set_ylim(-0.8, 0.8)
        ax.set_yticks([])
        ax.set_xlabel(claim.effect.label, fontsize=8)
        short = CHAPTERS.get(row["experiment"], row["experiment"])
        ax.set_title(f"{short}, {row['figure']}: {row['verdict']} (n={row['n']})", fontsize=9, color=colour)
        ax.tick_params(labelsize=8)
    for ax in list(axes.flat)[len(rows):]:
        ax.axis("off")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def add_runs_arguments(parser: argparse.ArgumentParser) -> None:
    """``--sweep DIR`` or ``--executed DIR``: where a generated page reads its runs (:func:`load_runs`)."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--sweep", help="sweep folder (plan.json, runs/): every seed of every notebook")
    source.add_argument("--executed", help="folder holding <notebook>/metrics.json (one run per notebook)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the claims page from executed notebooks' metrics.")
    add_runs_arguments(parser)
    parser.add_argument("--out", required=True, help="Markdown file to write (the effect figure goes beside it)")
    parser.add_argument("--profile", default="default", help="the parameter profile the notebooks were executed with")
    parser.add_argument("--require-all", action="store_true",
                        help="exit with an error when a claim is 'not run' (a notebook or a metric is missing)")
    args = parser.parse_args(argv)
    note = ("These notebooks were executed with their `default` profile: reduced settings that run on a 2-core CPU "
            "(shorter training, smaller networks, offline FID features, and at the first seed an Inception check of the "
            "models that decide the FID claims). The `paper` profiles restore the authors' settings for a GPU, where "
            "every model is scored on Inception.") if args.profile == "default" else (
            f"These notebooks were executed with the `{args.profile}` profile.")
    seeded = load_seeded_runs(args.sweep or args.executed)
    rows = evaluate_runs({nb: [m for _, m in pairs] for nb, pairs in seeded.items()},
                         {nb: [seed for seed, _ in pairs] for nb, pairs in seeded.items()})
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure = effects_figure(rows, out.with_name("claims_effects.png"))
    out.write_text(render(rows, note, figure.name))
    for r in rows:
        print(f"{r['verdict']:>15}  n={r['n']}  {r['figure']:<15} {r['claim']}")
    not_run = [r for r in rows if r["verdict"] == NOT_RUN]
    if args.require_all and not_run:
        for r in not_run:
            print(f"not run: {r['experiment']}, {r['figure']}: {r['numbers']}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
