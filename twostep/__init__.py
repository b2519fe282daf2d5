"""twostep: an executable replication of two-step learning for latent-variable models.

Step 1 trains an autoencoder; step 2 fits any prior on its latent codes (Subakan, Gasse and
Charlin, MLSP 2020). The package follows Algorithm 1, each layer importing only from the ones
below it (checked by import-linter, see ``pyproject.toml``):

* :mod:`twostep.book` - notebook runner, claims page, parameters page
* :mod:`twostep.experiments` - per-experiment recipes, sweeps, configs, figures
* :mod:`twostep.joint`, :mod:`twostep.evaluation` - joint baselines; scores of samples
* :mod:`twostep.pipeline` - :class:`TwoStepModel`: autoencoder -> codes -> prior -> samples
* :mod:`twostep.autoencoders`, :mod:`twostep.priors` - the two steps
* :mod:`twostep.data`, :mod:`twostep.nn` - data sets; torch building blocks and training loops
* :mod:`twostep.core` - parameter checks, non-finite guards, seeding, files
"""

from twostep.autoencoders import MLPVAE, train_vae
from twostep.core import get_device, seed_everything
from twostep.data import DatasetMissingError, data_dir, make_grid_gaussians
from twostep.pipeline import TwoStepModel
from twostep.priors import GMMPrior, Prior, StandardNormalPrior

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
