"""Seeding, devices and the user's cache folders."""

from __future__ import annotations

import os
from pathlib import Path

import torch



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
