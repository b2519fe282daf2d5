"""MNIST pieces of the paper's Fig. 3 (left): the authors' MLP VAE and an offline FID feature
network, both trained once and cached by the parameters that define them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from twostep.autoencoders.base import train_vae
from twostep.autoencoders.mlp import MLPVAE
from twostep.core import keys
from twostep.data.mnist import load_mnist
from twostep.evaluation.fid import (
    FEATURE_NETWORK_SEED,
    QUALITY_ROWS,
    ClassifierFeatures,
    FeatureNetwork,
    FIDEvaluator,
    SmallCNN,
    distance_label,
    feature_networks,
    feature_note,
    train_classifier,
)
from twostep.evaluation.samples import clustering_accuracy
from twostep.core.seeds import stage_seed
from twostep.experiments.cache import load_or_train
from twostep.experiments.joint_runs import authors_baselines, run_joint, run_label, run_vade
from twostep.joint import GMMVAE
from twostep.pipeline import TwoStepModel
from twostep.experiments.configs import MNISTDataConfig, MnistVAEConfig, WGANPriorConfig
from twostep.evaluation.scoring import SampleScorer
from twostep.priors import WGANGPPrior

# Bump when a change to the code would change what a cached model is.
CACHE_FORMAT = 2


IMAGE_SHAPE = (1, 28, 28)


def mnist_network(vae: MnistVAEConfig) -> MLPVAE:
    """The authors' MNIST VAE network of ``vae`` (a chapter's ``cfg.vae``), untrained (784 -> hidden
    tanh -> latent, sigmoid output, loss L1 + beta KL): what step 1 trains (:func:`mnist_vae`) and
    what the joint model from random initialisation starts from. Both take the same config, so the
    two cannot drift apart."""
    return MLPVAE(784, vae.latent_dim, (vae.hidden_dim,), output="sigmoid", likelihood="laplace", beta=vae.beta)


def mnist_vae(images: np.ndarray, vae: MnistVAEConfig, *, device: str | torch.device = "cpu", use_cache: bool = True,
              progress: bool = True) -> tuple[MLPVAE, dict[str, Any]]:
    """Step 1 on MNIST: the authors' VAE (784 -> 600 tanh -> 20, sigmoid output, loss L1 + beta KL),
    trained with Adam (betas (0.5, 0.999)) as ``vae`` says (a chapter's ``cfg.vae``), or loaded from
    the cache entry keyed by ``vae`` and the number of images: chapters holding equal configs share
    it. The manifest's ``info`` has the loss ``history`` and the training ``seconds``."""
    config = vae.key(model="mnist_mlp_vae", format=CACHE_FORMAT, n_train=len(images))

    def build() -> MLPVAE:
        torch.manual_seed(vae.seed)
        return mnist_network(vae)

    def train(model: MLPVAE) -> dict[str, Any]:
        history = train_vae(model, images, epochs=vae.epochs, batch_size=vae.batch_size, lr=vae.lr, seed=vae.seed,
                            device=device, progress=progress)
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


def mnist_wgan_prior(codes: np.ndarray, vae_info: dict[str, Any], gan: WGANPriorConfig, *,
                     device: str | torch.device = "cpu", use_cache: bool = True,
                     progress: bool = True) -> tuple[WGANGPPrior, dict[str, Any]]:
    """The GAN chapter's step 2: a WGAN-GP prior (as ``gan`` says: a chapter's ``cfg.wgan_prior``) on
    the codes of the VAE described by ``vae_info`` (the manifest :func:`mnist_vae` returns), cached
    like the VAE, so that every chapter using that VAE and an equal config (the GAN chapter, the
    prior zoo) shares one trained prior."""
    def build() -> WGANGPPrior:
        return WGANGPPrior(hidden=gan.hidden, iterations=gan.iterations, batch_size=gan.batch_size, n_critic=gan.n_critic,
                           gp_weight=gan.gp_weight, lr=gan.lr, random_state=gan.seed, device=device, progress=progress)

    config = gan.key(model="mnist_wgan_prior", format=CACHE_FORMAT, stored="prior state_dict", vae=vae_info["config"],
                     layers=build().layers)

    def train(prior: WGANGPPrior) -> dict[str, Any]:
        return {"history": prior.fit(codes).history_}

    prior, manifest = load_or_train("mnist_wgan_prior", config, build, train, use_cache=use_cache)
    prior.history_ = manifest["info"]["history"]  # the training record, kept with the entry
    return prior, manifest


@dataclass
class MNISTSetup:
    """What every MNIST chapter starts from: the data, the offline FID feature network (and
    Inception when asked for), and an evaluator holding the test images' feature statistics."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    features: ClassifierFeatures
    feature_info: dict[str, Any]
    networks: list[FeatureNetwork]
    evaluator: FIDEvaluator
    scorer: SampleScorer

    def describe(self) -> str:
        """One line: which feature networks, where the offline one came from, its test accuracy."""
        return (f"{feature_note(self.networks)}; offline network "
                f"{'loaded from cache' if self.feature_info['cached'] else 'trained'}, test accuracy "
                f"{self.features.accuracy(self.x_test, self.y_test):.4f}")


def mnist_setup(cfg: MNISTDataConfig, device: str | torch.device, *, keep: int = 0) -> MNISTSetup:
    """Load the first ``cfg.n_train`` training images and the 10,000 test images, get the cached (or
    newly trained) feature network, and build the FID evaluator against the test images, with the
    FID protocol of ``cfg``; the scorer keeps ``keep`` samples per model (the Inception check's).
    The feature network is retrained when ``cfg`` has ``use_cache`` False: the flag is read from the
    config itself, never passed beside it (a chapter that forgot to pass it once reused the cached
    network though its ``use_cache=False`` promised otherwise); a config without the field caches."""
    use_cache = cfg.use_cache if "use_cache" in type(cfg).model_fields else True
    x_train, y_train = load_mnist(train=True)
    x_train, y_train = x_train[: cfg.n_train], y_train[: cfg.n_train]
    x_test, y_test = load_mnist(train=False)
    features, info = mnist_feature_network(x_train, y_train, epochs=cfg.classifier_epochs, seed=FEATURE_NETWORK_SEED, device=device,
                                           use_cache=use_cache)
    networks = feature_networks(features, inception=cfg.inception, image_shape=IMAGE_SHAPE, device=device)
    evaluator = FIDEvaluator(networks, x_test, n_batches=cfg.n_batches, batch_size=cfg.fid_batch_size,
                             quality_rows=min(QUALITY_ROWS, cfg.n_fid_samples))
    scorer = SampleScorer(evaluator, cfg.n_fid_samples, samples_saved=cfg.samples_saved, keep=keep)
    return MNISTSetup(x_train, y_train, x_test, y_test, features, info, networks, evaluator, scorer)


def clustering_metrics(x_test: np.ndarray, y_test: np.ndarray, joint_models: dict, two_step=None) -> dict[str, float]:
    """Clustering accuracy on the test digits of every 10-component joint model (key -> GMM-VAE) and,
    when given, of a two-step ``(autoencoder, 10-component GMMPrior)`` as ``two_step_diag_10``."""
    metrics = {f"{key}.clustering_accuracy": clustering_accuracy(y_test, joint.cluster(x_test))
               for key, joint in joint_models.items() if joint.n_components == 10}
    if two_step is not None:
        autoencoder, prior = two_step
        metrics[keys.two_step("diag", 10).metric("clustering_accuracy")] = clustering_accuracy(y_test, prior.predict(autoencoder.encode(x_test)))
    return metrics


def mnist_joint_runs(cfg, vae, sweep, x_train, heldout, *, device) -> dict:
    """Fig. 3's joint GMM-VAEs on MNIST (``cfg``: a :class:`~twostep.experiments.configs.MNISTConfig`),
    from the seed stream "joint": the authors' baselines from two-step
    (:func:`~twostep.experiments.joint_runs.authors_baselines`) and, where ``cfg.joint_inits`` has
    "random", one from random initialisation at every ``cfg.joint_components`` size, trained for
    ``cfg.joint_random_epochs`` with its held-out objective on ``heldout``. Runs by key, in that order."""
    seed = stage_seed(cfg.seed, "joint")
    runs = authors_baselines(cfg, vae, sweep, x_train, heldout, likelihood=cfg.joint_likelihood,
                             batch_size=cfg.joint_batch_size, device=device, seed=seed)
    for k in cfg.joint_components if "random" in cfg.joint_inits else []:
        key = str(keys.joint("random", k))
        runs[key] = run_joint(lambda k=k: GMMVAE.random_init(mnist_network(cfg.vae).to(device), k, seed=seed,
                                                             likelihood=cfg.joint_likelihood, beta=cfg.joint_beta),
                              x_train, seed=seed, epochs=cfg.joint_random_epochs, lr=cfg.joint_lr,
                              batch_size=cfg.joint_batch_size, device=device, desc=run_label(key), validation=heldout)
    return runs


def mnist_vade_runs(cfg, vae, sweep, x_train, heldout, labelled, score, *, device, features: str) -> dict:
    """The VaDE-protocol joint GMM-VAE at every ``cfg.joint_components`` size (none without
    ``cfg.vade_epochs``), each from the sweep's diagonal GMM of that size, watched for clustering
    accuracy on ``labelled`` at 10 components, scored by ``score`` and printed. Runs by key."""
    runs = {}
    for k in cfg.joint_components if cfg.vade_epochs else []:
        key = str(keys.joint("vade", k))
        run = run_vade(vae, sweep.prior(k, "diag"), x_train, seed=stage_seed(cfg.seed, "joint"),
                       epochs=cfg.vade_epochs, lr=cfg.vade_lr, batch_size=cfg.vade_batch_size, device=device,
                       likelihood=cfg.joint_likelihood, beta=cfg.joint_beta, validation=heldout,
                       labelled=labelled if k == 10 else None, desc=f"joint GMM-VAE ({k}), VaDE protocol")
        runs[key] = run
        model = TwoStepModel(run.model.autoencoder, run.model.prior())
        fid = score(key, model, stage_seed(cfg.seed, "samples"))[features]
        accuracy = (f"; clustering accuracy {100 * run.accuracy[0]:.1f}% at its start, "
                    f"{100 * run.accuracy[-1]:.1f}% at the end" if run.accuracy else "")
        print(f"VaDE protocol, {k:>3} components: {run.epochs} epochs in {run.seconds:.0f} s; "
              f"{run.convergence.describe()}{accuracy}; {distance_label(features)} {fid.full:.3f}")
    return runs
