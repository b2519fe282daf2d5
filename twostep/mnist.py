"""MNIST pieces of the paper's Fig. 3 (left): the authors' MLP VAE and an offline FID feature
network, both trained once and cached by the parameters that define them."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from twostep.cache import load_or_train
from twostep.fid import ClassifierFeatures, SmallCNN, train_classifier
from twostep.models import MLPVAE, train_vae

# Bump when a change to the code would change what a cached model is.
CACHE_FORMAT = 2
IMAGE_SHAPE = (1, 28, 28)


def mnist_vae(
    images: np.ndarray,
    *,
    latent_dim: int = 20,
    hidden_dim: int = 600,
    beta: float = 0.1,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    device: str | torch.device = "cpu",
    use_cache: bool = True,
    progress: bool = True,
) -> tuple[MLPVAE, dict[str, Any]]:
    """Step 1 on MNIST: the authors' VAE (784 -> 600 tanh -> 20, sigmoid output, loss L1 + beta KL),
    trained with Adam (betas (0.5, 0.999)), or loaded from the cache when these parameters match."""
    config = dict(model="mnist_mlp_vae", format=CACHE_FORMAT, n_train=len(images), latent_dim=latent_dim,
                  hidden_dim=hidden_dim, beta=beta, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)

    def build() -> MLPVAE:
        torch.manual_seed(seed)
        return MLPVAE(784, latent_dim, (hidden_dim,), output="sigmoid", likelihood="laplace", beta=beta)

    def train(model: MLPVAE) -> dict[str, Any]:
        history = train_vae(model, images, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, device=device,
                            progress=progress)
        return {"history": history}

    model, manifest = load_or_train("mnist_vae", config, build, train, use_cache=use_cache)
    return model.to(device), manifest


def mnist_feature_network(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    epochs: int = 3,
    seed: int = 0,
    device: str | torch.device = "cpu",
    use_cache: bool = True,
    progress: bool = True,
) -> tuple[ClassifierFeatures, dict[str, Any]]:
    """The offline FID feature network: a small CNN trained to classify MNIST digits; its
    128-d penultimate layer gives the features. Cached like the VAE."""
    config = dict(model="mnist_small_cnn", format=CACHE_FORMAT, n_train=len(images), epochs=epochs, seed=seed)

    def build() -> SmallCNN:
        torch.manual_seed(seed)
        return SmallCNN(1, 28)

    def train(model: SmallCNN) -> dict[str, Any]:
        return {"history": train_classifier(model, images, labels, IMAGE_SHAPE, epochs=epochs, seed=seed,
                                            device=device, progress=progress)}

    model, manifest = load_or_train("mnist_classifier", config, build, train, use_cache=use_cache)
    return ClassifierFeatures(model.to(device), IMAGE_SHAPE, name="mnist_cnn"), manifest
