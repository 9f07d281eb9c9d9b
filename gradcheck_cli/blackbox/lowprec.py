"""The derivative of float32 code along one entry by least squares over many steps
(numpy only): what float32 can verify where the Richardson ladder cannot.

Why.  A value of float32 code carries a round-off ``delta(t)`` of about ``eps32 |f|``
(``eps32 = 1.2e-7``): a cost of 17 rounds by ~1e-6, and the slope of an entry of
0.009 must be known to 4.6e-6 to verify it to the float32 default pass tolerance
(5e-4).  A stencil of a few points divides that round-off by its step; the ladder's
steps cannot be long enough (truncation) and short enough (round-off) at once.  But the
round-off is deterministic per point and unrelated between points whose values differ by
many ulps: measured on 64 distinct points it averages out like any noise.

Estimate.  With ``o(t) = (phi(t) - phi(-t)) / 2 = phi'(0) t + c_3 t**3 + c_5 t**5 + ..``
(``phi(t) = f(x + t e_j)``) on ``t_i ~ H i / N`` (i = 1 .. N, jittered; ``2 N`` calls), the least
squares fit of the odd polynomial with ``m`` terms gives ``phi'(0) ~ c_m = w_m . o``
(``w_m`` the first row of the pseudo-inverse).  The same values serve the widths
``H``, ``H / 2`` and ``H / 4`` (the first ``N``, ``N / 2``, ``N / 4`` points).

Bound.  ``e(H, m) = Z sigma ||w_m||_2 + SAFETY max(|c_m - c_{m+1}|, |c_m - c_{m+2}|)``:
the noise of ``c_m`` (a sum of ``N`` independent round-offs, near Gaussian; ``sigma`` the
noise of ``o`` measured from the residuals of the widest fit, at least a quantum of
float32's round-off of ``F``, so a lack of fit only widens it) and its truncation by the
agreement of orders, as in the ladder.  Each width keeps its candidate of least bound;
from the narrowest width up, a wider width's candidate stands only where it agrees with
every narrower one (their intervals intersect): a disagreement shows a feature of f
narrower than the wider width, whose premise it breaks (as the ladder prefers its shorter
steps); the least bound of those standing is the estimate.  A width whose values
do not move by several quanta between neighbouring points (a staircase: the round-off
is then no noise) proves nothing.  Figures are absolute errors of ``phi'(0)``.

Premise.  The fit holds only where phi is smooth on the whole width; a relu unit whose
pre-activation crosses 0 inside it biases ``c_m`` by up to half its jump of slope, far
beyond the bound.  So it is checked, not assumed: a width is not fitted beyond half the
distance of a change of slope that stands out of the round-off (``kink_distance``), nor
where least squares resolves a hinge ``max(+-(u - d), 0)`` over its points
(``hinge_stat``), nor where its one-sided fits ``phi(t)`` and ``phi(-t)`` disagree
(``one_sided_agree``).  A kink nearer than the first step with a jump near the round-off
can still pass these checks (it reads like a kink at x).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import NonFiniteCostError

#: pairs of points of the widest fit (``2 FIT_POINTS`` calls per entry), and of the second
#: fit of an entry the first leaves undecided (the noise's share of the bound halves)
FIT_POINTS = 64
FIT_MORE_POINTS = 256
#: the widths fitted: ``FIT_WIDTH max(|x_j|, 1)`` and its halves down to this many of them
FIT_WIDTH = 1.0
FIT_HALVINGS = 2
#: terms of the odd polynomials fitted (degree 2 m - 1); the two after ``m`` bound its truncation
FIT_TERMS = (2, 3, 4, 5)
FIT_MAX_TERMS = 7
#: standard deviations of the noise taken into the bound (a near-Gaussian sum of round-offs)
Z = 6.0
#: the bound's floor, in ulps of the value (float32's resolution of the slope)
REL_FLOOR_ULPS = 8.0
#: estimated truncation errors are multiplied by this (as in the ladder)
SAFETY = 2.0
#: neighbouring points of a width must differ by this many quanta of f on average
MOVE_QUANTA = 4.0


@dataclass(frozen=True)
class FitResult:
    """``phi'(0)`` with its bound, the half-width of the fit, the calls made."""

    value: float
    error: float
    width: float
    calls: int
    #: ``(a, b)``: the sample showed a change of slope (or a hinge) and none in ``-a < t < 0``
    #: nor ``0 < t < b`` beyond those across 0 (``kink_free_sides``); ``None``: no kink seen
    free: tuple[float, float] | None = None
    #: the distance from x of the nearest change of slope the sample showed (``kink_distance``)
    kink_at: float = np.inf


#: a change of slope between neighbouring points this many robust deviations beyond its
#: neighbours' is a kink (a relu unit whose pre-activation crosses 0 inside the width)
KINK_SIGMAS = 12.0
#: a kink caps the width at this fraction of its distance from x (fewer points stay)
KINK_MARGIN = 0.5
#: terms of the one-sided fits (powers 0 .. 2 ONE_SIDED_MAX - 2): the premise's second check
ONE_SIDED_TERMS = (3, 5, 7)
ONE_SIDED_MAX = 9


def kink_spans(u: np.ndarray, y: np.ndarray, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """The spans ``(lo, hi)`` of ``u`` that hold a change of slope of ``y(u)`` standing out of
    the round-off (``_kink_flags``)."""
    j, _ = _kink_flags(u, y, noise)
    return u[j], u[j + 3]


def _kink_flags(u: np.ndarray, y: np.ndarray, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """The spans ``(lo, hi)`` of ``u`` that hold a change of slope of ``y(u)`` (``u`` sorted)
    standing out of the round-off.  ``S_i``, the second divided difference across three
    neighbouring intervals, carries a kink's whole jump of slope (over its span) wherever it
    falls in them; a smooth ``y`` gives a smooth ``S`` (``y''``), which the cubic through
    ``S_{i-4}, S_{i-3}, S_{i+3}, S_{i+4}`` predicts at ``S_i`` to ``O(y h**4)``: what is left is
    round-off (at most ``noise`` per value) or a kink, which lies in ``u[i] .. u[i + 3]``.
    Returns the ``i`` that stand out and by how many times their threshold."""
    none = np.zeros(0, dtype=int), np.zeros(0)
    h = np.diff(u)
    s = np.diff(y) / h
    if s.size < 16:
        return none
    mid = (u[1:] + u[:-1]) / 2
    span = mid[2:] - mid[:-2]
    S = (s[2:] - s[:-2]) / span  # y'' between the midpoints of intervals i and i + 2
    hmin = np.minimum(np.minimum(h[2:], h[:-2]), h[1:-1])
    nS = 4.0 * noise / hmin / span  # the round-off of S_i
    c = (mid[2:] + mid[:-2]) / 2
    i = np.arange(4, S.size - 4)
    nodes = np.stack([i - 4, i - 3, i + 3, i + 4])
    pred, amp = np.zeros(i.size), nS[i].copy()
    for a in range(4):
        L = np.ones(i.size)
        for b in range(4):
            if b != a:
                L *= (c[i] - c[nodes[b]]) / (c[nodes[a]] - c[nodes[b]])
        pred += L * S[nodes[a]]
        amp += np.abs(L) * nS[nodes[a]]
    dev = S[i] - pred
    # the noise of dev from its lower fifth (a Gaussian's |dev| has 20 % below 0.253 sigma):
    # many kinks along the line (a relu layer) spoil up to 5 entries each, and a median
    robust = float(np.quantile(np.abs(dev), 0.2)) / 0.253
    ratio = np.abs(dev) / (KINK_SIGMAS * np.maximum(robust, amp / 4))
    out = ratio > 1
    return i[out], ratio[out]


def kink_distance(u: np.ndarray, y: np.ndarray, noise: float) -> float:
    """Distance from 0 of the nearest change of slope of ``y(u)`` (``u`` sorted, across
    0) that stands out of the round-off (``kink_spans``): ``inf`` where none does; a kink
    lies in its span, so no nearer than the span's near end (0 for a span across 0)."""
    lo, hi = kink_spans(u, y, noise)
    if not lo.size:
        return np.inf
    near = np.where((lo <= 0) & (hi >= 0), 0.0, np.minimum(np.abs(lo), np.abs(hi)))
    return float(np.min(near))


def kink_free_sides(u: np.ndarray, y: np.ndarray, noise: float) -> tuple[float, float]:
    """``(a, b)``: the changes of slope of ``y(u)`` that stand out of the round-off
    (``_kink_flags``) lie in none of ``-a < u < 0`` and ``0 < u < b`` (``a, b`` at most
    ``u``'s extent on that side), except one whose span holds 0 (a denser sample locates it).
    A kink spoils the predictions of its neighbours too: flags within 8 places of each other
    are one kink, which lies in the span of the one that stands out most."""
    j, ratio = _kink_flags(u, y, noise)
    a, b = float(-u[0]), float(u[-1])
    if not j.size:
        return a, b
    groups = np.split(np.arange(j.size), np.flatnonzero(np.diff(j) > 8) + 1)
    for g in groups:
        k = j[g[int(np.argmax(ratio[g]))]]
        lo, hi = float(u[k]), float(u[k + 3])
        if hi < 0:
            a = min(a, -hi)
        elif lo > 0:
            b = min(b, lo)
    return a, b


#: a hinge whose coefficient stands this many standard errors out rejects a width
HINGE_Z = 6.0
#: powers of the smooth part the hinges are tested against (0 .. HINGE_POWERS - 1)
HINGE_POWERS = 10


def hinge_stat(u: np.ndarray, y: np.ndarray, noise: float) -> float:
    """The largest significance (coefficient over standard error) of a hinge
    ``max(+-(u - d), 0)`` (``d`` at each point, opening away from 0, and ``|u|``) added to a polynomial
    fit of ``y(u)`` of ``HINGE_POWERS`` terms: a change of slope anywhere in the width,
    found by least squares over all its points (as the fit's own noise is), so a kink too
    small for ``kink_distance`` but large enough to bias the odd fit beyond its bound shows;
    ``noise`` the least noise of a value (a lack of fit only raises it)."""
    return hinge_scan(u, y, noise)[0]


def hinge_scan(u: np.ndarray, y: np.ndarray, noise: float) -> tuple[float, float]:
    """``(significance, where)``: ``hinge_stat`` and the ``d`` nearest 0 of the hinges whose
    significance exceeds ``HINGE_Z`` (of the most significant where none does; 0 for
    ``|u|``, a kink at x itself; ``nan`` where none could be fitted)."""
    T = float(np.max(np.abs(u)))
    sc = u / T
    P = np.stack([sc ** p for p in range(HINGE_POWERS)], axis=1)
    Q = np.linalg.qr(P)[0]
    res = y - Q @ (Q.T @ y)
    dof = u.size - HINGE_POWERS
    if dof < 8:
        return np.inf, np.nan
    sigma = max(float(np.sqrt(res @ res / dof)), float(noise))
    d = sc[(np.abs(sc) > 0) & (np.abs(sc) < 0.9)]  # a hinge needs points beyond it
    V = np.where(d[None, :] > 0, np.maximum(sc[:, None] - d[None, :], 0), np.maximum(d[None, :] - sc[:, None], 0))
    V = np.concatenate([np.abs(sc)[:, None], V], axis=1)  # and a kink at x itself (|u|)
    where = np.concatenate([[0.0], d * T])
    R = V - Q @ (Q.T @ V)
    norm = np.sqrt(np.sum(R * R, axis=0))
    ok = norm > 1e-9 * np.sqrt(np.sum(V * V, axis=0))
    if not np.any(ok):
        return 0.0, np.nan
    z = np.abs(R[:, ok].T @ res) / (norm[ok] * sigma)
    at = where[ok]
    out = np.flatnonzero(z > HINGE_Z)
    k = int(out[np.argmin(np.abs(at[out]))]) if out.size else int(np.argmax(z))
    return float(np.max(z)), float(at[k])


def poly_fit(t: np.ndarray, y: np.ndarray, quantum: float, powers: list[int], terms, which: int = 1
             ) -> tuple[float, float]:
    """``(value, bound)`` of the coefficient of ``t**powers[which]`` (scaled back) in least
    squares fits of the first ``m`` powers, ``m`` in ``terms``: the bound is ``Z sigma ||w||``
    plus ``SAFETY`` times the disagreement with the next two orders (module docstring)."""
    n, top = t.size, len(powers)
    if n < top + 4 or not np.all(np.isfinite(y)):
        return np.nan, np.inf
    T = float(np.max(np.abs(t)))
    s = t / T
    A = np.stack([s ** p for p in powers], axis=1)
    coef, rows = {}, {}
    for m in range(which + 1, top + 1):
        rows[m] = np.linalg.pinv(A[:, :m])[which] / T ** powers[which]
        coef[m] = float(rows[m] @ y)
    full = np.linalg.lstsq(A, y, rcond=None)[0]
    res = y - A @ full
    sigma = max(float(np.sqrt(res @ res / (n - top))), float(quantum))
    best = (np.nan, np.inf)
    for m in terms:
        if m + 2 > top or m not in coef:
            continue
        trunc = max(abs(coef[m] - coef[m + 1]), abs(coef[m] - coef[m + 2]))
        e = Z * sigma * float(np.linalg.norm(rows[m])) + SAFETY * trunc
        if np.isfinite(e) and e < best[1]:
            best = (coef[m], e)
    return best


def one_sided_agree(t: np.ndarray, plus: np.ndarray, minus: np.ndarray, quantum: float) -> float:
    """The one-sided slopes ``phi'(0+)`` and ``phi'(0-)`` fitted (with an intercept) on ``t``
    and on ``-t``: 0 where they agree within their bounds, ``inf`` where they do not (a change
    of slope inside the width, which biases its odd fit by about half of their difference)."""
    powers = list(range(ONE_SIDED_MAX))
    q = quantum * np.sqrt(2.0)  # a value's noise, not the odd part's
    p, ep = poly_fit(t, plus, q, powers, ONE_SIDED_TERMS)
    m, em = poly_fit(-t, minus, q, powers, ONE_SIDED_TERMS)
    if not (np.isfinite(ep) and np.isfinite(em)):
        return np.inf
    return np.inf if abs(p - m) > ep + em else 0.0


def odd_fit(t: np.ndarray, o: np.ndarray, quantum: float) -> tuple[float, float]:
    """``(value, bound)`` of ``phi'(0)`` from the odd part ``o`` at ``t`` (module docstring);
    ``quantum`` the least noise of ``o`` (float32's round-off of f); ``(nan, inf)`` when no
    candidate is finite."""
    powers = [2 * i + 1 for i in range(FIT_MAX_TERMS)]
    return poly_fit(np.asarray(t, dtype=float), np.asarray(o, dtype=float), quantum, powers, FIT_TERMS, which=0)


def _value_at(cost: Callable, x: np.ndarray, j: int, value: float) -> float:
    """``cost(x)`` with ``x[j] = value`` (NaN where the cost is not finite); ``x[j]`` restored."""
    orig = x[j]
    x[j] = value
    try:
        return float(cost(x))
    except NonFiniteCostError:
        return np.nan
    finally:
        x[j] = orig


def fit_derivative(cost: Callable, x: np.ndarray, j: int, *, f0: float, eps: float,
                   points: int = FIT_POINTS, width: float | None = None, staged: bool = False) -> FitResult:
    """``df/dx_j`` of float32 code by least squares over ``2 FIT_POINTS`` steps up to
    ``FIT_WIDTH max(|x_j|, 1)`` (module docstring); ``x`` the flat work vector, restored
    after every call; ``eps`` the precision of the values (float32's); ``points`` the pairs
    (more of them halve the noise's share of the bound per factor 4); ``width`` the widest
    half-width (a second fit spends its points on the width the first found best).

    ``staged``: every other pair first (the same widths, half the density); where those
    values show a kink nearer x than ``KINK_NEAR`` of the narrowest width (no width of the whole
    fit could be fitted: relu code, where the kink-aware fit on the kink-free sides follows),
    only the other pairs of the inner ``1 / INNER_SHARE`` of the width are evaluated, to locate
    the kinks there at full density, and the fit returns the sides free of them."""
    orig = x[j]
    H = FIT_WIDTH * max(abs(float(orig)), 1.0) if width is None else float(width)
    # jittered, not a dyadic lattice: on t_i = H i / N the round-offs of f32(x + t_i) and of
    # its products follow the low bits of x linearly in i (a sawtooth, not noise)
    jitter = np.random.default_rng(j).random(points)
    t = H * (np.arange(points) + 0.25 + 0.5 * jitter) / points
    plus, minus = np.full(points, np.nan), np.full(points, np.nan)

    def evaluate(sel: np.ndarray) -> None:
        for i in sel:
            plus[i] = _value_at(cost, x, j, orig + t[i])
            minus[i] = _value_at(cost, x, j, orig - t[i])

    every = np.arange(points)
    if staged and points >= 64:
        evaluate(every[::2])
        half = _symmetric_values(t[::2], plus[::2], minus[::2], f0=f0, eps=eps, H=H, calls=points)
        narrowest = float(t[(points >> FIT_HALVINGS) - 1])
        if not np.isfinite(half.error) and half.kink_at < KINK_NEAR * narrowest and half.free is not None:
            # the kinks near x located at full density: the other pairs of the inner part
            inner = every[1::2][every[1::2] < points // INNER_SHARE]
            evaluate(inner)
            m = points // INNER_SHARE
            ti, pl, mi = t[:m], plus[:m], minus[:m]
            if np.all(np.isfinite(pl)) and np.all(np.isfinite(mi)):
                with np.errstate(all="ignore"):
                    F = float(max(np.max(np.abs(plus[::2])), np.max(np.abs(minus[::2])), abs(float(f0))))
                quantum = eps * F / (2 * np.sqrt(12.0)) / np.sqrt(2.0)
                u = np.concatenate([-ti[::-1], [0.0], ti])
                y = np.concatenate([mi[::-1], [float(f0)], pl])
                ai, bi = kink_free_sides(u, y, 2 * quantum)
                ext = float(ti[-1])
                # a side free of kinks: the inner sample's where it saw one, else the coarse
                # one's (not nearer than the inner extent, which the inner sample showed free)
                ah, bh = half.free
                free = (ai if ai < ext else max(ah, ext), bi if bi < ext else max(bh, ext))
                return FitResult(np.nan, np.inf, H, points + 2 * inner.size, free, half.kink_at)
            return FitResult(np.nan, np.inf, H, points + 2 * inner.size, half.free, half.kink_at)
        evaluate(every[1::2])
    else:
        evaluate(every)
    return _symmetric_values(t, plus, minus, f0=f0, eps=eps, H=H, calls=2 * points)


#: a kink the first half of a staged symmetric fit shows nearer than this fraction of its
#: narrowest width stops it (``KINK_MARGIN`` of it would be needed: the whole fit fits no width)...
KINK_NEAR = 1.0
#: ... and then completes the inner ``1 / INNER_SHARE`` of its width
INNER_SHARE = 2


def _symmetric_values(t: np.ndarray, plus: np.ndarray, minus: np.ndarray, *, f0: float, eps: float, H: float,
                      calls: int) -> FitResult:
    """The symmetric fit (``fit_derivative``) of the values ``plus``, ``minus`` of f at
    ``x +- t e_j`` (``t`` increasing)."""
    points = t.size
    if not np.all(np.isfinite(plus)) or not np.all(np.isfinite(minus)):
        return FitResult(np.nan, np.inf, H, calls)
    with np.errstate(all="ignore"):
        F = float(max(np.max(np.abs(plus)), np.max(np.abs(minus)), abs(float(f0))))
    # a quantum of float32's round-off of F: uniform over half an ulp of F (at least
    # eps F / 2) has a deviation of eps F / (2 sqrt 12); the odd part halves a difference
    quantum = eps * F / (2 * np.sqrt(12.0)) / np.sqrt(2.0)
    o = (plus - minus) / 2
    # the premise (phi smooth on the whole width) is checked, not assumed: a change of slope
    # that stands out of the round-off caps the width below it (a relu unit crossing 0)
    u = np.concatenate([-t[::-1], [0.0], t])
    y = np.concatenate([minus[::-1], [float(f0)], plus])
    d = kink_distance(u, y, 2 * quantum)
    kinked = np.isfinite(d)
    fits = []
    for k in range(FIT_HALVINGS + 1):
        n = points >> k
        if t[n - 1] > KINK_MARGIN * d:
            # narrower widths than these are not fitted: there the rounding of x + t to
            # float32 is no longer small against t (the fit proves nothing, as before it)
            continue
        # a staircase (neighbours a few quanta apart or less) is no noise: not evidence
        moves = np.abs(np.diff(np.concatenate([[0.0], o[:n]])))
        if not np.mean(moves) >= MOVE_QUANTA * eps * F:
            continue
        # the width's values hold no change of slope that least squares can resolve
        un = np.concatenate([-t[:n][::-1], [0.0], t[:n]])
        yn = np.concatenate([minus[:n][::-1], [float(f0)], plus[:n]])
        if not hinge_stat(un, yn, np.sqrt(2.0) * quantum) <= HINGE_Z:
            kinked = True
            continue
        v, e = odd_fit(t[:n], o[:n], quantum)
        # ... and a change of slope too small for that shows as one-sided slopes that differ
        e += one_sided_agree(t[:n], plus[:n], minus[:n], quantum) if np.isfinite(e) else 0.0
        if np.isfinite(e):
            fits.append((v, e, float(t[n - 1])))
    if not fits:
        free = kink_free_sides(u, y, 2 * quantum) if kinked else None
        return FitResult(np.nan, np.inf, H, calls, free, float(d))
    # from the narrowest width up: a wider fit stands only where it agrees with every
    # narrower one; a disagreement shows a feature of f narrower than its width, which
    # breaks its premise (f a polynomial there), while the narrower fits' stands
    accepted = []
    for v, e, w in reversed(fits):
        if all(abs(v - v2) <= e + e2 for v2, e2, _ in accepted):
            accepted.append((v, e, w))
    value, error, width = min(accepted, key=lambda r: r[1])
    # float32's own resolution of the slope: the points are rounded to float32 by the code
    # (the stencil's centre moves by up to half an ulp of x, its steps by an ulp)
    error += REL_FLOOR_ULPS * eps * abs(value)
    return FitResult(float(value), float(error), width, calls)


#: the kink-aware fit: powers of its polynomial (0 .. ASYM_POWERS - 1; the slope is the
#: coefficient of power 1), the orders whose bound is taken (as ``FIT_TERMS``), the least
#: points it keeps on each side of x, and how many kinks it may cut away
ASYM_POWERS = 9
ASYM_TERMS = (3, 4, 5, 6, 7)
ASYM_SIDE_MIN = 8
ASYM_TRIMS = 8
#: its bound's floor in ulps of the slope: float32 code's slope differs from its float64
#: formula's by more than its round-off averages out (measured up to 2.2e-5 relative, 190
#: ulps, on a relu layer, where the orders agreed to 1e-6): 3e-5, 6 % of the float32 tolerance
ASYM_FLOOR_ULPS = 256.0


def kink_aware_fit(cost: Callable, x: np.ndarray, j: int, *, f0: float, eps: float, a: float, b: float,
                   points: int = FIT_MORE_POINTS, enough: Callable[[FitResult], bool] | None = None) -> FitResult:
    """``df/dx_j`` of float32 code whose line through x has a kink too near x for the
    symmetric fit (a relu unit crossing 0): least squares over ``points`` steps spread on
    ``-a .. b`` (``points`` calls, half on each side, denser near x).

    The premise (f smooth on the interval kept) is checked on these values, as for the
    symmetric fit: a change of slope that stands out of the round-off (``kink_spans``), or a
    hinge least squares resolves (``hinge_scan``), cuts the interval at ``KINK_MARGIN`` of its
    distance on its side (at most ``ASYM_TRIMS`` times), and the values kept must show neither;
    a kink at x itself (the ``|u|`` hinge), one across 0, or fewer than ``ASYM_SIDE_MIN`` points
    left on a side (the ``|u|`` test needs both) proves nothing.  The slope is the coefficient
    of ``t`` in the polynomial fits of ``ASYM_TERMS`` terms of all powers, each with its bound
    (``poly_fit``: ``Z`` deviations of the noise, measured from the residuals, plus the
    disagreement of the next two orders); the odd fit's bound needs no more, since only its
    points' placement differs.

    Staged: where ``enough`` is given, every other point of the design is evaluated first
    (itself a jittered grid of ``points / 2`` steps on the same interval) and fitted; where
    ``enough`` accepts that fit (it settles the entry, or twice the points could not), the
    other half is never evaluated; else the fit of all ``points`` is the one above."""
    orig = x[j]
    # half the points on each side, denser near x (t = side s**1.5, s jittered on a uniform
    # grid): the cuts at kinks near x leave points on both sides, and the far ones carry the slope
    m = points // 2
    jitter = np.random.default_rng(j + 1).random(2 * m)
    s = (np.arange(m) + 0.25 + 0.5 * jitter.reshape(2, m)) / m
    t = np.concatenate([-a * s[0] ** 1.5, b * s[1] ** 1.5])
    vals = np.full(t.size, np.nan)

    def evaluate(sel: np.ndarray) -> None:
        for i in np.flatnonzero(sel):
            vals[i] = _value_at(cost, x, j, orig + t[i])

    live = t != 0.0
    if enough is not None and m >= 4 * ASYM_SIDE_MIN:
        first = live & (np.arange(t.size) % m % 2 == 0)  # every other s on each side
        evaluate(first)
        fit = _kink_aware_values(t[first], vals[first], f0=f0, eps=eps, a=a, b=b, calls=int(np.sum(first)))
        if enough(fit):
            return fit
        evaluate(live & ~first)
    else:
        evaluate(live)
    return _kink_aware_values(t[live], vals[live], f0=f0, eps=eps, a=a, b=b, calls=int(np.sum(live)))


def _kink_aware_values(t: np.ndarray, vals: np.ndarray, *, f0: float, eps: float, a: float, b: float,
                       calls: int) -> FitResult:
    """The kink-aware fit (``kink_aware_fit``) of the values ``vals`` of f at ``x + t e_j``."""
    fail = FitResult(np.nan, np.inf, max(a, b), calls)
    if not np.all(np.isfinite(vals)) or not np.isfinite(f0):
        return fail
    u = np.concatenate([t, [0.0]])
    y = np.concatenate([vals, [float(f0)]])
    order = np.argsort(u)
    u, y = u[order], y[order]
    with np.errstate(all="ignore"):
        F = float(np.max(np.abs(y)))
    q = eps * F / (2 * np.sqrt(12.0))  # a quantum of float32's round-off of a value
    lo, hi = -a, b
    for _ in range(ASYM_TRIMS + 1):
        keep = (u >= lo) & (u <= hi)
        uk, yk = u[keep], y[keep]
        if np.sum(uk < 0) < ASYM_SIDE_MIN or np.sum(uk > 0) < ASYM_SIDE_MIN:
            return fail
        # a staircase (neighbours a few quanta apart or less) is no noise: not evidence
        if not np.mean(np.abs(np.diff(yk))) >= MOVE_QUANTA * eps * F:
            return fail
        slo, shi = kink_spans(uk, yk, np.sqrt(2.0) * q)
        if slo.size:
            if np.any((slo <= 0) & (shi >= 0)):
                return fail
            near = np.where(shi < 0, shi, slo)
            where = float(near[np.argmin(np.abs(near))])
        else:
            stat, where = hinge_scan(uk, yk, q)
            if stat <= HINGE_Z:
                break
            if not where or not np.isfinite(where):
                return fail  # a kink at x itself
        if where > 0:
            hi = KINK_MARGIN * where
        else:
            lo = KINK_MARGIN * where
    else:
        return fail
    v, e = poly_fit(uk, yk, q, list(range(ASYM_POWERS)), ASYM_TERMS, which=1)
    if not np.isfinite(e):
        return fail
    e += ASYM_FLOOR_ULPS * eps * abs(v)
    return FitResult(float(v), float(e), float(max(-uk[0], uk[-1])), calls)


#: calls of the fits in one re-estimate: ``FIT_WORK / (entries of x)`` (a call of the code
#: costs about in proportion to x's size), within ``FIT_CALLS_MIN .. FIT_CALLS_MAX``:
#: counts, never seconds, so a loaded machine gives the same verdict
FIT_WORK = 2**24
FIT_CALLS_MIN = 16 * FIT_POINTS
FIT_CALLS_MAX = 2**17


def fit_budget(size: int) -> int:
    """Calls the fits of one re-estimate of an ``x`` of ``size`` entries may make."""
    return int(max(FIT_CALLS_MIN, min(FIT_CALLS_MAX, FIT_WORK // max(int(size), 1))))


def combine(value: float, error: float, fit: FitResult, crossed: bool = False) -> tuple[float, float]:
    """The estimate of least bound of the ladder's ``(value, error)`` and the fit's: both
    bounds must contain the truth, so the better one stands where they intersect; where
    they do not, their union is reported (one of them is unsound there), or the fit's where
    the ladder's steps ``crossed`` a kink the fit's values showed (the ladder's premise is
    the one broken: a relu unit crossing 0 within its stencil)."""
    if not (np.isfinite(fit.error) and np.isfinite(error)):
        # the ladder proved nothing (a kink crossed, a pole, a period inside its stencil):
        # the fit's long steps, which see the same features, only tighten evidence it has
        return value, error
    if abs(value - fit.value) > error + fit.error:
        if crossed:
            return fit.value, fit.error
        lo, hi = min(value - error, fit.value - fit.error), max(value + error, fit.value + fit.error)
        return (lo + hi) / 2, (hi - lo) / 2
    return (fit.value, fit.error) if fit.error < error else (value, error)
