"""``gradcheck sweep``: the relative error of one component over a range of steps, and
the Taylor test, for an expression or a user function.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..choices import Activation, Loss, Method
from ..errors import OptionError
from ..finite_diff import estimate_gradient
from ..inputs import func_x, validate_seed
from ..results import (Check, ExpressionSubject, Formula, FunctionSubject, NetworkSubject, Report, SweepSubject,
                       count_statuses, entry_label)
from ..verdict import Thresholds, assess, proved_rel
from .common import timed


def _sweep_report(check: Check, sweep, taylor, component: str, seed: int, thresholds: Thresholds,
                  of, point=None) -> Report:
    return Report(
        command="sweep", method=Method.CENTRAL, thresholds=thresholds, checks=(check,),
        counts=count_statuses([check.status]), subject=SweepSubject(of, component, point), sweep=sweep,
        taylor=taylor, taylor_order=taylor.order, seed=seed,
    )


def _one_check(name: str, analytic: float, est, thresholds: Thresholds, kink: bool = False, **where) -> Check:
    """The verdict of one component from its ``finite_diff.Estimate`` (shape (1, 1))."""
    # issue 9: the interval rule
    res = assess(analytic, est.value, est.noise, thresholds, kink=np.array([[kink]]))
    return Check(name=name, analytic=float(analytic), numeric=float(est.value[0, 0]), rel_error=float(res.rel[0, 0]),
                 status=res.statuses[0, 0], floor=float(res.floor[0, 0]), error=float(res.error[0, 0]),
                 reason=res.reasons[0, 0].value, **where)


def _line_function(cost, base: np.ndarray, i: int):
    """``phi(s)``: f at ``base`` with coordinate ``i`` set to each value of ``s``."""

    def phi(s: np.ndarray) -> np.ndarray:
        s = np.asarray(s, dtype=float)
        X = np.repeat(base[:, None], s.size, axis=1)
        X[i] = s.ravel()
        return np.asarray(cost(X), dtype=float).reshape(s.shape)

    return phi


def _sweep_expression(text, at, wrt, grads, seed, thresholds) -> Report:
    from .. import expression as ex
    from ..finite_diff import Estimate
    from ..problem import expression_points, gradient_exprs, prepare_expression
    from ..sweep import step_sweep, taylor_test

    if len(at) > 1:
        raise OptionError("sweep looks at one point: give --at once")
    problem = prepare_expression(text, at, grads, wrt)
    if wrt and len(problem.wrt) != 1:
        raise OptionError(f"--wrt: sweep one variable at a time, got {', '.join(problem.wrt)}")
    pts = expression_points(problem, None if at else 1, seed)
    names, expr, p = problem.names, problem.expression.expr, pts[0]
    f = ex.compile_one(expr, names)
    est = estimate_gradient(f, pts)
    cols = [names.index(v) for v in problem.wrt]
    exprs = [c if c is not None else d for c, d in zip(problem.claimed, problem.derivatives)]
    analytic = ex.compile_many(exprs, names)(pts.T)[:, 0]
    rel = proved_rel(analytic, est.value[0, cols], est.noise[0, cols], thresholds)
    j = int(np.argmax(np.where(np.isfinite(rel), rel, np.inf)))  # the worst component
    v, i = problem.wrt[j], cols[j]
    kink = bool(ex.kink_mask(ex.kinks(expr), names, pts, est.step)[0, i])
    one = Estimate(value=est.value[:, [i]], noise=est.noise[:, [i]], step=est.step[:, [i]])
    check = _one_check(v, analytic[j], one, thresholds, kink, point={n: float(x) for n, x in zip(names, p)})
    sweep = step_sweep(_line_function(f, p, i), p[i], analytic[j], check.floor)
    gradient = ex.compile_many(gradient_exprs(problem), names)(pts.T)[:, 0]
    taylor = taylor_test(lambda q: float(f(q[:, None])[0]), p, gradient, seed)
    claimed = problem.claimed_text[j]
    formula = Formula(f"d/d{v}", claimed if claimed is not None else ex.display(problem.derivatives[j]),
                      claimed=claimed is not None)
    return _sweep_report(check, sweep, taylor, v, seed, thresholds, ExpressionSubject((formula,)),
                         point={n: float(x) for n, x in zip(names, p)})


def _entry_index(spec: str, shape: tuple[int, ...]) -> int:
    """``--wrt`` for ``--func``: ``"3"`` (flat), ``"1,2"``, ``"x[1,2]"`` -> flat index."""
    raw = spec.strip()
    raw = raw[1:].strip() if raw.startswith("x") else raw
    parts = [p for p in raw.strip("[]()").split(",") if p.strip()]
    try:
        index = [int(p) for p in parts]
    except ValueError:
        raise OptionError(f"--wrt {spec!r}: give an entry of x as a flat index (7) or an index (1,2)") from None
    size = int(np.prod(shape, dtype=int))
    if len(index) == 1 and len(shape) != 1:
        if not 0 <= index[0] < size:
            raise OptionError(f"--wrt {spec!r}: flat index out of range for x of {size} entries")
        return index[0]
    if len(index) != len(shape) or not all(0 <= k < n for k, n in zip(index, shape)):
        raise OptionError(f"--wrt {spec!r}: no such entry in x of shape {shape}")
    return int(np.ravel_multi_index(index, shape)) if shape else 0


def _sweep_func(target, wrt, shape, x, seed, thresholds, progress=None) -> Report:
    from ..blackbox.stencils import blackbox_gradient
    from ..usercode import load_seeded
    from ..sweep import step_sweep, taylor_test, vectorize

    from ..finite_diff import value_eps
    from .common import lifted_cost

    x0, source = func_x(shape, x, seed)
    k = _entry_index(wrt, x0.shape) if wrt else None
    (fu,) = load_seeded([(target, "function")], seed)
    with fu.session():  # the user's calls in one session (guard, random states set up once)
        cost0, grad = fu.cost_and_grad(x0, grad_shape=x0.shape)
        cost = lambda q: fu.cost_and_grad(q.reshape(x0.shape), grad_shape=x0.shape)[0]  # noqa: E731
        flat, g = x0.ravel(), grad.ravel()
        # the thresholds and the evidence of ``func`` (float32 default, precision lifting)
        thresholds = thresholds.for_precision(value_eps(np.asarray([cost0]), np.asarray(grad)))
        first = lambda r: r[0] if isinstance(r, (tuple, list)) else r  # noqa: E731
        lifted = lifted_cost(lambda z: first(fu.call(z)), x0, cost0)
        if k is None and flat.size <= DIRECT_SEARCH_ENTRIES:  # the worst entry, every entry estimated
            rough = blackbox_gradient(cost, x0)
            rel = proved_rel(g, rough.value, rough.noise, thresholds)
            k = int(np.argmax(np.where(np.isfinite(rel), rel, np.inf)))
        elif k is None:  # a large x: the func command's adaptive search (O(log n) calls per wrong entry, not n)
            k = _worst_entry(cost, x0, g, seed, thresholds, progress)
        index = tuple(int(i) for i in np.unravel_index(k, x0.shape)) if x0.shape else None
        # the verdict of the swept entry: the one black-box evidence of ``func`` on it
        # (direct check, stencil ladder, precision lifting), so both commands agree
        check = _blackbox_check(cost, x0, g, k, cost0, thresholds, seed, lifted, index)
        phi = _line_function(lambda X: vectorize(cost)(X.T), flat, k)
        sweep = step_sweep(phi, flat[k], g[k], check.floor)
        taylor = taylor_test(cost, flat, g, seed)
    entry = entry_label("x", index)
    subject = FunctionSubject(function=target, gradient=None, source=source, shape=tuple(x0.shape))
    from dataclasses import replace

    return replace(_sweep_report(check, sweep, taylor, entry, seed, thresholds, subject), calls=fu.calls)


def _blackbox_check(cost, x0: np.ndarray, g: np.ndarray, k: int, cost0, thresholds: Thresholds, seed: int,
                    lifted, index) -> Check:
    """The verdict of entry ``k`` of x by ``blackbox.check_blackbox`` on that entry alone
    (``func``'s evidence: direct check, stencil ladder, precision lifting)."""
    from dataclasses import replace

    from ..blackbox.pipeline import check_blackbox

    bb = check_blackbox(cost, x0, g.reshape(x0.shape), [("x", x0.shape, 0)], thresholds=thresholds, top=1,
                        seed=seed, f0=float(cost0), indices=[k], lifted=lifted)
    rows = [c for c in bb.verdict.checks if c.index is not None]
    row = next((c for c in rows if (tuple(c.index) if c.index else None) == index), rows[0])
    return replace(row, name="x", index=index)


#: above this many entries of x, ``sweep --func`` finds the worst entry with the adaptive
#: search of ``func`` instead of estimating every entry (n calls of an O(n) function)
DIRECT_SEARCH_ENTRIES = 256

_SEVERITY = {"fail": 3, "warn": 2, "unresolved": 2}


def _worst_entry(cost, x0: np.ndarray, g: np.ndarray, seed: int, thresholds: Thresholds, progress=None) -> int:
    """Flat index of the worst entry of x by the adaptive black-box check (as ``func``):
    the most severe status, then the largest relative error; ``progress(done, total)`` as
    for ``func``."""
    from ..blackbox.pipeline import check_blackbox

    bb = check_blackbox(cost, x0, g.reshape(x0.shape), [("x", x0.shape, 0)], thresholds=thresholds, top=1, seed=seed,
                        progress=progress)
    rows = [c for c in bb.verdict.checks if c.index is not None]
    if not rows:
        return 0
    worst = max(rows, key=lambda c: (_SEVERITY.get(c.status.value, 0),
                                     np.inf if not np.isfinite(c.rel_error) else c.rel_error))
    return int(np.ravel_multi_index(worst.index, x0.shape)) if x0.shape else 0


def _block_entry(spec: str, blocks) -> tuple:
    """``--wrt`` for the network: ``"W1[3,2]"`` or ``"W1 3,2"`` -> (block, index in block)."""
    raw = spec.replace("[", " ").replace("]", " ").replace(",", " ").split()
    names = [b.name for b in blocks]
    if not raw or raw[0] not in names:
        raise OptionError(f"--wrt {spec!r}: name a parameter entry such as {names[0]}[0,0] (blocks: {', '.join(names)})")
    b = blocks[names.index(raw[0])]
    try:
        index = tuple(int(p) for p in raw[1:])
    except ValueError:
        raise OptionError(f"--wrt {spec!r}: the index must be whole numbers, e.g. {b.name}[0,0]") from None
    if len(index) != len(b.shape) or not all(0 <= k < n for k, n in zip(index, b.shape)):
        raise OptionError(f"--wrt {spec!r}: no such entry in {b.name} of shape {b.shape}")
    return b, index


def _sweep_network(dims, wrt, seed, samples, activation, loss, mean, bug, thresholds) -> Report:
    from ..network import differences, model
    from ..sweep import step_sweep, taylor_test, vectorize

    spec = model.NetworkSpec(model.parse_dims(dims), activation=activation, loss=loss, mean=mean)
    samples = model.validate_samples(spec, samples)
    bug = model.validate_bug(spec, bug)
    data, labels, params = model.make_problem(spec, samples, seed)
    _, g = model.cost_and_grad(spec, data, labels, params, bug=bug)
    cspec = model.cost_spec(spec, bug) if bug else spec
    cost = lambda p: model.cost(cspec, data, labels, np.ravel(p))  # noqa: E731
    if wrt:
        block, index = _block_entry(wrt, spec.blocks)
        k = block.offset + int(np.ravel_multi_index(index, block.shape))
    else:  # the worst entry by the net command's own (structured) estimate
        numeric, noise, _ = differences.numeric_gradient(cspec, data, labels, params)
        rel = proved_rel(g, numeric, noise, thresholds)
        k = int(np.argmax(np.where(np.isfinite(rel), rel, np.inf)))
        block = next(b for b in spec.blocks if b.offset <= k < b.offset + b.size)
        index = tuple(int(i) for i in np.unravel_index(k - block.offset, block.shape))
    phi = _line_function(lambda X: vectorize(cost)(X.T), params, k)
    est = estimate_gradient(lambda X: phi(X[0]), np.array([[params[k]]]))
    check = _one_check(block.name, g[k], est, thresholds, index=index)
    sweep = step_sweep(phi, params[k], g[k], check.floor)
    taylor = taylor_test(cost, params, g, seed)
    entry = entry_label(block.name, index)
    subject = NetworkSubject(description=spec.describe(), samples=samples, seed=seed, param_count=spec.param_count,
                             shapes=tuple((b.name, tuple(b.shape)) for b in spec.blocks), bug=bug,
                             bug_text=model.BUGS[bug] if bug else None)
    return _sweep_report(check, sweep, taylor, entry, seed, thresholds, subject)


@timed
def check_sweep(
    text: str | None = None,
    *,
    func: str | None = None,
    dims=None,
    samples: int = 20,
    activation: Activation | str = Activation.SIGMOID,
    loss: Loss | str = Loss.CE,
    mean: bool = False,
    bug: str | None = None,
    at: Sequence[str] = (),
    wrt: str | None = None,
    grads: Sequence[str] = (),
    shape: str | None = None,
    x: str | None = None,
    seed: int = 0,
    thresholds: Thresholds = Thresholds(),
    progress=None,
) -> Report:
    """``gradcheck sweep``: one component's relative error over steps 1e-1 ... 1e-12, and the
    Taylor test (``sweep``).  The verdict (one check) is the usual one, from the adaptive
    estimate; the report's ``sweep``, ``taylor`` and ``taylor_order`` hold the rest.

    The function is the expression ``text``, the user's ``func`` (``FILE.py:NAME``), or
    the built-in network of ``dims`` (with ``samples``, ``activation``, ``loss``,
    ``mean``, an injected ``bug``).  The component is ``wrt`` (a variable; with ``func``
    an entry of x; for the network a parameter entry such as ``W1[3,2]``), else the worst.
    ``progress(done, total)`` follows the search for the worst entry of a large x (``--func``).
    """
    validate_seed(seed)
    if sum(v is not None for v in (text, func, dims)) != 1:
        raise OptionError("give one of: an expression, --func FILE.py:NAME, or --dims for the network")
    if dims is not None:
        if at or grads or shape is not None or x is not None:
            raise OptionError("--at, --grad, --shape and --x do not apply to the network")
        return _sweep_network(dims, wrt, seed, samples, activation, loss, mean, bug, thresholds)
    if bug is not None:
        raise OptionError("--inject-bug applies to the network (--dims)")
    if func is not None:
        if at or grads:
            raise OptionError("--at and --grad go with an expression; with --func use --x or --shape")
        return _sweep_func(func, wrt, shape, x, seed, thresholds, progress)
    if shape is not None or x is not None:
        raise OptionError("--shape and --x go with --func")
    return _sweep_expression(text, tuple(at), wrt, tuple(grads), seed, thresholds)


