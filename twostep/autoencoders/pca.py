"""A PCA "autoencoder" (paper section 5.3): scikit-learn PCA behind the library's autoencoder
interface, so the same two-step pipeline and priors serve it. PCA is the globally optimal linear
autoencoder for squared error, found without gradient descent."""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA

from twostep.core.checks import ParameterError, check_int


class PCAAutoencoder:
    """``encode`` projects on the first ``n_components`` principal axes, ``decode`` maps back.

    With ``whiten=True`` (default) the codes have unit variance per component, so priors fitted on
    them (and scikit-learn's ``reg_covar``) see comparable scales. Images of any shape are
    flattened; ``decode`` restores the shape seen by ``fit``.
    """

    def __init__(self, n_components: int, *, whiten: bool = True, random_state: int | None = 0):
        self.n_components = check_int("n_components", n_components, minimum=1)
        self.whiten = whiten
        self.random_state = random_state

    def fit(self, data, **_ignored) -> "PCAAutoencoder":
        data = np.asarray(data, dtype=np.float64)
        n = len(data)
        if self.n_components > min(n, data[0].size):
            raise ParameterError(
                f"n_components={self.n_components} is not allowed: PCA on {n} images of {data[0].size} pixels "
                f"has at most {min(n, data[0].size)} components."
            )
        self.shape_ = data.shape[1:]
        self.pca_ = PCA(self.n_components, whiten=self.whiten, svd_solver="full", random_state=self.random_state)
        self.pca_.fit(data.reshape(n, -1))
        self.latent_dim = self.n_components
        return self

    def encode(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        return self.pca_.transform(x.reshape(len(x), -1))

    def decode(self, codes) -> np.ndarray:
        flat = self.pca_.inverse_transform(np.asarray(codes, dtype=np.float64))
        return flat.reshape(len(flat), *self.shape_).astype(np.float32)

    @property
    def explained_variance_ratio_(self) -> np.ndarray:
        return self.pca_.explained_variance_ratio_
