"""A disk cache of trained models (step 1 autoencoders, FID feature networks, priors: anything with
``state_dict`` and ``load_state_dict``), keyed by the parameters that define them, so that
re-executing a notebook with a different prior reuses them.

Each entry is a folder ``<cache>/<name>-<key>/`` holding ``config.json`` (the defining parameters),
``weights.pt`` (the state dict) and ``manifest.json`` (the SHA-256 of the weights and any extra
information such as training history), like pythae's config + weights. Entries are written to a
temporary folder and renamed into place, so a crash never leaves a half-written entry under the
final name; an entry whose manifest is missing, whose weights do not match their checksum or do not
load is reported, deleted and rebuilt. The cache folder is ``$TWOSTEP_CACHE``, else
``$XDG_CACHE_HOME/twostep/models``, else ``~/.cache/twostep/models``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from filelock import FileLock, Timeout
from torch import nn

from twostep.core.files import sha256_file, write_error
from twostep.core.runtime import cache_dir


def config_key(config: Mapping[str, Any]) -> str:
    """A short stable hash of a JSON-able configuration (key order does not matter)."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


LOCKS = ".locks"


class CorruptEntry(RuntimeError):
    pass


def entry_path(name: str, config: Mapping[str, Any], root: Path | None = None) -> Path:
    return (root or cache_dir()) / f"{name}-{config_key(config)}"


def _eval(model):
    """A network in evaluation mode; a prior as it is (it has no training mode)."""
    return model.eval() if isinstance(model, nn.Module) else model


def _load_entry(path: Path, model) -> dict[str, Any]:
    manifest_file = path / "manifest.json"
    if not manifest_file.is_file():
        raise CorruptEntry(f"{path} has no manifest.json")
    manifest = json.loads(manifest_file.read_text())
    weights = path / "weights.pt"
    if not weights.is_file() or sha256_file(weights) != manifest.get("weights_sha256"):
        raise CorruptEntry(f"{weights} is missing or does not match the checksum in its manifest")
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except Exception as exc:  # noqa: BLE001 - any failure to load means rebuild
        raise CorruptEntry(f"{weights} does not load: {exc}") from exc
    return manifest


def load_or_train(
    name: str,
    config: Mapping[str, Any],
    build: Callable[[], Any],
    train: Callable[[Any], Mapping[str, Any] | None],
    *,
    root: Path | None = None,
    use_cache: bool = True,
) -> tuple[Any, dict[str, Any]]:
    """Return the model defined by ``config``, from the cache when a valid entry exists.

    ``build()`` makes an untrained model (a torch module, or a prior: what has ``state_dict`` and
    ``load_state_dict``); ``train(model)`` trains (or fits) it in place and may return extra
    JSON-able information (kept in the manifest as ``info``, with the training ``seconds`` added
    unless ``train`` gives them). The returned dict is the manifest, with ``cached`` telling
    whether the model came from disk.
    """
    config = json.loads(json.dumps(dict(config), sort_keys=True, default=str))
    path = entry_path(name, config, root)
    if not use_cache:
        return _load_or_train(name, config, path, build, train, use_cache=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.parent / LOCKS).mkdir(exist_ok=True)
    lock = FileLock(path.parent / LOCKS / f"{path.name}.lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        print(f"{path.name}: another process is building this cache entry; waiting for it", flush=True)
        lock.acquire()
    try:
        return _load_or_train(name, config, path, build, train, use_cache=True)
    finally:
        lock.release()


def _load_or_train(name, config, path: Path, build, train, *, use_cache: bool) -> tuple[Any, dict[str, Any]]:
    model = build()
    if use_cache and path.exists():
        try:
            manifest = _load_entry(path, model)
            return _eval(model), {**manifest, "cached": True, "path": str(path)}
        except CorruptEntry as exc:
            warnings.warn(f"cache entry rebuilt: {exc}", stacklevel=2)
            shutil.rmtree(path, ignore_errors=True)
            model = build()
    start = time.perf_counter()
    info = dict(train(model) or {})
    info.setdefault("seconds", time.perf_counter() - start)  # the training time, kept with the entry
    model = _eval(model)
    if not use_cache:
        return model, {"config": config, "info": dict(info), "cached": False, "path": None}
    tmp = None
    try:
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".tmp-{path.name}-"))
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        weights = io.BytesIO()  # serialised in memory: torch.save's own errors on a full disk say nothing of it
        torch.save(state, weights)
        (tmp / "weights.pt").write_bytes(weights.getvalue())
        (tmp / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
        manifest = {"name": name, "config": config, "weights_sha256": sha256_file(tmp / "weights.pt"),
                    "info": json.loads(json.dumps(dict(info), default=float))}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    except OSError as exc:  # a full disk
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        raise write_error(path, exc) from exc
    try:
        try:
            os.rename(tmp, path)
        except OSError:  # another process wrote the same entry first: keep theirs
            shutil.rmtree(tmp, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return model, {**manifest, "cached": False, "path": str(path)}
