"""twostep: an executable replication of two-step learning for latent-variable models.

Step 1 trains an autoencoder; step 2 fits any prior on its latent codes (Subakan, Gasse and
Charlin, MLSP 2020). The library is small on purpose: priors share one protocol
(:class:`twostep.priors.Prior`), autoencoders share another (:class:`twostep.models.Autoencoder`),
and :class:`twostep.pipeline.TwoStepModel` wires them together.
"""

from twostep.data import DatasetMissingError, data_dir, make_grid_gaussians
from twostep.models import MLPVAE, train_vae
from twostep.pipeline import TwoStepModel
from twostep.priors import GMMPrior, Prior, StandardNormalPrior
from twostep.utils import get_device, seed_everything

__all__ = [
    "DatasetMissingError",
    "GMMPrior",
    "MLPVAE",
    "Prior",
    "StandardNormalPrior",
    "TwoStepModel",
    "data_dir",
    "get_device",
    "make_grid_gaussians",
    "seed_everything",
    "train_vae",
]
__version__ = "0.1.0"
