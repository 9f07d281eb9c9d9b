"""Orchestration of ``expr`` (and what every check shares): request -> Report.

Each ``check_*`` function validates its input, computes analytic and numeric values
with the core modules, applies the verdict and returns a report.  Nothing here prints;
``assert_*`` helpers live in ``testing.py``.  The other commands have their own
orchestration modules on top of this one: ``check_net`` (``net``), ``check_func``
(``func``, ``sanity`` and ``check_gradient``), ``check_sweep`` (``sweep``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .errors import DomainError, OptionError
from .finite_diff import Method, default_step, estimate_gradient
from .results import Check, Report, count_statuses
from .verdict import Thresholds, classify, floor_from_noise, relative_error


@dataclass(frozen=True)
class ExpressionProblem:
    """A parsed ``expr`` request: what to differentiate, where, and against what."""

    expression: object  # expression.Expression
    names: tuple[str, ...]  # coordinates of a point, in order
    wrt: tuple[str, ...]
    derivatives: tuple[object, ...]  # sympy partial per wrt variable (the truth)
    claimed: tuple[object | None, ...]  # user's claimed derivative per wrt variable, or None
    claimed_text: tuple[str | None, ...]


def validate_method(method: str | Method, eps: float | None) -> Method:
    try:
        method = Method(method)
    except ValueError:
        raise OptionError(f"--method must be one of central, complex, richardson, got {method!r}") from None
    if eps is not None and not (np.isfinite(eps) and eps > 0):
        raise OptionError(f"--eps must be a positive number, got {eps!r}")
    return method


def _claims(grads: Sequence[str], wrt: Sequence[str], known: Sequence[str]):
    """``--grad`` values -> ({variable: expression}, {variable: text})."""
    from . import expression as ex
    from .points import split_assignment

    claims, texts = {}, {}
    if not grads:
        return claims, texts
    pairs = [split_assignment(g) for g in grads]
    named = [n is not None for n, _ in pairs]
    if any(named) and not all(named):
        raise OptionError("--grad: give either one derivative per --wrt variable in order, or name each (--grad \"x=...\")")
    if not any(named):
        if len(grads) != len(wrt):
            raise OptionError(
                f"--grad given {len(grads)} time{'s' if len(grads) != 1 else ''} but there "
                f"{'is' if len(wrt) == 1 else 'are'} {len(wrt)} variable{'s' if len(wrt) != 1 else ''} "
                f"to differentiate ({', '.join(wrt)}); give one per variable or name them: --grad \"x=...\""
            )
        pairs = list(zip(wrt, grads))
    for name, text in pairs:
        if name not in wrt:
            raise OptionError(f"--grad {name}=...: '{name}' is not differentiated (--wrt is {', '.join(wrt)})")
        if name in claims:
            raise OptionError(f"--grad: '{name}' is given twice")
        claims[name] = ex.parse(text, allowed=known).expr
        texts[name] = text.strip()
    return claims, texts


def prepare_expression(
    text: str, at: Sequence[str] = (), grads: Sequence[str] = (), wrt: str | Sequence[str] | None = None
) -> ExpressionProblem:
    """Parse the expression, ``--wrt`` and ``--grad``; derive sympy's partials."""
    from . import expression as ex
    from .points import at_names, parse_names, text_names

    parsed = ex.parse(text)
    # a name written in the text is a variable even when it cancels (0*y): its partial is 0
    written = {n for n in text_names(text) if n not in ex.FUNCTIONS and n not in ex.CONSTANTS}
    known = sorted(set(parsed.variables) | at_names(at) | written)
    if wrt is None or wrt == "":
        wrt_names = list(parsed.variables)
    elif isinstance(wrt, str):
        wrt_names = parse_names(wrt, "--wrt")
    else:
        wrt_names = list(wrt)
    for n in wrt_names:
        if n not in known:
            raise OptionError(
                f"--wrt: unknown variable '{n}' (the expression's variables: {', '.join(parsed.variables) or 'none'})"
            )
    if not wrt_names:
        raise OptionError(f"the expression {text.strip()!r} has no variables to differentiate "
                          "(name one with --wrt and give its value with --at)")
    names = tuple(sorted(set(parsed.variables) | set(wrt_names)))
    claims, texts = _claims(grads, wrt_names, names)
    derivs = ex.derivatives(parsed.expr, wrt_names, text)
    return ExpressionProblem(
        expression=parsed,
        names=names,
        wrt=tuple(wrt_names),
        derivatives=derivs,
        claimed=tuple(claims.get(n) for n in wrt_names),
        claimed_text=tuple(texts.get(n) for n in wrt_names),
    )


def point_text(names: Sequence[str], point: np.ndarray) -> str:
    return ", ".join(f"{n}={v:.6g}" for n, v in zip(names, point))


def expression_points(
    problem: ExpressionProblem, at: Sequence[str] = (), points: int | None = None, seed: int = 0
) -> np.ndarray:
    """The points to check, shape ``(P, len(names))``: ``--at`` ones, else random ones.

    Every point must have f and sympy's partials real and finite (DomainError otherwise).
    """
    from . import expression as ex
    from .points import parse_at

    names = problem.names
    F = ex.compile_many((problem.expression.expr,) + problem.derivatives, names)
    if points is not None and points < 1:
        raise OptionError(f"--points must be at least 1, got {points}")
    if at:
        pts = np.array([parse_at(spec, names, ex.parse_constant) for spec in at])
        vals = F(pts.T)
        for p, col in zip(pts, vals.T):
            if not np.isfinite(col[0]):
                raise DomainError(
                    f"point {point_text(names, p)} is outside the domain: "
                    f"f = {ex.display(problem.expression.expr)} is not real and finite there"
                    + (" (it overflows float64)" if np.isinf(col[0]) else "")
                )
            for v, d, dv in zip(problem.wrt, problem.derivatives, col[1:]):
                if not np.isfinite(dv):
                    raise DomainError(
                        f"point {point_text(names, p)} is outside the domain: "
                        f"d/d{v} = {ex.display(d)} is not real and finite there"
                    )
        if points is not None:
            pts = np.concatenate([pts, _random(problem, F, points, seed)])
        return pts
    return _random(problem, F, 3 if points is None else points, seed)


def _random(problem: ExpressionProblem, F, count: int, seed: int) -> np.ndarray:
    from .points import random_points

    def valid(cand: np.ndarray) -> np.ndarray:
        return np.all(np.isfinite(F(cand.T)), axis=0)

    return random_points(valid, len(problem.names), count, seed)


def verdict_rows(names, pts, entries, analytic, numeric, noise, kink, thresholds) -> tuple:
    """Checks for every (point, entry), point-major; the arrays have shape (P, len(entries))."""
    floor = floor_from_noise(noise, thresholds)
    rel = relative_error(analytic, numeric, floor)
    status = classify(rel, thresholds, kink)
    return tuple(
        Check(name=e, analytic=float(analytic[p, j]), numeric=float(numeric[p, j]), rel_error=float(rel[p, j]),
              status=status[p, j], floor=float(floor[p, j]), point={n: float(v) for n, v in zip(names, pts[p])})
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
    partial (both in ``extra``).  The extras use the same points as the checks.

    >>> check_expression("sin(x) - cos(x)", at=["x=0.5"]).status.value
    'pass'
    """
    from dataclasses import asdict, replace

    from . import expression as ex

    if order not in (1, 2):
        raise OptionError(f"--order must be 1 or 2, got {order}")
    order = 2 if hessian else order
    if order == 2 and grads:
        raise OptionError('--grad claims first derivatives; with --order 2 claim second ones with --hessian "x,y=EXPR"')
    method = validate_method(method, eps)
    problem = prepare_expression(text, at, grads, wrt)
    if order == 2:
        hp = prepare_hessian(problem, hessian)
        pts = hessian_points(hp, at, points, seed)
        report = hessian_report(hp, pts, method, eps, thresholds)
    else:
        pts = expression_points(problem, at, points, seed)
        report = first_order_report(problem, pts, method, eps, thresholds)
    extra = dict(report.extra)
    if taylor:
        parts = _taylor_extras(report, expression_taylor(problem, pts, seed), problem.names, pts, seed)
        report = replace(report, notes=parts["notes"], hints=parts["hints"])
        extra.update(parts["extra"])
    if graph:
        from .graph import build_graph

        extra["graph"] = [build_graph(problem.expression.expr, problem.names, p).to_dict() for p in pts]
    if derivation:
        extra["derivation"] = [asdict(d) for d in ex.derivations(problem.expression.expr, problem.wrt)]
    return replace(report, extra=extra)


def first_order_report(problem: ExpressionProblem, pts: np.ndarray, method: Method, eps: float | None,
                       thresholds: Thresholds) -> Report:
    """First partials at ``pts``: analytic (claimed or sympy's) against finite differences."""
    from . import expression as ex

    names, wrt_names = problem.names, problem.wrt
    f_num = ex.compile_one(problem.expression.expr, names, complex_step=method is Method.COMPLEX)
    est = estimate_gradient(f_num, pts, method, eps)
    cols = [names.index(v) for v in wrt_names]
    numeric, noise = est.value[:, cols], est.noise[:, cols]
    analytic_exprs = [c if c is not None else d for c, d in zip(problem.claimed, problem.derivatives)]
    analytic = ex.compile_many(analytic_exprs, names)(pts.T).T  # (P, m)
    # the complex step has no real stencil; a kink within the central step counts for it
    kink_steps = default_step(pts) if method is Method.COMPLEX else est.step
    kink = ex.kink_mask(ex.kinks(problem.expression.expr), names, pts, kink_steps)[:, cols]
    checks = verdict_rows(names, pts, wrt_names, analytic, numeric, noise, kink, thresholds)
    header = tuple(
        f"d/d{v} = {t if t is not None else ex.display(d)}" + ("  (claimed)" if t is not None else "")
        for v, d, t in zip(wrt_names, problem.derivatives, problem.claimed_text)
    )
    return Report(
        command="expr",
        method=method,
        thresholds=thresholds,
        checks=checks,
        counts=count_statuses([c.status for c in checks]),
        header=header,
    )


# ------------------------------------------------------------------ parameter blocks
@dataclass(frozen=True)
class BlockData:
    """Analytic and numeric values of one parameter block, flat, before the verdict.

    ``indices`` are the flat indices (into the block) that were checked, in the order
    of the arrays; ``None`` means every entry in order.
    """

    name: str
    shape: tuple[int, ...]
    analytic: np.ndarray
    numeric: np.ndarray
    noise: np.ndarray
    kink: np.ndarray | None = None
    indices: np.ndarray | None = None


@dataclass(frozen=True)
class BlockVerdict:
    """Per-block verdicts: block summaries, the entries to show, counts over all."""

    blocks: tuple  # of results.BlockResult
    checks: tuple  # of results.Check: every failing entry, then the top-K worst
    counts: dict
    statuses: dict  # block name -> object array of Status per checked entry
    rel: dict  # block name -> relative errors per checked entry


def judge_blocks(data: Sequence[BlockData], thresholds: Thresholds, top: int = 5) -> BlockVerdict:
    """Apply the verdict entry by entry; summarise per block; pick entries to report.

    ``checks`` holds every failing (or, under ``--strict``, warning) entry plus the
    ``top`` worst entries overall, worst first.
    """
    from .results import BlockResult, merge_counts
    from .verdict import STATUS_BY_CODE, status_codes, worst

    results, counts, statuses, rels, parts = [], [], {}, {}, []
    for bi, b in enumerate(data):
        floor = floor_from_noise(b.noise, thresholds)
        rel = relative_error(b.analytic, b.numeric, floor)
        code = status_codes(rel, thresholds, b.kink)
        st = STATUS_BY_CODE[code]
        idx = np.arange(len(rel)) if b.indices is None else np.asarray(b.indices)
        ranked = np.where(code == 3, -1.0, np.nan_to_num(rel, nan=np.inf))
        w = int(np.argmax(ranked)) if len(rel) else None
        tally = np.bincount(code, minlength=4)
        c = {"checks": len(rel), "pass": int(tally[0]), "warn": int(tally[1]), "fail": int(tally[2]), "kink": int(tally[3])}
        results.append(BlockResult(
            name=b.name, shape=tuple(b.shape), checked=len(rel),
            max_rel_error=float(ranked[w]) if w is not None and ranked[w] >= 0 else 0.0,
            worst_index=tuple(int(i) for i in np.unravel_index(idx[w], b.shape)) if w is not None else None,
            status=worst(STATUS_BY_CODE[np.unique(code)]), counts=c,
        ))
        counts.append(c)
        statuses[b.name], rels[b.name] = st, rel
        failing = (code == 2) | ((code == 1) & thresholds.strict)
        parts.append((np.full(len(rel), bi), np.arange(len(rel)), ranked, failing, floor))
    if parts:
        block_of, entry, ranked, failing, floor = (np.concatenate(a) for a in zip(*parts))
        order = np.argsort(-ranked, kind="stable")
        keep = np.zeros(len(order), dtype=bool)
        keep[order[:top]] = True
        keep |= failing
        chosen = [i for i in order if keep[i]]
    else:
        chosen = []
    checks = []
    for i in chosen:
        b, j = data[block_of[i]], entry[i]
        flat = j if b.indices is None else b.indices[j]
        checks.append(Check(
            name=b.name, analytic=float(b.analytic[j]), numeric=float(b.numeric[j]),
            rel_error=float(rels[b.name][j]), status=statuses[b.name][j], floor=float(floor[i]),
            index=tuple(int(k) for k in np.unravel_index(flat, b.shape)),
        ))
    return BlockVerdict(tuple(results), tuple(checks), merge_counts(counts), statuses, rels)


# ------------------------------------------------------------------ shared by the checks
def validate_seed(seed: int) -> int:
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise OptionError(f"--seed must be a whole number >= 0, got {seed!r}")
    return int(seed)


def callable_name(fn) -> str:
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__
    return "<lambda>" if name.endswith("<lambda>") else name


def with_second_opinions(report: Report, cost, grad_fn, x: np.ndarray, g: np.ndarray, *,
                          hvp: int = 0, taylor: bool = False, seed: int = 0) -> Report:
    """Add ``--hvp K`` symmetry rows and the ``--taylor`` order to a net/func report.

    ``cost(x) -> float`` and ``grad_fn(flat x) -> flat gradient`` are the checked
    function; ``g`` the gradient at ``x``.  Hessian-vector rows count in the summary;
    the Taylor order is advisory (a note, a hint if it disagrees, JSON ``taylor_order``).
    """
    from dataclasses import replace

    from .results import merge_counts

    if hvp < 0:
        raise OptionError(f"--hvp must be at least 0, got {hvp}")
    checks, counts, notes, hints, extra = list(report.checks), dict(report.counts), list(report.notes), list(report.hints), dict(report.extra)
    if hvp:
        from .second_order import hvp_checks, hvp_symmetry

        rows = hvp_checks(hvp_symmetry(grad_fn, x, hvp, seed, report.thresholds))
        checks += rows
        counts = merge_counts([counts, count_statuses([r.status for r in rows])])
        notes.append(f"hvp: {hvp} random Hessian-vector products of the gradient, u^T H v against v^T H u "
                     "(a gradient field has a symmetric Jacobian)")
    if taylor:
        from .sweep import taylor_test

        t = taylor_test(lambda z: float(cost(z.reshape(np.shape(x)))), np.ravel(x), np.ravel(g), seed)
        notes.append(f"Taylor test along a random direction (seed {seed}): {t.verdict()}")
        if not t.consistent and report.status.value == "pass":
            hints.append("the Taylor test says the gradient is wrong along a random direction, although no "
                         "entry failed: check with a tighter --fail-tol or --hvp")
        extra["taylor_order"] = t.order
    return replace(report, checks=tuple(checks), counts=counts, notes=tuple(notes), hints=tuple(hints), extra=extra)


# ------------------------------------------------------------------ second order, sweep, Taylor, graph, descent
# Orchestration for `expr --order 2 / --hessian / --taylor / --graph / --show-steps /
# --latex`, `sweep` and `descend`; the numerics live in second_order.py, sweep.py,
# graph.py and descent.py.


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
    from . import expression as ex
    from .second_order import hessian_pairs, parse_hessian_claim

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


def hessian_points(hp: HessianProblem, at: Sequence[str] = (), points: int | None = None, seed: int = 0) -> np.ndarray:
    """Points where f, its first partials and the checked second partials are finite."""
    from dataclasses import replace

    from . import expression as ex
    from .second_order import entry_label

    problem = hp.problem
    extended = replace(problem, derivatives=problem.derivatives + tuple(hp.rows.values()) + hp.truth)
    pts = expression_points(extended, at, points, seed)
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
    from . import expression as ex
    from .second_order import entry_label, entry_name, hessian_rows

    problem = hp.problem
    names, expr = problem.names, problem.expression.expr
    complex_step = method is Method.COMPLEX
    est = hessian_rows({a: ex.compile_one(g, names, complex_step) for a, g in hp.rows.items()}, pts, method, eps)
    kinks = {a: ex.kink_mask(tuple(dict.fromkeys(ex.kinks(expr) + ex.kinks(g))), names, pts, est[a].step)
             for a, g in hp.rows.items()}
    col = lambda arrays, pairs: np.stack([arrays(a)[:, names.index(b)] for a, b in pairs], axis=1)  # noqa: E731
    analytic = ex.compile_many([c[0] if c else t for c, t in zip(hp.claimed, hp.truth)], names)(pts.T).T
    checks = verdict_rows(
        names, pts, [entry_name(a, b) for a, b in hp.pairs], analytic,
        col(lambda a: est[a].value, hp.pairs), col(lambda a: est[a].noise, hp.pairs),
        col(lambda a: kinks[a], hp.pairs), thresholds,
    )
    header = tuple(
        f"{entry_label(a, b)} = {c[1] + '  (claimed)' if c else ex.display(t)}"
        for (a, b), c, t in zip(hp.pairs, hp.claimed, hp.truth)
    )
    return Report(command="expr", method=method, thresholds=thresholds, checks=checks,
                  counts=count_statuses([c.status for c in checks]), header=header, extra={"order": 2})


def gradient_exprs(problem: ExpressionProblem) -> list:
    """The gradient over every coordinate: the claimed partial where there is one, else sympy's."""
    from . import expression as ex

    given = {v: (c if c is not None else d) for v, c, d in zip(problem.wrt, problem.claimed, problem.derivatives)}
    return [given[n] if n in given else ex.partial(problem.expression.expr, n) for n in problem.names]


def expression_taylor(problem: ExpressionProblem, pts: np.ndarray, seed: int = 0) -> list:
    """``sweep.taylor_test`` of the (claimed) gradient at every point, direction seeded by ``seed``."""
    from . import expression as ex
    from .sweep import taylor_test

    f = ex.compile_one(problem.expression.expr, problem.names)
    grads = ex.compile_many(gradient_exprs(problem), problem.names)(pts.T).T
    return [taylor_test(lambda q: float(f(q[:, None])[0]), p, g, seed) for p, g in zip(pts, grads)]


def _taylor_extras(report: Report, tests: Sequence, names: Sequence[str], pts: np.ndarray, seed: int) -> dict:
    """Notes, hints and JSON fields of the Taylor test; ``taylor_order`` is the lowest order."""
    orders = [t.order for t in tests if t.order is not None]
    notes = tuple(f"Taylor test at {point_text(names, p)} (seed {seed}): {t.verdict()}"
                  for p, t in zip(pts, tests))
    hints = ()
    if report.passed and not all(t.consistent for t in tests):
        hints = ("the Taylor test disagrees with the finite-difference checks: a kink (abs, max, relu) "
                 "within 0.1 of the point along the test direction gives order 1 for a correct gradient",)
    return {
        "notes": report.notes + notes,
        "hints": report.hints + hints,
        "extra": {"taylor_order": min(orders) if orders else None,
                  "taylor": [{"point": {n: float(v) for n, v in zip(names, p)}, **t.to_dict()}
                             for p, t in zip(pts, tests)]},
    }


# ------------------------------------------------------------------ descend
def run_descent(text: str, *, x0: str, lr: float = 0.01, tol: float = 1e-5, max_iter: int = 10_000,
                progress=None):
    """``gradcheck descend``: gradient descent on the expression with sympy's gradient.

    ``x0`` is written like ``--at`` (``"6"`` or ``"x=1,y=2"``).  Returns a
    ``descent.DescentResult``; a start outside the domain raises DomainError.

    >>> run_descent("x**4 - 3*x**3", x0="6").outcome.value
    'converged'
    """
    from . import expression as ex
    from .descent import descend, validate_descent

    validate_descent(lr, tol, max_iter)
    problem = prepare_expression(text, [x0])
    start = expression_points(problem, [x0])[0]
    F = ex.compile_many((problem.expression.expr,) + problem.derivatives, problem.names)

    def cost_and_grad(x: np.ndarray):
        out = F(x[:, None])[:, 0]
        return out[0], out[1:]

    header = (f"f = {ex.display(problem.expression.expr)}",) + tuple(
        f"d/d{v} = {ex.display(d)}" for v, d in zip(problem.wrt, problem.derivatives))
    return descend(cost_and_grad, start, lr, tol, max_iter, progress, names=problem.names, header=header)
