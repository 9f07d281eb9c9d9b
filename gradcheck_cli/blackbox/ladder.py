"""Central stencils of order 2, 4 and 6 on a ladder of steps, with an error bound from
their agreement; the one-sided kink test on the same ladder (the evidence for users'
code; numpy only).

Problem.  ``phi(t)`` is the user's cost along a direction (``f(x + t v)``; a single
entry: ``v = e_j``) and we want ``phi'(0)`` with a bound ``e`` such that
``|n - phi'(0)| <= e`` (``verdict.assess`` reads it so).

Stencils.  With ``D(h) = (phi(h) - phi(-h)) / 2h = phi'(0) + c_1 h**2 + c_2 h**4 + ...``
and the steps ``h_k = h_0 / 2**k`` (k = 0 .. K-1), the Richardson tableau ::

    T[k, 0] = D(h_k)
    T[k, m] = T[k, m-1] + (T[k, m-1] - T[k-1, m-1]) / (4**m - 1)

holds the central stencils of order ``2(m + 1)`` on the points ``±h_{k-m} .. ±h_k``
(``T[k, 1]`` and ``T[k, 2]`` are the 5- and 7-point Fornberg stencils on a ratio-2
grid; Fornberg 1988).  In the asymptotic regime the error of ``T[k, m]`` is ``c =
4**(m+1)`` times smaller than that of ``T[k-1, m]``, so ``|T[k, m] - T[k-1, m]|`` is
``c - 1`` times it.  The bound of a candidate is ::

    e[k, m] = SAFETY max(|T[k, m] - T[k-1, m]|,            agreement of steps
                         |T[k-1, m] - T[k-2, m]| / c,        the previous pair's prediction
                         |T[k, m] - T[k, m-1]| / c)          agreement of orders
              + rho[k, m]

(Ridders 1982 compares orders and steps the same way), where the first term alone
over-covers the error ``c - 1`` times (where the two pairs agree to a factor 2, three
rungs confirm the asymptotic regime and ``ASYMPTOTIC`` times ``1 / (c - 1)`` of them is
taken instead), the second catches two rungs agreeing by chance
and ``rho`` is the round-off of ``T[k, m]``: the noise of one value of phi (``sigma``,
measured; at least half an ulp of F, the largest ``|phi|``)
over ``h_k`` times the sum of the absolute weights of the combination.  The estimate is
the candidate of least bound.  Beside it, the all-powers tableau (``c = 2**m``: removes
``h``, then ``h**2``, ..) serves a C1 point whose ``D(h)`` has odd powers (``x |x|`` at
0: ``D(h) = h``, which the even tableau never removes); each of its candidates assumes
only what its column removed (a smooth phi shrinks faster than it assumes: its bound
over-covers), and the least bound of both tableaux stands.  A pole or a period inside the stencil makes every
candidate's bound large, and the bound says so.  Figures are absolute errors of
``phi'(0)`` (units of phi per unit t).

Longer steps (``_Growth``).  A derivative far below its cost's scale (1e-10 of a cost of
100, a softmax probability of e**-40) is bounded by round-off, ``noise / h``, not by
truncation; where phi is smooth far beyond the first steps, rungs twice as long go on
top of the ladder while round-off bounds its best candidate (or f does not move at the
first steps), as long as each shrinks the bound; the agreement of orders says where
truncation begins, and the longer steps' estimate stands only where it agrees with the
one before them and bounds tighter.  After blind rungs the least move of f is taken as
the noise of one value (a cost that moves in quanta, ``(x + 1e20) - 1e20``).

Kinks (``ladder_kink``).  With ``R(h) = (phi(h) - phi(0)) / h`` and ``L(h) = (phi(0) -
phi(-h)) / h`` the jump ``J(h) = R(h) - L(h) = phi''(0) h + O(h**3)`` halves with each
rung at a twice-differentiable point and tends to ``phi'(0+) - phi'(0-)`` at a kink.
A kink is called only where ``|J|`` stays (within a quarter) the same over the three
finest rungs where it exceeds its round-off 16 times: a smooth point whose ladder starts
outside its smooth zone (smooth-L1 with a small beta) shows a shrinking jump once the
steps are inside it.

Kink crossings (``smooth_rungs``).  A kink at a distance ``d`` from the point (relu of
a pre-activation near 0) is inside every stencil of step ``h > d``, and such rungs can
agree with each other on a wrong value.  The even part ``S(h) = (phi(h) + phi(-h) -
2 phi(0)) / h**2 = phi''(0) + O(h**2)`` at a smooth point moves 4 times less per
rung, while a kink crossed adds ``s (h - d) / h**2`` (``s`` the jump of the slope),
which grows as ``h`` shrinks.  A candidate counts only where every move of ``S`` among
its rungs (and to the next finer one) is at most half the move before, or within its
round-off; while the finest rungs still cross and their jump is above its round-off, the
ladder descends (up to ``DESCENT`` more rungs): below ``d`` relu is linear and the stencils are exact up to round-off.  A
kink is called only where the jump stays down to the smallest stencil.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from ..errors import NonFiniteCostError
from ..finite_diff import measured_noise as _measured_noise

EPS = float(np.finfo(float).eps)
#: round-off of one evaluation of phi, in units of eps |phi|
ROUNDOFF_ULPS = 4.0
#: the measured noise is trusted down to the a-priori ROUNDOFF_ULPS eps F over this, half
#: an ulp of F: in f(x + h) - f(x - h) every term the step does not touch is rounded the
#: same way twice and cancels, but each value is still a float64 number near F
DISCOUNT = 8.0
#: estimated truncation errors are multiplied by this (they are estimates)
SAFETY = 2.0
#: where three rungs confirm the asymptotic regime, the estimated error a / (c - 1) is
#: taken this many times over (before SAFETY)
ASYMPTOTIC = 8.0
#: ratio between consecutive steps of the ladder
RATIO = 2.0
#: highest tableau column used: 2 -> order 6
MAX_COLUMN = 2
#: rungs of the first ladder, and at most this many more while the finest rung is best
RUNGS = 5
MORE_RUNGS = 6
#: ... and at most this many longer ones, while round-off alone limits the bound
MORE_UP = 3
#: the growing-step rung: at most this many longer rungs (steps up to 2**GROW_UP times the
#: first) while round-off limits the best candidate (or f does not move at the first
#: steps) and its bound misses the target, until one has not shrunk the bound below
#: GROW_GAIN times the best before it (GROW_PATIENCE in a row where f moves by a few ulps
#: at the finest rung, ``FEW_ULPS``: a new candidate needs a few rungs there)
GROW_UP = 6
GROW_GAIN = 0.8
GROW_PATIENCE = 2
#: finer rungs beyond MORE_RUNGS while the finest ones cross a kink or the jump stays
#: (the descent to the smallest stencil: steps shrink 2**DESCENT times more)
DESCENT = 14


def tableau(d: np.ndarray, power: int = 2):
    """Richardson tableau from central differences ``d[k] = D(h_k)`` (shape ``(K, ...)``).

    ``power`` 2 removes the even powers ``h**2, h**4, ..`` (a smooth phi); 1 removes
    ``h, h**2, ..`` in turn (a C1 phi such as ``t |t|``, whose ``D(h)`` has odd powers):
    column ``m`` divides by ``RATIO**(power m) - 1``.
    Returns ``(T, W)`` of shape ``(K, MAX_COLUMN + 1, ...)``: the estimates (NaN where
    undefined) and the sum of absolute weights on the values of phi, in units of
    ``1 / (2 h_k)``, for the round-off.
    """
    d = np.asarray(d, dtype=float)
    K = d.shape[0]
    M = MAX_COLUMN + 1
    T = np.full((K, M) + d.shape[1:], np.nan)
    W = np.full((K, M) + d.shape[1:], np.nan)
    T[:, 0] = d
    W[:, 0] = 2.0  # phi(h) and phi(-h), each weight 1 / 2h
    for m in range(1, M):
        c = RATIO ** (power * m)
        with np.errstate(all="ignore"):
            T[m:, m] = T[m:, m - 1] + (T[m:, m - 1] - T[m - 1:-1, m - 1]) / (c - 1)
            W[m:, m] = (c * W[m:, m - 1] + W[m - 1:-1, m - 1] / RATIO) / (c - 1)
    return T, W


def smooth_rungs(even, h, noise, settle: float = 0.5) -> np.ndarray:
    """Per rung ``k``, whether the step from rung ``k - 1`` to ``k`` is smooth in the even
    part (module docstring, "Kink crossings"): ``S(h) = (phi(h) + phi(-h) - 2 phi(0)) / h**2``
    moves by at most half its previous move, or by its round-off (``4 noise / h**2``,
    8 times over).  Rungs 0 and 1 (no previous move) are taken as smooth.  ``settle`` is
    the largest ratio of two moves taken as smooth (0.5; the asymptotic ratio is 1/4, a
    kink crossed at a distance d gives ratios of 0.8 and above down to h ~ d)."""
    even, h = np.asarray(even, dtype=float), np.asarray(h, dtype=float)
    ok = np.ones(even.shape, dtype=bool)
    if even.shape[0] < 3:
        return ok
    with np.errstate(all="ignore"):
        S = even / h / h
        move = np.abs(np.diff(S, axis=0))  # move[k - 1]: rung k - 1 -> k
        quiet = move <= 8 * 4 * np.asarray(noise, dtype=float) / h[1:] / h[1:]
        ok[2:] = (move[1:] <= move[:-1] * settle) | quiet[1:]
    return ok


def ladder_estimate(d, h, noise, min_column: int = 0, even=None, settle: float = 0.5, with_roundoff: bool = False):
    """``(value, error, column, rung)`` of ``phi'(0)`` from ``d[k] = D(h_k)``.

    ``h[k]`` are the steps (ratio ``RATIO``; shape ``(K, ...)``), ``noise`` the
    absolute noise of one value of phi (broadcast to the trailing shape).  The candidate
    of least bound (module docstring); ``error`` is ``inf`` when none is finite.
    ``even[k] = phi(h_k) + phi(-h_k) - 2 phi(0)``, when given, rules out the candidates
    whose rungs cross a kink (``smooth_rungs``).  ``with_roundoff``: a fifth item, the
    chosen candidate's round-off ``W noise / 2 h`` (its weights amplify the noise: 2.5 times
    a plain difference's for the all-powers column that removes ``h``, x |x| at 0).
    """
    d, h = np.asarray(d, dtype=float), np.asarray(h, dtype=float)
    smooth = None if even is None else smooth_rungs(even, h, noise, settle)
    # both tableaux: the even powers first (a tie stays with them), then all powers (a C1
    # point, x |x| at 0, where D(h) = h: column 1 of the latter is exact); each candidate's
    # bound assumes only what its own column removed, so the least bound of the two stands
    Ts, Es, Ws = [], [], []
    for power in (2, 1):
        T, W = tableau(d, power)
        Ts.append(T)
        Ws.append(W)
        Es.append(_bounds(T, W, h, noise, smooth, min_column, power))
    T, E = np.concatenate(Ts, axis=1), np.concatenate(Es, axis=1)
    K, M2 = T.shape[0], T.shape[1]
    flat = E.reshape((K * M2,) + E.shape[2:])
    best = np.argmin(flat, axis=0)
    take = lambda a: np.take_along_axis(a.reshape(flat.shape), best[None], axis=0)[0]  # noqa: E731
    value, error = take(T), take(E)
    rung, column = np.divmod(best, M2)
    out = np.where(np.isfinite(error), value, np.nan), error, column % (MAX_COLUMN + 1), rung
    if not with_roundoff:
        return out
    with np.errstate(all="ignore"):
        hk = h.reshape(h.shape[:1] + (1,) + h.shape[1:])
        rho = take(np.concatenate(Ws, axis=1) * np.asarray(noise, dtype=float) / (2 * hk))
    return out + (rho,)


def _bounds(T, W, h, noise, smooth, min_column: int, power: int) -> np.ndarray:
    """The bound ``e[k, m]`` of every candidate of a tableau of ``power`` (module
    docstring; ``inf`` where it proves nothing): the error of column ``m`` shrinks
    ``c = RATIO**(power (m + 1))`` times per rung."""
    K, M = T.shape[0], T.shape[1]
    with np.errstate(all="ignore"):
        hk = h.reshape(h.shape[:1] + (1,) + h.shape[1:])
        rho = W * np.asarray(noise, dtype=float) / (2 * hk)
        E = np.full(T.shape, np.inf)
        for m in range(M):
            c = RATIO ** (power * (m + 1))
            a = np.abs(T[m + 1:, m] - T[m:-1, m])
            b = np.full(a.shape, np.inf)
            b[1:] = np.abs(T[m + 1:-1, m] - T[m:-2, m]) / c
            # (agreement of orders; not for the first all-powers column, whose premise is that
            # column 0 carries a first-order error at full size)
            o = np.abs(T[m + 1:, m] - T[m + 1:, m - 1]) / c if m and (power, m) != (1, 1) else np.zeros(a.shape)
            # three rungs in the asymptotic regime (the pair before predicts this one to a
            # factor 2): the error is a / (c - 1), taken ASYMPTOTIC times over
            steady = (a <= 2 * b) & (b <= 2 * a)
            lead = np.where(steady, ASYMPTOTIC * np.maximum(a, b) / (c - 1), np.maximum(a, b))
            e = SAFETY * np.maximum(lead, o) + rho[m + 1:, m]
            # out of the asymptotic regime (the differences do not shrink by half from one
            # rung to the next, and not by round-off: D(h) ~ x / h across a kink, a pole or
            # a period inside the stencil) the candidate proves nothing
            quiet = a <= 8 * rho[m + 1:, m]
            shrinking = np.ones(a.shape, dtype=bool)
            shrinking[1:] = (a[1:] <= b[1:] * c / 2) | quiet[1:]
            # ... over two pairs where there are three (a lucky ratio in noise is not a trend)
            shrinking[2:] &= (b[2:] * c <= b[1:-1] * c / 2) | quiet[1:-1]
            # and the next finer rung must agree within the bound and its own round-off (a
            # finer rung is noisier: where round-off limits the ladder, its noise alone
            # must not reject the better candidate above it)
            ahead = np.ones(a.shape, dtype=bool)
            ahead[:-1] = a[1:] <= e[:-1] + rho[m + 2:, m]
            if smooth is not None:
                # every move among the candidate's rungs (k - m - 1 .. k) and to the next
                # finer one is smooth: no rung of its stencil crosses a kink
                for k in range(m + 1, K):
                    clean = np.all(smooth[k - m: min(k + 2, K)], axis=0)
                    ahead[k - m - 1] &= clean
            E[m + 1:, m] = np.where(shrinking & ahead, e, np.inf)
        E[:, :min_column] = np.inf
        E = np.where(np.isfinite(T) & np.isfinite(E), E, np.inf)
    return E


def ladder_kink(f0: float, fp: np.ndarray, fm: np.ndarray, h: np.ndarray, noise: float) -> bool:
    """Whether the one-sided slopes stay apart as the step shrinks (module docstring).

    ``fp[k], fm[k]`` are ``phi(±h_k)`` on a shrinking ladder; ``noise`` the absolute
    noise of one value of phi.
    """
    fp, fm, h = np.asarray(fp), np.asarray(fm), np.asarray(h, dtype=float)
    if fp.size < 3:
        return False
    with np.errstate(all="ignore"):
        jump = np.abs(np.asarray(fp + fm - 2 * f0, dtype=float)) / h
        # the finest rungs whose jump is above round-off (deeper ones cannot show a kink)
        seen = np.flatnonzero(jump > 16 * 4 * noise / h)
        if seen.size < 3 or np.any(np.diff(seen[-3:]) != 1):
            return False
        last = jump[seen[-3:]]
        steady = np.all(last >= 0.75 * last.max())
    return bool(steady and np.all(np.isfinite(last)))


#: rungs of a suspect's shrinking one-sided test: steps ``h0 / SUSPECT_RATIO**k``
#: (``ladder.ladder_kink``), from ``eps**(1/3) max(|x_j|, 1)`` down to round-off's reach
SUSPECT_RUNGS = 8
SUSPECT_RATIO = 16.0
#: the ratio for values of a coarse precision (float32 code, ``LOW_PRECISION``): round-off
#: reaches ``64 * 4 eps |f| / J`` within ``eps**(1/3)`` of the first step, which 16-fold rungs
#: cross in two (``ladder_kink`` needs three above it: max(x, 2) at 2 in float32)
COARSE_RATIO = 4.0
#: a suspect's jump is explained by curvature (``curvature_explains``) when its Richardson
#: estimate from two rungs is within this many times its round-off
EXPLAINED = 8.0


def curvature_explains(f0: float, fp: np.ndarray, fm: np.ndarray, h: np.ndarray, noise: float) -> bool:
    """Whether the last two rungs' one-sided gaps are curvature, not a jump.

    With ``S(h) = (phi(h) + phi(-h) - 2 phi(0)) / h`` (the signed gap ``R - L``), a smooth
    point has ``S = phi'' h + O(h**3)`` and a kink ``S = J + c h`` (``J`` the jump of the
    slope), so two rungs ``h1 > h2`` (``q = h1 / h2``) give ``J = (q S(h2) - S(h1)) / (q -
    1)`` with the round-off ``(q r2 + r1) / (q - 1)``, ``r = 4 noise / h`` (four values
    in the second difference).  Explained iff ``|J|`` is within ``EXPLAINED`` times that
    round-off.  ``ladder_kink`` needs a jump above ``64 noise / h`` on its finer rungs,
    some 15 times that bound: where curvature explains two rungs (and the rungs so far show
    no kink), finer rungs can show none either, so the test may stop there.
    """
    if len(h) < 2:
        return False
    h1, h2 = float(h[-2]), float(h[-1])
    with np.errstate(all="ignore"):
        s1 = float(fp[-2] + fm[-2] - 2 * f0) / h1
        s2 = float(fp[-1] + fm[-1] - 2 * f0) / h2
        q = h1 / h2
        jump = (q * s2 - s1) / (q - 1)
        error = (q * 4 * noise / h2 + 4 * noise / h1) / (q - 1)
    return bool(np.isfinite(jump) and np.isfinite(error) and abs(jump) <= EXPLAINED * error)


def shrinking_kink(cost, x: np.ndarray, j: int, f0: float, eps: float = EPS,
                   first: tuple[float, float, float] | None = None, claim: float | None = None):
    """The gap of the one-sided slopes at entry ``j`` when they stay apart as the step
    shrinks (a kink: ``ladder_kink`` on ``SUSPECT_RUNGS`` rungs ``h0 / 16**k``,
    ``h0 = eps**(1/3) max(|x_j|, 1)``, down to where round-off hides the gap), else None.
    A smooth point's gap ``h f''`` shrinks 16-fold with each rung; a smooth zone narrower
    than the first steps (smooth-L1 with a small beta, a logistic loss of w * 1e8) shows it
    once the steps are inside it.  Steps are the ones taken, ``(x_j + h) - x_j``.

    ``first = (R, L, h)``: the one-sided slopes a first look measured at its step ``h``;
    they are rung 0 (``h0 = h``, no calls).  The test stops as soon as curvature explains
    the last two rungs and the rungs so far show no kink (``curvature_explains``): a smooth
    suspect costs 2 calls, a kink the whole ladder.  With ``claim``: a kink only when the
    claim lies between the one-sided slopes (within 1% of the larger) at the finest rung
    whose gap is above round-off (as the re-estimate's kink test: 2 dout at a max-pool tie
    is no subgradient there)."""
    flat = x.ravel()
    w = flat.copy()
    h0 = float(eps) ** (1 / 3) * max(abs(float(flat[j])), 1.0)

    def pair(t: float) -> tuple[float, float, float]:
        w[j] = flat[j] + t
        h = float(w[j] - flat[j])
        if h <= 0:
            return np.nan, np.nan, 0.0
        try:
            fp = float(cost(w.reshape(x.shape)))
            w[j] = flat[j] - h
            fm = float(cost(w.reshape(x.shape)))
        finally:
            w[j] = flat[j]
        return fp, fm, h

    rungs = kink_along(pair, h0, f0, eps, first=first)
    if rungs is None:
        return None
    fp, fm, h, noise = rungs
    if claim is not None:
        with np.errstate(all="ignore"):
            # the finest rung above round-off (``ladder_kink``'s): its one-sided slopes
            k = int(np.flatnonzero(np.abs(fp + fm - 2 * f0) / h > 16 * 4 * noise / h)[-1])
            right, left = (fp[k] - f0) / h[k], (f0 - fm[k]) / h[k]
        lo, hi = min(left, right), max(left, right)
        if not lo - 0.01 * max(abs(lo), abs(hi)) <= float(claim) <= hi + 0.01 * max(abs(lo), abs(hi)):
            return None
    return float(abs(fp[-1] + fm[-1] - 2 * f0) / h[-1])


def kink_along(pair: Callable[[float], tuple[float, float, float]], h0: float, f0: float, eps: float = EPS,
               first: tuple[float, float, float] | None = None, noise: float = 0.0, early: bool = False):
    """The shrinking one-sided test of ``phi(t) = f(x + t v)`` at 0 (``shrinking_kink``'s, along
    any line): rungs ``h0 / SUSPECT_RATIO**k``, ``pair(t) -> (phi(h), phi(-h), h)`` with ``h``
    the step taken (``h <= 0``: none); ``first = (R, L, h)`` a rung already measured.  Stops
    where curvature explains the last two rungs and the rungs show no kink (None); else
    ``(fp, fm, h, noise)``, the rungs and the values' round-off, when they show a kink
    (``ladder_kink``), None when not.  ``noise``: a floor under the round-off of one value
    (f's measured noise).  ``early``: stop at the first rung where the rungs show a kink (a
    screen: the finer rungs, which could still reveal a smooth zone, are left to the test
    of each entry)."""
    fps, fms, hs = [], [], []
    if first is not None and all(np.isfinite(first)) and first[2] > 0:
        R, L, h0 = (float(v) for v in first)
        fps.append(f0 + R * h0), fms.append(f0 - L * h0), hs.append(h0)
    try:
        ratio = SUSPECT_RATIO if eps <= LOW_PRECISION * EPS else COARSE_RATIO
        for k in range(len(hs), SUSPECT_RUNGS):
            fp, fm, h = pair(h0 / ratio ** k)
            if not h > 0:
                break
            fps.append(fp), fms.append(fm), hs.append(h)
            scale = max(abs(f0), max(map(abs, fps)), max(map(abs, fms)))
            nz = max(ROUNDOFF_ULPS * eps * scale, noise)
            if not np.isfinite(scale):
                continue
            kink = ladder_kink(f0, np.array(fps), np.array(fms), np.array(hs), nz)
            if not kink and curvature_explains(f0, np.array(fps), np.array(fms), np.array(hs), nz):
                return None
            if kink and early:
                break
    except NonFiniteCostError:  # a step outside the domain: no kink shown
        return None
    if not hs:
        return None
    fp, fm, h = np.array(fps), np.array(fms), np.array(hs)
    scale = max(abs(f0), float(np.max(np.abs(fp))), float(np.max(np.abs(fm))))
    nz = max(ROUNDOFF_ULPS * eps * scale, noise)
    if not (np.isfinite(scale) and ladder_kink(f0, fp, fm, h, nz)):
        return None
    return fp, fm, h, nz


@dataclass(frozen=True)
class LadderResult:
    """One derivative along a direction: value, bound, the steps used, the calls made."""

    value: float
    error: float
    step: float
    calls: int
    kink: bool
    noise: float
    #: the values of phi at the steps ``steps`` (for callers that reuse them)
    steps: np.ndarray
    plus: np.ndarray
    minus: np.ndarray
    #: the round-off of the candidate that gave ``value`` (``ladder_estimate``'s
    #: ``with_roundoff``; NaN where the value came from elsewhere: a reference, the rungs
    #: before longer ones)
    roundoff: float = float("nan")


def derivative_along(pair: Callable[[float], tuple[float, float, float]], h0: float, f0: float, *,
                     noise: float, eps: float = EPS, rungs: int = RUNGS, more: int = MORE_RUNGS,
                     kink_test: bool = False, min_step: float = 0.0, target: float = 0.0,
                     reference: tuple[float, float] | None = None, patience: int = 1,
                     widen: Callable[[], tuple[float, float]] | None = None, defer: int = 0) -> LadderResult:
    """``phi'(0)`` with its bound from the ladder ``h0 / 2**k``.

    ``pair(h) -> (phi(h), phi(-h), shift)``: the values at ``±h`` and the correction
    ``shift`` to subtract from ``D(h)`` for the rounding of the points actually
    evaluated (``g . (w - v)``).  ``noise`` is the measured noise of one value of phi
    (the round-off floor is ``ROUNDOFF_ULPS eps max|phi| / DISCOUNT``).  Starts with
    ``rungs`` rungs; adds up to ``more`` finer ones while the finest rung gives the
    least bound and its truncation (not round-off) dominates, or while the bound exceeds
    ``target`` (the error the verdict needs) and the finest rung's round-off is below it;
    adds longer ones on top while round-off bounds it (``_Growth``).  With ``kink_test`` it
    also runs ``ladder_kink``, first refining the ladder (up to ``more`` rungs) while a
    jump looks steady, so that a smooth zone narrower than the first steps is reached.

    ``reference = (value, error)`` is an estimate at a much shorter step (the direct
    check's ``eps**(1/3)`` difference): steps longer than a feature of phi (``sin`` at
    ``x = 1000`` with steps of 100) can agree with each other on a wrong value, so while
    the ladder disagrees with the reference beyond both bounds it is refined, and if it
    still does, its bound is widened to cover the reference.  ``widen()``, when given,
    returns the reference with its truncation measured (a wider error, the same value):
    asked for once, the first time the ladder is apart from the reference as given, so
    every decision is the one the wider reference would have made from the start (not
    apart from a narrower error is not apart from a wider one).

    ``defer``: the first ladder's finest ``defer`` rungs are measured only as far as the
    ladder needs them.  Where it does not go longer at once (``coarse`` or ``_Growth``), the
    first of them is (then with the growth's state as it was: the run is the one of
    ``rungs - defer + 1`` rungs from the start, whose candidates have a finer rung to agree
    with, as where one longer rung went on top), the others only as any ladder adds finer
    rungs (truncation, a bound above ``target`` that round-off does not limit, a kink, the
    reference); where longer rungs go on top of the ``rungs - defer`` first ones, the finer
    rungs they would not use are not measured (the candidates the longer ones give are
    checked by the finer rungs below them, ``_bounds``' ahead rule, as ever).

    ``patience``: longer rungs in a row that may fail to shrink the bound below
    ``GROW_GAIN`` times the best before the growth stops (``_Growth.longer``; a bound set by
    round-off moves with the noise of one rung: the search's precise directions take 2).
    """
    def apart_from(value, error) -> bool:
        """Whether ``value ± error`` misses the reference (``widen`` first, when it does)."""
        nonlocal reference, widen
        while True:
            if reference is None or not (np.isfinite(reference[0]) and np.isfinite(reference[1])):
                return False
            if abs(float(value) - reference[0]) <= float(error) + reference[1] or widen is None:
                return not abs(float(value) - reference[0]) <= float(error) + reference[1]
            reference, widen = widen(), None

    hs: list[float] = []
    fps: list[float] = []
    fms: list[float] = []
    ds: list[float] = []
    calls = 0

    def add(h: float, at: int | None = None) -> None:
        nonlocal calls
        p, m, shift = pair(h)
        calls += 2
        k = len(hs) if at is None else at
        hs.insert(k, h)
        fps.insert(k, p)
        fms.insert(k, m)
        with np.errstate(all="ignore"):  # the difference in the values' own precision
            ds.insert(k, float((p - m) / (2 * h)) - shift)

    def noise_level() -> float:
        with np.errstate(all="ignore"):
            F = float(max([abs(f0)] + [abs(v) for v in fps + fms if np.isfinite(v)]))
        return max(float(noise), ROUNDOFF_ULPS * eps * F / DISCOUNT, np.finfo(float).tiny, grow.quantum(fps, fms, f0))

    # values of a coarse precision (float32 code) start on long steps, some of them before
    # the asymptotic regime, where two moves of the even part can shrink by a ratio
    # just above 1/2 (softmax-CE at steps 1.6, 0.8, 0.4: 0.53): their threshold is 0.7,
    # still below the 0.8 of a kink crossed
    settle = SETTLE_LOW if eps > LOW_PRECISION * EPS else 0.5
    h = float(h0)
    deferred = min(max(int(defer), 0), max(rungs - 3, 0))
    for _ in range(rungs - deferred):
        add(h)
        h /= RATIO
    added = up = 0
    # (values of a coarse precision, float32 code, have their own longer ladder)
    grow = _Growth(target if eps <= LOW_PRECISION * EPS else 0.0, patience)

    def fill() -> bool:
        """The first deferred rung, when nothing went on top: the candidates of the first
        rungs then have a finer rung to agree with (``_bounds``' ahead rule), as where one
        longer rung went on top; the finer ones only as the ladder asks for finer rungs
        (truncation, the target, a kink, the reference), as any ladder does."""
        nonlocal deferred, h, grow
        if not deferred or grow.front or grow.up or up or added:
            deferred = 0
            return False
        add(h)
        h /= RATIO
        deferred = 0
        grow = _Growth(grow.target, patience)
        return True

    while True:
        nz = noise_level()
        # a rung where f(x ± h) == f(x) exactly has lost the function's resolution (its
        # intermediates are larger than f: exp(x) - 1 - x at 1e-10 in float32): only the
        # rungs before the first such one are evidence, and none at all is no evidence
        blind = [p == f0 and m == f0 for p, m in zip(fps, fms)]
        # ... and so has a rung where, both sides having moved at longer steps, one no
        # longer moves: a staircase (code that rounds x to float32 sees no change below its
        # quantum), not a one-sided flat zone (relu at 0, a max-pool entry below its
        # window's max: flat on one side at every step, moving on the other beyond a kink)
        moved_p = np.cumsum([p != f0 for p in fps]) > 0
        moved_m = np.cumsum([m != f0 for m in fms]) > 0
        for k in range(1, len(hs)):
            if moved_p[k - 1] and moved_m[k - 1] and (fps[k] == f0 or fms[k] == f0):
                blind[k] = True
        if grow.front and blind[0] and not all(blind):
            # a longer rung on top where f does not move while it moves at shorter ones: a
            # feature (a plateau) beyond the shorter steps; it goes, and the growth stops
            del hs[0], fps[0], fms[0], ds[0], blind[0]
            grow.front -= 1
            grow.up = GROW_UP
        usable = blind.index(True) if True in blind else len(hs)
        if usable >= 2:
            with np.errstate(all="ignore"):  # the even part in the values' own precision
                even = np.array([float(p + m - 2 * f0) for p, m in zip(fps[:usable], fms[:usable])])
            value, error, column, rung, rho_best = ladder_estimate(np.array(ds[:usable]), np.array(hs[:usable]),
                                                                   nz, even=even, settle=settle, with_roundoff=True)
            # the finest rungs still cross a kink: shorter steps will clear it (relu at a
            # distance d from 0 is smooth, even linear, on steps below d)
            crossing = not bool(np.all(smooth_rungs(even, np.array(hs[:usable]), nz, settle)[-2:]))
            # ... while the jump of one of the three finest rungs is above its round-off
            # (as in ``ladder_kink``): deeper, a kink at the point would look smooth
            crossing = crossing and bool(np.any(np.abs(even[-3:]) > 16 * 4 * nz))
        else:
            value, error, column, rung, rho_best = np.nan, np.inf, 0, 0, np.nan
            kink = False
            if grow.flat(usable, len(hs), fps, fms, f0):  # f does not move at the first steps: longer ones
                add(hs[0] * RATIO, at=0)
                grow.front += 1
                continue
            if fill():
                continue
            apart = apart_from(value, error)
            break
        finest = int(rung) == usable - 1
        rho = nz / hs[-1]
        kink = False
        if kink_test:
            # blind rungs (f(x +- h) == f(x): below the code's resolution) show no kink
            kink = ladder_kink(f0, np.array(fps[:usable]), np.array(fms[:usable]), np.array(hs[:usable]), nz)
        truncating = finest and float(error) > 8 * SAFETY * rho
        wanting = float(error) > target and 8 * SAFETY * rho < float(error)
        apart = apart_from(value, error)
        # round-off dominates the finest rungs and the coarsest give the bound, which
        # misses the target: longer steps (float32 code, a cost much larger than its slope)
        coarse = (int(rung) <= int(column) + 1 and float(error) > target and not truncating
                  and not kink and not apart and np.isfinite(error) and up < MORE_UP)
        if coarse and usable == len(hs):
            add(hs[0] * RATIO, at=0)
            up += 1
            grow.front += 1
            continue
        if not kink and not apart and (
                grow.longer(value, error, hs[int(rung)], nz, truncating, _few_ulps(fps, fms, f0, usable, eps))
                or (not np.isfinite(error) and grow.flat(usable, len(hs), fps, fms, f0))):
            add(hs[0] * RATIO, at=0)
            grow.front += 1
            continue
        if fill():
            continue
        budget = more + (DESCENT if crossing or kink else 0)
        if usable < len(hs) or added >= budget or h < min_step or not (
                truncating or wanting or kink or apart or crossing or not np.isfinite(error)):
            break
        add(h)
        h /= RATIO
        added += 1
    settled = grow.settle(value, error, float(hs[int(rung)]))
    if settled[0] is not value:  # the estimate before the longer rungs stands: not this candidate's
        rho_best = np.nan
    value, error, step = settled
    if grow.blind and not np.isfinite(error):
        # f moved at no step it could use: the values of the first ladder go back to the
        # caller (whose flat bound reads the longest steps where f did not move)
        del hs[:grow.front], fps[:grow.front], fms[:grow.front]
        step = float(hs[-1])
    if reference is not None and np.isfinite(reference[0]) and np.isfinite(reference[1]):
        apart = apart_from(value, error)
    if apart:  # still apart: the bound covers the reference too
        if np.isfinite(error):
            error = max(float(error), abs(float(value) - reference[0]) + reference[1])
        else:  # the ladder proves nothing: the reference stands
            value, error, rho_best = reference[0], reference[1], np.nan
    return LadderResult(float(value), float(error), step, calls, kink, nz,
                        np.array(hs), np.array(fps), np.array(fms), float(rho_best))


#: a move of f within this many ulps of F is "a few ulps" (``_Growth``)
FEW_ULPS = 64.0


def _few_ulps(fps, fms, f0, usable: int, eps: float) -> bool:
    """Whether f moves by at most ``FEW_ULPS`` ulps of ``|f(x)|`` at the finest usable rung."""
    if usable < 1:
        return True
    with np.errstate(all="ignore"):
        move = max(abs(float(fps[usable - 1] - f0)), abs(float(fms[usable - 1] - f0)))
        return bool(move <= FEW_ULPS * eps * abs(float(f0)))


class _Growth:
    """The growing-step rung of ``derivative_along`` (one home for func, layer and the
    search's directions, in float64 and extended precision).

    A small derivative of a large cost (an entry of 1e-10 of a cost of 100, a softmax
    probability of e**-40) is limited by round-off, ``noise / h``, not by truncation: where
    phi is smooth on a scale far above the first steps, longer steps shrink the round-off
    without a truncation penalty, and the agreement of orders and steps says where that
    stops.  So, for a claim that is not exactly 0 (``target > 0``; an exact zero is passed
    only by the zero rule at the short steps' resolution):

    * ``flat``: while f does not move at all at the first rungs (fewer than 3 usable:
      every value equal to f(x), below the code's resolution), a rung twice as long goes on
      top, at most ``GROW_UP`` times;
    * ``longer``: while the best candidate misses the target and its bound is round-off's
      (within ``8 SAFETY noise / h`` of its step), a rung twice as long goes on top, until
      one has not shrunk it below ``GROW_GAIN`` times the best (``GROW_PATIENCE`` in a row
      where f moves by a few ulps; the caller's ``patience`` in a row at least);
    * ``settle``: the longer steps' estimate stands only where it agrees with the estimate
      before the first longer rung (both bounds must contain the truth) and its bound is
      the smaller; where they do not agree, phi has a feature between the two step ranges
      and the shorter one stands.

    Not for values of a coarse precision (float32 code, ``LOW_PRECISION``), which have
    their own longer ladder (``entry_derivative``).
    """

    def __init__(self, target: float, patience: int = 1) -> None:
        self.target = float(target)
        self.patience = max(int(patience), 1)
        self.up = 0
        self.front = 0  # rungs put on top of the first ladder (by any rule)
        self.blind = False  # grown because f did not move at the first steps
        self.last = np.inf
        self.idle = 0  # longer rungs in a row that did not shrink the bound below GROW_GAIN times
        self.before = None  # (value, error, step) before the first longer rung

    def flat(self, usable: int, rungs: int, fps, fms, f0) -> bool:
        """Whether to go longer because the finer rungs are blind (f(x +- h) == f(x)).
        Only where f moved at one of the first ladder's two longest steps: a ladder flat at
        both is the caller's (``stencils._flat_bound`` probes far longer steps for the
        quantum that hid a slope)."""
        if not self.blind and all(v == f0 for v in list(fps[:2]) + list(fms[:2])):
            return False
        if self.target > 0 and usable < min(3, rungs) and self.up < GROW_UP:
            self.up += 1
            self.blind = True
            return True
        return False

    def quantum(self, fps, fms, f0) -> float:
        """After blind rungs, the least move of f seen, taken as the noise of one value:
        exact flatness proves only that f moves in quanta at least that large (the
        intermediates of ``(x + 1e20) - 1e20`` are multiples of 8), far coarser than f's
        own ulp; where f was merely below its resolution (a softmax probability of e**-40)
        the least move is a few ulps of f, and costs nothing."""
        if not self.blind:
            return 0.0
        with np.errstate(all="ignore"):
            moves = np.abs(np.asarray([float(v - f0) for v in list(fps) + list(fms)], dtype=float))
        moves = moves[np.isfinite(moves) & (moves > 0)]
        return float(moves.min()) if moves.size else 0.0

    def longer(self, value, error, step: float, noise: float, truncating: bool, few_ulps: bool) -> bool:
        """Whether to go longer because round-off bounds the best candidate (at ``step``);
        ``few_ulps``: f moves by a few ulps at the finest usable rung."""
        error = float(error)
        if error < GROW_GAIN * self.last:  # the longer rungs paid (or none yet)
            self.last, self.idle = error, 0
        else:
            self.idle += 1
        # values that move by a few ulps take a few rungs to show a gain
        patience = max(GROW_PATIENCE, self.patience) if (self.blind or few_ulps) else self.patience
        if not (self.target > 0 and np.isfinite(error) and error > self.target and not truncating
                and self.up < GROW_UP and error <= 8 * SAFETY * noise / step and self.idle < patience):
            return False
        if self.before is None:
            self.before = (float(value), error, float(step))
        self.up += 1
        return True

    def settle(self, value, error, step: float):
        """``(value, error, step)``: the longer steps' estimate, or the one before them."""
        b = self.before
        if b is None or (np.isfinite(error) and abs(float(value) - b[0]) <= float(error) + b[1]
                         and float(error) <= b[1]):
            return value, error, step
        # a feature of phi between the two step ranges (or a bound that does not hold), or
        # a longer rung whose pairs rule out the candidate below it: the estimate before
        # the longer rungs stands
        return b


def measured_noise(table: np.ndarray) -> float:
    """Noise of phi from values on a fine equispaced grid (``finite_diff.measured_noise``,
    ECnoise): 0 when the table holds a value that is not finite."""
    t = np.asarray(table)
    return float(_measured_noise(t)) if np.all(np.isfinite(t)) else 0.0


#: values of the noise table along each entry (ECnoise), spaced NOISE_SPACING h0
NOISE_POINTS = 7
NOISE_SPACING = 1e-6


def one_sided(cost: Callable, w: np.ndarray, j: int, f0, sign: float, h0: float, *, noise: float, eps: float,
              claimed: float = 0.0, target: float = 0.0):
    """``df/dx_j`` from one side only (``sign`` +1: ``x + h``, -1: ``x - h``): the ladder
    (``derivative_along``) on ``D(h) = sign (f(x + sign h) - f(x)) / h``, fed to it as
    the central difference of ``p = f0 + sign (f(x + sign h) - f0)`` and ``m = 2 f0 - p``
    (an even part of 0: its all-powers tableau removes the h, h**2 terms of a one-sided
    difference, and a kink crossed on that side shows as rungs out of the asymptotic
    regime, which prove nothing).  Its value is ``f'(x)`` where f is differentiable at x;
    the caller takes it only where it agrees with the central evidence (a kink at x would
    put the central value between the one-sided ones).  ``w`` restored after every call."""
    orig = w[j]

    def pair(h: float):
        w[j] = orig + sign * h
        taken = w[j] - orig
        try:
            fv = cost(w)
        finally:
            w[j] = orig
        with np.errstate(all="ignore"):
            p = f0 + sign * (fv - f0)
            shift = float(claimed) * (float(taken / (sign * h)) - 1.0)
        return p, 2 * f0 - p, shift

    return derivative_along(pair, float(h0), f0, noise=noise, eps=eps, target=target)


def entry_derivative(cost: Callable, x: np.ndarray, j: int, *, f0, eps: float = EPS, claimed: float = 0.0,
                     target: float = 0.0, reference: tuple[float, float] | None = None,
                     kink_test: bool = True, step: float | None = None, noise: float | None = None,
                     rungs: int = RUNGS) -> LadderResult:
    """``df/dx_j`` of a black box by the ladder (``derivative_along`` with ``v = e_j``).

    ``x`` is a flat work vector of the dtype ``cost`` is evaluated in (float64, or
    ``np.longdouble`` for precision lifting), restored after every call.  Steps follow
    the scale of ``x_j``: ``h_0 = 0.1 max(|x_j|, 1)``, and for ``0 < |x_j| < 0.1`` also
    the ladder ``h_0 = 0.1 |x_j|`` (x ~ 1e-8 resolves); the one of least bound is kept
    (both bounds must contain the truth, so their intersection does; when they do not
    intersect the union is reported).  ``claimed`` is the analytic value (for the
    rounding correction of the points); the noise of f is measured along ``e_j``.
    ``step`` fixes the first step (``--eps``); ``noise``, when given, is the noise of f at
    x measured by the caller (no table of its own); ``rungs`` the first ladder's rungs
    (extended precision, whose round-off is negligible, starts with fewer and refines
    while the bound misses ``target``).
    """
    orig = x[j]

    def at(t) -> tuple[float, float]:
        x[j] = orig + t
        actual = x[j]
        try:
            return cost(x), actual
        except NonFiniteCostError:  # a step outside the domain: no value there
            return np.nan, actual
        finally:
            x[j] = orig

    def ladder(h0: float, shared: float | None = None, refer: bool = True) -> LadderResult:
        # in extended precision the values may lie outside float64's range (x**2 at 1e-200
        # is 1e-400): the ladder then runs on phi(T u) / S, S and T powers of 2 near |f(x)|
        # and h0 (exact scalings), and its figures are scaled back in extended precision
        one = np.longdouble(1) if x.dtype == np.longdouble else 1.0
        T = np.ldexp(one, int(np.frexp(h0)[1])) if x.dtype == np.longdouble else 1.0
        S = np.ldexp(one, int(np.frexp(f0)[1])) if x.dtype == np.longdouble and f0 != 0 and np.isfinite(f0) else one
        unit = S / T  # phi' = unit * (the scaled ladder's derivative)

        def scaled(u):
            value, actual = at(u * T)
            return value / S, actual

        if shared is None:
            table = [f0 / S] + [scaled(k * NOISE_SPACING * h0 / T)[0] for k in range(1, NOISE_POINTS)]
            sigma = measured_noise(np.array(table))
        else:  # measured once for the point by the caller (``Lifted.base``)
            sigma = float(np.longdouble(shared) / S)
        table_calls = NOISE_POINTS - 1 if shared is None else 0

        def pair(u: float):
            fp, xp = scaled(u)
            fm, xm = scaled(-u)
            with np.errstate(all="ignore"):
                return fp, fm, float(claimed / unit) * (float((xp - xm) / (2 * (u * T))) - 1.0)

        with np.errstate(all="ignore"):
            ref = None if reference is None or not refer else (float(reference[0] / unit), float(reference[1] / unit))
            r = derivative_along(pair, float(h0 / T), f0 / S, noise=sigma, eps=eps, target=float(target / unit),
                                 reference=ref, kink_test=kink_test, rungs=rungs)
            back = lambda v: float(v * unit)  # noqa: E731
            return LadderResult(back(r.value), back(r.error), float(r.step * T), r.calls + table_calls, r.kink,
                                back(r.noise / T), r.steps * T, r.plus * S, r.minus * S, back(r.roundoff))

    ax = abs(float(orig))
    if step is not None:
        return ladder(float(step), noise)
    # the caller's noise was measured at the scale max(|x|, 1): the first ladder's; the
    # ladder relative to a tiny |x_j| measures its own
    first = ladder(0.1 * max(ax, 1.0), noise)
    apart = reference is not None and not abs(first.value - reference[0]) <= first.error + reference[1]
    if 0 < ax < 0.1 and (x.dtype != np.longdouble or first.error > target or apart or reference is None):
        # in the code's own precision always: steps longer than the scale on which f
        # varies (tanh(x / 1e-10) at x ~ 1e-10) agree with each other on the plateaus beyond
        # it, a bound that looks tight and is wrong; the ladder relative to |x_j| sees the
        # feature, and where the two disagree it stands (extended precision refines an
        # estimate that had this ladder, its ``reference``: it needs it only without one,
        # apart from it, or short of the target)
        first = _union(first, ladder(0.1 * ax), prefer_second=True)
    # in extended precision, a reference (float64's estimate) that stood in for a ladder
    # whose every step left the domain is no evidence of extended precision's own: its
    # ladder shrinks into the domain, with no reference (float64's shortest steps see the
    # rounding of its own intermediates, not f: log1p(-x*x) at a slack of 1e-6 has a slope
    # off by 1e-6 below steps of 1e-10), and where the two disagree it stands
    lifted_out = x.dtype == np.longdouble and reference is not None and not np.any(
        np.isfinite(np.asarray(first.plus, dtype=float)) & np.isfinite(np.asarray(first.minus, dtype=float)))
    if lifted_out and 0 < ax < 0.1:
        # steps relative to a tiny |x_j| first (x log x at 1e-10: they stay inside the domain)
        inner = ladder(0.1 * ax, refer=False)
        if np.any(np.isfinite(np.asarray(inner.plus, dtype=float)) & np.isfinite(np.asarray(inner.minus, dtype=float))):
            first, lifted_out = _union(first, inner, prefer_second=True), False
    if not first.error <= target or lifted_out:
        # (a ladder whose steps left the domain proves nothing; with a reference the
        # reference stood in for it, finite, and still misses the target)
        first = _inside_domain(first, at, (lambda h: ladder(h, refer=False)) if lifted_out else ladder)
    if first.error <= target:
        return first
    if first.error > target and eps > LOW_PRECISION * EPS and claimed != 0:
        # values of a coarse precision (float32 code): round-off over h dominates the short
        # rungs, so a ladder from longer steps, where the 6th-order stencil's truncation
        # c h**6 balances eps / h (h ~ (eps / EPS)**(1/7) times the float64 start); not for
        # a claim of exactly 0, which only the zero rule at the short steps' resolution
        # can pass (longer steps would loosen what "zero" means)
        first = _union(first, ladder(0.1 * max(ax, 1.0) * min((eps / EPS) ** (1 / 7), MAX_STRETCH)))
    return first


#: a ladder whose steps leave f's domain (log(b - A x) at a slack of 1e-6) is started
#: again from a step SHRINK times shorter than its last, at most SHRINK_TRIES times
SHRINK = 4.0
SHRINK_TRIES = 24


def _inside_domain(r: LadderResult, at, ladder) -> LadderResult:
    """A ladder that proved nothing because f was not finite at its steps (outside f's
    domain): the step shrinks (``SHRINK`` times per try, 2 calls) until f(x +- h) are both
    finite, and the ladder starts there; ``r`` stands when no step is (the calls counted)."""
    finite = np.isfinite(np.asarray(r.plus, dtype=float)) & np.isfinite(np.asarray(r.minus, dtype=float))
    if r.steps.size == 0 or np.all(finite):
        return r  # not a domain problem (a pole, a period, a kink inside the stencil)
    h, calls = float(np.min(r.steps)), r.calls
    for _ in range(SHRINK_TRIES):
        h /= SHRINK
        calls += 2
        if np.isfinite(float(at(h)[0])) and np.isfinite(float(at(-h)[0])):
            inner = ladder(h)
            inner = replace(inner, calls=inner.calls + calls)
            # ``r`` may be a reference that stood in for the ladder (finite): the better stands
            return _union(r, inner, prefer_second=True) if np.isfinite(r.error) else inner
    return replace(r, calls=calls)


#: values whose precision is this much coarser than float64's get the longer ladder too
LOW_PRECISION = 1e3
#: ... whose first step is at most this many times the float64 one
MAX_STRETCH = 16.0
#: ... and whose even part may settle by this ratio per rung (``smooth_rungs``)
SETTLE_LOW = 0.7


def _union(one: LadderResult, two: LadderResult, prefer_second: bool = False) -> LadderResult:
    """The ladder of least bound of two on the same entry, its calls the sum of both: both
    bounds must contain the truth, so the better one stands where they intersect; where
    they do not, their union is reported (one of them is unsound there).  With
    ``prefer_second`` (``two`` on steps all shorter than ``one``'s), a disagreement proves
    a feature of f narrower than ``one``'s steps, whose premise (f smooth at its scale) it
    breaks, while ``two``'s stands: ``two`` is reported."""
    calls = one.calls + two.calls
    best, other = (one, two) if one.error <= two.error else (two, one)
    apart = (np.isfinite(other.error) and np.isfinite(best.error)
             and abs(best.value - other.value) > best.error + other.error)
    if apart and prefer_second:
        return replace(two, calls=calls)
    if apart:
        lo = min(best.value - best.error, other.value - other.error)
        hi = max(best.value + best.error, other.value + other.error)
        best = replace(best, value=(lo + hi) / 2, error=(hi - lo) / 2, kink=best.kink and other.kink)
    return replace(best, calls=calls)


#: calls of the cost in extended precision per check (it is 10-50x slower than float64)
LIFT_CALLS = 240
#: ... and for the re-estimates of the entries left (a few entries' ladders), or, for a
#: smaller x, LIFT_WORK / (entries of x) calls (a call of the code costs about in
#: proportion to x's size: a cheap cost settles every entry float64 left, a net of 80,000
#: parameters keeps the few ladders), at most LIFT_RECHECK_MAX: counts, never seconds
LIFT_RECHECK_CALLS = 64
LIFT_WORK = 2**21
LIFT_RECHECK_MAX = 4096


def recheck_budget(size: int) -> int:
    """Calls in extended precision for the re-estimates of a check of ``size`` entries."""
    return int(max(LIFT_RECHECK_CALLS, min(LIFT_RECHECK_MAX, LIFT_WORK // max(int(size), 1))))

#: calls one lifted ladder may take (a direction or an entry)
LIFT_NEED = 24
#: at most this many entries left unsettled by float64 in one re-estimate get a lifted
#: ladder each beyond the budgets (``Lifted.grant``), within these calls over the check
LIFT_LEFTOVERS = 16
LIFT_LEFTOVER_CALLS = 16 * LIFT_NEED


#: spacing of ``Lifted.noise_at``'s table, relative to each ``max(|x_j|, 1)``: short enough
#: that the smooth part of f along a direction through every entry (its 4th differences,
#: ~ delta**4 times the 4th derivative) stays below extended precision's round-off
BASE_SPACING = 1e-10


class Lifted:
    """The cost in ``np.longdouble`` (precision lifting) with a budget of calls: extended
    precision is slow, so it is spent where float64 cannot settle an entry, and only
    while ``left >= LIFT_NEED``.  Every budget is a count of calls, never a time, so the
    same input gets the same verdict on a loaded and an idle machine (time counts only
    under ``--max-seconds``).

    ``base(x)`` is the lifted value at the flat point x, computed once and shared by the
    search's lifted directions and the re-estimates' lifted entries; ``noise_at(x)`` the
    noise of the lifted cost there, measured once per check (ECnoise, ``measured_noise``
    of ``NOISE_POINTS`` values along a random ``+-1`` direction, or the largest noise a
    lifted direction measured, ``note_noise``): round-off of one evaluation, a property of
    the code at x rather than of a direction."""

    def __init__(self, fn: Callable, budget: int = LIFT_CALLS) -> None:
        self.fn = fn
        self.budget = int(budget)
        self.used = 0
        self.granted = 0
        self.noise: float | None = None
        self._base = None

    def __call__(self, z):
        self.used += 1
        return self.fn(z)

    def base(self, flat: np.ndarray, shape) -> tuple[np.ndarray, object]:
        """``(lw, f(lw))``: the flat longdouble point and its lifted value."""
        if self._base is None or not np.array_equal(self._base[0], flat):
            lw = np.asarray(flat, dtype=float).astype(np.longdouble)
            self._base = (np.array(flat, dtype=float), lw, self(lw.reshape(shape)))
        return self._base[1], self._base[2]

    def note_noise(self, sigma: float) -> None:
        """A noise of the lifted cost measured along a direction at the base point."""
        if np.isfinite(sigma):
            self.noise = max(self.noise or 0.0, float(sigma))

    def noise_at(self, flat: np.ndarray, shape) -> float:
        """The noise of the lifted cost at ``flat`` (measured when no direction has)."""
        if self.noise is None:
            lw, f0 = self.base(flat, shape)
            u = np.random.default_rng(len(lw)).choice(np.array([-1.0, 1.0]), size=lw.size).astype(np.longdouble)
            # each entry moves on its own scale (an entry of 1e-6 next to one of 1e6 must not
            # move by 1e-4: the smooth part of f would pass for noise)
            delta = (BASE_SPACING * np.maximum(np.abs(np.asarray(flat, dtype=float)), 1.0)).astype(np.longdouble)
            table = [f0]
            for t in range(1, NOISE_POINTS):
                try:
                    table.append(self((lw + t * delta * u).reshape(shape)))
                except NonFiniteCostError:
                    table.append(np.nan)
            self.noise = float(measured_noise(np.array(table)))
        return self.noise

    def extend(self, calls: int) -> None:
        """A fresh share: ``calls`` more calls."""
        self.budget = self.used + int(calls)

    def grant(self, entries: int) -> None:
        """A ladder each for the last ``entries`` entries float64 could not settle (at most
        ``LIFT_LEFTOVERS`` of them), within what is left of ``LIFT_LEFTOVER_CALLS`` over the
        check."""
        need = min(int(entries), LIFT_LEFTOVERS) * LIFT_NEED
        need = min(need, LIFT_LEFTOVER_CALLS - self.granted)
        if need < LIFT_NEED:
            return
        self.granted += need
        self.budget = max(self.budget, self.used + need + 1)

    @property
    def left(self) -> int:
        return self.budget - self.used

    @property
    def usable(self) -> bool:
        return self.left >= LIFT_NEED
