"""The joint baselines: a VAE and its prior trained together on one ELBO (GMM: eq. 2; HMM: the
forward algorithm inside the ELBO), and the training function they share."""

from twostep.joint.gmm_vae import GMMVAE
from twostep.joint.hmm_vae import JointHMMVAE, chunk_frames, hmm_log_likelihood
from twostep.joint.training import train_joint

__all__ = ["GMMVAE", "JointHMMVAE", "chunk_frames", "hmm_log_likelihood", "train_joint"]
