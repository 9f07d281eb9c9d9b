"""``gradcheck expr``: every partial derivative of an expression (sympy's, or claimed with
``--grad``) against finite differences; ``--order 2``/``--hessian`` for second partials,
``--taylor``, ``--graph``, ``--show-steps``/``--latex`` as extras of the same report.

Validates, computes with the core (``problem``, ``expression``, ``finite_diff``,
``verdict``) and returns a ``Report``; nothing here prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .. import expression as ex
from ..choices import Method
from ..diagnosis import TAYLOR_NEAR_KINK
from ..errors import DomainError, OptionError
from ..finite_diff import Estimate, default_step, estimate_gradient, validate_step, zero_scale
from ..problem import ExpressionProblem, expression_points, gradient_exprs, point_text, prepare_expression
from ..referee import SCREEN_DIGITS, Budget, needs_referee, referee, screen
from ..results import Check, ExpressionSubject, Formula, Report, TaylorAt, count_statuses
from ..verdict import CODE, Reason, Status, Thresholds, assess


def _rows(v, names, pts, entries) -> tuple:
    """Checks for every (point, entry), point-major, from ``ExprVerdicts`` of shape (P, m)."""
    return tuple(
        Check(name=e, analytic=float(v.analytic[p, j]), numeric=float(v.numeric[p, j]), rel_error=float(v.rel[p, j]),
              status=v.status[p, j], floor=float(v.floor[p, j]), point={n: float(x) for n, x in zip(names, pts[p])},
              error=float(v.error[p, j]), reason=v.reason[p, j].value, digits=int(v.digits[p, j]) or None,
              lossy_formula=bool(v.lossy[p, j]))
        for p in range(len(pts))
        for j, e in enumerate(entries)
    )


def check_expression(
    text: str,
    *,
    at: Sequence[str] = (),
    points: int | None = None,
    seed: int = 0,
    grads: Sequence[str] = (),
    wrt: str | Sequence[str] | None = None,
    method: str | Method = Method.CENTRAL,
    eps: float | None = None,
    thresholds: Thresholds = Thresholds(),
    order: int = 1,
    hessian: Sequence[str] = (),
    taylor: bool = False,
    graph: bool = False,
    derivation: bool = False,
) -> Report:
    """Check every partial derivative of the expression ``text``.

    The analytic side is sympy's derivative, or the user's claimed one (``grads``, one
    per ``wrt`` variable in order or ``"x=..."``); the numeric side is a
    finite-difference estimate (``finite_diff``).  Points are ``at`` (``"x=1,y=pi/4"``),
    else ``points`` random points (default 3) seeded by ``seed``.

    ``order=2`` (implied by ``hessian``, claimed entries ``"x,y=EXPR"``) checks second
    partials instead; ``taylor`` adds the Taylor test (``taylor_order``); ``graph`` the
    computation graph at each point and ``derivation`` the derivation of each first
    partial (typed fields of the report).  The extras use the same points as the checks.

    >>> check_expression("sin(x) - cos(x)", at=["x=0.5"]).status.value
    'pass'
    """
    from dataclasses import replace

    if isinstance(order, bool) or order not in (1, 2):
        raise OptionError(f"--order must be 1 or 2, got {order}")
    order = 2 if hessian else order
    if order == 2 and grads:
        raise OptionError('--grad claims first derivatives; with --order 2 claim second ones with --hessian "x,y=EXPR"')
    method = validate_step(method, eps)
    problem = prepare_expression(text, at, grads, wrt)
    if order == 2:
        hp = prepare_hessian(problem, hessian)
        pts = hessian_points(hp, points, seed)
        report = hessian_report(hp, pts, method, eps, thresholds)
    else:
        pts = expression_points(problem, points, seed)
        report = first_order_report(problem, pts, method, eps, thresholds)
    if taylor:
        report = _with_taylor(report, expression_taylor(problem, pts, seed), problem.names, pts, seed)
    if graph:
        from ..graph import build_graph

        report = replace(report, graphs=tuple(build_graph(problem.expression.expr, problem.names, p) for p in pts))
    if derivation:
        report = replace(report, derivations=tuple(ex.derivations(problem.expression.expr, problem.wrt)))
    return report


def first_order_report(problem: ExpressionProblem, pts: np.ndarray, method: Method, eps: float | None,
                       thresholds: Thresholds) -> Report:
    """First partials at ``pts``: analytic (claimed or sympy's) against finite differences."""
    names, wrt_names = problem.names, problem.wrt
    f_num = ex.compile_one(problem.expression.expr, names, complex_step=method is Method.COMPLEX)
    est = estimate_gradient(f_num, pts, method, eps)
    cols = [names.index(v) for v in wrt_names]
    analytic_exprs = [c if c is not None else d for c, d in zip(problem.claimed, problem.derivatives)]
    analytic = ex.compile_many(analytic_exprs, names)(pts.T).T  # (P, m)
    # the complex step has no real stencil; a kink within the central step counts for it
    kink_steps = default_step(pts) if method is Method.COMPLEX else est.step
    kink = ex.kink_mask(ex.kinks(problem.expression.expr), names, pts, kink_steps)[:, cols]
    v = judge_expression(problem.expression.expr, analytic_exprs, problem.derivatives, names, cols, pts,
                         analytic, est, thresholds, kink_stencil=kink)
    checks = _rows(v, names, pts, wrt_names)
    formulas = tuple(
        Formula(f"d/d{v}", t if t is not None else ex.display(d), claimed=t is not None)
        for v, d, t in zip(wrt_names, problem.derivatives, problem.claimed_text)
    )
    return Report(
        command="expr",
        method=method,
        thresholds=thresholds,
        checks=checks,
        counts=count_statuses([c.status for c in checks]),
        subject=ExpressionSubject(formulas),
    )


# ------------------------------------------------------------------ second order and Taylor
# `expr --order 2 / --hessian / --taylor`; the numerics live in second_order.py and sweep.py.


@dataclass(frozen=True)
class HessianProblem:
    """The Hessian entries to check: ``pairs`` (a, b), sympy's truth per pair, the
    claimed ``(expression, text)`` per pair (or None), sympy's first partial per row a."""

    problem: ExpressionProblem
    pairs: tuple[tuple[str, str], ...]
    truth: tuple[object, ...]
    claimed: tuple[tuple[object, str] | None, ...]
    rows: dict


def prepare_hessian(problem: ExpressionProblem, hessian: Sequence[str] = ()) -> HessianProblem:
    """``--hessian "x,y=EXPR"`` claims (only those entries are checked), else the upper
    triangle of the Hessian over ``--wrt``."""
    from ..second_order import hessian_pairs, parse_hessian_claim

    names, expr = problem.names, problem.expression.expr
    claims: dict = {}
    for item in hessian:
        a, b, body = parse_hessian_claim(item)
        for n in (a, b):
            if n not in names:
                raise OptionError(f"--hessian {item!r}: unknown variable '{n}' (variables: {', '.join(names)})")
        if (a, b) in claims:
            raise OptionError(f"--hessian: the entry {a},{b} is given twice")
        claims[(a, b)] = (ex.parse(body, allowed=names).expr, body)
    pairs = tuple(claims) if claims else tuple(hessian_pairs(problem.wrt))
    first = dict(zip(problem.wrt, problem.derivatives))
    missing = [a for a in dict.fromkeys(a for a, _ in pairs) if a not in first]
    first.update(zip(missing, ex.derivatives(expr, missing, problem.expression.text)))
    rows = {a: first[a] for a in dict.fromkeys(a for a, _ in pairs)}
    return HessianProblem(
        problem=problem, pairs=pairs, truth=ex.derivatives(expr, pairs, problem.expression.text),
        claimed=tuple(claims.get(p) for p in pairs), rows=rows,
    )


def hessian_points(hp: HessianProblem, points: int | None = None, seed: int = 0) -> np.ndarray:
    """Points where f, its first partials and the checked second partials are finite."""
    from dataclasses import replace

    from ..second_order import entry_label

    problem = hp.problem
    extended = replace(problem, derivatives=problem.derivatives + tuple(hp.rows.values()) + hp.truth)
    pts = expression_points(extended, points, seed)
    bad = np.argwhere(~np.isfinite(ex.compile_many(hp.truth, problem.names)(pts.T)))
    if len(bad):
        j, p = bad[0]
        raise DomainError(
            f"point {point_text(problem.names, pts[p])} is outside the domain: "
            f"{entry_label(*hp.pairs[j])} = {ex.display(hp.truth[j])} is not real and finite there"
        )
    return pts


def hessian_report(hp: HessianProblem, pts: np.ndarray, method: Method = Method.CENTRAL, eps: float | None = None,
                   thresholds: Thresholds = Thresholds()) -> Report:
    """Check each entry H_ab against the finite-difference derivative along b of sympy's
    df/da (``second_order``), with the first-order step rule, noise model and verdict."""
    from ..second_order import entry_label, entry_name, hessian_rows

    problem = hp.problem
    names, expr = problem.names, problem.expression.expr
    complex_step = method is Method.COMPLEX
    est = hessian_rows({a: ex.compile_one(g, names, complex_step) for a, g in hp.rows.items()}, pts, method, eps)
    kinks = {a: ex.kink_mask(tuple(dict.fromkeys(ex.kinks(expr) + ex.kinks(g))), names, pts, est[a].step)
             for a, g in hp.rows.items()}
    analytic_exprs = [c[0] if c else t for c, t in zip(hp.claimed, hp.truth)]
    analytic = ex.compile_many(analytic_exprs, names)(pts.T).T
    v = judge_rows(hp.rows, hp.pairs, analytic_exprs, hp.truth, names, pts, analytic, est, thresholds, kinks)
    checks = _rows(v, names, pts, [entry_name(a, b) for a, b in hp.pairs])
    formulas = tuple(
        Formula(entry_label(a, b), c[1] if c else ex.display(t), claimed=bool(c))
        for (a, b), c, t in zip(hp.pairs, hp.claimed, hp.truth)
    )
    return Report(command="expr", method=method, thresholds=thresholds, checks=checks,
                  counts=count_statuses([c.status for c in checks]), subject=ExpressionSubject(formulas, order=2))


def expression_taylor(problem: ExpressionProblem, pts: np.ndarray, seed: int = 0) -> list:
    """``sweep.taylor_test`` of the (claimed) gradient at every point, direction seeded by ``seed``."""
    from ..sweep import taylor_test

    f = ex.compile_one(problem.expression.expr, problem.names)
    grads = ex.compile_many(gradient_exprs(problem), problem.names)(pts.T).T
    return [taylor_test(lambda q: float(f(q[:, None])[0]), p, g, seed) for p, g in zip(pts, grads)]


def _with_taylor(report: Report, tests: Sequence, names: Sequence[str], pts: np.ndarray, seed: int) -> Report:
    """The Taylor test at every point; ``taylor_order`` is the lowest order (advisory)."""
    from dataclasses import replace

    orders = [t.order for t in tests if t.order is not None]
    hints = ()
    if report.passed and not all(t.consistent for t in tests):
        hints = (TAYLOR_NEAR_KINK,)
    return replace(
        report, hints=report.hints + hints, seed=seed, taylor_order=min(orders) if orders else None,
        taylor_points=tuple(TaylorAt({n: float(v) for n, v in zip(names, p)}, t) for p, t in zip(pts, tests)),
    )


# ------------------------------------------------------------------ the verdict: float64, refereed where needed
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
    G = ex.compile_precise(list(analytic_exprs) + list(truth_exprs), names)
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
        kinky = ex.has_kinks(f_expr)
        compiled = {}
        for p, j in zip(*np.nonzero(flag)):
            if j not in compiled:
                compiled[j] = ex.compile_precise([f_expr, analytic_exprs[j], truth_exprs[j]], names)
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
