"""Named seed streams: one function derives every stage's seed; nothing else does arithmetic on seeds."""

import ast
import re
from pathlib import Path

import jupytext
import numpy as np
import pytest

from twostep.core.seeds import STAGES, stage_seed

ROOT = Path(__file__).resolve().parents[1]


def test_a_stage_seed_depends_on_the_run_seed_the_stage_and_the_index_only():
    assert stage_seed(0, "samples") == stage_seed(0, "samples")  # reproducible
    seeds = {stage_seed(s, stage, i) for s in range(3) for stage in STAGES for i in range(3)}
    assert len(seeds) == 3 * len(STAGES) * 3  # all distinct
    assert all(0 <= s < 2**32 for s in seeds)
    # independent streams: run 1's samples do not draw what run 0's joint stage draws (seed + 1 did)
    a = np.random.default_rng(stage_seed(0, "joint")).standard_normal(1000)
    b = np.random.default_rng(stage_seed(1, "samples")).standard_normal(1000)
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.15
    # the same as SeedSequence on (seed, the name's hash, index), computed independently
    import hashlib

    name = int.from_bytes(hashlib.sha256(b"segment").digest()[:8], "little")
    assert stage_seed(5, "segment", 2) == int(np.random.SeedSequence([5, name, 2]).generate_state(1)[0])


def test_an_unnamed_stage_or_a_bad_seed_is_refused():
    with pytest.raises(ValueError, match="stage 'sampels' is not allowed: one of 'samples'"):
        stage_seed(0, "sampels")
    with pytest.raises(ValueError, match="seed"):
        stage_seed(-1, "samples")


SEED_ARITHMETIC = re.compile(r"\b(seed|random_state)\w*\s*[+*%-]\s*\w|\w\s*\+\s*(self\.|cfg\.)?(seed|random_state)\b")


def _code_of(path: Path) -> list[tuple[str, str]]:
    """(where, code) of a library module (docstrings left out) or a notebook's code cells."""
    if path.suffix == ".md":
        return [(f"{path.name} cell {i}", c.source) for i, c in enumerate(jupytext.read(path).cells)
                if c.cell_type == "code"]
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):  # blank docstrings out: they may describe the old offsets
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            node.value.value = ""
    return [(str(path.relative_to(ROOT)), ast.unparse(tree))]


def test_no_arithmetic_on_seeds_outside_the_seed_module():
    offenders = []
    paths = [p for p in (ROOT / "twostep").rglob("*.py") if p.name != "seeds.py"] + sorted((ROOT / "notebooks").glob("*.md"))
    for path in paths:
        for where, code in _code_of(path):
            for line in code.splitlines():
                if SEED_ARITHMETIC.search(line.split("#")[0]):
                    offenders.append(f"{where}: {line.strip()}")
    assert not offenders, "seeds derived by hand (use twostep.core.seeds.stage_seed):\n" + "\n".join(offenders)
