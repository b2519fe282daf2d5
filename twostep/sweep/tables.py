"""The sweep's tables: ``results.csv`` (tidy: one row per run and metric) and ``summary.csv`` (per
notebook, parameter combination and metric: n, mean, std, min, max over the seeds), written
atomically (to a temporary file, then renamed) so a reader never sees half a table."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from twostep.core.files import atomic_write_bytes

ID_COLUMNS = ["notebook", "key", "seed"]
PLAN_FILE = "plan.json"  # the runs of the folder's latest sweep, which its tables and the book use
SUMMARY_STATS = ["n", "mean", "std", "min", "max"]


def _cell(value: Any) -> Any:
    """Parameter values as table cells: lists and dicts as JSON text, so they group and compare."""
    return json.dumps(value, sort_keys=True) if isinstance(value, list | dict | tuple) else value


def results_frame(runs: Iterable[tuple[dict[str, Any], dict[str, float]]]) -> pd.DataFrame:
    """The tidy table from ``(run record, metrics)`` pairs: notebook, key, seed, every parameter
    (``param.<name>``), metric, value. Output paths are not parameters of the experiment."""
    rows = []
    for record, metrics in runs:
        params = {f"param.{k}": _cell(v) for k, v in sorted(record["parameters"].items())
                  if k not in ("seed", "output_dir")}
        for metric, value in sorted(metrics.items()):
            rows.append({"notebook": record["notebook"], "key": record["key"], "seed": record["seed"], **params,
                         "metric": metric, "value": float(value)})
    if not rows:
        return pd.DataFrame(columns=[*ID_COLUMNS, "metric", "value"])
    frame = pd.DataFrame(rows)
    params = sorted(c for c in frame.columns if c.startswith("param."))
    return frame[[*ID_COLUMNS, *params, "metric", "value"]]


def summary_frame(results: pd.DataFrame) -> pd.DataFrame:
    """Per notebook, parameter combination (every ``param.`` column) and metric: n, mean, std
    (ddof 1; empty for one seed), min, max over the seeds."""
    if results.empty:
        return pd.DataFrame(columns=["notebook", "metric", *SUMMARY_STATS])
    params = [c for c in results.columns if c.startswith("param.")]
    groups = []
    for notebook, part in results.groupby("notebook", sort=True):
        used = [c for c in params if part[c].notna().any()]
        keys = ["notebook", *used, "metric"]
        filled = part.assign(**{c: part[c].astype(str) for c in used})  # NaN-safe grouping of mixed types
        stats = filled.groupby(keys, sort=True)["value"].agg(["count", "mean", "std", "min", "max"]).reset_index()
        groups.append(stats.rename(columns={"count": "n"}))
    summary = pd.concat(groups, ignore_index=True)
    cols = ["notebook", *[c for c in summary.columns if c.startswith("param.")], "metric", *SUMMARY_STATS]
    return summary[cols]


def _write_atomic(frame: pd.DataFrame, path: Path) -> None:
    atomic_write_bytes(path, frame.to_csv(index=False).encode())


def completed_runs(out: Path, keys: Iterable[tuple[str, str]] | None = None):
    """``(record, metrics)`` of every complete run in ``out/runs`` (or of the given (notebook, key) pairs)."""
    folders = ([Path(out) / "runs" / nb / key for nb, key in keys] if keys is not None
               else sorted(p for p in (Path(out) / "runs").glob("*/*") if not p.name.startswith(".")))
    for folder in folders:
        run_file, metrics_file = folder / "run.json", folder / "metrics.json"
        if not run_file.is_file():
            continue
        record = json.loads(run_file.read_text())
        if record.get("status") == "ok" and metrics_file.is_file():
            yield record, json.loads(metrics_file.read_text())


def write_tables(out: Path, specs=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rewrite ``results.csv`` and ``summary.csv`` from the complete runs of ``specs`` (all runs in
    ``out`` when None); return both tables."""
    keys = None if specs is None else [(s.notebook, s.key) for s in specs]
    results = results_frame(completed_runs(out, keys))
    summary = summary_frame(results)
    _write_atomic(results, Path(out) / "results.csv")
    _write_atomic(summary, Path(out) / "summary.csv")
    return results, summary


def write_plan(out: Path, specs) -> None:
    """``plan.json``: the notebook, key, seed, profile and grid values of every run of the sweep."""
    plan = [{"notebook": s.notebook, "key": s.key, "seed": s.seed, "profile": s.profile, "grid": dict(s.grid)}
            for s in specs]
    atomic_write_bytes(Path(out) / PLAN_FILE, json.dumps(plan, indent=1, default=str).encode())


def read_plan(out: Path) -> list[dict[str, Any]]:
    file = Path(out) / PLAN_FILE
    if not file.is_file():
        raise FileNotFoundError(f"{file} does not exist: {out} is not a sweep folder (run python -m twostep.sweep)")
    return json.loads(file.read_text())


def planned_runs(out: Path):
    """``(record, metrics)`` of the complete runs of the folder's latest sweep (its ``plan.json``)."""
    yield from completed_runs(out, [(p["notebook"], p["key"]) for p in read_plan(out)])
