"""Density estimators from scikit-learn as latent priors: a Dirichlet-process (Bayesian) Gaussian
mixture, and a kernel density estimate whose bandwidth is chosen on held-out codes."""

from __future__ import annotations

import numpy as np
from sklearn.mixture import BayesianGaussianMixture
from sklearn.neighbors import KernelDensity

from twostep.core.checks import check_choice, check_float, check_int
from twostep.priors.base import Prior, _as_codes, _iid_codes, _per_sequence
from twostep.priors.gmm import GMMPrior


class BayesianGMMPrior(GMMPrior):
    """A Gaussian mixture with a Dirichlet-process prior on its weights (scikit-learn's
    ``BayesianGaussianMixture``, variational inference): ``n_components`` is an upper bound, and
    components the data do not need get weights near zero. ``active_components_`` counts those
    with weight above 1%. Sampling and densities are :class:`GMMPrior`'s."""

    def __init__(self, n_components: int = 50, covariance_type: str = "diag", *,
                 weight_concentration_prior: float | None = None, max_iter: int = 300, tol: float = 1e-3,
                 reg_covar: float = 1e-6, random_state: int | None = 0):
        super().__init__(n_components, covariance_type, max_iter=max_iter, tol=tol, reg_covar=reg_covar,
                         random_state=random_state)
        check_choice("covariance_type", covariance_type, ("diag", "full"))
        if weight_concentration_prior is not None:
            check_float("weight_concentration_prior", weight_concentration_prior, minimum=0.0, strict_minimum=True)
        self.weight_concentration_prior = weight_concentration_prior

    def _estimator(self, n_components: int) -> BayesianGaussianMixture:
        return BayesianGaussianMixture(
            n_components=n_components, covariance_type=self.covariance_type,
            weight_concentration_prior_type="dirichlet_process",
            weight_concentration_prior=self.weight_concentration_prior, max_iter=self.max_iter, tol=self.tol,
            reg_covar=self.reg_covar, init_params="k-means++", random_state=self.random_state)

    def fit(self, codes, lengths=None) -> "BayesianGMMPrior":
        codes = _iid_codes(codes, lengths)
        mixture = self._estimator(min(self.n_components, len(codes)))
        mixture.fit(codes)
        self._set_mixture(mixture)
        return self

    def _set_mixture(self, mixture: BayesianGaussianMixture) -> None:
        super()._set_mixture(mixture)
        self.n_components_ = len(mixture.weights_)
        self.active_components_ = int(np.sum(mixture.weights_ > 0.01))

    def _full_covariances(self) -> np.ndarray:
        if self.covariance_type == "full":
            return self.covariances_
        return np.stack([np.diag(v) for v in self.covariances_])

    def __repr__(self) -> str:
        return f"BayesianGMMPrior(n_components={self.n_components}, covariance_type={self.covariance_type!r})"


class KDEPrior(Prior):
    """A Gaussian kernel density estimate (scikit-learn's ``KernelDensity``) on the codes, each
    standardised by its dimension's standard deviation. The bandwidth is the one of ``bandwidths``
    (in standard deviations) with the best mean log-likelihood of a random ``validation_fraction``
    of the codes under a KDE of the rest; the final KDE uses every code. After ``fit``:
    ``bandwidth_``, ``validation_loglik_`` (per bandwidth), ``kde_``, ``scale_``, ``dim_``."""

    def __init__(self, bandwidths=(0.05, 0.1, 0.2, 0.3, 0.5, 0.8), *, validation_fraction: float = 0.2,
                 max_validation: int = 2000, random_state: int = 0):
        if not len(bandwidths) or any(b <= 0 for b in bandwidths):
            raise ValueError(f"bandwidths={bandwidths!r} is not allowed: give one or more positive values")
        self.bandwidths = tuple(float(b) for b in bandwidths)
        self.validation_fraction = check_float("validation_fraction", validation_fraction, minimum=0.0,
                                               strict_minimum=True, maximum=0.5)
        self.max_validation = check_int("max_validation", max_validation, minimum=1)
        self.random_state = random_state

    def fit(self, codes, lengths=None) -> "KDEPrior":
        codes = _iid_codes(codes, lengths)
        self.scale_ = codes.std(0) + 1e-12
        z = codes / self.scale_
        order = np.random.default_rng(self.random_state).permutation(len(z))
        n_val = max(1, min(self.max_validation, int(self.validation_fraction * len(z))))
        held, rest = z[order[:n_val]], z[order[n_val:]]
        self.validation_loglik_ = {
            b: float(KernelDensity(bandwidth=b).fit(rest).score_samples(held).mean()) for b in self.bandwidths}
        self.bandwidth_ = max(self.validation_loglik_, key=self.validation_loglik_.get)
        self.kde_ = KernelDensity(bandwidth=self.bandwidth_).fit(z)
        self.dim_ = codes.shape[1]
        return self

    def sample(self, n: int, seed: int | None = None) -> np.ndarray:
        self._check_fitted()
        n = check_int("n", n, minimum=1)
        rng = np.random.default_rng(seed)
        data = self.kde_.tree_.data
        rows = np.asarray(data)[rng.integers(0, len(data), n)]
        return (rows + self.bandwidth_ * rng.standard_normal(rows.shape)) * self.scale_

    def log_prob(self, codes, lengths=None) -> np.ndarray:
        self._check_fitted()
        return _per_sequence(self.kde_.score_samples(_as_codes(codes) / self.scale_) - np.log(self.scale_).sum(), lengths)

    def _state(self) -> dict[str, np.ndarray]:
        return {"data": np.asarray(self.kde_.tree_.data), "scale_": self.scale_, "bandwidth_": np.asarray(self.bandwidth_),
                "validation_bandwidths": np.asarray(list(self.validation_loglik_)),
                "validation_loglik": np.asarray(list(self.validation_loglik_.values()))}

    def _load_state(self, arrays: dict[str, np.ndarray]) -> None:
        self.scale_, self.bandwidth_ = arrays["scale_"], float(arrays["bandwidth_"])
        self.validation_loglik_ = dict(zip(arrays["validation_bandwidths"].tolist(),
                                           arrays["validation_loglik"].tolist(), strict=True))
        self.kde_ = KernelDensity(bandwidth=self.bandwidth_).fit(arrays["data"])  # the same tree, rebuilt
        self.dim_ = arrays["data"].shape[1]

    def __repr__(self) -> str:
        return f"KDEPrior(bandwidths={self.bandwidths})"
