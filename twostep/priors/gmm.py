"""Gaussian mixture priors (scikit-learn's EM)."""

from __future__ import annotations

import numpy as np
from sklearn.mixture import GaussianMixture

from twostep.core.guards import NonFiniteError, check_finite
from twostep.core.checks import check_choice, check_float, check_int
from twostep.priors.base import Prior, _as_codes, _fitted_arrays, _iid_codes, _per_sequence, _set_fitted_arrays

COVARIANCE_TYPES = ("full", "diag", "spherical", "tied")


class GMMPrior(Prior):
    """A Gaussian mixture prior fitted with scikit-learn's ``GaussianMixture`` (EM, k-means++ init).

    Parameters mirror scikit-learn's; ``random_state`` seeds the fit. After ``fit``: ``mixture_``
    (the fitted ``GaussianMixture``), ``weights_``, ``means_``, ``covariances_``, ``dim_``.

    Parameters
    ----------
    n_components : int
        Number of mixture components.
    covariance_type : {"diag", "full", "spherical", "tied"}
        Covariance of each component (the paper: ``"diag"`` and ``"full"``).
    n_init : int
        EM restarts; the best (highest lower bound) is kept.
    max_iter, tol, reg_covar, init_params
        As scikit-learn's ``GaussianMixture`` (k-means++ starts by default).
    random_state : int or None
        Seed of the starts.
    """

    def __init__(
        self,
        n_components: int = 10,
        covariance_type: str = "diag",
        *,
        n_init: int = 1,
        max_iter: int = 200,
        tol: float = 1e-3,
        reg_covar: float = 1e-6,
        init_params: str = "k-means++",
        random_state: int | None = 0,
    ):
        self.n_components = check_int("n_components", n_components, minimum=1)
        self.covariance_type = check_choice("covariance_type", covariance_type, COVARIANCE_TYPES)
        self.n_init = check_int("n_init", n_init, minimum=1)
        self.max_iter = check_int("max_iter", max_iter, minimum=1)
        self.tol = check_float("tol", tol, minimum=0.0, strict_minimum=True)
        self.reg_covar = check_float("reg_covar", reg_covar, minimum=0.0)
        self.init_params = check_choice(
            "init_params", init_params, ("kmeans", "k-means++", "random", "random_from_data")
        )
        self.random_state = random_state

    def _estimator(self, n_components: int) -> GaussianMixture:
        """The unfitted scikit-learn estimator of this prior's parameters."""
        return GaussianMixture(
            n_components=n_components,
            covariance_type=self.covariance_type,
            n_init=self.n_init,
            max_iter=self.max_iter,
            tol=self.tol,
            reg_covar=self.reg_covar,
            init_params=self.init_params,
            random_state=self.random_state,
        )

    def fit(self, codes, lengths=None) -> "GMMPrior":
        codes = _iid_codes(codes, lengths)
        if codes.shape[0] < self.n_components:
            raise ValueError(
                f"n_components={self.n_components} is more than the {codes.shape[0]} codes to fit"
            )
        mixture = self._estimator(self.n_components)
        try:
            mixture.fit(codes)
        except ValueError as error:  # scikit-learn: a covariance that is not positive definite
            if "ill-defined empirical covariance" not in str(error):
                raise
            raise NonFiniteError(f"{self!r}: EM failed on {codes.shape[0]} codes: {error}") from error
        check_finite(repr(self), f"the end of EM ({mixture.n_iter_} iterations)",
                     {"lower bound": mixture.lower_bound_, "weights_": mixture.weights_, "means_": mixture.means_,
                      "covariances_": mixture.covariances_},
                     hint="Try fewer components or a larger reg_covar.")
        self._set_mixture(mixture)
        return self

    def __repr__(self) -> str:
        return f"GMMPrior(n_components={self.n_components}, covariance_type={self.covariance_type!r})"

    @classmethod
    def from_params(cls, weights, means, covariances, covariance_type: str = "diag") -> "GMMPrior":
        """A fitted prior with given parameters (for example a joint GMM-VAE's learned GMM).

        ``covariances`` follow scikit-learn's shapes: ``(C, D)`` variances for ``"diag"``,
        ``(C, D, D)`` for ``"full"``.
        """
        check_choice("covariance_type", covariance_type, ("diag", "full"))
        weights = np.asarray(weights, dtype=np.float64)
        means = np.asarray(means, dtype=np.float64)
        covariances = np.asarray(covariances, dtype=np.float64)
        check_finite(f"GMMPrior(n_components={len(weights)}, covariance_type={covariance_type!r})",
                     "construction from given parameters",
                     {"weights": weights, "means": means, "covariances": covariances})
        if not np.isclose(weights.sum(), 1.0) or np.any(weights < 0):
            raise ValueError("weights must be non-negative and sum to 1")
        prior = cls(n_components=len(weights), covariance_type=covariance_type)
        mixture = GaussianMixture(n_components=len(weights), covariance_type=covariance_type)
        mixture.weights_ = weights
        mixture.means_ = means
        mixture.covariances_ = covariances
        if covariance_type == "diag":
            mixture.precisions_cholesky_ = 1.0 / np.sqrt(covariances)
        else:
            chol = np.linalg.cholesky(covariances)
            eye = np.eye(means.shape[1])
            mixture.precisions_cholesky_ = np.stack(
                [np.linalg.solve(c, eye).T for c in chol]  # upper factor of the precision, as sklearn
            )
        mixture.converged_ = True
        mixture.n_iter_ = 0
        prior._set_mixture(mixture)
        return prior

    def _set_mixture(self, mixture: GaussianMixture) -> None:
        self.mixture_ = mixture
        self.weights_ = mixture.weights_
        self.means_ = mixture.means_
        self.covariances_ = mixture.covariances_
        self.dim_ = mixture.means_.shape[1]

    def _full_covariances(self) -> np.ndarray:
        c, d = self.n_components, self.dim_
        cov = self.covariances_
        if self.covariance_type == "full":
            return cov
        if self.covariance_type == "diag":
            return np.stack([np.diag(v) for v in cov])
        if self.covariance_type == "spherical":
            return np.stack([v * np.eye(d) for v in cov])
        return np.broadcast_to(cov, (c, d, d))  # tied

    def sample(self, n: int, seed: int | None = None) -> np.ndarray:
        """Draw ``n`` codes in random order (scikit-learn's ``sample`` groups them by component
        and always reuses the estimator's own ``random_state``; this draws from ``seed``)."""
        self._check_fitted()
        n = check_int("n", n, minimum=1)
        rng = np.random.default_rng(seed)
        components = rng.choice(len(self.weights_), size=n, p=self.weights_ / self.weights_.sum())
        chol = np.linalg.cholesky(self._full_covariances())
        eps = rng.standard_normal((n, self.dim_))
        return self.means_[components] + np.einsum("nij,nj->ni", chol[components], eps)

    def log_prob(self, codes, lengths=None) -> np.ndarray:
        self._check_fitted()
        return _per_sequence(self.mixture_.score_samples(_as_codes(codes)), lengths)

    def _state(self) -> dict[str, np.ndarray]:
        return _fitted_arrays("mixture_.", self.mixture_)

    def _load_state(self, arrays: dict[str, np.ndarray]) -> None:
        mixture = self._estimator(len(arrays["mixture_.weights_"]))
        _set_fitted_arrays("mixture_.", mixture, arrays)
        self._set_mixture(mixture)

    def predict(self, codes) -> np.ndarray:
        """Most probable component of each code."""
        self._check_fitted()
        return self.mixture_.predict(_as_codes(codes))
