"""An ``expr`` request, parsed once: the expression, the variables, ``--wrt``, the claimed
derivatives (``--grad``), sympy's partials, and the points where all of them are real
and finite (``--at``, else seeded random points).  Used by ``expr``, ``sweep`` and
``descend``; the sympy work is done by the ``expression`` package.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .errors import DomainError, OptionError
from .results import point_label


@dataclass(frozen=True)
class ExpressionProblem:
    """A parsed ``expr`` request: what to differentiate, where, and against what."""

    expression: object  # expression.Expression
    names: tuple[str, ...]  # coordinates of a point, in order
    wrt: tuple[str, ...]
    derivatives: tuple[object, ...]  # sympy partial per wrt variable (the truth)
    claimed: tuple[object | None, ...]  # user's claimed derivative per wrt variable, or None
    claimed_text: tuple[str | None, ...]
    at: tuple = ()  # the --at values, each split once (points.split_at)


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
    text: str, at: Sequence[str] = (), grads: Sequence[str] = (), wrt: str | Sequence[str] | None = None,
    others: Sequence[str] = (),
) -> ExpressionProblem:
    """Parse the expression, ``--wrt`` and ``--grad``; derive sympy's partials.

    ``others``: variables of the other outputs of a vector expression (known here too).
    """
    from . import expression as ex
    from .expression.functions import CONSTANTS, FUNCTIONS
    from .points import at_names, parse_names, split_at, text_names

    parsed = ex.parse(text)
    at_specs = tuple(split_at(spec) for spec in at)
    # a name written in the text is a variable even when it cancels (0*y): its partial is 0
    written = {n for n in text_names(text) if n not in FUNCTIONS and n not in CONSTANTS}
    known = sorted(set(parsed.variables) | at_names(at_specs) | written | set(others))
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
        at=at_specs,
    )


def claim_rows(grads: Sequence[str], outputs: int, wrt: Sequence[str]) -> list[list[str]]:
    """``--grad`` as one row of claims per output: one matrix ``[[...], ...]``, or one
    ``[...]`` row per output; ``[]`` rows when nothing is claimed."""
    if not grads:
        return [[] for _ in range(outputs)]
    from . import expression as ex

    rows = ex.split_vector(grads[0], nested=True) if len(grads) == 1 else None
    if rows is None:
        rows = [ex.split_vector(g) for g in grads]
        if any(r is None for r in rows):
            raise OptionError('--grad for a vector expression is a matrix: "[[df1/dx, df1/dy], [df2/dx, df2/dy]]"')
    if len(rows) != outputs:
        raise OptionError(f"--grad: {len(rows)} row{'s' if len(rows) != 1 else ''} of derivatives for "
                          f"{outputs} outputs")
    for k, row in enumerate(rows, 1):
        if len(row) != len(wrt):
            raise OptionError(f"--grad: row {k} has {len(row)} derivative{'s' if len(row) != 1 else ''}, "
                              f"but there {'is' if len(wrt) == 1 else 'are'} {len(wrt)} variable"
                              f"{'s' if len(wrt) != 1 else ''} ({', '.join(wrt)})")
    return [[f"{v}={c}" for v, c in zip(wrt, row)] for row in rows]


def point_text(names: Sequence[str], point: np.ndarray) -> str:
    """``x=1.5, y=2`` for a point given as coordinates in the order of ``names``."""
    return point_label(dict(zip(names, (float(v) for v in point))))


def expression_points(
    problem: ExpressionProblem, points: int | None = None, seed: int = 0, option: str = "--at",
    exact: bool = False, labels: Sequence[str] = (),
) -> np.ndarray:
    """The points to check, shape ``(P, len(names))``: ``--at`` ones (``problem.at``), else
    ``points`` random ones (default 3; with ``--at`` too: both).

    Every ``--at`` point must have f and sympy's partials real and finite.  With
    ``exact`` (``expr``, whose referee computes in extended precision) that is decided by
    the mathematics (``expression.exact_value``): a point is refused only where a value
    is infinite or not real, never because float64 overflows or underflows on the way
    (``exp(x)`` at 710, ``x/(x+y)`` at 1e-310).  Without it (``sweep``, ``descend``, which
    compute in float64) float64 must hold every value.  DomainError says which value
    fails and why.  ``option`` names the option the points come from (``--at``, ``--x0``);
    ``labels`` name the derivatives beyond the first partials (``d2/dx2``) in messages.
    """
    from . import expression as ex
    from .points import parse_at

    names, at = problem.names, problem.at
    F = ex.compile_many((problem.expression.expr,) + problem.derivatives, names)
    if points is not None and points < 1:
        raise OptionError(f"--points must be at least 1, got {points}")
    if at:
        pts = np.array([parse_at(spec, names, ex.parse_constant, option) for spec in at])
        with np.errstate(all="ignore"):
            vals = F(pts.T)
        for p, col in zip(pts, vals.T):
            labelled = [(f"f = {ex.display(problem.expression.expr)}", problem.expression.expr, col[0])]
            # beyond the first partials (a Hessian's, a Jacobian's other outputs): the formula
            names_of = [f"d/d{v}" for v in problem.wrt] + list(labels)
            labelled += [(f"{names_of[k]} = {ex.display(d)}" if k < len(names_of) else ex.display(d), d, dv)
                         for k, (d, dv) in enumerate(zip(problem.derivatives, col[1:]))]
            for label, e, value in labelled:
                if not np.isfinite(value):
                    kind, shown = ex.exact_value(e, names, p)
                    if kind == "infinite":
                        raise DomainError(f"point {point_text(names, p)} is a singularity: {label} is infinite there")
                    if kind == "too large":
                        raise DomainError(f"at {point_text(names, p)}, {label} is too large for any arithmetic "
                                          "(an exponential of more than 2**50, or a sine of more than 2**16384)")
                    if kind == "undefined":
                        raise DomainError(f"point {point_text(names, p)} is outside the domain: "
                                          f"{label} is not real and finite there")
                    if not exact:
                        raise DomainError(f"at {point_text(names, p)}, {label} is {shown}, but float64 cannot "
                                          "compute it (overflow or underflow on the way); check it with "
                                          "gradcheck expr, whose referee computes in extended precision")
        if points is not None:
            pts = np.concatenate([pts, _random(problem, F, points, seed)])
        return pts
    return _random(problem, F, 3 if points is None else points, seed)


def _random(problem: ExpressionProblem, F, count: int, seed: int) -> np.ndarray:
    from .points import random_points

    def valid(cand: np.ndarray) -> np.ndarray:
        return np.all(np.isfinite(F(cand.T)), axis=0)

    return random_points(valid, len(problem.names), count, seed)


def gradient_exprs(problem: ExpressionProblem) -> list:
    """The gradient over every coordinate: the claimed partial where there is one, else sympy's."""
    from . import expression as ex

    given = {v: (c if c is not None else d) for v, c, d in zip(problem.wrt, problem.claimed, problem.derivatives)}
    return [given[n] if n in given else ex.partial(problem.expression.expr, n) for n in problem.names]


# ------------------------------------------------------------------ second partials (--order 2, --hessian)


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


def hessian_points(hp: HessianProblem, points: int | None = None, seed: int = 0) -> np.ndarray:
    """Points where f, its first partials and the checked second partials are defined
    (exactly: float64 may overflow there, the referee decides those rows)."""
    from dataclasses import replace

    from . import expression as ex
    from .second_order import entry_label

    problem = hp.problem
    extended = replace(problem, derivatives=problem.derivatives + tuple(hp.rows.values()) + hp.truth)
    labels = [f"d/d{a}" for a in hp.rows] + [entry_label(*pair) for pair in hp.pairs]
    pts = expression_points(extended, points, seed, exact=True, labels=labels)
    with np.errstate(all="ignore"):
        bad = np.argwhere(~np.isfinite(ex.compile_many(hp.truth, problem.names)(pts.T)))
    for j, p in bad:
        if ex.exact_value(hp.truth[j], problem.names, pts[p])[0] != "finite":
            raise DomainError(
                f"point {point_text(problem.names, pts[p])} is outside the domain: "
                f"{entry_label(*hp.pairs[j])} = {ex.display(hp.truth[j])} is not real and finite there"
            )
    return pts
