"""Data: where data sets are looked for, how they are fetched, and their checksums.

Data sets live in one data directory, named by the ``TWOSTEP_DATA`` environment variable and
defaulting to ``~/.cache/twostep/data`` (``$XDG_CACHE_HOME/twostep/data`` when that is set).
``registry.txt`` beside this file gives the canonical URL and SHA-256 of every file of MNIST, the
clarinet audio and the Allen atlas plates; :func:`dataset_path` fetches them with pooch: a file
present in the data directory is only checked against its hash (no network), a missing one is
downloaded from its URL when the machine is online (``TWOSTEP_OFFLINE`` unset) and checked. CelebA
(from one archive) is checked against its folder's ``SHA256SUMS``. A missing data set raises
:class:`DatasetMissingError`, whose message says where the data was looked for and how to get it;
a file that does not match its hash raises :class:`ChecksumError`.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from tqdm import TqdmWarning

with warnings.catch_warnings():
    # pooch imports tqdm.auto, which warns in a Jupyter kernel without ipywidgets (every chapter's
    # output would show it); pooch's progress bars are not used here.
    warnings.simplefilter("ignore", TqdmWarning)
    import pooch

from twostep.core.files import sha256_file
from twostep.core.runtime import user_cache

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
            "online, the loader downloads them from torchvision's MNIST mirror (URLs and SHA-256 in "
            "twostep/data/registry.txt); or copy train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
            "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz there."
        ),
    ),
    "clarinet": DatasetInfo(
        folder="clarinet",
        description="the paper authors' 40 synthetic clarinet files source2_0.wav ... source2_39.wav",
        how_to_get=(
            "online, the loader downloads them (URLs and SHA-256 in twostep/data/registry.txt); or copy "
            "the files source2_*.wav from the folder generated_sounds_20_71_30_40_64_73/ of the public "
            "repository ycemsubakan/TwoStepLearning."
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


REGISTRY_FILE = Path(__file__).with_name("registry.txt")


def offline() -> bool:
    """True when ``TWOSTEP_OFFLINE`` is set: never try to download."""
    return bool(os.environ.get("TWOSTEP_OFFLINE"))


def registry() -> dict[str, tuple[str, str | None]]:
    """``{path inside the data directory: (hash, URL or None)}`` from ``registry.txt``."""
    entries: dict[str, tuple[str, str | None]] = {}
    for line in REGISTRY_FILE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            path, digest, *url = line.split()
            entries[path] = (digest, url[0] if url else None)
    return entries


def fetch_files(root: Path, entries: dict[str, tuple[str, str | None]], name: str) -> None:
    """Make every file of ``entries`` (path under ``root`` -> (hash, URL)) present and verified:
    present files are hashed (no network), missing ones downloaded by pooch when online."""
    folder = root / DATASETS[name].folder
    missing = [rel for rel in entries if not (root / rel).is_file()]
    if missing and (offline() or any(entries[rel][1] is None for rel in missing)):
        shown = ", ".join(Path(rel).name for rel in missing[:3]) + (", ..." if len(missing) > 3 else "")
        raise DatasetMissingError(_missing_message(name, folder) + f"\n  Missing: {len(missing)} file(s) ({shown})")
    fetcher = pooch.create(path=root, base_url="", registry={rel: h for rel, (h, _) in entries.items()},
                           urls={rel: url for rel, (_, url) in entries.items() if url}, allow_updates=False)
    for rel in entries:
        try:
            fetcher.fetch(rel)
        except ValueError as exc:  # pooch: a present file that does not match, or a corrupt download
            raise ChecksumError(f"{root / rel} does not match its SHA-256 in {REGISTRY_FILE.name} ({exc}): the file "
                                "is corrupt or a different version; delete it and fetch it again.") from exc
        except Exception as exc:  # noqa: BLE001 - any download failure means the data is missing
            raise DatasetMissingError(_missing_message(name, folder) + f"\n  Download failed: {exc}") from exc


def dataset_path(name: str, *, verify: bool = True, files: list[str] | None = None) -> Path:
    """The folder of data set ``name`` inside :func:`data_dir`, with its files present and checked.

    Data sets in ``registry.txt`` are fetched with :func:`fetch_files` (``files`` restricts it to
    those names); others are checked against the folder's ``SHA256SUMS``. Raises
    :class:`DatasetMissingError` (saying where it looked and how to get the data) when they are
    absent and cannot be downloaded, and :class:`ChecksumError` when a file does not match.
    """
    if name not in DATASETS:
        raise KeyError(f"unknown data set {name!r}; known: {', '.join(sorted(DATASETS))}")
    root = data_dir()
    folder = root / DATASETS[name].folder
    prefix = DATASETS[name].folder + "/"
    entries = {rel: v for rel, v in registry().items() if rel.startswith(prefix)}
    if entries and verify:
        if files is not None:
            unknown = [f for f in files if prefix + f not in entries]
            if unknown:
                raise KeyError(f"{', '.join(unknown)} not in {name}'s files of {REGISTRY_FILE.name}")
            entries = {prefix + f: entries[prefix + f] for f in files}
        fetch_files(root, entries, name)
        return folder
    if not folder.is_dir() or not any(folder.iterdir()):
        raise DatasetMissingError(_missing_message(name, folder))
    if verify and (folder / "SHA256SUMS").is_file():
        verify_sha256sums(folder, files)
    return folder
