"""Verdicts: relative error with a noise-derived floor, and the status it earns.

The relative error of an analytic value ``a`` against a numeric estimate ``n`` is::

    rel = |a - n| / max(|a|, |n|, floor)          (rel = 0 when a == n)

``floor`` is derived from ``noise``, the estimated absolute error of ``n`` (round-off
plus truncation, see ``finite_diff``)::

    floor = noise / pass_tol

Reading: a disagreement no larger than the numeric noise always passes, whatever the
size of the true value, so a zero partial (a stationary point, a variable that does not
appear) cannot fail through round-off.  Above the floor the error is an ordinary
relative error, so a factor-2 mistake in a component ``t`` fails as soon as
``|t| > fail_tol * floor`` (= 1e5 x the noise at default tolerances).  Because the
noise scales with ``f``, multiplying ``f`` and its gradient by ``10**k`` changes neither
``rel`` nor the verdict.  ``--floor VALUE`` replaces the derived floor by a constant
(``1`` gives the CS224n rule ``|a - n| / max(1, |a|, |n|)``).

Statuses (``Status``):

========  =====================================================================
pass      ``rel <= pass_tol`` (default 1e-7)
warn      ``pass_tol < rel <= fail_tol``
fail      ``rel > fail_tol`` (default 1e-2), or a non-finite analytic value
kink      a non-differentiable point lies inside the finite-difference stencil;
          reported, never counted as a failure (it counts as ``pass``)
========  =====================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Iterable

import numpy as np

from .errors import OptionError


class Status(str, Enum):
    """Outcome of one checked component; the value is what JSON shows."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    KINK = "kink"


#: index with ``status_codes``
STATUS_BY_CODE = np.array([Status.PASS, Status.WARN, Status.FAIL, Status.KINK], dtype=object)
# Severity order used by `worst`: kink counts as pass.
_SEVERITY = {Status.PASS: 0, Status.KINK: 0, Status.WARN: 1, Status.FAIL: 2}


@dataclass(frozen=True)
class Thresholds:
    """Tolerances of the verdict; ``floor=None`` means "derive it from the noise"."""

    pass_tol: float = 1e-7
    fail_tol: float = 1e-2
    strict: bool = False
    floor: float | None = None

    def __post_init__(self) -> None:
        validate_thresholds(self)

    def to_dict(self) -> dict[str, float]:
        return {"pass": self.pass_tol, "fail": self.fail_tol}


def validate_thresholds(t: Thresholds) -> None:
    """Raise OptionError unless 0 < pass_tol <= fail_tol and the floor is >= 0."""
    for name, value in (("--pass-tol", t.pass_tol), ("--fail-tol", t.fail_tol)):
        if not (np.isfinite(value) and value > 0):
            raise OptionError(f"{name} must be a positive number, got {value!r}")
    if t.pass_tol > t.fail_tol:
        raise OptionError(
            f"--pass-tol ({t.pass_tol:g}) must not exceed --fail-tol ({t.fail_tol:g})"
        )
    if t.floor is not None and not (np.isfinite(t.floor) and t.floor >= 0):
        raise OptionError(f"--floor must be a finite number >= 0, got {t.floor!r}")


def floor_from_noise(noise: np.ndarray | float, thresholds: Thresholds) -> np.ndarray:
    """The denominator floor: ``noise / pass_tol``, or the fixed ``--floor``."""
    noise = np.asarray(noise, dtype=float)
    if thresholds.floor is not None:
        return np.full(noise.shape, float(thresholds.floor))
    with np.errstate(over="ignore"):  # noise near float64's limit: an infinite floor
        return np.abs(noise) / thresholds.pass_tol


def relative_error(analytic, numeric, floor) -> np.ndarray:
    """``|a - n| / max(|a|, |n|, floor)``; 0 where a == n; inf where a is not finite."""
    a = np.asarray(analytic, dtype=float)
    n = np.asarray(numeric, dtype=float)
    fl = np.asarray(floor, dtype=float)
    with np.errstate(all="ignore"):
        diff = np.abs(a - n)
        denom = np.maximum(np.maximum(np.abs(a), np.abs(n)), fl)
        rel = np.where(diff == 0, 0.0, diff / denom)
    return np.where(np.isfinite(a) & np.isfinite(n), rel, np.inf)


def status_codes(rel, thresholds: Thresholds, kink=None) -> np.ndarray:
    """Status per component as integer codes into ``STATUS_BY_CODE`` (vectorised)."""
    rel = np.asarray(rel, dtype=float)
    code = np.where(rel <= thresholds.pass_tol, 0, np.where(rel <= thresholds.fail_tol, 1, 2))
    if kink is not None:
        code = np.where(np.asarray(kink, dtype=bool), 3, code)  # NaN/inf rel falls to 2: fail
    return code


def classify(rel, thresholds: Thresholds, kink=None) -> np.ndarray:
    """Status per component (an object array of ``Status``) from its relative error."""
    return STATUS_BY_CODE[status_codes(rel, thresholds, kink)]


def worst(statuses: Iterable[Status]) -> Status:
    """The worst status of a collection (kink counts as pass; empty -> pass)."""
    result = Status.PASS
    for s in statuses:
        s = Status(s)
        if _SEVERITY[s] > _SEVERITY[result]:
            result = s
    return result


def is_failure(status: Status, strict: bool) -> bool:
    """Whether a status makes the command exit 1 (warn only under ``--strict``)."""
    return status is Status.FAIL or (strict and status is Status.WARN)
