"""HMM priors over sequences of latent codes (paper section 4.2): hmmlearn's Gaussian HMM fitted
by a guarded Baum-Welch."""

from __future__ import annotations

import copy

import numpy as np
from hmmlearn.base import ConvergenceMonitor
from hmmlearn.hmm import GaussianHMM
from hmmlearn.stats import log_multivariate_normal_density
from sklearn.cluster import KMeans

from twostep.core.checks import check_choice, check_float, check_int
from twostep.core.guards import NonFiniteError, check_finite
from twostep.core.seeds import stage_seed
from twostep.priors.base import Prior, _sequences


class _Monitor(ConvergenceMonitor):
    """hmmlearn's convergence monitor, with two changes. Converged means that the log-likelihood
    changed by less than ``tol`` (hmmlearn also calls reaching ``n_iter`` converged), and never in
    the two iterations around a re-seeding of dead states: a re-seed moves parameters outside EM,
    so the log-likelihood may fall once, which is neither convergence nor a warning."""

    def __init__(self, tol, n_iter, verbose):
        super().__init__(tol, n_iter, verbose)
        self.reseeded_at: list[int] = []

    def _reset(self):
        super()._reset()
        self.reseeded_at = []

    def _after_reseed(self) -> bool:
        return bool(self.reseeded_at) and self.reseeded_at[-1] >= self.iter - 2

    def report(self, log_prob):
        if self.reseeded_at and self.reseeded_at[-1] == self.iter - 1:
            self.history.append(log_prob)  # the first log-likelihood of re-seeded parameters
            self.iter += 1
            return
        super().report(log_prob)

    @property
    def converged(self):
        return (len(self.history) >= 2 and not self._after_reseed()
                and self.history[-1] - self.history[-2] < self.tol)


class _GuardedGaussianHMM(GaussianHMM):
    """hmmlearn's ``GaussianHMM`` (diagonal covariances) with a guarded Baum-Welch loop.

    * A non-finite log-likelihood or parameter raises :class:`~twostep.core.guards.NonFiniteError`
      naming the EM iteration, instead of running on with NaN.
    * **Dead states are re-seeded.** A state whose posterior mass falls below ``min_state_frames``
      frames has no data to estimate it: hmmlearn's M-step divides zero by zero (NaN means) and
      leaves its transition row empty. Such a state is moved, as scikit-learn's k-means moves an
      empty cluster, onto the frame that the live states explain worst (deterministic: no random
      draw), with the mean variance of the live states, uniform transitions out of it, and a small
      probability ``1e-3 / n_states`` of entering it from every state and at the start.
    """

    def __init__(self, n_components: int = 1, *, min_state_frames: float = 1e-3, model_name: str = "HMM", **kwargs):
        super().__init__(n_components, **kwargs)
        self.min_state_frames = min_state_frames
        self.model_name = model_name
        self.monitor_ = _Monitor(self.tol, self.n_iter, self.verbose)

    def fit(self, X, lengths=None):
        self._x = X
        self.n_reseeded_ = 0
        try:
            return super().fit(X, lengths)
        finally:
            del self._x

    def _step(self) -> str:
        return f"EM iteration {self.monitor_.iter + 1} of {self.n_iter}"

    def _compute_lower_bound(self, curr_logprob):
        check_finite(self.model_name, self._step(), {"log-likelihood": curr_logprob}, hint=_HMM_HINT)
        return super()._compute_lower_bound(curr_logprob)

    def _do_mstep(self, stats):
        dead = np.flatnonzero(stats["post"] < self.min_state_frames)
        with np.errstate(divide="ignore", invalid="ignore"):  # dead states: 0 / 0, replaced below
            super()._do_mstep(stats)
        if len(dead):
            self._reseed(dead)
        check_finite(self.model_name, self._step(),
                     {"startprob_": self.startprob_, "transmat_": self.transmat_, "means_": self.means_,
                      "covars_": self._covars_}, hint=_HMM_HINT)

    def _reseed(self, dead: np.ndarray) -> None:
        k = self.n_components
        live = np.setdiff1d(np.arange(k), dead)
        if not len(live):
            raise NonFiniteError(f"{self.model_name}: every state lost its data at {self._step()}. {_HMM_HINT}")
        x = self._x
        fit = log_multivariate_normal_density(x, self.means_[live], self._covars_[live], "diag").max(1)
        worst = np.argsort(fit, kind="stable")[: len(dead)]
        eps = 1e-3 / k
        means, covars = self.means_.copy(), self._covars_.copy()
        means[dead] = x[worst]
        covars[dead] = covars[live].mean(0)
        transmat = self.transmat_.copy()
        transmat[dead] = 1.0 / k
        transmat[:, dead] = np.maximum(transmat[:, dead], eps)
        startprob = self.startprob_.copy()
        startprob[dead] = np.maximum(startprob[dead], eps)
        self.means_, self._covars_ = means, covars
        self.transmat_ = transmat / transmat.sum(1, keepdims=True)
        self.startprob_ = startprob / startprob.sum()
        self.n_reseeded_ += len(dead)
        self.monitor_.reseeded_at.append(self.monitor_.iter)


# How Baum-Welch starts (HMMPrior's ``init``): "hmmlearn" is hmmlearn's own start (k-means means,
# the data's variance for every state, uniform start and transition probabilities); "kmeans" takes
# every parameter from the same k-means partition of the frames (see kmeans_start).
HMM_INITS = {"hmmlearn": "hmmlearn's start (the authors')", "kmeans": "the k-means partition start"}
# The pseudo-count (in frames) added to every start and transition count of the "kmeans" start, so
# that no transition starts at probability 0 (Baum-Welch could never make it possible again).
TRANSITION_PSEUDOCOUNT = 1e-2


def kmeans_start(x: np.ndarray, lengths: list[int], n_states: int, *, random_state=None, min_covar: float = 1e-3,
                 n_init: int = 10) -> dict[str, np.ndarray]:
    """Every HMM parameter from one k-means partition of the frames ``x`` (sequences of
    ``lengths``), the start of segmental k-means (Juang & Rabiner 1990): each state's mean and
    diagonal variance (plus ``min_covar``) are those of its cluster (the data's variance for a
    cluster of one frame), its start probability the share of sequences whose first frame is in
    it, its transition probabilities the counts of consecutive frames from its cluster to each
    cluster; every count gets ``TRANSITION_PSEUDOCOUNT``. k-means is scikit-learn's, with
    hmmlearn's settings (``n_init`` runs, ``random_state``). Returns ``startprob``, ``transmat``,
    ``means`` and ``variances``."""
    labels = KMeans(n_clusters=n_states, n_init=n_init, random_state=random_state).fit_predict(x)
    sizes = np.bincount(labels, minlength=n_states)
    means = np.zeros((n_states, x.shape[1]))
    np.add.at(means, labels, x)
    means /= np.maximum(sizes, 1)[:, None]
    variances = np.zeros_like(means)
    np.add.at(variances, labels, (x - means[labels]) ** 2)
    variances /= np.maximum(sizes, 1)[:, None]
    variances[sizes < 2] = x.var(0)
    starts = np.cumsum([0, *lengths[:-1]])
    startprob = np.bincount(labels[starts], minlength=n_states) + TRANSITION_PSEUDOCOUNT
    transmat = np.full((n_states, n_states), TRANSITION_PSEUDOCOUNT)
    following = np.ones(len(x), dtype=bool)
    following[starts] = False  # a sequence's first frame follows no frame
    np.add.at(transmat, (labels[np.flatnonzero(following) - 1], labels[following]), 1.0)
    return {"startprob": startprob / startprob.sum(), "transmat": transmat / transmat.sum(1, keepdims=True),
            "means": means, "variances": variances + min_covar}


_HMM_HINT = "Try fewer states (n_states), more frames, or a larger variance floor (min_covar)."


class HMMPrior(Prior):
    """A Gaussian HMM with diagonal covariances over code sequences, fitted by Baum-Welch (hmmlearn).

    ``fit(codes, lengths)`` takes hmmlearn's convention (one (n_frames, D) array and the length of
    each sequence; a list of (T_i, D) sequences is accepted too); ``sample(n, seed)`` draws one
    sequence of ``n`` frames; ``log_prob`` returns each sequence's log-likelihood.
    ``implementation="scaling"`` is hmmlearn's faster forward-backward, ``"log"`` its log-space one.

    Baum-Welch starts (``init``) from hmmlearn's initialisation (``"hmmlearn"``: k-means means, the
    data's variances, uniform start and transition probabilities) or from every parameter of the
    same k-means partition (``"kmeans"``: each cluster's mean and variance, start and transition
    probabilities counted from the cluster labels; :func:`kmeans_start`). It keeps a variance floor
    ``min_covar``, re-seeds states that receive less than ``min_state_frames`` frames of posterior
    mass (see :class:`_GuardedGaussianHMM`),
    and raises :class:`~twostep.core.guards.NonFiniteError` on a non-finite log-likelihood or parameter.
    With ``n_init`` > 1, Baum-Welch runs that many times from different initialisations (the first
    seeded with ``random_state`` itself, so ``n_init=1`` is one plain fit) and the fit with the
    highest training log-likelihood is kept, as scikit-learn's ``GaussianMixture(n_init=...)`` does.
    After ``fit``: ``model_``, ``dim_``, ``n_iter_``, ``converged_`` (the log-likelihood changed by
    less than ``tol`` before ``n_iter``), ``n_reseeded_`` (dead states re-seeded in all), and
    ``init_log_likelihoods_`` (the final training log-likelihood of every restart).

    Parameters
    ----------
    n_states : int
        Hidden states.
    n_iter, tol : int, float
        Baum-Welch stops after ``n_iter`` iterations or when the log-likelihood changes by less than ``tol``.
    min_covar : float
        Floor of every variance.
    min_state_frames : float
        A state with less posterior mass than this many frames is re-seeded.
    implementation : {"scaling", "log"}
        hmmlearn's forward-backward.
    n_init : int
        Baum-Welch runs from different starts; the best is kept.
    init : {"hmmlearn", "kmeans"}
        Where Baum-Welch starts.
    random_state : int or None
        Seed of the starts (restart ``i`` derives its own).
    """

    sequential = True

    def __init__(self, n_states: int = 100, *, n_iter: int = 100, tol: float = 1e-2, min_covar: float = 1e-3,
                 min_state_frames: float = 1e-3, implementation: str = "scaling", n_init: int = 1,
                 init: str = "hmmlearn", random_state: int | None = 0):
        self.n_states = check_int("n_states", n_states, minimum=1)
        self.n_init = check_int("n_init", n_init, minimum=1)
        self.n_iter = check_int("n_iter", n_iter, minimum=1)
        self.tol = check_float("tol", tol, minimum=0.0)
        self.min_covar = check_float("min_covar", min_covar, minimum=0.0)
        self.min_state_frames = check_float("min_state_frames", min_state_frames, minimum=0.0)
        self.implementation = check_choice("implementation", implementation, ("scaling", "log"))
        self.init = check_choice("init", init, HMM_INITS)
        self.random_state = random_state

    def __repr__(self) -> str:
        return f"HMMPrior(n_states={self.n_states})"

    def _model(self, restart: int = 0) -> _GuardedGaussianHMM:
        random_state = self.random_state
        if restart and random_state is not None:  # restart i > 0: its own seed, drawn from (random_state, i)
            random_state = stage_seed(random_state, "restart", restart)
        return _GuardedGaussianHMM(self.n_states, covariance_type="diag", n_iter=self.n_iter, tol=self.tol,
                                   min_covar=self.min_covar, random_state=random_state,
                                   implementation=self.implementation, min_state_frames=self.min_state_frames,
                                   model_name=repr(self))

    def fit(self, codes, lengths=None) -> "HMMPrior":
        x, lengths = _sequences(codes, lengths)
        if len(x) < self.n_states:
            raise ValueError(f"n_states={self.n_states} is more than the {len(x)} frames to fit")
        fits = [self._start(self._model(i), x, lengths).fit(x, lengths) for i in range(self.n_init)]
        self.init_log_likelihoods_ = [float(m.monitor_.history[-1]) for m in fits]
        self.model_ = fits[int(np.argmax(self.init_log_likelihoods_))]
        self.dim_ = x.shape[1]
        return self

    def _start(self, model: _GuardedGaussianHMM, x: np.ndarray, lengths: list[int]) -> _GuardedGaussianHMM:
        """``model`` with its starting parameters set, for ``init="kmeans"`` (hmmlearn sets its own)."""
        if self.init == "kmeans":
            start = kmeans_start(x, lengths, self.n_states, random_state=model.random_state, min_covar=self.min_covar)
            model.init_params = ""
            model.n_features = x.shape[1]
            model.startprob_, model.transmat_ = start["startprob"], start["transmat"]
            model.means_, model.covars_ = start["means"], start["variances"]
        return model

    @classmethod
    def from_params(cls, startprob, transmat, means, variances, **kwargs) -> "HMMPrior":
        """A fitted prior with given parameters (for example a jointly trained HMM); non-finite
        parameters raise :class:`~twostep.core.guards.NonFiniteError`."""
        prior = cls(len(startprob), **kwargs)
        prior._set_params(startprob, transmat, means, variances)
        return prior

    def _set_params(self, startprob, transmat, means, variances) -> None:
        values = {"startprob": startprob, "transmat": transmat, "means": means, "variances": variances}
        check_finite(repr(self), "construction from given parameters", values)
        model = self._model()
        model.n_features = np.asarray(means).shape[1]
        model.startprob_ = np.asarray(startprob, dtype=np.float64)
        model.transmat_ = np.asarray(transmat, dtype=np.float64)
        model.means_ = np.asarray(means, dtype=np.float64)
        model.covars_ = np.asarray(variances, dtype=np.float64)
        self.model_ = model
        self.dim_ = model.n_features

    def _state(self) -> dict[str, np.ndarray]:
        state = {"startprob_": self.model_.startprob_, "transmat_": self.model_.transmat_,
                 "means_": self.model_.means_, "variances_": self.variances_}
        if hasattr(self, "init_log_likelihoods_"):
            state["init_log_likelihoods_"] = np.asarray(self.init_log_likelihoods_)
        return state

    def _load_state(self, arrays: dict[str, np.ndarray]) -> None:
        """The fitted parameters; Baum-Welch's record (iterations, convergence) is not kept."""
        self._set_params(arrays["startprob_"], arrays["transmat_"], arrays["means_"], arrays["variances_"])
        if "init_log_likelihoods_" in arrays:
            self.init_log_likelihoods_ = arrays["init_log_likelihoods_"].tolist()

    @property
    def variances_(self) -> np.ndarray:
        return self.model_._covars_

    def sample(self, n: int, seed: int | None = None) -> np.ndarray:
        self._check_fitted()
        x, _ = self.model_.sample(check_int("n", n, minimum=1), random_state=np.random.RandomState(seed))
        return x

    def log_prob(self, codes, lengths=None) -> np.ndarray:
        """The log-likelihood of each sequence (same conventions as :meth:`fit`)."""
        self._check_fitted()
        x, lengths = _sequences(codes, lengths)
        bounds = np.cumsum([0, *lengths])
        return np.array([self._score(x[a:b]) for a, b in zip(bounds[:-1], bounds[1:])])

    def _score(self, x: np.ndarray) -> float:
        """hmmlearn's score of one sequence; where the scaled forward pass underflows (a frame far
        from every state reachable from the previous ones, as held-out frames can be), the
        log-space pass, which cannot (the same value where both run)."""
        try:
            return self.model_.score(x)
        except ValueError as error:
            if "underflow" not in str(error) or self.model_.implementation == "log":
                raise
        model = copy.copy(self.model_)
        model.implementation = "log"
        return model.score(x)

    @property
    def n_iter_(self) -> int:
        """Baum-Welch iterations run (0 for a prior built with :meth:`from_params`)."""
        return int(self.model_.monitor_.iter)

    @property
    def converged_(self) -> bool:
        """Whether Baum-Welch stopped because the log-likelihood changed by less than ``tol``
        (reaching ``n_iter`` is not convergence; a NaN log-likelihood raises before this)."""
        return bool(self.model_.monitor_.converged)

    @property
    def n_reseeded_(self) -> int:
        return int(getattr(self.model_, "n_reseeded_", 0))

    @property
    def log_likelihood_(self) -> float:
        """The training log-likelihood at Baum-Welch's last iteration (of the restart kept; NaN for a
        prior built with :meth:`from_params`)."""
        history = self.model_.monitor_.history
        return float(history[-1]) if history else float("nan")

    @property
    def mean_state_frames_(self) -> float:
        """How many frames a state lasts on average: 1 / (1 - the mean self-transition probability)."""
        return float(1 / (1 - np.diag(self.model_.transmat_).mean()))
