"""``check_blackbox``: the one black-box check of users' code (``func``, ``net --impl``,
``layer``).  numpy only; it takes callables and flat arrays, never user objects.

Like pytorch's slow and fast ``gradcheck``, both modes share one signature and one
numeric kernel and differ only in which directions they try:

1. *search*: ``full`` measures every entry directly: a first look of two calls per
   entry (``search.check_every_entry`` without its 4h pair, or the caller's ``direct``
   estimator with ``points=2``), judged by ``verdict.assess`` with the round-off of that
   difference as its error; an entry that passes is settled by those two calls; the
   entries whose first look agrees but cannot verify them (a small entry of a large
   summed cost) are verified together by precise directions (``collective._verify``: a few
   hundred calls for thousands of entries, ``Settled.directions``); every other one goes
   on (the caller's four-point estimate with its kink test, completed from the first
   look's values by 2 calls, then step 2), so a smooth function costs about 2 calls per
   entry plus the noise probe; a kink suspect (one-sided slopes apart: ``jump_suspects``,
   ``KINK_SHARE``) costs 2 more where curvature explains the gap (``_test_suspects``,
   ``_direct_every_entry``); ``adaptive`` (``fast`` is the same for
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
4. *effort*: entries, how each got its verdict (full mode: ``results.Settled``), calls,
   seconds (``results.Effort``).

``deadline`` (``--max-seconds``, a ``time.perf_counter()`` value) stops every phase: the
entries not settled by then are ``unchecked`` (their own count, never ``pass``; the
search's evidence stands where it measured the truncation).  ``progress(done, total)``
spans every phase: the total grows by the entries to re-estimate when they are known, so
the bar is not full while they run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Callable, Sequence

import numpy as np

from ..blocks import BlockData, BlockVerdict, judge_blocks
from ..choices import Mode
from ..errors import OptionError
from ..finite_diff import EPS, SCALE_ULPS, entry_scale, evidence, function_scale, unit_roundoff
from ..results import Effort, Settled, merge_counts
from ..verdict import Status, Thresholds, assess, worst
from .params import regions
from .collective import verify_by_directions
from .outcome import AdaptiveResult, BlockOutcome, How
from .search import check_adaptive, check_every_entry
from .confirm import confirm_block
from .ladder import Lifted, recheck_budget, shrinking_kink
from .stencils import Entries, Estimate, blackbox_gradient, jump_kink

#: ``direct(block, indices, progress[, points=4]) -> stencils.Entries``: a caller's four-point
#: estimate of some entries (flat indices within block number ``block``); one whose attribute
#: ``first_look`` is True takes ``points=2``: the full mode's two-call first look
#: (``stencils.two_point_entries``)
Direct = Callable[..., Entries]

#: with a deadline, the direct estimates and the re-estimates run in chunks of at most this
#: many entries, each sized to half the time left at the pace measured so far
CHUNK = 256


#: a first look whose one-sided slopes differ by more than this share of their size is not
#: settled by it (a smooth f differs by f'' h, h ~ 6e-6: a kink differs by its jump)
KINK_SHARE = 1e-3

#: under a deadline, the share of the time left that the full mode's first look may take
FIRST_LOOK_SHARE = 0.7


def _chunks(n: int, deadline: float | None):
    """``(start, stop)`` slices of ``range(n)``: one without a deadline; with one, chunks
    sized to half the time left at the measured pace (1 entry first), none once it passed,
    so a check overshoots its deadline by about one entry's estimate."""
    if deadline is None:
        if n:
            yield 0, n
        return
    start, size = 0, 1
    while start < n:
        t = time.perf_counter()
        if t > deadline:
            return
        stop = min(n, start + size)
        yield start, stop
        per = (time.perf_counter() - t) / (stop - start)
        start = stop
        left = deadline - time.perf_counter()
        size = CHUNK if per <= 0 else int(max(1, min(CHUNK, 0.5 * left / per)))


class _Phases:
    """``progress(done, total)`` over every phase: the search's entries first, then the
    entries handed on (four-point estimates, re-estimates), added to the total when known."""

    def __init__(self, progress: Callable[[int, int], None] | None, size: int) -> None:
        self.progress, self.size, self.extra, self.done = progress, int(size), 0, 0

    def search(self, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(done, total + self.extra)

    def more(self, n: int) -> None:
        """``n`` more entries to estimate again."""
        self.extra += int(n)
        self.tick(0)

    def tick(self, k: int = 1) -> None:
        self.done += k
        if self.progress is not None:
            self.progress(self.size + self.done, self.size + self.extra)


def _expired(deadline: float | None) -> bool:
    return deadline is not None and time.perf_counter() > deadline


def _takes_points(direct) -> bool:
    """Whether the caller's estimator offers the two-call first look: it says so with the
    attribute ``first_look = True`` and then takes ``points=2``."""
    return bool(getattr(direct, "first_look", False))


def _chunked_direct(direct: Direct, block: int, idx: np.ndarray, tick, deadline: float | None, **kw):
    """``direct`` on ``idx`` (in chunks, the deadline checked between them); returns the
    ``Entries`` of the first ``reached`` entries and ``reached``."""
    if deadline is None:
        return direct(block, idx, tick, **kw), len(idx)
    parts, reached = [], 0
    first = kw.pop("first", None)
    for start, stop in _chunks(len(idx), deadline):
        chunk = idx[start:stop]
        more = {} if first is None else {"first": first.take(slice(start, stop))}
        parts.append(direct(block, chunk, None if tick is None else (lambda k, s=start: tick(s + k)), **kw, **more))
        reached += len(chunk)
    if not parts:
        empty = np.zeros(0)
        return Entries(idx[:0], empty, empty, empty, empty, empty), 0
    cat = lambda name: np.concatenate([np.asarray(getattr(e, name), dtype=float) for e in parts])  # noqa: E731
    rows = lambda name: (np.concatenate([getattr(e, name) for e in parts], axis=1)  # noqa: E731
                         if all(getattr(e, name) is not None for e in parts) else None)
    return Entries(idx[:reached], cat("value"), cat("noise"), cat("plus"), cat("minus"), cat("jump_excess"),
                   rows("values"), rows("sizes")), reached


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


def validate_max_seconds(max_seconds) -> float | None:
    """``--max-seconds``: None, or a positive finite number of seconds; OptionError otherwise."""
    if max_seconds is None:
        return None
    try:
        value = float(max_seconds)
    except (TypeError, ValueError):
        value = float("nan")
    if isinstance(max_seconds, bool) or not (np.isfinite(value) and value > 0):
        raise OptionError(f"--max-seconds must be a positive number of seconds, got {max_seconds!r}")
    return value


def deadline_after(max_seconds: float | None) -> float | None:
    """The ``time.perf_counter()`` value ``max_seconds`` from now (None: no deadline)."""
    return None if max_seconds is None else time.perf_counter() + float(max_seconds)


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
    deadline: float | None = None,
    precision: float | None = None,
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
    checked that the code computes in the dtype it is given); ``progress(done, total)``
    over every phase; ``deadline`` a ``time.perf_counter()`` value past which nothing more
    is estimated (the rest is ``unchecked``).  ``precision``: the machine epsilon of the
    code's values when the caller knows it (float32 code's returns: values on the flat side
    of a kink, all whole, or all 0 cannot tell), the least the search and the kink tests of
    suspects assume.

    >>> import numpy as np
    >>> x = np.linspace(-1, 1, 1000); g = 2 * x; g[123] *= 2
    >>> res = check_blackbox(lambda z: float(np.sum(z**2)), x, g)
    >>> res.verdict.blocks[0].status.value, res.search.wrong(Thresholds())["x"].tolist()
    ('fail', [123])
    """
    mode = validate_mode(mode)
    started = time.perf_counter()
    again = None  # full mode: the entries estimated again one by one (flat mask)
    if lifted is not None and not isinstance(lifted, Lifted):
        lifted = Lifted(lifted)
    full = mode is Mode.FULL or indices is not None
    phases = _Phases(progress, np.asarray(x).size)
    if full and direct is not None:
        result, kink, again = _direct_every_entry(direct, x, grad, blocks, thresholds, f0, phases, deadline,
                                                  verify=(cost, lifted, seed) if recheck else None)
    elif full:
        # no 4h pair: an entry the two calls do not settle goes to the re-estimate (step 2),
        # which keeps a share of the time (failing entries first) so that a failure seen
        # before the deadline is confirmed, not left unchecked
        first = deadline if deadline is None or not recheck else (
            time.perf_counter() + FIRST_LOOK_SHARE * max(deadline - time.perf_counter(), 0.0))
        result = check_every_entry(cost, x, grad, blocks, thresholds=thresholds, indices=indices, f0=f0, step=step,
                                   progress=phases.search, truncation=not recheck, deadline=first,
                                   verify=recheck, lifted=lifted, precision=precision)
    else:
        result = check_adaptive(cost, x, grad, blocks, thresholds=thresholds, seed=seed, f0=f0, step=step,
                                progress=phases.search, deadline=deadline, lifted=lifted, precision=precision)
        if direct is not None and not _stopped(result):
            result, kink = _direct_refine(direct, result, thresholds)
    effort_mode = Mode.FULL if indices is not None else mode
    if isinstance(lifted, Lifted):  # the re-estimates get their own share of extended precision
        lifted.extend(recheck_budget(np.asarray(x).size))
    verdict, effort, judged = _verdict(result, thresholds, top, effort_mode, kink, None,
                                       recheck=(cost, np.array(x, dtype=float), lifted) if recheck else None,
                                       deadline=deadline, phases=phases, first_look=full and recheck and direct is None,
                                       again=again if again is not None or not full else np.zeros(np.size(x), bool),
                                       precision=precision)
    # every call of the user's code and the time, the re-estimates of _verdict included
    lifting = "none" if lifted is None else (
        "available" if not lifted.used else "used" if lifted.usable else "exhausted")
    if lifted is not None and not getattr(lifted, "probed", True) and not verdict.counts.get("unresolved"):
        lifting = ""  # a lazy probe never needed (``checks.common.LazyLifted``): not known, and no hint needs it
    elif lifted is not None and not getattr(lifted, "available", True):
        lifting = "none"
    effort = replace(effort, seconds=time.perf_counter() - started,
                     calls=effort.calls if calls is None else int(calls()), lifting=lifting if recheck else "")
    return BlackboxCheck(result, verdict, effort, tuple(judged))


def _stopped(result: AdaptiveResult) -> bool:
    return any(bool(np.any(b.how == How.STOPPED)) for b in result.blocks)


def _with_unverified(d: BlockData, b: BlockOutcome, verified: np.ndarray, dropped: np.ndarray) -> BlockData:
    """``d`` with the entries of ``b`` cleared by exclusion that its bound does not verify and
    no direct check judged, their evidence the search's: the claim, within ``bound`` of the
    truth (numeric = analytic, noise = bound)."""
    judged = np.zeros(b.how.size, dtype=bool)
    judged[np.arange(b.how.size) if d.indices is None else np.asarray(d.indices, dtype=int)] = True
    new = np.flatnonzero((b.how == How.EXCLUDED) & ~verified & ~judged & ~dropped)
    if not len(new):
        return d
    idx = np.arange(len(d.analytic)) if d.indices is None else np.asarray(d.indices, dtype=int)
    more = lambda v, fill: None if v is None else np.concatenate([np.asarray(v), np.full(len(new), fill)])  # noqa: E731
    a = np.asarray(b.analytic, dtype=float)[new]
    return replace(d, analytic=np.concatenate([np.asarray(d.analytic, dtype=float), a]),
                   numeric=np.concatenate([np.asarray(d.numeric, dtype=float), a]),
                   noise=np.concatenate([np.asarray(d.noise, dtype=float), np.asarray(b.bound, dtype=float)[new]]),
                   indices=np.concatenate([idx, new]), kink=more(d.kink, False),
                   resolution=more(d.resolution, np.nan), unit_roundoff=more(d.unit_roundoff, np.nan),
                   size=more(d.size, np.nan))


def _codes(analytic, numeric, noise, thresholds: Thresholds) -> np.ndarray:
    """Status codes of the evidence by the one rule (``verdict.assess``; 0: settled, a pass)."""
    with np.errstate(all="ignore"):
        error, zs = evidence(analytic, numeric, noise)
        return assess(analytic, numeric, error, thresholds, zero_scale=zs).code


def _direct_every_entry(direct: Direct, x, grad, blocks, thresholds: Thresholds, f0, phases: _Phases,
                        deadline: float | None = None, verify=None):
    """The full mode through the caller's estimator: every entry of every block, first
    with two calls (when the estimator offers them) judged by the one rule; an entry whose
    look passes and whose one-sided slopes agree to ``KINK_SHARE`` is settled by it.

    A look whose slopes differ by more (a kink suspect, passing or agreeing within its
    round-off) is completed to four points by 2 calls (``f(x +- 4h e_k)``, the look's own
    ``f(x +- h e_k)`` reused: ``_complete``); where the 4h values predict the gap
    (``L'' h``, curvature) the look stands, where the slopes jump the four-point evidence
    and its kink test (``stencils.jump_kink``) replace it.  With ``verify = (cost, lifted,
    seed)``, the entries whose look agrees but cannot verify them (and shows no jump) are
    verified together by precise directions (``collective.verify_by_directions``: numeric =
    claim, noise = the proved bound, marked in ``BlockOutcome.by_directions``); those left
    keep their four-point evidence when they have one, the others (and every entry that
    does not agree) get the four-point estimate, completed from the look (under a
    deadline: the first look takes ``FIRST_LOOK_SHARE`` of the time, and failing entries
    are estimated first).  A search result whose every entry is CHECKED (``STOPPED`` where
    the deadline came first: not reached, or reached by the first look alone without
    passing)."""
    t0 = time.perf_counter()
    g = np.asarray(grad, dtype=float).ravel()
    size = np.asarray(x).size
    regs = regions(blocks, size)
    kink = np.zeros(size, dtype=bool)
    again = np.zeros(size, dtype=bool)  # estimated again (four points)
    two = _takes_points(direct)
    first = deadline if deadline is None or not two else (
        t0 + FIRST_LOOK_SHARE * max(deadline - t0, 0.0))
    hows, values, noises, pending, unsure, looks, spare = [], [], [], [], [], [], []
    done = 0
    for i, r in enumerate(regs):
        a = g[r.slice]
        how = np.full(r.size, How.STOPPED.value, dtype=np.int8)
        value, noise = np.full(r.size, np.nan), np.full(r.size, np.inf)
        idx = np.arange(r.size)
        look, fallback = None, {}
        if two:  # the first look: two calls per entry, settled where it passes
            tick = None if phases.progress is None else (lambda k, done=done: phases.search(done + k, size))
            e, reached = _chunked_direct(direct, i, idx, tick, first, points=2)
            value[:reached], noise[:reached] = e.value, e.noise
            code = _codes(a[:reached], value[:reached], noise[:reached], thresholds)
            # one-sided slopes that differ by far more than a smooth f's f'' h: maybe a kink,
            # which the 4h pair decides (abs at 0 with the subgradient 0 claimed)
            jumpy = np.abs(e.plus - e.minus) > KINK_SHARE * (np.abs(e.plus) + np.abs(e.minus))
            look = e if e.values is not None else None  # its f(x +- h e_k), reusable
            agree = ((code == 0) | (code == 4)) & np.isfinite(value[:reached])
            if look is not None and np.any(jumpy & agree) and not _expired(first):
                suspect = np.flatnonzero(jumpy & agree)
                e4, got = _complete(direct, i, look.take(suspect), first)
                again[r.offset + suspect[:got]] = True
                jumps = e4.jumps()
                for n, k in enumerate(suspect[:got].tolist()):
                    if jumps[n]:  # the four-point evidence, judged as any estimated entry
                        value[k], noise[k], code[k] = e4.value[n], e4.noise[n], -1
                    elif code[k] == 4:  # curvature: verified with the others, else its four points
                        fallback[k] = (float(e4.value[n]), float(e4.noise[n]))
                        jumpy[k] = False
                    else:  # curvature: the passing look stands
                        jumpy[k] = False
                if np.any(jumps):
                    hit = suspect[:got][jumps]
                    rel = assess(a[hit], e4.value[jumps], e4.noise[jumps], thresholds).rel_max
                    # passing ones too: the suspects' jump is at the point (their claims between the slopes)
                    kink[r.offset + hit] = jump_kink(e4.take(np.flatnonzero(jumps)), a[hit], rel, thresholds,
                                                     at_point=True)
            code = np.where((code == 0) & jumpy, 4, code)  # a suspect not completed: four points
            how[:reached][code <= 0] = How.CHECKED.value
            unsure.append(r.offset + idx[:reached][(code == 4) & ~jumpy & np.isfinite(value[:reached])])
            idx = idx[:reached][code > 0]
            if deadline is not None:  # failing ones first, then warn, then unresolved
                rest = code[code > 0]
                idx = idx[np.argsort(np.select([rest == 2, rest == 1], [0, 1], 2), kind="stable")]
        hows.append(how), values.append(value), noises.append(noise), pending.append(idx)
        looks.append(look), spare.append(fallback)
        done += r.size
    verified = [None] * len(regs)
    if two and verify is not None and unsure and not _expired(first):
        cost, lifted, seed = verify
        bound, _ = verify_by_directions(cost, x, g, regs, np.concatenate(unsure), thresholds=thresholds,
                                        f0=f0, seed=seed, lifted=lifted, deadline=first)
        for i, r in enumerate(regs):
            b = bound[r.slice]
            ok = np.isfinite(b)
            if not np.any(ok):
                continue
            verified[i] = ok
            values[i][ok], noises[i][ok], hows[i][ok] = g[r.slice][ok], b[ok], How.CHECKED.value
            pending[i] = pending[i][~ok[pending[i]]]
    for i in range(len(regs)):  # completed suspects the directions left: their four points
        known = np.array([k in spare[i] for k in pending[i].tolist()], dtype=bool)
        for k in pending[i][known].tolist():
            values[i][k], noises[i][k] = spare[i][k]
            hows[i][k] = How.CHECKED.value
        pending[i] = pending[i][~known]
    if two:
        phases.more(sum(len(p) for p in pending))
    done = 0
    for i, r in enumerate(regs):
        idx = pending[i]
        if not len(idx):  # nothing left in this block: no call (a layer's estimate starts with one)
            done += r.size
            continue
        if two:
            tick = None if phases.progress is None else (lambda k, base=phases.done: phases.tick(base + k - phases.done))
        else:
            tick = None if phases.progress is None else (lambda k, done=done: phases.search(done + k, size))
        if looks[i] is not None:
            e, reached = _complete(direct, i, looks[i].take(idx), deadline, tick)
        else:
            e, reached = _chunked_direct(direct, i, idx, tick, deadline)
        got = idx[:reached]
        again[r.offset + got] = True
        values[i][got], noises[i][got] = e.value, e.noise
        hows[i][got] = How.CHECKED.value
        a = g[r.slice]
        rel = assess(a[got], e.value, e.noise, thresholds).rel_max
        kink[r.offset + got] = jump_kink(e, a[got], rel, thresholds)
        done += r.size
    outs = [BlockOutcome(r.name, r.shape, r.offset, g[r.slice].copy(), hows[i], values[i], noises[i],
                         np.full(r.size, np.nan), False, 0, np.zeros(r.size), verified[i]) for i, r in enumerate(regs)]
    cost = float("nan") if f0 is None else float(f0)
    return AdaptiveResult(tuple(outs), (), 0, time.perf_counter() - t0, 0.0, cost), kink, again


def _complete(direct: Direct, block: int, look: Entries, deadline: float | None, tick=None) -> tuple[Entries, int]:
    """The caller's four-point estimate of ``look.indices``, completed from their two-call
    look ``look`` (2 calls each, in chunks under a deadline): ``(Entries, reached)``."""
    return _chunked_direct(direct, block, look.indices, tick, deadline, first=look)


def _direct_refine(direct: Direct, result: AdaptiveResult, thresholds: Thresholds):
    """After the search: the caller's four-point estimate (and kink test) for the entries it
    checked directly that do not pass; a block that looked wrong everywhere but whose
    samples are all kinks (relu zeros, pooling ties) or undecided (a claim of 0 at a flat
    side, which no first look verifies), none shown wrong (``fail`` or ``warn``), gets its
    other entries checked too: the four-point estimate, whose kinks the shrinking test then
    confirms (``_confirm_kinks``), not the re-estimate's ladder."""
    kink = np.zeros(sum(b.how.size for b in result.blocks), dtype=bool)
    outcomes = []
    for i, b in enumerate(result.blocks):
        off = b.offset
        c = b.checked
        bad = c[np.array([s is not Status.PASS for s in b.statuses(thresholds)], dtype=bool)] if len(c) else c
        wrong = bad
        if len(bad):
            e = direct(i, bad, None)
            res = assess(b.analytic[bad], e.value, e.noise, thresholds)
            b.numeric[bad], b.noise[bad] = e.value, e.noise
            kink[off + bad] = jump_kink(e, b.analytic[bad], res.rel_max, thresholds)
            # shown wrong: fail or warn by the four points, and no kink
            wrong = bad[((res.code == 1) | (res.code == 2)) & ~kink[off + bad]]
        unchecked = np.flatnonzero(b.how == How.UNCHECKED)
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
             calls: int | None = None, recheck=None, deadline: float | None = None, phases: _Phases | None = None,
             first_look: bool = False, again: np.ndarray | None = None,
             precision: float | None = None) -> tuple[BlockVerdict, Effort, list[BlockData]]:
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

    Entries the search did not reach before ``deadline`` (``How.STOPPED``), and entries
    whose re-estimate the deadline cut off when their evidence is a first look
    (``first_look``: no truncation measured) or nothing (an entry left to the re-estimate),
    count as ``unchecked``: not judged, never ``pass``.

    ``again`` (full mode): a flat mask of the entries already estimated again one by one
    (a layer's four-point estimates); with the re-estimates made here it gives the
    effort's ``Settled`` counts.
    """
    # excluded entries the search's bound verifies (issue 9: pass means verified)
    verified_of, scales, sizes = [], [], []
    for b in result.blocks:
        # the block's gradient scale from every entry the search settled (the zero rule's
        # 64 eps G is the block's, not that of the entries left for a direct look), capped
        # per entry by the function's own scale per unit x_j (``finite_diff.entry_scale``)
        scales.append(b.scale())
        sizes.append(np.full(b.how.size, np.nan) if recheck is None else
                     function_scale(result.cost, np.asarray(recheck[1], dtype=float).ravel()[
                         b.offset: b.offset + b.how.size], result.scale_sigma))
        with np.errstate(all="ignore"):
            z = np.where(np.asarray(b.analytic) != 0, SCALE_ULPS * EPS * entry_scale(scales[-1], sizes[-1]), 0.0)
            ok = assess(b.analytic, b.analytic, b.bound, thresholds, zero_scale=z).code == 0
            # an exactly-0 claim whose bound is within the round-off a direct check would
            # give the entry: zero to the resolution of the code (the black-box zero rule)
            ok |= (np.asarray(b.analytic) == 0) & (b.bound <= np.asarray(b.least_noise))
        verified_of.append((b.how == How.EXCLUDED) & ok)
    budget = RECHECK_MAX if recheck is not None and not _expired(deadline) else 0
    # entries cleared by exclusion but not verified to pass_tol are checked directly when all
    # of them fit in the budget (a layer, a small net); past it they stay unresolved, since
    # checking a few hundred of 80,000 costs seconds and leaves the picture as it was
    # (--mode full checks every entry)
    unverified = sum(int(np.sum((b.how == How.EXCLUDED) & ~v)) for b, v in zip(result.blocks, verified_of))
    size = sum(b.how.size for b in result.blocks)
    recheck_excluded = unverified <= min(budget, EXCLUDED_RECHECK_MAX if size > SMALL_CHECK else RECHECK_MAX)
    data, extras = [], []
    for b, verified in zip(result.blocks, verified_of):
        wanted = (b.how == How.UNCHECKED) | ((b.how == How.EXCLUDED) & ~verified & recheck_excluded)
        extra = np.flatnonzero(wanted)[:budget]
        budget -= len(extra)
        extras.append(extra)
        # the union of two disjoint sorted sets (CHECKED, and UNCHECKED or EXCLUDED); not
        # np.union1d, which imports numpy.ma on first use (7 ms)
        c = np.sort(np.concatenate([b.checked, extra])).astype(int)
        numeric, noise = np.array(b.numeric, dtype=float), np.array(b.noise, dtype=float)
        numeric[extra], noise[extra] = np.nan, np.inf
        k = None if kink is None else kink[b.offset: b.offset + b.how.size][c]
        data.append(BlockData(b.name, b.shape, b.analytic[c], numeric[c], noise[c], k, indices=c,
                              scale=scales[len(data)], size=sizes[len(data)][c]))
    dropped_of = [np.zeros(b.how.size, dtype=bool) for b in result.blocks]
    if recheck is not None:
        with np.errstate(all="ignore"):
            limit = None if mode is Mode.FULL else RECHECK_MAX
            for k, b in enumerate(result.blocks):
                # the caller's four-point kinks confirmed by the shrinking one-sided test, not the ladder
                data[k], confirmed = _confirm_kinks(data[k], b.offset, recheck, deadline, phases, f0=result.cost,
                                                    precision=precision)
                d, unreached, estimated = _recheck(data[k], b.offset, recheck, thresholds, limit, deadline, phases,
                                                   settled=confirmed)
                if again is not None and len(confirmed):
                    idx = np.arange(len(data[k].analytic)) if data[k].indices is None else np.asarray(data[k].indices)
                    again[b.offset + idx[confirmed]] = True
                if again is not None and len(estimated):
                    again[b.offset + estimated] = True
                # cut off by the deadline: unchecked where the evidence is a first look or nothing
                drop = unreached[first_look | ~np.isfinite(np.asarray(d.numeric)[unreached])] if len(unreached) else unreached
                if len(drop):
                    keep = np.ones(len(d.analytic), dtype=bool)
                    keep[drop] = False
                    idx = np.arange(len(d.analytic)) if d.indices is None else np.asarray(d.indices)
                    dropped_of[k][idx[drop]] = True
                    d = d.only(keep)
                d, tested = _test_suspects(d, b.offset, b.jumpy, recheck, thresholds, deadline, phases,
                                           sides=b.sides, f0=result.cost, precision=precision)
                if again is not None and len(tested):
                    again[b.offset + tested] = True
                data[k] = d
    # cleared by exclusion, not verified, not checked directly: judged on the search's
    # evidence (|t - a| <= bound), so an unresolved block shows them as rows (issue 16 item 7)
    data = [_with_unverified(d, b, v, dr) for d, b, v, dr in zip(data, result.blocks, verified_of, dropped_of)]
    verdict = judge_blocks(data, thresholds, top)
    blocks, counts = [], []
    bounds = []
    stopped_total = verified_total = rechecked_total = 0
    for b, r, verified_mask, d, dropped in zip(result.blocks, verdict.blocks, verified_of, data, dropped_of):
        judged = np.zeros(b.how.size, dtype=bool)
        judged[np.arange(b.how.size) if d.indices is None else np.asarray(d.indices, dtype=int)] = True
        excl = (b.how == How.EXCLUDED) & ~judged & ~dropped
        excluded = int(np.sum(excl))
        unchecked = int(np.sum((b.how == How.UNCHECKED) & ~judged & ~dropped))
        verified = int(np.sum(excl & verified_mask))
        stopped = int(np.sum(b.how == How.STOPPED)) + int(np.sum(dropped))
        stopped_total += stopped
        verified_total += verified
        rechecked_total += int(np.sum((b.how == How.EXCLUDED) & judged))
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
        if deadline is not None:  # --max-seconds: what it left is counted, even when 0
            c["checks"] += stopped
            c["unchecked"] = stopped
            if stopped and status is not Status.FAIL:
                status = worst([status, Status.UNCHECKED])
        counts.append(c)
        blocks.append(replace(r, checked=r.checked + excluded, status=status, counts=c))
        rb = b.relative_bound(thresholds)
        if np.any(np.isfinite(rb)):
            bounds.append(float(np.nanmax(rb)))
    out = BlockVerdict(tuple(blocks), verdict.checks, merge_counts(counts), verdict.statuses, verdict.rel,
                       verdict.indices)
    tally = np.bincount(np.concatenate([b.how for b in result.blocks]).astype(np.int64), minlength=len(How))
    cut = int(sum(np.sum(d) for d in dropped_of))  # checked by a first look, its re-estimate cut off
    effort = Effort(
        mode=mode, entries=int(tally[How.EXCLUDED] + tally[How.CHECKED]) - cut, checked=int(tally[How.CHECKED]) - cut,
        excluded=int(tally[How.EXCLUDED]), unchecked=int(tally[How.UNCHECKED]),
        calls=result.calls if calls is None else int(calls), seconds=result.seconds, directions=len(result.directions),
        blockwide=tuple(b.name for b in result.blocks if b.blockwide),
        max_bound=max(bounds) if bounds else None,
        stopped=stopped_total, max_seconds=deadline is not None,
        verified=verified_total if tally[How.EXCLUDED] else None, rechecked=rechecked_total,
        precision="float32" if any(d.eps > 1e3 * float(np.finfo(float).eps) for d in data) else "float64",
        settled=None if again is None else _settled(result, again, dropped_of),
    )
    return out, effort, data


def _settled(result: AdaptiveResult, again: np.ndarray, dropped_of) -> Settled:
    """How the entries checked directly (and not cut off by the deadline) were settled."""
    first = directions = estimated = 0
    for b, dropped in zip(result.blocks, dropped_of):
        checked = (b.how == How.CHECKED) & ~dropped
        by_dir = checked & (False if b.by_directions is None else b.by_directions)
        est = checked & again[b.offset: b.offset + b.how.size] & ~by_dir
        directions += int(np.sum(by_dir))
        estimated += int(np.sum(est))
        first += int(np.sum(checked & ~by_dir & ~est))
    return Settled(first, directions, estimated)


#: at most this many directly checked entries that do not pass are estimated again per block
RECHECK_MAX = 512
#: entries cleared by exclusion but not verified are checked directly when at most this many
#: (the ladder costs ~20 calls an entry; the precise directions have had their turn)
EXCLUDED_RECHECK_MAX = 64
#: ... or, in a check of at most this many entries (a function of a few hundred numbers,
#: cheap to call), as many as ``RECHECK_MAX``
SMALL_CHECK = 1024


def _estimate(cost, x, indices: np.ndarray, claimed: np.ndarray, deadline: float | None, phases: _Phases | None,
              **kw) -> tuple[Estimate, int]:
    """``blackbox_gradient`` of ``indices`` (claimed values ``claimed``; in chunks with a
    deadline, checked between them); the estimate of the first ``reached`` entries, ``reached``."""
    tick = None if phases is None or phases.progress is None else (lambda k: phases.tick(1))
    if deadline is None:
        return blackbox_gradient(cost, x, indices=indices, claimed=claimed, progress=tick, **kw), len(indices)
    parts = []
    for start, stop in _chunks(len(indices), deadline):
        parts.append(blackbox_gradient(cost, x, indices=indices[start:stop], claimed=claimed[start:stop],
                                       progress=tick, **kw))
    if not parts:
        z = np.zeros(0)
        return Estimate(z, z, z, kink=np.zeros(0, dtype=bool), f_scale=z, resolution=z), 0
    cat = lambda name: np.concatenate([np.asarray(getattr(e, name)) for e in parts])  # noqa: E731
    est = Estimate(cat("value"), cat("noise"), cat("step"), max(e.eps for e in parts), cat("kink"), cat("f_scale"),
                   cat("resolution"))
    return est, len(est.value)


def _recheck(d: BlockData, offset: int, recheck, thresholds: Thresholds, limit: int | None = None,
             deadline: float | None = None, phases: _Phases | None = None, settled: np.ndarray | None = None
             ) -> tuple[BlockData, np.ndarray, np.ndarray]:
    """``d`` with its non-passing entries (at most ``limit``, failing ones first) estimated
    again by ``blackbox_gradient`` (``recheck = (cost, x, lifted)``), the positions (in
    ``d``) of those the deadline cut off, and the block indices of those estimated.  When
    the re-estimate finds the values coarser than ``d`` assumed (float32 code: the analytic
    values' own round-off grows), the entries that no longer pass at that precision are
    estimated again too.  ``settled``: positions already decided (kinks ``_confirm_kinks``
    confirmed), not estimated again."""
    none = np.zeros(0, dtype=int)
    done = np.zeros(len(d.analytic), dtype=bool)
    if settled is not None:
        done[np.asarray(settled, dtype=int)] = True
    cut = none
    for _ in range(2):
        if not len(d.analytic):
            return d, none, none
        code = d.assessed(thresholds).code
        # every non-pass, kinks included: the ladder's shrinking one-sided test confirms them
        # (a smooth zone narrower than the first steps, smooth-L1 with a small beta, is none)
        bad = (code != 0) & ~done
        if not np.any(bad) or len(cut):
            break
        eps = d.eps
        d, cut, pos = _recheck_once(d, offset, recheck, thresholds, code, bad, limit, deadline, phases)
        done[pos] = True
        if limit is not None:
            limit -= len(pos)
        if not d.eps > eps or (limit is not None and limit <= 0):
            break
    # no fail or warn rests on long steps that a shorter step contradicts (``confirm``)
    if not _expired(deadline):
        cost, x, lifted = recheck
        d, changed = confirm_block(d, offset, cost, x, thresholds, lifted=lifted, deadline=deadline)
        done[changed] = True
    idx = np.arange(len(d.analytic)) if d.indices is None else np.asarray(d.indices)
    return d, cut, idx[done]


#: at most this many kink suspects (``_test_suspects``) are tested per block
SUSPECTS_MAX = 256


def _test_suspects(d: BlockData, offset: int, jumpy: np.ndarray | None, recheck, thresholds: Thresholds,
                   deadline: float | None = None, phases: _Phases | None = None, *,
                   sides: np.ndarray | None = None, f0: float | None = None,
                   precision: float | None = None) -> tuple[BlockData, np.ndarray]:
    """The kink test for entries that pass but whose first look's one-sided slopes differ.

    A central difference is blind to a kink at the point (``|x|`` at 0 claimed as
    ``sign(0) = 0`` passes by symmetry); its own values show the one-sided slopes, and
    ``BlockOutcome.jumpy`` marks the entries whose gap does not look like ``h f''``
    (``stencils.jump_suspects``).  Those that still pass (at most ``SUSPECTS_MAX``, the
    deadline checked between them) get the shrinking one-sided test (``ladder.shrinking_kink``,
    2 calls a rung; the first look's slopes ``sides`` are its first rung, and it stops where
    curvature explains the gap: 2 calls for a smooth suspect): a kink it confirms is
    ``kink`` (its numeric the central difference, the midpoint of the one-sided slopes,
    within half their gap); any other keeps the first look's pass (the screen also catches
    near-stationary smooth entries, whose first look stands).  ``f0``: the cost at x (else
    one call); ``precision``: the code's machine epsilon, at least (``check_blackbox``).
    Returns ``d`` and the block indices tested.
    """
    none = np.zeros(0, dtype=int)
    if jumpy is None or recheck is None or not len(d.analytic) or _expired(deadline):
        return d, none
    idx = np.arange(len(d.analytic)) if d.indices is None else np.asarray(d.indices, dtype=int)
    with np.errstate(all="ignore"):
        code = d.assessed(thresholds, proved_scale=False).code
    pos = np.flatnonzero(np.asarray(jumpy, dtype=bool)[idx] & (code == 0))[:SUSPECTS_MAX]
    if not len(pos):
        return d, none
    noise, tested, hits = _shrinking_tests(d, offset, recheck, pos, deadline, phases, f0, sides=sides,
                                           precision=precision)
    if hits:
        kink = np.zeros(len(d.analytic), bool) if d.kink is None else np.array(d.kink, dtype=bool)
        kink[hits] = True
        d = replace(d, noise=noise, kink=kink)
    return d, idx[np.asarray(tested, dtype=int)]


def _confirm_kinks(d: BlockData, offset: int, recheck, deadline: float | None = None,
                   phases: _Phases | None = None, *, f0: float | None = None,
                   precision: float | None = None) -> tuple[BlockData, np.ndarray]:
    """The kinks the caller's four-point test found (``d.kink``: a layer's one-sided slopes
    jump beyond what its 4h values predict and the claim lies between them,
    ``stencils.jump_kink``), confirmed by the shrinking one-sided test with the claim
    (``ladder.shrinking_kink``: ``SUSPECT_RUNGS`` rungs of 2 calls, 16-fold) instead of the
    re-estimate's ladder (about 118 calls an entry).  A confirmed kink keeps its evidence,
    its noise at least half the gap (``_test_suspects``); one it does not confirm (a smooth
    zone narrower than the first steps, a claim outside the finer rungs' slopes, the deadline)
    stays flagged and goes to the re-estimate as before.  At most ``SUSPECTS_MAX`` per block.
    Returns ``d`` and the positions (in ``d``) confirmed."""
    none = np.zeros(0, dtype=int)
    if d.kink is None or recheck is None or not np.any(d.kink) or _expired(deadline):
        return d, none
    pos = np.flatnonzero(np.asarray(d.kink, dtype=bool))[:SUSPECTS_MAX]
    noise, _, confirmed = _shrinking_tests(d, offset, recheck, pos, deadline, phases, f0, with_claim=True,
                                           precision=precision)
    if not confirmed:
        return d, none
    return replace(d, noise=noise), np.asarray(confirmed, dtype=int)


def _shrinking_tests(d: BlockData, offset: int, recheck, pos: np.ndarray, deadline, phases, f0, *,
                     sides: np.ndarray | None = None, with_claim: bool = False, precision: float | None = None):
    """``ladder.shrinking_kink`` on the entries at positions ``pos`` of ``d`` (the deadline
    checked between them): ``(noise, tested, hits)``, ``noise`` as ``d.noise`` but at least
    half the gap on the kinks it confirms (``hits``).  ``sides``: the first looks'
    ``(R, L, h)`` by block index, the test's first rung; ``with_claim``: a kink counts only
    with the claim between the finest rung's slopes.  ``f0``: the cost at x (else one call);
    ``precision``: the code's machine epsilon, at least (float32 code: its steps and round-off)."""
    idx = np.arange(len(d.analytic)) if d.indices is None else np.asarray(d.indices, dtype=int)
    cost, x, _ = recheck
    x = np.array(x, dtype=float)
    if phases is not None:
        phases.more(len(pos))
    f0 = float(cost(x)) if f0 is None or not np.isfinite(f0) else float(f0)
    noise = np.array(d.noise, dtype=float)
    tested, hits = [], []
    for p in pos.tolist():
        if _expired(deadline):
            break
        k = int(idx[p])
        first = None if sides is None else tuple(float(v) for v in sides[:, k])
        claim = float(np.asarray(d.analytic)[p]) if with_claim else None
        gap = shrinking_kink(cost, x, offset + k, f0, max(d.eps, precision or 0.0), first=first, claim=claim)
        tested.append(p)
        if phases is not None:
            phases.tick(1)
        if gap is not None:
            noise[p] = max(noise[p], gap / 2)
            hits.append(p)
    return noise, tested, hits


def _recheck_once(d: BlockData, offset: int, recheck, thresholds: Thresholds, code, bad, limit, deadline, phases):
    """One round of ``_recheck`` on the entries ``bad``; returns ``(d, unreached, rechecked)``
    (positions in ``d``)."""
    cost, x, lifted = recheck
    pos = np.flatnonzero(bad)
    if limit is not None or deadline is not None:  # failing ones first, then warn, then unresolved
        priority = np.select([code[pos] == 2, code[pos] == 1], [0, 1], 2)
        pos = pos[np.argsort(priority, kind="stable")[:limit]]
        if deadline is None:
            pos = np.sort(pos)
    idx = np.arange(len(d.analytic)) if d.indices is None else np.asarray(d.indices)
    if phases is not None:
        phases.more(len(pos))
    est, reached = _estimate(cost, x, offset + idx[pos], np.asarray(d.analytic)[pos], deadline, phases,
                             pass_tol=thresholds.pass_tol, lifted=lifted)
    pos, unreached = pos[:reached], pos[reached:]
    numeric, noise = np.array(d.numeric, dtype=float), np.array(d.noise, dtype=float)
    kink = np.zeros(len(numeric), bool) if d.kink is None else np.array(d.kink, dtype=bool)
    resolution = np.full(len(numeric), np.nan) if d.resolution is None else np.array(d.resolution, dtype=float)
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
    eps = max(float(d.eps), float(est.eps)) if len(pos) else d.eps
    return replace(d, numeric=numeric, noise=noise, kink=kink, eps=eps, resolution=resolution,
                   unit_roundoff=unit), unreached, pos
