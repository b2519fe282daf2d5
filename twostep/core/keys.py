"""Model keys: the names under which the Fig. 3 chapters (and the claims that read them) record a
model's results and metrics, ``<family>_<variant>_<k>``:

- ``two_step_<covariance>_<k>``: autoencoder + a GMM of ``k`` components fitted on its codes
  (``two_step_diag_10``);
- ``joint_<run>_<k>``: a joint GMM-VAE of ``k`` components, ``run`` one of :data:`JOINT_RUNS`
  (``joint_vade_10``).

Metrics are ``<key>.<metric>`` (``two_step_diag_10.fid_mnist_cnn``). Every module that writes or
reads such a name builds it with :func:`two_step` / :func:`joint` and reads it with
:meth:`ModelKey.parse`, so a renamed key fails where it is built, not as a claim marked "not run".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

TWO_STEP, JOINT = "two_step", "joint"
COVARIANCES = ("diag", "full", "spherical", "tied")
# The joint runs a chapter may train, and their names for a reader: every one but ``random``
# starts from the two-step model (the authors' baseline, the same until converged, VaDE's protocol).
JOINT_RUNS = {"two_step": "joint from two-step", "converged": "joint from two-step, until converged",
              "random": "joint from random", "vade": "joint, VaDE protocol"}
JOINT_FROM_TWO_STEP = tuple(run for run in JOINT_RUNS if run != "random")

_KEY = re.compile(r"^(?P<family>two_step|joint)_(?P<variant>[a-z_]+?)_(?P<k>\d+)$")


@dataclass(frozen=True)
class ModelKey:
    """One model of a component sweep or a joint run: ``str(key)`` is its name in results and metrics."""

    family: str
    variant: str
    k: int

    def __post_init__(self):
        allowed = COVARIANCES if self.family == TWO_STEP else tuple(JOINT_RUNS) if self.family == JOINT else None
        if allowed is None:
            raise ValueError(f"model family {self.family!r} is not allowed: {TWO_STEP!r} or {JOINT!r}")
        if self.variant not in allowed:
            raise ValueError(f"{self.family} variant {self.variant!r} is not allowed: one of {', '.join(allowed)}")
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            raise ValueError(f"component count k={self.k!r} is not allowed: an integer >= 1")

    def __str__(self) -> str:
        return f"{self.family}_{self.variant}_{self.k}"

    def metric(self, name: str) -> str:
        """The metric ``name`` of this model: ``<key>.<name>``."""
        return f"{self}.{name}"

    @property
    def label(self) -> str:
        """The reader's name: "two-step diag GMM, 10 comp.", "joint, VaDE protocol, 10 comp."."""
        if self.family == TWO_STEP:
            return f"two-step {self.variant} GMM, {self.k} comp."
        return f"{JOINT_RUNS[self.variant]}, {self.k} comp."

    @classmethod
    def parse(cls, text: str) -> ModelKey:
        """The key named ``text`` (a metric's model part); ValueError for any other name."""
        match = _KEY.match(text)
        if not match:
            raise ValueError(f"{text!r} is not a model key (two_step_<covariance>_<k> or joint_<run>_<k>)")
        return cls(match["family"], match["variant"], int(match["k"]))


def two_step(covariance: str, k: int) -> ModelKey:
    return ModelKey(TWO_STEP, covariance, k)


def joint(run: str, k: int) -> ModelKey:
    return ModelKey(JOINT, run, k)


def component_counts(names: Iterable[str], family: str, variant: str, metric: str | None = None) -> list[int]:
    """The sorted ``k`` of the keys of ``family`` and ``variant`` among ``names`` (model keys or
    metric names ``<key>.<metric>``; with ``metric``, only the names of that metric count)."""
    ks = set()
    for name in names:
        model, dot, rest = name.partition(".")
        if metric is not None and (not dot or rest != metric):
            continue
        try:
            key = ModelKey.parse(model)
        except ValueError:
            continue
        if key.family == family and key.variant == variant:
            ks.add(key.k)
    return sorted(ks)


def models_of(metrics: Mapping[str, float]) -> list[ModelKey]:
    """Every model key that names a metric of ``metrics``, sorted by name."""
    keys = set()
    for name in metrics:
        try:
            keys.add(ModelKey.parse(name.partition(".")[0]))
        except ValueError:
            continue
    return sorted(keys, key=str)
