"""Command line of the sweep runner (``nox -s sweep -- ...`` calls it); see :mod:`twostep.sweep.runner`.

    python -m twostep.sweep grid_gmm --profile smoke --seeds 0 1 2 --grid epochs=50,100 --out sweeps/grid
    python -m twostep.sweep all --seeds 0 1 2 --out sweeps/default            # every notebook
    python -m twostep.sweep mnist_fid --seeds 0 1 2 3 4 --scheduler tcp://HOST:8786 --out sweeps/mnist
"""

from __future__ import annotations

import argparse
import errno
import sys
from pathlib import Path
from typing import Any

import yaml

from twostep.sweep.execution import DEFAULT_PROFILE, notebook_names, repo_root
from twostep.sweep.runner import parse_grid, plan, run_sweep


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m twostep.sweep", description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", help="notebook name(s), e.g. grid_gmm, or 'all'")
    parser.add_argument("--profile", default=DEFAULT_PROFILE, help="parameter profile (default, smoke, paper, ...)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0], help="seeds to run (default: 0)")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="a parameter value for every run (a YAML scalar or list)")
    parser.add_argument("--grid", action="append", default=[], metavar="NAME=V1,V2",
                        help="a parameter swept over values (every combination of the grids is run)")
    parser.add_argument("--out", default="sweeps/latest", help="the sweep folder (runs/, results.csv, summary.csv)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, help="local cluster worker processes (default: cores / threads per run)")
    where.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://HOST:8786")
    parser.add_argument("--threads", type=int,
                        help="torch threads per run (default 2, as a run alone; part of the run's key: it changes CPU sums)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    root = repo_root()
    names = notebook_names(root) if args.notebooks == ["all"] else args.notebooks
    overrides: dict[str, Any] = {name: yaml.safe_load(value) for name, value in args.parameter}
    specs = plan(names, profile=args.profile, seeds=args.seeds, overrides=overrides, grid=parse_grid(args.grid),
                 root=root, threads=args.threads)
    print(f"{len(specs)} runs of {', '.join(names)} (profile {args.profile}, seeds {args.seeds}) into {Path(args.out)}",
          flush=True)
    try:
        result = run_sweep(specs, args.out, workers=args.workers, scheduler=args.scheduler, root=root)
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
        print(f"sweep stopped: {exc.strerror or exc}\nFinished runs under {Path(args.out).resolve()} are kept; "
              "once there is space, the same command resumes.", file=sys.stderr, flush=True)
        return 1
    print(result.summary(), flush=True)
    return 1 if result.failed else 0


if __name__ == "__main__":
    sys.exit(main())
