"""Priors over latent codes, sharing one small protocol: ``fit(codes) -> self``, ``sample(n, seed)``,
``log_prob`` where the prior defines a density.

Step 2 of two-step learning fits any such prior on the autoencoder's codes. Fitted attributes
carry a trailing underscore, as in scikit-learn. Priors over sequences (``sequential = True``, the
HMM) follow hmmlearn: ``fit(codes, lengths)`` with one 2-d array of all frames and the length of
each sequence. One seed rule for all: ``sample(n, seed)`` with an integer seed gives the same draws
every time, ``seed=None`` fresh ones. ``tests/test_contracts.py`` checks every prior against this.
"""

from __future__ import annotations

import numpy as np

from twostep.core.profiling import phased
from twostep.core.validation import check_int


def _as_codes(codes) -> np.ndarray:
    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim != 2:
        raise ValueError(f"codes must be a 2-d array (n_samples, latent_dim), got shape {codes.shape}")
    if not np.all(np.isfinite(codes)):
        raise ValueError("codes contain NaN or infinite values")
    return codes


class Prior:
    """Base class of latent priors.

    Subclasses implement :meth:`fit` (returning ``self``) and :meth:`sample`; :meth:`log_prob`
    where the model defines a density. ``dim_`` is the latent size seen by ``fit``.
    """

    has_log_prob = True
    sequential = False  # True for priors over sequences, whose fit and log_prob also take ``lengths``

    def __init_subclass__(cls, **kwargs):
        """Every prior's own ``fit`` counts as "prior fitting" in a notebook's time profile
        (:mod:`twostep.core.profiling`)."""
        super().__init_subclass__(**kwargs)
        if "fit" in cls.__dict__:
            cls.fit = phased("prior fitting")(cls.__dict__["fit"])

    def fit(self, codes) -> "Prior":  # pragma: no cover - interface
        raise NotImplementedError

    def sample(self, n: int, seed: int | None = None) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def log_prob(self, codes) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} defines no density")

    def sample_segments(self, n: int, segment_length: int, seed: int = 0) -> np.ndarray:
        """``n`` codes drawn as independent sequences of ``segment_length`` codes (the last one cut
        short), each started afresh; segment ``j`` is seeded with ``seed + j``. For a sequence
        prior fitted on separate short files (an HMM may learn absorbing end states, in which one
        long sample eventually stays) sampling segments of a file's length avoids that; for an
        i.i.d. prior it is just ``n`` draws."""
        n = check_int("n", n, minimum=1)
        segment_length = check_int("segment_length", segment_length, minimum=1)
        segments = [self.sample(segment_length, seed=seed + j) for j in range(-(-n // segment_length))]
        return np.concatenate(segments)[:n]

    def _check_fitted(self) -> None:
        if not hasattr(self, "dim_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit(codes) first")


class StandardNormalPrior(Prior):
    """The VAE's fixed N(0, I) prior. ``fit`` only records the latent size."""

    def __init__(self, dim: int | None = None):
        if dim is not None:
            self.dim_ = check_int("dim", dim, minimum=1)

    def fit(self, codes) -> "StandardNormalPrior":
        self.dim_ = _as_codes(codes).shape[1]
        return self

    def sample(self, n: int, seed: int | None = None) -> np.ndarray:
        self._check_fitted()
        n = check_int("n", n, minimum=1)
        return np.random.default_rng(seed).standard_normal((n, self.dim_))

    def log_prob(self, codes) -> np.ndarray:
        self._check_fitted()
        codes = _as_codes(codes)
        return -0.5 * (codes**2).sum(1) - 0.5 * self.dim_ * np.log(2 * np.pi)
