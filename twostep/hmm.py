"""HMM priors over sequences of latent codes (paper section 4.2).

* :class:`HMMPrior`: two-step, hmmlearn's ``GaussianHMM`` with diagonal covariances fitted by
  Baum-Welch on the encoder's code sequences.
* :func:`hmm_log_likelihood`: a differentiable log-space forward algorithm in torch.
* :class:`JointHMMVAE`: a VAE whose prior is an HMM, trained jointly on the ELBO with the KL term
  estimated by Monte Carlo as in the paper: KL ~ log q(h | x) - log p_HMM(h) for h ~ q(h | x), where
  log p_HMM sums the forward algorithm's normalisers over *all* steps (the authors' code keeps only
  the last one) and the entropy of q is exact. Its HMM parameters are trained in both
  initialisations (in the authors' code, the path initialised from two-step never trains them).
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
from hmmlearn.hmm import GaussianHMM
from torch import nn

from twostep.models import Autoencoder, reconstruction_loss
from twostep.priors import Prior
from twostep.utils import check_choice, check_float, check_int

LOG_2PI = math.log(2 * math.pi)


def _sequences(sequences) -> tuple[np.ndarray, list[int]]:
    seqs = [np.asarray(s, dtype=np.float64) for s in sequences]
    if not seqs or any(s.ndim != 2 for s in seqs):
        raise ValueError("sequences must be a non-empty list of 2-d arrays (frames, latent_dim)")
    return np.concatenate(seqs), [len(s) for s in seqs]


class HMMPrior(Prior):
    """A Gaussian HMM with diagonal covariances over code sequences, fitted with hmmlearn.

    ``fit`` takes a list of (T_i, D) sequences; ``sample(n, seed)`` draws one sequence of ``n``
    frames; ``log_prob`` returns each sequence's log-likelihood. ``implementation="scaling"`` is
    hmmlearn's faster forward-backward; ``"log"`` its log-space one (the same fit).
    """

    def __init__(self, n_states: int = 100, *, n_iter: int = 100, tol: float = 1e-2, min_covar: float = 1e-3,
                 implementation: str = "scaling", random_state: int | None = 0):
        self.n_states = check_int("n_states", n_states, minimum=1)
        self.n_iter = check_int("n_iter", n_iter, minimum=1)
        self.tol = check_float("tol", tol, minimum=0.0)
        self.min_covar = check_float("min_covar", min_covar, minimum=0.0)
        self.implementation = check_choice("implementation", implementation, ("scaling", "log"))
        self.random_state = random_state

    def _model(self) -> GaussianHMM:
        return GaussianHMM(self.n_states, covariance_type="diag", n_iter=self.n_iter, tol=self.tol,
                           min_covar=self.min_covar, random_state=self.random_state,
                           implementation=self.implementation)

    def fit(self, sequences) -> "HMMPrior":
        x, lengths = _sequences(sequences)
        if len(x) < self.n_states:
            raise ValueError(f"n_states={self.n_states} is more than the {len(x)} frames to fit")
        self.model_ = self._model().fit(x, lengths)
        self.dim_ = x.shape[1]
        return self

    @classmethod
    def from_params(cls, startprob, transmat, means, variances, **kwargs) -> "HMMPrior":
        """A fitted prior with given parameters (for example a jointly trained HMM)."""
        prior = cls(len(startprob), **kwargs)
        model = prior._model()
        model.n_features = np.asarray(means).shape[1]
        model.startprob_ = np.asarray(startprob, dtype=np.float64)
        model.transmat_ = np.asarray(transmat, dtype=np.float64)
        model.means_ = np.asarray(means, dtype=np.float64)
        model.covars_ = np.asarray(variances, dtype=np.float64)
        prior.model_ = model
        prior.dim_ = model.n_features
        return prior

    @property
    def variances_(self) -> np.ndarray:
        return self.model_._covars_

    def sample(self, n: int, seed: int | None = None) -> np.ndarray:
        self._check_fitted()
        x, _ = self.model_.sample(check_int("n", n, minimum=1), random_state=np.random.RandomState(seed))
        return x

    def sample_segments(self, n: int, segment_length: int, seed: int = 0) -> np.ndarray:
        """``n`` codes drawn as independent sequences of ``segment_length`` codes (the last one cut
        short), each started afresh from the initial distribution; segment ``j`` is seeded with
        ``seed + j``. An HMM fitted on separate short files may learn absorbing end states, in which
        one long sample eventually stays; sampling segments of a file's length avoids that."""
        n = check_int("n", n, minimum=1)
        segment_length = check_int("segment_length", segment_length, minimum=1)
        segments = [self.sample(segment_length, seed=seed + j) for j in range(-(-n // segment_length))]
        return np.concatenate(segments)[:n]

    def log_prob(self, sequences) -> np.ndarray:
        self._check_fitted()
        return np.array([self.model_.score(np.asarray(s, dtype=np.float64)) for s in sequences])

    @property
    def converged_(self) -> bool:
        return bool(self.model_.monitor_.converged)


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
        h = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        recon = reconstruction_loss(frames, ae.decode_tensor(h), ae.likelihood).reshape(b, t).sum(1)
        entropy = 0.5 * (1.0 + LOG_2PI + logvar).sum(-1).reshape(b, t).sum(1)
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
