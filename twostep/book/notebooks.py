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
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from twostep.experiments.configs import CONFIGS, allowed

DEFAULT_PROFILE = "default"


def repo_root() -> Path:
    """The repository root: ``$TWOSTEP_ROOT``, else the first parent of the working directory
    that holds ``notebooks/profiles.yaml``."""
    env = os.environ.get("TWOSTEP_ROOT")
    if env:
        return Path(env).resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "notebooks" / "profiles.yaml").is_file():
            return folder
    raise FileNotFoundError(
        f"no notebooks/profiles.yaml in {here} or its parents: run this from the twostep repository "
        "or set TWOSTEP_ROOT"
    )


def notebook_names(root: Path | None = None) -> list[str]:
    """Names (file stems) of the experiment notebooks in ``notebooks/``."""
    root = root or repo_root()
    return sorted(p.stem for p in (root / "notebooks").glob("*.ipynb"))


def notebook_path(name: str, root: Path | None = None) -> Path:
    root = root or repo_root()
    path = root / "notebooks" / f"{name}.ipynb"
    if not path.is_file():
        raise FileNotFoundError(f"no notebook {name!r}; available: {', '.join(notebook_names(root))}")
    return path


def load_profiles(root: Path | None = None) -> dict[str, dict[str, dict[str, Any]]]:
    root = root or repo_root()
    data = yaml.safe_load((root / "notebooks" / "profiles.yaml").read_text()) or {}
    return {name: {p: dict(v or {}) for p, v in (profiles or {}).items()} for name, profiles in data.items()}


def profile_names(name: str, root: Path | None = None) -> list[str]:
    return [DEFAULT_PROFILE, *load_profiles(root).get(name, {})]


def notebook_parameters(name: str, root: Path | None = None) -> dict[str, dict[str, Any]]:
    """The notebook's parameters as papermill inspects them: name -> default, type, help."""
    import papermill

    return papermill.inspect_notebook(str(notebook_path(name, root)))


def resolve_parameters(
    name: str,
    profile: str = DEFAULT_PROFILE,
    overrides: dict[str, Any] | None = None,
    root: Path | None = None,
) -> dict[str, Any]:
    """Profile values, then ``overrides``; every name must be a parameter of the notebook."""
    profiles = load_profiles(root).get(name, {})
    if profile != DEFAULT_PROFILE and profile not in profiles:
        raise KeyError(
            f"profile {profile!r} is not defined for {name}; available: {', '.join(profile_names(name, root))}"
        )
    params = dict(profiles.get(profile, {})) if profile != DEFAULT_PROFILE else {}
    params.update(overrides or {})
    known = notebook_parameters(name, root)
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise KeyError(f"{name} has no parameter(s) {', '.join(unknown)}; its parameters: {', '.join(known)}")
    return params


def execute(
    name: str,
    output_notebook: str | os.PathLike,
    *,
    profile: str = DEFAULT_PROFILE,
    overrides: dict[str, Any] | None = None,
    output_dir: str | os.PathLike | None = None,
    root: Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Execute notebook ``name`` with papermill into ``output_notebook``; return the parameters used.

    ``output_dir`` (where the notebook writes ``metrics.json``, figures and samples) defaults to a
    folder named after ``output_notebook`` beside it. A failing cell raises papermill's
    ``PapermillExecutionError``, which names the cell.
    """
    import papermill

    root = root or repo_root()
    output_notebook = Path(output_notebook).resolve()
    output_notebook.parent.mkdir(parents=True, exist_ok=True)
    if output_dir is None:
        output_dir = output_notebook.with_suffix("")
    params = resolve_parameters(name, profile, overrides, root)
    params["output_dir"] = str(Path(output_dir).resolve())
    papermill.execute_notebook(
        str(notebook_path(name, root)),
        str(output_notebook),
        parameters=params,
        kernel_name="python3",
        cwd=str(root),
        progress_bar=progress,
    )
    return params


def parameters_page(root: Path | None = None, report: list[dict[str, Any]] | None = None) -> str:
    """A MyST page with, for each notebook, its parameters (default and meaning, read by papermill's
    inspection of the notebook), its profiles' values, and the commands that re-run it; with this
    build's ``execution_report.json`` rows, also how long each notebook took."""
    root = root or repo_root()
    profiles = load_profiles(root)
    runs = {row["notebook"]: row for row in report or []}
    lines = ["# Parameters of every experiment", "",
             "Read from each notebook's `parameters` cell with papermill's inspection, from its validated",
             "configuration (`twostep/experiments/configs.py`: what values are allowed) and from",
             "`notebooks/profiles.yaml` when the book was built; `default` is the notebook's own value.", ""]
    for name in notebook_names(root):
        params = notebook_parameters(name, root)
        profs = profiles.get(name, {})
        lines += [f"## {{doc}}`{name}`", ""]
        if name in runs:
            row = runs[name]
            lines += [f"In this build it ran with the `{row['profile']}` profile in {row['seconds'] / 60:.1f} min "
                      f"on {row.get('cpus', '?')} CPU cores ({row['status']}).", ""]
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
