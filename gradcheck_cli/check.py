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
        raise OptionError(f"the expression {text.strip()!r} has no variables to differentiate "
                          "(name one with --wrt and give its value with --at)")
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
                    + (" (it overflows float64)" if np.isinf(col[0]) else "")
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


# ------------------------------------------------------------------ net
#: fast mode: directional checks per block (Rademacher directions, see network_fd)
FAST_DIRECTIONS = 8


def _with_second_opinions(report: Report, cost, grad_fn, x: np.ndarray, g: np.ndarray, *,
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


def parse_dims(dims) -> tuple[int, ...]:
    """``--dims``: ``"10,5,10"``, ``"10 5 10"`` or a sequence of ints -> ``(10, 5, 10)``."""
    if isinstance(dims, str):
        parts = dims.replace(",", " ").split()
    else:
        parts = list(dims)
    try:
        out = tuple(int(p) for p in parts)
    except (TypeError, ValueError):
        raise OptionError(f"--dims must be whole numbers, e.g. --dims 10 5 10; got {dims!r}") from None
    if len(out) < 2:
        raise OptionError(f"--dims needs at least 2 sizes (input and output), got {len(out)}")
    return out


def _rademacher_blocks(blocks, size: int, k: int, seed: int):
    """``k`` ±1 directions per block, zero outside it: shape (k, size) per block."""
    rng = np.random.default_rng(seed)
    for b in blocks:
        u = np.zeros((k, size))
        u[:, b.slice] = rng.choice([-1.0, 1.0], size=(k, b.size))
        yield b, u


def _impl_numeric(user_cost, params: np.ndarray, blocks, g: np.ndarray, mode: str, seed: int,
                  thresholds: Thresholds, progress=None):
    """Numeric gradient of the user's own cost (black box), flat, NaN where not computed.

    ``full``: four calls per entry.  ``fast``: ``FAST_DIRECTIONS`` directional checks
    per block first; a block is checked entry by entry only when a direction disagrees
    by more than ``network_fd.SAFETY`` times its error, or when a single wrong entry
    could hide below that margin.  Returns (numeric, noise, blocks checked in full,
    per-block directional results for the report).
    """
    from .finite_diff import EPS, REL_STEP, blackbox_directional, blackbox_gradient
    from .network_fd import SAFETY

    n = params.size
    numeric, noise = np.full(n, np.nan), np.full(n, np.nan)
    full, directional = [], {}
    if mode == "fast":
        f0 = abs(user_cost(params))
        h = REL_STEP * max(float(np.max(np.abs(params))), 1.0)
        entry_noise = 2 * 4 * EPS * f0 / h  # the round-off part of any entry's error estimate
        for b, dirs in _rademacher_blocks(blocks, n, FAST_DIRECTIONS, seed):
            d, dn = blackbox_directional(user_cost, params, dirs)
            a = dirs @ g
            floor = thresholds.floor if thresholds.floor is not None else entry_noise / thresholds.pass_tol
            suspect = bool(np.any(~np.isfinite(d)) or np.any(np.abs(a - d) > SAFETY * dn))
            hidden = (SAFETY + 1) * float(np.max(dn)) > thresholds.fail_tol * floor
            directional[b.name] = (a, d, dn)
            if suspect or hidden:
                full.append(b)
    else:
        full = list(blocks)
    done = 0
    for b in full:
        idx = np.arange(b.offset, b.offset + b.size)
        step = None if progress is None else (lambda k, done=done: progress(done + k, sum(x.size for x in full)))
        est = blackbox_gradient(user_cost, params, indices=idx, progress=step)
        numeric[idx], noise[idx] = est.value, est.noise
        done += b.size
    return numeric, noise, {b.name for b in full}, directional


def check_network(
    dims,
    *,
    samples: int = 20,
    seed: int = 0,
    activation: str = "sigmoid",
    loss: str = "ce",
    mean: bool = False,
    impl=None,
    bug: str | None = None,
    mode: str = "full",
    top: int = 5,
    thresholds: Thresholds = Thresholds(),
    hvp: int = 0,
    taylor: bool = False,
    progress=None,
) -> Report:
    """Gradient-check a network: the built-in one (optionally with an injected bug) or yours.

    h = act(X W1 + b1), ..., yhat = softmax(h W_L + b_L) (``loss="mse"``: sigmoid output
    and 0.5 sum (yhat - y)**2), cost summed over the ``samples`` rows (averaged with
    ``mean``).  X ~ N(0, 1), one-hot labels and params ~ N(0, 1), seeded by ``seed``;
    params flattened W1, b1, W2, b2, ... (``(Dx+1)H + (H+1)Dy`` of them for 3 sizes).

    ``impl`` is your ``NAME(data, labels, params, dimensions) -> (cost, grad)`` (a
    callable, or ``"FILE.py:NAME"`` / ``"module:NAME"``): its gradient is checked
    against central differences of its own cost (four calls per entry; ``mode="fast"``
    checks random directions first), and its cost against the reference cost (a check
    named ``cost``).  Without ``impl`` the built-in network is checked with batched,
    structured differences (``network_fd``); ``bug`` injects a classic mistake
    (``models.BUGS``).  The report has one block per parameter block, the failing and
    ``top`` worst entries, and hints (``diagnosis``).

    >>> check_network((10, 5, 10)).status.value
    'pass'
    """
    from . import models, network_fd
    from .diagnosis import diagnose
    from .loading import UserFunction, load_seeded

    dims = parse_dims(dims)
    spec = models.NetworkSpec(dims, activation=activation, loss=loss, mean=mean)
    samples = models.validate_samples(spec, samples)
    validate_seed(seed)
    if mode not in ("full", "fast"):
        raise OptionError(f"--mode must be full or fast, got {mode!r}")
    if top < 0:
        raise OptionError(f"--top must be at least 0, got {top}")
    if impl is not None and bug is not None:
        raise OptionError("--inject-bug applies to the built-in network, not to --impl")
    bug = models.validate_bug(spec, bug)
    data, labels, params = models.make_problem(spec, samples, seed)
    blocks = spec.blocks
    ref_cost = models.cost(spec, data, labels, params)
    header = [f"network {spec.describe()}, M = {samples} samples, seed {seed}",
              f"{spec.param_count} parameters: " + ", ".join(f"{b.name} {' x '.join(map(str, b.shape))}" for b in blocks)]
    extra_checks, hints = [], []

    if impl is not None:
        if isinstance(impl, str):
            (user,), name = load_seeded([(impl, "function")], seed), impl
        else:
            name = _callable_name(impl)
            user = UserFunction(impl, name)
        dimensions = list(dims)

        def user_cg(p):
            return user.cost_and_grad(data, labels, p, dimensions, grad_shape=params.shape)

        cost0, g = user_cg(params.copy())
        user_cost = lambda p: user_cg(p)[0]  # noqa: E731
        numeric, noise, full_blocks, directional = _impl_numeric(
            user_cost, params, blocks, g.ravel(), mode, seed, thresholds, progress)
        kink = network_fd.kink_mask(spec, data, params) if spec.activation == "relu" else np.zeros(params.size, bool)
        header.append(f"implementation: {name}; cost {cost0:.10g} (reference {ref_cost:.10g})")
        # the cost check: yours against the reference, within the round-off of a sum of M terms
        cost_noise = 64 * np.finfo(float).eps * float(np.sum(np.abs(models.per_sample_costs(spec, data, labels, params))))
        cfloor = float(floor_from_noise(cost_noise, thresholds))
        crel = float(relative_error(cost0, ref_cost, cfloor))
        cstatus = classify(np.array([crel]), thresholds)[0]
        extra_checks.append(Check(name="cost", analytic=cost0, numeric=ref_cost, rel_error=crel,
                                  status=cstatus, floor=cfloor))
        if cstatus.value == "fail" and ref_cost != 0:
            ratio = cost0 / ref_cost
            why = {1 / samples: ": averaged over the samples instead of summed?",
                   float(samples): ": summed over the samples instead of averaged?",
                   -1.0: ": a sign error (log-likelihood instead of its negative)?"}
            guess = next((w for r, w in why.items() if abs(ratio - r) <= 1e-6 * abs(r)), "")
            hints.append(f"cost: yours is {ratio:.6g}x the reference cost (cross-entropy "
                         f"{'averaged' if mean else 'summed'} over the {samples} samples){guess}")
        grad_fn = lambda p: user_cg(p.reshape(params.shape))[1].ravel()  # noqa: E731
        cost_fn = user_cost
    else:
        cost0, g = models.cost_and_grad(spec, data, labels, params, bug=bug)
        cspec = models.cost_spec(spec, bug) if bug else spec
        directional = {}
        if mode == "fast":
            fast = network_fd.fast_check(cspec, data, labels, params, g, k=FAST_DIRECTIONS, seed=seed,
                                         thresholds=thresholds)
            full_blocks = set(fast.full_blocks)
            directional = {r.block: (r.analytic, r.numeric, r.noise) for r in fast.directional}
        else:
            full_blocks = {b.name for b in blocks}
        if full_blocks:
            numeric, noise, kink = network_fd.numeric_gradient(
                cspec, data, labels, params, blocks=[b for b in blocks if b.name in full_blocks])
        else:
            numeric = noise = np.full(params.size, np.nan)
            kink = np.zeros(params.size, bool)
        if bug:
            header.append(f"injected bug: {bug}: {models.BUGS[bug]}")
        grad_fn = lambda p: models.cost_and_grad(spec, data, labels, p, bug=bug)[1]  # noqa: E731
        cost_fn = lambda p: models.cost(cspec, data, labels, p)  # noqa: E731

    g = np.asarray(g, dtype=float).ravel()
    data_blocks = [
        BlockData(b.name, b.shape, g[b.slice], numeric[b.slice], noise[b.slice], kink[b.slice])
        for b in blocks if b.name in full_blocks
    ]
    verdict = judge_blocks(data_blocks, thresholds, top)
    by_name = {r.name: r for r in verdict.blocks}
    block_results, counts = [], [verdict.counts]
    from .results import BlockResult, merge_counts
    from .verdict import Status

    for b in blocks:
        if b.name in by_name:
            block_results.append(by_name[b.name])
        else:  # fast mode: the directions agreed within their noise
            a, d, dn = directional[b.name]
            rel = relative_error(a, d, floor_from_noise(dn, thresholds))
            block_results.append(BlockResult(b.name, b.shape, 0, float(np.max(rel)), None, Status.PASS))
            counts.append(count_statuses([Status.PASS] * len(a)))
    # blocks that passed fast mode's directions count as right (numeric taken as analytic)
    analytic_blocks = [
        (b.name, g[b.slice].reshape(b.shape),
         (numeric if b.name in by_name else g)[b.slice].reshape(b.shape),
         by_name[b.name].status if b.name in by_name else Status.PASS)
        for b in blocks
    ]
    hints += diagnose(analytic_blocks, samples=samples, activation=spec.activation)
    notes = []
    if mode == "fast":
        quick = [b.name for b in blocks if b.name not in full_blocks]
        notes.append(f"fast mode: {FAST_DIRECTIONS} random ±1 directions per block; "
                     + (f"{', '.join(quick)} agreed within their noise (0 entries checked), " if quick else "")
                     + (f"{', '.join(n for n in (b.name for b in blocks) if n in full_blocks)} checked entry by entry"
                        if full_blocks else "no block needed the full check"))
    checks = tuple(extra_checks) + verdict.checks
    all_counts = merge_counts(counts + [count_statuses([c.status for c in extra_checks])])
    report = Report(
        command="net", method=Method.CENTRAL, thresholds=thresholds, checks=checks, counts=all_counts,
        header=tuple(header), blocks=tuple(block_results), param_count=spec.param_count,
        hints=tuple(hints), notes=tuple(notes), extra={"cost": cost0, "mode": mode}, shown=top,
    )
    return _with_second_opinions(report, cost_fn, grad_fn, params, g, hvp=hvp, taylor=taylor, seed=seed)


# ------------------------------------------------------------------ func and sanity
#: shape of x for ``gradcheck func`` when neither ``--shape`` nor ``--x`` is given
DEFAULT_FUNC_SHAPE = (3, 4)
#: the largest x accepted by ``func`` (a full check costs 4 calls per entry)
MAX_FUNC_ENTRIES = 10_000_000


def parse_shape(text: str) -> tuple[int, ...]:
    """``--shape``: ``"3,4"`` -> ``(3, 4)``; ``"5"`` -> ``(5,)``; ``"scalar"`` or ``"()"`` -> ``()``."""
    raw = text.strip().strip("()[]").strip()
    if raw.lower() in ("", "scalar"):
        return ()
    dims = []
    for part in raw.replace("x", ",").split(","):
        part = part.strip()
        if not part and len(dims) >= 1:  # trailing comma: "3,"
            continue
        try:
            n = int(part)
        except ValueError:
            raise OptionError(f"--shape must be sizes separated by commas, e.g. 3,4; got {text!r}") from None
        if n < 1:
            raise OptionError(f"--shape: every size must be at least 1, got {text!r}")
        dims.append(n)
    size = int(np.prod(dims, dtype=float))
    if size > MAX_FUNC_ENTRIES:
        raise OptionError(f"--shape {text}: {size} entries is more than the {MAX_FUNC_ENTRIES} gradcheck func accepts")
    return tuple(dims)


def parse_x(text: str) -> tuple[np.ndarray, str]:
    """``--x``: a ``.npy`` file, or numbers separated by commas.

    ``"1.0,2.0,3.0"`` gives a 1-D x, a single number ``"2.5"`` a scalar (0-d) x.
    Returns the array (float64) and a description for the report header.
    """
    import os

    from .errors import LoadError

    spec = text.strip()
    if spec.endswith(".npy") or os.path.isfile(spec):
        if not os.path.isfile(spec):
            raise LoadError(f"--x: no file '{spec}'")
        try:
            array = np.load(spec, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise LoadError(f"--x: cannot read '{spec}' as a .npy array: {exc}") from None
        if not isinstance(array, np.ndarray) or array.dtype.kind not in "biuf":
            kind = "an archive of arrays" if not isinstance(array, np.ndarray) else f"dtype {array.dtype}"
            raise OptionError(f"--x: '{spec}' holds {kind}, expected an array of real numbers")
        return array.astype(np.float64), f"x from {spec}"
    parts = [p.strip() for p in spec.strip("[]").split(",")]
    if parts and parts[-1] == "" and len(parts) > 1:  # trailing comma
        parts = parts[:-1]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise OptionError(
            f"--x must be a .npy file or numbers separated by commas, e.g. \"1.0,2.0,3.0\"; got {text!r}"
        ) from None
    array = np.array(values[0]) if len(values) == 1 and "," not in spec else np.array(values)
    return array, (f"x = {np.array2string(array, separator=', ')}" if array.size <= 8 else "x given with --x")


def func_x(shape: str | None, x: str | None, seed: int) -> tuple[np.ndarray, str]:
    """x for ``func`` and ``sweep --func``: ``--x`` as given, else N(0, 1) of ``--shape``
    (default ``DEFAULT_FUNC_SHAPE``) drawn with ``seed``; and its description."""
    validate_seed(seed)
    if shape is not None and x is not None:
        raise OptionError("give either --shape or --x, not both")
    if x is not None:
        x0, label = parse_x(x)
    else:
        dims = DEFAULT_FUNC_SHAPE if shape is None else parse_shape(shape)
        x0, label = np.random.default_rng(seed).standard_normal(dims), f"x ~ N(0, 1), seed {seed}"
    return validate_x(x0), label


def validate_x(x) -> np.ndarray:
    """x as a fresh float64 array; OptionError when it is empty, complex or not finite."""
    try:
        array = np.asarray(x)
    except Exception as exc:
        raise OptionError(f"x cannot be made into an array: {exc}") from None
    if array.dtype.kind == "c":
        raise OptionError("x must be real, got a complex array")
    if array.dtype.kind not in "biuf":
        raise OptionError(f"x must be an array of real numbers, got dtype {array.dtype}")
    if array.size == 0:
        raise OptionError(f"x is empty (shape {array.shape}): nothing to check")
    if array.size > MAX_FUNC_ENTRIES:
        raise OptionError(f"x has {array.size} entries, more than the {MAX_FUNC_ENTRIES} that can be checked")
    array = np.array(array, dtype=np.float64, copy=True)
    bad = ~np.isfinite(array)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        label = f"x[{', '.join(map(str, where))}]" if where else "x"
        raise OptionError(f"x must be finite, but {label} is {array[where] if where else array.item()}")
    return array


def sample_indices(size: int, sample: int | None, seed: int) -> np.ndarray | None:
    """Flat indices of ``sample`` distinct random entries (sorted), or None for all."""
    if sample is None:
        return None
    if sample < 1:
        raise OptionError(f"--sample must be at least 1, got {sample}")
    if sample >= size:
        return None
    return np.sort(np.random.default_rng(seed).choice(size, size=sample, replace=False))


def validate_seed(seed: int) -> int:
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise OptionError(f"--seed must be a whole number >= 0, got {seed!r}")
    return int(seed)


def _callable_name(fn) -> str:
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__
    return "<lambda>" if name.endswith("<lambda>") else name


def _grad_only(gu, x: np.ndarray) -> np.ndarray:
    """Call a separate gradient function and validate that it returns an array of x's shape."""
    from .errors import UserCodeError

    result = gu.call(x)
    expected = f"expected a real array of shape {x.shape} (the shape of x)"
    if result is None or isinstance(result, tuple):
        what = "None" if result is None else f"a tuple of {len(result)} items"
        raise UserCodeError(f"{gu.name} returned {what}, {expected}")
    try:
        array = np.asarray(result)
        if array.dtype.kind == "c":
            raise UserCodeError(f"{gu.name} returned a complex gradient, {expected}")
        array = np.array(array, dtype=np.float64)
    except (TypeError, ValueError):
        raise UserCodeError(f"{gu.name} returned a gradient of type {type(result).__name__}, {expected}") from None
    if array.shape != x.shape:
        raise UserCodeError(f"{gu.name} returned a gradient of shape {array.shape}, {expected}")
    return array


def _ratio_hint(analytic: np.ndarray, numeric: np.ndarray, failing: np.ndarray) -> tuple[str, ...]:
    """A hint when every failing entry is off by the same factor k (-1, 2, 1/2, ...).

    One failing entry gets a hint only for the classic factors (-1, 0, 2, 1/2, -2, -1/2).
    """
    a, n = analytic[failing], numeric[failing]
    usable = np.isfinite(a) & np.isfinite(n) & (n != 0)
    count = int(usable.sum())
    if count < 1 or count < failing.sum():
        return ()
    ratio = a[usable] / n[usable]
    k = float(np.median(ratio))
    if not np.all(np.abs(ratio - k) <= 1e-3 * max(abs(k), 1e-3)) or abs(k - 1) < 1e-2:
        return ()
    near = lambda v: abs(k - v) <= 1e-3 * max(abs(v), 1.0)  # noqa: E731
    classic = any(near(v) for v in (-1.0, 0.0, 2.0, 0.5, -2.0, -0.5))
    if count == 1 and not classic:
        return ()
    where = "the failing entry" if count == 1 else f"all {count} failing entries"
    if near(-1.0):
        return (f"analytic = -numeric on {where}: a sign error?",)
    if near(0.0):
        return (f"analytic is ~0 where numeric is not, on {where}: a missing term?",)
    why = "a missing or extra factor 2" if near(2.0) or near(0.5) else "a constant factor"
    if near(-2.0) or near(-0.5):
        why = "a sign error and a factor 2"
    return (f"analytic / numeric = {k:.4g} on {where}: {why}?",)


def check_gradient(
    f,
    x,
    *,
    grad=None,
    sample: int | None = None,
    seed: int = 0,
    eps: float | None = None,
    thresholds: Thresholds = Thresholds(),
    top: int = 5,
    name: str | None = None,
    x_label: str | None = None,
    progress=None,
    hvp: int = 0,
    taylor: bool = False,
) -> Report:
    """Check the gradient of a black-box scalar function ``f`` at ``x`` entry by entry.

    ``f(x) -> (cost, grad)`` with ``grad`` of x's shape (the ``gradcheck_naive``
    convention), or ``f(x) -> cost`` together with ``grad(x) -> array``.  Every entry
    of x (or ``sample`` random ones, seeded by ``seed``) is checked against the central
    difference ``(f(x + h e_k) - f(x - h e_k)) / 2h`` with ``h = eps**(1/3) max(|x_k|, 1)``
    (or the fixed ``eps``), four calls per entry; its error is estimated from a second
    step ``4h`` and the round-off of f (``finite_diff.blackbox_gradient``), and the
    verdict is the usual one (``verdict``).  The report has one block, ``x``, plus
    every failing entry and the ``top`` worst.

    Each call of f starts from the random state of ``random`` and ``numpy.random`` as it
    was when the check began (so f may draw random numbers) and gets a private copy of
    x; changing it in place, raising, or returning the wrong shape raises
    ``UserCodeError``.  ``name`` and ``x_label`` label the report; ``progress(done,
    total)`` is called after each entry.  ``hvp`` adds that many Hessian-vector symmetry
    checks and ``taylor`` the Taylor test (see ``check_network``).

    >>> import numpy as np
    >>> check_gradient(lambda x: (np.sum(x**2), 2 * x), np.ones((3, 4))).status.value
    'pass'
    """
    from .finite_diff import blackbox_gradient
    from .loading import UserFunction
    from .verdict import Status

    x0 = validate_x(x)
    validate_method(Method.CENTRAL, eps)
    validate_seed(seed)
    if top < 0:
        raise OptionError(f"--top must be at least 0, got {top}")
    idx = sample_indices(x0.size, sample, seed)
    fu = f if isinstance(f, UserFunction) else UserFunction(f, name or _callable_name(f))
    gu = None
    if grad is not None:
        gu = grad if isinstance(grad, UserFunction) else UserFunction(grad, _callable_name(grad))

    if gu is None:
        cost0, g = fu.cost_and_grad(x0, grad_shape=x0.shape)
        cost = lambda z: fu.cost_and_grad(z, grad_shape=x0.shape)[0]  # noqa: E731
    else:
        cost0 = fu.cost_only(x0)
        g = _grad_only(gu, x0)
        cost = fu.cost_only
    total = x0.size if idx is None else len(idx)
    step = None if progress is None else (lambda k: progress(k, total))
    est = blackbox_gradient(cost, x0, indices=idx, step=eps, progress=step)
    analytic = g.ravel() if idx is None else g.ravel()[idx]
    block = BlockData("x", x0.shape, analytic, est.value, est.noise, indices=idx)
    verdict = judge_blocks([block], thresholds, top)

    shape_text = " x ".join(map(str, x0.shape)) or "scalar"
    header = [f"f = {fu.name}" + (" -> (cost, grad)" if gu is None else f" -> cost, grad = {gu.name}")]
    shape_text = f"shape {shape_text}" if x0.shape else "a scalar"
    header.append(f"{x_label}, {shape_text}" if x_label else f"x: {shape_text}")
    header.append(f"cost at x = {cost0:.10g}")
    notes = ()
    if idx is not None:
        notes = (f"checked {total} of {x0.size} entries of x, chosen at random (seed {seed})",)
    failing = np.array([s is Status.FAIL for s in verdict.statuses["x"]], dtype=bool)
    report = Report(
        command="func",
        method=Method.CENTRAL,
        thresholds=thresholds,
        checks=verdict.checks,
        counts=verdict.counts,
        header=tuple(header),
        blocks=verdict.blocks,
        hints=_ratio_hint(analytic, est.value, failing),
        notes=notes,
        extra={"cost": cost0},
        shown=top,
    )
    if not (hvp or taylor):
        return report
    if gu is None:
        grad_fn = lambda z: fu.cost_and_grad(z.reshape(x0.shape), grad_shape=x0.shape)[1].ravel()  # noqa: E731
    else:
        grad_fn = lambda z: _grad_only(gu, z.reshape(x0.shape)).ravel()  # noqa: E731
    return _with_second_opinions(report, cost, grad_fn, x0, g, hvp=hvp, taylor=taylor, seed=seed)


def check_func(
    target: str,
    *,
    grad: str | None = None,
    shape: str | None = None,
    x: str | None = None,
    seed: int = 0,
    sample: int | None = None,
    eps: float | None = None,
    thresholds: Thresholds = Thresholds(),
    top: int = 5,
    progress=None,
    hvp: int = 0,
    taylor: bool = False,
) -> Report:
    """``gradcheck func``: load ``FILE.py:NAME`` (or ``module:NAME``) and check it.

    x is ``--x`` (a ``.npy`` file or ``"1,2,3"``), else N(0, 1) of ``shape``
    (``"3,4"``, default ``DEFAULT_FUNC_SHAPE``) drawn with ``seed``.  ``grad``
    (``FILE.py:NAME2``, or just ``NAME2`` from the same file) makes f cost-only.  The
    global random states are seeded with ``seed`` while the user's code is loaded and
    for every call, so results are reproducible; the caller's states are restored.
    """
    from .loading import load_seeded

    x0, label = func_x(shape, x, seed)
    validate_method(Method.CENTRAL, eps)
    sample_indices(x0.size, sample, seed)
    if top < 0:
        raise OptionError(f"--top must be at least 0, got {top}")
    grad_spec = grad
    if grad is not None and ":" not in grad:
        grad_spec = f"{target.rpartition(':')[0]}:{grad.strip()}"

    specs = [(target, "function")] + ([(grad_spec, "gradient function")] if grad_spec else [])
    fu, gu = (load_seeded(specs, seed) + [None])[:2]
    return check_gradient(
        fu, x0, grad=gu, sample=sample, seed=seed, eps=eps, thresholds=thresholds, top=top,
        x_label=label, progress=progress, hvp=hvp, taylor=taylor,
    )


# -------------------------------------------------------------- sanity suite
def _value_report(name: str, computed: np.ndarray, expected: np.ndarray, thresholds: Thresholds) -> Report:
    """Computed values against printed ones: pass within ``sanity.VALUE_TOL``, else fail.

    In the checks, ``analytic`` is the computed value and ``numeric`` the reference.
    """
    from .results import BlockResult
    from .sanity import VALUE_TOL
    from .verdict import Status, worst

    a = np.asarray(computed, dtype=float)
    r = np.broadcast_to(np.asarray(expected, dtype=float), a.shape)
    with np.errstate(all="ignore"):
        diff = np.abs(a - r)
        rel = np.where(diff == 0, 0.0, diff / np.maximum(np.abs(a), np.abs(r)))
    ok = np.isfinite(a) & (diff <= VALUE_TOL)
    rel = np.where(np.isfinite(rel), rel, np.inf)
    statuses = np.array([Status.PASS, Status.FAIL], dtype=object)[(~ok).astype(int)]
    w = int(np.argmax(rel.ravel()))
    wi = tuple(int(i) for i in np.unravel_index(w, a.shape))
    counts = count_statuses(list(statuses.ravel()))
    checks = tuple(
        Check(name=name, analytic=float(a[i]), numeric=float(r[i]), rel_error=float(rel[i]),
              status=statuses[i], floor=0.0, index=i)
        for i in (tuple(int(k) for k in j) for j in np.argwhere(~ok))
    )
    block = BlockResult(name=name, shape=a.shape, checked=a.size, max_rel_error=float(rel.ravel()[w]),
                        worst_index=wi, status=worst(statuses.ravel()), counts=counts)
    return Report(command="sanity", method=Method.CENTRAL, thresholds=thresholds, checks=checks,
                  counts=counts, blocks=(block,))


def _array_text(a: np.ndarray) -> str:
    return np.array2string(np.asarray(a), precision=8, suppress_small=False, separator=" ", floatmode="maxprec")


def _run_network_item(item, seed: int, thresholds: Thresholds) -> Report:
    """The network item: ``check_network`` (the ``net`` section) at the item's dims."""
    return check_network(dims=item.dims, seed=seed, thresholds=thresholds, top=0)


def check_sanity(*, seed: int = 0, thresholds: Thresholds = Thresholds(), items=None) -> Report:
    """Run the built-in sanity suite (``sanity.SUITE``, or ``items``) as one report.

    Each item contributes its block(s): one named after the item, or ``network.W1``...
    for the network; ``checks`` holds every failing entry; ``header`` is the course-style
    transcript (``Running sanity checks...``, the values, ``Gradient check passed!``).

    >>> check_sanity().passed
    True
    """
    from dataclasses import replace

    from . import sanity
    from .results import merge_counts
    from .verdict import Status

    items = sanity.SUITE if items is None else tuple(items)
    rng = np.random.default_rng(seed)
    lines = ["Running sanity checks..."]
    blocks, checks, counts, summary = [], [], [], []
    for item in items:
        if isinstance(item, sanity.ValueItem):
            computed = np.asarray(item.compute(), dtype=float)
            sub = _value_report(item.name, computed, item.expected, thresholds)
            lines += [f"{item.title}:", _array_text(computed)]
            if not sub.passed:
                lines += ["  differs from the reference values:", _array_text(item.expected)]
        else:
            if isinstance(item, sanity.GradientItem):
                sub = check_gradient(item.f, item.make_x(rng), seed=seed, thresholds=thresholds, top=0,
                                     name=item.name)
            else:
                sub = _run_network_item(item, seed, thresholds)
            if sub.passed:
                extra = "" if sub.status is Status.PASS else " (with warnings)"
                lines.append(f"{item.title}: Gradient check passed!{extra}")
            else:
                lines.append(f"{item.title}: Gradient check failed.")
                bad = [c for c in sub.checks if c.status in (Status.FAIL, Status.WARN)]
                if bad:
                    c = bad[0]
                    lines.append(f"  worst gradient error at {c.label}: your gradient {c.analytic:f}, "
                                 f"numerical gradient {c.numeric:f}")
        rename = (lambda n: item.name) if len(sub.blocks) == 1 else (lambda n: f"{item.name}.{n}")
        blocks += [replace(b, name=rename(b.name)) for b in sub.blocks]
        checks += [replace(c, name=rename(c.name)) for c in sub.checks if c.status in (Status.FAIL, Status.WARN)
                   and (c.status is Status.FAIL or thresholds.strict)]
        counts.append(sub.counts)
        summary.append({"name": item.name, "title": item.title, "status": sub.status.value})
    return Report(
        command="sanity",
        method=Method.CENTRAL,
        thresholds=thresholds,
        checks=tuple(checks),
        counts=merge_counts(counts),
        header=tuple(lines),
        blocks=tuple(blocks),
        notes=("reference values: the sanity checks of CS224n assignment 1",),
        extra={"items": summary},
    )


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
    rows = {a: first[a] if a in first else ex.partial(expr, a) for a in dict.fromkeys(a for a, _ in pairs)}
    return HessianProblem(
        problem=problem, pairs=pairs, truth=tuple(ex.second_partial(expr, a, b) for a, b in pairs),
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
            f"point {_point_text(problem.names, pts[p])} is outside the domain: "
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


def _gradient_exprs(problem: ExpressionProblem) -> list:
    """The gradient over every coordinate: the claimed partial where there is one, else sympy's."""
    from . import expression as ex

    given = {v: (c if c is not None else d) for v, c, d in zip(problem.wrt, problem.claimed, problem.derivatives)}
    return [given[n] if n in given else ex.partial(problem.expression.expr, n) for n in problem.names]


def expression_taylor(problem: ExpressionProblem, pts: np.ndarray, seed: int = 0) -> list:
    """``sweep.taylor_test`` of the (claimed) gradient at every point, direction seeded by ``seed``."""
    from . import expression as ex
    from .sweep import taylor_test

    f = ex.compile_one(problem.expression.expr, problem.names)
    grads = ex.compile_many(_gradient_exprs(problem), problem.names)(pts.T).T
    return [taylor_test(lambda q: float(f(q[:, None])[0]), p, g, seed) for p, g in zip(pts, grads)]


def _taylor_extras(report: Report, tests: Sequence, names: Sequence[str], pts: np.ndarray, seed: int) -> dict:
    """Notes, hints and JSON fields of the Taylor test; ``taylor_order`` is the lowest order."""
    orders = [t.order for t in tests if t.order is not None]
    notes = tuple(f"Taylor test at {_point_text(names, p)} (seed {seed}): {t.verdict()}"
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


# ------------------------------------------------------------------ sweep
def _sweep_report(check: Check, sweep, taylor, header: Sequence[str], component: str, seed: int,
                  thresholds: Thresholds) -> Report:
    return Report(
        command="sweep", method=Method.CENTRAL, thresholds=thresholds, checks=(check,),
        counts=count_statuses([check.status]), header=tuple(header),
        notes=(f"Taylor test along a random unit direction (seed {seed}): {taylor.verdict()}",),
        extra={"component": component, "sweep": sweep.to_dict(), "taylor_order": taylor.order,
               "taylor": taylor.to_dict()},
    )


def _one_check(name: str, analytic: float, est, thresholds: Thresholds, kink: bool = False, **where) -> Check:
    """The verdict of one component from its ``finite_diff.Estimate`` (shape (1, 1))."""
    floor = floor_from_noise(est.noise, thresholds)
    rel = relative_error(analytic, est.value, floor)
    status = classify(rel, thresholds, np.array([[kink]]))
    return Check(name=name, analytic=float(analytic), numeric=float(est.value[0, 0]), rel_error=float(rel[0, 0]),
                 status=status[0, 0], floor=float(floor[0, 0]), **where)


def _line_function(cost, base: np.ndarray, i: int):
    """``phi(s)``: f at ``base`` with coordinate ``i`` set to each value of ``s``."""

    def phi(s: np.ndarray) -> np.ndarray:
        s = np.asarray(s, dtype=float)
        X = np.repeat(base[:, None], s.size, axis=1)
        X[i] = s.ravel()
        return np.asarray(cost(X), dtype=float).reshape(s.shape)

    return phi


def _sweep_expression(text, at, wrt, grads, seed, thresholds) -> Report:
    from . import expression as ex
    from .finite_diff import Estimate
    from .sweep import step_sweep, taylor_test

    if len(at) > 1:
        raise OptionError("sweep looks at one point: give --at once")
    problem = prepare_expression(text, at, grads, wrt)
    if wrt and len(problem.wrt) != 1:
        raise OptionError(f"--wrt: sweep one variable at a time, got {', '.join(problem.wrt)}")
    pts = expression_points(problem, at, None if at else 1, seed)
    names, expr, p = problem.names, problem.expression.expr, pts[0]
    f = ex.compile_one(expr, names)
    est = estimate_gradient(f, pts)
    cols = [names.index(v) for v in problem.wrt]
    exprs = [c if c is not None else d for c, d in zip(problem.claimed, problem.derivatives)]
    analytic = ex.compile_many(exprs, names)(pts.T)[:, 0]
    rel = relative_error(analytic, est.value[0, cols], floor_from_noise(est.noise[0, cols], thresholds))
    j = int(np.argmax(np.where(np.isfinite(rel), rel, np.inf)))  # the worst component
    v, i = problem.wrt[j], cols[j]
    kink = bool(ex.kink_mask(ex.kinks(expr), names, pts, est.step)[0, i])
    one = Estimate(value=est.value[:, [i]], noise=est.noise[:, [i]], step=est.step[:, [i]])
    check = _one_check(v, analytic[j], one, thresholds, kink, point={n: float(x) for n, x in zip(names, p)})
    sweep = step_sweep(_line_function(f, p, i), p[i], analytic[j], check.floor)
    gradient = ex.compile_many(_gradient_exprs(problem), names)(pts.T)[:, 0]
    taylor = taylor_test(lambda q: float(f(q[:, None])[0]), p, gradient, seed)
    claimed = problem.claimed_text[j]
    header = (f"d/d{v} = {claimed if claimed is not None else ex.display(problem.derivatives[j])}"
              + ("  (claimed)" if claimed is not None else ""),
              f"sweep of d/d{v} at {_point_text(names, p)}")
    return _sweep_report(check, sweep, taylor, header, v, seed, thresholds)


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


def _sweep_func(target, wrt, shape, x, seed, thresholds) -> Report:
    from .finite_diff import blackbox_gradient
    from .sweep import step_sweep, taylor_test, vectorize

    from .loading import load_seeded

    x0, label = func_x(shape, x, seed)
    k = _entry_index(wrt, x0.shape) if wrt else None
    (fu,) = load_seeded([(target, "function")], seed)
    _, grad = fu.cost_and_grad(x0, grad_shape=x0.shape)
    cost = lambda q: fu.cost_and_grad(q.reshape(x0.shape), grad_shape=x0.shape)[0]  # noqa: E731
    flat, g = x0.ravel(), grad.ravel()
    if k is None:  # the worst entry by the func command's own estimate
        rough = blackbox_gradient(cost, x0)
        rel = relative_error(g, rough.value, floor_from_noise(rough.noise, thresholds))
        k = int(np.argmax(np.where(np.isfinite(rel), rel, np.inf)))
    phi = _line_function(lambda X: vectorize(cost)(X.T), flat, k)
    est = estimate_gradient(lambda X: phi(X[0]), np.array([[flat[k]]]))
    index = tuple(int(i) for i in np.unravel_index(k, x0.shape)) if x0.shape else None
    check = _one_check("x", g[k], est, thresholds, index=index)
    sweep = step_sweep(phi, flat[k], g[k], check.floor)
    taylor = taylor_test(cost, flat, g, seed)
    entry = f"x[{', '.join(map(str, index))}]" if index else "x"
    header = (f"f = {target} -> (cost, grad); {label}, shape {' x '.join(map(str, x0.shape)) or 'scalar'}",
              f"sweep of df/d{entry}")
    return _sweep_report(check, sweep, taylor, header, entry, seed, thresholds)


def check_sweep(
    text: str | None = None,
    *,
    func: str | None = None,
    at: Sequence[str] = (),
    wrt: str | None = None,
    grads: Sequence[str] = (),
    shape: str | None = None,
    x: str | None = None,
    seed: int = 0,
    thresholds: Thresholds = Thresholds(),
) -> Report:
    """``gradcheck sweep``: one component's relative error over steps 1e-1 ... 1e-12, and the
    Taylor test (``sweep``).  The verdict (one check) is the usual one, from the adaptive
    estimate; ``extra`` holds ``sweep``, ``taylor`` and ``taylor_order``.

    The component is ``wrt`` (a variable; with ``func`` an entry of x), else the worst.
    """
    if (text is None) == (func is None):
        raise OptionError("give either an expression or --func FILE.py:NAME")
    if func is not None:
        if at or grads:
            raise OptionError("--at and --grad go with an expression; with --func use --x or --shape")
        return _sweep_func(func, wrt, shape, x, seed, thresholds)
    if shape is not None or x is not None:
        raise OptionError("--shape and --x go with --func")
    return _sweep_expression(text, tuple(at), wrt, tuple(grads), seed, thresholds)


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
