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
4. Kinks are decided at the exact switch.  ``switches(point, d)`` gives the branch of
   every non-smooth atom of ``f`` (the sign of the argument of abs/sign/Heaviside, the
   largest argument of max/min), ``None`` for an atom exactly at its switch.  Away
   from every switch ``f`` is smooth: no kink test, and the centred difference shrinks
   ``h`` until its stencil stays on the point's branch (``abs(x - 1e-40)`` at 0 has the
   derivative -1).  At a switch, one-sided differences
   ``R(h) = (f(x+h) - f(x)) / h`` and ``L(h) = (f(x) - f(x-h)) / h`` at
   ``h1 = 10**(-d/4) s`` and ``h2 = 10**(-d/2) s`` decide: the jump ``J = R - L`` is
   ``f'' h + ...`` at a differentiable point (it shrinks by ``h2/h1``) and tends to
   ``f'(x+) - f'(x-) != 0`` at a kink; ``kink`` iff ``|J(h2)| > |J(h1)| / 2 > 0``, or
   when the one-sided quotients diverge (f jumps: a Heaviside in a first partial).  A
   differentiable point at a switch is judged against the difference quotient, the
   derivative's definition, not sympy's formula (a convention there: ``sign'(0) = 0``
   makes sympy's derivative of ``x*sign(x)**2`` 0 at 0; the derivative is 1).  So
   ``abs(x)`` at 0 is a kink and ``x*abs(x)``, ``relu(x)**2`` at 0 are checked.
5. At the precision cap (or the time cap), a difference that has settled (it agrees
   with the one at half the digits, and ``f`` kept digits) is the evidence where the
   formula and the difference still disagree.
6. The time budget (``Budget``, ``TIME_CAP`` seconds for a command) is shared fairly:
   each row gets the time left divided by the rows left, and a doubling of the digits
   starts only when its expected cost fits in the row's share: the cap is hard.

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

from .finite_diff import Estimate, zero_scale
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
    """The time cap shared by every referee call of one command.

    The cap is hard: a row gets ``share(rows_left)``, the time left divided fairly among
    the rows still to decide (time a row does not use passes on to the next), and the
    referee starts a doubling of the precision only when its expected cost (``GROWTH``
    times the last step's) fits in the row's share.
    """

    seconds: float = field(default_factory=lambda: TIME_CAP)
    start: float = field(default_factory=lambda: time.monotonic())

    @property
    def end(self) -> float:
        return self.start + self.seconds

    def expired(self) -> bool:
        return time.monotonic() > self.end

    def share(self, rows_left: int) -> float:
        """The deadline (``time.monotonic`` clock) of the next row when ``rows_left`` remain."""
        now = time.monotonic()
        return now + max(0.0, self.end - now) / max(1, rows_left)


#: a doubling of the digits costs at most this many times the previous step
GROWTH = 4.0


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
    #: (analytic, numeric) as text where float64 cannot hold them (2.2e+308 shows as inf,
    #: 1e-345 as 0), None where it can
    beyond: tuple[str | None, str | None] | None = None


def _beyond(*values) -> tuple[str | None, str | None] | None:
    """Text of the values that float64 cannot hold (over- or underflow), None for the others."""
    texts = tuple(mp.nstr(v, 10) if mp.isfinite(v) and v != 0 and not _FLOAT_MIN <= abs(v) <= _FLOAT_MAX else None
                  for v in values)
    return texts if any(texts) else None


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


def centred_difference(F: Callable, point: Sequence, i: int, digits: int, switches: Callable | None = None,
                       branch: tuple | None = None) -> tuple:
    """High-precision ``(D(h), error)`` of ``f`` along coordinate ``i`` (see the module doc).

    With ``switches`` and the ``branch`` of every non-smooth atom at the point, ``h``
    shrinks (by ``10**-4`` at a time) until the stencil ``x ± h, x ± 2h`` stays on that
    branch: a kink ``1e-40`` away from the point is not crossed.
    """
    with mp.workdps(digits):
        s = _scale(point, i)
        h = s * mp.mpf(10) ** (-(digits // 3))
        if switches is not None and branch is not None:
            floor = s * mp.mpf(10) ** (-(digits - 8))
            while h > floor and any(switches(_shift(point, i, k * h), digits) != branch for k in (1, -1, 2, -2)):
                h = h * mp.mpf(10) ** -4
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
    res = assess(a_, t_, e_, thresholds, zero_scale=z_, agreement=False)
    return int(res.code), float(res.rel)


def referee(
    F: Callable,
    point: Sequence[float],
    i: int,
    thresholds: Thresholds,
    *,
    analytic64: float | None = None,
    kinks: bool = False,
    switches: Callable | None = None,
    budget: Budget | None = None,
    until: float | None = None,
    max_digits: int = MAX_DIGITS,
) -> RefereeResult:
    """Decide one component ``d f / d x_i`` at ``point`` in extended precision.

    ``F(point, digits) -> [f, a, t]``; ``analytic64`` the float64 value of ``a`` (for
    ``lossy_formula``).  Non-smooth atoms: ``switches(point, digits)`` gives each atom's
    branch, ``None`` for an atom exactly at its switch (``expression.compile_switches``).
    Only there is the one-sided kink test run, and sympy's formula (a convention at the
    switch: ``sign(0) = 0``) gives way to the difference quotient, the derivative's
    definition.  Away from every switch the stencil stays on the point's branch.
    ``kinks=True`` without ``switches``: test for a kink at every precision.
    ``until``: this row's deadline (``Budget.share``), by default the budget's end.
    """
    budget = budget or Budget()
    until = budget.end if until is None else until
    if time.monotonic() > until:
        return RefereeResult(math.nan, math.nan, math.nan, math.inf, math.inf, math.inf, Status.UNRESOLVED,
                             Reason.TIME_CAP, 0)
    digits = START_DIGITS
    prev = F(point, digits)
    prev_n = None
    while True:
        started = time.monotonic()
        d2 = 2 * digits
        cur, lost = F(point, d2, flags=True)
        a, t = cur[1], cur[2]
        # a or t lost (nearly) every digit to cancellation at this precision
        cancelled = max(lost[1], lost[2]) >= d2 - LOSS_MARGIN
        branch = switches(point, d2) if switches is not None else None
        at_switch = kinks if branch is None else any(b is None for b in branch)
        if at_switch and one_sided_kink(F, point, i, d2):
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
            keep = branch if branch is not None and not at_switch else None
            n, en = centred_difference(F, point, i, d2, switches if keep is not None else None, keep)
            # at a switch sympy's formula is a convention (the derivative of sign is 0
            # there, d/dx x*sign(x)**2 = 0 at 0 though the derivative is 1): the
            # difference quotient, the definition of the derivative, is the truth
            if switches is not None and at_switch:
                t = mp.mpf("nan")
            # the formula and the difference disagree: too few digits for one of them
            # (1 - cos(x) at 1e-300 is 0 below 600 digits); climb, and at the cap a
            # difference that has settled is the evidence
            disagree = not mp.isnan(t) and not mp.isnan(n) and abs(n - t) > en + et
            t_used, e_used = (n, en) if mp.isnan(t) else (t, et)
        lossy = False
        if analytic64 is not None and not mp.isnan(a):
            a64 = mp.mpf(analytic64) if math.isfinite(analytic64) else None
            lossy = a64 is None or abs(a64 - a) > thresholds.pass_tol / 10 * abs(a) + ea
        if mp.isnan(a) or mp.isinf(a):
            return RefereeResult(_f(a), _f(t), _f(n), _f(en), math.inf, math.inf, Status.FAIL,
                                 Reason.ANALYTIC_NONFINITE, d2, lossy_formula=lossy)
        cost = time.monotonic() - started
        capped = 2 * d2 > max_digits
        last = capped or time.monotonic() + GROWTH * cost > until
        # settled: the difference agrees with the one at half the digits, and f kept digits
        settled = (prev_n is not None and not mp.isnan(n) and abs(n - prev_n[0]) <= en + prev_n[1]
                   and lost[0] < d2 - LOSS_MARGIN)
        if last and disagree and settled:
            t_used, e_used, disagree = n, en, False
        if mp.isnan(t_used) or disagree or (cancelled and not last):
            code, rel = CODE[Status.UNRESOLVED], math.inf
        else:
            with mp.workdps(d2):
                # exact arithmetic needs no zero rule below the cap (exact zeros have
                # a == t); at the cap, values that still cancel completely are zero to
                # within 10**-digits of their terms: the zero rule at that size
                zs = mp.mpf(0)
                if t_used is n:
                    # a difference quotient is exact only to its error: the zero rule there
                    zs = 2 * (ea + e_used)
                if last and cancelled:
                    ulp_terms = mp.mpf(10) ** (LOSS_MARGIN - d2)
                    zs = 2 * (ea + e_used) + ulp_terms * (abs(cur[0]) / _scale(point, i) + 1)
                code, rel = _judge(a, t_used, ea + e_used, zs, thresholds)
        status = [Status.PASS, Status.WARN, Status.FAIL, Status.KINK, Status.UNRESOLVED][code]
        if status is not Status.UNRESOLVED:
            return RefereeResult(_f(a), _f(t_used), _f(n), _f(en), _f(ea + e_used), rel, status, Reason.NONE, d2,
                                 lossy_formula=lossy, beyond=_beyond(a, n))
        if last:
            reason = Reason.PRECISION_CAP if capped else Reason.TIME_CAP
            if mp.isnan(t_used):
                reason = Reason.NUMERIC_NONFINITE
            return RefereeResult(_f(a), _f(t_used), _f(n), _f(en), _f(ea + e_used), rel, Status.UNRESOLVED, reason,
                                 d2, lossy_formula=lossy, beyond=_beyond(a, n))
        prev, digits, prev_n = cur, d2, (n, en)


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


# ------------------------------------------------------------------ the policy: float64, refereed where needed
# Verdicts for ``expr``: the fast float64 check, refereed in extended precision where needed.
# 
# For each (point, component) the float64 evidence (analytic value ``a64``, finite
# difference ``n`` with error ``e``) is judged by ``verdict.assess``.  A cheap screen
# evaluates the analytic and the true (sympy) derivative at 40 digits; the
# component goes to ``referee.referee`` when ``referee.needs_referee`` says so
# (unresolved, non-finite, a stencil across a non-smooth atom, a formula that loses
# digits in float64, a finite difference further from the truth than its own error).
# A flagged component whose screen values are settled is decided by them directly (exact
# maths at 40 digits with 20 surviving: ``assess(a, t, 1e-12 (|a| + |t|))``) when the float64 difference
# is near enough to show beside it; the others get the full referee.  Everything else
# keeps its float64 verdict, so ordinary expressions pay only the screen.

#: the screen's settled values are right to this (relative; they keep 20 digits)
SCREEN_REL = 1e-12


@dataclass(frozen=True)
class ExprVerdicts:
    """Per (point, component) arrays of shape ``(P, m)``: what a row shows."""

    analytic: np.ndarray
    numeric: np.ndarray
    error: np.ndarray
    rel: np.ndarray
    status: np.ndarray  # object array of Status
    reason: np.ndarray  # object array of Reason
    digits: np.ndarray  # 0 where float64 decided
    lossy: np.ndarray  # bool
    floor: np.ndarray
    beyond: np.ndarray  # object: RefereeResult.beyond (texts of values float64 cannot hold) or None


def judge_expression(
    f_expr,
    analytic_exprs: Sequence,
    truth_exprs: Sequence,
    names: Sequence[str],
    cols: Sequence[int],
    pts: np.ndarray,
    analytic64: np.ndarray,
    est: Estimate,
    thresholds: Thresholds,
    kink_stencil: np.ndarray | None = None,
    budget: Budget | None = None,
    *,
    precise: Callable,
    switches: Callable | None = None,
) -> ExprVerdicts:
    """Judge ``analytic_exprs[j]`` (float64 values ``analytic64[:, j]``) against the
    derivative of ``f_expr`` along ``names[cols[j]]`` (sympy's ``truth_exprs[j]``) at
    every point, refereeing where needed.  ``est`` is the finite-difference estimate of
    every coordinate (``finite_diff.estimate_gradient``); ``kink_stencil`` marks stencils
    that cross a non-smooth atom of ``f``.  ``precise(exprs) -> F`` compiles expressions
    for extended precision (``expression.compile_precise`` over ``names``); ``switches``
    gives the branches of ``f``'s non-smooth atoms (``expression.compile_switches``), None
    when f has none.  Rows share the ``budget`` fairly: each gets the time left divided by
    the rows left (``Budget.share``).
    """
    pts = np.atleast_2d(np.asarray(pts, dtype=float))
    cols = list(cols)
    m = len(cols)
    numeric, noise = est.value[:, cols], est.noise[:, cols]
    fs = est.f_scale[:, cols] if est.f_scale is not None else np.zeros_like(numeric)
    zs = zero_scale(fs, pts[:, cols], est.eps)
    res = assess(analytic64, numeric, noise, thresholds, zero_scale=zs, agreement=False)
    G = precise(list(analytic_exprs) + list(truth_exprs))
    values, settled = screen(G, pts)
    a_hp, t_hp = values[:, :m], values[:, m:]
    ok = settled[:, :m] & settled[:, m:]
    flag = needs_referee(res.code, analytic64, numeric, noise, a_hp, t_hp, ok, thresholds, kink_stencil)
    analytic = np.array(analytic64, dtype=float, copy=True)
    numeric = np.array(numeric, dtype=float, copy=True)
    error = np.array(res.error, dtype=float, copy=True)
    rel = np.array(res.rel, dtype=float, copy=True)
    status = res.statuses.copy()
    reason = res.reasons.copy()
    digits = np.zeros(analytic.shape, dtype=int)
    lossy = np.zeros(analytic.shape, dtype=bool)
    beyond = np.full(analytic.shape, None, dtype=object)
    # Rows whose screen values are settled (20 of 40 digits survive cancellation,
    # float64 holds them) are decided by those exact values at once, unless the float64
    # difference is too far from the claim to show beside the verdict (then the full
    # referee computes a high-precision difference for the numeric column).
    with np.errstate(all="ignore"):
        finite = np.isfinite(a_hp) & np.isfinite(t_hp) & np.isfinite(numeric)
        exact = assess(np.where(finite, a_hp, 0.0), np.where(finite, t_hp, 0.0),
                       SCREEN_REL * (np.abs(a_hp) + np.abs(t_hp)), thresholds)
        near = np.abs(numeric - analytic64) <= thresholds.fail_tol * np.maximum(np.abs(numeric), np.abs(analytic64))
    fast = flag & ok & finite & near & (exact.code != CODE[Status.UNRESOLVED])
    if kink_stencil is not None:
        fast &= ~np.asarray(kink_stencil, dtype=bool)
    status[fast], rel[fast], error[fast] = exact.statuses[fast], exact.rel[fast], exact.error[fast]
    analytic[fast] = a_hp[fast]
    reason[fast] = Reason.NONE
    digits[fast] = SCREEN_DIGITS
    with np.errstate(all="ignore"):
        lossy[fast] = np.abs(analytic64 - a_hp)[fast] > thresholds.pass_tol / 10 * np.abs(a_hp)[fast]
    flag = flag & ~fast
    if np.any(flag):
        budget = budget or Budget()
        compiled = {}
        todo = list(zip(*np.nonzero(flag)))
        for k, (p, j) in enumerate(todo):
            if j not in compiled:
                compiled[j] = precise([f_expr, analytic_exprs[j], truth_exprs[j]])
            r = referee(compiled[j], list(pts[p]), cols[j], thresholds, analytic64=float(analytic64[p, j]),
                        switches=switches, budget=budget, until=budget.share(len(todo) - k))
            status[p, j], reason[p, j], digits[p, j], lossy[p, j] = r.status, r.reason, r.digits, r.lossy_formula
            beyond[p, j] = r.beyond
            if r.status is Status.KINK:
                continue  # the float64 row stays as evidence; the status says kink
            analytic[p, j], numeric[p, j], error[p, j], rel[p, j] = r.analytic, r.numeric, r.error, r.rel
    return ExprVerdicts(analytic=analytic, numeric=numeric, error=error, rel=rel, status=status, reason=reason,
                        digits=digits, lossy=lossy, floor=res.floor, beyond=beyond)




def judge_rows(rows: dict, pairs: Sequence, analytic_exprs: Sequence, truth_exprs: Sequence, names: Sequence[str],
               pts: np.ndarray, analytic64: np.ndarray, estimates: dict, thresholds: Thresholds,
               kink_stencil: dict | None = None, budget: Budget | None = None, *, precise: Callable,
               switches: dict | None = None) -> ExprVerdicts:
    """``judge_expression`` for second partials: entry ``(a, b)`` is the derivative along
    ``b`` of ``rows[a]`` (sympy's first partial along ``a``), whose finite-difference
    estimate is ``estimates[a]``; ``kink_stencil[a]`` has one column per coordinate.
    Arrays come back in the order of ``pairs``, shape ``(P, len(pairs))``."""
    budget = budget or Budget()
    P, m = len(pts), len(pairs)
    parts: dict = {}
    for a in dict.fromkeys(a for a, _ in pairs):
        js = [j for j, (r, _) in enumerate(pairs) if r == a]
        cols = [list(names).index(pairs[j][1]) for j in js]
        ks = None if kink_stencil is None else np.asarray(kink_stencil[a])[:, cols]
        parts[a] = (js, judge_expression(rows[a], [analytic_exprs[j] for j in js], [truth_exprs[j] for j in js],
                                         names, cols, pts, analytic64[:, js], estimates[a], thresholds, ks, budget,
                                         precise=precise, switches=(switches or {}).get(a)))
    fields = {}
    for name in ExprVerdicts.__dataclass_fields__:
        sample = getattr(next(iter(parts.values()))[1], name)
        out = np.empty((P, m), dtype=sample.dtype)
        for js, v in parts.values():
            out[:, js] = getattr(v, name)
        fields[name] = out
    return ExprVerdicts(**fields)
