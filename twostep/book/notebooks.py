"""Execute the experiment notebooks with papermill, with named parameter profiles.

Profiles live in ``notebooks/profiles.yaml``: for each notebook, ``smoke`` (tiny, for CI),
``paper`` (the authors' settings, for a GPU) and any others. ``default`` always means the values in
the notebook's own ``parameters`` cell. Command line (``nox -s run -- ...`` calls it)::

    python -m twostep.book.notebooks run grid_gmm --profile smoke -p seed 3 -p epochs 200
    python -m twostep.book.notebooks run grid_gmm -f my_params.yaml --output-dir runs/grid_seed3
    python -m twostep.book.notebooks params grid_gmm          # the parameters, defaults and help text
    python -m twostep.book.notebooks execute-all --profile smoke --dest build/smoke
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from twostep.experiments.configs import CONFIGS, allowed
from twostep.sweep.execution import (  # noqa: F401 - the one-notebook API, re-exported for the CLI's users
    DEFAULT_PROFILE,
    execute,
    load_profiles,
    notebook_names,
    notebook_parameters,
    notebook_path,
    profile_names,
    read_notebook,
    repo_root,
    resolve_parameters,
)
from twostep.sweep.runner import plan, run_sweep
from twostep.sweep.tables import read_plan


def parameters_page(root: Path | None = None, report: list[dict[str, Any]] | None = None) -> str:
    """A MyST page with, for each notebook, its parameters (default and meaning, read by papermill's
    inspection of the notebook), its profiles' values, and the commands that re-run it; with this
    build's ``execution_report.json`` rows, also how long each notebook took."""
    root = root or repo_root()
    profiles = load_profiles(root)
    runs: dict[str, list[dict[str, Any]]] = {}
    for row in report or []:
        runs.setdefault(row["notebook"], []).append(row)
    lines = ["# Parameters of every experiment", "",
             "Read from each notebook's `parameters` cell with papermill's inspection, from its validated",
             "configuration (`twostep/experiments/configs.py`: what values are allowed) and from",
             "`notebooks/profiles.yaml` when the book was built; `default` is the notebook's own value.", ""]
    for name in notebook_names(root):
        params = notebook_parameters(name, root)
        profs = profiles.get(name, {})
        lines += [f"## {{doc}}`{name}`", ""]
        if name in runs:
            rows = runs[name]
            each = ", ".join(f"seed {r.get('seed', '?')}: {r['seconds'] / 60:.1f} min ({r['status']})" for r in rows)
            threads = rows[0].get("threads") or rows[0].get("cpus", "?")
            lines += [f"In this build it ran with the `{rows[0]['profile']}` profile ({each}), each run on "
                      f"{threads} torch thread(s) of a {rows[0].get('cpus', '?')}-core machine.", ""]
        lines += ["```bash",
                  f"nox -s run -- {name} -p seed 1 --output-dir runs/{name}-seed1   # new values",
                  *[f"nox -s run -- {name} --profile {p}" for p in profs], "```", "",
                  "| parameter | default | allowed | " + " | ".join(profs) + (" | " if profs else "") + "meaning |",
                  "|---|---|---|" + "---|" * len(profs) + "---|"]
        config = CONFIGS[name]
        for pname, info in params.items():
            cells = [f"`{pname}`", f"`{info['default']}`", allowed(config, pname)]
            cells += [f"`{profs[p][pname]!r}`" if pname in profs[p] else "" for p in profs]
            lines.append("| " + " | ".join(cells) + f" | {info['help'].replace('|', '/')} |")
        lines.append("")
    return "\n".join(lines)


def execute_all(dest: Path, profile: str, root: Path) -> list[dict[str, Any]]:
    """Execute every notebook into ``dest``; return one report row per notebook (status, seconds,
    and for a failure the failing cell and error). Every notebook is attempted."""
    import papermill

    report = []
    for nb in notebook_names(root):
        start = time.perf_counter()
        row: dict[str, Any] = {"notebook": nb, "profile": profile, "cpus": os.cpu_count()}
        try:
            execute(nb, dest / f"{nb}.ipynb", profile=profile, output_dir=dest / nb, root=root)
            row["status"] = "ok"
        except papermill.PapermillExecutionError as exc:
            row.update(status="failed", cell_index=exc.cell_index, execution_count=exc.exec_count,
                       error=f"{exc.ename}: {exc.evalue}")
        row["seconds"] = round(time.perf_counter() - start, 1)
        print(f"{nb}: {row['status']} with profile {profile} in {row['seconds']} s"
              + (f" (cell {row['cell_index']}: {row['error']})" if row["status"] != "ok" else ""), flush=True)
        report.append(row)
    return report


# Longest first (default-profile run times at 11f6769), so that a local cluster ends on short runs;
# the order of execution changes nothing in any run. Notebooks not listed run last.
HEAVIEST_FIRST = ["celeba_fid", "mnist_fid", "wgan_gmm", "gan_prior", "pca_brains", "clarinet_hmm", "grid_gmm"]


def stage_sweep(sweep: Path, dest: Path) -> list[dict[str, Any]]:
    """Copy, for each notebook of the sweep's plan, its run with the smallest seed into ``dest`` as
    the chapter (``<nb>.ipynb`` and its output folder ``<nb>/``); return the execution report: one
    row per run of the plan (status, seconds, seed), the staged ones marked ``chapter``."""
    plan_rows = read_plan(sweep)
    report, staged = [], {}
    for row in sorted(plan_rows, key=lambda r: (r["notebook"], r["seed"])):
        folder = sweep / "runs" / row["notebook"] / row["key"]
        record = json.loads((folder / "run.json").read_text()) if (folder / "run.json").is_file() else \
            {"status": "not run", "seconds": 0}
        entry = {"notebook": row["notebook"], "seed": row["seed"], "profile": row["profile"], "key": row["key"],
                 "status": record["status"], "seconds": record.get("seconds", 0), "threads": record.get("threads"),
                 "cpus": os.cpu_count(), "chapter": False}
        if record["status"] == "ok" and row["notebook"] not in staged:
            staged[row["notebook"]] = folder
            entry["chapter"] = True
        report.append(entry)
    for nb, folder in staged.items():
        target = dest / nb
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(folder, target, ignore=shutil.ignore_patterns("*.ipynb", "run.json"))
        shutil.copy(folder / f"{nb}.ipynb", dest / f"{nb}.ipynb")
    return report


# The parameter that turns off what only illustrates a chapter (models and sections that decide no
# claim); the book sets it False at every seed but the first, whose runs are the chapters.
ILLUSTRATE = "illustrate"
# Parameters of work the book does at its first seed only, and their value at the later seeds:
# illustrations, the feature check's Inception rows and FID∞, which decide no claim. The chapters' Inception
# checks (``inception_samples``) run at every seed: CelebA's claims are decided on their KID, and
# MNIST's where Inception and the offline distance disagree (twostep.book.rules).
FIRST_SEED_ONLY = {ILLUSTRATE: False, "inception_per_half": 0, "fid_infinity_samples": 0}


# The default book's seeds, one table: every chapter runs BOOK_SEEDS, and the chapters whose later
# seeds cost a few minutes (grid about 1 min, clarinet about 2, PCA under 2 on 2 cores) run more, so
# that their claims are decided at n = 5. The claims and seeds pages show n per claim.
BOOK_SEEDS = (0, 1, 2)
MORE_SEEDS = {"grid_gmm": 5, "clarinet_hmm": 5, "pca_brains": 5}


def book_seeds(name: str, seeds: list[int] | None = None) -> list[int]:
    """The seeds the book runs ``name`` at: ``seeds`` when given (every chapter the same, e.g.
    ``TWOSTEP_BOOK_SEEDS``), else :data:`BOOK_SEEDS`, or ``range(MORE_SEEDS[name])``."""
    if seeds is not None:
        return list(seeds)
    return list(range(MORE_SEEDS[name])) if name in MORE_SEEDS else list(BOOK_SEEDS)


def book_plan(names: list[str], *, profile: str, seeds: list[int] | None, root: Path) -> list:
    """The book's runs: every notebook at each of its seeds (:func:`book_seeds`) with the profile's
    parameters, the first seed's runs (the chapters) first, in the order of ``names``, then the
    later seeds', so that a build stopped halfway has every chapter. At the seeds after the first, notebooks that have an
    ``illustrate`` parameter run with it False, so they train and score only what decides their
    claims (every claim is still decided in every seed; the chapters show everything), the feature
    check skips its Inception half and the FID chapters their FID∞ (:data:`FIRST_SEED_ONLY`); the
    Inception checks that decide claims run at every seed."""
    per_name = {name: book_seeds(name, seeds) for name in names}
    specs = []
    for name in names:
        specs += plan([name], profile=profile, seeds=per_name[name][:1], root=root)
    later = sorted({seed for chosen in per_name.values() for seed in chosen[1:]})
    for seed in later:
        for name in (n for n in names if seed in per_name[n][1:]):
            params = notebook_parameters(name, root)
            extra = {k: v for k, v in FIRST_SEED_ONLY.items() if k in params}
            specs += plan([name], profile=profile, seeds=[seed], overrides=extra, root=root)
    return specs


def build_from_sweep(sweep: Path, dest: Path, *, profile: str, seeds: list[int] | None, execute_runs: bool,
                     root: Path, workers: int | None = None) -> int:
    """The book's executed notebooks from a sweep: run every notebook x seed through the sweep
    runner (unless ``execute_runs`` is False: an existing sweep folder, e.g. a ``paper`` sweep from
    a GPU cluster), then stage each notebook's first seed as its chapter."""
    failed = []
    if execute_runs:
        names = sorted(notebook_names(root), key=lambda n: HEAVIEST_FIRST.index(n) if n in HEAVIEST_FIRST else 99)
        specs = book_plan(names, profile=profile, seeds=seeds, root=root)
        result = run_sweep(specs, sweep, workers=workers, root=root)
        print(result.summary(), flush=True)
        failed = result.failed
    dest.mkdir(parents=True, exist_ok=True)
    report = stage_sweep(sweep, dest)
    (dest / "execution_report.json").write_text(json.dumps(report, indent=2) + "\n")
    missing = sorted(set(notebook_names(root)) - {r["notebook"] for r in report if r["chapter"]})
    if failed or missing:
        print(f"{len(failed)} run(s) failed; chapters missing: {', '.join(missing) or 'none'}", file=sys.stderr)
        return 1
    return 0


def _parse_value(text: str) -> Any:
    """Command-line values are YAML scalars or lists: ``3`` -> int, ``0.1`` -> float, ``[1, 10]`` -> list."""
    return yaml.safe_load(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m twostep.book.notebooks", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="execute one notebook with new parameters")
    run.add_argument("notebook", help="notebook name, e.g. grid_gmm")
    run.add_argument("--profile", default=DEFAULT_PROFILE, help="parameter profile (default, smoke, paper, ...)")
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    run.add_argument("-f", "--parameters-file", help="YAML file of parameter values")
    run.add_argument("--output-dir", help="where results go (default runs/<notebook>-<profile>)")

    params = sub.add_parser("params", help="list a notebook's parameters and profiles")
    params.add_argument("notebook")

    allp = sub.add_parser("execute-all", help="execute every notebook with one profile")
    allp.add_argument("--profile", default=DEFAULT_PROFILE)
    allp.add_argument("--dest", required=True, help="folder for executed notebooks and their outputs")

    book = sub.add_parser("book", help="execute every notebook x seed through the sweep runner and stage the chapters")
    book.add_argument("--profile", default=DEFAULT_PROFILE)
    book.add_argument("--seeds", nargs="+", type=int, default=None,
                      help="the same seeds for every notebook (default: the book's table, book_seeds)")
    book.add_argument("--sweep", required=True, help="sweep folder (complete runs in it are reused)")
    book.add_argument("--dest", required=True, help="folder for the chapters (each notebook's first seed)")
    book.add_argument("--no-execute", action="store_true", help="use the sweep folder as it is (no run)")
    book.add_argument("--workers", type=int, help="local cluster worker processes")

    pages = sub.add_parser("pages", help="write the generated book pages (parameters) into a folder")
    pages.add_argument("--dest", required=True)

    args = parser.parse_args(argv)
    root = repo_root()
    if args.command == "params":
        for pname, info in notebook_parameters(args.notebook, root).items():
            print(f"{pname} = {info['default']}  # {info['help']}")
        profiles = load_profiles(root).get(args.notebook, {})
        for prof, values in profiles.items():
            print(f"profile {prof}: {values}")
        return 0
    if args.command == "run":
        overrides: dict[str, Any] = {}
        if args.parameters_file:
            overrides.update(yaml.safe_load(Path(args.parameters_file).read_text()) or {})
        overrides.update({k: _parse_value(v) for k, v in args.parameter})
        out_dir = Path(args.output_dir or root / "runs" / f"{args.notebook}-{args.profile}")
        used = execute(args.notebook, out_dir / f"{args.notebook}.ipynb", profile=args.profile,
                       overrides=overrides, output_dir=out_dir, root=root)
        print(f"executed {args.notebook} with {used}\nresults in {out_dir}")
        return 0
    dest = Path(args.dest)
    dest.mkdir(parents=True, exist_ok=True)
    if args.command == "book":
        return build_from_sweep(Path(args.sweep).resolve(), dest.resolve(), profile=args.profile, seeds=args.seeds,
                                execute_runs=not args.no_execute, root=root, workers=args.workers)
    if args.command == "pages":
        report_file = dest / "execution_report.json"
        report = json.loads(report_file.read_text()) if report_file.exists() else None
        (dest / "parameters.md").write_text(parameters_page(root, report))
        print(f"wrote {dest / 'parameters.md'}")
        return 0
    report = execute_all(dest, args.profile, root)
    (dest / "execution_report.json").write_text(json.dumps(report, indent=2) + "\n")
    failed = [r for r in report if r["status"] != "ok"]
    if failed:
        print(f"{len(failed)} notebook(s) failed; see {dest / 'execution_report.json'} and the executed notebooks",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
