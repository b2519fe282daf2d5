"""Print the book build's wall time, peak memory and each notebook's time per seed (figures to read).

    python benchmarks/book_build.py                      # runs `nox -s book` here, then reports
    python benchmarks/book_build.py --report-only build/sweep-default   # report an earlier build

Memory is the summed resident memory of the build's whole process tree (nox, the Dask workers, the
notebook kernels), sampled every 2 s; run times come from each run's ``run.json`` in the sweep
folder. For a cold start, run it from a fresh clone with an empty ``TWOSTEP_CACHE``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path


def tree_rss(root: int) -> int:
    """Summed resident memory (bytes) of process ``root`` and all its descendants, from ``ps``
    (runs with the system Python, before nox has made an environment)."""
    table = subprocess.run(["ps", "-eo", "pid=,ppid=,rss="], capture_output=True, text=True, check=True).stdout
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for line in table.splitlines():
        pid, ppid, kb = (int(x) for x in line.split())
        children.setdefault(ppid, []).append(pid)
        rss[pid] = kb * 1024
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack += children.get(pid, [])
    return total


def run(command: list[str]) -> tuple[float, int, int]:
    start = time.perf_counter()
    proc = subprocess.Popen(command)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, tree_rss(proc.pid))
        time.sleep(2)
    return time.perf_counter() - start, peak, proc.returncode


def report(sweep: Path) -> None:
    plan = json.loads((sweep / "plan.json").read_text())
    by_notebook: dict[str, list[tuple[int, float, str]]] = {}
    for row in plan:
        record_file = sweep / "runs" / row["notebook"] / row["key"] / "run.json"
        record = json.loads(record_file.read_text()) if record_file.is_file() else {"status": "missing", "seconds": 0}
        by_notebook.setdefault(row["notebook"], []).append((row["seed"], record["seconds"], record["status"]))
    total = 0.0
    print(f"{'notebook':<14} {'seeds':<10} {'seconds per run':<34} {'mean':>7}")
    for nb, runs in sorted(by_notebook.items()):
        seconds = [s for _, s, _ in runs]
        total += sum(seconds)
        each = ", ".join(f"{s:.0f}" + ("" if st == "ok" else f" ({st})") for _, s, st in sorted(runs))
        print(f"{nb:<14} {','.join(str(seed) for seed, _, _ in sorted(runs)):<10} {each:<34} {statistics.mean(seconds):>7.0f}")
    print(f"sum of run times: {total / 60:.1f} min (runs execute side by side, one per worker)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--report-only", metavar="SWEEP", help="only report the runs of this sweep folder")
    parser.add_argument("--sweep", default="build/sweep-default", help="the build's sweep folder")
    args = parser.parse_args()
    if args.report_only:
        report(Path(args.report_only))
        return 0
    wall, peak, code = run(["nox", "-s", "book"])
    print(f"nox -s book: exit {code}, wall {wall / 60:.1f} min, peak memory of the process tree {peak / 1e9:.2f} GB")
    if (Path(args.sweep) / "plan.json").is_file():
        report(Path(args.sweep))
    return code


if __name__ == "__main__":
    sys.exit(main())
