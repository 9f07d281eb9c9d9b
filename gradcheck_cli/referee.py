"""The exact referee for ``expr``: a check redone in extended precision (mpmath).

For an expression ``f`` everything is symbolic, so float64 is a choice, not a limit.
Where the fast float64 check cannot decide (``needs_referee``), the component is
re-judged here from the mathematics rather than from float64 arithmetic:

1. ``a`` (the claimed derivative, or sympy's) and ``t`` (sympy's derivative, the truth)
   are evaluated at the float64 point (read exactly) with ``d`` and ``2d`` significant
   digits, ``d = START_DIGITS, 2 START_DIGITS, ...``.  The value at ``2d`` digits is
   used with the error ``|v_d - v_2d| 10**(-d/2) + 10**(3-2d) |v_2d|`` (cancellation
   loses the same digits at both precisions, so doubling them gains ``d`` digits; half
   of that gain is trusted).  mpmath numbers have an unbounded exponent: nothing overflows.
2. The verdict is ``verdict.assess`` with ``n = t`` and ``e = e_a + e_t``, and the zero
   rule at ``z = 2 e``: both values are zero to within their own evaluation error at
   this precision (``sin(x)**2 + cos(x)**2 - 1``); a value computed to many digits is
   never "zero", however tiny (``1 - tanh(x)**2`` at ``x = 100`` is ``5.5e-87``).  Undecided: double the digits, up to ``MAX_DIGITS`` and within the
   command's ``TIME_CAP`` seconds; past either cap the status is ``unresolved``.
3. The numeric column is the centred difference ``(f(x+h) - f(x-h)) / 2h`` at the same
   precision with ``h = 10**(-d/3) s``, ``s = |x_i|`` (1 at 0), error
   ``|D(h) - D(2h)| 4/3 + 10**-d |f| / h``.  If it disagrees with ``t`` beyond both
   errors, one of them has too few digits (``1 - cos(x)`` is 0 at ``x = 1e-300``
   below 600 digits): the precision doubles (``unresolved`` at the cap).  Where sympy's
   formula is undefined the difference stands in for ``t``.  Likewise when a sum inside
   ``a`` or ``t`` cancels completely at this precision (``expression.precise`` flags it:
   ``1 - tanh(x)**2`` is exactly 0 at ``x = 100`` below 87 digits, at 32 and 64 alike).
4. Kinks are decided exactly when ``f`` has non-smooth atoms: one-sided differences
   ``R(h) = (f(x+h) - f(x)) / h`` and ``L(h) = (f(x) - f(x-h)) / h`` at
   ``h1 = 10**(-d/4) s`` and ``h2 = 10**(-d/2) s``.  The jump ``J = R - L`` is
   ``f'' h + ...`` at a differentiable point (it shrinks by ``h2/h1``) and tends to
   ``f'(x+) - f'(x-) != 0`` at a kink; ``kink`` iff ``|J(h2)| > |J(h1)| / 2 > 0``, or
   when the one-sided quotients diverge (f jumps: a Heaviside in a first partial).  So
   ``abs(x)`` at 0 is a kink and ``x*abs(x)``, ``relu(x)**2`` at 0 are checked.

``lossy_formula`` notes that the float64 value of the analytic formula disagrees with
its exact value by more than ``pass_tol / 10`` (relative): the formula loses digits in
float64 at this point (e.g. ``(1 - cos(x))/x**2`` at ``1e-6``), which its author may
want to know; the verdict still judges the mathematics.

The module knows nothing of sympy: it receives ``F(point, digits) -> [f, a, t]``
(``expression.precise.compile_precise``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import mpmath as mp
import numpy as np

from .verdict import CODE, Reason, Status, Thresholds, assess

START_DIGITS = 32
#: the precision cap, in significant decimal digits
MAX_DIGITS = 4096
#: wall-clock cap for all referee work of one command, in seconds
TIME_CAP = 10.0
#: as ``expression.precise.LOSS_MARGIN``: a sum cancelled to 10**(LOSS_MARGIN - digits)
LOSS_MARGIN = 5
#: digits of the cheap screening evaluation (``screen``), and how many must survive
SCREEN_DIGITS = 40
SCREEN_KEEP = 20


_FLOAT_MIN = mp.mpf(2.2250738585072014e-308)
_FLOAT_MAX = mp.mpf(1.7976931348623157e308)


@dataclass
class Budget:
    """The time cap shared by every referee call of one command."""

    seconds: float = TIME_CAP
    start: float = field(default_factory=time.monotonic)

    def expired(self) -> bool:
        return time.monotonic() - self.start > self.seconds


@dataclass(frozen=True)
class RefereeResult:
    """One component decided in extended precision.

    ``analytic`` and ``truth`` are the exact values (rounded to float64 for display),
    ``numeric``/``numeric_error`` the high-precision centred difference, ``error`` the
    bound on ``|a - t|`` evidence used by the verdict, ``digits`` the precision of the
    decision, ``rel`` the relative error ``|a - t| / max(|a|, |t|, floor)``.
    """

    analytic: float
    truth: float
    numeric: float
    numeric_error: float
    error: float
    rel: float
    status: Status
    reason: Reason
    digits: int
    kink: bool = False
    lossy_formula: bool = False


def _f(x) -> float:
    """mpf -> float without raising (huge -> inf, tiny -> 0)."""
    try:
        return float(x)
    except (OverflowError, ValueError):
        return math.inf if x > 0 else -math.inf


def _shift(point: Sequence, i: int, d) -> list:
    p = [mp.mpf(v) for v in point]
    p[i] = p[i] + d
    return p


def _scale(point: Sequence, i: int):
    v = abs(mp.mpf(point[i]))
    return v if v != 0 else mp.mpf(1)


def centred_difference(F: Callable, point: Sequence, i: int, digits: int) -> tuple:
    """High-precision ``(D(h), error)`` of ``f`` along coordinate ``i`` (see the module doc)."""
    with mp.workdps(digits):
        s = _scale(point, i)
        h = s * mp.mpf(10) ** (-(digits // 3))
        vals = [F(_shift(point, i, k * h), digits)[0] for k in (1, -1, 2, -2)]
        if any(mp.isnan(v) or mp.isinf(v) for v in vals):
            return mp.mpf("nan"), mp.mpf("inf")
        d1 = (vals[0] - vals[1]) / (2 * h)
        d2 = (vals[2] - vals[3]) / (4 * h)
        scale = max(abs(v) for v in vals)
        err = abs(d1 - d2) * 4 / 3 + scale * mp.mpf(10) ** (-digits + 2) / h
        return d1, err


def one_sided_kink(F: Callable, point: Sequence, i: int, digits: int) -> bool:
    """Whether the one-sided derivatives of ``f`` at the point really differ (module doc)."""
    with mp.workdps(digits):
        s = _scale(point, i)
        f0 = F([mp.mpf(v) for v in point], digits)[0]
        jumps, sides = [], []
        for k in (digits // 4, digits // 2):
            h = s * mp.mpf(10) ** (-k)
            fp, fm = F(_shift(point, i, h), digits)[0], F(_shift(point, i, -h), digits)[0]
            if any(mp.isnan(v) for v in (f0, fp, fm)):
                return False
            r, l = (fp - f0) / h, (f0 - fm) / h
            jumps.append(abs(r - l))
            sides.append(max(abs(r), abs(l)))
        noise = mp.mpf(10) ** (-digits // 2) * (abs(f0) / s + 1e-300)
        # a jump of f itself (Heaviside in a first partial): the one-sided quotients diverge
        diverges = sides[1] > 1000 * sides[0] + noise
        return bool((jumps[0] > noise and jumps[1] > jumps[0] / 2) or diverges)


def _judge(a, t, e, zs, thresholds: Thresholds):
    """``verdict.assess`` on mpf values, normalised so that floats neither over- nor underflow."""
    if thresholds.floor is None:
        big = max(abs(a), abs(t), e, zs)
        k = big if big != 0 else mp.mpf(1)
        a_, t_, e_, z_ = _f(a / k), _f(t / k), _f(e / k), _f(zs / k)
    else:
        a_, t_, e_, z_ = _f(a), _f(t), _f(e), _f(zs)
    res = assess(a_, t_, e_, thresholds, zero_scale=z_)
    return int(res.code), float(res.rel)


def referee(
    F: Callable,
    point: Sequence[float],
    i: int,
    thresholds: Thresholds,
    *,
    analytic64: float | None = None,
    kinks: bool = False,
    budget: Budget | None = None,
    max_digits: int = MAX_DIGITS,
) -> RefereeResult:
    """Decide one component ``d f / d x_i`` at ``point`` in extended precision.

    ``F(point, digits) -> [f, a, t]``; ``analytic64`` the float64 value of ``a`` (for
    ``lossy_formula``); ``kinks``: f has non-smooth atoms, so test for a kink first.
    """
    budget = budget or Budget()
    digits = START_DIGITS
    prev = F(point, digits)
    while True:
        d2 = 2 * digits
        cur, lost = F(point, d2, flags=True)
        a, t = cur[1], cur[2]
        # a or t lost (nearly) every digit to cancellation at this precision
        cancelled = max(lost[1], lost[2]) >= d2 - LOSS_MARGIN
        if kinks and one_sided_kink(F, point, i, d2):
            return RefereeResult(_f(a), _f(t), math.nan, math.inf, math.inf, math.nan, Status.KINK,
                                 Reason.NONE, d2, kink=True)
        with mp.workdps(d2):
            # cancellation loses the same number of digits at d and 2d, so the error of
            # the 2d value is about |v_d - v_2d| 10**-d; trust half of that gain
            gain = mp.mpf(10) ** (-(digits // 2))
            ea = abs(a - prev[1]) * gain if not mp.isnan(a) else mp.mpf("inf")
            et = abs(t - prev[2]) * gain if not mp.isnan(t) else mp.mpf("inf")
            ulp = mp.mpf(10) ** (-d2 + 3)
            ea, et = ea + ulp * abs(a), et + ulp * abs(t)
            n, en = centred_difference(F, point, i, d2)
            # the formula and the difference disagree: too few digits for one of them
            # (1 - cos(x) at 1e-300 is 0 below 600 digits), or a convention of sympy's
            # formula at a non-smooth atom; climb, and at the cap trust the difference
            disagree = not mp.isnan(t) and not mp.isnan(n) and abs(n - t) > en + et
            if mp.isnan(t):
                t_used, e_used = n, en
            else:
                t_used, e_used = t, et
        lossy = False
        if analytic64 is not None and not mp.isnan(a):
            a64 = mp.mpf(analytic64) if math.isfinite(analytic64) else None
            lossy = a64 is None or abs(a64 - a) > thresholds.pass_tol / 10 * abs(a) + ea
        if mp.isnan(a) or mp.isinf(a):
            return RefereeResult(_f(a), _f(t), _f(n), _f(en), math.inf, math.inf, Status.FAIL,
                                 Reason.ANALYTIC_NONFINITE, d2, lossy_formula=lossy)
        last = 2 * d2 > max_digits or budget.expired()
        if mp.isnan(t_used) or disagree or (cancelled and not last):
            code, rel = CODE[Status.UNRESOLVED], math.inf
        else:
            with mp.workdps(d2):
                # exact arithmetic needs no zero rule below the cap (exact zeros have
                # a == t); at the cap, values that still cancel completely are zero to
                # within 10**-digits of their terms: the zero rule at that size
                zs = mp.mpf(0)
                if last and cancelled:
                    ulp_terms = mp.mpf(10) ** (LOSS_MARGIN - d2)
                    zs = 2 * (ea + e_used) + ulp_terms * (abs(cur[0]) / _scale(point, i) + 1)
                code, rel = _judge(a, t_used, ea + e_used, zs, thresholds)
        status = [Status.PASS, Status.WARN, Status.FAIL, Status.KINK, Status.UNRESOLVED][code]
        if status is not Status.UNRESOLVED:
            return RefereeResult(_f(a), _f(t_used), _f(n), _f(en), _f(ea + e_used), rel, status, Reason.NONE, d2,
                                 lossy_formula=lossy)
        if 2 * d2 > max_digits or budget.expired():
            reason = Reason.PRECISION_CAP if 2 * d2 > max_digits else Reason.TIME_CAP
            if mp.isnan(t_used):
                reason = Reason.NUMERIC_NONFINITE
            return RefereeResult(_f(a), _f(t_used), _f(n), _f(en), _f(ea + e_used), rel, Status.UNRESOLVED, reason,
                                 d2, lossy_formula=lossy)
        prev, digits = cur, d2


def screen(G: Callable, points: np.ndarray, digits: int = SCREEN_DIGITS, keep: int = SCREEN_KEEP
           ) -> tuple[np.ndarray, np.ndarray]:
    """Cheap extended-precision values of expressions at every point, with a settled flag.

    ``G(point, digits, flags=True) -> ([v_1 .. v_m], [lost_1 .. lost_m])``.  Returns
    ``(values, settled)`` of shape ``(P, m)``: the values at ``digits`` digits (as
    float64) and whether at least ``keep`` digits survived cancellation and float64 holds
    them (no overflow, no underflow to zero or to a subnormal).
    """
    points = np.atleast_2d(points)
    out, ok = [], []
    for p in points:
        vals, lost = G(list(p), digits, flags=True)
        out.append([_f(v) for v in vals])
        ok.append([not mp.isnan(v) and gone <= digits - keep and (v == 0 or _FLOAT_MIN <= abs(v) <= _FLOAT_MAX)
                   for v, gone in zip(vals, lost)])
    return np.array(out, dtype=float).reshape(len(points), -1), np.array(ok, dtype=bool).reshape(len(points), -1)


def needs_referee(code, analytic64, numeric, noise, analytic_hp, truth_hp, settled, thresholds: Thresholds,
                  kink_stencil=None) -> np.ndarray:
    """Which float64 verdicts must be redone by the referee (elementwise mask).

    Triggers: the verdict is ``unresolved``; a value is not finite (overflow, a pole);
    the extended-precision screen did not settle; the float64 stencil crosses a
    non-smooth atom (``kink_stencil``); the float64 value of the analytic formula
    differs from its exact value by more than ``pass_tol / 10`` relative (it loses
    digits, or over/underflows); the finite-difference estimate is further from the
    exact derivative than its own error bound (a stencil across a pole, a step longer
    than a period, round-off of an intermediate the values do not show).
    """
    a64, n, e, a, t = (np.asarray(v, dtype=float) for v in (analytic64, numeric, noise, analytic_hp, truth_hp))
    with np.errstate(all="ignore"):
        trig = np.asarray(code) == CODE[Status.UNRESOLVED]
        trig |= ~(np.isfinite(a64) & np.isfinite(n) & np.isfinite(e) & np.isfinite(a) & np.isfinite(t))
        trig |= ~np.asarray(settled, dtype=bool)
        trig |= np.abs(a64 - a) > thresholds.pass_tol / 10 * np.abs(a)
        trig |= np.abs(n - t) > e
        # a verdict that rests on the zero rule or a tiny value: let the exact arithmetic say
        trig |= (np.asarray(code) == CODE[Status.PASS]) & (np.abs(a - t) > thresholds.pass_tol * np.maximum(np.abs(a), np.abs(t)))
        if kink_stencil is not None:
            trig |= np.asarray(kink_stencil, dtype=bool)
    return trig
