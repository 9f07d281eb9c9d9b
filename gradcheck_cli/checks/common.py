"""What the checking commands share: the block verdict, the black-box gradient check, the
second opinions (``--hvp``, ``--taylor``).

A block (``W1``, ``x``, a layer input) is judged entry by entry with ``verdict``; the
report keeps every failing entry and the ``top`` worst.  ``check_gradient`` is the
black-box check of ``f(x) -> (cost, grad)`` that ``func`` and ``sanity`` (and the API)
run.  No command module imports another; what two of them need lives here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ..choices import Method, Mode
from ..diagnosis import TAYLOR_DISAGREES, nonfinite_hint, ratio_hint
from ..errors import OptionError
from ..finite_diff import validate_step
from ..inputs import sample_indices, validate_hvp, validate_seed, validate_top, validate_x
from ..results import Check, FunctionSubject, Report, XSource, count_statuses
from ..verdict import Thresholds


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
    #: machine epsilon of the code that computed the values (float32 code: float32's)
    eps: float = float(np.finfo(float).eps)
    #: round-off resolution of the estimate (``finite_diff.Estimate.resolution``)
    resolution: np.ndarray | None = None


@dataclass(frozen=True)
class BlockVerdict:
    """Per-block verdicts: block summaries, the entries to show, counts over all."""

    blocks: tuple  # of results.BlockResult
    checks: tuple  # of results.Check: every failing entry, then the top-K worst
    counts: dict
    statuses: dict  # block name -> object array of Status per checked entry
    rel: dict  # block name -> relative errors per checked entry
    indices: dict = field(default_factory=dict)  # block name -> the checked entries (flat, in order)


def network_block_data(blocks, g: np.ndarray, numeric: np.ndarray, noise: np.ndarray,
                       kink: np.ndarray) -> list[BlockData]:
    """``BlockData`` of each network block (``models.Block``) from flat parameter-length arrays."""
    return [BlockData(b.name, b.shape, g[b.slice], numeric[b.slice], noise[b.slice], kink[b.slice]) for b in blocks]


def judge_blocks(data: Sequence[BlockData], thresholds: Thresholds, top: int = 5) -> BlockVerdict:
    """Apply the verdict entry by entry; summarise per block; pick entries to report.

    ``checks`` holds every failing (or, under ``--strict``, warning) entry plus the
    ``top`` worst entries overall, worst first.
    """
    from ..finite_diff import evidence
    from ..results import BlockResult, merge_counts
    from ..verdict import STATUS_BY_CODE, assess, count_codes, worst

    results, counts, statuses, rels, parts, errors, reasons = [], [], {}, {}, [], {}, {}
    for bi, b in enumerate(data):
        # issue 9: the interval rule; exact zeros (a == 0 and f unchanged) pass
        error, zs = evidence(b.analytic, b.numeric, b.noise, b.eps, b.resolution)
        res = assess(b.analytic, b.numeric, error, thresholds, zero_scale=zs, kink=b.kink)
        code, rel, floor = res.code, res.rel, res.floor
        # a non-finite analytic value has no error bar either (one representation: nan)
        errors[b.name] = np.where(np.isfinite(np.asarray(b.analytic, dtype=float)), res.error, np.nan)
        reasons[b.name] = res.reasons
        # a NaN/inf in the user's gradient has no relative error: NaN (JSON null, table
        # "nan"), ranked worst, and a failure (assess fails a non-finite analytic value)
        rel = np.where(np.isfinite(np.asarray(b.analytic, dtype=float)), rel, np.nan)
        st = STATUS_BY_CODE[code]
        idx = np.arange(len(rel)) if b.indices is None else np.asarray(b.indices)
        ranked = np.where(code == 3, -1.0, np.nan_to_num(rel, nan=np.inf, posinf=np.inf))
        w = int(np.argmax(ranked)) if len(rel) else None
        c = count_codes(code)
        results.append(BlockResult(
            name=b.name, shape=tuple(b.shape), checked=len(rel),
            max_rel_error=float(rel[w]) if w is not None and ranked[w] >= 0 else 0.0,
            worst_index=tuple(int(i) for i in np.unravel_index(idx[w], b.shape)) if w is not None else None,
            status=worst(STATUS_BY_CODE[np.unique(code)]), counts=c,
        ))
        counts.append(c)
        statuses[b.name], rels[b.name] = st, rel
        failing = (code == 2) | (((code == 1) | (code == 4)) & thresholds.strict)
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
            error=float(errors[b.name][j]), reason=reasons[b.name][j].value,
        ))
    indices = {b.name: (np.arange(len(b.analytic)) if b.indices is None else np.asarray(b.indices)) for b in data}
    return BlockVerdict(tuple(results), tuple(checks), merge_counts(counts), statuses, rels, indices)


def blackbox_check(cost, x: np.ndarray, g: np.ndarray, blocks=None, *, mode: Mode = Mode.ADAPTIVE,
                   thresholds: Thresholds = Thresholds(), seed: int = 0, f0: float | None = None,
                   step: float | None = None, indices=None, progress=None):
    """The black-box check of users' code (``fast_mode``): adaptive (``fast`` is the same)
    or every entry (``full``, or when ``indices`` are given).  Returns its ``AdaptiveResult``."""
    from .. import fast_mode

    if mode is Mode.FULL or indices is not None:
        return fast_mode.check_every_entry(cost, x, g, blocks, thresholds=thresholds, indices=indices,
                                           f0=f0, step=step, progress=progress)
    return fast_mode.check_adaptive(cost, x, g, blocks, thresholds=thresholds, seed=seed, f0=f0, step=step,
                                    progress=progress)


def blackbox_verdict(result, thresholds: Thresholds, top: int, mode: Mode, kink: np.ndarray | None = None,
                     calls: int | None = None, recheck=None) -> tuple[BlockVerdict, "Effort"]:
    """The verdict of a ``fast_mode`` result: ``judge_blocks`` on the entries checked
    directly, plus the entries cleared by exclusion (in ``checked``): ``pass`` where the
    bound the search proved is within ``pass_tol`` of the entry (verified; an exactly-0
    entry: within the round-off a direct check would give it), else ``unresolved``
    (issue 9: pass means verified).

    ``recheck = (cost, x)``: the directly checked entries that do not pass (every one in
    full mode; at most ``RECHECK_MAX`` per block otherwise, failing ones first) are
    estimated again by ``finite_diff.blackbox_gradient`` (three rungs, the code's own precision,
    one-sided kink test) before the verdict, so relu at exactly 0 is ``kink`` and an
    estimate that cannot decide is ``unresolved``, not a failure.

    Entries cleared by exclusion whose bound does not verify them stay ``unresolved`` (the
    search proved they do not fail, not that they pass).  Entries left unchecked in a block
    that has no failing entry (the search gave up on them) are checked directly (within
    ``RECHECK_MAX``), else count as ``unresolved``: never as ``pass``.  ``kink`` is a flat mask of the parameter
    vector (relu stencils).  ``calls``: every call of the user's code (``UserFunction.calls``,
    the first calls included); default the search's own.
    """
    from dataclasses import replace

    from ..fast_mode import How
    from ..results import Effort, merge_counts
    from ..verdict import Status, worst

    # excluded entries the search's bound verifies (issue 9: pass means verified)
    verified_of = []
    for b in result.blocks:
        with np.errstate(all="ignore"):
            ok = b.bound <= thresholds.pass_tol * (1 - thresholds.pass_tol) * np.abs(b.analytic)
            # an exactly-0 claim whose bound is within the round-off a direct check would
            # give the entry: zero to the resolution of the code (the black-box zero rule)
            ok |= (np.asarray(b.analytic) == 0) & (b.bound <= np.asarray(b.least_noise))
        verified_of.append((b.how == How.EXCLUDED) & ok)
    budget = RECHECK_MAX if recheck is not None else 0
    # entries cleared by exclusion but not verified to pass_tol are checked directly when all
    # of them fit in the budget (a layer, a small net); past it they stay unresolved, since
    # checking a few hundred of 80,000 costs seconds and leaves the picture as it was
    # (--mode full checks every entry)
    unverified = sum(int(np.sum((b.how == How.EXCLUDED) & ~v)) for b, v in zip(result.blocks, verified_of))
    recheck_excluded = unverified <= budget
    data, extras = [], []
    for b, verified in zip(result.blocks, verified_of):
        wanted = (b.how == How.UNCHECKED) | ((b.how == How.EXCLUDED) & ~verified & recheck_excluded)
        extra = np.flatnonzero(wanted)[:budget]
        budget -= len(extra)
        extras.append(extra)
        c = np.union1d(b.checked, extra).astype(int)
        numeric, noise = np.array(b.numeric, dtype=float), np.array(b.noise, dtype=float)
        numeric[extra], noise[extra] = np.nan, np.inf
        k = None if kink is None else kink[b.offset: b.offset + b.how.size][c]
        data.append(BlockData(b.name, b.shape, b.analytic[c], numeric[c], noise[c], k, indices=c))
    if recheck is not None:
        with np.errstate(all="ignore"):
            limit = None if mode is Mode.FULL else RECHECK_MAX
            data = [_recheck(d, b.offset, recheck, thresholds, limit) for d, b in zip(data, result.blocks)]
    verdict = judge_blocks(data, thresholds, top)
    blocks, counts = [], []
    bounds = []
    for b, r, verified_mask, extra in zip(result.blocks, verdict.blocks, verified_of, extras):
        extra_unchecked = int(np.sum(b.how[extra] == How.UNCHECKED))
        excluded = int(np.sum(b.how == How.EXCLUDED)) - (len(extra) - extra_unchecked)
        unchecked = int(np.sum(b.how == How.UNCHECKED)) - extra_unchecked
        verified = int(np.sum(verified_mask))
        c = dict(r.counts)
        c["checks"] += excluded
        c["pass"] += verified
        c["unresolved"] = c.get("unresolved", 0) + excluded - verified
        status = r.status if r.checked else Status.PASS
        if excluded > verified:
            status = worst([status, Status.UNRESOLVED])
        if unchecked and status is not Status.FAIL:
            # left unchecked by the search: the numbers cannot decide (issue 9)
            c["checks"] += unchecked
            c["unresolved"] = c.get("unresolved", 0) + unchecked
            status = worst([status, Status.UNRESOLVED])
        counts.append(c)
        blocks.append(replace(r, checked=r.checked + excluded, status=status, counts=c))
        rb = b.relative_bound(thresholds)
        if np.any(np.isfinite(rb)):
            bounds.append(float(np.nanmax(rb)))
    out = BlockVerdict(tuple(blocks), verdict.checks, merge_counts(counts), verdict.statuses, verdict.rel,
                       verdict.indices)
    tally = np.bincount(np.concatenate([b.how for b in result.blocks]).astype(np.int64), minlength=len(How))
    effort = Effort(
        mode=mode, entries=int(tally[How.EXCLUDED] + tally[How.CHECKED]), checked=int(tally[How.CHECKED]),
        excluded=int(tally[How.EXCLUDED]), unchecked=int(tally[How.UNCHECKED]),
        calls=result.calls if calls is None else int(calls), seconds=result.seconds, directions=len(result.directions),
        blockwide=tuple(b.name for b in result.blocks if b.blockwide),
        max_bound=max(bounds) if bounds else None,
    )
    return out, effort


#: at most this many entries cleared by exclusion but not verified are checked directly
RECHECK_MAX = 512


def _recheck(d: BlockData, offset: int, recheck, thresholds: Thresholds, limit: int | None = None) -> BlockData:
    """``d`` with its non-passing entries (at most ``limit``, failing ones first) estimated
    again by ``blackbox_gradient``."""
    from dataclasses import replace

    from ..finite_diff import blackbox_gradient, evidence
    from ..verdict import assess

    cost, x = recheck
    if not len(d.analytic):
        return d
    error, zs = evidence(d.analytic, d.numeric, d.noise)
    code = assess(d.analytic, d.numeric, error, thresholds, zero_scale=zs, kink=d.kink).code
    bad = (code != 0) & (code != 3)  # neither pass nor an already-found kink
    if not np.any(bad):
        return d
    pos = np.flatnonzero(bad)
    if limit is not None:  # failing ones first, then warn, then unresolved: 6 calls an entry
        priority = np.select([code[pos] == 2, code[pos] == 1], [0, 1], 2)
        pos = np.sort(pos[np.argsort(priority, kind="stable")[:limit]])
    idx = np.arange(len(d.analytic)) if d.indices is None else np.asarray(d.indices)
    est = blackbox_gradient(cost, x, indices=offset + idx[pos])
    numeric, noise = np.array(d.numeric, dtype=float), np.array(d.noise, dtype=float)
    kink = np.zeros(len(numeric), bool) if d.kink is None else np.array(d.kink, dtype=bool)
    resolution = np.full(len(numeric), np.nan)
    # an estimate that says nothing (a flat stencil, a pole) does not replace the evidence
    # there was (a relu mask left out fails on its dead units by the first estimate)
    # A flat stencil (every value equal: the estimate is 0 with no bound) with a non-zero
    # claim keeps the first estimate's evidence (a relu mask left out fails on its dead
    # units); any other estimate replaces it, infinite error included (a C1 point such as
    # relu(x)**2 at 0, a pole or a period inside the stencil: unresolved, not fail).
    flat = (est.value == 0) & ~np.isfinite(est.noise) & (np.asarray(d.analytic)[pos] != 0)
    take = ~flat
    numeric[pos[take]], noise[pos[take]] = est.value[take], est.noise[take]
    resolution[pos[take]] = est.resolution[take]
    if d.kink is None:  # the caller's own kink test (layer, relu masks) stands where it has one
        kink[pos] = est.kink
    return replace(d, numeric=numeric, noise=noise, kink=kink, eps=est.eps, resolution=resolution)


def _validate_mode(mode) -> Mode:
    try:
        return Mode(mode)
    except ValueError:
        raise OptionError(f"--mode must be one of adaptive, fast, full, got {mode!r}") from None


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


def validate_gradient_options(x, *, sample=None, seed=0, eps=None, top=5, hvp=0,
                              mode=Mode.ADAPTIVE) -> tuple[np.ndarray, np.ndarray | None]:
    """Validate what ``check_gradient`` takes, once (``func`` calls it before loading user code).

    Returns x as a fresh float64 array and the sampled flat indices (None: every entry).
    """
    _validate_mode(mode)
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
    mode: Mode | str = Mode.ADAPTIVE,
) -> Report:
    """Check the gradient of a black-box scalar function ``f`` at ``x``, every entry.

    ``f(x) -> (cost, grad)`` with ``grad`` of x's shape (the ``gradcheck_naive``
    convention), or ``f(x) -> cost`` together with ``grad(x) -> array``.  ``mode``
    ``adaptive`` (default; ``fast`` is the same) tests random-sign sets of entries and
    splits only those that disagree (``fast_mode``: every entry gets a verdict, directly
    or by exclusion, and an entry that its own check would fail cannot be masked);
    ``full`` checks every entry (or ``sample`` random ones, seeded by ``seed``) with the
    central difference ``(f(x + h e_k) - f(x - h e_k)) / 2h``, ``h = eps**(1/3) max(|x_k|,
    1)`` (or the fixed ``eps``), two calls per entry (four when it does not pass within
    round-off, to measure the truncation).  The verdict is the usual one (``verdict``).
    The report has one block, ``x``, every failing entry and the ``top`` worst, and the
    effort (``Report.effort``: entries, calls, seconds).

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
    import contextlib
    import time
    from dataclasses import replace

    from ..usercode import UserFunction
    from ..verdict import Status

    x0, idx = validate_gradient_options(x, sample=sample, seed=seed, eps=eps, top=top, hvp=hvp)
    mode = _validate_mode(mode)
    fu = f if isinstance(f, UserFunction) else UserFunction(f, name or callable_name(f))
    gu = None
    if grad is not None:
        gu = grad if isinstance(grad, UserFunction) else UserFunction(grad, callable_name(grad))

    started = time.perf_counter()
    with fu.session(), (gu.session() if gu is not None else contextlib.nullcontext()):
        if gu is None:
            cost0, g = fu.cost_and_grad(x0, grad_shape=x0.shape)
            cost = lambda z: fu.cost_and_grad(z, grad_shape=x0.shape, copy=False)[0]  # noqa: E731
        else:
            cost0 = fu.cost_only(x0)
            g = gu.gradient_only(x0)
            cost = fu.cost_only
        result = blackbox_check(cost, x0, g, [("x", x0.shape, 0)], mode=mode, thresholds=thresholds, seed=seed, f0=cost0, step=eps,
                                indices=idx, progress=progress)
        verdict, effort = blackbox_verdict(result, thresholds, top, Mode.FULL if idx is not None else mode,
                                           recheck=(cost, x0))
    # every call of the user's code, re-estimates included, as its wrapper counted them
    effort = replace(effort, calls=fu.calls + (gu.calls if gu is not None else 0),
                     seconds=time.perf_counter() - started)
    total = x0.size if idx is None else len(idx)
    block = result.blocks[0]
    c = block.checked
    analytic, numeric = block.analytic[c], block.numeric[c]

    subject = FunctionSubject(function=fu.name, gradient=None if gu is None else gu.name, source=source,
                              shape=tuple(x0.shape), cost=float(cost0), size=int(x0.size),
                              sampled=None if idx is None else total)
    keep = np.isin(verdict.indices.get("x", c), c)  # the entries fast_mode checked itself
    failing = np.array([s is Status.FAIL for s in np.asarray(verdict.statuses["x"], dtype=object)[keep]], dtype=bool)
    report = Report(
        command="func",
        method=Method.CENTRAL,
        thresholds=thresholds,
        checks=verdict.checks,
        counts=verdict.counts,
        blocks=verdict.blocks,
        hints=(nonfinite_hint("x", np.asarray(g, dtype=float).reshape(x0.shape)),) if not np.all(np.isfinite(g))
        else ratio_hint(analytic, numeric, failing),
        function=subject,
        seed=seed,
        shown=top,
        mode=mode,
        effort=effort,
    )
    if not (hvp or taylor):
        return report
    if gu is None:
        grad_fn = lambda z: fu.cost_and_grad(z.reshape(x0.shape), grad_shape=x0.shape)[1].ravel()  # noqa: E731
    else:
        grad_fn = lambda z: gu.gradient_only(z.reshape(x0.shape)).ravel()  # noqa: E731
    return with_second_opinions(report, cost, grad_fn, x0, g, hvp=hvp, taylor=taylor, seed=seed)
