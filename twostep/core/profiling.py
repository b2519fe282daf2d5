"""Where a notebook's time goes: wall seconds by phase, per cell.

The library marks its coarse steps with :func:`phase` (``training``, ``prior fitting``,
``scoring``, ``data loading``): training loops, every prior's ``fit``, sampling and scoring,
the data loaders. Phases do not nest: a step inside another (the held-out scoring inside a
training loop, a flow prior's training loop inside its ``fit``) counts for the outer one, so the
phases of a cell add up to at most its wall time, and the rest is everything else (plotting,
Python between steps, encoding codes).

In a notebook, :func:`record_cells` (called by every chapter's ``cfg.setup()``) adds an IPython
hook that appends, after each cell, the cell's wall seconds and its seconds by phase to
``profile.json`` in the run's output folder; ``benchmarks/book_profile.py`` reads those files of a
sweep. Marking costs two clock readings per step (steps are whole training runs or fits, never
minibatches), and changes no number.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PHASES = ("training", "prior fitting", "scoring", "data loading")
PROFILE_FILE = "profile.json"

_totals: dict[str, float] = dict.fromkeys(PHASES, 0.0)
_state = threading.local()


@contextmanager
def phase(name: str) -> Iterator[None]:
    """Count the wall time of the block for phase ``name`` (one of :data:`PHASES`), unless the
    block runs inside another phase (then the outer one counts it)."""
    if name not in PHASES:
        raise ValueError(f"phase {name!r} is not one of {PHASES}")
    if getattr(_state, "inside", False):
        yield
        return
    _state.inside = True
    start = time.perf_counter()
    try:
        yield
    finally:
        _totals[name] += time.perf_counter() - start
        _state.inside = False


def totals() -> dict[str, float]:
    """Seconds spent in each phase by this process so far."""
    return dict(_totals)


class _CellRecorder:
    def __init__(self, path: Path):
        self.path = path
        self.cells: list[dict] = json.loads(path.read_text()) if path.is_file() else []
        self.start = time.perf_counter()
        self.before = totals()

    def pre_run_cell(self, info) -> None:
        self.start, self.before = time.perf_counter(), totals()

    def post_run_cell(self, result) -> None:
        seconds = time.perf_counter() - self.start
        now = totals()
        spent = {p: round(now[p] - self.before[p], 3) for p in PHASES}
        self.cells.append({"execution_count": result.execution_count, "seconds": round(seconds, 3), **spent,
                           "rest": round(max(0.0, seconds - sum(spent.values())), 3)})
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.cells, indent=1) + "\n")
        os.replace(tmp, self.path)


def record_cells(output_dir: str | os.PathLike) -> bool:
    """In an IPython kernel, record every later cell's seconds by phase in
    ``output_dir/profile.json`` (once per kernel: a second call changes nothing). Returns whether
    it is recording (False outside IPython)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with the notebook stack
        return False
    shell = get_ipython()
    if shell is None:
        return False
    if getattr(shell, "_twostep_cell_recorder", None) is None:
        recorder = _CellRecorder(Path(output_dir) / PROFILE_FILE)
        shell.events.register("pre_run_cell", recorder.pre_run_cell)
        shell.events.register("post_run_cell", recorder.post_run_cell)
        shell._twostep_cell_recorder = recorder
        # the cell that called this (a chapter's setup cell) started before the hook existed
        recorder.start, recorder.before = time.perf_counter(), totals()
    return True


def phased(name: str):
    """Decorator: every call of the function counts for phase ``name`` (see :func:`phase`)."""
    import functools

    def decorate(function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            with phase(name):
                return function(*args, **kwargs)

        return wrapper

    return decorate
