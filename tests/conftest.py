import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def pytest_configure(config):
    """Torch threads per test process: ``$TWOSTEP_THREADS`` when set (``nox -s tests`` sets 1, for
    its two xdist workers on 2 cores: two processes of 2 threads each run torch 5-10 times slower)."""
    threads = os.environ.get("TWOSTEP_THREADS")
    if threads:
        import torch

        torch.set_num_threads(int(threads))


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture
def shared_data(monkeypatch) -> Path:
    """The offline data directory (TWOSTEP_DATA, else ../shared/data); skip when neither exists."""
    path = Path(os.environ.get("TWOSTEP_DATA", SHARED_DATA))
    if not path.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"CI needs the offline data directory, but {path} does not exist (set TWOSTEP_DATA)")
        pytest.skip(f"no offline data directory at {path}")
    monkeypatch.setenv("TWOSTEP_DATA", str(path))
    return path
