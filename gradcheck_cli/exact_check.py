"""Verdicts for ``expr``: the fast float64 check, refereed in extended precision where needed.

For each (point, component) the float64 evidence (analytic value ``a64``, finite
difference ``n`` with error ``e``) is judged by ``verdict.assess``.  A cheap screen
evaluates the analytic and the true (sympy) derivative at 40 digits; the
component goes to ``referee.referee`` when ``referee.needs_referee`` says so
(unresolved, non-finite, a stencil across a non-smooth atom, a formula that loses
digits in float64, a finite difference further from the truth than its own error).
A flagged component whose screen values are settled is decided by them directly (exact
maths at 40 digits with 20 surviving: ``assess(a, t, 1e-12 (|a| + |t|))``) when the float64 difference
is near enough to show beside it; the others get the full referee.  Everything else
keeps its float64 verdict, so ordinary expressions pay only the screen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .expression_precise import compile_precise, has_kinks
from .finite_diff import Estimate, zero_scale
from .referee import SCREEN_DIGITS, Budget, needs_referee, referee, screen
from .verdict import CODE, Reason, Status, Thresholds, assess

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
) -> ExprVerdicts:
    """Judge ``analytic_exprs[j]`` (float64 values ``analytic64[:, j]``) against the
    derivative of ``f_expr`` along ``names[cols[j]]`` (sympy's ``truth_exprs[j]``) at
    every point, refereeing where needed.  ``est`` is the finite-difference estimate of
    every coordinate (``finite_diff.estimate_gradient``); ``kink_stencil`` marks stencils
    that cross a non-smooth atom of ``f``.
    """
    pts = np.atleast_2d(np.asarray(pts, dtype=float))
    cols = list(cols)
    m = len(cols)
    numeric, noise = est.value[:, cols], est.noise[:, cols]
    fs = est.f_scale[:, cols] if est.f_scale is not None else np.zeros_like(numeric)
    zs = zero_scale(fs, pts[:, cols], est.eps)
    res = assess(analytic64, numeric, noise, thresholds, zero_scale=zs)
    G = compile_precise(list(analytic_exprs) + list(truth_exprs), names)
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
        kinky = has_kinks(f_expr)
        compiled = {}
        for p, j in zip(*np.nonzero(flag)):
            if j not in compiled:
                compiled[j] = compile_precise([f_expr, analytic_exprs[j], truth_exprs[j]], names)
            r = referee(compiled[j], list(pts[p]), cols[j], thresholds, analytic64=float(analytic64[p, j]),
                        kinks=kinky, budget=budget)
            status[p, j], reason[p, j], digits[p, j], lossy[p, j] = r.status, r.reason, r.digits, r.lossy_formula
            if r.status is Status.KINK:
                continue  # the float64 row stays as evidence; the status says kink
            analytic[p, j], numeric[p, j], error[p, j], rel[p, j] = r.analytic, r.numeric, r.error, r.rel
    return ExprVerdicts(analytic=analytic, numeric=numeric, error=error, rel=rel, status=status, reason=reason,
                        digits=digits, lossy=lossy, floor=res.floor)




def judge_rows(rows: dict, pairs: Sequence, analytic_exprs: Sequence, truth_exprs: Sequence, names: Sequence[str],
               pts: np.ndarray, analytic64: np.ndarray, estimates: dict, thresholds: Thresholds,
               kink_stencil: dict | None = None, budget: Budget | None = None) -> ExprVerdicts:
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
                                         names, cols, pts, analytic64[:, js], estimates[a], thresholds, ks, budget))
    fields = {}
    for name in ExprVerdicts.__dataclass_fields__:
        sample = getattr(next(iter(parts.values()))[1], name)
        out = np.empty((P, m), dtype=sample.dtype)
        for js, v in parts.values():
            out[:, js] = getattr(v, name)
        fields[name] = out
    return ExprVerdicts(**fields)
