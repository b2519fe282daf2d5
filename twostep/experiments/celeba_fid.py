"""CelebA pieces of the paper's Fig. 3 (right): the DCGAN-style conv VAE and an offline,
label-free FID feature network, both trained once and cached by their defining parameters."""

from __future__ import annotations


from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from twostep.autoencoders.base import train_vae
from twostep.autoencoders.conv import ConvVAE
from twostep.data.images import load_celeba, unit_range
from twostep.evaluation.fid import (
    FEATURE_NETWORK_SEED,
    QUALITY_ROWS,
    ClassifierFeatures,
    FeatureNetwork,
    FIDEvaluator,
    SmallCNN,
    feature_networks,
    feature_note,
    train_rotation_classifier,
)
from twostep.experiments.cache import load_or_train
from twostep.experiments.configs import CelebAConfig, CelebAVAEConfig
from twostep.evaluation.scoring import SampleScorer

CACHE_FORMAT = 1


def celeba_vae(images: np.ndarray, vae: CelebAVAEConfig, *, device: str | torch.device = "cpu", use_cache: bool = True,
               progress: bool = True) -> tuple[ConvVAE, dict[str, Any]]:
    """Step 1 on CelebA: the authors' DCGAN-style conv VAE (tanh output, loss L1 + beta KL, Adam
    betas (0.5, 0.999)) trained as ``vae`` says (the chapter's ``cfg.vae``), or the cached one keyed
    by ``vae`` and the images' number and shape. The manifest's ``info`` has the loss ``history``
    and the training ``seconds``."""
    shape = tuple(images.shape[1:])
    config = vae.key(model="celeba_conv_vae", format=CACHE_FORMAT, layout="channels_last", n_train=len(images),
                     shape=list(shape))

    def build() -> ConvVAE:
        torch.manual_seed(vae.seed)
        return ConvVAE(shape, vae.latent_dim, width=vae.width, depth=4, output="tanh", likelihood="laplace", beta=vae.beta)

    def train(model: ConvVAE) -> dict[str, Any]:
        history = train_vae(model, images, epochs=vae.epochs, batch_size=vae.batch_size, lr=vae.lr, seed=vae.seed,
                            device=device, progress=progress, desc="conv VAE")
        return {"history": history}

    model, manifest = load_or_train("celeba_vae", config, build, train, use_cache=use_cache)
    return model.to(device), manifest


def celeba_feature_network(images: np.ndarray, *, epochs: int, seed: int, device: str | torch.device = "cpu",
                           use_cache: bool = True, progress: bool = True) -> tuple[ClassifierFeatures, dict[str, Any]]:
    """Offline FID features for faces: a small CNN trained to predict image rotations (RotNet) on
    the training faces; features are its 128-d penultimate pre-activations. Images in [-1, 1] are
    fed as they are; ``ClassifierFeatures`` receives images in [0, 1] and maps them back."""
    shape = tuple(images.shape[1:])
    config = dict(model="celeba_rotnet", format=CACHE_FORMAT, n_train=len(images), shape=shape, epochs=epochs, seed=seed)

    def build() -> SmallCNN:
        torch.manual_seed(seed)
        return SmallCNN(shape[0], shape[1], n_classes=4)

    def train(model: SmallCNN) -> dict[str, Any]:
        return {"history": train_rotation_classifier(model, images, shape, epochs=epochs, seed=seed, device=device,
                                                     progress=progress)}

    model, manifest = load_or_train("celeba_rotnet", config, build, train, use_cache=use_cache)
    return _SignedInput(model.to(device), shape), manifest


class _SignedInput(ClassifierFeatures):
    """Feature network trained on [-1, 1] images, fed [0, 1] images like every FID network here."""

    def __init__(self, model: SmallCNN, shape):
        super().__init__(model, shape, name="celeba_rotnet")

    def _forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self.model.features(batch * 2.0 - 1.0)


@dataclass
class CelebASetup:
    """The CelebA chapter's start: training and held-out faces in [-1, 1], the offline (RotNet) FID
    features (and Inception when asked for), and an evaluator against the held-out faces."""

    x_train: np.ndarray
    x_test: np.ndarray
    found: str
    features: ClassifierFeatures
    feature_info: dict[str, Any]
    networks: list[FeatureNetwork]
    evaluator: FIDEvaluator
    scorer: SampleScorer

    def describe(self) -> str:
        history = self.feature_info["info"]["history"]
        return (f"{self.found}\nrotation feature network: {'loaded from cache' if self.feature_info['cached'] else 'trained'}; "
                f"final training loss {history[-1]:.3f} (chance: {np.log(4):.3f})\n{feature_note(self.networks)}")


def celeba_setup(cfg: CelebAConfig, device: str | torch.device) -> CelebASetup:
    """Load the first ``cfg.n_images`` faces (the last ``cfg.n_test`` held out), get the cached (or
    newly trained) RotNet features, and build the FID evaluator against the held-out faces and a
    scorer for samples in [-1, 1], with the FID protocol of ``cfg``."""
    images, found = load_celeba(cfg.n_images, cfg.image_size, use_cache=cfg.use_cache)
    x_train, x_test = images[: -cfg.n_test], images[-cfg.n_test :]
    features, info = celeba_feature_network(x_train, epochs=cfg.rotnet_epochs, seed=FEATURE_NETWORK_SEED, device=device,
                                            use_cache=cfg.use_cache)
    networks = feature_networks(features, inception=cfg.inception, image_shape=(3, cfg.image_size, cfg.image_size),
                                device=device)
    evaluator = FIDEvaluator(networks, unit_range(x_test), n_batches=cfg.n_batches,
                             batch_size=min(cfg.fid_batch_size, len(x_train)),
                             quality_rows=min(QUALITY_ROWS, cfg.n_fid_samples))
    scorer = SampleScorer(evaluator, cfg.n_fid_samples, samples_saved=cfg.samples_saved, keep=cfg.samples_kept,
                          to_unit=unit_range)
    return CelebASetup(x_train, x_test, found, features, info, networks, evaluator, scorer)
