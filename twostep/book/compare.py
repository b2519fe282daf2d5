"""Two builds compared: which metrics a change moved, and whether any claim's verdict moved with them.

A change meant to leave the numbers alone proves itself by identical metrics (``--identical`` exits
with an error on the first difference); a change meant to move them (a new seed rule, a fixed
recipe) shows here that the verdicts hold, seed by seed::

    python -m twostep.book.compare BEFORE AFTER [--out compare.md] [--identical]

``BEFORE`` and ``AFTER`` are sweep folders (every seed of every notebook, as ``nox -s book`` leaves
in ``build/sweep-default``) or folders of executed notebooks (``<notebook>/metrics.json``, as the
smoke runs leave in ``build/smoke``). Runs are matched by notebook and seed.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from twostep.book.claims import evaluate_runs, load_seeded_runs
from twostep.book.rules import NOT_REPRODUCED, NOT_RUN, PARTLY, REPRODUCED, UNDECIDED

Metrics = Mapping[str, float]


@dataclass
class MetricChanges:
    """How one run's metrics differ between two builds."""

    notebook: str
    seed: int | None
    same: int = 0
    changed: list[tuple[str, float, float]] = field(default_factory=list)  # (key, before, after)
    removed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not (self.changed or self.removed or self.added)

    def largest(self) -> tuple[str, float] | None:
        """The changed metric with the largest relative change, and that change."""
        if not self.changed:
            return None
        return max(((key, relative_change(b, a)) for key, b, a in self.changed), key=lambda pair: pair[1])


def _equal(a: float, b: float) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def relative_change(before: float, after: float) -> float:
    """``|after - before| / |before|`` (infinite where ``before`` is 0 and ``after`` is not; NaN
    against a number counts as infinite)."""
    if _equal(before, after):
        return 0.0
    if any(isinstance(v, float) and math.isnan(v) for v in (before, after)) or before == 0:
        return math.inf
    return abs(after - before) / abs(before)


def metric_changes(notebook: str, seed: int | None, before: Metrics, after: Metrics) -> MetricChanges:
    """Every key of two runs' metrics: equal (NaN equals NaN), changed, only before or only after."""
    out = MetricChanges(notebook, seed)
    for key in sorted(set(before) | set(after)):
        if key not in after:
            out.removed.append(key)
        elif key not in before:
            out.added.append(key)
        elif _equal(before[key], after[key]):
            out.same += 1
        else:
            out.changed.append((key, before[key], after[key]))
    return out


@dataclass
class Comparison:
    runs: list[MetricChanges]
    unmatched: list[str]  # runs present in one build only
    claims: list[tuple[dict, dict]]  # (row before, row after) of each claim, as evaluate_runs gives them

    @property
    def identical(self) -> bool:
        return not self.unmatched and all(r.identical for r in self.runs)

    @property
    def verdicts_moved(self) -> list[tuple[dict, dict]]:
        return [(b, a) for b, a in self.claims
                if (b["verdict"], b["seed_verdicts"]) != (a["verdict"], a["seed_verdicts"])]


def _decide(seeded: Mapping[str, Sequence[tuple[int | None, Metrics]]], keep: set[tuple[str, int | None]]) -> list[dict]:
    runs = {nb: [(seed, m) for seed, m in pairs if (nb, seed) in keep] for nb, pairs in seeded.items()}
    return evaluate_runs({nb: [m for _, m in pairs] for nb, pairs in runs.items()},
                         {nb: [0 if seed is None else seed for seed, _ in pairs] for nb, pairs in runs.items()})


def compare(before: str | Path, after: str | Path) -> Comparison:
    """Metric changes of every run both builds have, and each claim decided on those runs in each build."""
    old, new = load_seeded_runs(before), load_seeded_runs(after)
    old_runs = {(nb, seed): m for nb, pairs in old.items() for seed, m in pairs}
    new_runs = {(nb, seed): m for nb, pairs in new.items() for seed, m in pairs}
    both = set(old_runs) & set(new_runs)
    unmatched = [f"{nb}, seed {seed}: only {'before' if (nb, seed) in old_runs else 'after'}"
                 for nb, seed in sorted(set(old_runs) ^ set(new_runs), key=str)]
    runs = [metric_changes(nb, seed, old_runs[nb, seed], new_runs[nb, seed]) for nb, seed in sorted(both, key=str)]
    claims = list(zip(_decide(old, both), _decide(new, both), strict=True))
    return Comparison(runs, unmatched, claims)


LETTERS = {REPRODUCED: "R", PARTLY: "P", UNDECIDED: "U", NOT_REPRODUCED: "N", NOT_RUN: "–"}


def _seeds(row: dict) -> str:
    """Each seed's verdict as a letter (R, P, N), seeds in order."""
    return "/".join(LETTERS[v] for v in row["seed_verdicts"]) or "–"


def render(result: Comparison, before: str, after: str) -> str:
    """The comparison as Markdown: the runs' metric changes, then the claims' verdicts before and after."""
    lines = [f"# Builds compared\n\nBefore: `{before}`; after: `{after}`.\n",
             "## Metrics, run by run\n",
             "| notebook | seed | equal | changed | only before | only after | largest relative change |",
             "|---|---|---|---|---|---|---|"]
    for r in result.runs:
        largest = r.largest()
        text = f"{largest[1]:.1%} ({largest[0]})" if largest else "–"
        lines.append(f"| {r.notebook} | {'–' if r.seed is None else r.seed} | {r.same} | {len(r.changed)} "
                     f"| {len(r.removed)} | {len(r.added)} | {text} |")
    lines += [f"\nRuns in one build only: {'; '.join(result.unmatched)}." if result.unmatched else "",
              "\n## Claims, decided on the runs both builds have\n",
              "| experiment | figure | claim | before | after | seeds before | seeds after | numbers before | numbers after |",
              "|---|---|---|---|---|---|---|---|---|"]
    for b, a in result.claims:
        mark = "" if (b["verdict"], b["seed_verdicts"]) == (a["verdict"], a["seed_verdicts"]) else " **(moved)**"
        lines.append(f"| {a['experiment']} | {a['figure']} | {a['claim']} | {b['verdict']} | {a['verdict']}{mark} "
                     f"| {_seeds(b)} | {_seeds(a)} | {b['numbers']} | {a['numbers']} |")
    moved = result.verdicts_moved
    lines.append(f"\n{len(moved)} of {len(result.claims)} claims moved (verdict over seeds or any seed's verdict); "
                 f"{sum(r.identical for r in result.runs)} of {len(result.runs)} runs have identical metrics.\n")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", help="sweep folder or folder of executed notebooks")
    parser.add_argument("after", help="sweep folder or folder of executed notebooks")
    parser.add_argument("--out", help="also write the comparison to this Markdown file")
    parser.add_argument("--identical", action="store_true",
                        help="exit with an error unless every run's metrics are identical (a number-neutral change)")
    args = parser.parse_args(argv)
    for name in ("before", "after"):
        if not Path(getattr(args, name)).is_dir():
            parser.error(f"{name}={getattr(args, name)!r} is not a folder")
    result = compare(args.before, args.after)
    if not result.runs:
        print("the two builds have no run in common (notebook and seed)", file=sys.stderr)
        return 1
    text = render(result, args.before, args.after)
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    if args.identical and not result.identical:
        for r in result.runs:
            if not r.identical:
                first = (r.changed and r.changed[0][0]) or (r.removed and r.removed[0]) or r.added[0]
                print(f"{r.notebook}, seed {r.seed}: {len(r.changed)} changed, {len(r.removed)} only before, "
                      f"{len(r.added)} only after (first: {first})", file=sys.stderr)
        for line in result.unmatched:
            print(line, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
