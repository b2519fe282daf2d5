"""Is an offline feature network a quality measure? The check of the feature-validation chapter:
the Fréchet distance between real images and disturbed real images, against the disturbance's
level (:mod:`twostep.evaluation.disturbances`), for every disturbance of the FID paper.

A network passes when, for every disturbance, the distance rises with the level (each step may
fall back by at most ``tolerance``: the batch noise, twice the standard deviation of the distance
between random disjoint halves of the real images) and ends clearly above its start, and when two
disjoint halves of the real images are close (their distance below a tenth of the median distance
at the largest level).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from twostep.core.profiling import phased
from twostep.data.images import load_celeba, unit_range
from twostep.data.mnist import load_mnist
from twostep.evaluation.disturbances import disturbances, selects_rows
from twostep.evaluation.fid import (FEATURE_NETWORK_SEED, FeatureNetwork, InceptionFeatures, feature_statistics,
                                    frechet_distance)
from twostep.experiments.celeba_fid import celeba_feature_network
from twostep.experiments.mnist import mnist_feature_network

SPLIT_HALF_RATIO = 0.1  # the halves' distance must stay below this fraction of the median top-level distance
NOISE_SDS = 2.0  # a step may fall back by this many standard deviations of the split-half distance
DRAWS = 20  # draws averaged for each level of a disturbance that picks whole images


@dataclass
class ValidationCurves:
    """One feature network's distances: ``curves[disturbance][i]`` at ``levels[i]``."""

    network: str
    levels: list[float]
    curves: dict[str, list[float]] = field(default_factory=dict)
    split_half: list[float] = field(default_factory=list)  # distance between random disjoint real halves

    @property
    def tolerance(self) -> float:
        return NOISE_SDS * float(np.std(self.split_half, ddof=1)) if len(self.split_half) > 1 else 0.0

    def rises(self, name: str) -> bool:
        """The distance never falls by more than the tolerance from one level to the next, and its
        last value is above its first by more than the tolerance."""
        d = self.curves[name]
        steps_ok = all(b >= a - self.tolerance for a, b in zip(d[:-1], d[1:], strict=True))
        return steps_ok and d[-1] > d[0] + self.tolerance

    @property
    def halves_close(self) -> bool:
        top = float(np.median([d[-1] for d in self.curves.values()]))
        return float(np.mean(self.split_half)) < SPLIT_HALF_RATIO * top

    @property
    def passed(self) -> bool:
        return self.halves_close and all(self.rises(name) for name in self.curves)

    def metrics(self) -> dict[str, float]:
        """``<network>.<disturbance>.fd_level_<i>``, ``....rises``, ``<network>.split_half_fd``,
        ``<network>.tolerance``, ``<network>.halves_close``, ``<network>.passed`` (1 or 0)."""
        out: dict[str, float] = {}
        for name, d in self.curves.items():
            key = f"{self.network}.{name.replace(' ', '_')}"
            out.update({f"{key}.fd_level_{i}": v for i, v in enumerate(d)})
            out[f"{key}.rises"] = float(self.rises(name))
        out[f"{self.network}.split_half_fd"] = float(np.mean(self.split_half))
        out[f"{self.network}.tolerance"] = self.tolerance
        out[f"{self.network}.halves_close"] = float(self.halves_close)
        out[f"{self.network}.passed"] = float(self.passed)
        return out

    def table(self) -> list[str]:
        """Markdown rows: disturbance, distance at each level, verdict."""
        rows = []
        for name, d in self.curves.items():
            rows.append(f"| {self.network} | {name} | " + " → ".join(f"{v:.1f}" for v in d)
                        + f" | {'rises' if self.rises(name) else '**does not rise**'} |")
        rows.append(f"| {self.network} | two disjoint real halves | {np.mean(self.split_half):.2f} "
                    f"(tolerance {self.tolerance:.2f}) | {'close' if self.halves_close else '**not close**'} |")
        return rows


@phased("scoring")
def validate_features(network: FeatureNetwork, real: np.ndarray, groups: np.ndarray, other: np.ndarray, *,
                      n_per_half: int, levels: int, n_repeats: int, seed: int, draws: int = DRAWS,
                      name: str | None = None) -> ValidationCurves:
    """Split ``real`` (``(N, C, H, W)`` in [0, 1]) at random into a reference half and a half that
    is disturbed at ``levels`` evenly spaced levels from 0 to 1 by every disturbance (``groups``:
    the images' classes or clusters, for mode dropping; ``other``: images of another data set, for
    mixing); also the distance between ``n_repeats`` random pairs of disjoint halves.

    Every level of one disturbance starts from the same random state, so the levels' draws are
    nested. The disturbances that only pick whole images (mixing, mode dropping, mode collapse) are
    averaged over ``draws`` draws: which few images a collapse keeps moves the distance more than
    the level does, and their features are rows of the undisturbed features, so draws cost no
    network evaluation. ``name`` labels the curves and their metrics (default: the network's name;
    one network checked on two data sets needs two)."""
    rng = np.random.default_rng(seed)
    n = 2 * n_per_half
    if len(real) < n:
        raise ValueError(f"{len(real)} real images are fewer than two halves of {n_per_half}")
    curves = ValidationCurves(name or network.name, [float(x) for x in np.linspace(0, 1, levels)])
    for _ in range(n_repeats):
        order = rng.permutation(len(real))
        a, b = real[order[:n_per_half]], real[order[n_per_half:n]]
        curves.split_half.append(frechet_distance(feature_statistics(network(a)), feature_statistics(network(b))))
    order = rng.permutation(len(real))
    reference, disturbed = order[:n_per_half], order[n_per_half:n]
    ref_stats = feature_statistics(network(real[reference]))
    ref_stats.root  # noqa: B018 - computed once, used by every distance to the reference
    # features of the undisturbed half, then of ``other``: what the row-picking disturbances select from
    table = np.concatenate([network(real[disturbed]), network(other)])
    row_ids = np.arange(n_per_half, dtype=np.float64).reshape(-1, 1, 1, 1)
    other_ids = n_per_half + np.arange(len(other), dtype=np.float64).reshape(-1, 1, 1, 1)
    by_row = disturbances(other_ids, groups[disturbed])
    for name, disturb in disturbances(other, groups[disturbed]).items():
        if selects_rows(disturb):
            starts = [int(x) for x in rng.integers(2**32, size=draws)]
            curves.curves[name] = [
                float(np.mean([frechet_distance(ref_stats, feature_statistics(
                    table[by_row[name](row_ids, level, np.random.default_rng(start)).ravel().astype(int)]))
                    for start in starts]))
                for level in curves.levels
            ]
            continue
        start = int(rng.integers(2**32))
        curves.curves[name] = [
            frechet_distance(ref_stats, feature_statistics(
                network(disturb(real[disturbed], level, np.random.default_rng(start)))))
            for level in curves.levels
        ]
    return curves


def validation_table(results: dict[str, ValidationCurves]) -> str:
    """The pass/fail table of every network, in Markdown."""
    lines = ["| features | disturbance | distance at each level | verdict |", "|---|---|---|---|"]
    for curves in results.values():
        lines += curves.table()
    return "\n".join(lines)


def disturbance_examples(images: np.ndarray, groups: np.ndarray, other: np.ndarray, levels, *, count: int,
                         seed: int, pool: int = 200) -> dict[str, np.ndarray]:
    """What every disturbance does: the first ``count`` of ``pool`` images disturbed at each of
    ``levels``, as ``{disturbance: (len(levels), count, C, H, W)}``; every level of a disturbance
    starts from the same random state, as in :func:`validate_features`."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, disturb in disturbances(other, groups[:pool]).items():
        start = int(rng.integers(2**32))
        out[name] = np.stack([disturb(images[:pool], float(level), np.random.default_rng(start))[:count]
                              for level in levels])
    return out


def disturbance_figure(examples: dict[str, np.ndarray], levels, title: str, cmap: str | None = None):
    """One row per disturbance, one column per level, of the first image of :func:`disturbance_examples`."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(examples), len(levels), figsize=(1.3 * len(levels), 1.3 * len(examples)),
                             squeeze=False)
    for row, (name, shown) in zip(axes, examples.items()):
        for c, (ax, level) in enumerate(zip(row, levels)):
            image = shown[c, 0]
            ax.imshow(image[0] if image.shape[0] == 1 else np.moveaxis(image, 0, -1), cmap=cmap, vmin=0, vmax=1)
            ax.set_xticks([]), ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
        if row is axes[0]:
            for ax, level in zip(row, levels):
                ax.set_title(f"level {level:.2f}", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def curves_figure(results: dict[str, ValidationCurves]):
    """Distance against level for every disturbance (columns) and network (rows); red where a
    curve does not rise, with the real halves' distance plus the tolerance as a grey band."""
    import matplotlib.pyplot as plt

    n_cols = max(len(c.curves) for c in results.values())
    fig, axes = plt.subplots(len(results), n_cols, figsize=(2.5 * n_cols, 2.75 * len(results)), sharex=True,
                             squeeze=False)
    for row, (net, curves) in zip(axes, results.items()):
        for ax, (name, d) in zip(row, curves.curves.items()):
            ax.plot(curves.levels, d, marker="o", color="C0" if curves.rises(name) else "C3")
            ax.axhspan(0, np.mean(curves.split_half) + curves.tolerance, color="0.85")
            ax.set_title(f"{name}\n{'rises' if curves.rises(name) else 'does NOT rise'}", fontsize=9)
            ax.set_xlabel("level")
            ax.grid(alpha=0.3)
        row[0].set_ylabel(f"FD [{net}]")
    fig.suptitle("Fréchet distance on each network's features between real images and disturbed real images "
                 "(grey band: two real halves, plus the tolerance)")
    fig.tight_layout()
    return fig


def pixel_clusters(images: np.ndarray, n_clusters: int, seed: int) -> np.ndarray:
    """Clusters of images with no labels (for mode dropping): k-means on the first 50 principal
    components of the pixels (not on the features under test)."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    flat = images.reshape(len(images), -1)
    codes = PCA(n_components=min(50, *flat.shape), random_state=seed).fit_transform(flat)
    return KMeans(n_clusters, n_init=3, random_state=seed).fit_predict(codes)


def resize_images(images: np.ndarray, size: int, channels: int) -> np.ndarray:
    """Images ``(N, C, H, W)`` resized to ``size`` x ``size`` (scikit-image, anti-aliased) with
    ``channels`` channels (grey by averaging, colour by repeating)."""
    from skimage.transform import resize

    if images.shape[1] != channels:
        images = images.mean(1, keepdims=True) if channels == 1 else np.repeat(images, channels, axis=1)
    out = resize(images, (len(images), channels, size, size), anti_aliasing=True, preserve_range=True)
    return np.clip(out, 0, 1).astype(np.float32)


@dataclass
class CheckData:
    """What the feature check disturbs, per offline network: ``sets[name] = (real, groups, other)``
    (real images, their groups for mode dropping, and images of the other data set for mixing in),
    the networks, and what was loaded or trained."""

    sets: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
    networks: dict[str, FeatureNetwork]
    lines: list[str]


def check_data(cfg, *, device) -> CheckData:
    """MNIST test digits and held-out CelebA faces (``cfg``: a
    :class:`~twostep.experiments.configs.FeatureValidationConfig`) with the two offline networks
    (the digit classifier and the rotation network, cached), the faces' pixel clusters as their
    groups, and each set resized to the other's shape for the mixing disturbance."""
    x_train, y_train = load_mnist(train=True)
    x_test, y_test = load_mnist(train=False)
    mnist_net, mnist_info = mnist_feature_network(x_train[: cfg.mnist_n_train], y_train[: cfg.mnist_n_train],
                                                  epochs=cfg.classifier_epochs, seed=FEATURE_NETWORK_SEED,
                                                  device=device, use_cache=cfg.use_cache)
    mnist_real = x_test.reshape(-1, 1, 28, 28)
    faces, found = load_celeba(cfg.celeba_images, cfg.image_size, use_cache=cfg.use_cache)
    celeba_net, celeba_info = celeba_feature_network(faces[: -cfg.celeba_test], epochs=cfg.rotnet_epochs,
                                                     seed=FEATURE_NETWORK_SEED, device=device,
                                                     use_cache=cfg.use_cache)
    celeba_real = unit_range(faces[-cfg.celeba_test :])
    del faces
    clusters = pixel_clusters(celeba_real, cfg.n_clusters, cfg.seed)
    grey_faces = resize_images(celeba_real, 28, 1)
    big_digits = resize_images(mnist_real[: len(celeba_real)], cfg.image_size, 3)
    lines = [f"MNIST: {len(mnist_real)} test digits; digit classifier "
             f"{'from the cache' if mnist_info['cached'] else 'trained'}",
             f"CelebA: {len(celeba_real)} held-out faces ({found}); rotation network "
             f"{'from the cache' if celeba_info['cached'] else 'trained'}; cluster sizes "
             f"{np.bincount(clusters).tolist()}"]
    return CheckData({"mnist_cnn": (mnist_real, y_test, grey_faces), "celeba_rotnet": (celeba_real, clusters, big_digits)},
                     {"mnist_cnn": mnist_net, "celeba_rotnet": celeba_net}, lines)


def check_networks(cfg, data: CheckData, *, device) -> tuple[dict[str, ValidationCurves], dict[str, float]]:
    """Every disturbance at every level through each offline network (:func:`validate_features`),
    and, with ``cfg.inception_per_half``, through Inception on that many images per half (named
    ``inception_mnist`` and ``inception_celeba``): the curves by network, and the seconds the
    offline networks and Inception took."""
    settings = dict(levels=cfg.levels, n_repeats=cfg.n_repeats, seed=cfg.seed, draws=cfg.draws)
    started = time.perf_counter()
    results = {name: validate_features(data.networks[name], real, groups, other, n_per_half=cfg.n_per_half,
                                       **settings)
               for name, (real, groups, other) in data.sets.items()}
    seconds = {"offline": time.perf_counter() - started}
    started = time.perf_counter()
    n = cfg.inception_per_half
    for name, (real, groups, other) in data.sets.items() if n else ():
        key = f"inception_{name.split('_')[0]}"
        results[key] = validate_features(InceptionFeatures(real.shape[1:], device=device), real, groups, other[:n],
                                         n_per_half=n, name=key, **settings)
    seconds["inception"] = time.perf_counter() - started
    return results, seconds


def strongest_examples(data: CheckData, *, count: int, seed: int) -> dict[str, np.ndarray]:
    """``count`` images of each disturbance at its strongest level, per network's data, as uint8."""
    examples = {}
    for net, (real, groups, other) in data.sets.items():
        for name, shown in disturbance_examples(real, groups, other, [1.0], count=count, seed=seed).items():
            examples[f"{net}.{name.replace(' ', '_')}"] = (np.clip(shown[0], 0, 1) * 255).round().astype(np.uint8)
    return examples
