"""Step 1 of Algorithm 1: autoencoders. Each offers ``fit(data) -> self``, ``encode(x) -> codes``,
``decode(codes) -> x`` on NumPy arrays and ``latent_dim``; the torch VAEs also expose
``encode_distribution`` / ``decode_tensor`` on tensors, which joint training needs."""

from twostep.autoencoders.audio import AudioConvVAE
from twostep.autoencoders.base import Autoencoder, train_vae
from twostep.autoencoders.conv import ConvVAE
from twostep.autoencoders.generator import GeneratorAutoencoder, train_encoder
from twostep.autoencoders.mlp import MLPVAE
from twostep.autoencoders.pca import PCAAutoencoder

__all__ = ["AudioConvVAE", "Autoencoder", "ConvVAE", "GeneratorAutoencoder", "MLPVAE", "PCAAutoencoder",
           "train_encoder", "train_vae"]
