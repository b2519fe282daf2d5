"""Fail loudly on non-finite numbers: every fit and every training loop of the library calls these.

A NaN that slips through one step (a Baum-Welch M-step dividing by a dead state's zero posterior
mass, a loss that overflows) poisons everything downstream, often far from its cause: a sampler
that raises on ``startprob_`` three cells later, or a table of NaN scores. The library checks
objectives and fitted parameters where they are produced and raises :class:`NonFiniteError`, whose
message names the model, the step (EM iteration, epoch, batch) and what became non-finite.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import torch


class NonFiniteError(FloatingPointError):
    """A fit or a training step produced NaN or infinite values."""


def _bad_count(value) -> tuple[int, int]:
    """(number of non-finite entries, number of entries) of a scalar, array or tensor."""
    if isinstance(value, torch.Tensor):
        value = value.detach()
        return int((~torch.isfinite(value)).sum()), value.numel()
    if isinstance(value, (int, float)):
        return (0 if math.isfinite(value) else 1), 1
    array = np.asarray(value, dtype=np.float64)
    return int((~np.isfinite(array)).sum()), array.size


def check_finite(model: str, step: str, values: Mapping[str, object], hint: str = "") -> None:
    """Raise :class:`NonFiniteError` if any of ``values`` (name -> scalar, array or tensor) holds
    NaN or infinity. ``model`` and ``step`` name where it happened, e.g. ``"HMMPrior(n_states=100)"``
    and ``"EM iteration 12"``; ``hint`` is appended to the message (what to try)."""
    bad = []
    for name, value in values.items():
        n_bad, n = _bad_count(value)
        if n_bad:
            bad.append(f"{name} ({n_bad} of {n} values)" if n > 1 else f"{name} (= {float(np.asarray(value))})")
    if bad:
        message = f"{model}: non-finite {', '.join(bad)} at {step}"
        raise NonFiniteError(f"{message}. {hint}".strip() if hint else message)


def check_module_finite(model: str, step: str, module: torch.nn.Module, hint: str = "") -> None:
    """:func:`check_finite` on every parameter of a torch module (named as in ``named_parameters``)."""
    check_finite(model, step, {f"parameter {name}": p for name, p in module.named_parameters()}, hint)
