"""Folders of aligned images: the Allen atlas plates (standing in for the paper's brains) and CelebA."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
from filelock import FileLock

from twostep.core.files import sha256_file
from twostep.core.profiling import phased
from twostep.core.runtime import cache_dir
from twostep.data.registry import (
    DATASETS,
    DatasetMissingError,
    _missing_message,
    data_dir,
    dataset_path,
)


def pad_to_aspect(image: np.ndarray, aspect: float, fill: float = 0.0) -> np.ndarray:
    """Pad a 2-d image symmetrically with ``fill`` so that width / height equals ``aspect``."""
    h, w = image.shape
    if w / h < aspect:
        new_w, new_h = int(round(h * aspect)), h
    else:
        new_w, new_h = w, int(round(w / aspect))
    top, left = (new_h - h) // 2, (new_w - w) // 2
    out = np.full((new_h, new_w), fill, dtype=image.dtype)
    out[top : top + h, left : left + w] = image
    return out


def load_aligned_images(folder: str | os.PathLike, size: tuple[int, int], pattern: str = "*.jpg") -> np.ndarray:
    """Grayscale images of ``folder`` (sorted by name), each padded with black to the aspect of
    ``size = (width, height)`` and resized to it (Lanczos); float32 in [0, 1], shape (N, height, width)."""
    from PIL import Image

    width, height = size
    files = sorted(Path(folder).glob(pattern))
    if not files:
        raise DatasetMissingError(f"no files matching {pattern!r} in {folder}")
    out = np.empty((len(files), height, width), dtype=np.float32)
    for i, path in enumerate(files):
        with Image.open(path) as im:
            gray = np.asarray(im.convert("L"), dtype=np.float32) / 255.0
        padded = pad_to_aspect(gray, width / height)
        resized = Image.fromarray(padded).resize((width, height), Image.Resampling.LANCZOS)
        out[i] = np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)
    return out


def brain_preprocess(images: np.ndarray) -> np.ndarray:
    """The authors' intensity preprocessing, as far as it applies to 8-bit images: square root,
    division by each image's maximum, then a map to [-1, 1]. (Their first step, clipping raw
    intensities at 800, has no counterpart in 8-bit JPEG plates.)"""
    x = np.sqrt(np.clip(np.asarray(images, dtype=np.float32), 0.0, None))
    peak = x.reshape(len(x), -1).max(1).reshape(-1, *([1] * (x.ndim - 1)))
    return (2.0 * x / np.maximum(peak, 1e-8) - 1.0).astype(np.float32)


@phased("data loading")
def load_allen_atlas(size: tuple[int, int] = (228, 160)) -> np.ndarray:
    """The 132 Allen Reference Atlas coronal plates from ``<data dir>/allen_atlas/`` (checked
    against SHA256SUMS), padded and resized to ``size = (width, height)``; in [0, 1]."""
    return load_aligned_images(dataset_path("allen_atlas"), size, "plate_*.jpg")


CELEBA_CROP = 140 / 178  # the usual centre crop of the 178x218 aligned images (as in the RAE and two-stage VAE papers)


def find_celeba() -> tuple[Path, str]:
    """The CelebA image folder and which version it is: the full aligned set
    (``celeba/img_align_celeba/``, 178x218) or the offline half-size subset
    (``celeba/img_align_celeba_89x109/``)."""
    root = data_dir() / DATASETS["celeba"].folder
    for sub, what in (("img_align_celeba", "full-size aligned images (178x218)"),
                      ("img_align_celeba_89x109", "half-size aligned subset (89x109)")):
        if (root / sub).is_dir() and any((root / sub).glob("*.jpg")):
            return root / sub, what
    raise DatasetMissingError(_missing_message("celeba", root))


DECODE_FORMAT = 1  # bump when the decoding below changes what it returns


@phased("data loading")
def load_celeba(n_images: int | None = None, size: int = 64, *, use_cache: bool = True) -> tuple[np.ndarray, str]:
    """The first ``n_images`` aligned CelebA images, centre-cropped (a square of 140/178 of the
    width) and resized to ``size`` x ``size``; float32 (N, 3, size, size) in [-1, 1] (the DCGAN
    convention), and a note saying which version of the data was found.

    Decoding 10,000 JPEGs takes about a minute, so the array is decoded once and kept in the cache
    folder (``<cache>/arrays/``, with its SHA-256 checked on every load), keyed by the checksums of
    the image files (or their names and sizes), the count, the size and the decoding's version."""
    folder, what = find_celeba()
    sums = folder.parent / "SHA256SUMS"
    if sums.is_file():
        dataset_path("celeba")  # checks every listed file
    files = sorted(folder.glob("*.jpg"))[:n_images]
    note = f"{len(files)} CelebA {what} from {folder}"
    if not use_cache:
        return _decode_celeba(files, size), note
    source = sums.read_text() if sums.is_file() else json.dumps([(p.name, p.stat().st_size) for p in files])
    key = hashlib.sha256(json.dumps([source, folder.name, len(files), size, CELEBA_CROP, DECODE_FORMAT]).encode())
    path = cache_dir() / "arrays" / f"celeba-{len(files)}-{size}px-{key.hexdigest()[:16]}.npy"
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(path.parent / f".{path.name}.lock"):  # concurrent runs decode once
        checksum = path.with_suffix(".sha256")
        if path.is_file() and checksum.is_file():
            if sha256_file(path) == checksum.read_text().strip():
                return np.load(path), note + " (decoded array from the cache)"
            warnings.warn(f"{path} does not match its checksum: decoding again", stacklevel=2)
        images = _decode_celeba(files, size)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".npy")
        with os.fdopen(fd, "wb") as handle:
            np.save(handle, images)
        checksum.write_text(sha256_file(tmp) + "\n")
        os.replace(tmp, path)
    return images, note


def _decode_celeba(files: list[Path], size: int) -> np.ndarray:
    from PIL import Image

    out = np.empty((len(files), 3, size, size), dtype=np.float32)
    for i, path in enumerate(files):
        with Image.open(path) as im:
            im = im.convert("RGB")
            w, h = im.size
            side = int(round(CELEBA_CROP * w))
            left, top = (w - side) // 2, (h - side) // 2
            im = im.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.LANCZOS)
            out[i] = np.asarray(im, dtype=np.float32).transpose(2, 0, 1) / 127.5 - 1.0
    return np.clip(out, -1.0, 1.0)


def unit_range(x) -> np.ndarray:
    """Images in [-1, 1] (the DCGAN convention of CelebA and the brain plates) mapped to [0, 1]."""
    return (np.asarray(x) + 1.0) / 2.0
