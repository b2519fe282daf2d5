"""The WGAN-GMM experiment (paper Fig. 6): a WGAN-GP generator on MNIST, an encoder trained to invert
it, and GMM priors on the encoder's codes. The networks are the authors' MLPs."""

from __future__ import annotations

import numpy as np
import torch

from twostep.autoencoders import GeneratorAutoencoder
from twostep.nn.gan import MLPGenerator, critic_mlp, gaussian_noise, train_wgan_gp

PIXELS = 28 * 28  # an MNIST digit, flattened
HIDDEN = 600  # the authors' width of the generator's and the encoder's hidden layer
CRITIC_LAYERS = 3  # hidden layers of the critic


def wgan_gp(cfg, images: np.ndarray, *, device) -> tuple[MLPGenerator, list[float]]:
    """The WGAN-GP generator (``cfg``: a :class:`~twostep.experiments.configs.WGANGMMConfig`) trained
    on ``images``, with its critic, from the run's seed: ``(generator, history)``."""
    torch.manual_seed(cfg.seed)
    generator, critic = MLPGenerator(cfg.noise_dim, HIDDEN, PIXELS), critic_mlp(PIXELS, cfg.critic_hidden, CRITIC_LAYERS)
    history = train_wgan_gp(generator, critic, images, gaussian_noise(cfg.noise_dim), iterations=cfg.gan_iterations,
                            batch_size=cfg.gan_batch_size, n_critic=cfg.n_critic, gp_weight=cfg.gp_weight,
                            lr=cfg.gan_lr, seed=cfg.seed, device=device, desc="WGAN-GP on MNIST")
    return generator, history


def generator_encoder(cfg, generator: MLPGenerator, images: np.ndarray, *, device) -> GeneratorAutoencoder:
    """An MLP encoder (784 -> 600 tanh -> noise) trained, from the run's seed, to invert the frozen
    ``generator`` on ``images``: the autoencoder whose codes the GMM priors are fitted on."""
    torch.manual_seed(cfg.seed)
    encoder = torch.nn.Sequential(torch.nn.Linear(PIXELS, HIDDEN), torch.nn.Tanh(), torch.nn.Linear(HIDDEN, cfg.noise_dim))
    return GeneratorAutoencoder(encoder, generator).fit(images, epochs=cfg.encoder_epochs, batch_size=256,
                                                        lr=cfg.encoder_lr, betas=(0.5, 0.9), seed=cfg.seed,
                                                        device=device)


def reconstruction_rmse(reconstructions: np.ndarray, images: np.ndarray) -> float:
    """The root mean squared error of ``reconstructions`` of ``images`` (pixels in [0, 1])."""
    return float(np.sqrt(((reconstructions - images) ** 2).mean()))
