"""What a sweep's user sees coming: the plan with an estimate, and progress inside each run.

* **Estimates** come from earlier complete runs of the same notebook and profile in the sweep
  folder (their ``run.json`` seconds and their executed cells' durations), else from
  ``notebooks/timings.yaml`` (seconds per run measured by ``benchmarks/book_profile.py --write``
  on the machine it names), else they are unknown and said to be.
* **Progress inside a run**: papermill saves the executing notebook after every cell, each code
  cell with ``metadata.papermill.status`` (``pending``, ``running``, ``completed``). A
  :class:`ProgressMonitor` thread reads the in-flight attempts' notebooks (``runs/<nb>/.<key>-attempt-*/``)
  and prints cells done of total, with the time left estimated from an earlier run's cell durations.
  It only reads files, so it needs the sweep folder on this machine's file system (a remote Dask
  cluster writing to a shared folder works too).
"""

from __future__ import annotations

import json
import statistics
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

TIMINGS_FILE = "timings.yaml"  # in notebooks/: measured seconds per run, by notebook and profile


def cell_states(notebook: Path) -> list[tuple[str, float | None]] | None:
    """``(status, seconds)`` of every code cell of a notebook papermill is executing or executed,
    in order (for a running cell, the seconds since it started); None when the file is missing or
    half-written (papermill rewrites it in place)."""
    try:
        nb = json.loads(Path(notebook).read_text())
    except (OSError, ValueError):
        return None
    out = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        meta = cell.get("metadata", {}).get("papermill", {})
        status, seconds = meta.get("status", "pending"), meta.get("duration")
        if status == "running" and meta.get("start_time"):
            started = datetime.fromisoformat(meta["start_time"].replace("Z", "+00:00"))
            seconds = (datetime.now(UTC) - started.replace(tzinfo=started.tzinfo or UTC)).total_seconds()
        out.append((status, seconds))
    return out


def cell_durations(notebook: Path) -> list[float] | None:
    """Seconds of every code cell of a complete executed notebook (None if any is missing)."""
    states = cell_states(notebook)
    if not states or any(s != "completed" or d is None for s, d in states):
        return None
    return [float(d) for _, d in states]


def run_kind(profile: str, parameters: dict[str, Any]) -> str:
    """What a run's time depends on besides its notebook: its profile, and whether it leaves out
    the chapter's illustrations (``illustrate=False``, the book's seeds after the first)."""
    return profile if parameters.get("illustrate", True) else f"{profile} without illustrations"


def committed_timings(root: Path) -> dict[str, dict[str, float]]:
    """``notebooks/timings.yaml``: {notebook: {profile: seconds}} (measured, see its header)."""
    file = Path(root) / "notebooks" / TIMINGS_FILE
    if not file.is_file():
        return {}
    data = yaml.safe_load(file.read_text()) or {}
    return {nb: {p: float(s) for p, s in (v or {}).items() if p != "machine"} for nb, v in data.get("seconds", {}).items()}


@dataclass
class History:
    """Earlier complete runs of a sweep folder, by (notebook, profile): their seconds and the cell
    durations of the latest one (cells of a notebook whose cells changed do not match: then only
    the run's total is used)."""

    seconds: dict[tuple[str, str], list[float]]
    cells: dict[tuple[str, str], list[float]]

    @classmethod
    def read(cls, out: Path) -> History:
        seconds: dict[tuple[str, str], list[float]] = {}
        cells: dict[tuple[str, str], tuple[float, list[float]]] = {}
        for run_file in sorted(Path(out).glob("runs/*/*/run.json")):
            if run_file.parent.name.startswith("."):
                continue
            try:
                record = json.loads(run_file.read_text())
            except ValueError:
                continue
            if record.get("status") != "ok" or "seconds" not in record:
                continue
            key = (record["notebook"], run_kind(record.get("profile", "default"), record.get("parameters", {})))
            seconds.setdefault(key, []).append(float(record["seconds"]))
            durations = cell_durations(run_file.parent / f"{record['notebook']}.ipynb")
            mtime = run_file.stat().st_mtime
            if durations and (key not in cells or mtime > cells[key][0]):
                cells[key] = (mtime, durations)
        return cls(seconds, {k: v for k, (_, v) in cells.items()})


def estimate_seconds(notebook: str, kind: str, history: History, committed: dict[str, dict[str, float]]
                     ) -> tuple[float | None, str]:
    """A run's expected seconds and where the figure comes from; ``kind`` is :func:`run_kind`'s."""
    earlier = history.seconds.get((notebook, kind))
    if earlier:
        return statistics.median(earlier), f"{len(earlier)} earlier run(s) here"
    if kind in committed.get(notebook, {}):
        return committed[notebook][kind], "notebooks/timings.yaml"
    return None, "no earlier run"


def format_minutes(seconds: float | None) -> str:
    return "?" if seconds is None else f"{seconds / 60:.1f} min"


def plan_text(specs: Sequence[Any], done: set[str], history: History, committed: dict[str, dict[str, float]],
              workers: int) -> str:
    """The sweep's plan in words: per notebook and kind of run (:func:`run_kind`), its seeds, how
    many runs are left, the estimated minutes of each and in all, and the wall time on ``workers``
    workers."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    total, unknown = 0.0, 0
    for spec in specs:
        kind = run_kind(spec.profile, spec.parameters)
        row = rows.setdefault((spec.notebook, kind), {"seeds": [], "todo": 0, "each": None, "source": ""})
        row["seeds"].append(spec.seed)
        if spec.key in done:
            continue
        row["todo"] += 1
        row["each"], row["source"] = estimate_seconds(spec.notebook, kind, history, committed)
        if row["each"] is None:
            unknown += 1
        else:
            total += row["each"]
    lines = [f"{'notebook':<20} {'run':<30} {'seeds':<10} {'to run':>6} {'each':>9}  estimate from"]
    for (name, kind), row in rows.items():
        each = format_minutes(row["each"]) if row["todo"] else "done"
        lines.append(f"{name:<20} {kind:<30} {','.join(map(str, row['seeds'])):<10} {row['todo']:>6} {each:>9}  "
                     f"{row['source'] if row['todo'] else ''}")
    todo = sum(r["todo"] for r in rows.values())
    text = (f"plan: {todo} of {len(specs)} runs to execute; estimated {total / 60:.0f} min of runs"
            + (f" (+ {unknown} run(s) without an estimate)" if unknown else "")
            + f", about {total / 60 / max(1, workers):.0f} min of wall time on {workers} worker(s)")
    return "\n".join([*lines, text])


class ProgressMonitor(threading.Thread):
    """Every ``interval`` seconds, one line per run in flight: cells done of total and the time
    left estimated from an earlier run's cell durations (or its total seconds)."""

    def __init__(self, out: Path, specs: Sequence[Any], history: History, committed: dict[str, dict[str, float]],
                 *, interval: float = 60.0, write: Callable[[str], None] | None = None):
        super().__init__(daemon=True, name="sweep-progress")
        self.out, self.history, self.committed = Path(out), history, committed
        self.specs = {s.key: s for s in specs}
        self.interval = interval
        self.write = write or (lambda line: print(line, file=sys.stdout, flush=True))
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            for line in self.lines():
                self.write(line)

    def lines(self) -> list[str]:
        out = []
        for attempt in sorted(self.out.glob("runs/*/.*-attempt-*")):
            key = attempt.name[1:].split("-attempt-")[0]
            spec = self.specs.get(key)
            if spec is None:
                continue
            states = cell_states(attempt / f"{spec.notebook}.ipynb")
            if not states:
                continue
            done = sum(s == "completed" for s, _ in states)
            out.append(f"  {spec.label()}: cell {done} of {len(states)} done{self._left(spec, states, attempt)}")
        return out

    def _left(self, spec: Any, states: list[tuple[str, float | None]], attempt: Path) -> str:
        kind = run_kind(spec.profile, spec.parameters)
        cells = self.history.cells.get((spec.notebook, kind))
        if cells and len(cells) == len(states):
            left = sum(max(0.0, d - (ran or 0.0)) if s == "running" else d
                       for (s, ran), d in zip(states, cells, strict=True) if s != "completed")
            return f", about {format_minutes(left)} left"
        seconds, _ = estimate_seconds(spec.notebook, kind, self.history, self.committed)
        if seconds is None:
            return ""
        elapsed = sum(d or 0.0 for _, d in states)
        return f", about {format_minutes(max(0.0, seconds - elapsed))} left"
