"""``gradcheck expr``: every partial derivative of an expression (sympy's, or claimed with
``--grad``) against finite differences; ``--order 2``/``--hessian`` for second partials,
``--taylor``, ``--graph``, ``--show-steps``/``--latex`` as extras of the same report; a
vector ``[f1, f2, ...]`` as a Jacobian, one block per output (``--grad`` a matrix).
A failing claim gets a diagnosis, ``--prove`` a symbolic proof (``expression``).

Validates, computes with the core (``problem``, ``expression``, ``finite_diff``,
``verdict``) and returns a ``Report``; nothing here prints.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np

from .. import expression as ex
from ..choices import Method
from ..diagnosis import TAYLOR_NEAR_KINK
from ..errors import OptionError
from ..finite_diff import default_step, estimate_gradient, validate_step
from ..problem import (ExpressionProblem, HessianProblem, claim_rows, expression_points, gradient_exprs,
                       hessian_points, prepare_expression, prepare_hessian)
from ..points import parse_names
from ..referee import Budget, judge_expression, judge_rows
from ..results import Check, ExpressionSubject, Formula, Report, TaylorAt, count_statuses
from ..verdict import Thresholds
from .common import timed


def _rows(v, names, pts, entries) -> tuple:
    """Checks for every (point, entry), point-major, from ``ExprVerdicts`` of shape (P, m)."""
    return tuple(
        Check(name=e, analytic=float(v.analytic[p, j]), numeric=float(v.numeric[p, j]), rel_error=float(v.rel[p, j]),
              status=v.status[p, j], floor=float(v.floor[p, j]), point={n: float(x) for n, x in zip(names, pts[p])},
              error=float(v.error[p, j]), reason=v.reason[p, j].value, digits=int(v.digits[p, j]) or None,
              lossy_formula=bool(v.lossy[p, j]), exact_text=v.beyond[p, j])
        for p in range(len(pts))
        for j, e in enumerate(entries)
    )


@timed
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
    prove: bool = False,
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
    A claimed first partial that fails gets a diagnosis (``expression.diagnose``);
    ``prove`` tries to prove each claim identical to sympy's (``expression.prove``).

    >>> check_expression("sin(x) - cos(x)", at=["x=0.5"]).status.value
    'pass'
    """
    outputs = ex.split_vector(text)
    if outputs is not None:
        if order != 1 or hessian or taylor or graph or derivation:
            raise OptionError("a vector expression [f1, f2, ...] is checked as a Jacobian: "
                              "--order 2, --hessian, --taylor, --graph, --show-steps and --latex take a scalar one")
        return check_jacobian(outputs, at=at, points=points, seed=seed, grads=grads, wrt=wrt, method=method,
                              eps=eps, thresholds=thresholds, prove=prove)
    if isinstance(order, bool) or order not in (1, 2):
        raise OptionError(f"--order must be 1 or 2, got {order}")
    order = 2 if hessian else order
    if order == 2 and grads:
        raise OptionError('--grad claims first derivatives; with --order 2 claim second ones with --hessian "x,y=EXPR"')
    method = validate_step(method, eps)
    problem = prepare_expression(text, at, grads, wrt)
    if prove and (order == 2 or not grads):
        raise OptionError(_PROVE_NEEDS_CLAIMS)
    if order == 2:
        hp = prepare_hessian(problem, hessian)
        pts = hessian_points(hp, points, seed)
        report = hessian_report(hp, pts, method, eps, thresholds)
    else:
        pts = expression_points(problem, points, seed, exact=True)
        report = first_order_report(problem, pts, method, eps, thresholds)
    if order == 1:
        report = explain_claims(report, problem, pts, prove, seed)
    if taylor:
        report = _with_taylor(report, expression_taylor(problem, pts, seed), problem.names, pts, seed)
    if graph:
        from ..graph import build_graph

        report = replace(report, graphs=tuple(build_graph(problem.expression.expr, problem.names, p) for p in pts))
    if derivation:
        report = replace(report, derivations=tuple(ex.derivations(problem.expression.expr, problem.wrt)))
    return report


#: wall-clock budget for the diagnoses and proofs of one command (sympy), in seconds
EXPLAIN_SECONDS = 8.0
_PROVE_NEEDS_CLAIMS = "--prove proves claimed first derivatives: give them with --grad (not with --order 2)"


def first_order_report(problem: ExpressionProblem, pts: np.ndarray, method: Method, eps: float | None,
                       thresholds: Thresholds, budget=None) -> Report:
    """First partials at ``pts``: analytic (claimed or sympy's) against finite differences."""
    names, wrt_names = problem.names, problem.wrt
    f_num = ex.compile_one(problem.expression.expr, names, complex_step=method is Method.COMPLEX)
    with np.errstate(all="ignore"):  # float64 may overflow at a valid point: the referee decides there
        est = estimate_gradient(f_num, pts, method, eps)
    cols = [names.index(v) for v in wrt_names]
    analytic_exprs = [c if c is not None else d for c, d in zip(problem.claimed, problem.derivatives)]
    analytic = ex.compile_many(analytic_exprs, names)(pts.T).T  # (P, m)
    # the complex step has no real stencil; a kink within the central step counts for it
    kink_steps = default_step(pts) if method is Method.COMPLEX else est.step
    kink = ex.kink_mask(ex.kinks(problem.expression.expr), names, pts, kink_steps)[:, cols]
    v = judge_expression(problem.expression.expr, analytic_exprs, problem.derivatives, names, cols, pts,
                         analytic, est, thresholds, kink_stencil=kink, budget=budget,
                         precise=lambda exprs: ex.compile_precise(exprs, names),
                         switches=ex.compile_switches(problem.expression.expr, names))
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


def explain_claims(report: Report, problem: ExpressionProblem, pts: np.ndarray, prove: bool, seed: int,
                   end: float | None = None) -> Report:
    """Diagnoses of failing claims (always) and proofs of claims (``prove``); sympy work is
    done only here, so a passing check without ``--prove`` pays nothing."""
    from ..verdict import Status

    import time

    names, f = problem.names, problem.expression.expr
    failing = {c.name: c.point for c in reversed(report.checks) if c.status is Status.FAIL}
    todo = [(v, c, t, d) for v, c, t, d in zip(problem.wrt, problem.claimed, problem.claimed_text,
                                                problem.derivatives) if c is not None and (prove or v in failing)]
    # one budget for the command, shared fairly: the time left over the items left
    end = time.monotonic() + EXPLAIN_SECONDS if end is None else end
    diagnoses, proofs = [], []
    for k, (v, claim, text, truth) in enumerate(todo):
        if v in failing:
            from ..expression.diagnose import diagnose

            share = (end - time.monotonic()) / ((len(todo) - k) * (2 if prove else 1))
            diagnoses.append(diagnose(f, v, claim, text, names, failing[v], seconds=share))
        if prove:
            from ..expression.prove import prove as prove_claim

            share = (end - time.monotonic()) / (len(todo) - k)
            proofs.append(prove_claim(claim, truth, v, names, [list(p) for p in pts], seed, seconds=share))
    return replace(report, subject=replace(report.subject, diagnoses=tuple(diagnoses), proofs=tuple(proofs)))


# ------------------------------------------------------------------ second order and Taylor
# `expr --order 2 / --hessian / --taylor`; the numerics live in second_order.py and sweep.py.


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
    v = judge_rows(hp.rows, hp.pairs, analytic_exprs, hp.truth, names, pts, analytic, est, thresholds, kinks,
                   precise=lambda exprs: ex.compile_precise(exprs, names),
                   switches={a: ex.compile_switches(g, names) for a, g in hp.rows.items()})
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
    orders = [t.order for t in tests if t.order is not None]
    hints = ()
    if report.passed and not all(t.consistent for t in tests):
        hints = (TAYLOR_NEAR_KINK,)
    return replace(
        report, hints=report.hints + hints, seed=seed, taylor_order=min(orders) if orders else None,
        taylor_points=tuple(TaylorAt({n: float(v) for n, v in zip(names, p)}, t) for p, t in zip(pts, tests)),
    )


# ------------------------------------------------------------------ vector expressions: the Jacobian
# `expr "[f1, f2, ...]"`: every output checked as a scalar expr at the same points, one budget.


def check_jacobian(
    outputs: Sequence[str],
    *,
    at: Sequence[str] = (),
    points: int | None = None,
    seed: int = 0,
    grads: Sequence[str] = (),
    wrt: str | Sequence[str] | None = None,
    method: str | Method = Method.CENTRAL,
    eps: float | None = None,
    thresholds: Thresholds = Thresholds(),
    prove: bool = False,
) -> Report:
    """Check the Jacobian ``d f_k / d x_j`` of the outputs ``f_1 .. f_m`` (texts): each
    output as a scalar ``expr`` (``first_order_report``) at the same points, valid for
    every output, sharing one referee budget.  ``--grad`` is ``[[df1/dx, df1/dy], ...]``
    (rows: outputs; columns: ``--wrt``, by default every variable sorted) or one ``[...]``
    row per output.

    >>> r = check_jacobian(["exp(x)*y", "sin(x*y)"], at=["x=0.5,y=2"])
    >>> [(c.output, c.name, c.status.value) for c in r.checks]
    [(1, 'x', 'pass'), (1, 'y', 'pass'), (2, 'x', 'pass'), (2, 'y', 'pass')]
    """
    method = validate_step(method, eps)
    if prove and not grads:
        raise OptionError(_PROVE_NEEDS_CLAIMS)
    variables = sorted({v for text in outputs for v in ex.parse(text).variables})
    if wrt is None or wrt == "":
        wrt_names = variables
    else:
        wrt_names = parse_names(wrt, "--wrt") if isinstance(wrt, str) else list(wrt)
    rows = claim_rows(grads, len(outputs), wrt_names)
    problems = [prepare_expression(text, at, row, wrt_names, others=variables) for text, row in zip(outputs, rows)]
    if len({p.names for p in problems}) != 1:  # a variable known only from --at in one output
        names = tuple(sorted({n for p in problems for n in p.names}))
        problems = [replace(p, names=names) for p in problems]
    # points where every output and every partial is defined
    every = replace(problems[0], derivatives=tuple(d for p in problems for d in p.derivatives)
                    + tuple(p.expression.expr for p in problems[1:]))
    pts = expression_points(every, points, seed, exact=True)
    import time

    budget, end = Budget(), time.monotonic() + EXPLAIN_SECONDS  # one referee and one sympy budget
    checks, formulas, diagnoses, proofs = [], [], [], []
    for k, problem in enumerate(problems, 1):
        part = first_order_report(problem, pts, method, eps, thresholds, budget)
        part = explain_claims(part, problem, pts, prove, seed, end)
        checks += [replace(c, output=k) for c in part.checks]
        formulas += [replace(f, label=f"df{k}/{f.label[2:]}") for f in part.subject.formulas]
        diagnoses += [replace(d, output=k) for d in part.subject.diagnoses]
        proofs += [replace(p, output=k) for p in part.subject.proofs]
    return Report(command="expr", method=method, thresholds=thresholds, checks=tuple(checks),
                  counts=count_statuses([c.status for c in checks]),
                  subject=ExpressionSubject(tuple(formulas), outputs=tuple(p.expression.text.strip() for p in problems),
                                            diagnoses=tuple(diagnoses), proofs=tuple(proofs)))
