"""Why does a check fail?  A step-size sweep and the Taylor test.

numpy only: functions arrive as callables.

Step sweep (``gradcheck sweep``)
    For one component ``x_i`` and a fixed list of steps ``h = 1e-1, 10**-1.5, ...,
    1e-12`` (absolute, ``SWEEP_STEPS``) the central difference::

        D(h) = (f(x + h e_i) - f(x - h e_i)) / 2h

    is compared with the analytic value ``a`` by the contract's relative error
    ``|a - D| / max(|a|, |D|, floor)`` (with the floor of the component's verdict).
    ``h`` is first rounded so that ``x_i + h`` is exact (``h = (x_i + h) - x_i``).
    For a correct ``a`` the error is the sum of truncation ``f''' h**2 / 6`` and
    round-off ``~eps |f| / h``: on a log-log chart a V whose right arm (large h) has
    slope +2 and left arm (small h) slope -1, with the best step near
    ``(3 eps |f| / |f'''|)**(1/3)`` (about 1e-5 for ``|f| ~ |f'''|``).  For a wrong
    ``a`` the estimate converges to the true derivative, so the error stays at
    ``|a - f'| / |a|`` for every step that is not dominated by round-off: a flat line.
    The slopes are least-squares fits of ``log10 rel`` on ``log10 h`` over the steps on
    each side of the best one.

    ``shape`` (``Sweep.shape``):

    =========  ==================================================================
    v          best error <= ``FLAT_ERROR`` and a truncation arm of slope >= 1
    round-off  best error <= ``FLAT_ERROR`` but no truncation arm (D(h) is exact
               up to round-off at every step, e.g. f quadratic in x_i)
    flat       best error > ``FLAT_ERROR``: no step makes the estimate agree
    =========  ==================================================================

Taylor test (``--taylor``)
    Along a seeded random unit direction ``v`` through all variables, the remainder::

        r(h) = |f(x + h v) - f(x) - h g.v|

    is ``h**2 |v^T H v| / 2 + O(h**3)`` when ``g`` is the gradient and
    ``h |(g - grad f).v| + O(h**2)`` when it is not.  Over ``TAYLOR_STEPS`` (``1e-1``
    down to ``1e-8`` in half decades) a remainder counts when it is finite and above
    ``TAYLOR_NOISE_FACTOR`` times the round-off of the three terms,
    ``max(4 eps max(|f(x)|, |f(x+hv)|, |h g.v|), 3 sigma)`` (``sigma`` the measured
    noise of f, ``finite_diff.measured_noise``).  The order is the median of the
    rates ``log(r_j / r_k) / log(h_j / h_k)`` between consecutive counted remainders,
    over the ``TAYLOR_WINDOW`` smallest counted steps (the asymptotic regime; the median
    ignores the two rates next to one step where ``r`` passes near 0 because two error terms cancel).  About
    2 (>= ``ORDER_CORRECT`` = 1.5): consistent with a correct gradient (3 when
    ``v^T H v = 0``); about 1: wrong along v.  No order (``None``) when fewer than two
    remainders rise above round-off: f is affine along v and g.v is exact.
    Reference: Farrell et al., "Automated derivation of the adjoint of high-level
    transient finite element programs", SIAM J. Sci. Comput. 2013 (the Taylor test of
    dolfin-adjoint).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .finite_diff import EPS, NOISE_POINTS, NOISE_SPACING, REL_STEP, ROUNDOFF_ULPS, measured_noise
from .results import json_number
from .verdict import Thresholds, assess

SWEEP_STEPS = 10.0 ** -np.arange(1.0, 12.01, 0.5)
TAYLOR_STEPS = 10.0 ** -np.arange(1.0, 8.01, 0.5)
#: a best relative error above this makes the sweep "flat" (the analytic value is wrong)
FLAT_ERROR = 1e-4
TAYLOR_NOISE_FACTOR = 100.0
TAYLOR_WINDOW = 6
#: a fitted Taylor order at least this is consistent with a correct gradient
ORDER_CORRECT = 1.5


def vectorize(fn: Callable[[np.ndarray], float]) -> Callable[[np.ndarray], np.ndarray]:
    """Turn a scalar function of a point into one of an array of points (last axis)."""

    def many(points: np.ndarray) -> np.ndarray:
        points = np.asarray(points, dtype=float)
        return np.array([fn(p) for p in points.reshape(-1, points.shape[-1])]).reshape(points.shape[:-1])

    return many


def _slope(log_h: np.ndarray, log_e: np.ndarray) -> float | None:
    if len(log_h) < 2:
        return None
    return float(np.polyfit(log_h, log_e, 1)[0])


@dataclass(frozen=True)
class Sweep:
    """Relative error of the central difference of one component over ``steps``."""

    x: float
    analytic: float
    floor: float
    steps: np.ndarray
    numeric: np.ndarray
    rel_error: np.ndarray
    best: int
    truncation_slope: float | None
    roundoff_slope: float | None

    @property
    def best_step(self) -> float:
        return float(self.steps[self.best])

    @property
    def best_error(self) -> float:
        return float(self.rel_error[self.best])

    @property
    def shape(self) -> str:
        """``v``, ``round-off`` or ``flat`` (module docstring)."""
        if not self.best_error <= FLAT_ERROR:
            return "flat"
        if self.truncation_slope is not None and self.truncation_slope >= 1:
            return "v"
        return "round-off"

    def regimes(self) -> list[str]:
        """Per step: ``truncation`` (h above the best step), ``best``, ``round-off``;
        all ``flat`` for a flat sweep."""
        if self.shape == "flat":
            return ["flat"] * len(self.steps)
        return ["truncation" if j < self.best else "best" if j == self.best else "round-off"
                for j in range(len(self.steps))]

    def diagnosis(self) -> str:
        """One sentence that reads the chart."""
        if self.shape == "flat":
            j = int(np.argmin(np.abs(np.log(self.steps / (REL_STEP * max(1.0, abs(self.x)))))))
            return (
                f"flat: the relative error stays near {self.best_error:.1e} at every step; the difference "
                f"quotient tends to {self.numeric[j]:.10g}, not to the analytic {self.analytic:.10g}: "
                "the analytic derivative is wrong"
            )
        slopes = [f"{s:.1f}" if s is not None else "-" for s in (self.truncation_slope, self.roundoff_slope)]
        if self.shape == "v":
            return (f"V shape: error ~ h^2 down to the best step h* = {self.best_step:.0e} (rel error "
                    f"{self.best_error:.1e}), then round-off ~ 1/h; slopes {slopes[0]} and {slopes[1]} "
                    "(expect 2 and -1)")
        return (f"round-off only: the difference is exact up to round-off at every step (f is quadratic "
                f"along x); best step h* = {self.best_step:.0e} (rel error {self.best_error:.1e})")

    def to_dict(self) -> dict[str, Any]:
        return {
            "x": json_number(self.x),
            "analytic": json_number(self.analytic),
            "floor": json_number(self.floor),
            "steps": [float(h) for h in self.steps],
            "numeric": [json_number(v) for v in self.numeric],
            "rel_errors": [json_number(v) for v in self.rel_error],
            "regimes": self.regimes(),
            "best_step": self.best_step,
            "best_rel_error": json_number(self.best_error),
            "truncation_slope": json_number(self.truncation_slope),
            "roundoff_slope": json_number(self.roundoff_slope),
            "shape": self.shape,
            "diagnosis": self.diagnosis(),
        }


def step_sweep(
    phi: Callable[[np.ndarray], np.ndarray],
    x: float,
    analytic: float,
    floor: float = 0.0,
    steps: np.ndarray = SWEEP_STEPS,
) -> Sweep:
    """Central differences of ``phi`` at ``x`` for every step, against ``analytic``.

    ``phi`` maps an array of coordinate values to f's values there (the other
    coordinates fixed); it is called once with all ``2 len(steps)`` abscissae.
    ``floor`` is the verdict's floor for the relative error (0 for a plain one).
    """
    x, steps = float(x), np.asarray(steps, dtype=float)
    h = (x + steps) - x  # exactly representable steps
    with np.errstate(all="ignore"):
        vals = np.asarray(phi(np.concatenate([x + h, x - h])), dtype=float)
        numeric = (vals[: len(h)] - vals[len(h):]) / (2 * h)
    # the displayed relative error of each step's difference (``assess``'s ``rel``)
    rel = assess(analytic, numeric, 0.0, Thresholds(floor=float(floor) if floor else None)).rel
    score = np.where(np.isfinite(rel), rel, np.inf)
    best = int(np.argmin(score))
    ok = np.isfinite(rel) & (rel > 0)
    log_h = np.log10(steps)
    with np.errstate(divide="ignore"):
        log_e = np.log10(rel)
    idx = np.arange(len(steps))
    trunc, rnd = ok & (idx <= best), ok & (idx >= best)
    return Sweep(
        x=x, analytic=float(analytic), floor=float(floor), steps=steps, numeric=numeric,
        rel_error=rel, best=best,
        truncation_slope=_slope(log_h[trunc], log_e[trunc]),
        roundoff_slope=_slope(log_h[rnd], log_e[rnd]),
    )


# ------------------------------------------------------------------ Taylor test
@dataclass(frozen=True)
class Taylor:
    """Taylor remainders ``r(h)`` along ``direction`` and the fitted order."""

    steps: np.ndarray
    remainders: np.ndarray
    counted: np.ndarray  # bool: above round-off, used for the fit
    order: float | None
    slope: float  # g . v
    direction: np.ndarray

    @property
    def consistent(self) -> bool:
        """False when the order says the gradient is wrong along the direction."""
        return self.order is None or self.order >= ORDER_CORRECT

    def verdict(self) -> str:
        if self.order is None:
            return "no order: every remainder is at round-off (f is affine along v and g.v is exact)"
        if self.consistent:
            return f"order {self.order:.2f}: the remainder shrinks like h^2, as for a correct gradient"
        return f"order {self.order:.2f}: the remainder shrinks like h, not h^2: the gradient is wrong along v"

    def to_dict(self) -> dict[str, Any]:
        return {
            "order": json_number(self.order),
            "consistent": self.consistent,
            "verdict": self.verdict(),
            "slope": json_number(self.slope),
            "steps": [float(h) for h in self.steps],
            "remainders": [json_number(r) for r in self.remainders],
            "counted": [bool(c) for c in self.counted],
        }


def random_direction(n: int, seed: int = 0) -> np.ndarray:
    """A seeded standard normal vector scaled to unit length."""
    v = np.random.default_rng(seed).standard_normal(n)
    return v / np.linalg.norm(v)


def fit_order(steps: np.ndarray, remainders: np.ndarray, counted: np.ndarray) -> float | None:
    """Median rate between consecutive counted remainders over the smallest steps."""
    keep = np.flatnonzero(counted)[-TAYLOR_WINDOW:]
    if len(keep) < 2:
        return None
    lh, lr = np.log(steps[keep]), np.log(remainders[keep])
    return float(np.median(np.diff(lr) / np.diff(lh)))


def taylor_test(
    f: Callable[[np.ndarray], float],
    x: np.ndarray,
    grad: np.ndarray,
    seed: int = 0,
    steps: np.ndarray = TAYLOR_STEPS,
    direction: np.ndarray | None = None,
) -> Taylor:
    """Taylor test of ``grad`` (the claimed gradient of ``f`` at ``x``).

    ``f`` maps a flat point to a float (called ``len(steps) + NOISE_POINTS + 1``
    times); ``x`` and ``grad`` are flattened; the direction is
    ``random_direction(x.size, seed)`` unless given.  Formulas: module docstring.

    >>> t = taylor_test(lambda p: float(np.sum(np.sin(p))), np.array([0.3, 1.0]), np.cos([0.3, 1.0]))
    >>> round(t.order)
    2
    """
    x = np.array(x, dtype=float).ravel()
    grad = np.array(grad, dtype=float).ravel()
    v = random_direction(x.size, seed) if direction is None else np.array(direction, dtype=float).ravel()
    steps = np.asarray(steps, dtype=float)
    slope = float(grad @ v)
    with np.errstate(all="ignore"):
        f0 = float(f(x))
        fh = np.array([f(x + h * v) for h in steps], dtype=float)
        delta = NOISE_SPACING * max(1.0, float(np.max(np.abs(x))))
        grid = np.array([f(x + k * delta * v) for k in range(NOISE_POINTS)], dtype=float)
        sigma = float(measured_noise(grid))
        linear = steps * slope
        remainders = np.abs(fh - f0 - linear)
        scale = np.maximum(np.maximum(abs(f0), np.abs(fh)), np.abs(linear))
        noise = np.maximum(ROUNDOFF_ULPS * EPS * scale, 3 * sigma)
        counted = np.isfinite(remainders) & (remainders > TAYLOR_NOISE_FACTOR * noise)
    return Taylor(steps=steps, remainders=remainders, counted=counted,
                  order=fit_order(steps, remainders, counted), slope=slope, direction=v)
