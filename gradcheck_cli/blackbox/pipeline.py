"""``check_blackbox``: the one black-box check of users' code (``func``, ``net --impl``,
``layer``).  numpy only; it takes callables and flat arrays, never user objects.

Like pytorch's slow and fast ``gradcheck``, both modes share one signature and one
numeric kernel and differ only in which directions they try:

1. *search*: ``full`` measures every entry directly (``search.check_every_entry``, or
   the caller's four-point ``direct`` estimator); ``adaptive`` (``fast`` is the same for
   users' code) runs the adaptive group testing of ``search.check_adaptive``, after which
   the caller's ``direct`` estimator (when given) re-measures the directly checked
   entries that do not pass, with its kink test (``stencils.jump_kink``);
2. *re-estimate*: every directly checked entry that still does not pass (every one in
   full mode; at most ``RECHECK_MAX`` per block otherwise, failing ones first) is
   estimated again by ``stencils.blackbox_gradient`` (three rungs in the code's own
   precision, upgraded by the stencil ladder of ``ladder`` where they do not verify, in
   extended precision when the caller passes ``lifted``; the shrinking one-sided kink
   test);
3. *verdict*: ``blocks.judge_blocks`` (``verdict.assess``) on the entries checked
   directly; entries cleared by exclusion pass only when their proved bound is within
   ``pass_tol`` (else ``unresolved``); entries left unchecked are never ``pass``;
4. *effort*: entries, how each got its verdict, calls, seconds (``results.Effort``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Callable, Sequence

import numpy as np

from ..blocks import BlockData, BlockVerdict, judge_blocks
from ..choices import Mode
from ..errors import OptionError
from ..finite_diff import evidence, unit_roundoff
from ..results import Effort, merge_counts
from ..verdict import Status, Thresholds, assess, worst
from .params import regions
from .search import AdaptiveResult, BlockOutcome, How, check_adaptive, check_every_entry
from .ladder import LIFT_RECHECK_CALLS, LIFT_RECHECK_SECONDS, Lifted
from .stencils import Entries, blackbox_gradient, jump_kink

#: ``direct(block, indices, progress) -> stencils.Entries``: a caller's four-point estimate of
#: some entries (flat indices within block number ``block``)
Direct = Callable[[int, np.ndarray, Callable[[int], None] | None], Entries]


@dataclass(frozen=True)
class BlackboxCheck:
    """What ``check_blackbox`` found: per entry (``search``), the verdict, the effort."""

    search: AdaptiveResult
    verdict: BlockVerdict
    effort: Effort
    #: the values judged per block (after the re-estimate), in ``verdict.indices`` order
    judged: tuple[BlockData, ...] = ()


def validate_mode(mode) -> Mode:
    """``mode`` as a ``Mode`` (``full``, ``adaptive``, ``fast``); OptionError otherwise."""
    try:
        return Mode(mode)
    except ValueError:
        raise OptionError(f"--mode must be one of adaptive, fast, full, got {mode!r}") from None


def check_blackbox(
    cost: Callable[[np.ndarray], float],
    x: np.ndarray,
    grad: np.ndarray,
    blocks=None,
    *,
    mode: Mode = Mode.ADAPTIVE,
    thresholds: Thresholds = Thresholds(),
    top: int = 5,
    seed: int = 0,
    f0: float | None = None,
    step: float | None = None,
    indices: Sequence[int] | None = None,
    kink: np.ndarray | None = None,
    recheck: bool = True,
    calls: Callable[[], int] | None = None,
    direct: Direct | None = None,
    lifted: Callable[[np.ndarray], object] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> BlackboxCheck:
    """Check the claimed gradient ``grad`` of the black box ``cost`` at ``x`` (module docstring).

    ``cost(z)`` takes an array of x's shape (and leaves nothing changed); ``blocks`` are
    ``(name, shape, offset)`` tuples / ``params.Region``s over ``x.ravel()`` (default one
    block ``x``); ``f0 = cost(x)`` when the caller has it; ``step`` fixes every step
    (``--eps``); ``indices``: only these flat entries, directly (``--sample``);
    ``kink`` a flat mask of known kinks (it then stands for the re-estimate's kink test);
    ``recheck=False`` skips the re-estimate (our own code, already exact); ``calls()``
    counts the user's calls for the effort (default: the search's own); ``direct`` the
    caller's four-point estimator (a layer's output-wise differences); ``lifted(z)`` the
    cost evaluated in ``np.longdouble`` (precision lifting of the re-estimate; the caller
    checked that the code computes in the dtype it is given); ``progress(done, total)``.

    >>> import numpy as np
    >>> x = np.linspace(-1, 1, 1000); g = 2 * x; g[123] *= 2
    >>> res = check_blackbox(lambda z: float(np.sum(z**2)), x, g)
    >>> res.verdict.blocks[0].status.value, res.search.wrong(Thresholds())["x"].tolist()
    ('fail', [123])
    """
    mode = validate_mode(mode)
    started = time.perf_counter()
    if lifted is not None and not isinstance(lifted, Lifted):
        lifted = Lifted(lifted)
    full = mode is Mode.FULL or indices is not None
    if full and direct is not None:
        result, kink = _direct_every_entry(direct, x, grad, blocks, thresholds, f0, progress)
    elif full:
        result = check_every_entry(cost, x, grad, blocks, thresholds=thresholds, indices=indices, f0=f0, step=step,
                                   progress=progress)
    else:
        result = check_adaptive(cost, x, grad, blocks, thresholds=thresholds, seed=seed, f0=f0, step=step,
                                progress=progress, lifted=lifted)
        if direct is not None:
            result, kink = _direct_refine(direct, result, thresholds)
    n = None if calls is None else calls()
    effort_mode = Mode.FULL if indices is not None else mode
    if isinstance(lifted, Lifted):  # the re-estimates get their own share of extended precision
        lifted.extend(LIFT_RECHECK_CALLS, LIFT_RECHECK_SECONDS)
    verdict, effort, judged = _verdict(result, thresholds, top, effort_mode, kink, n,
                                       recheck=(cost, np.array(x, dtype=float), lifted) if recheck else None)
    # every call of the user's code and the time, the re-estimates of _verdict included
    effort = replace(effort, seconds=time.perf_counter() - started,
                     calls=effort.calls if calls is None else int(calls()))
    return BlackboxCheck(result, verdict, effort, tuple(judged))


def _direct_every_entry(direct: Direct, x, grad, blocks, thresholds: Thresholds, f0, progress):
    """The full mode through the caller's four-point estimator: every entry of every block,
    with its kink test; a search result whose every entry is CHECKED."""
    t0 = time.perf_counter()
    g = np.asarray(grad, dtype=float).ravel()
    size = np.asarray(x).size
    regs = regions(blocks, size)
    kink = np.zeros(size, dtype=bool)
    outs, done = [], 0
    for i, r in enumerate(regs):
        tick = None if progress is None else (lambda k, done=done: progress(done + k, size))
        e = direct(i, np.arange(r.size), tick)
        done += r.size
        a = g[r.slice].copy()
        rel = assess(a, e.value, e.noise, thresholds).rel_max
        kink[r.slice] = jump_kink(e, a, rel, thresholds)
        outs.append(BlockOutcome(r.name, r.shape, r.offset, a, np.full(r.size, How.CHECKED.value, dtype=np.int8),
                                 np.asarray(e.value, dtype=float), np.asarray(e.noise, dtype=float),
                                 np.full(r.size, np.nan), False, 0, np.zeros(r.size)))
    cost = float("nan") if f0 is None else float(f0)
    return AdaptiveResult(tuple(outs), (), 0, time.perf_counter() - t0, 0.0, cost), kink


def _direct_refine(direct: Direct, result: AdaptiveResult, thresholds: Thresholds):
    """After the search: the caller's four-point estimate (and kink test) for the entries it
    checked directly that do not pass; a block that looked wrong everywhere but whose
    samples are all kinks (relu zeros, pooling ties) gets its other entries checked too."""
    kink = np.zeros(sum(b.how.size for b in result.blocks), dtype=bool)
    outcomes = []
    for i, b in enumerate(result.blocks):
        off = b.offset
        c = b.checked
        bad = c[np.array([s is not Status.PASS for s in b.statuses(thresholds)], dtype=bool)] if len(c) else c
        if len(bad):
            e = direct(i, bad, None)
            rel = assess(b.analytic[bad], e.value, e.noise, thresholds).rel_max
            b.numeric[bad], b.noise[bad] = e.value, e.noise
            kink[off + bad] = jump_kink(e, b.analytic[bad], rel, thresholds)
        unchecked = np.flatnonzero(b.how == How.UNCHECKED)
        wrong = bad[~kink[off + bad]] if len(bad) else bad
        if len(unchecked) and not len(wrong):
            e = direct(i, unchecked, None)
            rel = assess(b.analytic[unchecked], e.value, e.noise, thresholds).rel_max
            b.numeric[unchecked], b.noise[unchecked] = e.value, e.noise
            b.how[unchecked] = How.CHECKED.value
            kink[off + unchecked] = jump_kink(e, b.analytic[unchecked], rel, thresholds)
            b = replace(b, blockwide=False)
        outcomes.append(b)
    return replace(result, blocks=tuple(outcomes)), kink


def _verdict(result: AdaptiveResult, thresholds: Thresholds, top: int, mode: Mode, kink: np.ndarray | None = None,
             calls: int | None = None, recheck=None) -> tuple[BlockVerdict, Effort, list[BlockData]]:
    """The verdict of a search result: ``judge_blocks`` on the entries checked
    directly, plus the entries cleared by exclusion (in ``checked``): ``pass`` where the
    bound the search proved is within ``pass_tol`` of the entry (verified; an exactly-0
    entry: within the round-off a direct check would give it), else ``unresolved``
    (issue 9: pass means verified).

    ``recheck = (cost, x)``: the directly checked entries that do not pass (every one in
    full mode; at most ``RECHECK_MAX`` per block otherwise, failing ones first) are
    estimated again by ``stencils.blackbox_gradient`` (three rungs, the code's own precision,
    one-sided kink test) before the verdict, so relu at exactly 0 is ``kink`` and an
    estimate that cannot decide is ``unresolved``, not a failure.

    Entries cleared by exclusion whose bound does not verify them stay ``unresolved`` (the
    search proved they do not fail, not that they pass).  Entries left unchecked in a block
    that has no failing entry (the search gave up on them) are checked directly (within
    ``RECHECK_MAX``), else count as ``unresolved``: never as ``pass``.  ``kink`` is a flat mask of the parameter
    vector (relu stencils).  ``calls``: every call of the user's code (``UserFunction.calls``,
    the first calls included); default the search's own.
    """
    # excluded entries the search's bound verifies (issue 9: pass means verified)
    verified_of = []
    for b in result.blocks:
        with np.errstate(all="ignore"):
            ok = assess(b.analytic, b.analytic, b.bound, thresholds).code == 0
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
    recheck_excluded = unverified <= min(budget, EXCLUDED_RECHECK_MAX)
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
    return out, effort, data


#: at most this many directly checked entries that do not pass are estimated again per block
RECHECK_MAX = 512
#: entries cleared by exclusion but not verified are checked directly when at most this many
#: (the ladder costs ~20 calls an entry; the precise directions have had their turn)
EXCLUDED_RECHECK_MAX = 64


def _recheck(d: BlockData, offset: int, recheck, thresholds: Thresholds, limit: int | None = None) -> BlockData:
    """``d`` with its non-passing entries (at most ``limit``, failing ones first) estimated
    again by ``blackbox_gradient`` (``recheck = (cost, x, lifted)``)."""
    cost, x, lifted = recheck
    if not len(d.analytic):
        return d
    error, zs = evidence(d.analytic, d.numeric, d.noise, d.eps, d.resolution, d.unit_roundoff)
    code = assess(d.analytic, d.numeric, error, thresholds, zero_scale=zs, kink=d.kink).code
    # every non-pass, kinks included: the ladder's shrinking one-sided test confirms them
    # (a smooth zone narrower than the first steps, smooth-L1 with a small beta, is none)
    bad = code != 0
    if not np.any(bad):
        return d
    pos = np.flatnonzero(bad)
    if limit is not None:  # failing ones first, then warn, then unresolved: 6 calls an entry
        priority = np.select([code[pos] == 2, code[pos] == 1], [0, 1], 2)
        pos = np.sort(pos[np.argsort(priority, kind="stable")[:limit]])
    idx = np.arange(len(d.analytic)) if d.indices is None else np.asarray(d.indices)
    est = blackbox_gradient(cost, x, indices=offset + idx[pos], claimed=np.asarray(d.analytic)[pos],
                            pass_tol=thresholds.pass_tol, lifted=lifted)
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
    kink[pos] = est.kink  # the shrinking one-sided test decides every re-estimated entry
    unit = np.full(len(numeric), np.nan) if d.unit_roundoff is None else np.array(d.unit_roundoff, dtype=float)
    unit[pos] = unit_roundoff(est.f_scale, np.asarray(x, dtype=float).ravel()[offset + idx[pos]], est.eps)
    return replace(d, numeric=numeric, noise=noise, kink=kink, eps=est.eps, resolution=resolution,
                   unit_roundoff=unit)
