"""Joint training of a VAE with an HMM prior (paper section 4.2): the forward algorithm in torch,
differentiated through, with the KL term estimated by Monte Carlo."""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from twostep.autoencoders.base import Autoencoder, reconstruction_loss
from twostep.core.checks import check_int
from twostep.nn.layers import LOG_2PI, gaussian_entropy, reparameterise
from twostep.priors.hmm import HMMPrior


def hmm_log_likelihood(h: torch.Tensor, start_logits: torch.Tensor, trans_logits: torch.Tensor,
                       means: torch.Tensor, logvars: torch.Tensor) -> torch.Tensor:
    """log p(h_1..T) under a diagonal Gaussian HMM, for a batch (B, T, D) of sequences: the forward
    algorithm in log space (differentiable). Start and transition probabilities are the softmax of
    their logits (rows of ``trans_logits`` are the source states)."""
    log_start = torch.log_softmax(start_logits, -1)
    log_trans = torch.log_softmax(trans_logits, -1)
    diff = h.unsqueeze(2) - means  # (B, T, K, D)
    log_emit = -0.5 * (LOG_2PI + logvars + diff.pow(2) / logvars.exp()).sum(-1)  # (B, T, K)
    alpha = log_start + log_emit[:, 0]
    for t in range(1, h.shape[1]):
        alpha = torch.logsumexp(alpha.unsqueeze(2) + log_trans.unsqueeze(0), dim=1) + log_emit[:, t]
    return torch.logsumexp(alpha, -1)


class JointHMMVAE(nn.Module):
    """A frame-level VAE with an HMM prior over the frames' codes, trained on sequences of frames.

    ``loss(x)`` for x of shape (B, T, frame): per frame, the reconstruction term plus ``beta`` times
    the Monte Carlo KL estimate (log q(h | x) exactly integrated as the entropy, log p_HMM(h) by the
    forward algorithm at one sample h ~ q(h | x)).
    """

    def __init__(self, autoencoder: Autoencoder, n_states: int, *, seed: int = 0):
        super().__init__()
        self.autoencoder = autoencoder
        self.n_states = check_int("n_states", n_states, minimum=1)
        d = autoencoder.latent_dim
        g = torch.Generator().manual_seed(seed)
        self.start_logits = nn.Parameter(torch.zeros(n_states))
        self.trans_logits = nn.Parameter(torch.zeros(n_states, n_states))
        self.means = nn.Parameter(torch.randn(n_states, d, generator=g))
        self.logvars = nn.Parameter(torch.zeros(n_states, d))

    @classmethod
    def random_init(cls, autoencoder: Autoencoder, n_states: int, *, seed: int = 0) -> "JointHMMVAE":
        """Fresh network (as given) and an HMM with uniform start and transitions, N(0, I)-drawn means."""
        return cls(autoencoder, n_states, seed=seed)

    def prior_parameters(self):
        """The HMM's parameters (start and transition logits, means, log-variances)."""
        return [self.start_logits, self.trans_logits, self.means, self.logvars]

    @classmethod
    def from_two_step(cls, autoencoder: Autoencoder, prior: HMMPrior) -> "JointHMMVAE":
        """A copy of the two-step network and its Baum-Welch HMM, as trainable parameters."""
        prior._check_fitted()
        model = cls(copy.deepcopy(autoencoder), prior.n_states)
        with torch.no_grad():
            model.start_logits.copy_(torch.as_tensor(np.log(prior.model_.startprob_ + 1e-12), dtype=torch.float32))
            model.trans_logits.copy_(torch.as_tensor(np.log(prior.model_.transmat_ + 1e-12), dtype=torch.float32))
            model.means.copy_(torch.as_tensor(prior.model_.means_, dtype=torch.float32))
            model.logvars.copy_(torch.as_tensor(np.log(prior.variances_), dtype=torch.float32))
        return model.to(autoencoder.device)

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        ae = self.autoencoder
        b, t = x.shape[:2]
        frames = x.reshape(b * t, -1)
        mu, logvar = ae.encode_distribution(frames)
        h = reparameterise(mu, logvar)
        recon = reconstruction_loss(frames, ae.decode_tensor(h), ae.likelihood).reshape(b, t).sum(1)
        entropy = gaussian_entropy(logvar).reshape(b, t).sum(1)
        log_prior = hmm_log_likelihood(h.reshape(b, t, -1), self.start_logits, self.trans_logits, self.means, self.logvars)
        kl = -entropy - log_prior  # Monte Carlo estimate of KL(q(h_1..T | x) || p_HMM(h_1..T))
        return ((recon + ae.beta * kl) / t).mean()

    def prior(self) -> HMMPrior:
        with torch.no_grad():
            return HMMPrior.from_params(
                torch.softmax(self.start_logits.double(), -1).cpu().numpy(),
                torch.softmax(self.trans_logits.double(), -1).cpu().numpy(),
                self.means.double().cpu().numpy(),
                self.logvars.double().exp().cpu().numpy(),
            )


def chunk_frames(frame_sequences: list[np.ndarray], length: int) -> np.ndarray:
    """Cut each (T_i, frame) sequence into consecutive chunks of ``length`` frames (dropping the
    remainder); shape (n_chunks, length, frame). Joint training batches these."""
    length = check_int("length", length, minimum=1)
    chunks = [s[i : i + length] for s in frame_sequences for i in range(0, len(s) - length + 1, length)]
    if not chunks:
        raise ValueError(f"no sequence has {length} frames")
    return np.stack(chunks).astype(np.float32)
