"""Run a notebook once per combination of grid values and seeds, each run one Dask task.

    python -m twostep.sweep grid_gmm --profile smoke --seeds 0 1 2 --grid epochs=50,100 --out sweeps/grid
    python -m twostep.sweep all --seeds 0 1 2 --scheduler tcp://10.0.0.5:8786 --out sweeps/paper --profile paper

Each run lives in ``OUT/runs/<notebook>/<key>/``: the executed notebook, what it wrote
(``metrics.json``, ``samples.npz``, figures) and ``run.json`` (parameters, status, seconds, worker,
and for a failure the failing cell and error). ``key`` hashes the notebook's cell sources and the
run's parameters, so re-running a sweep skips the runs already complete (resume) and re-runs those
that failed or never finished. An attempt executes in a temporary folder renamed into place when
it succeeds: a run killed halfway (or a worker that died, whose run Dask gives to another worker)
never leaves a half-written run under its key.

``OUT/results.csv`` (one row per notebook, key, seed, parameters, metric, value) and
``OUT/summary.csv`` (per notebook, parameter combination and metric: n, mean, std, min, max over
seeds) are rewritten atomically after every completed run and at the end.

Each run uses two torch/OpenMP threads (``--threads`` to change it), as a notebook run alone does:
the thread count changes CPU float sums, so it is part of the run's key, and the same count
everywhere gives the same numbers on any worker. By default the runs go to an embedded
``LocalCluster`` of one worker process (one Dask thread) per two cores, so runs never oversubscribe
the cores. ``--scheduler ADDRESS`` submits to a running Dask cluster instead (start its workers
with ``--nthreads 1``, one worker per two cores).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import socket
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twostep.core.files import atomic_write_bytes
from twostep.sweep.execution import (
    DEFAULT_PROFILE,
    execute,
    notebook_hash,
    package_hash,
    repo_root,
    resolve_parameters,
)
from twostep.sweep.progress import History, ProgressMonitor, committed_timings, plan_text
from twostep.sweep.tables import write_plan, write_tables

RUN_FILE = "run.json"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TWOSTEP_THREADS")


@dataclass(frozen=True)
class RunSpec:
    """One execution of one notebook: its parameters (profile values, then overrides, grid values
    and the seed) and the key that names its folder."""

    notebook: str
    profile: str
    parameters: Mapping[str, Any]
    key: str
    seed: int
    grid: Mapping[str, Any] = field(default_factory=dict)
    threads: int = 2  # torch threads of the run: part of its definition (float sums depend on it)

    def folder(self, out: Path) -> Path:
        return Path(out) / "runs" / self.notebook / self.key

    def label(self) -> str:
        extra = "".join(f" {k}={v!r}" for k, v in self.grid.items())
        return f"{self.notebook} seed={self.seed}{extra}"


def run_key(notebook_sha: str, parameters: Mapping[str, Any], code_sha: str = "") -> str:
    """The run's folder name: a hash of the notebook's sources, of the library's sources and of the
    run's parameters (order-free)."""
    text = notebook_sha + code_sha + json.dumps(dict(parameters), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def parse_grid(items: Iterable[str]) -> dict[str, list[Any]]:
    """``["epochs=50,100", "lr=[0.1, 0.2]"]`` -> ``{"epochs": [50, 100], "lr": [0.1, 0.2]}``: values are
    YAML scalars separated by commas, or one YAML list."""
    import yaml

    grid: dict[str, list[Any]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        if not sep or not name or not values:
            raise ValueError(f"--grid {item!r}: expected NAME=V1,V2,...")
        text = values.strip()
        parsed = yaml.safe_load(text) if text.startswith("[") else [yaml.safe_load(v) for v in text.split(",")]
        if not isinstance(parsed, list) or not parsed:
            raise ValueError(f"--grid {item!r}: expected NAME=V1,V2,... or NAME=[V1, V2]")
        grid[name.strip()] = parsed
    return grid


def plan(
    notebooks: Sequence[str],
    *,
    profile: str = DEFAULT_PROFILE,
    seeds: Sequence[int] = (0,),
    overrides: Mapping[str, Any] | None = None,
    grid: Mapping[str, Sequence[Any]] | None = None,
    root: Path | None = None,
    threads: int | None = None,
) -> list[RunSpec]:
    """Every run of the sweep, notebooks in the given order, then grid values, then seeds. Unknown
    parameter names and profiles raise before anything runs. Each run uses ``threads`` torch
    threads wherever it runs: CPU float sums depend on the thread count, so it is part of the run's
    key, and one count everywhere gives the same numbers on any worker."""
    root = root or repo_root()
    grid = dict(grid or {})
    if "seed" in grid or "seed" in (overrides or {}):
        raise ValueError("give seeds with --seeds, not as a parameter or grid value")
    threads = threads or default_threads()
    specs = []
    code = package_hash()
    for name in notebooks:
        sha = notebook_hash(name, root)
        for values in itertools.product(*grid.values()):
            point = dict(zip(grid, values, strict=True))
            for seed in seeds:
                params = resolve_parameters(name, profile, {**(overrides or {}), **point, "seed": int(seed)}, root)
                specs.append(RunSpec(name, profile, params, run_key(sha, {**params, "threads": threads}, code), int(seed),
                                     point, threads))
    keys = [s.key for s in specs]
    if len(set(keys)) != len(keys):
        raise ValueError("the sweep lists the same run twice (repeated seeds or grid values)")
    return specs


def read_run(folder: Path) -> dict[str, Any] | None:
    file = Path(folder) / RUN_FILE
    return json.loads(file.read_text()) if file.is_file() else None


def is_complete(spec: RunSpec, out: Path) -> bool:
    record = read_run(spec.folder(out))
    return bool(record and record.get("status") == "ok")


def prepare_kernel_environment(threads: int) -> None:
    """Set what the notebook's kernel inherits from this (worker) process: the thread counts, and
    no ``MALLOC_TRIM_THRESHOLD_``. Dask's nanny sets that variable to 65536 for its workers; in a
    kernel it makes glibc hand memory back to the system after every large free, and torch
    training then runs about 2.2 times slower (a conv VAE step: 8.2-8.9 s against 3.7-4.4 s)."""
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)


def execute_run(spec: RunSpec, out: str, root: str) -> dict[str, Any]:
    """Execute one run (this is the Dask task). Returns its record; a failing notebook is recorded,
    not raised, so that one failure does not stop the sweep. The run executes in a temporary folder
    that is renamed to the run's folder at the end."""
    import papermill

    out_path = Path(out)
    final = spec.folder(out_path)
    if is_complete(spec, out_path):  # done by an earlier attempt (e.g. before a worker died)
        return read_run(final) | {"resumed": True}
    n_threads = spec.threads
    prepare_kernel_environment(n_threads)
    final.parent.mkdir(parents=True, exist_ok=True)
    attempt = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{spec.key}-attempt-"))
    attempt.chmod(0o755)  # mkdtemp makes it private; a run folder is for everyone who reads the sweep
    record: dict[str, Any] = {
        "notebook": spec.notebook, "key": spec.key, "seed": spec.seed, "profile": spec.profile,
        "grid": dict(spec.grid), "parameters": dict(spec.parameters), "host": socket.gethostname(),
        "pid": os.getpid(), "threads": n_threads, "attempt": attempt.name,
    }
    start = time.perf_counter()
    try:
        execute(spec.notebook, attempt / f"{spec.notebook}.ipynb", profile=DEFAULT_PROFILE, overrides=dict(spec.parameters),
                output_dir=attempt, root=Path(root), progress=False)
        record["status"] = "ok"
    except papermill.PapermillExecutionError as exc:
        record.update(status="failed", cell_index=exc.cell_index, execution_count=exc.exec_count,
                      error=f"{exc.ename}: {exc.evalue}")
        if "No space left on device" in str(exc.evalue):  # a figure or a file the notebook wrote itself
            record["error"] += f" (the disk is full under {final.parent}; free space and run the sweep again)"
    except Exception as exc:  # noqa: BLE001 - a run that cannot even start is a failed run too
        record.update(status="failed", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
    record["seconds"] = round(time.perf_counter() - start, 1)
    # on a full disk this raises, naming the file; the attempt stays hidden (cleared at the next start), never a run
    atomic_write_bytes(attempt / RUN_FILE, (json.dumps(record, indent=2, default=str) + "\n").encode())
    # Into place: an older failed attempt under the key is replaced; a complete one (written by a
    # concurrent attempt of the same run) is kept.
    if final.exists() and not is_complete(spec, out_path):
        graveyard = final.parent / f".{spec.key}-old-{uuid.uuid4().hex[:8]}"
        os.rename(final, graveyard)
        shutil.rmtree(graveyard, ignore_errors=True)
    try:
        os.rename(attempt, final)
        _point_output_dir(final, attempt)
    except OSError:
        shutil.rmtree(attempt, ignore_errors=True)
        return read_run(final) | {"resumed": True}
    return record


def _point_output_dir(final: Path, attempt: Path) -> None:
    """The executed notebook names its output folder (the attempt's); after the rename it is the run's."""
    for notebook in final.glob("*.ipynb"):
        notebook.write_text(notebook.read_text().replace(str(attempt), str(final)))


@dataclass
class SweepResult:
    out: Path
    specs: list[RunSpec]
    records: dict[str, dict[str, Any]]  # key -> run record
    skipped: int

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.records.values() if r.get("status") != "ok"]

    def summary(self) -> str:
        ok = sum(r.get("status") == "ok" for r in self.records.values())
        lines = [f"{ok} of {len(self.specs)} runs complete ({self.skipped} from earlier sweeps), "
                 f"{len(self.failed)} failed; tables in {self.out / 'results.csv'} and {self.out / 'summary.csv'}"]
        for r in self.failed:
            where = f"cell {r['cell_index']}" if "cell_index" in r else "before the first cell"
            lines.append(f"  FAILED {r['notebook']} seed={r['seed']} {r.get('grid') or ''} ({where}): {r.get('error')}"
                         f"\n         see {self.out / 'runs' / r['notebook'] / r['key']}")
        return "\n".join(lines)


def default_threads() -> int:
    """Torch threads per run: 2 (1 on a single core), what a notebook run alone uses, so that a
    sweep's run and a single run of the same parameters give the same numbers. (On 2 cores, two
    1-thread grid runs side by side took 117 s against 156 s one after the other with 2 threads;
    whether that holds for the conv nets is not measured yet: the first try ran under Dask's
    ``MALLOC_TRIM_THRESHOLD_``, see :func:`prepare_kernel_environment`.)"""
    return min(2, os.cpu_count() or 1)


def default_workers(threads: int = 2, memory_per_run: float = 4e9) -> int:
    """Worker processes for a local cluster: the cores divided by each run's threads (runs never
    share a core: two runs of 2 threads on 2 cores run 5-10 times slower), and no more than the
    memory holds at ``memory_per_run`` bytes per run."""
    import psutil

    cores = os.cpu_count() or 1
    return max(1, min(cores // max(1, threads), int(psutil.virtual_memory().total // memory_per_run)))


def local_cluster(workers: int):
    """An embedded Dask cluster on this machine: ``workers`` processes, one Dask thread each."""
    from distributed import LocalCluster

    return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                        silence_logs=40)


def clear_stale_attempts(specs: Sequence[RunSpec], out: Path) -> list[Path]:
    """Remove what earlier, interrupted attempts of the planned runs left behind: the hidden
    ``runs/<notebook>/.<key>-attempt-*`` folders of an attempt whose worker was killed (Dask ran the
    run again elsewhere, or the sweep itself was stopped) and ``.<key>-old-*`` folders. Called when a
    sweep starts, before any of its runs executes; do not start two sweeps of the same runs into one
    folder at once. Returns the removed folders."""
    removed = []
    for spec in specs:
        parent = spec.folder(out).parent
        if not parent.is_dir():
            continue
        for stale in [*parent.glob(f".{spec.key}-attempt-*"), *parent.glob(f".{spec.key}-old-*")]:
            shutil.rmtree(stale, ignore_errors=True)
            removed.append(stale)
    return removed


def run_sweep(
    specs: Sequence[RunSpec],
    out: str | os.PathLike,
    *,
    client=None,
    workers: int | None = None,
    scheduler: str | None = None,
    root: Path | None = None,
    progress: bool = True,
    progress_interval: float = 60.0,
) -> SweepResult:
    """Execute every run not already complete in ``out`` on Dask; rewrite the tables after each.

    Pass a ``client``, or a ``scheduler`` address, or neither for a local cluster of ``workers``
    processes. Dask retries a run whose worker died (up to its ``allowed-failures``). Stale
    attempts of the planned runs are cleared first (:func:`clear_stale_attempts`). With
    ``progress``, the plan is printed with an estimate (:mod:`twostep.sweep.progress`), and every
    ``progress_interval`` seconds a line per run in flight says how many of its cells are done."""
    from distributed import Client, as_completed
    from tqdm import tqdm

    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    root = (root or repo_root()).resolve()
    stale = clear_stale_attempts(specs, out)
    records: dict[str, dict[str, Any]] = {}
    todo = []
    for spec in specs:
        if is_complete(spec, out):
            records[spec.key] = read_run(spec.folder(out))
        else:
            todo.append(spec)
    skipped = len(records)
    write_plan(out, specs)
    write_tables(out, specs)
    own_cluster = None
    if client is None:
        if scheduler:
            client = Client(scheduler)
        else:
            own_cluster = local_cluster(workers or default_workers(max((s.threads for s in specs), default=2)))
            client = Client(own_cluster)
    monitor = None
    if progress:
        history, committed = History.read(out), committed_timings(root)
        if stale:
            print(f"cleared {len(stale)} stale attempt folder(s) of interrupted runs", flush=True)
        n_workers = len(client.scheduler_info().get("workers", {})) or 1
        print(plan_text(specs, set(records), history, committed, n_workers), flush=True)
        monitor = ProgressMonitor(out, specs, history, committed, interval=progress_interval,
                                  write=lambda line: tqdm.write(line, file=sys.stdout))
        monitor.start()
    bar = tqdm(total=len(specs), initial=skipped, desc="sweep", unit="run", disable=not progress, file=sys.stdout)
    try:
        futures = {}
        for i, spec in enumerate(todo):
            future = client.submit(execute_run, spec, str(out), str(root), key=f"run-{spec.key}",
                                   priority=len(todo) - i, pure=False)
            futures[future] = spec
        for future in as_completed(futures):
            spec = futures[future]
            try:
                record = future.result()
            except Exception as exc:  # noqa: BLE001 - e.g. a worker killed more often than Dask allows
                record = {"notebook": spec.notebook, "key": spec.key, "seed": spec.seed, "grid": dict(spec.grid),
                          "status": "failed", "error": f"{type(exc).__name__}: {exc}"}
            records[spec.key] = record
            write_tables(out, specs)
            bar.update(1)
            bar.set_postfix_str(f"{spec.label()}: {record['status']} in {record.get('seconds', '?')} s")
    finally:
        if monitor is not None:
            monitor.stop()
        bar.close()
        if own_cluster is not None:
            client.close()
            own_cluster.close()
    return SweepResult(out, list(specs), records, skipped)
