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

from twostep.book.intervals import BOOTSTRAP_FROM, MAX_SEEDS, UNDECIDED, decide, mean_interval, seeds_needed
from twostep.book.rules import (
    CLAIMS,
    NOT_REPRODUCED,
    NOT_RUN,
    PARTLY,
    REPRODUCED,
    VERDICTS,
    Claim,
    Comparison,
    Metrics,
    combine_cells,
    run_cells,
    run_verdict,
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


def seed_statistics(runs: Sequence[Metrics]) -> dict[str, Stat]:
    """Every metric that all ``runs`` have, as a :class:`Stat` over them."""
    keys = set(runs[0]).intersection(*runs[1:]) if runs else set()
    return {k: Stat([m[k] for m in runs]) for k in sorted(keys)}


def decide_cells(comparisons: Sequence[Comparison], runs: Sequence[Metrics]) -> list[dict]:
    """Each (comparison, size) of a claim over the seeds' ``runs``: its effects, the interval of
    their mean (:func:`~twostep.book.intervals.mean_interval`), the margin, the verdict
    (:func:`~twostep.book.intervals.decide`) and, for an undecided one, the seeds that would decide
    it at the observed spread. A size counts where every run has it (KeyError when a metric is
    missing)."""
    per_run = [{(i, size): v for i, c in enumerate(comparisons) for size, v in c.compute(m).items()} for m in runs]
    common = [cell for cell in per_run[0] if all(cell in r for r in per_run[1:])]
    cells = []
    for i, size in common:
        c = comparisons[i]
        interval = mean_interval([float(r[(i, size)]) for r in per_run])
        verdict = decide(interval, c.margin, strict=c.strict)
        cells.append({"label": c.label, "size": size, "margin": c.margin, "strict": c.strict, "interval": interval,
                      "verdict": verdict,
                      "seeds_needed": seeds_needed(interval, c.margin) if verdict == UNDECIDED else None})
    return cells


def _has_all(comparisons: Sequence[Comparison] | None, runs: Sequence[Metrics]) -> bool:
    if not comparisons:
        return False
    try:
        return all(run_cells(comparisons, m) for m in runs)
    except KeyError:
        return False


def _decision(claim: Claim, runs: Sequence[Metrics]) -> dict:
    """Which instrument decides the claim over ``runs`` and why: the Inception half where the claim
    is decided on it (CelebA) and every run has it, or (MNIST) where every run has it and its
    verdict differs from the offline one; else the offline measure. Returns the deciding cells and
    instrument, the other instrument's verdict and cells (or None) and a note."""
    offline = decide_cells(claim.comparisons, runs)
    decision = {"instrument": claim.instrument, "cells": offline, "comparisons": claim.comparisons,
                "numbers_of": claim.numbers, "other": None, "note": ""}
    if claim.inception is None:
        return decision
    if not _has_all(claim.inception, runs):
        if claim.inception_decides:
            decision["note"] = (f"decided on {claim.instrument}: {claim.inception_instrument} is missing in some run "
                                "(the chapter's Inception check was skipped)")
        return decision
    standard = decide_cells(claim.inception, runs)
    offline_verdict, standard_verdict = combine_cells([c["verdict"] for c in offline]), combine_cells(
        [c["verdict"] for c in standard])
    if claim.inception_decides or standard_verdict != offline_verdict:
        decision.update(instrument=claim.inception_instrument, cells=standard, comparisons=claim.inception,
                        numbers_of=claim.inception_numbers,
                        other={"instrument": claim.instrument, "verdict": offline_verdict, "cells": offline},
                        note=(f"decided on {claim.inception_instrument}, the standard instrument" if claim.inception_decides
                              else f"decided on {claim.inception_instrument}: {claim.instrument} says {offline_verdict}"))
    else:
        decision["other"] = {"instrument": claim.inception_instrument, "verdict": standard_verdict, "cells": standard}
        decision["note"] = f"{claim.inception_instrument} agrees"
    return decision


def evaluate_runs(runs_by_experiment: Mapping[str, Sequence[Metrics]],
                  seeds: Mapping[str, Sequence[int]] | None = None) -> list[dict]:
    """One row per claim, deciding it over the runs (seeds) of its experiment: experiment, figure,
    claim, n, seeds; the deciding ``instrument`` and its ``cells`` (each comparison at each size:
    effects, mean with its 95% interval, margin, verdict, seeds needed), the claim's ``verdict``
    (:func:`~twostep.book.rules.combine_cells`), the other instrument's verdict where the claim
    has two (``other``) and a ``note``; ``numbers`` (mean ± std over seeds); each seed's own verdict
    and numbers (for a joint claim: the joint model that seed's rule chose, its epochs and whether
    it converged). ``seeds`` names each experiment's runs; without it they are numbered from 0."""
    rows = []
    for claim in CLAIMS:
        runs = list(runs_by_experiment.get(claim.experiment) or [])
        names = list((seeds or {}).get(claim.experiment) or range(len(runs)))
        if len(names) != len(runs):
            raise ValueError(f"{claim.experiment}: {len(runs)} runs but seeds {names}")
        row = {"experiment": claim.experiment, "figure": claim.figure, "claim": claim.statement, "n": len(runs),
               "seeds": names, "seed_verdicts": [], "seed_numbers": [], "cells": [], "instrument": claim.instrument,
               "other": None, "note": ""}
        if not runs:
            row.update(verdict=NOT_RUN, numbers="the notebook's metrics.json was not found")
            rows.append(row)
            continue
        try:
            decision = _decision(claim, runs)
            row["seed_verdicts"] = [run_verdict(decision["comparisons"], m) for m in runs]
            row["seed_numbers"] = [decision["numbers_of"](m) for m in runs]
            row["numbers"] = decision["numbers_of"](seed_statistics(runs))
            if decision["other"] is not None:  # the other instrument's numbers beside
                other = claim.numbers if decision["numbers_of"] is not claim.numbers else claim.inception_numbers
                row["numbers"] += f"; {other(seed_statistics(runs))}"
        except KeyError as missing:
            row.update(verdict=NOT_RUN, numbers=f"metric {missing} is missing")
            rows.append(row)
            continue
        row.update(instrument=decision["instrument"], cells=decision["cells"], other=decision["other"],
                   note=decision["note"])
        if claim.inception is not None:  # how far the two instruments agree, seed by seed
            row["agreement"] = {name: [m.get(f"inception_check.kendall_tau_{name}") for m in runs]
                                for name in ("fid", "kid")}
        row["verdict"] = NOT_RUN if NOT_RUN in row["seed_verdicts"] else combine_cells([c["verdict"] for c in row["cells"]])
        rows.append(row)
    return rows


def evaluate(metrics_by_experiment: Mapping[str, Metrics]) -> list[dict]:
    """:func:`evaluate_runs` with one run per experiment (every verdict over seeds is *undecided*
    at n = 1; each row's ``seed_verdicts`` holds the run's own)."""
    return evaluate_runs({name: [m] for name, m in metrics_by_experiment.items()})


RUN_WORDS = {REPRODUCED: "holds", PARTLY: "holds in part", NOT_REPRODUCED: "does not hold", NOT_RUN: "not run"}


def chapter_summary(experiment: str, metrics: Metrics) -> str:
    """Whether each claim of the paper about ``experiment`` holds in this run (``metrics``), as
    Markdown bullets, by the claims page's comparisons on the instrument that decides it. Chapters
    show this instead of deciding for themselves, so a chapter and the claims page cannot disagree."""
    rows = [r for r in evaluate({experiment: metrics}) if r["experiment"] == experiment]
    if not rows:
        raise KeyError(f"no claim of the paper is about {experiment!r}")
    def line(r: dict) -> str:
        verdict = r["seed_verdicts"][0] if r["seed_verdicts"] else NOT_RUN
        effects = "; ".join(f"{c['label']}{_size(c)} {c['interval'].mean:.3g} (claim's side: {_side(c)})"
                            for c in r["cells"])
        return (f"- **{r['figure']}, {RUN_WORDS[verdict]} in this run** ({r['instrument']}): {_lower_first(r['claim'])} "
                f"Measured: {r['numbers']}." + (f" Effects: {effects}." if effects else "")
                + (f" {r['note'][0].upper()}{r['note'][1:]}." if r["note"] else ""))
    return "\n".join(line(r) for r in rows) + (
        "\n\nThis is one seed; the claims page decides each claim over every seed of the build, by the interval of "
        "each effect's mean against the claim's margin.")


def _size(cell: dict) -> str:
    return f" at {cell['size']}" if cell["size"] else ""


def _side(cell: dict) -> str:
    """The claim's side of a comparison's margin: ``> 0``, ``≥ -10``."""
    return f"{'>' if cell['strict'] else '≥'} {cell['margin']:g}"


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
COLOURS = {REPRODUCED: "#1a7f37", PARTLY: "#9a6700", UNDECIDED: "#0969da", NOT_REPRODUCED: "#cf222e",
           NOT_RUN: "#6e7781"}


def badge(verdict: str) -> str:
    """The verdict as a coloured label (inline HTML, readable without colour too)."""
    return (f'<span style="background:{COLOURS[verdict]};color:#fff;border-radius:0.7em;padding:0.1em 0.6em;'
            f'white-space:nowrap;font-weight:600">{verdict}</span>')


def cell_text(cell: dict) -> str:
    """One effect in words: ``label at size: mean [low, high] vs margin``, and for an undecided one
    the seeds that would decide it."""
    text = f"{cell['label']}{_size(cell)}: {cell['interval'].describe()}, claim's side {_side(cell)}"
    if cell["verdict"] == UNDECIDED:
        needed = cell["seeds_needed"]
        text += (" — undecided; " + ("no number of seeds decides it at this spread (its mean is on the margin or "
                                     "there is one seed)" if needed is None else
                                     f"about {needed} seeds would decide it at the observed spread"
                                     if needed <= MAX_SEEDS else f"more than {MAX_SEEDS} seeds would be needed"))
    return text


def _effect_cell(row: dict) -> str:
    """The claims table's effect column: each cell's mean and interval against its margin, short."""
    if not row["cells"]:
        return "–"
    def short(c: dict) -> str:
        i = c["interval"]
        span = f"{i.mean:.3g}" if i.method == "none" else f"{i.mean:.3g} [{i.low:.3g}, {i.high:.3g}]"
        mark = {REPRODUCED: "✓", NOT_REPRODUCED: "✗", UNDECIDED: "?"}[c["verdict"]]
        return f"{mark} {c['label']}{_size(c)}: {span} vs {_side(c)}"
    return "<br>".join(short(c) for c in row["cells"])


def seeds_to_decide(row: dict) -> int | None:
    """Seeds that would decide every undecided cell of an undecided claim at the observed spread
    (the most any cell needs); None when some cell cannot be decided by more seeds."""
    needed = [c["seeds_needed"] for c in row["cells"] if c["verdict"] == UNDECIDED]
    return None if not needed or None in needed else max(needed)


def render(rows: list[dict], profile_note: str, figure: str | None = None) -> str:
    """The claims page in MyST Markdown, without the secondary sidebar (its table gets the page's
    width): a summary line; one short row per claim in three columns (verdict and seeds; chapter and
    claim; effects with their intervals against the margins, and the instrument); the forest plot;
    each claim's details folded (numbers, the other instrument, the undecided ones' seeds, seed by
    seed); the rules."""
    counts = {v: sum(r["verdict"] == v for r in rows) for v in VERDICTS}
    lines = [
        "---",
        "html_theme.sidebar_secondary.remove: true",
        "---",
        "",
        "# Claims and verdicts",
        "",
        "One row per claim of the paper, decided over every seed the build ran. Each claim is one or more",
        "comparisons, each an effect per seed (models of one seed are paired: the same data split and step-1",
        "model), oriented so that the claim holds above its margin. A comparison is **reproduced** when the 95%",
        f"interval of its mean effect over seeds lies on the claim's side of the margin (Student's t below {BOOTSTRAP_FROM}",
        f"seeds, a bootstrap of the mean from {BOOTSTRAP_FROM}), **not reproduced** when on the other side, **undecided**",
        "when it spans the margin. A claim is reproduced (or not) when all its comparisons are, **partly** when some",
        "are clearly reproduced and others clearly not (at some component counts, or by some measures: a finding,",
        "not noise), undecided otherwise. The numbers come from the executed notebooks' `metrics.json` and the",
        "rules from `twostep/book/rules.py` (tested in `tests/test_claims.py`); nothing here is typed by hand.",
        "",
        f"```{{note}}\n{profile_note}\n```",
        "",
        " ".join(f"{badge(v)} {counts[v]}" for v in counts if counts[v] or v not in (NOT_RUN, UNDECIDED))
        + f" &nbsp; (seeds per claim: {', '.join(map(str, sorted({r['n'] for r in rows})))})",
        "",
        "````{container} wide-table",  # the article takes the removed sidebar's width too (book/_static/twostep.css)
        "| verdict | claim | effect: mean [95% interval] vs margin |",
        "|---|---|---|",
    ]
    for r in rows:
        chapter = f"{{doc}}`{CHAPTERS.get(r['experiment'], r['experiment'])}, {r['figure']} <{r['experiment']}>`"
        alone = f" (in it: {RUN_WORDS[r['seed_verdicts'][0]]})" if r["n"] == 1 and r["seed_verdicts"] else ""
        seeds = f"{r['n']} seed{'' if r['n'] == 1 else 's'}{alone}"
        lines.append(f"| {badge(r['verdict'])}<br><small>{seeds}</small> | {chapter}: {r['claim']} | {_effect_cell(r)}"
                     f"<br><small>on {r['instrument']}</small> |")
    lines.append("````")
    if figure:
        lines += ["", "## Every effect against its margin", "",
                  f"```{{figure}} {figure}", ":name: claims-effects", ":width: 100%", "",
                  "A forest plot: each panel is one comparison of a claim, one line per size; dots are seeds, the bar "
                  "the 95% interval of the mean (the diamond), the dashed line the claim's margin, and the claim holds "
                  "to its right. Colours are the comparisons' verdicts.", "```"]
    lines += ["", "## Claim by claim", "", "Each claim's numbers, its effects in words, the other instrument and "
              "every seed's verdict (open a claim to read them).", ""]
    for r in rows:
        lines += details(r)
    lines += ["", "## How the verdicts are decided", ""]
    for claim in CLAIMS:
        lines.append(f"- {claim.figure}, {_lower_first(claim.statement)} {claim.criterion} Instrument: "
                     f"{claim.instrument}" + (f" ({claim.inception_instrument} decides)" if claim.inception_decides else
                                              f" ({claim.inception_instrument} decides where the two disagree)"
                                              if claim.inception else "") + ".")
    lines.append("- Inception: the chapters' Inception check scores the models that decide the MNIST and CelebA claims "
                 "on the standard FID network (pytorch-fid's InceptionV3 with the TF weights) at every seed, and its "
                 "KID (unbiased at any sample size) decides the CelebA claims, whose offline network disagrees with "
                 "Inception (the CelebA chapter says why), and the MNIST claims where the two instruments' verdicts "
                 "differ.")
    return "\n".join(lines) + "\n"


def details(row: dict) -> list[str]:
    """A claim's details on the claims page: its numbers (mean ± std over seeds), each effect with
    its interval and verdict, the other instrument's verdict, and each seed's verdict and numbers."""
    chapter = CHAPTERS.get(row["experiment"], row["experiment"])
    lines = [f"````{{dropdown}} {chapter}, {row['figure']}: {row['verdict']}", "", row["claim"], "",
             f"- Instrument: {row['instrument']}" + (f" ({row['note']})" if row["note"] else "") + ".",
             f"- Measured (mean ± std over {row['n']} seed(s)): {row['numbers']}."]
    lines += [f"- {c['verdict']}: {cell_text(c)}." for c in row["cells"]]
    if row["verdict"] == UNDECIDED:
        need = seeds_to_decide(row)
        say = ("none would, at this spread" if need is None else
               f"more than {MAX_SEEDS} (a mean this close to the margin)" if need > MAX_SEEDS else f"about {need}")
        lines.append(f"- Seeds to decide it: {say} (now {row['n']}).")
    if row.get("other"):
        other = row["other"]
        lines.append(f"- On {other['instrument']}: {other['verdict']} ("
                     + "; ".join(cell_text(c) for c in other["cells"]) + ").")
    if row.get("agreement"):
        def taus(values):
            return " / ".join("not run" if v is None else f"{v:.2f}" for v in values)
        lines.append(f"- Kendall's τ of the offline distance against Inception over the checked models, seed by seed: "
                     f"FID {taus(row['agreement']['fid'])}; KID {taus(row['agreement']['kid'])}.")
    if row["n"] > 1 and row["seed_numbers"]:
        lines += ["", "| seed | in this seed | measured |", "|---|---|---|"]
        lines += [f"| {seed if seed is not None else '?'} | {RUN_WORDS[v]} | {numbers} |"
                  for seed, v, numbers in zip(row["seeds"], row["seed_verdicts"], row["seed_numbers"], strict=True)]
    return lines + ["````", ""]


def forest_figure(rows: list[dict], path: str | Path) -> Path:
    """A forest plot: one panel per comparison of each claim, one line per size: the seeds' effects
    (dots), the mean (diamond) with its 95% interval (bar) and the margin (dashed)."""
    import matplotlib.pyplot as plt

    panels = []
    for row in rows:
        by_label: dict[str, list[dict]] = {}
        for c in row["cells"]:
            by_label.setdefault(c["label"], []).append(c)
        panels += [(row, label, cells) for label, cells in by_label.items()]
    cols = 4
    nrows = max(1, math.ceil(len(panels) / cols))
    fig, axes = plt.subplots(nrows, cols, figsize=(16, 1.9 * nrows + 0.4), squeeze=False)
    for ax, (row, label, cells) in zip(axes.flat, panels, strict=False):
        span = [cells[0]["margin"]]
        for y, c in enumerate(cells):
            i, colour = c["interval"], COLOURS[c["verdict"]]
            ax.scatter(i.values, [y] * i.n, color="0.55", s=12, zorder=2)
            if i.method != "none":
                ax.plot([i.low, i.high], [y, y], color=colour, lw=3, zorder=3)
                span += [i.low, i.high]
            ax.scatter([i.mean], [y], color=colour, marker="D", s=36, zorder=4)
            span += list(i.values)
        ax.axvline(cells[0]["margin"], color="0.3", ls="--", lw=1)
        pad = 0.12 * (max(span) - min(span) or 1.0)
        ax.set_xlim(min(span) - pad, max(span) + pad)
        ax.set_ylim(-0.7, len(cells) - 0.3)
        ax.set_yticks(range(len(cells)), [c["size"] or "" for c in cells], fontsize=8)
        ax.set_xlabel(label, fontsize=8)
        short = CHAPTERS.get(row["experiment"], row["experiment"])
        ax.set_title(f"{short}, {row['figure']}: {row['verdict']} (n={row['n']})", fontsize=9,
                     color=COLOURS[row["verdict"]])
        ax.tick_params(axis="x", labelsize=8)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
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
            "(shorter training, smaller networks, offline FID features beside an Inception check, at every seed, of the "
            "models that decide the FID claims). The `paper` profiles restore the authors' settings for a GPU, where "
            "every model is scored on Inception.") if args.profile == "default" else (
            f"These notebooks were executed with the `{args.profile}` profile.")
    seeded = load_seeded_runs(args.sweep or args.executed)
    rows = evaluate_runs({nb: [m for _, m in pairs] for nb, pairs in seeded.items()},
                         {nb: [seed for seed, _ in pairs] for nb, pairs in seeded.items()})
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure = forest_figure(rows, out.with_name("claims_effects.png"))
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
    import matplotlib

    matplotlib.use("Agg")  # a page generator run as a program: files only, whatever the display
    raise SystemExit(main())
