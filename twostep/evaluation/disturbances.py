"""Disturbances of real images at increasing levels, after the FID paper's Fig. 1 and appendix
(Heusel et al. 2017), to check that a feature network's Fréchet distance behaves like a quality
measure: it must rise with the level of every disturbance, and be about zero between two disjoint
sets of real images.

Every disturbance takes images as float arrays ``(N, C, H, W)`` in [0, 1], a level in [0, 1]
(0: the images unchanged) and a numpy ``Generator``, and returns new images of the same shape. The
pixel operations are scikit-image's (noise, blur, swirl) where it has them.

The random choices are nested across levels: given generators in the same state, a higher level
disturbs a superset of what a lower level disturbs (more images mixed in, more groups dropped, a
subset of the distinct images kept), so a curve over levels drawn with one seed measures the effect
of the level, not the luck of each draw (common random numbers).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Images = np.ndarray
Disturbance = Callable[[Images, float, np.random.Generator], Images]


def _per_image(images: Images, fn) -> Images:
    """Apply ``fn`` to each image as (H, W, C), back to (N, C, H, W)."""
    out = np.empty_like(images)
    for i, image in enumerate(images):
        out[i] = np.moveaxis(fn(np.moveaxis(image, 0, -1)), -1, 0)
    return out


def gaussian_noise(images: Images, level: float, rng: np.random.Generator) -> Images:
    """(1 - a) x + a n with n uniform-range Gaussian noise (the FID paper's mix), a = 0.75 level."""
    a = 0.75 * level
    noise = np.clip(rng.normal(0.5, 0.25, size=images.shape), 0, 1)
    return ((1 - a) * images + a * noise).astype(images.dtype)


def gaussian_blur(images: Images, level: float, rng: np.random.Generator) -> Images:
    """Gaussian blur with standard deviation up to 1/14 of the image side (2 px on MNIST)."""
    from skimage.filters import gaussian

    sigma = level * images.shape[-1] / 14
    if sigma == 0:
        return images.copy()
    return _per_image(images, lambda im: gaussian(im, sigma=sigma, channel_axis=-1, preserve_range=True))


def black_rectangles(images: Images, level: float, rng: np.random.Generator) -> Images:
    """Five black rectangles per image at random places, sides up to half the image's."""
    out = images.copy()
    h, w = images.shape[-2:]
    side_h, side_w = int(round(level * h / 2)), int(round(level * w / 2))
    if side_h == 0 or side_w == 0:
        return out
    for image in out:
        for _ in range(5):
            top, left = int(rng.random() * (h - side_h + 1)), int(rng.random() * (w - side_w + 1))
            image[:, top : top + side_h, left : left + side_w] = 0.0
    return out


def swirl(images: Images, level: float, rng: np.random.Generator) -> Images:
    """scikit-image's swirl about the centre, strength up to 4 (the FID paper's largest)."""
    from skimage.transform import swirl as sk_swirl

    strength = 4.0 * level
    if strength == 0:
        return images.copy()
    radius = images.shape[-1] * 0.75
    return _per_image(images, lambda im: sk_swirl(im, strength=strength, radius=radius, preserve_range=True))


def salt_and_pepper(images: Images, level: float, rng: np.random.Generator) -> Images:
    """A fraction up to 0.3 of the pixels set to 0 or 1 (scikit-image's ``random_noise``)."""
    from skimage.util import random_noise

    amount = 0.3 * level
    if amount == 0:
        return images.copy()
    seed = int(rng.integers(2**31))
    return random_noise(images, mode="s&p", amount=amount, rng=seed).astype(images.dtype)


def mixing(other: Images) -> Disturbance:
    """Replace a fraction up to 3/4 of the images by images of another data set (``other``, in
    the same shape), the FID paper's "ImageNet contamination"."""

    def disturb(images: Images, level: float, rng: np.random.Generator) -> Images:
        out = images.copy()
        n = int(round(0.75 * level * len(images)))
        if n:
            where = rng.permutation(len(images))[:n]
            out[where] = other[rng.permutation(len(other))[:n] if len(other) >= n else rng.choice(len(other), n)]
        return out

    disturb.selects_rows = True
    return disturb


def mode_dropping(groups: np.ndarray) -> Disturbance:
    """Drop whole groups (digit classes, or clusters where there are no labels): at level 1 all
    but one of the groups; the dropped images are replaced by images of the kept groups, so the
    set keeps its size."""
    names = np.unique(groups)

    def disturb(images: Images, level: float, rng: np.random.Generator) -> Images:
        n_drop = int(round(level * (len(names) - 1)))
        if n_drop == 0:
            return images.copy()
        dropped = rng.permutation(names)[:n_drop]
        kept = np.flatnonzero(~np.isin(groups, dropped))
        out = images.copy()
        lost = np.flatnonzero(np.isin(groups, dropped))
        out[lost] = images[rng.choice(kept, len(lost), replace=True)]
        return out

    disturb.selects_rows = True
    return disturb


def mode_collapse(images: Images, level: float, rng: np.random.Generator) -> Images:
    """Few distinct images repeated: from all ``N`` distinct (level 0) down, geometrically, to 10."""
    n = len(images)
    distinct = int(round(n ** (1 - level) * min(10, n) ** level))
    if distinct >= n:
        return images.copy()
    keep = rng.permutation(n)[:distinct]
    return images[keep[np.arange(n) % distinct]].copy()


mode_collapse.selects_rows = True


PIXEL_DISTURBANCES: dict[str, Disturbance] = {
    "gaussian noise": gaussian_noise,
    "gaussian blur": gaussian_blur,
    "black rectangles": black_rectangles,
    "swirl": swirl,
    "salt and pepper": salt_and_pepper,
    "mode collapse": mode_collapse,
}


def selects_rows(disturb: Disturbance) -> bool:
    """Whether a disturbance only picks whole images (of the set, or of ``other``) without changing
    pixels: mixing, mode dropping, mode collapse. Their features are rows of the undisturbed
    images' features, so a check can average them over many draws at no network cost."""
    return getattr(disturb, "selects_rows", False)


def disturbances(other: Images, groups: np.ndarray) -> dict[str, Disturbance]:
    """Every disturbance of the check, with ``other`` images to mix in and ``groups`` to drop."""
    return {**PIXEL_DISTURBANCES, "mixing another data set": mixing(other), "mode dropping": mode_dropping(groups)}
