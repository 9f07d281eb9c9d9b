"""Orchestration: turn a request into a :class:`~gradcheck_cli.results.Report`.

Each ``check_*`` function validates its input, computes analytic and numeric values
with the core modules, applies the verdict and returns a report.  Nothing here prints;
``assert_*`` helpers live in ``testing.py``.
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
    from .points import at_names, parse_names

    parsed = ex.parse(text)
    known = sorted(set(parsed.variables) | at_names(at))
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
        raise OptionError(f"the expression {text.strip()!r} has no variables to differentiate")
    names = tuple(sorted(set(parsed.variables) | set(wrt_names)))
    claims, texts = _claims(grads, wrt_names, names)
    derivs = tuple(ex.partial(parsed.expr, n) for n in wrt_names)
    return ExpressionProblem(
        expression=parsed,
        names=names,
        wrt=tuple(wrt_names),
        derivatives=derivs,
        claimed=tuple(claims.get(n) for n in wrt_names),
        claimed_text=tuple(texts.get(n) for n in wrt_names),
    )


def _point_text(names: Sequence[str], point: np.ndarray) -> str:
    return ", ".join(f"{n}={v:.6g}" for n, v in zip(names, point))


def expression_points(
    problem: ExpressionProblem, at: Sequence[str] = (), points: int | None = None, seed: int = 0
) -> np.ndarray:
    """The points to check, shape ``(P, len(names))``: ``--at`` ones, else random ones.

    Every point must have f and sympy's partials real and finite (DomainError otherwise).
    """
    from . import expression as ex
    from .points import parse_at, random_points

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
                    f"point {_point_text(names, p)} is outside the domain: "
                    f"f = {ex.display(problem.expression.expr)} is not real and finite there"
                )
            for v, d, dv in zip(problem.wrt, problem.derivatives, col[1:]):
                if not np.isfinite(dv):
                    raise DomainError(
                        f"point {_point_text(names, p)} is outside the domain: "
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
) -> Report:
    """Check every partial derivative of the expression ``text``.

    The analytic side is sympy's derivative, or the user's claimed one (``grads``, one
    per ``wrt`` variable in order or ``"x=..."``); the numeric side is a
    finite-difference estimate (``finite_diff``).  Points are ``at`` (``"x=1,y=pi/4"``),
    else ``points`` random points (default 3) seeded by ``seed``.

    >>> check_expression("sin(x) - cos(x)", at=["x=0.5"]).status.value
    'pass'
    """
    from . import expression as ex

    method = validate_method(method, eps)
    problem = prepare_expression(text, at, grads, wrt)
    pts = expression_points(problem, at, points, seed)
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
    floor = floor_from_noise(noise, thresholds)
    rel = relative_error(analytic, numeric, floor)
    status = classify(rel, thresholds, kink)
    checks = tuple(
        Check(
            name=v,
            analytic=float(analytic[p, j]),
            numeric=float(numeric[p, j]),
            rel_error=float(rel[p, j]),
            status=status[p, j],
            floor=float(floor[p, j]),
            point={n: float(x) for n, x in zip(names, pts[p])},
        )
        for p in range(len(pts))
        for j, v in enumerate(wrt_names)
    )
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


# ==== net (issue 3) ====================================================================


# ==== func and sanity (issue 4) =========================================================


# ==== second order, sweep, Taylor, graph, descent (issue 5) ============================
