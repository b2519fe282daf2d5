"""Data: where data sets are looked for, checksum checks, and the synthetic grid of Gaussians.

Data sets live in one data directory, named by the ``TWOSTEP_DATA`` environment variable and
defaulting to ``~/.cache/twostep/data`` (``$XDG_CACHE_HOME/twostep/data`` when that is set).
Every data set folder carries a ``SHA256SUMS`` file; :func:`dataset_path` verifies it before a
loader reads anything, and a missing folder raises :class:`DatasetMissingError`, whose message
says where the data was looked for and how to get it.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATA_ENV = "TWOSTEP_DATA"


@dataclass(frozen=True)
class DatasetInfo:
    """Where a data set sits inside the data directory and how a user gets it."""

    folder: str
    description: str
    how_to_get: str


DATASETS: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo(
        folder="MNIST/raw",
        description="the four MNIST IDX .gz files",
        how_to_get=(
            "online, torchvision.datasets.MNIST(root=<data dir>, download=True) fetches them and "
            "checks their md5 sums; or copy train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
            "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz there."
        ),
    ),
    "clarinet": DatasetInfo(
        folder="clarinet",
        description="the paper authors' 40 synthetic clarinet files source2_0.wav ... source2_39.wav",
        how_to_get=(
            "copy the files source2_*.wav from the folder generated_sounds_20_71_30_40_64_73/ of the "
            "public repository ycemsubakan/TwoStepLearning."
        ),
    ),
    "celeba": DatasetInfo(
        folder="celeba",
        description="aligned CelebA images (img_align_celeba, or the 89x109 offline subset)",
        how_to_get=(
            "download img_align_celeba.zip from the CelebA site (Liu et al. 2015, research use only) "
            "and unpack it into <data dir>/celeba/img_align_celeba/."
        ),
    ),
    "allen_atlas": DatasetInfo(
        folder="allen_atlas",
        description="the 132 coronal Allen Reference Atlas plates plate_001.jpg ... plate_132.jpg",
        how_to_get="save the Allen Mouse Brain Atlas coronal plates (Allen Institute) there.",
    ),
}


class DatasetMissingError(FileNotFoundError):
    """A data set is not in the data directory."""


class ChecksumError(RuntimeError):
    """A data file does not match the checksum recorded in its folder's SHA256SUMS."""


def data_dir() -> Path:
    """The data directory: ``$TWOSTEP_DATA``, else ``$XDG_CACHE_HOME/twostep/data``, else ``~/.cache/twostep/data``."""
    from twostep.utils import user_cache

    return user_cache("data", env=DATA_ENV)


def _missing_message(name: str, looked_in: Path) -> str:
    info = DATASETS[name]
    return (
        f"Data set {name!r} ({info.description}) was not found.\n"
        f"  Looked in: {looked_in}\n"
        f"  The data directory is {data_dir()}; set the {DATA_ENV} environment variable to point "
        f"elsewhere (this repository's CI uses ../shared/data).\n"
        f"  How to get it: {info.how_to_get}"
    )


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """The SHA-256 hex digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def read_sha256sums(folder: str | os.PathLike) -> dict[str, str]:
    """Parse a ``SHA256SUMS`` file (``<hex>  <relative path>`` per line)."""
    sums: dict[str, str] = {}
    for line in (Path(folder) / "SHA256SUMS").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        digest, rel = line.split(maxsplit=1)
        sums[rel.lstrip("*").strip()] = digest.lower()
    return sums


def verify_sha256sums(folder: str | os.PathLike, names: list[str] | None = None) -> list[str]:
    """Check files of ``folder`` against its ``SHA256SUMS``; return the names checked.

    ``names`` restricts the check to those files (each must be listed). Raises
    :class:`ChecksumError` on a mismatch or on a listed file that is missing.
    """
    folder = Path(folder)
    sums = read_sha256sums(folder)
    wanted = list(sums) if names is None else names
    for rel in wanted:
        if rel not in sums:
            raise ChecksumError(f"{rel} is not listed in {folder / 'SHA256SUMS'}")
        path = folder / rel
        if not path.is_file():
            raise ChecksumError(f"{path} is listed in SHA256SUMS but missing")
        actual = sha256_file(path)
        if actual != sums[rel]:
            raise ChecksumError(
                f"{path} has SHA-256 {actual}, but SHA256SUMS records {sums[rel]}: the file is corrupt "
                f"or a different version; delete it and fetch it again."
            )
    return wanted


def dataset_path(name: str, *, verify: bool = True, files: list[str] | None = None) -> Path:
    """The folder of data set ``name`` inside :func:`data_dir`, checked against its SHA256SUMS.

    Raises :class:`DatasetMissingError` (saying where it looked and how to get the data) when the
    folder is absent, and :class:`ChecksumError` when a file does not match.
    """
    if name not in DATASETS:
        raise KeyError(f"unknown data set {name!r}; known: {', '.join(sorted(DATASETS))}")
    folder = data_dir() / DATASETS[name].folder
    if not folder.is_dir() or not any(folder.iterdir()):
        raise DatasetMissingError(_missing_message(name, folder))
    if verify and (folder / "SHA256SUMS").is_file():
        verify_sha256sums(folder, files)
    return folder


# --------------------------------------------------------------------------------------------
# The synthetic grid of 16 Gaussians (paper Fig. 2)


@dataclass
class GridData:
    """Splits of the grid-of-Gaussians data set and the mixture that generated them."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    train_labels: np.ndarray
    val_labels: np.ndarray
    test_labels: np.ndarray
    means: np.ndarray
    std: float

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """Log-density of ``x`` under the true equal-weight mixture (a reference upper bound)."""
        x = np.asarray(x, dtype=np.float64)
        d = x.shape[1]
        sq = ((x[:, None, :] - self.means[None, :, :]) ** 2).sum(-1)
        comp = -0.5 * sq / self.std**2 - d * np.log(self.std) - 0.5 * d * np.log(2 * np.pi)
        comp_max = comp.max(1, keepdims=True)
        return (comp_max[:, 0] + np.log(np.exp(comp - comp_max).mean(1))).astype(np.float64)


def grid_means(grid: int = 4, spacing: float = 2.0) -> np.ndarray:
    """Means on a ``grid`` x ``grid`` lattice at ``{0, spacing, ...}``; row-major order."""
    axis = np.arange(grid, dtype=np.float64) * spacing
    xx, yy = np.meshgrid(axis, axis, indexing="ij")
    return np.stack([xx.ravel(), yy.ravel()], axis=1)


def make_grid_gaussians(
    n_train: int = 100,
    n_val: int = 20,
    n_test: int = 20,
    *,
    grid: int = 4,
    spacing: float = 2.0,
    std: float = 0.1,
    seed: int = 0,
) -> GridData:
    """Sample the grid data set: ``n_*`` points per component for each split, seeded.

    Defaults follow the authors' code: means at ``{0, 2, 4, 6}^2``, isotropic standard deviation
    0.1, 100 train / 20 validation / 20 test points per component.
    """
    rng = np.random.default_rng(seed)
    means = grid_means(grid, spacing)

    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = np.repeat(np.arange(len(means)), n)
        x = means[labels] + std * rng.standard_normal((len(labels), 2))
        order = rng.permutation(len(labels))
        return x[order].astype(np.float32), labels[order]

    train, train_labels = split(n_train)
    val, val_labels = split(n_val)
    test, test_labels = split(n_test)
    return GridData(train, val, test, train_labels, val_labels, test_labels, means, std)


# --------------------------------------------------------------------------------------------
# MNIST through torchvision


MNIST_FILES = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
]


def _offline() -> bool:
    return bool(os.environ.get("TWOSTEP_OFFLINE"))


def _torchvision_root_for(raw: Path) -> Path:
    """A root that ``torchvision.datasets.MNIST`` can use for the verified files in ``raw``.

    torchvision unpacks the ``.gz`` files next to themselves. A data directory may be a shared,
    read-only copy, so we never write there: torchvision gets a root in the user's cache holding
    links to the verified files, and unpacks them there.
    """
    from twostep.cache import cache_dir

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


def load_mnist(train: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """MNIST images as float32 rows of 784 pixels in [0, 1], and int64 labels.

    Reads through ``torchvision.datasets.MNIST`` (which checks the files' md5 sums) from
    ``<data dir>/MNIST/raw/``, after checking them against that folder's SHA256SUMS when it has one.
    When the files are absent and the machine is online (``TWOSTEP_OFFLINE`` unset), torchvision
    downloads them into the data directory.
    """
    from torchvision.datasets import MNIST

    raw = data_dir() / DATASETS["mnist"].folder
    have = raw.is_dir() and all((raw / f).is_file() for f in MNIST_FILES)
    if have:
        dataset_path("mnist", files=[f for f in MNIST_FILES if f in read_sha256sums(raw)]
                     if (raw / "SHA256SUMS").is_file() else None)
        root = _torchvision_root_for(raw)
    elif _offline():
        raise DatasetMissingError(_missing_message("mnist", raw))
    else:
        root = data_dir()
    try:
        dataset = MNIST(str(root), train=train, download=True)
    except (RuntimeError, OSError) as exc:
        raise DatasetMissingError(_missing_message("mnist", raw) + f"\n  Download failed: {exc}") from exc
    images = dataset.data.numpy().reshape(len(dataset), -1).astype(np.float32) / 255.0
    return images, dataset.targets.numpy().astype(np.int64)


# --------------------------------------------------------------------------------------------
# Folders of aligned grayscale images (the Allen atlas plates stand in for the paper's brains)


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


def load_allen_atlas(size: tuple[int, int] = (228, 160)) -> np.ndarray:
    """The 132 Allen Reference Atlas coronal plates from ``<data dir>/allen_atlas/`` (checked
    against SHA256SUMS), padded and resized to ``size = (width, height)``; in [0, 1]."""
    return load_aligned_images(dataset_path("allen_atlas"), size, "plate_*.jpg")


# --------------------------------------------------------------------------------------------
# CelebA (aligned faces)

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


def load_celeba(n_images: int | None = None, size: int = 64) -> tuple[np.ndarray, str]:
    """The first ``n_images`` aligned CelebA images, centre-cropped (a square of 140/178 of the
    width) and resized to ``size`` x ``size``; float32 (N, 3, size, size) in [-1, 1] (the DCGAN
    convention), and a note saying which version of the data was found."""
    from PIL import Image

    folder, what = find_celeba()
    if (folder.parent / "SHA256SUMS").is_file():
        dataset_path("celeba")  # checks every listed file
    files = sorted(folder.glob("*.jpg"))[:n_images]
    out = np.empty((len(files), 3, size, size), dtype=np.float32)
    for i, path in enumerate(files):
        with Image.open(path) as im:
            im = im.convert("RGB")
            w, h = im.size
            side = int(round(CELEBA_CROP * w))
            left, top = (w - side) // 2, (h - side) // 2
            im = im.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.LANCZOS)
            out[i] = np.asarray(im, dtype=np.float32).transpose(2, 0, 1) / 127.5 - 1.0
    return np.clip(out, -1.0, 1.0), f"{len(files)} CelebA {what} from {folder}"
