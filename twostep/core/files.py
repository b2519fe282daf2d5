"""Files: SHA-256 digests, atomic writes and the flat ``metrics.json`` every notebook writes."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """The SHA-256 hex digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder, then rename): on a
    full disk nothing is left under ``path`` or beside it, an older file there stays as it was, and
    the error names the path (:func:`write_error`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise write_error(path, exc) from exc
    finally:
        if tmp is not None and Path(tmp).exists():
            Path(tmp).unlink(missing_ok=True)
    return path


def write_error(path: str | os.PathLike, exc: BaseException) -> OSError:
    """An ``OSError`` that names ``path`` (and, for a full disk, says so and what to do), keeping
    the original's ``errno`` (``ENOSPC`` for a full disk)."""
    code = getattr(exc, "errno", None)
    what = ("the disk is full; free space there and run again (nothing half-written is kept)"
            if code == errno.ENOSPC else str(exc))
    return OSError(code, f"could not write {path}: {what}")


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
