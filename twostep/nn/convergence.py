"""When a trained model counts as converged: one rule, used by every chapter and the claims page.

A model is **converged** when its held-out objective (a loss: lower is better) improved by less than
``CONVERGENCE_TOLERANCE`` (relative) over its last ``CONVERGENCE_WINDOW`` of epochs, and over at
least ``CONVERGENCE_MIN_WINDOW`` epochs (a short run's last tenth is one epoch, whose change is
mostly noise: the VaDE-protocol run on MNIST "converged" after 10 epochs with a one-epoch window
while still gaining 1% every three epochs): the best value inside the window against the best
value before it. A curve that got worse in its
last epochs did not improve either, so it counts as converged (it may be over-fitting; the curve
shows it). A run of fewer than ``MIN_JUDGED_EPOCHS`` epochs (a full window and one epoch before it) is
not judged, and does not count as converged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from twostep.core.validation import check_float, check_int

CONVERGENCE_TOLERANCE = 0.005  # relative improvement of the held-out objective over the window
CONVERGENCE_WINDOW = 0.1  # the last tenth of the epochs
CONVERGENCE_MIN_WINDOW = 3  # epochs, at least
# A shorter curve has no full window with an epoch before it: it is not judged (one noisy epoch
# that got worse would otherwise count as converged).
MIN_JUDGED_EPOCHS = CONVERGENCE_MIN_WINDOW + 1


def window_epochs(epochs: int, fraction: float = CONVERGENCE_WINDOW, minimum: int = CONVERGENCE_MIN_WINDOW) -> int:
    """How many of ``epochs`` the window covers: ``ceil(fraction * epochs)``, at least ``minimum``
    (and never all of them: one epoch at least stays before the window)."""
    return max(1, min(max(minimum, math.ceil(fraction * epochs)), epochs - 1))


@dataclass(frozen=True)
class Convergence:
    """The verdict of :func:`convergence` on one curve."""

    converged: bool
    epochs: int
    window: int
    improvement: float  # relative improvement over the window (negative: it got worse); NaN under 2 epochs
    tolerance: float

    @property
    def judged(self) -> bool:
        return self.epochs >= MIN_JUDGED_EPOCHS

    def describe(self) -> str:
        if not self.judged:
            return (f"not judged ({self.epochs} epoch{'' if self.epochs == 1 else 's'}; the rule needs "
                    f"{MIN_JUDGED_EPOCHS})")
        verdict = "converged" if self.converged else "not converged"
        return (f"{verdict}: improved {100 * self.improvement:+.2f}% over its last {self.window} of {self.epochs} "
                f"epochs (tolerance {100 * self.tolerance:.1f}%)")


def convergence(curve: Sequence[float], *, tolerance: float = CONVERGENCE_TOLERANCE,
                window: float = CONVERGENCE_WINDOW) -> Convergence:
    """Judge a held-out objective curve (one value per epoch, lower is better) by the rule above."""
    tolerance = check_float("tolerance", tolerance, minimum=0.0)
    window = check_float("window", window, minimum=0.0, strict_minimum=True)
    values = [float(v) for v in curve]
    if any(not math.isfinite(v) for v in values):
        raise ValueError("the curve has non-finite values")
    n = len(values)
    if n < 2:
        return Convergence(False, n, 0, float("nan"), tolerance)
    w = window_epochs(n, window)
    before, inside = min(values[:-w]), min(values[-w:])
    improvement = (before - inside) / max(abs(before), 1e-12)
    return Convergence(n >= MIN_JUDGED_EPOCHS and improvement < tolerance, n, w, improvement, tolerance)


class UntilConverged:
    """A stop rule for :func:`twostep.nn.training.train_model`: stop once the validation curve
    counts as converged (by :func:`convergence`) after at least ``min_epochs`` epochs. The window
    is a tenth of the epochs run so far, so a run stopped at epoch ``e`` passes the same rule as a
    run of ``e`` epochs judged afterwards."""

    def __init__(self, min_epochs: int = MIN_JUDGED_EPOCHS, **rule):
        self.min_epochs = check_int("min_epochs", min_epochs, minimum=2)
        self.rule = rule

    def __call__(self, history) -> bool:
        curve = history.validation
        if not curve:
            raise ValueError("UntilConverged needs a validation set (train_model(..., validation=...))")
        return len(curve) >= self.min_epochs and convergence(curve, **self.rule).converged
