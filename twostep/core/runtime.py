"""Seeding, devices and the user's cache folders."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch

from twostep.core.checks import check_int


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch.

    Also asks torch for deterministic algorithms where they exist, so that the same parameters
    give the same numbers on a CPU.
    """
    check_int("seed", seed, minimum=0)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def user_cache(*parts: str, env: str | None = None) -> Path:
    """``$<env>`` when set, else ``$XDG_CACHE_HOME/twostep/<parts>``, else ``~/.cache/twostep/<parts>``."""
    if env and os.environ.get(env):
        return Path(os.environ[env]).expanduser().resolve()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser().resolve().joinpath("twostep", *parts)


def get_device(device: str | torch.device = "auto") -> torch.device:
    """Resolve ``"auto"`` to CUDA when available, else CPU; pass anything else through."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


CACHE_ENV = "TWOSTEP_CACHE"


def cache_dir() -> Path:
    return user_cache("models", env=CACHE_ENV)
