"""What a sweep shows its user (twostep.sweep.progress): cell progress read from a notebook that
papermill really executes, estimates from earlier runs, the plan; and the clearing of stale attempts."""

import json
import threading
import time
from pathlib import Path

import nbformat
import pytest

from twostep.sweep.progress import (
    History,
    ProgressMonitor,
    cell_durations,
    cell_states,
    committed_timings,
    estimate_seconds,
    plan_text,
)
from twostep.sweep.execution import notebook_names
from twostep.sweep.runner import RunSpec, clear_stale_attempts

ROOT = Path(__file__).resolve().parents[1]


def _notebook(path: Path, sleeps: list[float]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# a run")]
    nb.cells += [nbformat.v4.new_code_cell(f"import time\ntime.sleep({s})") for s in sleeps]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def _spec(key: str, notebook: str = "toy", seed: int = 0) -> RunSpec:
    return RunSpec(notebook, "default", {"seed": seed}, key, seed)


def test_cell_progress_is_read_while_papermill_executes(tmp_path):
    """papermill saves the notebook after every cell: the monitor sees cells done of total while
    the notebook runs, and the finished notebook gives each code cell's seconds."""
    import papermill

    source = _notebook(tmp_path / "toy.ipynb", [0.0, 4.0, 0.0])
    attempt = tmp_path / "sweep" / "runs" / "toy" / ".k1-attempt-abc"
    attempt.mkdir(parents=True)
    seen: list[list[tuple[str, float | None]]] = []

    def watch():
        deadline = time.time() + 60
        while time.time() < deadline and not (attempt / "done").exists():
            states = cell_states(attempt / "toy.ipynb")
            if states:
                seen.append(states)
            time.sleep(0.2)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        papermill.execute_notebook(str(source), str(attempt / "toy.ipynb"), kernel_name="python3", progress_bar=False)
    finally:
        (attempt / "done").touch()
        watcher.join()
    # while the second cell slept, the first was completed and the second running
    assert any([s for s, _ in states] == ["completed", "running", "pending"] for states in seen)
    running = [d for states in seen for s, d in states if s == "running"]
    assert running and all(d is not None and d >= 0 for d in running)
    durations = cell_durations(attempt / "toy.ipynb")
    assert len(durations) == 3 and durations[1] >= 3.9 and durations[0] < 3 and durations[2] < 3
    # a half-written file is no progress, not a crash
    (attempt / "broken.ipynb").write_text('{"cells": [')
    assert cell_states(attempt / "broken.ipynb") is None and cell_durations(attempt / "missing.ipynb") is None


def _earlier_run(out: Path, key: str, seconds: float, durations: list[float], status: str = "ok",
                 parameters: dict | None = None) -> None:
    folder = out / "runs" / "toy" / key
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"notebook": "toy", "profile": "default", "status": status,
                                                 "seconds": seconds, "parameters": parameters or {"seed": 0}}))
    cells = [{"cell_type": "code", "metadata": {"papermill": {"status": "completed", "duration": d}}, "source": ""}
             for d in durations]
    (folder / "toy.ipynb").write_text(json.dumps({"cells": cells}))


def test_estimates_and_plan_from_earlier_runs(tmp_path):
    out = tmp_path / "sweep"
    _earlier_run(out, "old1", 100.0, [10.0, 80.0, 10.0])
    _earlier_run(out, "old2", 140.0, [10.0, 120.0, 10.0])
    _earlier_run(out, "bad", 5.0, [1.0, 1.0, 1.0], status="failed")  # failed runs say nothing of the time
    history = History.read(out)
    assert sorted(history.seconds[("toy", "default")]) == [100.0, 140.0]
    assert estimate_seconds("toy", "default", history, {}) == (120.0, "2 earlier run(s) here")
    assert estimate_seconds("other", "default", history, {"other": {"default": 60.0}}) == (60.0, "notebooks/timings.yaml")
    assert estimate_seconds("other", "smoke", history, {"other": {"default": 60.0}})[0] is None
    specs = [_spec("old1", seed=0), _spec("new1", seed=1), _spec("new2", seed=2), _spec("o1", "other", 0)]
    text = plan_text(specs, {"old1"}, history, {}, workers=1)
    assert "3 of 4 runs to execute" in text and "estimated 4 min of runs" in text  # 2 x 120 s
    assert "(+ 1 run(s) without an estimate)" in text
    # a run without the chapter's illustrations is estimated from runs of its own kind
    _earlier_run(out, "short", 30.0, [10.0, 10.0, 10.0], parameters={"seed": 1, "illustrate": False})
    history = History.read(out)
    assert estimate_seconds("toy", "default without illustrations", history, {})[0] == 30.0
    lean = RunSpec("toy", "default", {"seed": 2, "illustrate": False}, "lean", 2)
    text = plan_text([_spec("new1", seed=1), lean], set(), history, {}, workers=2)
    assert "estimated 2 min of runs" in text and "about 1 min of wall time on 2 worker(s)" in text  # 120 s + 30 s
    assert "default without illustrations" in text


def test_monitor_reports_cells_done_and_time_left(tmp_path):
    out = tmp_path / "sweep"
    _earlier_run(out, "old", 100.0, [10.0, 80.0, 10.0])
    attempt = out / "runs" / "toy" / ".new-attempt-xyz"
    attempt.mkdir(parents=True)
    started = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 20)) + ".000000Z"
    cells = [{"cell_type": "code", "source": "", "metadata": {"papermill": meta}} for meta in (
        {"status": "completed", "duration": 9.0}, {"status": "running", "start_time": started}, {"status": "pending"})]
    (attempt / "toy.ipynb").write_text(json.dumps({"cells": cells}))
    lines = []
    monitor = ProgressMonitor(out, [_spec("new", seed=4)], History.read(out), {}, write=lines.append)
    (line,) = monitor.lines()
    # 80 s cell running for 20 s, then a 10 s cell: 70 s, 1.2 min
    assert "toy seed=4: cell 1 of 3 done, about 1.2 min left" in line
    # with no cell durations of an earlier run: the earlier run's total less the time spent
    (out / "runs" / "toy" / "old" / "toy.ipynb").unlink()
    (line,) = ProgressMonitor(out, [_spec("new", seed=4)], History.read(out), {}).lines()
    assert "cell 1 of 3 done, about 1.2 min left" in line  # 100 - (9 + 20) s = 71 s


def test_committed_timings_are_read(root):
    timings = committed_timings(root)
    assert timings, "notebooks/timings.yaml lists measured run times"
    names = set(notebook_names(root))
    assert set(timings) == names and all(t["default"] > 0 for t in timings.values())


def test_stale_attempts_of_planned_runs_are_cleared(tmp_path):
    out = tmp_path / "sweep"
    runs = out / "runs" / "toy"
    for name in (".a-attempt-1", ".a-attempt-2", ".a-old-9", ".b-attempt-1", "a"):
        (runs / name).mkdir(parents=True)
    removed = clear_stale_attempts([_spec("a")], out)
    assert sorted(p.name for p in removed) == [".a-attempt-1", ".a-attempt-2", ".a-old-9"]
    # the complete run and another key's attempt (not planned here) are left alone
    assert sorted(p.name for p in runs.iterdir()) == [".b-attempt-1", "a"]
    assert clear_stale_attempts([_spec("c", "absent")], out) == []


@pytest.mark.parametrize("interval", [0.05])
def test_monitor_thread_stops(tmp_path, interval):
    monitor = ProgressMonitor(tmp_path, [], History({}, {}), {}, interval=interval, write=lambda line: None)
    monitor.start()
    time.sleep(3 * interval)
    monitor.stop()
    monitor.join(timeout=5)
    assert not monitor.is_alive()


def test_the_books_seeds_after_the_first_leave_out_the_illustrations():
    """The book plans every notebook at every seed, the first seed's runs first; from the second seed on, a notebook with an
    ``illustrate`` parameter runs with it False (and the feature check's Inception rows are skipped), and the
    first seed's runs (the chapters) as the profile says."""
    from twostep.book.notebooks import ILLUSTRATE, book_plan
    from twostep.sweep.execution import notebook_parameters

    specs = book_plan(["mnist_fid", "celeba_fid"], profile="smoke", seeds=[0, 1, 2], root=ROOT)
    # the chapters' runs first, then each later seed's
    assert [(s.notebook, s.seed) for s in specs] == [(n, seed) for seed in (0, 1, 2) for n in ("mnist_fid", "celeba_fid")]
    assert ILLUSTRATE in notebook_parameters("mnist_fid", ROOT) and ILLUSTRATE not in notebook_parameters("celeba_fid", ROOT)
    for spec in specs:
        assert spec.parameters["n_images" if spec.notebook == "celeba_fid" else "n_train"] < 10000  # the smoke profile
        expected = {ILLUSTRATE: False} if spec.notebook == "mnist_fid" and spec.seed > 0 else {}
        assert {k: v for k, v in spec.parameters.items() if k == ILLUSTRATE} == expected
        # the chapters' Inception check runs at every seed (CelebA's claims are decided on it), at the profile's size
        assert spec.parameters["inception_samples"] == 8
    checks = book_plan(["feature_validation"], profile="default", seeds=[0, 1], root=ROOT)
    assert [s.parameters.get("inception_per_half", 50) for s in checks] == [50, 0]
    assert len({s.key for s in specs}) == 6
    assert [s.seed for s in book_plan(["grid_gmm"], profile="smoke", seeds=[4], root=ROOT)] == [4]


def test_the_books_seed_table_gives_the_cheap_chapters_five_seeds():
    """Without ``--seeds`` the book runs each chapter at its seeds from the one table (book_seeds):
    grid, clarinet and PCA at 0-4, the others at 0-2; the chapters' first seeds first, then by seed.
    Seeds given on the command line apply to every chapter."""
    from twostep.book.notebooks import BOOK_SEEDS, MORE_SEEDS, book_plan, book_seeds

    assert book_seeds("grid_gmm") == [0, 1, 2, 3, 4] and book_seeds("mnist_fid") == list(BOOK_SEEDS) == [0, 1, 2]
    assert book_seeds("grid_gmm", [7]) == [7]
    assert set(MORE_SEEDS) == {"grid_gmm", "clarinet_hmm", "pca_brains"}
    specs = book_plan(["mnist_fid", "pca_brains"], profile="smoke", seeds=None, root=ROOT)
    assert [(s.notebook, s.seed) for s in specs] == [("mnist_fid", 0), ("pca_brains", 0), ("mnist_fid", 1), ("pca_brains", 1),
                                                     ("mnist_fid", 2), ("pca_brains", 2), ("pca_brains", 3), ("pca_brains", 4)]
    assert len({s.key for s in specs}) == len(specs)


def test_time_profile_splits_each_run_by_phase(tmp_path):
    """benchmarks/book_profile.py and the book's time page: a run's seconds by phase, per cell, from
    papermill's cell times and profile.json; the seconds outside cells (kernel start) are "rest"."""
    from twostep.book.timeprofile import read_executed, read_run, table

    out = tmp_path / "sweep"
    _earlier_run(out, "k0", 100.0, [1.0, 50.0, 30.0], parameters={"seed": 0})
    folder = out / "runs" / "toy" / "k0"
    nb = json.loads((folder / "toy.ipynb").read_text())
    for i, cell in enumerate(nb["cells"]):
        cell["execution_count"] = i + 1
    (folder / "toy.ipynb").write_text(json.dumps(nb))
    (folder / "profile.json").write_text(json.dumps([
        {"execution_count": 2, "seconds": 50.0, "training": 40.0, "prior fitting": 0.0, "scoring": 5.0,
         "data loading": 0.0, "rest": 5.0},
        {"execution_count": 3, "seconds": 30.0, "training": 0.0, "prior fitting": 20.0, "scoring": 0.0,
         "data loading": 3.0, "rest": 7.0}]))
    run = read_run(folder)
    totals = run.totals()
    assert (totals["training"], totals["prior fitting"], totals["scoring"], totals["data loading"]) == (40, 20, 5, 3)
    assert totals["rest"] == pytest.approx(1 + 5 + 7 + 19)  # the first cell, the cells' rest, kernel start
    assert sum(totals.values()) == pytest.approx(100.0) and totals["unsplit"] == 0
    text = table([run], top_cells=1)
    assert "| toy | 1 | 1.7 | 40% | 20% | 5% | 3% | 32% |" in text and "**seed 0: 1 runs**" in text
    # an executed notebook without its phases (older code): its cells' seconds, unsplit
    (tmp_path / "executed").mkdir()
    (tmp_path / "executed" / "toy.ipynb").write_text((folder / "toy.ipynb").read_text())
    (old,) = read_executed(tmp_path / "executed")
    assert old.seconds == pytest.approx(81.0) and old.totals()["unsplit"] == pytest.approx(81.0)


def test_a_kernel_that_dies_before_its_first_reply_is_started_again_and_other_errors_are_not(monkeypatch, tmp_path):
    """Two processes starting kernels at once can race for a TCP port; the kernel then dies before it
    runs any cell. Such a start is retried (at most KERNEL_START_ATTEMPTS times); nothing else is."""
    import papermill

    from twostep.sweep import execution

    calls = []

    def flaky(*args, failures, message, **kwargs):
        calls.append(1)
        if len(calls) <= failures:
            raise RuntimeError(message)

    def run(failures, message):
        calls.clear()
        monkeypatch.setattr(papermill, "execute_notebook",
                            lambda *a, **k: flaky(*a, failures=failures, message=message, **k))
        return execution.execute("grid_gmm", tmp_path / "out.ipynb", profile="smoke", root=ROOT, progress=False)

    assert "output_dir" in run(1, execution.KERNEL_START_FAILURE) and len(calls) == 2
    with pytest.raises(RuntimeError, match="kernel_info"):
        run(execution.KERNEL_START_ATTEMPTS, execution.KERNEL_START_FAILURE)
    assert len(calls) == execution.KERNEL_START_ATTEMPTS
    with pytest.raises(RuntimeError, match="something else"):
        run(1, "something else")
    assert len(calls) == 1
