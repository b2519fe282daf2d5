"""Faults a long build survives, on real small filesystems: a disk that fills while a run writes its
metrics, a figure or a cache entry. (A killed Dask scheduler and an interrupted build are in
``tests/test_sweep.py``, with the other sweep tests.)

Each test mounts its own size-limited tmpfs, which needs root (CI runs as root); elsewhere they skip."""

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import matplotlib
import pytest
import torch
from torch import nn

from twostep.core.files import write_metrics
from twostep.experiments.cache import entry_path, load_or_train

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def small_disk(tmp_path):
    """``mount(size)`` makes a tmpfs of ``size`` bytes and returns it; ``fill(path, leave)`` fills it
    up to ``leave`` free bytes with a file (remove it to give the space back)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mounts = []

    def mount(size: int) -> Path:
        point = tmp_path / f"disk{len(mounts)}"
        point.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)], check=True)
        mounts.append(point)
        return point

    yield mount
    for point in mounts:
        subprocess.run(["umount", "-l", str(point)], check=False)


def fill(disk: Path, leave: int) -> Path:
    """Fill ``disk`` until ``leave`` bytes are free (tmpfs counts whole pages)."""
    filler = disk / "filler"
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    with open(filler, "wb") as fh:
        fh.write(b"\0" * max(0, free - leave))
    return filler


def test_a_full_disk_while_metrics_are_written_names_the_file_and_keeps_the_old_one(small_disk):
    disk = small_disk(1 << 20)
    path = write_metrics(disk / "metrics.json", {"a.b": 1.0})
    filler = fill(disk, 0)
    with pytest.raises(OSError, match=f"could not write {path}: the disk is full") as err:
        write_metrics(path, {f"m{i}.x": float(i) for i in range(20000)})
    assert err.value.errno == errno.ENOSPC
    assert json.loads(path.read_text()) == {"a.b": 1.0}  # the earlier file, whole
    assert sorted(p.name for p in disk.iterdir()) == ["filler", "metrics.json"]  # no temporary file left
    filler.unlink()
    write_metrics(path, {"a.b": 2.0})
    assert json.loads(path.read_text()) == {"a.b": 2.0}


def test_a_full_disk_while_a_cache_entry_is_written_leaves_no_entry_and_the_next_run_builds_it(small_disk):
    disk = small_disk(4 << 20)
    calls = []

    def build():
        return nn.Linear(512, 512)  # 1 MiB of weights

    def train(model):
        calls.append(1)
        with torch.no_grad():
            model.weight.fill_(0.5)

    entry = entry_path("big", {"a": 1}, disk)
    filler = fill(disk, 256 << 10)
    with pytest.raises(OSError, match=f"could not write {entry}: the disk is full") as err:
        load_or_train("big", {"a": 1}, build, train, root=disk)
    assert err.value.errno == errno.ENOSPC
    assert not entry.exists() and not list(disk.glob(".tmp-*"))  # nothing half-written to load later
    filler.unlink()
    model, info = load_or_train("big", {"a": 1}, build, train, root=disk)
    again, cached = load_or_train("big", {"a": 1}, build, train, root=disk)
    assert calls == [1, 1] and not info["cached"] and cached["cached"]
    assert torch.equal(again.weight, torch.full((512, 512), 0.5))


def test_a_full_disk_while_a_figure_is_saved_fails_with_enospc_not_a_truncated_file(small_disk):
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    disk = small_disk(1 << 20)
    fill(disk, 0)
    fig, ax = plt.subplots()
    ax.imshow(torch.rand(400, 400).numpy())
    with pytest.raises(OSError) as err:
        fig.savefig(disk / "figure.png", dpi=150)
    plt.close(fig)
    assert err.value.errno == errno.ENOSPC  # matplotlib's error names no file: the run's record names the folder


@pytest.mark.sweep  # starts a Dask worker: run with the sweep tests, after the parallel ones
def test_a_sweep_on_a_full_disk_fails_loudly_and_resumes_once_space_is_back(small_disk, monkeypatch, tmp_path):
    """The sweep folder on a disk with no room for a run's outputs: the command exits non-zero
    saying the disk is full and where, counts nothing as done, and the same command, once the
    space is back, runs the run to the end."""
    disk = small_disk(64 << 20)
    out = disk / "sweep"
    monkeypatch.setenv("TWOSTEP_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PYTHONHASHSEED", "0")
    command = [sys.executable, "-m", "twostep.sweep", "grid_gmm", "--profile", "smoke", "--seeds", "0",
               "--out", str(out), "--workers", "1", "--threads", "1"]
    out.mkdir()
    filler = fill(disk, 400 << 10)  # room for the plan and tables, not for a run's notebook and figures
    full = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert full.returncode != 0, full.stdout + full.stderr
    text = full.stdout + full.stderr
    assert f"sweep stopped: could not write {out}/" in text and "the disk is full" in text, text[-3000:]
    assert "the same command resumes" in text
    runs = [p for p in out.glob("runs/grid_gmm/*") if not p.name.startswith(".")]  # hidden: attempts
    assert not [p for p in runs if json.loads((p / "run.json").read_text())["status"] == "ok"]
    filler.unlink()
    again = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "1 of 1 runs complete (0 from earlier sweeps), 0 failed" in again.stdout


def test_a_run_whose_notebook_hit_a_full_disk_says_so_and_where(tmp_path, monkeypatch):
    """A figure (or any file a notebook writes itself) on a full disk fails its cell with a bare
    ENOSPC; the run's record adds which folder's disk is full."""
    import papermill

    from twostep.sweep import runner

    def full(*args, **kwargs):
        raise papermill.PapermillExecutionError(7, 7, "fig.savefig(out / 'x.png')", "OSError",
                                                "[Errno 28] No space left on device", [])

    monkeypatch.setattr(runner, "execute", full)
    spec = runner.plan(["grid_gmm"], profile="smoke", seeds=[0], root=ROOT, threads=1)[0]
    record = runner.execute_run(spec, str(tmp_path), str(ROOT))
    assert record["status"] == "failed" and record["cell_index"] == 7
    assert f"the disk is full under {spec.folder(tmp_path).parent}" in record["error"]
