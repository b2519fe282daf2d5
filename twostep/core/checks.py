"""Checks of parameter values: a bad value raises :class:`ParameterError` naming the parameter,
the value and what is allowed. Library constructors use these; notebooks validate through the
pydantic configs of :mod:`twostep.experiments.configs`, which report errors in the same words."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np


class ParameterError(ValueError):
    """A notebook or function parameter has a value that is not allowed."""


def check_int(name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Check that ``value`` is an integer within ``[minimum, maximum]``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ParameterError(f"{name}={value!r} is not allowed: it must be an integer.")
    if minimum is not None and value < minimum:
        raise ParameterError(f"{name}={value!r} is not allowed: it must be an integer >= {minimum}.")
    if maximum is not None and value > maximum:
        raise ParameterError(f"{name}={value!r} is not allowed: it must be an integer <= {maximum}.")
    return int(value)


def check_float(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    strict_minimum: bool = False,
) -> float:
    """Check that ``value`` is a real number within the bounds (``strict_minimum``: ``> minimum``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ParameterError(f"{name}={value!r} is not allowed: it must be a number.")
    value = float(value)
    if not np.isfinite(value):
        raise ParameterError(f"{name}={value!r} is not allowed: it must be finite.")
    if minimum is not None and (value <= minimum if strict_minimum else value < minimum):
        op = ">" if strict_minimum else ">="
        raise ParameterError(f"{name}={value!r} is not allowed: it must be {op} {minimum}.")
    if maximum is not None and value > maximum:
        raise ParameterError(f"{name}={value!r} is not allowed: it must be <= {maximum}.")
    return value


def check_choice(name: str, value: Any, allowed: Iterable[Any]) -> Any:
    """Check that ``value`` is one of ``allowed``."""
    allowed = list(allowed)
    if value not in allowed:
        raise ParameterError(
            f"{name}={value!r} is not allowed: it must be one of {', '.join(map(repr, allowed))}."
        )
    return value


def check_int_list(name: str, value: Any, *, minimum: int | None = None) -> list[int]:
    """Check a non-empty list of integers, each ``>= minimum``."""
    if not isinstance(value, (list, tuple)) or len(value) == 0:
        raise ParameterError(f"{name}={value!r} is not allowed: it must be a non-empty list of integers.")
    return [check_int(f"{name}[{i}]", v, minimum=minimum) for i, v in enumerate(value)]
