"""The aligned-images experiment (paper Fig. 7): sharpness and nearest-plate measures of PCA and
conv-VAE samples, and their figures. Images are in [-1, 1]."""

from __future__ import annotations

import numpy as np

from twostep.autoencoders import ConvVAE
from twostep.core.profiling import phased
from twostep.data.images import unit_range as to_unit
from twostep.priors import GMMPrior
from twostep.evaluation.samples import (
    high_frequency_energy,
    laplacian_variance,
    nearest_neighbours,
)


@phased("scoring")
def sharpness_metrics(image_sets: dict[str, np.ndarray], real: np.ndarray) -> dict[str, float]:
    """Per set: mean Laplacian variance and high-frequency power, each relative to the real images'."""
    real_sharp = laplacian_variance(to_unit(real)).mean()
    real_hf = high_frequency_energy(to_unit(real), fraction=False).mean()
    metrics = {}
    for name, ims in image_sets.items():
        metrics[f"{name}.laplacian_variance_ratio"] = float(laplacian_variance(to_unit(ims)).mean() / real_sharp)
        metrics[f"{name}.high_frequency_ratio"] = float(high_frequency_energy(to_unit(ims), fraction=False).mean() / real_hf)
    return metrics


def sharpness_figure(show: dict[str, np.ndarray], real: np.ndarray, width_px: int, height_px: int):
    """Single images side by side, each titled with its Laplacian variance relative to the real images'."""
    import matplotlib.pyplot as plt

    real_sharp = laplacian_variance(to_unit(real)).mean()
    fig, axes = plt.subplots(1, len(show), figsize=(len(show) * width_px / 80, height_px / 80 + 0.6), dpi=80)
    for ax, (title, im) in zip(axes, show.items()):
        ax.imshow(to_unit(im), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(f"{title}\nsharpness {laplacian_variance(to_unit(im)[None])[0] / real_sharp:.2f} x real", fontsize=11)
        ax.axis("off")
    fig.tight_layout()
    return fig


@phased("scoring")
def nearest_plates(samples: dict[str, np.ndarray], images: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per model, the RMS distance of every sample to its nearest image and that image's index;
    ``"real"``: every image to its nearest other image."""
    found = {name: nearest_neighbours(s, images) for name, s in samples.items()}
    found["real"] = nearest_neighbours(images, images, exclude_self=True)
    return {k: d for k, (d, _) in found.items()}, {k: i for k, (_, i) in found.items()}


def nearest_figure(samples: dict[str, np.ndarray], distances: dict[str, np.ndarray], indices: dict[str, np.ndarray],
                   images: np.ndarray, width_px: int, height_px: int, n_show: int = 2):
    """For the first ``n_show`` samples of each model: the sample and the training image nearest to it."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(samples), 2 * n_show, figsize=(2 * n_show * width_px / 70,
                                                                  len(samples) * height_px / 70 + 0.8), dpi=70)
    for j in range(n_show):
        for row, (name, s) in enumerate(samples.items()):
            axes[row, 2 * j].imshow(to_unit(s[j]), cmap="gray", vmin=0, vmax=1)
            axes[row, 2 * j].set_title(f"{name} sample {j}", fontsize=9)
            axes[row, 2 * j + 1].imshow(to_unit(images[indices[name][j]]), cmap="gray", vmin=0, vmax=1)
            axes[row, 2 * j + 1].set_title(f"nearest plate (RMS {distances[name][j]:.3f})", fontsize=9)
    for ax in axes.flat:
        ax.axis("off")
    fig.tight_layout()
    return fig


def sharpness_table(metrics: dict[str, float], names) -> str:
    lines = [f"{'':<26}{'Laplacian var.':>15}{'high freq.':>12}   (relative to real plates)"]
    lines += [f"{n:<26}{metrics[n + '.laplacian_variance_ratio']:>15.3f}{metrics[n + '.high_frequency_ratio']:>12.3f}"
              for n in names]
    return "\n".join(lines)


def brains_gmm(cfg):
    """The chapter's GMM prior (``cfg``: a :class:`~twostep.experiments.configs.PCABrainsConfig`),
    unfitted: the same for the PCA codes and the conv VAE's."""
    return GMMPrior(cfg.gmm_components, cfg.covariance_type, n_init=cfg.n_init, reg_covar=cfg.reg_covar,
                    random_state=cfg.seed)


def brains_vae(cfg):
    """The conv VAE the chapter holds PCA against, untrained: plates of ``cfg.height_px`` x
    ``cfg.width_px`` pixels, four stride-2 layers, tanh output."""
    return ConvVAE((1, cfg.height_px, cfg.width_px), cfg.vae_latent_dim, width=cfg.vae_width, depth=4,
                   output="tanh", beta=cfg.beta)


def brains_metrics(sets: dict[str, np.ndarray], images: np.ndarray, *, pca, nearest: dict[str, np.ndarray]) -> dict:
    """Fig. 7's numbers: the sharpness measures of each image set, both reconstructions' RMSE, the
    variance PCA keeps, and the RMS distance of samples (and of real plates) to their nearest plate."""
    metrics = sharpness_metrics(sets, images)
    metrics["pca.reconstruction_rmse"] = float(np.sqrt(((sets["pca_reconstruction"] - images) ** 2).mean()))
    metrics["conv_vae.reconstruction_rmse"] = float(np.sqrt(((sets["conv_vae_reconstruction"] - images) ** 2).mean()))
    metrics["pca.explained_variance"] = float(pca.explained_variance_ratio_.sum())
    metrics["pca_gmm.nearest_plate_rms_mean"] = float(nearest["PCA + GMM"].mean())
    metrics["pca_gmm.nearest_plate_rms_min"] = float(nearest["PCA + GMM"].min())
    metrics["conv_vae_gmm.nearest_plate_rms_mean"] = float(nearest["conv VAE + GMM"].mean())
    metrics["real.nearest_other_plate_rms_mean"] = float(nearest["real"].mean())
    return metrics


def brains_lines(m: dict[str, float]) -> list[str]:
    """The chapter's numbers in words: reconstruction and nearest-plate distances, high frequencies."""
    return [
        f"reconstruction RMSE: PCA {m['pca.reconstruction_rmse']:.4f}, conv VAE {m['conv_vae.reconstruction_rmse']:.4f}; "
        f"nearest-plate RMS: PCA + GMM {m['pca_gmm.nearest_plate_rms_mean']:.4f}, conv VAE + GMM "
        f"{m['conv_vae_gmm.nearest_plate_rms_mean']:.4f}, real plates {m['real.nearest_other_plate_rms_mean']:.4f}",
        f"- High-frequency power relative to real plates: PCA + GMM {m['pca_gmm.high_frequency_ratio']:.2f}, "
        f"conv VAE + GMM {m['conv_vae_gmm.high_frequency_ratio']:.2f}.",
    ]
