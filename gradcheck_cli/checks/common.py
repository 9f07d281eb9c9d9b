"""What the checking commands share: the block verdict, the black-box gradient check, the
second opinions (``--hvp``, ``--taylor``).

A block (``W1``, ``x``, a layer input) is judged entry by entry with ``verdict``; the
report keeps every failing entry and the ``top`` worst.  ``check_gradient`` is the
black-box check of ``f(x) -> (cost, grad)`` that ``func`` and ``sanity`` (and the API)
run.  No command module imports another; what two of them need lives here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..choices import Method
from ..diagnosis import TAYLOR_DISAGREES, ratio_hint
from ..errors import OptionError
from ..finite_diff import validate_step
from ..inputs import sample_indices, validate_hvp, validate_seed, validate_top, validate_x
from ..results import Check, FunctionSubject, Report, XSource, count_statuses
from ..verdict import Thresholds, classify, floor_from_noise, relative_error


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


def network_block_data(blocks, g: np.ndarray, numeric: np.ndarray, noise: np.ndarray,
                       kink: np.ndarray) -> list[BlockData]:
    """``BlockData`` of each network block (``models.Block``) from flat parameter-length arrays."""
    return [BlockData(b.name, b.shape, g[b.slice], numeric[b.slice], noise[b.slice], kink[b.slice]) for b in blocks]


def judge_blocks(data: Sequence[BlockData], thresholds: Thresholds, top: int = 5) -> BlockVerdict:
    """Apply the verdict entry by entry; summarise per block; pick entries to report.

    ``checks`` holds every failing (or, under ``--strict``, warning) entry plus the
    ``top`` worst entries overall, worst first.
    """
    from ..results import BlockResult, merge_counts
    from ..verdict import STATUS_BY_CODE, status_codes, worst

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

    from ..results import merge_counts

    checks, counts, hints = list(report.checks), dict(report.counts), list(report.hints)
    taylor_result = None
    if hvp:
        from ..second_order import hvp_checks, hvp_symmetry

        rows = hvp_checks(hvp_symmetry(grad_fn, x, hvp, seed, report.thresholds))
        checks += rows
        counts = merge_counts([counts, count_statuses([r.status for r in rows])])
    if taylor:
        from ..sweep import taylor_test

        taylor_result = taylor_test(lambda z: float(cost(z.reshape(np.shape(x)))), np.ravel(x), np.ravel(g), seed)
        if not taylor_result.consistent and report.status.value == "pass":
            hints.append(TAYLOR_DISAGREES)
    return replace(report, checks=tuple(checks), counts=counts, hints=tuple(hints), hvp=hvp,
                   taylor_test=taylor_result, taylor_order=None if taylor_result is None else taylor_result.order,
                   seed=seed)


def validate_gradient_options(x, *, sample=None, seed=0, eps=None, top=5, hvp=0) -> tuple[np.ndarray, np.ndarray | None]:
    """Validate what ``check_gradient`` takes, once (``func`` calls it before loading user code).

    Returns x as a fresh float64 array and the sampled flat indices (None: every entry).
    """
    x0 = validate_x(x)
    validate_step(Method.CENTRAL, eps)
    validate_seed(seed)
    validate_top(top)
    validate_hvp(hvp)
    return x0, sample_indices(x0.size, sample, seed)


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
    source: XSource | None = None,
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
    ``UserCodeError``.  ``name`` and ``source`` (where x came from) label the report; ``progress(done,
    total)`` is called after each entry.  ``hvp`` adds that many Hessian-vector symmetry
    checks and ``taylor`` the Taylor test (see ``check_network``).

    >>> import numpy as np
    >>> check_gradient(lambda x: (np.sum(x**2), 2 * x), np.ones((3, 4))).status.value
    'pass'
    """
    from ..finite_diff import blackbox_gradient
    from ..loading import UserFunction
    from ..verdict import Status

    x0, idx = validate_gradient_options(x, sample=sample, seed=seed, eps=eps, top=top, hvp=hvp)
    fu = f if isinstance(f, UserFunction) else UserFunction(f, name or callable_name(f))
    gu = None
    if grad is not None:
        gu = grad if isinstance(grad, UserFunction) else UserFunction(grad, callable_name(grad))

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

    subject = FunctionSubject(function=fu.name, gradient=None if gu is None else gu.name, source=source,
                              shape=tuple(x0.shape), cost=float(cost0), size=int(x0.size),
                              sampled=None if idx is None else total)
    failing = np.array([s is Status.FAIL for s in verdict.statuses["x"]], dtype=bool)
    report = Report(
        command="func",
        method=Method.CENTRAL,
        thresholds=thresholds,
        checks=verdict.checks,
        counts=verdict.counts,
        blocks=verdict.blocks,
        hints=ratio_hint(analytic, est.value, failing),
        function=subject,
        seed=seed,
        shown=top,
    )
    if not (hvp or taylor):
        return report
    if gu is None:
        grad_fn = lambda z: fu.cost_and_grad(z.reshape(x0.shape), grad_shape=x0.shape)[1].ravel()  # noqa: E731
    else:
        grad_fn = lambda z: _grad_only(gu, z.reshape(x0.shape)).ravel()  # noqa: E731
    return with_second_opinions(report, cost, grad_fn, x0, g, hvp=hvp, taylor=taylor, seed=seed)


def _grad_only(gu, x: np.ndarray) -> np.ndarray:
    """Call a separate gradient function and validate that it returns an array of x's shape."""
    from ..errors import UserCodeError

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
