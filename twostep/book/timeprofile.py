"""Where a book build's time goes: per notebook, per cell and per phase (training, prior fitting,
scoring, data loading, the rest), read from a sweep's runs.

Each run of a sweep leaves ``run.json`` (its wall seconds), its executed notebook (papermill's
seconds per cell) and ``profile.json`` (each cell's seconds by phase, recorded by
:mod:`twostep.core.profiling`). A run's seconds outside its cells (kernel start, papermill) count
as "rest". Runs made before ``profile.json`` existed give their cells' seconds but no phases (all
"unsplit").

    python benchmarks/book_profile.py build/sweep-default                  # tables
    python -m twostep.book.timeprofile --sweep build/sweep-default --out book/executed   # book page parts
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twostep.core.profiling import PHASES, PROFILE_FILE
from twostep.sweep.progress import cell_states, run_kind
from twostep.sweep.tables import read_plan

CATEGORIES = (*PHASES, "rest", "unsplit")
# A measured profile of an earlier commit, kept as the "before" of the book's figure.
BEFORE_FILE = Path(__file__).resolve().parent / "profile_before.json"


@dataclass
class RunProfile:
    """One run: its wall seconds and, per code cell, seconds by category."""

    notebook: str
    seed: int
    seconds: float
    cells: list[dict[str, Any]] = field(default_factory=list)  # index, first line, seconds, categories
    kind: str = "default"  # the profile, and whether the run left out the chapter's illustrations

    def totals(self) -> dict[str, float]:
        """Seconds by category over the whole run (kernel start and papermill in "rest")."""
        out = dict.fromkeys(CATEGORIES, 0.0)
        for cell in self.cells:
            for c in CATEGORIES:
                out[c] += cell.get(c, 0.0)
        out["rest"] += max(0.0, self.seconds - sum(cell["seconds"] for cell in self.cells))
        return out

    def as_json(self) -> dict[str, Any]:
        return {"notebook": self.notebook, "seed": self.seed, "seconds": self.seconds,
                "totals": {k: round(v, 1) for k, v in self.totals().items()}}


def read_run(folder: Path) -> RunProfile | None:
    """The profile of one complete run folder of a sweep (None when it is not complete)."""
    record_file = folder / "run.json"
    if not record_file.is_file():
        return None
    record = json.loads(record_file.read_text())
    if record.get("status") != "ok":
        return None
    notebook = record["notebook"]
    run = _profile(notebook, int(record.get("seed", 0)), folder / f"{notebook}.ipynb", folder / PROFILE_FILE,
                   float(record.get("seconds", 0.0)))
    run.kind = run_kind(record.get("profile", "default"), record.get("parameters", {}))
    return run


def _profile(notebook: str, seed: int, nb_file: Path, phases_file: Path, seconds: float | None) -> RunProfile:
    nb = json.loads(nb_file.read_text()) if nb_file.is_file() else {"cells": []}
    by_count = {c["execution_count"]: c for c in json.loads(phases_file.read_text())} if phases_file.is_file() else {}
    states = cell_states(nb_file) or []
    code = [c for c in nb["cells"] if c.get("cell_type") == "code"]
    cells = []
    for index, (cell, (_, duration)) in enumerate(zip(code, states, strict=False)):
        duration = float(duration or 0.0)
        source = "".join(cell.get("source", "")) if isinstance(cell.get("source"), list) else cell.get("source", "")
        row: dict[str, Any] = {"index": index, "line": next((l for l in source.splitlines() if l.strip()
                                                              and not l.startswith("#")), "")[:70],
                               "seconds": duration}
        phases = by_count.get(cell.get("execution_count"))
        if phases:
            split = {p: min(duration, float(phases.get(p, 0.0))) for p in PHASES}
            row.update(split, rest=max(0.0, duration - sum(split.values())))
        elif by_count:  # a cell before the recording started (the parameters): the rest
            row["rest"] = duration
        else:
            row["unsplit"] = duration
        cells.append(row)
    total = sum(c["seconds"] for c in cells) if seconds is None else seconds
    return RunProfile(notebook, seed, total, cells)


def read_executed(folder: Path) -> list[RunProfile]:
    """The profiles of a folder of executed notebooks (``<nb>.ipynb`` beside its output folder
    ``<nb>/``, as the book's chapters and the smoke tests leave them); a run's seconds are its
    ``execution_report.json`` row's when there is one, else the sum of its cells'."""
    folder = Path(folder)
    report_file = folder / "execution_report.json"
    report = json.loads(report_file.read_text()) if report_file.is_file() else []
    seconds = {r["notebook"]: (r.get("seed", 0), r["seconds"]) for r in report if r.get("chapter", True)
               and r.get("status") == "ok"}
    runs = []
    for nb_file in sorted(folder.glob("*.ipynb")):
        seed, total = seconds.get(nb_file.stem, (0, None))
        runs.append(_profile(nb_file.stem, seed, nb_file, folder / nb_file.stem / PROFILE_FILE, total))
    return runs


def read_sweep(sweep: Path) -> list[RunProfile]:
    """The profiles of the complete runs of a sweep folder's plan."""
    out = []
    for row in read_plan(sweep):
        run = read_run(Path(sweep) / "runs" / row["notebook"] / row["key"])
        if run is not None:
            out.append(run)
    return out


def _label(run: RunProfile) -> str:
    suffix = " without illustrations"
    return run.notebook + (", without illustrations" if run.kind.endswith(suffix) else "")


def by_notebook(runs: list[RunProfile]) -> dict[str, dict[str, float]]:
    """Per notebook (and, apart, its runs without illustrations: the book's later seeds): the mean
    seconds of a run by category, and ``seconds`` (the mean wall time of a run)."""
    groups: dict[str, list[RunProfile]] = {}
    for run in runs:
        groups.setdefault(_label(run), []).append(run)
    out = {}
    for name, group in groups.items():
        totals = [r.totals() for r in group]
        out[name] = {c: statistics.mean(t[c] for t in totals) for c in CATEGORIES}
        out[name]["seconds"] = statistics.mean(r.seconds for r in group)
        out[name]["runs"] = len(group)
    return out


def per_seed(runs: list[RunProfile]) -> dict[int, list[RunProfile]]:
    out: dict[int, list[RunProfile]] = {}
    for run in runs:
        out.setdefault(run.seed, []).append(run)
    return out


def table(runs: list[RunProfile], *, top_cells: int = 0) -> str:
    """A Markdown table: per notebook, the mean minutes of a run and its split by category; with
    ``top_cells``, each notebook's slowest cells (of its first seed's run)."""
    summary = by_notebook(runs)
    cats = [c for c in CATEGORIES if any(s[c] > 0 for s in summary.values())]
    lines = ["| notebook | runs | minutes per run | " + " | ".join(cats) + " |",
             "|---|---:|---:|" + "---:|" * len(cats)]
    for name, s in sorted(summary.items(), key=lambda kv: -kv[1]["seconds"]):
        lines.append(f"| {name} | {s['runs']:.0f} | {s['seconds'] / 60:.1f} | "
                     + " | ".join(f"{100 * s[c] / max(s['seconds'], 1e-9):.0f}%" for c in cats) + " |")
    for seed, seed_runs in sorted(per_seed(runs).items()):
        total = sum(r.seconds for r in seed_runs)
        split = {c: sum(r.totals()[c] for r in seed_runs) for c in cats}
        lines.append(f"| **seed {seed}: {len(seed_runs)} runs** | | **{total / 60:.1f}** | "
                     + " | ".join(f"{100 * split[c] / max(total, 1e-9):.0f}%" for c in cats) + " |")
    if top_cells:
        first = {}
        for run in sorted(runs, key=lambda r: r.seed):
            first.setdefault(run.notebook, run)
        lines += ["", "| notebook | cell | seconds | split | first line |", "|---|---:|---:|---|---|"]
        for name, run in sorted(first.items()):
            for cell in sorted(run.cells, key=lambda c: -c["seconds"])[:top_cells]:
                split = ", ".join(f"{c} {cell[c]:.0f}" for c in CATEGORIES if cell.get(c, 0) >= 0.5)
                lines.append(f"| {name} | {cell['index']} | {cell['seconds']:.0f} | {split} | "
                             f"`{cell['line'].replace('|', '/')}` |")
    return "\n".join(lines)


def figure(runs: list[RunProfile], before: dict[str, Any] | None = None, *, title: str):
    """Horizontal bars: per notebook, the mean seconds of a run split by category; with
    ``before`` (a record written by :func:`record`), that build's seconds per run as an outline."""
    import matplotlib.pyplot as plt

    summary = by_notebook(runs)
    names = sorted(summary, key=lambda n: summary[n]["seconds"])
    colours = dict(zip(CATEGORIES, ("C0", "C1", "C2", "C4", "0.6", "0.85"), strict=True))
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(names) + 2.0))
    left = [0.0] * len(names)
    for c in CATEGORIES:
        widths = [summary[n][c] / 60 for n in names]
        if any(widths):
            ax.barh(names, widths, left=left, color=colours[c], label=c, height=0.6)
            left = [a + b for a, b in zip(left, widths, strict=True)]
    if before:
        old = {row["notebook"]: row["seconds"] / 60 for row in before["notebooks"]}
        ax.barh([n for n in names if n in old], [old[n] for n in names if n in old], fill=False, edgecolor="k",
                height=0.8, lw=1, ls="--", label=f"before ({before.get('short', before['label'])})")
    ax.set_xlabel("minutes per run (mean over the runs of its kind)")
    ax.set_title(title)
    fig.legend(*ax.get_legend_handles_labels(), fontsize=8, loc="lower center", ncol=4, frameon=False)
    fig.tight_layout(rect=(0, 0.9 / fig.get_figheight(), 1, 1))
    return fig


def record(runs: list[RunProfile], label: str, machine: str) -> dict[str, Any]:
    """A JSON-able record of a build's profile (what :data:`BEFORE_FILE` holds)."""
    summary = by_notebook(runs)
    return {"label": label, "machine": machine,
            "notebooks": [{"notebook": n, "seconds": round(s["seconds"], 1), "runs": s["runs"],
                           **{c: round(s[c], 1) for c in CATEGORIES}} for n, s in sorted(summary.items())]}


def page_section(runs: list[RunProfile], out: Path, *, before: dict[str, Any] | None = None) -> str:
    """The profile's figure (``out/time_profile.png``) and table in Markdown, for the book."""
    fig = figure(runs, before, title="Where a seed's time goes (this build)")
    fig.savefig(out / "time_profile.png", dpi=110, bbox_inches="tight")
    seeds = per_seed(runs)
    lines = ["Minutes of runs per seed in this build: " + ", ".join(
        f"seed {seed} {sum(r.seconds for r in rs) / 60:.1f}" for seed, rs in sorted(seeds.items())) + ".",
             "", "![Minutes per run of each notebook, split by phase](time_profile.png)", "",
             table(runs), ""]
    if before:
        old = sum(r["seconds"] for r in before["notebooks"]) / 60
        lines.insert(1, f"The dashed outlines are {before['label']}: {old:.1f} minutes per seed, measured on "
                        f"{before['machine']}.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m twostep.book.timeprofile", description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--sweep", help="the build's sweep folder (every seed's runs)")
    source.add_argument("--executed", help="a folder of executed notebooks (one run each)")
    parser.add_argument("--out", required=True, help="folder for time_profile.md and time_profile.png")
    parser.add_argument("--profile", default="default",
                        help="the build's profile: the earlier measurement is shown beside the default profile only")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    before = json.loads(BEFORE_FILE.read_text()) if BEFORE_FILE.is_file() and args.profile == "default" else None
    runs = read_sweep(Path(args.sweep)) if args.sweep else read_executed(Path(args.executed))
    (out / "time_profile.md").write_text(page_section(runs, out, before=before) + "\n")
    print(f"wrote {out / 'time_profile.md'} and {out / 'time_profile.png'} ({len(runs)} runs)")
    return 0


if __name__ == "__main__":
    import matplotlib

    matplotlib.use("Agg")  # a page generator run as a program: files only, whatever the display
    sys.exit(main())
