"""Priors over latent codes, sharing one small protocol: ``fit(codes, lengths=None) -> self``,
``sample(n, seed)``, ``log_prob(codes, lengths=None)`` where the prior defines a density, and
``state_dict()`` / ``load_state_dict(state)``.

Step 2 of two-step learning fits any such prior on the autoencoder's codes. Fitted attributes
carry a trailing underscore, as in scikit-learn; the seed of fitting is the constructor's
``random_state`` in every prior. Codes follow hmmlearn's convention for sequences: one 2-d array
of all frames and, optionally, the length of each sequence. Priors over sequences
(``sequential = True``: the HMM, the GRU) model the order; the others treat frames as independent
rows, ignore ``lengths`` when fitting and, given ``lengths``, return one log-density per sequence
(the sum over its frames), so that a caller never branches on the kind of prior. One seed rule for
all: ``sample(n, seed)`` with an integer seed gives the same draws every time, ``seed=None`` fresh
ones. A fitted prior's ``state_dict()`` is a flat dict of tensors (what ``torch.save`` stores with
``weights_only``), and an unfitted prior of the same constructor arguments becomes the same fitted
prior with ``load_state_dict`` (the model cache stores priors so).
``tests/test_contracts.py`` checks every prior against this.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from twostep.core.checks import check_int
from twostep.core.profiling import phased
from twostep.core.seeds import stage_seed


def _as_codes(codes) -> np.ndarray:
    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim != 2:
        raise ValueError(f"codes must be a 2-d array (n_samples, latent_dim), got shape {codes.shape}")
    if not np.all(np.isfinite(codes)):
        raise ValueError("codes contain NaN or infinite values")
    return codes


def _sequences(codes, lengths=None) -> tuple[np.ndarray, list[int]]:
    """One (n_frames, D) array and the sequence lengths, hmmlearn's convention. ``codes`` is that
    array (with ``lengths``; ``None`` means one sequence), a list of (T_i, D) sequences, or an
    (n_sequences, T, D) array of sequences of equal length."""
    if isinstance(codes, np.ndarray) and codes.ndim == 3 and lengths is None:
        codes = list(codes)  # (n_sequences, T, D): sequences of equal length
    if isinstance(codes, (list, tuple)):
        if lengths is not None:
            raise ValueError("give either a list of sequences or one 2-d array with lengths, not both")
        seqs = [np.asarray(s, dtype=np.float64) for s in codes]
        if not seqs or any(s.ndim != 2 for s in seqs):
            raise ValueError("sequences must be a non-empty list of 2-d arrays (frames, latent_dim)")
        x, lengths = np.concatenate(seqs), [len(s) for s in seqs]
    else:
        x = np.asarray(codes, dtype=np.float64)
        if x.ndim != 2:
            raise ValueError(f"codes must be a 2-d array (n_frames, latent_dim), got shape {x.shape}")
        lengths = [len(x)] if lengths is None else [int(n) for n in lengths]
        if sum(lengths) != len(x) or any(n < 1 for n in lengths):
            raise ValueError(f"lengths must be positive and sum to the {len(x)} frames, got a sum of {sum(lengths)}")
    if not np.all(np.isfinite(x)):
        raise ValueError("codes contain NaN or infinite values")
    return x, lengths


def _per_sequence(rows: np.ndarray, lengths) -> np.ndarray:
    """Per-row log-densities ``rows`` as they are (``lengths`` None), or summed per sequence."""
    if lengths is None:
        return rows
    _, lengths = _sequences(np.zeros((len(rows), 1)), lengths)
    bounds = np.cumsum([0, *lengths])
    return np.array([rows[a:b].sum() for a, b in zip(bounds[:-1], bounds[1:], strict=True)])


def _iid_codes(codes, lengths) -> np.ndarray:
    """The frames of ``codes`` as rows (:func:`_as_codes`); ``lengths``, when given, checked
    against them and otherwise unused (a prior of independent rows has no order to learn)."""
    codes = _as_codes(codes)
    if lengths is not None:
        _sequences(codes, lengths)
    return codes


def _fitted_arrays(prefix: str, estimator) -> dict[str, np.ndarray]:
    """A fitted scikit-learn-style estimator's fitted attributes (names ending in ``_``) that are
    numbers or arrays, or tuples of them (``name#i``), as arrays keyed ``prefix + name``."""
    out = {}
    for name, value in vars(estimator).items():
        if not name.endswith("_") or name.startswith("_"):
            continue
        parts = value if isinstance(value, tuple) else (value,)
        arrays = [np.asarray(v) for v in parts]
        if not all(a.dtype.kind in "biuf" for a in arrays):
            continue  # not numbers (a monitor, a string): not part of the state
        if isinstance(value, tuple):
            out.update({f"{prefix}{name}#{i}": a for i, a in enumerate(arrays)})
        else:
            out[prefix + name] = arrays[0]
    return out


def _set_fitted_arrays(prefix: str, estimator, arrays: Mapping[str, np.ndarray]) -> None:
    """The inverse of :func:`_fitted_arrays`: set ``estimator``'s fitted attributes from ``arrays``
    (0-d arrays as Python numbers, ``name#i`` entries as one tuple)."""
    def value(a: np.ndarray):
        return a.item() if a.ndim == 0 else a

    tuples: dict[str, dict[int, np.ndarray]] = {}
    for key, array in arrays.items():
        if not key.startswith(prefix):
            continue
        name = key[len(prefix):]
        if "#" in name:
            base, index = name.split("#")
            tuples.setdefault(base, {})[int(index)] = value(array)
        else:
            setattr(estimator, name, value(array))
    for name, items in tuples.items():
        setattr(estimator, name, tuple(items[i] for i in range(len(items))))


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

    def fit(self, codes, lengths=None) -> "Prior":  # pragma: no cover - interface
        raise NotImplementedError

    def sample(self, n: int, seed: int | None = None) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def log_prob(self, codes, lengths=None) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} defines no density")

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The fitted prior as a flat dict of tensors: what sampling and densities need."""
        self._check_fitted()
        return {key: torch.as_tensor(np.asarray(value)).clone() for key, value in self._state().items()}

    def load_state_dict(self, state: Mapping[str, torch.Tensor]) -> "Prior":
        """Become the fitted prior whose :meth:`state_dict` is ``state``; returns self."""
        arrays = {key: value.detach().cpu().numpy() for key, value in state.items()}
        try:
            self._load_state(arrays)
        except KeyError as missing:
            raise KeyError(f"{type(self).__name__}.load_state_dict: the state has no {missing}") from None
        return self

    def _state(self) -> dict[str, np.ndarray]:  # pragma: no cover - interface
        raise NotImplementedError(f"{type(self).__name__} has no state_dict")

    def _load_state(self, arrays: dict[str, np.ndarray]) -> None:  # pragma: no cover - interface
        raise NotImplementedError(f"{type(self).__name__} has no load_state_dict")

    def sample_segments(self, n: int, segment_length: int, seed: int = 0) -> np.ndarray:
        """``n`` codes drawn as independent sequences of ``segment_length`` codes (the last one cut
        short), each started afresh; segment ``j`` is seeded with the ``segment`` stage seed ``j`` of ``seed``. For a sequence
        prior fitted on separate short files (an HMM may learn absorbing end states, in which one
        long sample eventually stays) sampling segments of a file's length avoids that; for an
        i.i.d. prior it is just ``n`` draws."""
        n = check_int("n", n, minimum=1)
        segment_length = check_int("segment_length", segment_length, minimum=1)
        segments = [self.sample(segment_length, seed=stage_seed(seed, "segment", j)) for j in range(-(-n // segment_length))]
        return np.concatenate(segments)[:n]

    def _check_fitted(self) -> None:
        if not hasattr(self, "dim_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit(codes) first")


class StandardNormalPrior(Prior):
    """The VAE's fixed N(0, I) prior. ``fit`` only records the latent size."""

    def __init__(self, dim: int | None = None):
        if dim is not None:
            self.dim_ = check_int("dim", dim, minimum=1)

    def fit(self, codes, lengths=None) -> "StandardNormalPrior":
        self.dim_ = _iid_codes(codes, lengths).shape[1]
        return self

    def sample(self, n: int, seed: int | None = None) -> np.ndarray:
        self._check_fitted()
        n = check_int("n", n, minimum=1)
        return np.random.default_rng(seed).standard_normal((n, self.dim_))

    def log_prob(self, codes, lengths=None) -> np.ndarray:
        self._check_fitted()
        codes = _as_codes(codes)
        return _per_sequence(-0.5 * (codes**2).sum(1) - 0.5 * self.dim_ * np.log(2 * np.pi), lengths)

    def _state(self) -> dict[str, np.ndarray]:
        return {"dim_": np.asarray(self.dim_)}

    def _load_state(self, arrays: dict[str, np.ndarray]) -> None:
        self.dim_ = int(arrays["dim_"])
