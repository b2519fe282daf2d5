"""Seeding, devices and parameter validation shared by the library and the notebooks."""

from __future__ import annotations

import json
import os
import random
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch


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


# --------------------------------------------------------------------------------------------
# Parameter validation: every notebook validates its parameters with these before training.


class ParameterError(ValueError):
    """A notebook or function parameter has a value that is not allowed."""


def check_int(name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Check that ``value`` is an integer within ``[minimum, maximum]``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ParameterError(f"{name}={value!r} is not allowed: it must be an integer.")
    if minimum is not None and value < minimum:
        raise ParameterError(f"{name}={value!r} is not allowed: it must be an integer >= {minimum}.")
    if maximum is not None and value > maximum:
        raise ParameterError(f"{name}={value!r} is not allowed: it must be an integer <= {maximum}.")
    return int(value)


def check_float(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    strict_minimum: bool = False,
) -> float:
    """Check that ``value`` is a real number within the bounds (``strict_minimum``: ``> minimum``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ParameterError(f"{name}={value!r} is not allowed: it must be a number.")
    value = float(value)
    if not np.isfinite(value):
        raise ParameterError(f"{name}={value!r} is not allowed: it must be finite.")
    if minimum is not None and (value <= minimum if strict_minimum else value < minimum):
        op = ">" if strict_minimum else ">="
        raise ParameterError(f"{name}={value!r} is not allowed: it must be {op} {minimum}.")
    if maximum is not None and value > maximum:
        raise ParameterError(f"{name}={value!r} is not allowed: it must be <= {maximum}.")
    return value


def check_choice(name: str, value: Any, allowed: Iterable[Any]) -> Any:
    """Check that ``value`` is one of ``allowed``."""
    allowed = list(allowed)
    if value not in allowed:
        raise ParameterError(
            f"{name}={value!r} is not allowed: it must be one of {', '.join(map(repr, allowed))}."
        )
    return value


def check_int_list(name: str, value: Any, *, minimum: int | None = None) -> list[int]:
    """Check a non-empty list of integers, each ``>= minimum``."""
    if not isinstance(value, (list, tuple)) or len(value) == 0:
        raise ParameterError(f"{name}={value!r} is not allowed: it must be a non-empty list of integers.")
    return [check_int(f"{name}[{i}]", v, minimum=minimum) for i, v in enumerate(value)]


# --------------------------------------------------------------------------------------------
# Outputs


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_metrics(path: str | os.PathLike, metrics: Mapping[str, Any]) -> Path:
    """Write a flat ``{name: number}`` mapping as JSON; refuse nested or non-numeric values."""
    flat: dict[str, float | int] = {}
    for key, value in metrics.items():
        if not isinstance(key, str):
            raise TypeError(f"metric names must be strings, got {key!r}")
        if isinstance(value, (bool, np.bool_)):
            flat[key] = int(value)
        elif isinstance(value, (int, np.integer)):
            flat[key] = int(value)
        elif isinstance(value, (float, np.floating)):
            flat[key] = float(value)
        else:
            raise TypeError(f"metric {key!r} must be a number, got {type(value).__name__}")
    text = json.dumps(flat, indent=2, sort_keys=True, allow_nan=True) + "\n"
    return atomic_write_bytes(path, text.encode())
