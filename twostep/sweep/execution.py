"""Execute an experiment notebook once with papermill, with named parameter profiles.

Profiles live in ``notebooks/profiles.yaml``: for each notebook, ``smoke`` (tiny, for CI),
``paper`` (the authors' settings, for a GPU) and any others. ``default`` always means the values in
the notebook's own ``parameters`` cell. :mod:`twostep.sweep.runner` runs many of these executions
on Dask; :mod:`twostep.book.notebooks` is the command line for one.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

DEFAULT_PROFILE = "default"

KERNEL_START_FAILURE = "Kernel died before replying to kernel_info"
KERNEL_START_ATTEMPTS = 3


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


# The chapters are kept as text: MyST Markdown notebooks (jupytext's "md:myst"), read into notebook
# objects to execute, inspect and hash; the executed .ipynb is a build product.
NOTEBOOK_SUFFIX = ".md"


def notebook_names(root: Path | None = None) -> list[str]:
    """Names (file stems) of the experiment notebooks in ``notebooks/``."""
    root = root or repo_root()
    return sorted(p.stem for p in (root / "notebooks").glob(f"*{NOTEBOOK_SUFFIX}"))


def notebook_path(name: str, root: Path | None = None) -> Path:
    root = root or repo_root()
    path = root / "notebooks" / f"{name}{NOTEBOOK_SUFFIX}"
    if not path.is_file():
        raise FileNotFoundError(f"no notebook {name!r}; available: {', '.join(notebook_names(root))}")
    return path


def read_notebook(name: str, root: Path | None = None):
    """The notebook ``name`` (its MyST Markdown text, read by jupytext) as an nbformat notebook."""
    import jupytext

    return jupytext.read(notebook_path(name, root), fmt="md:myst")


def load_profiles(root: Path | None = None) -> dict[str, dict[str, dict[str, Any]]]:
    root = root or repo_root()
    data = yaml.safe_load((root / "notebooks" / "profiles.yaml").read_text()) or {}
    return {name: {p: dict(v or {}) for p, v in (profiles or {}).items()} for name, profiles in data.items()}


def profile_names(name: str, root: Path | None = None) -> list[str]:
    return [DEFAULT_PROFILE, *load_profiles(root).get(name, {})]


def notebook_parameters(name: str, root: Path | None = None) -> dict[str, dict[str, Any]]:
    """The notebook's parameters as papermill inspects them: name -> default, type, help."""
    import nbformat
    import papermill

    with tempfile.TemporaryDirectory() as folder:  # papermill inspects .ipynb files
        path = Path(folder) / f"{name}.ipynb"
        nbformat.write(read_notebook(name, root), path)
        return papermill.inspect_notebook(str(path))


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
    for attempt in range(1, KERNEL_START_ATTEMPTS + 1):
        try:
            papermill.execute_notebook(
                read_notebook(name, root),
                str(output_notebook),
                parameters=params,
                kernel_name="python3",
                cwd=str(root),
                progress_bar=progress,
            )
            return params
        except RuntimeError as err:
            # A kernel that dies before its first reply has run no cell: with two processes starting
            # kernels at once, the TCP port jupyter_client picked can be taken in between ("Address
            # already in use"). Such a start is retried, and says so; any other error is raised.
            if KERNEL_START_FAILURE not in str(err) or attempt == KERNEL_START_ATTEMPTS:
                raise
            print(f"{name}: the kernel died before its first reply ({err}); starting it again "
                  f"(attempt {attempt + 1} of {KERNEL_START_ATTEMPTS})", file=sys.stderr)
    raise AssertionError("unreachable")  # pragma: no cover


def notebook_hash(name: str, root: Path | None = None) -> str:
    """SHA-256 of the notebook's cell sources (not its outputs or metadata): part of every sweep
    run's key, so an edited notebook is re-run and an unchanged one is not."""
    nb = read_notebook(name, root)
    text = "\n\x00".join(f"{cell.cell_type}\x01{cell.source}" for cell in nb.cells)
    return hashlib.sha256(text.encode()).hexdigest()


def package_hash() -> str:
    """SHA-256 of the ``twostep`` package's Python sources: part of every sweep run's key, so a
    changed library re-runs the sweep instead of serving results of older code."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode() + b"\x00" + path.read_bytes() + b"\x00")
    return digest.hexdigest()
