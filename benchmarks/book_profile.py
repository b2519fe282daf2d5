"""Where a book build's time goes: per notebook, per cell, per phase (figures to read).

    python benchmarks/book_profile.py build/sweep-default                 # per notebook and its slowest cells
    python benchmarks/book_profile.py build/sweep-default --cells 8       # more cells per notebook
    python benchmarks/book_profile.py build/sweep-default --write-timings # notebooks/timings.yaml (plan estimates)
    python benchmarks/book_profile.py OLD_SWEEP --record "commit 2901a4d" # twostep/book/profile_before.json

Reads the sweep's runs (``run.json``, the executed notebooks' cell times, ``profile.json``'s split by
phase: training, prior fitting, scoring, data loading, the rest; see ``twostep.core.profiling``).
Runs made by code older than the phase split show their cells' seconds as "unsplit". The machine
is named by ``torch.backends.cpu.get_cpu_capability()`` of the machine running this script: run it
where the sweep ran.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import yaml

from twostep.book.timeprofile import BEFORE_FILE, by_notebook, read_sweep, record, table
from twostep.sweep.progress import TIMINGS_FILE

ROOT = Path(__file__).resolve().parents[1]


def machine() -> str:
    import torch

    return f"{os.cpu_count()} cores, {torch.backends.cpu.get_cpu_capability()}, torch {torch.__version__}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep", help="a sweep folder (build/sweep-default after nox -s book)")
    parser.add_argument("--cells", type=int, default=4, help="slowest cells listed per notebook")
    parser.add_argument("--write-timings", action="store_true",
                        help=f"write each notebook's median seconds per run to notebooks/{TIMINGS_FILE}")
    parser.add_argument("--record", metavar="LABEL", help=f"write this build's profile as {BEFORE_FILE.name}")
    args = parser.parse_args()
    runs = read_sweep(Path(args.sweep))
    if not runs:
        print(f"no complete runs in {args.sweep}", file=sys.stderr)
        return 1
    profile = {r["profile"] for r in json.loads((Path(args.sweep) / "plan.json").read_text())}
    print(f"{len(runs)} runs, profile {', '.join(sorted(profile))}; machine: {machine()}\n")
    print(table(runs, top_cells=args.cells))
    if args.write_timings:
        path = ROOT / "notebooks" / TIMINGS_FILE
        data = (yaml.safe_load(path.read_text()) if path.is_file() else {}) or {}
        seconds = data.setdefault("seconds", {})
        for nb in {r.notebook for r in runs}:
            seconds[nb] = {}  # this build's kinds of run replace the notebook's earlier figures
        for kind in sorted({r.kind for r in runs}):
            for r in {r.notebook for r in runs if r.kind == kind}:
                # by_notebook labels runs without illustrations apart; within one kind there is one label
                (s,) = by_notebook([x for x in runs if x.kind == kind and x.notebook == r]).values()
                seconds[r][kind] = round(s["seconds"])
            data.setdefault("machine", {})[kind] = machine()
        header = ("# Measured seconds of one run of each notebook, by profile (benchmarks/book_profile.py\n"
                  "# --write-timings): the sweep's plan estimates from them when its folder has no earlier run.\n")
        path.write_text(header + yaml.safe_dump(data, sort_keys=True))
        print(f"\nwrote {path}")
    if args.record:
        BEFORE_FILE.write_text(json.dumps(record(runs, args.record, machine()), indent=1) + "\n")
        print(f"\nwrote {BEFORE_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
