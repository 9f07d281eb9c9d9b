"""Finite-difference estimates of a gradient, each with an estimate of its own error.

numpy only: this module knows nothing of sympy or of the terminal.

Methods (``Method``):

central
    ``D(h) = (f(x + h e_i) - f(x - h e_i)) / 2h``; truncation error ``c h**2`` with
    ``c = f'''/6``, round-off error about ``eps |f| / h``.
complex
    Complex step (Squire & Trapp 1998): ``Im f(x + i h e_i) / h`` with ``h = 1e-20
    max(|x_i|, 1)``; no subtraction, so exact to round-off for analytic ``f``.
richardson
    One Richardson extrapolation of central differences,
    ``R(h) = (16 D(h/4) - D(h)) / 15``, truncation ``O(h**4)``.

Step rule (central and richardson, when no step is given).  The best step balances
truncation against round-off and depends on the unknown third derivative, and a rule
such as ``h = eps**(1/3) max(|x|, 1)`` alone fails both for ``log(x)`` at ``x = 1e-3``
(the stencil nearly leaves the domain) and for ``exp(x)`` near ``x = 0`` if made purely
relative to ``|x|``.  So per point and component we evaluate two ladders of steps,
``h_j = 0.1 max(|x_i|, 1) 4**-j`` and ``h_j = 0.1 |x_i| 4**-j`` (``j < LADDER_RUNGS``;
the second one reaches ``log(x)`` at ``x = 1e-300``), all in one vectorised call of
``f``, and keep the step whose estimated total error is least.  The error of ``D(h_j)`` is estimated as

    truncation_j = max(16/15 |D(h_j) - D(h_j/4)|,  |D(h_{j-1}) - D(h_j)| / 15)
    roundoff_j   = max(ROUNDOFF_ULPS eps max(|f(x ± h_j e_i)|),  3 sigma) / h_j
    noise_j      = truncation_j + roundoff_j

and the error reported for the chosen step is ``SAFETY * noise_j`` (an estimate is only
an estimate; the factor keeps correct gradients from warning by bad luck).
(for ``D(h) - D(h/4) = 15/16 c h**2``; the second term guards against two estimates
agreeing by chance).  ``sigma`` is the noise of f measured near x (``measured_noise``):
it exceeds ``eps |f|`` when f cancels internally, e.g. ``log(1 + tiny)``.  Steps whose stencil leaves the domain (a non-finite value) are
never chosen.  This is the adaptive-step idea of Ridders (1982) and of ``numdifftools``,
reduced to one ladder.  With a fixed step ``H`` (``--eps``) the ladder is
``16H, 4H, H`` and ``H`` is used.

Safeguards (each answers a way the estimate used to lie):

* round-off is counted in the precision of the values ``f`` returns: ``eps`` is that of
  float32 when every value is a float32 number (``value_eps``), else float64's;
* a rung whose estimated error exceeds its own value is rejected (a stencil across a
  pole, or a step longer than the period of ``sin`` at ``x = 1e7``, gives estimates that
  change wildly from rung to rung); only when every rung is rejected is the least noisy
  one kept, and its error then says the estimate cannot decide;
* the noise is never exactly 0: round-off is at least ``ROUNDOFF_ULPS eps max|f| / h``
  with ``max|f|`` at least the smallest normal float (f may have underflowed to 0);
* Richardson is formed as ``D(h/4) + (D(h/4) - D(h)) / 15`` (no ``16 D`` that overflows
  next to ``f ~ 1e308``);
* the complex step is ``h = 1e-20 |x|`` (``1e-20`` at ``x = 0``, at least ``1e-310``) so
  that ``h << |x|`` also for tiny ``|x|``, and its ``O(h**2)`` term is measured from a
  second step ``2h``: ``D(2h) - D(h) = 3 c h**2``.

All noise figures are absolute errors of the derivative, in units of f per unit of x;
``verdict.assess`` reads them as the bound ``|n - t| <= e``.

One-sided derivatives decide kinks of black-box code (``blackbox.stencils.one_sided_kink``): with
``R(h) = (f(x+h) - f(x)) / h`` and ``L(h) = (f(x) - f(x-h)) / h`` the jump
``J(h) = R(h) - L(h)`` is ``f'' h + O(h**2)`` where f is twice differentiable, but
tends to ``f'(x+) - f'(x-) != 0`` at a kink, where each side is smooth on its own.
A C1 point such as ``x |x|`` at 0 has ``J(h) = 2h``: not a kink.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .choices import Method  # re-exported: the method enum belongs with the methods


EPS = float(np.finfo(float).eps)
EPS32 = float(np.finfo(np.float32).eps)
#: round-off of one evaluation of f, in units of eps |f| (a few operations' worth)
ROUNDOFF_ULPS = 4.0
#: ladder ratio between consecutive steps
RATIO = 4.0
#: default step of the fixed-step rule used for black-box functions and networks
REL_STEP = EPS ** (1 / 3)
COMPLEX_STEP = 1e-20
#: smallest complex step (a subnormal step is exact as a number: dividing by it is fine)
COMPLEX_MIN_STEP = 1e-310
#: grid for the measured noise of f: NOISE_POINTS values spaced NOISE_SPACING max(|x|, 1)
NOISE_POINTS = 10
NOISE_SPACING = 1e-7
#: estimated errors are multiplied by this before they are reported (they are estimates)
SAFETY = 2.0
NOISE_GAMMA4 = 576 / 40320
#: rungs per ladder (0.1 down to 0.1 * 4**-17 ~ 6e-12, relative)
LADDER_RUNGS = 18


@dataclass(frozen=True)
class Estimate:
    """Numeric derivatives with their estimated absolute error.

    ``value``, ``noise`` and ``step`` have the shape of the requested components
    (``(n_points, n_components)`` for ``estimate_gradient``); ``step`` is the stencil's
    half-width actually used (for complex step, the imaginary step).
    """

    value: np.ndarray
    noise: np.ndarray
    step: np.ndarray
    #: machine epsilon of the values f returned (float32's or float64's)
    eps: float = EPS
    #: per component: a genuine kink found by the one-sided test (black-box estimates)
    kink: np.ndarray | None = None
    #: per component: the |f| scale of the round-off (for ``zero_scale``)
    f_scale: np.ndarray | None = None
    #: per component: round-off of f at the shortest step, the smallest derivative a
    #: difference of this code can see (black-box estimates; ``evidence``)
    resolution: np.ndarray | None = None


#: the saturation window: an activation whose claim is not exactly 0 has its input within
#: ~ln(1 / eps) = 36 of 0 (float64's sigmoid is 1 exactly from 36.8, tanh from 19.1)
SATURATION = 36.0


def function_scale(f_scale, x, sigma: float = 0.0) -> np.ndarray:
    """The function's own scale per unit x, ``F = SATURATION max(|f|, sigma / eps) / max(|x|,
    1)`` (the zero rule's cap of its gradient scale per entry, ``entry_scale``): the size of
    what f sums is at least its value, and, where the terms cancel (``sum d_i sigmoid(x_i)``
    = 0.009 from terms of 7), the noise ``sigma`` measured along a random direction in
    float64 ulps (only where it is noise: ``blackbox.stencils.scale_noise``)."""
    with np.errstate(all="ignore"):
        size = np.maximum(np.abs(np.asarray(f_scale, dtype=float)), float(sigma) / EPS if np.isfinite(sigma) else 0.0)
        return SATURATION * size / np.maximum(np.abs(np.asarray(x, dtype=float)), 1.0)


def unit_roundoff(f_scale, x, eps: float = EPS) -> np.ndarray:
    """Round-off of f per unit x: ``ANALYTIC_ULPS eps |f| / max(|x|, 1)`` (``evidence``)."""
    return ANALYTIC_ULPS * eps * np.asarray(f_scale, dtype=float) / np.maximum(np.abs(np.asarray(x, dtype=float)), 1.0)


def default_step(x: np.ndarray) -> np.ndarray:
    """Fixed step ``h = eps**(1/3) max(|x|, 1)`` (optimal for ``|f'''| ~ |f|``)."""
    return REL_STEP * np.maximum(np.abs(np.asarray(x, dtype=float)), 1.0)


def value_eps(*values) -> float:
    """Machine epsilon of the values a function returned: float32's when they are
    float32 arrays, or when every finite value is exactly a float32 number (a function
    computing in float32 whose result was converted to a Python float); else float64's.

    Whole numbers are what float64 integer arithmetic gives too, so values that are all
    whole say nothing, unless one of them lies beyond ``2**24`` with more than
    ``ROUND_BITS`` significant bits: every float32 number there is whole, and float64
    arithmetic lands on a 24-bit significand by chance only (``exp(1)*1e10`` in float32).
    """
    finite = []
    for v in values:
        v = np.asarray(v)
        if v.dtype == np.float32 or v.dtype == np.complex64:
            return EPS32
        v = np.real(v).astype(float).ravel()
        finite.append(v[np.isfinite(v)])
    f = np.concatenate(finite) if finite else np.zeros(0)
    f = f[f != 0]
    if f.size == 0:
        return EPS
    with np.errstate(all="ignore"):
        single = f.astype(np.float32).astype(float) == f
    if not bool(np.all(single)):
        return EPS
    return EPS32 if not bool(np.all(f == np.round(f))) or bool(np.any(_float32_only(f))) else EPS


#: a whole number with at most this many significant bits is round (2**60, 1e8): float64 gives it too
ROUND_BITS = 20


def _float32_only(f: np.ndarray) -> np.ndarray:
    """Float32 numbers beyond ``2**24`` (whole there) that float64 arithmetic gives only by
    chance: more than ``ROUND_BITS`` significant bits."""
    mantissa, _ = np.frexp(np.abs(f))  # in [0.5, 1): m * 2**ROUND_BITS whole <=> at most ROUND_BITS bits
    return (np.abs(f) > 2.0**24) & (mantissa * 2.0**ROUND_BITS != np.round(mantissa * 2.0**ROUND_BITS))


def zero_scale(f_scale, x, eps: float = EPS) -> np.ndarray:
    """Round-off of a derivative at the function's own scale: ``ROUNDOFF_ULPS eps |f| /
    max(|x|, 1)`` (``verdict.assess``'s zero rule; independent of the tolerances)."""
    with np.errstate(all="ignore"):
        return ROUNDOFF_ULPS * eps * np.abs(np.asarray(f_scale, dtype=float)) / np.maximum(np.abs(np.asarray(x, dtype=float)), 1.0)


#: round-off of an analytic value computed in the code's own precision, in ulps of it
ANALYTIC_ULPS = 8.0


#: the analytic value of float32 code is taken as precise to this many of its ulps
FLOAT32_ANALYTIC_ULPS = 32.0


def evidence(analytic, numeric, noise, eps: float = EPS, resolution=None,
             unit_roundoff=None, scale: float = 0.0, size=None) -> tuple[np.ndarray, np.ndarray]:
    """``(error, zero_scale)`` for ``verdict.assess`` from a black-box estimate.

    ``error`` adds to the estimate's error the round-off of the analytic value computed
    in the same precision as f (``ANALYTIC_ULPS eps |a|``; float32 code: ``FLOAT32_ANALYTIC_ULPS eps
    |a|``, its accumulated sums drift beyond a few ulps).
    The zero rule is for claims that are exactly 0: it fires when, in addition, the
    estimate is exactly 0 (``f(x + h) == f(x - h)``: a dead relu unit, a variable that
    does not appear, a symmetric point; ``zero_scale = inf``) or when the whole interval
    ``n ± e`` lies within ``resolution``, the round-off of f at the shortest step (what
    no finite difference of this code can see; ``Estimate.resolution``).  No tolerance
    enters it.  A non-zero claim is zero to round-off only within ``unit_roundoff``, the
    round-off of f per unit x (``ANALYTIC_ULPS eps |f| / max(|x|, 1)``, ``zero_scale``;
    the bias before a batchnorm, whose true gradient is 0, computed as 1e-17): the claim
    and the whole interval ``n ± e`` must lie within it, which float64 differences
    cannot show but extended precision can.

    The round-off of the gradient's own scale: where the estimate is not exactly 0,
    ``zero_scale`` is at least ``SCALE_ULPS eps G``, ``G = gradient_scale(a, n, noise)``
    over the entries given (one block; a part of it gets no larger ``G``, so it never
    passes more), and ``verdict.assess`` also passes a claim that agrees with the whole
    interval ``n ± e`` to within ``zero_scale`` (a saturated sigmoid's ``dout s (1 - s)``,
    exact only to ~``4 eps G`` or more).  ``scale``: a lower bound of the block's ``|t|``
    proved by evidence outside these entries (the entries a search verified,
    ``outcome.proved_scale``); ``G`` is the larger of the two.  Per entry the scale is
    ``G_j = min(G, F_j)`` (``entry_scale``), ``F_j`` the function's own scale per unit ``x_j``
    (``function_scale``) where the caller knows it (``size``; else from ``unit_roundoff``):
    one entry of 1e9 lends no scale to entries of a function of size 21 (a log-barrier).
    An estimate that is exactly 0 (a flat stencil) says only
    that f did not change, which its own ``noise`` need not bound (sigmoid at 36.2).
    """
    a = np.asarray(analytic, dtype=float)
    n = np.asarray(numeric, dtype=float)
    with np.errstate(all="ignore"):
        # float32 code accumulates its gradient in float32: sums of many terms drift by
        # more than a few ulps, so its precision is taken as FLOAT32_ANALYTIC_ULPS ulps
        # (4e-6: correct float32 hand gradients of the audit are within 3e-6 of the truth;
        # the float32 default pass tolerance, 5e-4, leaves the rest to the estimate)
        rel = ANALYTIC_ULPS * eps if eps <= EPS else max(ANALYTIC_ULPS * eps, FLOAT32_ANALYTIC_ULPS * eps)
        error = np.asarray(noise, dtype=float) + rel * np.abs(a)
    exact_zero = (a == 0) & (n == 0)
    zs = np.where(exact_zero, np.inf, 0.0)
    if resolution is not None:
        zs = np.where((a == 0) & ~exact_zero, np.asarray(resolution, dtype=float), zs)
    # the function's own scale per unit x_j (``function_scale``), where known: given
    # (``size``), else from the round-off of f per unit x_j of a re-estimate
    F = None if unit_roundoff is None else SATURATION * np.asarray(unit_roundoff, dtype=float) / (ANALYTIC_ULPS * eps)
    if size is not None:
        given = np.broadcast_to(np.asarray(size, dtype=float), a.shape)
        F = given if F is None else np.where(np.isfinite(given), given, F)
    if unit_roundoff is not None:
        u = np.asarray(unit_roundoff, dtype=float)
        if eps > EPS:
            # float32 code: only a claim that is itself within round-off of f per unit x
            # (as above); a float32 entry the many-step fit resolves (``blackbox.lowprec``)
            # is judged by its tolerance, not forgiven a 1e-3 bug for being small next to f
            u = np.where(np.abs(a) <= u, u, 0.0)
        zs = np.where(np.isfinite(u) & (u > zs), u, zs)
    # float64's eps even for float32 code: 64 float32 ulps of G would forgive a 1e-3 bug on
    # an entry at 1% of its block
    G = max(gradient_scale(a, n, noise), float(scale) if np.isfinite(scale) else 0.0)
    zs = np.where(n != 0, np.maximum(zs, SCALE_ULPS * min(eps, EPS) * entry_scale(G, F)), zs)
    return error, zs


def entry_scale(G: float, F=None) -> np.ndarray | float:
    """The zero rule's scale per entry, ``G_j = min(G, F_j)`` (``evidence``): the block's
    gradient scale ``G``, capped where known by the function's own scale per unit ``x_j``,
    ``F_j = SATURATION max(|f|, sigma / eps) / max(|x_j|, 1)`` (``function_scale``; NaN: not
    known, no cap).

    Why a cap.  The zero rule forgives ``SCALE_ULPS eps G_j``: the round-off of a hand
    formula whose intermediates are far larger than its value.  ``G`` (the block's largest
    proved entry) stands for those intermediates, the upstream gradient ``D`` of a
    saturated unit, which an unsaturated entry of the block shows (``>= D / 4``).  But one
    entry may be large for a reason of its own: ``-sum log s_i`` at one slack of 1e-9 has
    ``G = 1e9`` while its other entries, ``-1 / s_i ~ 1.3``, are computed with no
    cancellation at all; ``64 eps G = 1.4e-5`` then forgave a 1e-5 bug on each of them.

    The cap.  A saturated entry's formula multiplies ``D`` by a factor that is ``1 - s``
    to one ulp (sigmoid ``s (1 - s)``, tanh ``1 - t t``, softmax ``p - y`` at ``p -> 1``),
    and f holds the same unit as the term ``D s`` with ``|s| -> 1``: ``D`` is at most the
    size of f's terms, ``max(|f|, sigma / eps)`` (its value, or its measured noise in ulps
    where the terms cancel).  Per unit ``x_j`` the chain adds ``|d pre / d x_j| = |w|`` for
    ``pre = w x_j``, and ``|pre| <= SATURATION`` (past it ``s`` is ``±1`` exactly and the
    claim exactly 0, the exact-zero rule): ``|w| <= SATURATION / |x_j|``.  So the entry's
    round-off is a few ``eps D |w| <= eps F_j``; measured, at most ``0.25 eps F_j`` over the
    saturated layers of the tests and every correct case of the user-code audit, 256 times
    below ``SCALE_ULPS eps F_j``.  The log-barrier's ``F_j = 36 * 21``: ``64 eps F_j =
    1e-11``, a bug of 1e-5 there is judged by the tolerance.  ``G_j <= G``: never more
    forgiving than the block's scale.  Where f's terms cancel beyond what its noise shows
    the cap can be too tight: a saturated entry then reads warn or unresolved, never a
    wrong pass."""
    if F is None:
        return G
    F = np.asarray(F, dtype=float)
    with np.errstate(all="ignore"):
        return np.where(np.isfinite(F) & (F >= 0), np.minimum(G, F), G)


#: the zero rule's floor in ulps of the gradient's own scale ``G`` (``gradient_scale``).
#: A hand formula for a saturated entry is exact to round-off of the upstream gradient,
#: not of the entry: sigmoid's ``dout s (1 - s)`` at ``s -> 1`` holds ``1 - s`` to 1 ulp of
#: 1, an absolute error ~``eps |dout|``, tanh's ``dout (1 - t t)`` ~``eps |dout|``, a
#: softmax loss's ``p - y`` at ``p -> 1`` ~``eps``.  Where some input of the block is not
#: saturated ``G >= |dout| / 4``: ~``4 eps G``.  Where every input is saturated ``G`` falls
#: below ``|dout|`` (tanh at 30 N(0,1), 30 entries: G = 0.036, the error 26 eps G), so 64
#: leaves a factor 16 for that.  A bug is off by far more: a wrong entry passes by it only
#: when its error is below ``64 eps`` (1.4e-14) of the block's scale, where the largest
#: entry is allowed ``pass_tol`` (1e-7) of it; per entry the scale is capped by the
#: function's own (``entry_scale``: one entry of 1e9 forgives nothing on entries of 1.3).
SCALE_ULPS = 64.0


def gradient_scale(analytic, numeric, noise) -> float:
    """``G = min(max|a|, max(|n| - e))`` over the entries estimated directly (finite ``a``,
    ``n``, ``e``): the block's gradient scale that a bug cannot inflate.  ``max(|n| - e)``
    is a proved lower bound of ``max|t|`` (noise cannot raise it) and ``max|a|`` caps it
    (a claim scaled down with the whole block lowers ``G`` with it; a bug that blows up one
    entry does not raise ``G`` past the truth, and fails on that entry anyway).  0 when
    nothing was estimated, so ``G`` of a subset never exceeds ``G`` of its block."""
    a = np.abs(np.asarray(analytic, dtype=float)).ravel()
    n = np.abs(np.asarray(numeric, dtype=float)).ravel()
    e = np.abs(np.asarray(noise, dtype=float)).ravel()
    with np.errstate(all="ignore"):
        ok = np.isfinite(a) & np.isfinite(n) & np.isfinite(e)
        if not np.any(ok):
            return 0.0
        return float(max(0.0, min(np.max(a[ok]), np.max(n[ok] - e[ok]))))


#: the measured round-off is trusted down to the a-priori bound divided by this: for
#: structured differences whose identical rounding cancels (``network.differences``)
ROUNDOFF_DISCOUNT = 1e4
#: ... and for a black box's three rungs (two rung differences must agree by chance)
BLACKBOX_DISCOUNT = 8.0


def measured_roundoff(observed, model, capped: bool = True, discount: float = ROUNDOFF_DISCOUNT) -> np.ndarray:
    """Round-off of a difference quotient: what the rungs show, within the a-priori bound.

    ``model`` is ``ROUNDOFF_ULPS eps max|f| / h``, a worst case: in ``f(x+h) - f(x-h)``
    every term the step does not touch is rounded the same way twice and cancels (a
    network's cost summed over samples: the model is 1000 times too large).  The
    difference between rungs (``observed``) contains the round-off that does not cancel,
    so the estimate is ``observed`` clipped to ``[model / discount, model]`` (never far
    below the worst case: rungs can agree by chance; a black box's full recomputation has
    honest round-off near the model, so it gets ``BLACKBOX_DISCOUNT``).  With
    ``capped=False`` the observed value may exceed the model: when the rungs differ by
    round-off only, f cancels internally (``cos(x) - 1`` near 0: its intermediates are
    far larger than f, which the model cannot see).
    """
    model = np.asarray(model, dtype=float)
    with np.errstate(all="ignore"):
        low = np.maximum(np.asarray(observed, dtype=float), model / discount)
        return np.minimum(low, model) if capped else low


def roundoff(f_values: Sequence[np.ndarray], h: np.ndarray, eps: float = EPS) -> np.ndarray:
    """Round-off error of a central difference with half-width ``h``: ``ROUNDOFF_ULPS eps
    max|f| / h``, never 0 (a function that is 0 on the stencil may have underflowed:
    ``max|f|`` is at least the smallest normal float)."""
    scale = np.full(np.shape(h), np.finfo(float).tiny)
    for v in f_values:
        scale = np.maximum(scale, np.abs(v))
    return ROUNDOFF_ULPS * eps * scale / h


def central_from_values(f_plus, f_minus, f_plus4, f_minus4, h, f_scale=None, eps: float | None = None,
                        measured: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Central difference at ``h`` and its error, from values at ``x ± h`` and ``x ± 4h``.

    Returns ``(D(h), noise)`` with ``noise = SAFETY (|D(4h) - D(h)| / 15 + roundoff)``,
    the fixed-step form of the rule in the module docstring.  ``measured=True`` (for
    differences whose identical rounding cancels, as ``network.differences``') replaces the
    a-priori round-off by ``measured_roundoff(|D(4h) - D(h)|, ROUNDOFF_ULPS eps max|f| / h)``.  ``f_scale`` (e.g. the sum of
    absolute per-sample costs) replaces ``|f|`` in the round-off term when larger.
    ``eps`` is the precision of the values (default: ``value_eps`` of them).
    Non-finite inputs give ``nan`` value and ``inf`` noise.
    """
    h = np.asarray(h, dtype=float)
    if eps is None:
        eps = value_eps(f_plus, f_minus, f_plus4, f_minus4)
    with np.errstate(all="ignore"):
        f_plus, f_minus, f_plus4, f_minus4 = (np.asarray(v, dtype=float) for v in (f_plus, f_minus, f_plus4, f_minus4))
        d1 = (f_plus - f_minus) / (2 * h)
        d4 = (f_plus4 - f_minus4) / (8 * h)
        values = [f_plus, f_minus, f_plus4, f_minus4]
        if f_scale is not None:
            values.append(np.broadcast_to(f_scale, np.shape(h)))
        ro = roundoff(values, h, eps)
        if measured:  # structured differences only (see measured_roundoff)
            ro = measured_roundoff(np.abs(d4 - d1), ro)
        noise = np.abs(d4 - d1) / 15 + ro
    bad = ~(np.isfinite(d1) & np.isfinite(noise))
    return np.where(bad, np.nan, d1), np.where(bad, np.inf, SAFETY * noise)


def estimate_gradient(
    f: Callable[[np.ndarray], np.ndarray],
    points: np.ndarray,
    method: Method = Method.CENTRAL,
    step: float | None = None,
) -> Estimate:
    """Every partial derivative of ``f`` at every point, in one vectorised call of ``f``.

    ``f`` maps an array of shape ``(n, K)`` (column k is a point) to shape ``(K,)``;
    for ``Method.COMPLEX`` it must accept complex input.  ``points`` has shape
    ``(P, n)``.  ``step`` fixes the (absolute) step instead of the adaptive rule.
    Components whose every stencil is non-finite get ``value = nan``.
    """
    points = np.atleast_2d(np.asarray(points, dtype=float))
    method = validate_step(method, step)
    if method is Method.COMPLEX:
        return _complex_step(f, points, step)
    return _ladder(f, points, method, step)


def _evaluate(f, columns: np.ndarray, dtype=float) -> np.ndarray:
    with np.errstate(all="ignore"):
        out = np.asarray(f(columns), dtype=dtype)
    return np.broadcast_to(out, columns.shape[1:]).copy()


def _ladder_steps(points: np.ndarray, step: float | None) -> np.ndarray:
    """Steps of shape (P, n, L, J): L ladders of J rungs (ratio 4), or ``16H, 4H, H``."""
    if step is not None:
        return np.broadcast_to(step * RATIO ** -np.arange(-2.0, 1.0), points.shape + (1, 3)).copy()
    ax = np.abs(points)
    tops = np.stack([0.1 * np.maximum(ax, 1.0), 0.1 * np.where(ax > 0, np.minimum(ax, 1.0), 1.0)], axis=-1)
    return tops[..., None] * RATIO ** -np.arange(float(LADDER_RUNGS))


def _shifted(points: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Columns ``x_p + offsets[p, i, k] e_i`` as an array of shape (n, P*n*K)."""
    P, n = points.shape
    K = offsets.shape[-1]
    base = np.broadcast_to(points[:, None, None, :], (P, n, K, n))
    shift = offsets[..., None] * np.eye(n)[None, :, None, :]
    return (base + shift).reshape(-1, n).T


def measured_noise(table: np.ndarray) -> np.ndarray:
    """Noise level of f from values on a fine equispaced grid (last axis), ECnoise-style.

    ``sigma**2 = gamma_4 mean((Delta^4 f)**2)`` with ``gamma_4 = (4!)**2 / 8!``: the fourth
    differences of a smooth f at spacing ~1e-7 |x| are round-off (Moré & Wild,
    "Estimating computational noise", SIAM J. Sci. Comput. 2011).  Non-finite -> 0.
    """
    table = np.asarray(table)
    if table.shape[-1] < 5:  # no fourth difference
        return np.zeros(table.shape[:-1])
    with np.errstate(all="ignore"):
        # the differences in the values' own precision (a longdouble table's too)
        d4 = np.asarray(np.diff(table, n=4, axis=-1), dtype=float)
        sigma = np.sqrt(NOISE_GAMMA4 * np.mean(d4 * d4, axis=-1))
    return np.where(np.isfinite(sigma), sigma, 0.0)


def _ladder(f, points: np.ndarray, method: Method, step: float | None) -> Estimate:
    P, n = points.shape
    h = _ladder_steps(points, step)  # (P, n, L, J)
    L, J = h.shape[-2:]
    # noise grid: x_i + k delta, k = 0..NOISE_POINTS-1, delta = 1e-7 |x_i| (1e-7 at 0)
    delta = NOISE_SPACING * np.where(points != 0, np.abs(points), 1.0)
    grid = delta[..., None] * np.arange(NOISE_POINTS)
    hh = h.reshape(P, n, L * J)
    cols = np.concatenate([_shifted(points, hh), _shifted(points, -hh), _shifted(points, grid)], axis=1)
    vals = _evaluate(f, cols)
    eps = value_eps(vals)
    m = P * n * L * J
    f_plus, f_minus = vals[:m].reshape(P, n, L, J), vals[m : 2 * m].reshape(P, n, L, J)
    table = vals[2 * m :].reshape(P, n, NOISE_POINTS)
    sigma = measured_noise(table)
    f0 = np.abs(table[..., 0])
    with np.errstate(all="ignore"):
        d = (f_plus - f_minus) / (2 * h)
        r = np.maximum(roundoff([f_plus, f_minus, f0[..., None, None]], h, eps), 3 * sigma[..., None, None] / h)
        d[~np.isfinite(d)] = np.nan
        diff = np.abs(d[..., :-1] - d[..., 1:])  # |D_j - D_{j+1}|, (P, n, J-1)
        if method is Method.CENTRAL:
            value = d
            err = np.full(d.shape, np.nan)
            err[..., :-1] = 16 / 15 * diff
            err[..., 1:] = np.fmax(err[..., 1:], diff / 15)
            noise = err + r
        else:
            # R_j = D_{j+1} + (D_{j+1} - D_j) / 15: no 16 D that overflows near f ~ 1e308
            value = np.full(d.shape, np.nan)
            value[..., :-1] = d[..., 1:] + (d[..., 1:] - d[..., :-1]) / (RATIO**2 - 1)
            rr = np.full(d.shape, np.nan)
            rr[..., :-1] = r[..., 1:] * (RATIO**2 / (RATIO**2 - 1)) + r[..., :-1] / (RATIO**2 - 1)
            rdiff = np.abs(value[..., :-1] - value[..., 1:])
            err = np.full(d.shape, np.nan)
            err[..., :-1] = rdiff
            err[..., 1:] = np.fmax(err[..., 1:], rdiff / RATIO**4)
            noise = err + rr
    # a rung where f(x + h) == f(x - h) exactly while a longer rung saw f change has lost
    # the function's resolution (log(1 + x) at 1e-16: f is 0 at every short step)
    flat_rung = (f_plus == f_minus) & (d == 0)
    changed = np.any(~flat_rung & np.isfinite(d), axis=(-2, -1), keepdims=True)
    blind = flat_rung & changed
    usable = np.isfinite(noise) & np.isfinite(value) & ~blind
    if step is not None:  # fixed step: use H, the last rung (first extrapolation for richardson)
        pick = np.full((P, n, L), J - 1 if method is Method.CENTRAL else J - 2)
    else:
        # a rung whose error exceeds its own value (across a pole, a step longer than a
        # period) is rejected; when every rung is, the least noisy one is kept and its
        # error says the estimate cannot decide
        sane = usable & (noise < np.abs(value))
        score = np.where(sane, noise, np.inf)
        fallback = np.where(usable, noise, np.inf)
        any_sane = np.any(sane, axis=-1, keepdims=True)
        pick = np.argmin(np.where(any_sane, score, fallback), axis=-1)
    take = lambda a: np.take_along_axis(a, pick[..., None], axis=-1)[..., 0]  # noqa: E731
    value, noise, used = take(value), SAFETY * take(noise), take(h)  # (P, n, L)
    noise = np.where(np.isfinite(value) & np.isfinite(noise) & np.any(usable, axis=-1), noise, np.inf)
    best = np.argmin(noise, axis=-1)[..., None]
    pick1 = lambda a: np.take_along_axis(a, best, axis=-1)[..., 0]  # noqa: E731
    v, e, hs = pick1(value), pick1(noise), pick1(used)
    if L > 1:
        # both ladders estimate the same number: when they disagree beyond their errors
        # one of them lies (round-off of an intermediate the values do not show, as in
        # exp(x) - 1 - x at 1e-10), so the error must cover the other one too
        with np.errstate(all="ignore"):
            spread = np.max(np.where(np.isfinite(value), np.abs(value - v[..., None]) + noise, 0.0), axis=-1)
        e = np.maximum(e, np.where(np.isfinite(spread), spread, e))
    bad = ~np.isfinite(v)
    e = np.where(bad | ~np.isfinite(e), np.inf, e)
    return Estimate(value=v, noise=e, step=hs, eps=eps, f_scale=f0)


def _complex_step(f, points: np.ndarray, step: float | None) -> Estimate:
    P, n = points.shape
    ax = np.abs(points)
    if step is not None:
        h = np.full((P, n), float(step))
    else:
        h = np.maximum(COMPLEX_STEP * np.where(ax > 0, ax, 1.0), COMPLEX_MIN_STEP)
    eye = np.eye(n)[None]
    base = np.broadcast_to(points[:, None, :], (P, n, n)).astype(complex)
    cols = [base + 1j * (k * h)[..., None] * eye for k in (1.0, 2.0)]
    all_cols = np.concatenate([c.reshape(-1, n) for c in cols] + [points.astype(complex)]).T
    vals = _evaluate(f, all_cols, dtype=complex)
    eps = value_eps(vals.real)
    f0 = vals[2 * P * n :].real  # (P,)
    with np.errstate(all="ignore"):
        value = vals[: P * n].reshape(P, n).imag / h
        value2 = vals[P * n : 2 * P * n].reshape(P, n).imag / (2 * h)
        # the O(h**2) term: D(2h) - D(h) = 3 c h**2
        trunc = np.abs(value2 - value) / 3
        # cancellation (inside f, or in evaluating the analytic formula, e.g. 1 - tanh**2
        # near saturation) leaves ~eps of the terms' size; |f| / max(|x|, 1) stands in for it
        f_size = np.maximum(np.abs(f0), np.finfo(float).tiny)[:, None]
        noise = 8 * eps * np.abs(value) + 64 * eps * f_size / np.maximum(ax, 1.0) + SAFETY * trunc
    bad = ~(np.isfinite(value) & np.isfinite(f0)[:, None] & np.isfinite(noise))
    return Estimate(
        value=np.where(bad, np.nan, value), noise=np.where(bad, np.inf, noise), step=h, eps=eps,
        f_scale=np.broadcast_to(np.abs(f0)[:, None], (P, n)).copy(),
    )


def validate_step(method: Method | str, step: float | None) -> Method:
    """The method as a ``Method`` and a user step (``--eps``) that is a positive number;
    OptionError otherwise.  Every entry point (library and CLI) goes through here."""
    from .errors import OptionError

    try:
        method = Method(method)
    except ValueError:
        raise OptionError(f"--method must be one of central, complex, richardson, got {method!r}") from None
    if step is not None and not (isinstance(step, (int, float, np.integer, np.floating))
                                 and np.isfinite(step) and step > 0):
        raise OptionError(f"--eps must be a positive number, got {step!r}")
    return method
