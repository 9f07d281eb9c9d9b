"""Confirmation of the black-box evidence behind a ``fail`` or ``warn``: no such verdict
rests on long steps that a shorter step contradicts (numpy only).

Why.  The ladder's steps follow ``max(|x_j|, 1)``.  Where f varies on a much finer scale
(``sin`` at ``x ~ 1e6``: thousands of periods per step; a relu kink ``2e-5`` from the
point; a barrier ``1e-6`` away) its rungs can agree with each other on a wrong value and
their bound, built from that agreement, is small and unsound: a correct gradient fails.

The short step.  For an entry with claim ``a``, estimate ``n`` and bound ``e`` whose
claim lies outside ``[n - e, n + e]`` by the margin ``m = |a - n| - e > 0``, the central
difference ``D(h) = (f(x + h e_j) - f(x - h e_j)) / (h_+ + h_-)`` (``h_+-`` the steps
actually taken, ``(x + h) - x``) at ::

    h_1 = SHORT SAFETY nu / m,      nu = ROUNDOFF_ULPS eps F  (F = |f(x)|)

has round-off ``r(h) = SAFETY nu / h`` (``m / SHORT``) and, being far shorter than the
ladder's steps, a truncation error far below it for any f smooth on the scale ``h_1``.
``h_1`` is never below ``MIN_ULPS`` ulps of ``x_j`` (of the precision the code's values
have) nor above ``eps**(1/3) max(|x_j|, 1)``.  Where ``|D(h_1) - n| <= e + r(h_1)`` the short
step agrees with the evidence: the verdict stands (two calls; a real bug ends here).

The dispute.  Otherwise the noise of f along ``e_j`` is measured (ECnoise,
``ladder.measured_noise``; a sum of terms that cancel is noisier than ``eps |f|``; the
larger of two tables at incommensurate spacings, ``ALIAS``),
``nu = max(ROUNDOFF_ULPS eps F, 3 sigma)``, and the verdict stands if ``D(h_1)`` agrees
within that noise, or ``D(h_2)`` does, ``h_2`` being ``h_1`` again with that ``nu``.  Else
the short value is ``s = D(h_2 / 2)`` with the uncertainty ::

    u = r(h_2 / 2) + r(h_2) + SAFETY |D(h_2) - D(h_2 / 2)|

(round-off of both plus their change, which bounds the truncation of ``D(h_2 / 2)``, a
third of it, with room to spare).  The steps then grow by ``SCAN`` while ``|D(h) - s| <=
u + r(h)``: the longest such step ``h*`` is one on which f is still smooth as seen from
the point (below the period, the kink, the barrier), and the stencil ladder
(``ladder.entry_derivative``) starts there.  Its value ``v`` and bound ``b`` decide:

* ``[v - b, v + b]`` and ``[n - e, n + e]`` disjoint: one of them is unsound, and the
  one on the longer steps is the one whose premise (f smooth on its scale) the shorter
  steps broke: the entry's evidence becomes ``(v, b)``, and ``verdict.assess`` judges it
  again (a pass where it verifies, a fail on a real bug, else unresolved);
* intersecting: the shorter steps do not contradict the evidence; the verdict stands;
* ``b`` infinite (the ladder proves nothing): the short value decides, ``(s, u)`` when
  ``|s - n| > e + u``.

Where the new evidence does not settle the entry and the caller lifts precision
(``ladder.Lifted``), the ladder runs again from ``h*`` in extended precision (the
TwoLayerNet at std 1e-4: entries of 1e-6 next to relu kinks 1e-5 away, which float64
cannot verify to 1e-7 on steps that short); where even that is round-off-limited (a kink
close on one side keeps the central steps short), a one-sided ladder on each side
(``ladder.one_sided``, from ``SCAN h*``): the side without the kink takes longer steps.  Such
lifted ladders are granted beyond the lifting budget, ``confirm_lifts`` per check.

Settling.  An ``unresolved`` entry gets the same ladder from short steps (those whose
estimate lies off the claim by more than ``SETTLE_REL`` tolerances, or that have no finite
bound, first, the farthest off first), its short step set by the round-off the verdict
needs (``pass_tol max(|a|, |n|) / SHORT``); the new evidence is taken only where it
verifies the claim and agrees with the old (a sound bound each: they intersect), so
settling turns ``unresolved`` into ``pass`` or nothing.  ``SETTLE_MAX`` entries per block,
then another round of as many while at least ``SETTLE_PAYS`` of the last round settled
(``sin`` at ``x ~ 1e3``: every entry's long steps are the weak evidence), at most
``SETTLE_MORE``.

Work.  Per block a sample of ``SAMPLE`` disputed entries (spread over them) is confirmed
first; when none is contradicted, the others stand (a block-wide bug costs ``2 SAMPLE``
calls).  Otherwise every one is confirmed, at most ``CONFIRM_MAX`` per block; beyond
that, the rest cannot rest on evidence of a kind shown to be contradicted: their bound
widens to cover the claim (``unresolved``, never a pass).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from ..blocks import BlockData
from ..errors import NonFiniteCostError
from ..finite_diff import EPS, ROUNDOFF_ULPS, SAFETY
from ..verdict import Thresholds
from .ladder import LIFT_NEED, NOISE_POINTS, entry_derivative, measured_noise, one_sided, recheck_budget

#: the short step's round-off is this many times below the disputed margin
SHORT = 10.0
#: the short step is at least this many ulps of x_j ...
MIN_ULPS = 16.0
#: ... and at most ``eps**MAX_POWER max(|x_j|, 1)`` (``eps`` the values' precision): the
#: direct difference's step (a longer one is not short: the round-off it would need is
#: beyond this precision)
MAX_POWER = 1 / 3
#: ratio of the steps of the scan from the short step up to the ladder's start
SCAN = 8.0
#: the scan stops at the ladder's own first step, 0.1 max(|x_j|, 1)
SCAN_TOP = 0.1
#: a blind short step's steps grow up to ``BLIND_TOP max(|x_j|, 1)`` until f moves
#: (``_quantum_bound``: float32's log(1 + exp(-x)) at 35 is flat up to 18 below x)
BLIND_TOP = 1.0
#: the noise of f along e_j is the larger of two tables, spaced ~h_1 and ALIAS h_1 (both
#: multiples of x_j's ulp): an intermediate that f rounds on a lattice of its own (sin(x /
#: 1000) at x = 1e6: x / 1000 holds 1.024 ulps of itself per ulp of x) is rounded by the same
#: amount at every point of a table whose spacing is nearly a multiple of that lattice's
#: period; its fourth differences then see nothing (2e-17 where the rounding is 3e-14) and
#: the ladder's bound, built on that noise, falls below the truth.  A second, incommensurate
#: spacing (1/sqrt 2) aliases at the same time only by rare coincidence
ALIAS = 0.7071
#: disputed entries confirmed first per block; every one (at most CONFIRM_MAX) when one
#: of them is contradicted
SAMPLE = 16
CONFIRM_MAX = 256
#: contradicted or settled entries per check that get a ladder in extended precision of
#: their own (beyond the lifting budgets, which the re-estimates may have spent), LIFT_NEED
#: calls each: CONFIRM_LIFTS, or as many as the re-estimates' budget for a check of that
#: size pays for (``ladder.recheck_budget``: a small, cheap cost settles every such entry)
CONFIRM_LIFTS = 8


def confirm_lifts(size: int) -> int:
    """Lifted ladders confirmation may grant itself in a check of ``size`` entries."""
    return max(CONFIRM_LIFTS, recheck_budget(size) // LIFT_NEED)

#: unresolved entries get the ladder from short steps too (those whose estimate is off the
#: claim by more than SETTLE_REL pass tolerances first), SETTLE_MAX per block; while at least
#: SETTLE_PAYS of a round's attempts settle their entry (the long steps' evidence of this
#: block is the weak one: f varies on a finer scale than |x_j|), a round more, up to
#: SETTLE_MORE entries per block
SETTLE_REL = 1.0
SETTLE_MAX = 8
SETTLE_PAYS = 0.5
SETTLE_MORE = 256

#: values this much coarser than float64's are of a low precision (float32 code)
LOW = 1e3

#: status codes of ``verdict.assess``
_WARN, _FAIL, _UNRESOLVED = 1, 2, 4


@dataclass(frozen=True)
class Outcome:
    """What confirming one entry found: ``contradicted`` evidence is replaced by ``value``
    ``± error`` (taken on steps from ``step`` down); ``calls`` of the cost were made."""

    contradicted: bool
    value: float = float("nan")
    error: float = float("inf")
    step: float = float("nan")
    calls: int = 0


class _Axis:
    """The cost along one axis of the flat point: ``phi(t) = f(x + t e_j)`` with the step
    actually taken, NaN outside f's domain; ``x`` restored after every call."""

    def __init__(self, cost: Callable, work: np.ndarray, shape, j: int) -> None:
        self.cost, self.work, self.shape, self.j = cost, work, shape, j
        self.calls = 0

    def at(self, t: float) -> tuple[float, float]:
        orig = self.work[self.j]
        self.work[self.j] = orig + t
        taken = float(self.work[self.j] - orig)
        self.calls += 1
        try:
            return float(self.cost(self.work.reshape(self.shape))), taken
        except NonFiniteCostError:
            return float("nan"), taken
        finally:
            self.work[self.j] = orig

    def central(self, h: float) -> tuple[float, float]:
        """``(D(h), F)``: the central difference on the steps taken and the larger |f|."""
        fp, hp = self.at(h)
        fm, hm = self.at(-h)
        with np.errstate(all="ignore"):
            return (fp - fm) / (hp - hm), max(abs(fp), abs(fm))


def _short_step(nu: float, margin: float, xj: float, eps: float) -> float:
    """``SHORT SAFETY nu / margin``, within ``MIN_ULPS`` ulps of ``x_j`` (in the values'
    precision) and ``eps**MAX_POWER max(|x_j|, 1)``."""
    dtype = np.float32 if eps > LOW * EPS else np.float64
    ulp = float(np.spacing(dtype(abs(xj)))) if xj != 0 else float(np.finfo(dtype).tiny)
    h = SHORT * SAFETY * nu / margin if margin > 0 else np.inf
    return float(min(max(h, MIN_ULPS * ulp), eps ** MAX_POWER * max(abs(xj), 1.0)))


def confirm_entry(cost: Callable, work: np.ndarray, shape, j: int, *, f0: float, analytic: float, numeric: float,
                  error: float, eps: float = EPS, pass_tol: float = 1e-7, lifted=None, flat=None,
                  settle: bool = False) -> Outcome:
    """Confirm or contradict the evidence ``numeric ± error`` behind the fail or warn of
    entry ``j`` (claim ``analytic``) of the flat work vector ``work`` (module docstring).
    ``lifted``: the cost in extended precision (``ladder.Lifted``), for an entry the new
    float64 evidence does not settle; ``flat`` the float64 point (its base).

    ``settle``: the entry is ``unresolved`` and its estimate lies off the claim by more
    than the tolerance (the margin is then ``pass_tol max(|a|, |n|)``): no short-step confirmation, the
    ladder from the short steps directly; its evidence is taken when it verifies the claim
    (``|a - v| + b <= pass_tol |a|``) and agrees with the old (``Outcome.contradicted``
    then means replaced): settling never makes a warn or a fail."""
    a, n, e = float(analytic), float(numeric), float(error)
    # settling: the round-off of the short step is a tenth of what the claim may be off by
    margin = pass_tol * max(abs(a), abs(n)) if settle else abs(a - n) - e
    if not (np.isfinite(a) and np.isfinite(n) and (settle or np.isfinite(e)) and margin > 0 and np.isfinite(f0)):
        return Outcome(False)
    axis = _Axis(cost, work, shape, j)
    xj = float(work[j])
    F = max(abs(f0), np.finfo(float).tiny)
    h1 = _short_step(ROUNDOFF_ULPS * eps * F, margin, xj, eps)
    F1 = F
    if not settle:
        fp, hp = axis.at(h1)
        fm, hm = axis.at(-h1)
        with np.errstate(all="ignore"):
            d1, F1 = (fp - fm) / (hp - hm), max(abs(fp), abs(fm))
        if fp == f0 and fm == f0:
            # f did not move at all: the short step is blind, its zero difference bounds
            # |f'| only by the quantum of the code's intermediates (far coarser than f's ulp
            # where they cancel or absorb); it contradicts the evidence only where that
            # bound excludes it, and a zero estimate whose bound is below it is widened
            q = _quantum_bound(axis, h1, f0, BLIND_TOP * max(abs(xj), 1.0))
            if q is not None and (abs(n) > e + q or (n == 0 and q > e)):
                return Outcome(True, 0.0, q, h1, axis.calls)
            return Outcome(False, calls=axis.calls)
        r1 = SAFETY * ROUNDOFF_ULPS * eps * max(F, F1) / h1
        if not np.isfinite(d1) or abs(d1 - n) <= e + r1:
            return Outcome(False, calls=axis.calls)
    # the dispute: the noise of f along e_j, on x_j's own grid (an exact multiple of its
    # ulp: steps rounded to the grid would pass for noise, cos(x) times half an ulp of x =
    # 1e6: 6e-11), then two short steps that follow it
    ulp = float(np.spacing(abs(xj))) if xj != 0 else 0.0
    sigma = 0.0
    low = eps > LOW * EPS
    for spacing in (h1,) if low else (h1, ALIAS * h1):
        delta = ulp * max(1.0, round(spacing / ulp)) if ulp > 0 else spacing
        if low and xj != 0:
            # low precision: x_j's float32 grid is coarse (1/16 at 1e6), so MIN_ULPS ulps can
            # span a good part of a period; the noise is measured one grid step apart
            delta = min(delta, float(np.spacing(np.float32(abs(xj)))))
        table = [f0] + [axis.at(k * delta)[0] for k in range(1, NOISE_POINTS)]
        sigma = max(sigma, measured_noise(np.array(table)))
    nu = max(ROUNDOFF_ULPS * eps * max(F, F1), 3 * sigma)
    r = lambda h: SAFETY * nu / h  # noqa: E731
    # (float64 values only: float32 code's noise is its own precision, which the first
    # step already allowed for, and its fails near relu kinks need the ladder below)
    quick = not settle and eps <= LOW * EPS
    if quick and abs(d1 - n) <= e + r(h1):
        return Outcome(False, calls=axis.calls)  # the first short step was noise (a cancelling sum)
    h2 = _short_step(nu, margin, xj, eps)
    dl, _ = axis.central(h2)
    if quick and h2 > h1 and np.isfinite(dl) and abs(dl - n) <= e + r(h2):
        return Outcome(False, calls=axis.calls)  # a step that follows the noise agrees
    s, _ = axis.central(h2 / 2)
    u = r(h2 / 2) + r(h2) + SAFETY * abs(dl - s)
    if not (np.isfinite(s) and np.isfinite(u)):
        return Outcome(False, calls=axis.calls)
    # the steps grow while f stays smooth as seen from the point
    start, h, top = h2, h2, SCAN_TOP * max(abs(xj), 1.0)
    while h * SCAN <= top:
        h *= SCAN
        dh, _ = axis.central(h)
        if not (np.isfinite(dh) and abs(dh - s) <= u + r(h)):
            break
        start = h
    target = pass_tol * abs(a) / 4
    f_call = lambda w: _value(cost, w, shape)  # noqa: E731
    lr = entry_derivative(f_call, work, j, f0=f0, eps=eps, claimed=a, target=target, step=start, kink_test=False,
                          noise=sigma)
    calls = axis.calls + lr.calls
    if eps > LOW * EPS and start != h1:
        # low precision: where x_j's grid is as coarse as f's own scale (sin at 4e6: a grid
        # of 1/4, MIN_ULPS steps of 4) the noise table reads f's variation and the steps
        # that follow it run to thousands of periods, whose ladder agrees on ~0; the ladder
        # from the short step itself too: where the two disagree the one from the shorter
        # steps stands (it broke the longer one's premise, f smooth on its scale), else the
        # tighter
        l2 = entry_derivative(f_call, work, j, f0=f0, eps=eps, claimed=a, target=target, step=h1,
                              kink_test=False, noise=sigma)
        calls += l2.calls
        if np.isfinite(l2.error) and (not abs(l2.value - lr.value) <= l2.error + lr.error or l2.error < lr.error):
            lr, start = l2, h1
    if settle:
        value, bound, step = (lr.value, lr.error, lr.step) if lr.error < e else (n, e, float("nan"))
    elif np.isfinite(lr.error):
        if abs(lr.value - n) <= lr.error + e:
            return Outcome(False, calls=calls)  # the ladder from short steps agrees
        value, bound, step = lr.value, lr.error, lr.step
    elif abs(s - n) > e + u:
        value, bound, step = s, u, h2 / 2
    else:
        return Outcome(False, calls=calls)
    if (lifted is not None and flat is not None and not _settles(a, value, bound, pass_tol)
            and getattr(lifted, "available", True)):  # a lazy probe (``checks.common.LazyLifted``)
        more = _lifted(lifted, flat, shape, j, a, target, start, value, bound)
        if more is not None:
            value, bound, step = more
    if settle and not (bound < e and abs(value - n) <= bound + e and abs(a - value) + bound <= pass_tol * abs(a)):
        # settling takes only evidence that verifies the claim and agrees with the old
        return Outcome(False, calls=calls)
    return Outcome(True, float(value), float(bound), float(step), calls)


def _quantum_bound(axis: _Axis, h: float, f0: float, top: float) -> float | None:
    """A bound on ``|f'|`` where ``f(x +- h) == f(x)`` exactly (``log(1 + exp(-x))`` at 35:
    1 + 6e-16 is 1 + 3 ulps, f a staircase whose steps are 1e-16, not f's 1e-31 ulp).

    Flatness at ``H'`` proves ``|f'| H' <= q``, ``q`` the quantum of the code's values near
    f(x) (a slope hidden by the grid moves f by less than one quantum); the steps grow by
    ``SCAN`` while f is flat on both sides, by 2 once it moves on one (at most ``top``), until
    it moves on both, by ``up`` and ``down``, each a non-zero multiple
    of that grid: ``q <= min(|up|, |down|)``, so ``|f'| <= SAFETY min(|up|, |down|) / H'``,
    ``H'`` the longest step flat on both sides.  Where f moves on one side only up to ``top``
    (f's own flat zone, a relu below 0; or a staircase flat for good on one side, float32's
    ``log(1 + exp(-x))`` at 35) the edge where it starts to move is located (``_edge_move``):
    a continuous f moves by ever less just past it (a kink: the bound is ~0 and the evidence
    stands), a staircase by one quantum at least.  None where f is constant at this scale
    (its flatness is its own: the evidence stands), or where a value is not finite."""
    flat = h
    side, first = 0.0, 0.0  # the side that moved first, and its first moving step
    while h * 2 <= top:
        h *= SCAN if h == flat else 2.0  # by 2 once one side moved: the other's first move
        fp, _ = axis.at(min(h, top))
        fm, _ = axis.at(-min(h, top))
        if not (np.isfinite(fp) and np.isfinite(fm)):
            return None
        if fp != f0 and fm != f0:
            return SAFETY * min(abs(fp - f0), abs(fm - f0)) / flat
        if fp == f0 and fm == f0:
            flat = h
        elif not side:
            side, first = (1.0 if fp != f0 else -1.0), min(h, top)
    if not side:
        return None
    move = _edge_move(axis, f0, side, flat, first)
    return None if move is None else SAFETY * move / flat


#: bisections of the edge where f starts to move on one side (``_quantum_bound``)
EDGE_STEPS = 40


def _edge_move(axis: _Axis, f0: float, side: float, lo: float, hi: float) -> float | None:
    """The least ``|f(x + side t) - f(x)|`` just past the edge between ``lo`` (flat) and
    ``hi`` (moved), located by bisection: the quantum of a staircase, ~0 for a continuous f
    (a kink).  None where a value is not finite."""
    least = np.inf
    for _ in range(EDGE_STEPS):
        mid = 0.5 * (lo + hi)
        if not lo < mid < hi:
            break
        v, taken = axis.at(side * mid)
        if not np.isfinite(v):
            return None
        if v == f0:
            lo = mid
        else:
            least, hi = min(least, abs(v - f0)), mid
    if not np.isfinite(least):
        v, _ = axis.at(side * hi)
        least = abs(v - f0)
    return float(least) if np.isfinite(least) else None


def _value(cost: Callable, w: np.ndarray, shape) -> float:
    try:
        return cost(w.reshape(shape))
    except NonFiniteCostError:
        return float("nan")


def _settles(a: float, value: float, bound: float, pass_tol: float) -> bool:
    """Whether ``value ± bound`` already verifies the claim or proves it wrong by far."""
    gap = abs(a - value)
    return gap + bound <= pass_tol * abs(a) / 2 or gap - bound > 0.5 * max(abs(a), abs(value))


def _grant(lifted, flat: np.ndarray) -> bool:
    """Whether one more lifted ladder may run: within the lifting budget, or one of the
    ladders confirmation grants itself in a check (``confirm_lifts``, one ``Lifted`` each)."""
    if hasattr(lifted, "budget") and not lifted.usable:
        granted = getattr(lifted, "confirm_lifts", 0)
        if granted >= confirm_lifts(np.size(flat)):
            return False
        lifted.confirm_lifts = granted + 1
        lifted.budget = lifted.used + LIFT_NEED + 1
        return True
    return bool(getattr(lifted, "usable", True))


def _lifted(lifted, flat: np.ndarray, shape, j: int, a: float, target: float, start: float, value: float,
            bound: float):
    """The ladder from ``start`` in extended precision; ``(value, bound, step)`` when it
    is finite, tighter than ``bound`` and consistent with ``value ± bound``, else None.

    Where that central ladder does not verify the claim (round-off limits it: a relu kink
    close on one side keeps its steps short), the one-sided ladders from ``SCAN start``
    on each side (``ladder.one_sided``) are tried too: a kink on one side leaves the other side's
    steps free to grow; the tightest consistent one stands."""
    if not _grant(lifted, flat):
        return None
    if hasattr(lifted, "base"):
        lw, lf0 = lifted.base(flat, shape)
        lw, sigma = lw.copy(), lifted.noise_at(flat, shape)
    else:
        lw, sigma = np.asarray(flat, dtype=float).astype(np.longdouble), None
        lf0 = lifted(lw.reshape(shape))
    lf = lambda w: _value(lifted, w, shape)  # noqa: E731
    leps = float(np.finfo(np.longdouble).eps)
    r = entry_derivative(lf, lw, j, f0=lf0, eps=leps, claimed=a, target=target, step=start, noise=sigma,
                         kink_test=False)
    best = None
    if np.isfinite(r.error) and r.error < bound and abs(r.value - value) <= r.error + bound:
        best = (r.value, r.error, r.step)
    if sigma is not None and not (best is not None and abs(a - best[0]) + best[1] <= 2 * target):
        for sign in (1.0, -1.0):
            if not _grant(lifted, flat):
                break
            o = one_sided(lf, lw, j, lf0, sign, SCAN * start, noise=sigma, eps=leps, claimed=a, target=target)
            limit = bound if best is None else best[1]
            if np.isfinite(o.error) and o.error < limit and abs(o.value - value) <= o.error + bound:
                best = (o.value, o.error, o.step)
    return best


def confirm_block(d: BlockData, offset: int, cost: Callable, x: np.ndarray, thresholds: Thresholds, *,
                  lifted=None, deadline: float | None = None) -> tuple[BlockData, np.ndarray]:
    """``d`` with the evidence of its failing and warning entries confirmed (module
    docstring: a sample first, every one when one is contradicted, at most
    ``CONFIRM_MAX``), and the positions (in ``d``) whose evidence was replaced or widened."""
    none = np.zeros(0, dtype=int)
    if not len(d.analytic):
        return d, none
    a = np.asarray(d.analytic, dtype=float)
    res = d.assessed(thresholds, proved_scale=False)
    code, error = res.code, res.error
    disputed = np.flatnonzero(((code == _FAIL) | (code == _WARN)) & np.isfinite(a))
    # unresolved entries whose estimate lies off the claim by more than SETTLE_REL
    # tolerances (the long steps' estimate is weak there): the worst SETTLE_MAX
    with np.errstate(all="ignore"):
        off = np.abs(a - d.numeric) / np.maximum(np.abs(a), np.abs(d.numeric))
    loose = np.flatnonzero((code == _UNRESOLVED) & np.isfinite(off))
    far = (off[loose] > SETTLE_REL * thresholds.pass_tol) | ~np.isfinite(error[loose])
    # the far ones first (farthest first), then the near ones whose bound is too wide
    loose = loose[np.lexsort((-off[loose], ~far))][:SETTLE_MORE]
    if not len(disputed) and not len(loose):
        return d, none
    shape = np.shape(x)
    flat = np.array(x, dtype=float).ravel()
    work = flat.copy()
    f0 = _value(cost, work, shape)
    idx = np.arange(len(a)) if d.indices is None else np.asarray(d.indices, dtype=int)
    numeric, noise = np.array(d.numeric, dtype=float), np.array(d.noise, dtype=float)
    kink = None if d.kink is None else np.array(d.kink, dtype=bool)
    # the sample first, spread over the disputed entries; the rest only where it found a
    # contradiction
    order = np.unique(np.linspace(0, len(disputed) - 1, min(SAMPLE, len(disputed))).round().astype(int))
    first = disputed[order]
    rest = np.setdiff1d(disputed, first)
    changed, contradicted = [], False

    def run(group) -> int:
        """Confirm the entries of ``group`` in turn; how many were reached (deadline)."""
        nonlocal contradicted
        for n, p in enumerate(group):
            if deadline is not None and time.perf_counter() > deadline:
                return n
            out = confirm_entry(cost, work, shape, offset + int(idx[p]), f0=float(f0), analytic=a[p],
                                numeric=numeric[p], error=error[p], eps=d.eps, pass_tol=thresholds.pass_tol,
                                lifted=lifted, flat=flat)
            if out.contradicted:
                contradicted = True
                numeric[p], noise[p] = out.value, out.error
                if kink is not None:
                    kink[p] = False
                changed.append(int(p))
        return len(group)

    run(first)
    start = 0
    while start < len(loose):  # a ladder from the short steps, taken where its bound is tighter
        group, settled = loose[start: start + SETTLE_MAX], 0
        for p in group:
            if deadline is not None and time.perf_counter() > deadline:
                break
            out = confirm_entry(cost, work, shape, offset + int(idx[p]), f0=float(f0), analytic=a[p],
                                numeric=numeric[p], error=error[p], eps=d.eps, pass_tol=thresholds.pass_tol,
                                lifted=lifted, flat=flat, settle=True)
            if out.contradicted:
                numeric[p], noise[p] = out.value, out.error
                changed.append(int(p))
                settled += 1
        start += len(group)
        if settled < SETTLE_PAYS * len(group) or (deadline is not None and time.perf_counter() > deadline):
            break
    if contradicted and len(rest):
        room = max(CONFIRM_MAX - len(first), 0)
        reached = run(rest[:room])
        if reached == min(room, len(rest)):
            # past the budget, in a block whose evidence a shorter step contradicted: the
            # claim is covered (unresolved), never a pass, never a verdict on that evidence
            for p in rest[room:]:
                noise[p] = max(noise[p], 2 * abs(a[p] - numeric[p]))
                changed.append(int(p))
    if not changed:
        return d, none
    return replace(d, numeric=numeric, noise=noise, kink=kink), np.array(sorted(set(changed)), dtype=int)
