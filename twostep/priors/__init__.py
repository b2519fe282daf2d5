"""Step 2 of Algorithm 1: priors fitted on the codes. Each offers ``fit(codes[, lengths]) -> self``,
``sample(n, seed)`` and, where it defines a density, ``log_prob``; fitted attributes end in ``_``."""

from twostep.priors.base import Prior, StandardNormalPrior
from twostep.priors.density import BayesianGMMPrior, KDEPrior
from twostep.priors.gmm import COVARIANCE_TYPES, GMMPrior
from twostep.priors.hmm import HMMPrior
from twostep.priors.neural import FlowPrior, GRUPrior, TwoStageVAEPrior
from twostep.priors.wgan import WGANGPPrior

__all__ = ["COVARIANCE_TYPES", "BayesianGMMPrior", "FlowPrior", "GMMPrior", "GRUPrior", "HMMPrior", "KDEPrior", "Prior",
           "StandardNormalPrior", "TwoStageVAEPrior", "WGANGPPrior"]
