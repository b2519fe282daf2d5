"""The two-step pipeline: step 1 trains an autoencoder, step 2 fits any prior on its codes."""

from __future__ import annotations

from typing import Any

import numpy as np

from twostep.priors.base import Prior


class TwoStepModel:
    """An autoencoder and a prior, learnt one after the other (the paper's Algorithm 1).

    ``autoencoder`` offers ``fit(data)``, ``encode(x)`` and ``decode(codes)``; ``prior`` offers
    ``fit(codes)`` and ``sample(n, seed)``. Either may be fitted already: ``fit(...,
    train_autoencoder=False)`` keeps a trained autoencoder and only (re)fits the prior, which is how
    a new prior is tried on a cached step 1.

    Parameters
    ----------
    autoencoder : Autoencoder or object
        Step 1: any object with ``fit(data)``, ``encode(x)`` (the codes: encoder means) and
        ``decode(codes)``, such as :class:`~twostep.autoencoders.MLPVAE`.
    prior : Prior
        Step 2: any :class:`~twostep.priors.Prior`, fitted on the codes by :meth:`fit`.

    Examples
    --------
    >>> model = TwoStepModel(MLPVAE(784, 20), GMMPrior(10)).fit(images, epochs=40)  # doctest: +SKIP
    >>> samples = model.sample(64, seed=0)  # doctest: +SKIP
    """

    def __init__(self, autoencoder: Any, prior: Prior):
        self.autoencoder = autoencoder
        self.prior = prior

    def fit(self, data, *, lengths=None, train_autoencoder: bool = True, **autoencoder_kwargs) -> "TwoStepModel":
        """Step 1 (unless ``train_autoencoder=False``), then step 2. For sequence priors (an HMM),
        ``data`` holds the frames of all sequences one after the other and ``lengths`` their lengths."""
        if train_autoencoder:
            self.autoencoder.fit(data, **autoencoder_kwargs)
        return self.fit_prior(data, lengths=lengths)

    def fit_prior(self, data, *, lengths=None) -> "TwoStepModel":
        """Step 2: encode ``data`` and fit the prior on the codes (kept as ``codes_``)."""
        return self.fit_codes(self.autoencoder.encode(data), lengths=lengths)

    def fit_codes(self, codes, *, lengths=None) -> "TwoStepModel":
        """Step 2 on codes already computed (kept as ``codes_``; ``lengths`` as in :meth:`fit`)."""
        self.codes_ = np.asarray(codes)
        self.lengths_ = lengths
        self.prior.fit(self.codes_, lengths)
        return self

    def with_prior(self, prior: Prior) -> "TwoStepModel":
        """A new two-step model sharing this autoencoder, with ``prior`` fitted on the same codes."""
        codes = getattr(self, "codes_", None)
        model = TwoStepModel(self.autoencoder, prior)
        if codes is not None:
            model.fit_codes(codes, lengths=getattr(self, "lengths_", None))
        return model

    def sample_codes(self, n: int, seed: int | None = None) -> np.ndarray:
        return self.prior.sample(n, seed=seed)

    def sample(self, n: int, seed: int | None = None) -> np.ndarray:
        """Draw codes from the prior and decode them."""
        return np.asarray(self.autoencoder.decode(self.sample_codes(n, seed=seed).astype(np.float32)))
