"""MNIST through torchvision, from the data directory (files fetched and checked by the registry)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from twostep.core.profiling import phased
from twostep.core.runtime import cache_dir
from twostep.data.registry import dataset_path

MNIST_FILES = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
]


def _torchvision_root_for(raw: Path) -> Path:
    """A root that ``torchvision.datasets.MNIST`` can use for the verified files in ``raw``.

    torchvision unpacks the ``.gz`` files next to themselves. A data directory may be a shared,
    read-only copy, so we never write there: torchvision gets a root in the user's cache holding
    links to the verified files, and unpacks them there.
    """
    root = cache_dir() / "torchvision-mnist-root"
    work_raw = root / "MNIST" / "raw"
    work_raw.mkdir(parents=True, exist_ok=True)
    for name in MNIST_FILES:
        link = work_raw / name
        if link.is_symlink() or link.exists():
            if link.resolve() == (raw / name).resolve():
                continue
            link.unlink()
        link.symlink_to((raw / name).resolve())
    return root


@phased("data loading")
def load_mnist(train: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """MNIST images as float32 rows of 784 pixels in [0, 1], and int64 labels.

    The four files are fetched into ``<data dir>/MNIST/raw/`` by :func:`dataset_path` (checked
    against their SHA-256; downloaded when missing and online) and read by
    ``torchvision.datasets.MNIST``, which never writes into the data directory.
    """
    from torchvision.datasets import MNIST

    raw = dataset_path("mnist")
    # download=True only unpacks: the linked .gz files are present and match torchvision's md5 sums
    dataset = MNIST(str(_torchvision_root_for(raw)), train=train, download=True)
    images = dataset.data.numpy().reshape(len(dataset), -1).astype(np.float32) / 255.0
    return images, dataset.targets.numpy().astype(np.int64)
