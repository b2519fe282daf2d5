"""The sweep runner (twostep.sweep) on real notebook runs: a local Dask cluster, an external
scheduler and worker, resume, a killed worker, a failing run; and its tables on made-up runs.

These tests start their own Dask workers, so the nox session runs them after the parallel
(pytest-xdist) tests, on their own (marker ``sweep``): workers never share a core with other tests."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from twostep.sweep.runner import is_complete, parse_grid, plan, run_key, run_sweep
from twostep.sweep.tables import read_plan, results_frame, summary_frame

pytestmark = pytest.mark.sweep
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def env(shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("TWOSTEP_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TWOSTEP_ROOT", str(ROOT))
    monkeypatch.setenv("PYTHONHASHSEED", "0")
    return tmp_path


@pytest.fixture(scope="module")
def cluster():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=40) as lc, Client(lc) as client:
        yield lc, client


def test_parse_grid_and_plan():
    assert parse_grid(["epochs=50,100", "lr=[0.1, 0.2]"]) == {"epochs": [50, 100], "lr": [0.1, 0.2]}
    with pytest.raises(ValueError, match="NAME=V1"):
        parse_grid(["epochs"])
    specs = plan(["grid_gmm"], profile="smoke", seeds=[0, 1], grid={"epochs": [5, 6]}, root=ROOT)
    assert all(s.threads == min(2, os.cpu_count()) for s in specs)  # as a notebook run alone
    assert [(s.grid["epochs"], s.seed) for s in specs] == [(5, 0), (5, 1), (6, 0), (6, 1)]
    assert len({s.key for s in specs}) == 4 and all(s.parameters["n_per_mode"] == 20 for s in specs)
    # the key depends on the parameters (not their order) and on the thread count
    assert run_key("nb", {"a": 1, "b": 2}) == run_key("nb", {"b": 2, "a": 1}) != run_key("nb", {"a": 1, "b": 3})
    assert plan(["grid_gmm"], profile="smoke", seeds=[0], grid={"epochs": [5]}, root=ROOT, threads=1)[0].key != specs[0].key
    with pytest.raises(KeyError, match="no parameter"):
        plan(["grid_gmm"], overrides={"banana": 1}, root=ROOT)
    with pytest.raises(ValueError, match="--seeds"):
        plan(["grid_gmm"], grid={"seed": [1, 2]}, root=ROOT)


def test_local_cluster_runs_every_seed_then_resumes(env, cluster):
    _, client = cluster
    out = env / "sweep"
    specs = plan(["grid_gmm"], profile="smoke", seeds=[0, 1], root=ROOT, threads=1)  # two workers on two cores
    result = run_sweep(specs, out, client=client, progress=False)
    assert not result.failed and result.skipped == 0
    records = [json.loads((s.folder(out) / "run.json").read_text()) for s in specs]
    assert {r["pid"] for r in records} and all(r["threads"] == 1 and r["status"] == "ok" for r in records)
    for spec in specs:
        folder = spec.folder(out)
        assert {"grid_gmm.ipynb", "metrics.json", "samples.npz"} <= {p.name for p in folder.iterdir()}
        assert ".attempt-" not in (folder / "grid_gmm.ipynb").read_text()  # points at its own folder
    metrics = [json.loads((s.folder(out) / "metrics.json").read_text()) for s in specs]
    assert metrics[0] != metrics[1]  # two seeds, two trainings
    results = pd.read_csv(out / "results.csv")
    assert set(results["seed"]) == {0, 1} and len(results) == sum(len(m) for m in metrics)
    summary = pd.read_csv(out / "summary.csv")
    row = summary[summary["metric"] == "vae.final_loss"].iloc[0]
    values = [m["vae.final_loss"] for m in metrics]
    assert row["n"] == 2 and row["mean"] == pytest.approx(sum(values) / 2) and row["min"] == min(values)
    assert [p["key"] for p in read_plan(out)] == [s.key for s in specs]
    # resume: nothing is executed again
    stamps = [(s.folder(out) / "run.json").stat().st_mtime_ns for s in specs]
    again = run_sweep(specs, out, client=client, progress=False)
    assert again.skipped == 2 and not again.failed
    assert stamps == [(s.folder(out) / "run.json").stat().st_mtime_ns for s in specs]


def test_killed_worker_run_is_retried_on_another(env, cluster):
    """Kill the worker process that executes a run, mid-run: Dask gives the run to a worker again
    and the run completes under its key, with nothing left of the killed attempt's files there."""
    lc, client = cluster
    out = env / "sweep"
    spec = plan(["grid_gmm"], profile="smoke", seeds=[3], overrides={"epochs": 400}, root=ROOT, threads=1)[0]
    pids = client.run(os.getpid)
    from distributed import as_completed  # noqa: F401 - the client API used below

    from twostep.sweep.runner import execute_run

    future = client.submit(execute_run, spec, str(out), str(ROOT), key=f"run-{spec.key}", pure=False)
    deadline = time.time() + 120
    victim = None
    while time.time() < deadline and victim is None:
        processing = {w: keys for w, keys in client.processing().items() if keys}
        attempts = list((out / "runs" / "grid_gmm").glob(f".{spec.key}-attempt-*")) if (out / "runs").exists() else []
        if processing and attempts:
            victim = next(iter(processing))
        time.sleep(0.5)
    assert victim, "the run never started"
    time.sleep(3)  # well inside the notebook
    os.kill(pids[victim], signal.SIGKILL)
    record = future.result(timeout=300)
    assert record["status"] == "ok" and record["pid"] != pids[victim]
    assert is_complete(spec, out)


def test_failing_run_is_reported_and_others_finish(env):
    """One grid value stops in the notebook's validation cell; the other runs; the command exits
    non-zero and names the failed run and its cell."""
    out = env / "sweep"
    proc = subprocess.run(
        [sys.executable, "-m", "twostep.sweep", "grid_gmm", "--profile", "smoke", "--seeds", "0",
         "--grid", "epochs=-1,40", "--out", str(out), "--workers", "2", "--threads", "1"],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 of 2 runs complete" in proc.stdout and "1 failed" in proc.stdout
    assert "FAILED grid_gmm seed=0 {'epochs': -1} (cell" in proc.stdout and "epochs=-1 is not allowed" in proc.stdout
    failed = [json.loads(p.read_text()) for p in out.glob("runs/grid_gmm/*/run.json")]
    assert sorted(r["status"] for r in failed) == ["failed", "ok"]
    bad = next(r for r in failed if r["status"] == "failed")
    assert bad["cell_index"] >= 1 and "ParameterError" in bad["error"]
    results = pd.read_csv(out / "results.csv")
    assert set(results["param.epochs"]) == {40}  # only the complete run has results


def test_external_scheduler_and_worker(env, tmp_path):
    """``--scheduler``: a separate ``dask scheduler`` and ``dask worker`` process pair, as on a cluster."""
    scheduler_file = tmp_path / "scheduler.json"
    dask = Path(sys.executable).with_name("dask")
    scheduler = subprocess.Popen([str(dask), "scheduler", "--scheduler-file", str(scheduler_file), "--port", "0",
                                  "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = None
    try:
        deadline = time.time() + 60
        while not scheduler_file.exists() and time.time() < deadline:
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        worker = subprocess.Popen([str(dask), "worker", "--scheduler-file", str(scheduler_file), "--nthreads", "1",
                                   "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out = tmp_path / "sweep"
        proc = subprocess.run([sys.executable, "-m", "twostep.sweep", "grid_gmm", "--profile", "smoke", "--seeds", "5",
                               "--scheduler", address, "--out", str(out)],
                              capture_output=True, text=True, timeout=600, cwd=ROOT)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "1 of 1 runs complete" in proc.stdout
        (record,) = [json.loads(p.read_text()) for p in out.glob("runs/grid_gmm/*/run.json")]
        assert record["status"] == "ok" and record["pid"] != os.getpid() and record["threads"] == min(2, os.cpu_count())
    finally:
        for proc in (worker, scheduler):
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=30)


def test_tables_from_made_up_runs():
    runs = [({"notebook": "nb", "key": f"k{s}{e}", "seed": s, "parameters": {"seed": s, "epochs": e, "ks": [1, 2],
                                                                               "output_dir": "/x"}},
             {"a.fid": 10.0 + s + e, "b": float(s)}) for s in (0, 1, 2) for e in (5, 6)]
    results = results_frame(runs)
    assert list(results.columns) == ["notebook", "key", "seed", "param.epochs", "param.ks", "metric", "value"]
    assert len(results) == 12 and results["param.ks"].iloc[0] == "[1, 2]"
    summary = summary_frame(results)
    row = summary[(summary["metric"] == "a.fid") & (summary["param.epochs"] == "6")].iloc[0]
    assert (row["n"], row["mean"], row["min"], row["max"]) == (3, 17.0, 16.0, 18.0)
    assert row["std"] == pytest.approx(1.0)


def test_book_chapters_come_from_the_first_seed_of_a_sweep(tmp_path):
    """``nox -s book -- --from-sweep DIR``: each notebook's smallest-seed complete run becomes its
    chapter (notebook and output folder), every run is in the execution report, nothing executes."""
    from twostep.book.notebooks import build_from_sweep, stage_sweep

    sweep, dest = tmp_path / "sweep", tmp_path / "executed"
    plan_rows = []
    for seed, status in ((1, "ok"), (0, "failed"), (2, "ok")):
        folder = sweep / "runs" / "grid_gmm" / f"k{seed}"
        folder.mkdir(parents=True)
        (folder / "run.json").write_text(json.dumps({"status": status, "seconds": 10.0 + seed, "threads": 1}))
        (folder / "grid_gmm.ipynb").write_text(f"seed {seed}")
        (folder / "metrics.json").write_text("{}")
        plan_rows.append({"notebook": "grid_gmm", "key": f"k{seed}", "seed": seed, "profile": "default", "grid": {}})
    (sweep / "plan.json").write_text(json.dumps(plan_rows))
    dest.mkdir()
    report = stage_sweep(sweep, dest)
    assert (dest / "grid_gmm.ipynb").read_text() == "seed 1"  # seed 0 failed: the first complete seed
    assert (dest / "grid_gmm" / "metrics.json").is_file() and not (dest / "grid_gmm" / "run.json").exists()
    assert [(r["seed"], r["status"], r["chapter"]) for r in report] == [(0, "failed", False), (1, "ok", True),
                                                                         (2, "ok", False)]
    # the whole book from it: the other notebooks have no runs, so the build says so and fails
    assert build_from_sweep(sweep, dest, profile="default", seeds=[0], execute_runs=False, root=ROOT) == 1
    assert json.loads((dest / "execution_report.json").read_text())[1]["chapter"] is True


def test_kernels_inherit_the_thread_counts_and_not_dasks_malloc_trim(monkeypatch):
    """Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536 for its workers; a notebook kernel that
    inherits it trains torch models about twice as slowly, so the runner removes it."""
    from twostep.sweep.runner import THREAD_VARIABLES, prepare_kernel_environment

    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")
    for name in THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    prepare_kernel_environment(3)
    assert "MALLOC_TRIM_THRESHOLD_" not in os.environ
    assert all(os.environ[name] == "3" for name in THREAD_VARIABLES)


def _start_cluster(tmp_path, name):
    """A ``dask scheduler`` and one 1-thread ``dask worker``, as separate processes (a cluster's)."""
    scheduler_file = tmp_path / f"{name}.json"
    dask = Path(sys.executable).with_name("dask")
    scheduler = subprocess.Popen([str(dask), "scheduler", "--scheduler-file", str(scheduler_file), "--port", "0",
                                  "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 start_new_session=True)
    deadline = time.time() + 60
    while not scheduler_file.exists() and time.time() < deadline:
        time.sleep(0.2)
    worker = subprocess.Popen([str(dask), "worker", "--scheduler-file", str(scheduler_file), "--nthreads", "1",
                               "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    return json.loads(scheduler_file.read_text())["address"], scheduler, worker


def _kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=60)


def test_a_killed_scheduler_loses_no_finished_run_and_the_same_command_resumes(env, tmp_path):
    """Kill the Dask scheduler (and its worker: the cluster is gone) while the second of two runs
    executes: the sweep command stops with an error, the finished run stays complete, the
    half-written one is not counted; the same command on a new cluster runs only what was left."""
    out = tmp_path / "sweep"
    specs = plan(["grid_gmm"], profile="smoke", seeds=[0, 1], overrides={"epochs": 300}, root=ROOT)
    address, scheduler, worker = _start_cluster(tmp_path, "first")
    command = [sys.executable, "-m", "twostep.sweep", "grid_gmm", "--profile", "smoke", "--seeds", "0", "1",
               "-p", "epochs", "300", "--out", str(out)]
    try:
        sweep = subprocess.Popen([*command, "--scheduler", address], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 text=True, cwd=ROOT)
        deadline = time.time() + 400
        while time.time() < deadline and not (any(is_complete(s, out) for s in specs)
                                               and list(out.glob("runs/grid_gmm/.*-attempt-*"))):
            time.sleep(0.5)
        done = [s for s in specs if is_complete(s, out)]
        assert len(done) == 1, "one run finished and the other started before the kill"
        time.sleep(2)  # inside the second run's notebook
        _kill_group(scheduler)
        _kill_group(worker)
        output, _ = sweep.communicate(timeout=300)
        assert sweep.returncode != 0, output
    finally:
        for proc in (scheduler, worker):
            if proc.poll() is None:
                _kill_group(proc)
    left = next(s for s in specs if s is not done[0] and s.key != done[0].key)
    assert is_complete(done[0], out) and not is_complete(left, out)  # the attempt folder is not a run
    stamp = (done[0].folder(out) / "run.json").stat().st_mtime_ns
    address, scheduler, worker = _start_cluster(tmp_path, "second")
    try:
        again = subprocess.run([*command, "--scheduler", address], capture_output=True, text=True, timeout=600, cwd=ROOT)
    finally:
        _kill_group(scheduler)
        _kill_group(worker)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "2 of 2 runs complete (1 from earlier sweeps), 0 failed" in again.stdout
    assert (done[0].folder(out) / "run.json").stat().st_mtime_ns == stamp  # not run twice
    assert is_complete(left, out) and not list(out.glob("runs/grid_gmm/.*-attempt-*"))  # stale attempt cleared


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_sweep_stops_its_workers_and_the_same_command_resumes(env, tmp_path, signum):
    """SIGINT (Ctrl-C) or SIGTERM (a job scheduler's stop) to the sweep command while its second run
    executes: it exits non-zero, leaving no worker or kernel behind to write into the folder later;
    the first run stays complete; the same command runs only the second. ``nox -s book`` executes
    its runs through the same ``run_sweep``."""
    import psutil

    out = tmp_path / "sweep"
    specs = plan(["grid_gmm"], profile="smoke", seeds=[0, 1], overrides={"epochs": 300}, root=ROOT, threads=1)
    command = [sys.executable, "-m", "twostep.sweep", "grid_gmm", "--profile", "smoke", "--seeds", "0", "1",
               "-p", "epochs", "300", "--out", str(out), "--workers", "1", "--threads", "1"]
    sweep = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    deadline = time.time() + 400
    while time.time() < deadline and not (any(is_complete(s, out) for s in specs)
                                           and list(out.glob("runs/grid_gmm/.*-attempt-*"))):
        time.sleep(0.5)
    (done,) = [s for s in specs if is_complete(s, out)]
    time.sleep(2)  # inside the second run's notebook
    children = psutil.Process(sweep.pid).children(recursive=True)
    assert children, "the sweep runs its notebooks in worker processes"
    sweep.send_signal(signum)
    output, _ = sweep.communicate(timeout=120)
    assert sweep.returncode != 0, output
    gone, alive = psutil.wait_procs(children, timeout=30)
    assert not alive, f"left running after the sweep stopped: {[p.pid for p in alive]}"
    (left,) = [s for s in specs if s.key != done.key]
    assert not is_complete(left, out)
    stamp = (done.folder(out) / "run.json").stat().st_mtime_ns
    again = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "2 of 2 runs complete (1 from earlier sweeps), 0 failed" in again.stdout
    assert (done.folder(out) / "run.json").stat().st_mtime_ns == stamp and is_complete(left, out)
