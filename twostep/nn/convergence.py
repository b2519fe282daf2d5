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

import numpy as np

from twostep.core.checks import check_float, check_int

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
    """Judge a held-out objective curve (one value per epoch, lower is better) by the rule above.

    Parameters
    ----------
    curve : sequence of float
        The held-out objective after each epoch.
    tolerance : float
        Relative improvement over the window below which the curve has converged.
    window : float
        Share of the epochs in the window (at least ``CONVERGENCE_MIN_WINDOW`` epochs).

    Returns
    -------
    Convergence
        The verdict, the window and the improvement it measured.
    """
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


@dataclass(frozen=True)
class Extrapolation:
    """What a curve that stopped before converging still had to go, by :func:`extrapolate`."""

    last_improvement: float  # relative improvement of the last epoch (per epoch; negative: it got worse)
    ratio: float  # fitted ratio of successive epochs' improvements (NaN: too short or not decaying)
    epochs_to_go: float  # more epochs until the rule holds, were the improvements to keep decaying (NaN: unknown)
    remaining: float  # relative improvement still to come at that decay, in total (NaN: unknown)

    def describe(self) -> str:
        text = f"last epoch {100 * self.last_improvement:+.2f}%"
        if math.isfinite(self.epochs_to_go):
            text += f", about {self.epochs_to_go:.0f} more epochs to converge ({100 * self.remaining:.1f}% still to gain)"
        return text


# Beyond this many extra epochs an extrapolation says "unknown": the decay is too slow to trust.
MAX_EXTRAPOLATED_EPOCHS = 1000


def extrapolate(curve: Sequence[float], *, tolerance: float = CONVERGENCE_TOLERANCE,
                window: float = CONVERGENCE_WINDOW) -> Extrapolation:
    """How far a held-out curve (lower is better) is from the convergence rule, read from its last
    epochs: each epoch's relative improvement, and their ratio fitted (least squares on their
    logarithms) over the last three or more improvements, all of which must be positive. Were the
    improvements to keep shrinking by that ratio, the curve is continued epoch by epoch until
    :func:`convergence` holds: the epochs that takes, and the improvement still to come. A rough
    estimate (a run's late curve need not decay geometrically), for a run whose budget ended
    before the rule held; NaN where the curve cannot support it (under four epochs, an improvement
    that is not positive, a ratio not below 1, or more than ``MAX_EXTRAPOLATED_EPOCHS`` to go)."""
    values = [float(v) for v in curve]
    if len(values) < 2:
        raise ValueError(f"extrapolate needs at least 2 epochs, got {len(values)}")
    steps = [(a - b) / max(abs(a), 1e-12) for a, b in zip(values[:-1], values[1:], strict=True)]
    nan = float("nan")
    last = steps[-1]
    tail = steps[-max(3, len(steps) // 2):] if len(steps) >= 3 else []
    if len(tail) < 3 or min(tail) <= 0:
        return Extrapolation(last, nan, nan, nan)
    logs = np.log(tail)
    ratio = float(np.exp(np.polyfit(np.arange(len(tail)), logs, 1)[0]))
    if not ratio < 1:
        return Extrapolation(last, ratio, nan, nan)
    extended, step, extra = list(values), last, 0
    while not convergence(extended, tolerance=tolerance, window=window).converged:
        if extra >= MAX_EXTRAPOLATED_EPOCHS:
            return Extrapolation(last, ratio, nan, nan)
        step *= ratio
        extended.append(extended[-1] - step * abs(extended[-1]))
        extra += 1
    remaining = (values[-1] - extended[-1]) / max(abs(values[-1]), 1e-12) if extra else 0.0
    return Extrapolation(last, ratio, float(extra), remaining)


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


# A measure read along one run (at snapshot epochs) has plateaued when it took one value at every
# snapshot of the run's last half, and there are at least this many such snapshots.
PLATEAU_SHARE = 0.5
PLATEAU_MIN_POINTS = 3


def plateaued(trajectory: dict[int, float], *, share: float = PLATEAU_SHARE, min_points: int = PLATEAU_MIN_POINTS,
              tolerance: float = 0.0) -> bool:
    """Whether a measure of a model read at several epochs of one run (``{epoch: value}``, the run's
    last epoch included) stopped moving: over the snapshots of the last ``share`` of the run (epoch
    at least ``(1 - share)`` times the last), at least ``min_points`` of them, its values span at
    most ``tolerance``. For a measure that decides a claim (modes covered, say) where the training
    objective itself has not met :func:`convergence`'s rule: the model still improves its objective
    but no longer on the claim's measure."""
    share = check_float("share", share, minimum=0.0, strict_minimum=True)
    min_points = check_int("min_points", min_points, minimum=2)
    tolerance = check_float("tolerance", tolerance, minimum=0.0)
    if not trajectory:
        raise ValueError("plateaued needs a trajectory of at least one epoch")
    last = max(trajectory)
    tail = [float(v) for e, v in trajectory.items() if e >= (1 - share) * last]
    if any(not math.isfinite(v) for v in tail):
        raise ValueError("the trajectory has non-finite values")
    return len(tail) >= min_points and max(tail) - min(tail) <= tolerance
