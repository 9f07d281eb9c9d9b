"""The stencils of the black-box check: the one noise probe, the direct-entry estimates and
the one-sided kink tests.  numpy only; every function takes callables and flat arrays.

Noise probe (``noise_probe``).  ECnoise-style: f at ``x + t delta u``, ``t = 0 ..
PROBE_POINTS - 1``, ``u`` random +-1 and ``delta = NOISE_SPACING max(|x|_inf, 1)``; the
fourth differences of a smooth f on so fine a grid are its evaluation noise
(``fitted_noise``: float32 arithmetic or noisy internals that the dtype's eps would not
show), read as the residuals of the least-squares cubic through the values, which
understates the noise less often from 9 values than the mean square of the fourth
differences (``finite_diff.measured_noise``) does from 10.

Direct-entry estimates, two engines on the same footing (one entry, one axis):

* ``blackbox_gradient``: a first look of six calls per entry at ``+-4h, +-h, +-h/4``
  (three rungs, ``central_three_rungs``), upgraded where it does not verify by the
  stencil ladder (``ladder``: orders 2, 4, 6 on steps that follow ``|x|``, a bound from
  their agreement, the shrinking one-sided kink test, precision lifting); the
  re-estimate of every entry that does not pass (``pipeline``).
* ``four_point_entries``: four calls per entry at ``+-h, +-4h`` (``finite_diff.
  central_from_values``) through a caller's ``shifted(k, d)``, which may return
  differences ``L(x + d e_k) - L(x)`` summed term by term (a layer sums output by output,
  so the round-off is that of the terms entry k reaches); with the one-sided slopes for
  ``jump_kink``.  Completing a two-call first look (``two_point_entries``, its ``f(x +- h
  e_k)`` kept in ``Entries.values``) takes the 4h pair alone: 2 calls.

Kink tests: ``crosses_kink`` (the three-rung stencil crosses a kink near the point: its
even part grows as the step shrinks), ``one_sided_kink`` (the three-rung engine's: each
side smooth, the jump stays) and ``jump_kink`` (the four-point engine's: the jump of the one-sided slopes
beyond the ``L'' h`` that the 4h values predict, and the claim between them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable, Sequence

import numpy as np

from ..choices import Method
from ..errors import NonFiniteCostError
from ..finite_diff import (EPS, NOISE_SPACING, ROUNDOFF_ULPS, SAFETY, Estimate,
                           central_from_values, default_step, measured_roundoff, roundoff, validate_step, value_eps)
from ..verdict import Thresholds

#: a first look's round-off (``central_three_rungs``) is trusted down to the a-priori
#: ``ROUNDOFF_ULPS eps max|f| / h`` over this, one ulp of max|f| per value: its rung
#: differences are one sample of the noise, on the ulp grid of f, and two rungs agree
#: exactly by chance (D(h) == D(h/4) at about one entry in twenty of a batchnorm layer,
#: whose full recomputation is off by 1.1 ulps of f, rms); half an ulp
#: (``finite_diff.BLACKBOX_DISCOUNT``, 8) then left D(h)'s bound below its error
FIRST_LOOK_DISCOUNT = 4.0

#: ratio of the second ladder's first step to the first's after a first look across a kink
#: (irrational-ish: the two grids share no step)
CROSS_GRID = 0.7071

#: a jump of the one-sided slopes must exceed this many ulps of the terms' scale / h to be a kink
KINK_ULPS = 64.0
#: ... and this many times the measured noise of f (a float32 layer is noisier than its ulps)
KINK_SIGMAS = 16.0


#: values of the noise probe (``noise_probe``): ``f(x)`` and ``PROBE_POINTS - 1`` calls
PROBE_POINTS = 9


def noise_probe(cost: Callable[[np.ndarray], float], x: np.ndarray, u: np.ndarray, f0: float | None = None) -> float:
    """The noise ``sigma`` of ``cost`` near the flat ``x`` along the +-1 direction ``u``:
    ``fitted_noise`` of ``cost(x + t delta u)``, ``t = 0 .. PROBE_POINTS - 1``, ``delta =
    NOISE_SPACING max(|x|_inf, 1)``; ``f0`` stands for ``cost(x)`` when given (one call fewer)."""
    return fitted_noise(probe_table(cost, x, u, f0))


def probe_table(cost: Callable[[np.ndarray], float], x: np.ndarray, u: np.ndarray,
                f0: float | None = None) -> np.ndarray:
    """The values of ``noise_probe``: ``cost(x + t delta u)``, ``t = 0 .. PROBE_POINTS - 1``
    (also what tells the precision of the values: ``finite_diff.value_eps``)."""
    x = np.asarray(x, dtype=float)
    delta = NOISE_SPACING * max(float(np.max(np.abs(x), initial=0.0)), 1.0)
    table = [float(cost(x)) if f0 is None else float(f0)]
    for t in range(1, PROBE_POINTS):
        table.append(float(cost(x + t * delta * u)))
    return np.array(table)


def fitted_noise(table: np.ndarray) -> float:
    """Noise ``sigma`` of f from its values on a fine equispaced grid: the residuals of
    their least-squares cubic, ``sigma**2 = RSS / (n - 4)`` (0 when a value is not finite).

    The residuals live in the span of the ``n - 4`` fourth differences ``d = D t`` (both
    annihilate cubics: the smooth part of f at a spacing of 1e-7 |x|), and ``RSS = d'
    (D D')^-1 d``: computed from differences of neighbouring values, exact where they are
    close, as ECnoise's ``sigma**2 = mean(d**2) / 70`` (``finite_diff.measured_noise``) is.
    Both are unbiased for independent noise; this one weighs the ``n - 4`` directions
    evenly (``RSS / sigma**2`` is chi-squared with ``n - 4`` degrees of freedom, the most a
    quadratic form on them has), so 9 values understate ``sigma`` less often than ECnoise's
    10 do (independent Gaussian noise: ``P(sigma_hat < sigma / 2)`` 6% against 14%, the
    1e-2, 1e-3 and 1e-4 quantiles 0.33, 0.20 and 0.13 ``sigma`` against 0.24, 0.14 and
    0.087; 8 values: 9%, 0.27, 0.15, 0.091).
    """
    t = np.asarray(table, dtype=float)
    if t.size < 5 or not np.all(np.isfinite(t)):
        return 0.0
    D = np.diff(np.eye(t.size), n=4, axis=0)
    with np.errstate(all="ignore"):
        d = np.diff(t, n=4)
        rss = float(d @ np.linalg.solve(D @ D.T, d))
    return math.sqrt(rss / (t.size - 4)) if math.isfinite(rss) and rss > 0 else 0.0


def scale_noise(table: np.ndarray) -> float:
    """The probe's noise as the zero rule's cap may use it (``finite_diff.function_scale``):
    ``fitted_noise`` of the table, or 0 when its ``n - 4`` fourth differences all share one
    sign.  Noise alternates them (neighbours correlate at -56/70: independent Gaussian noise
    gives one sign to all five of 9 values with probability 4e-5), while a smooth f
    unresolved at the probe's spacing gives them the sign of its ``f''''`` (``-log`` at a
    slack of 1e-9 that the probe moves by up to 8e-7: ``sigma = 0.64``, ``sigma / eps =
    3e15``, which lifted the cap over any bug).  Such a sigma is no noise of f's terms;
    the directions' round-off keeps it (overstated there is merely conservative)."""
    sigma = fitted_noise(table)
    with np.errstate(all="ignore"):
        d = np.diff(np.asarray(table, dtype=float), n=4)
    if sigma > 0 and d.size and (np.all(d > 0) or np.all(d < 0)):
        return 0.0
    return sigma


def one_sided_kink(f0, f_plus, f_minus, f_plus4, f_minus4, h, eps: float = EPS) -> np.ndarray:
    """Whether the one-sided derivatives at ``x`` really differ (a kink), elementwise.

    ``R(h) = (f(x+h) - f(x)) / h`` and ``L(h) = (f(x) - f(x-h)) / h``.  At a kink each
    side is smooth, so ``R(4h) ~ R(h)`` and ``L(4h) ~ L(h)``, while the jump
    ``J(h) = R(h) - L(h)`` tends to ``f'(x+) - f'(x-) != 0``.  Kink iff the jump exceeds
    the round-off ``8 eps max|f| / h`` and each side moves by less than a quarter of the
    jump between ``h`` and ``4h``.  A twice differentiable point has ``J(h) = f'' h``
    with ``R`` and ``L`` moving by ``1.5 f'' h`` each; a C1 point such as ``x |x|`` at 0
    likewise; a pole or a period inside the stencil moves both sides wildly.
    """
    h = np.asarray(h, dtype=float)
    with np.errstate(all="ignore"):
        f0, fp, fm, fp4, fm4 = (np.asarray(v, dtype=float) for v in (f0, f_plus, f_minus, f_plus4, f_minus4))
        r1, l1 = (fp - f0) / h, (f0 - fm) / h
        r4, l4 = (fp4 - f0) / (4 * h), (f0 - fm4) / (4 * h)
        jump = np.abs(r1 - l1)
        scale = np.maximum.reduce([np.abs(f0) * np.ones_like(fp), np.abs(fp), np.abs(fm), np.abs(fp4), np.abs(fm4)])
        noise = 8 * eps * scale / h
        kink = (jump > 4 * noise) & (np.abs(r4 - r1) < jump / 4) & (np.abs(l4 - l1) < jump / 4)
    return np.where(np.isfinite(jump), kink, False).astype(bool)


#: a first look whose one-sided slopes differ by more than this share of their size is a
#: kink suspect (``jump_suspects``): a smooth f's gap is ``h |f''|``, under 1e-3 of
#: ``|f'|`` unless ``|f''| > 1.7e2 |f'|`` at ``h = 6e-6`` (a near-stationary entry)
JUMP_SHARE = 1e-3


def jump_suspects(f0, f_plus, f_minus, h, roundoff) -> np.ndarray:
    """Kink suspects among entries whose central difference already passed, elementwise.

    A first look has ``f(x +- h)`` and ``f(x)``: its one-sided slopes ``R = (f(x+h) - f(x)) / h``
    and ``L = (f(x) - f(x-h)) / h`` come free.  Their gap ``|R - L| = |f(x+h) - 2 f(x) +
    f(x-h)| / h`` is ``h |f''|`` at a smooth point and tends to the jump at a kink, where
    the central difference is blind (``|x|`` at 0: ``R = 1``, ``L = -1``, the difference 0,
    the claim ``sign(0) = 0`` passes).  A suspect has a gap above ``JUMP_SHARE`` of
    ``|R| + |L|`` and above 4 times the round-off of the values (``roundoff``, in f's units:
    ``f(x+h) - 2 f(x) + f(x-h)`` holds three of them).  Only a screen: the shrinking
    one-sided test (``stencil_ladder``) decides; ``x |x|`` at 0 has ``R = h = -L``, gap 0,
    and is no suspect.
    """
    h = np.asarray(h, dtype=float)
    with np.errstate(all="ignore"):
        f0, fp, fm = (np.asarray(v, dtype=float) for v in (f0, f_plus, f_minus))
        second = np.abs(fp - 2 * f0 + fm)
        sides = np.abs(fp - f0) + np.abs(f0 - fm)
        out = (second > JUMP_SHARE * sides) & (second > 4 * np.asarray(roundoff, dtype=float))
    return np.where(np.isfinite(second), out, False).astype(bool)


def crosses_kink(vals: np.ndarray, f0, h, eps: float) -> np.ndarray:
    """Whether the three-rung stencil (rows as in ``central_three_rungs``) crosses a kink.

    The even part ``S(h) = (f(x+h) + f(x-h) - 2 f(x)) / h**2`` is ``f'' + O(h**2)`` at a
    smooth point: from ``h`` to ``h/4`` it moves 16 times less than from ``4h`` to ``h``.
    A kink at a distance ``d < 4h`` adds ``s (h - d) / h**2`` (``s`` the jump of the
    slope), which grows as the step shrinks.  Crossed iff the finer move exceeds a quarter
    of the coarser one and 32 times the round-off of the finer ``S``."""
    h = np.asarray(h, dtype=float)
    with np.errstate(all="ignore"):
        f0 = np.asarray(f0, dtype=float)
        s1 = (vals[0] + vals[1] - 2 * f0) / (16 * h**2)
        s2 = (vals[2] + vals[3] - 2 * f0) / h**2
        s3 = (vals[4] + vals[5] - 2 * f0) * 16 / h**2
        far, near = np.abs(s1 - s2), np.abs(s2 - s3)
        value_noise = roundoff(list(vals), np.ones_like(h), eps)  # ROUNDOFF_ULPS eps max|f|
        quiet = near <= 8 * 4 * value_noise * 16 / h**2
        crossed = ~(near <= far / 4) & ~quiet
    return np.where(np.isfinite(near) & np.isfinite(far), crossed, False).astype(bool)


def central_three_rungs(vals: np.ndarray, f0, h, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Central difference at ``h`` and an error that does not trust one comparison.

    ``vals`` holds ``f(x ± 4h), f(x ± h), f(x ± h/4)`` in rows ``(+4h, -4h, +h, -h, +h/4,
    -h/4)``.  With ``D1 = D(4h), D2 = D(h), D3 = D(h/4)``: in the asymptotic regime
    ``D1 - D2 = 16 (D2 - D3)`` and the error of ``D2`` is ``16/15 |D2 - D3|`` (or
    ``|D1 - D2| / 15``).  When the ratio ``|D1 - D2| / |D2 - D3|`` is far from 16 (below
    8: a first-order error at a C1 point such as ``x |x|`` at 0, a step longer than the
    function's local scale such as ``sin`` at ``1e6``, a pole inside the stencil; above 32
    round-off dominates ``D2 - D3``) the error is ``max(|D1 - D2|, 16/15 |D2 - D3|)``.
    Round-off (``measured_roundoff`` of the larger rung difference within the a-priori
    ``ROUNDOFF_ULPS eps max|f| / h``) is added; all times ``SAFETY``.  The error
    is infinite (the estimate says nothing) when every value equals ``f(x)`` (the
    function did not resolve the steps: its intermediates may be far larger than f, as in
    ``log(1 + exp(-x))`` at 35; an exactly-0 claim still passes by the exact-zero rule
    of ``evidence``), and
    when, out of the asymptotic regime, the error exceeds ``|D2|`` and ten times the
    round-off (a pole or a period inside the stencil).  In the asymptotic regime the
    value is the Richardson extrapolation ``R = D3 + (D3 - D2) / 15`` when its error
    ``|R(h/4) - R(h)|`` (+ round-off at ``h/4``) is the smaller one.
    """
    h = np.asarray(h, dtype=float)
    with np.errstate(all="ignore"):
        d1 = (vals[0] - vals[1]) / (8 * h)
        d2 = (vals[2] - vals[3]) / (2 * h)
        d3 = (vals[4] - vals[5]) * 2 / h
        far, near = np.abs(d1 - d2), np.abs(d2 - d3)
        ratio = far / np.where(near > 0, near, np.nan)
        # a narrow window: the higher-order terms are tiny at these steps, while a step
        # longer than the period (sin(x)**2 at 1e9) gives a random ratio
        asymptotic = (ratio >= 14) & (ratio <= 18.3)
        ro_model = roundoff(list(vals), h / 4, eps) / 4  # a-priori round-off of D(h)
        # D2 - D3 within round-off: the short rung says nothing about truncation, which
        # the long one measures as |D1 - D2| / 15
        rounding = near <= 2 * (ro_model + 4 * ro_model)
        # in the rounding regime both differences are round-off, whatever the model says
        seen = np.maximum(near, far)
        ro = np.where(rounding & ~asymptotic,
                      measured_roundoff(seen, ro_model, capped=False, discount=FIRST_LOOK_DISCOUNT),
                      measured_roundoff(seen, ro_model, discount=FIRST_LOOK_DISCOUNT))
        trunc = np.where(asymptotic, np.maximum(16 / 15 * near, far / 15),
                         np.where(rounding, far / 15, np.maximum(far, 16 / 15 * near)))
        noise = SAFETY * (trunc + ro)
        # in the asymptotic regime one Richardson step removes the h**2 term:
        # R(h/4) = D3 + (D3 - D2) / 15, error ~ |R(h/4) - R(h)| (an O(h**4) quantity)
        r3, r2 = d3 + (d3 - d2) / 15, d2 + (d2 - d1) / 15
        r_noise = SAFETY * (np.abs(r3 - r2) + 4 * ro * 17 / 15)
        better = asymptotic & (r_noise < noise)
        d2 = np.where(better, r3, d2)
        noise = np.where(better, r_noise, noise)
        blind = np.all(vals == np.asarray(f0, dtype=float), axis=0)
        # out of the asymptotic regime with an error beyond the value itself, and not by
        # round-off: a pole or a period inside the stencil; the estimate says nothing
        garbage = ~asymptotic & (trunc > np.abs(d2)) & (trunc > 10 * ro_model)
        # a stencil across a kink (relu at a distance below 4h) proves nothing: its rungs
        # can agree on a wrong value
        noise = np.where(blind | garbage | crosses_kink(vals, f0, h, eps), np.inf, noise)
    bad = ~np.isfinite(d2) | np.isnan(noise)
    return np.where(bad, np.nan, d2), np.where(bad, np.inf, noise)


def blackbox_gradient(
    cost: Callable[[np.ndarray], float],
    x: np.ndarray,
    indices: Sequence[int] | None = None,
    step: float | None = None,
    progress: Callable[[int], None] | None = None,
    *,
    claimed: np.ndarray | None = None,
    pass_tol: float = 1e-7,
    lifted: Callable[[np.ndarray], object] | None = None,
) -> Estimate:
    """Derivatives of a scalar black box entry by entry, each with a bound that verifies.

    For user code that cannot be vectorised.  First look, six calls per entry of
    ``x.ravel()`` (all, or ``indices``): ``cost(x ± 4h e_k)``, ``cost(x ± h e_k)``,
    ``cost(x ± h/4 e_k)`` with ``h = eps**(1/5) max(|x_k|, 1)`` (``eps`` of the precision
    ``cost(x)`` returns; or the fixed ``step``), value and error by
    :func:`central_three_rungs`, kink by :func:`one_sided_kink`.  An entry whose first
    bound does not reach ``pass_tol |claimed_k| / 4`` (every entry when ``claimed`` is
    None), or that looks like a kink, is then estimated by the stencil ladder
    (``stencil_ladder.entry_derivative``: orders 2, 4, 6 on steps that follow ``|x_k|``,
    the noise of f measured along ``e_k``, refined until the bound reaches that target or
    round-off stops it), which must agree with the first look (their union is reported
    when it does not); its shrinking one-sided test decides the kink (the claimed value
    must lie between the one-sided slopes).  A first look that says nothing (every value
    equal to ``f(x)``) stands: the ladder's longer steps could agree on a wrong value
    there.  A first look that moved but proved nothing (a kink crossed, ``crosses_kink``;
    a pole or a period inside the stencil) goes to the ladder, which rules out the rungs
    across a kink and descends until they clear it; its estimate is taken when it settles
    the sign, and a kink confirmed at the point whose one-sided slopes exclude the claim
    makes the slopes the evidence (midpoint, half their gap).  ``lifted(z)`` evaluates the cost in
    ``np.longdouble`` (precision lifting; the caller checked once that the code computes
    in the dtype it is given and agrees with float64): entries float64 cannot settle are
    estimated again by the ladder in extended precision.  ``x`` is restored after every
    call; ``progress(k)`` after each entry.  Results are flat arrays over the entries.
    """
    from .ladder import entry_derivative

    shape = np.shape(x)
    flat = np.array(x, dtype=float).ravel()
    idx = np.arange(flat.size) if indices is None else np.asarray(indices, dtype=int)
    validate_step(Method.CENTRAL, step)
    work = flat.copy()
    def f_call(w):
        try:
            return cost(w.reshape(shape))
        except NonFiniteCostError:  # a step outside the domain: no value there
            return np.nan

    raw = cost(work.reshape(shape))
    f0 = float(raw)
    # the middle step balances the O(h**4) error of the Richardson value against the
    # round-off of the code's own precision: eps**(1/5) max(|x|, 1)
    eps0 = value_eps(np.asarray(raw), np.asarray([f0]))
    if idx.size and np.isfinite(f0) and (f0 == 0 or f0 == round(f0)) and np.asarray(raw).dtype != np.float32:
        # f(x) says nothing about the precision (0, or a whole number): one probe nearby
        k = int(idx[0])
        orig = work[k]
        work[k] = orig + 1e-3 * max(abs(orig), 1.0)
        eps0 = value_eps(np.asarray(f_call(work)))
        work[k] = orig
    h = eps0 ** 0.2 * np.maximum(np.abs(flat[idx]), 1.0) if step is None else np.full(len(idx), float(step))
    vals = np.empty((6, len(idx)))
    for n, (k, hk) in enumerate(zip(idx, h)):
        orig = work[k]
        for row, d in enumerate((4 * hk, -4 * hk, hk, -hk, hk / 4, -hk / 4)):
            work[k] = orig + d
            vals[row, n] = f_call(work)
        work[k] = orig
    eps = value_eps(vals, np.asarray([f0], dtype=float))
    value, noise = central_three_rungs(vals, f0, h, eps)
    # a first look across a kink (its even part grows as the step shrinks) goes to the
    # ladder, whose even-part test rules out the rungs that cross it and which shortens
    # its steps until they clear it; other first looks that prove nothing (a pole, a
    # period, a C1 point such as x relu(x) at 0) stand
    crossed = crosses_kink(vals, f0, h, eps) & ~np.all(vals == f0, axis=0)
    # a first look in a first-order regime (D(h) = g + a h: its rung differences shrink 4
    # times per factor 4 of the step, a C1 point such as x |x| at 0), whose first-order
    # term the ladder's all-powers tableau removes
    with np.errstate(all="ignore"):
        d1, d2, d3 = (vals[0] - vals[1]) / (8 * h), (vals[2] - vals[3]) / (2 * h), (vals[4] - vals[5]) * 2 / h
        ratio = np.abs(d1 - d2) / np.abs(d2 - d3)
    first_order = (ratio >= 3.6) & (ratio <= 4.4) & ~np.isfinite(noise)
    if eps > 1e3 * EPS and step is None:
        # float32 code's first steps (eps32**(1/5) ~ 0.04 max(|x|, 1)) can span a feature
        # float64's would not (sin(20 x): a period of 0.3): a first look that moved but
        # proved nothing (and is not first-order) gets the two ladders from below its
        # steps, as across a kink
        with np.errstate(all="ignore"):
            crossed |= (~np.isfinite(noise) & np.all(np.isfinite(vals), axis=0) & ~np.all(vals == f0, axis=0)
                        & ~first_order)
    kink = one_sided_kink(f0, vals[2], vals[3], vals[0], vals[1], h, eps)
    # a first look that proved nothing and looks like a kink is decided by the ladders from
    # below its steps, like one across a kink (a relu kink 7e-5 away with steps of 7e-4: the
    # one-sided test alone would call it a kink at the point)
    with np.errstate(all="ignore"):
        crossed |= kink & ~np.isfinite(noise) & np.all(np.isfinite(vals), axis=0) & (step is None)
    # ... and so does a first look in a first-order regime (above)
    linear = first_order & ~crossed
    used = h.copy()
    with np.errstate(all="ignore"):
        scale = np.maximum(np.abs(vals).max(axis=0, initial=0.0), abs(f0) if np.isfinite(f0) else 0.0)
    resolution = SAFETY * 2 * roundoff(list(vals), h / 4, eps)
    a = np.zeros(len(idx)) if claimed is None else np.asarray(claimed, dtype=float).ravel()
    if a.size == flat.size and a.size != len(idx):
        a = a[idx]
    ld = None
    pending = []
    for n, k in enumerate(idx.tolist()):
        target = pass_tol * abs(float(a[n])) / 4
        # a first look that says nothing stands (a pole or a period inside its stencil: the
        # ladder's longer steps could agree on a wrong value), unless it left the domain
        # (a value that is not finite: log at x below its step), where shorter steps help
        left_domain = not np.all(np.isfinite(vals[:, n]))
        if (noise[n] <= target and not kink[n]) or (not np.isfinite(noise[n]) and not left_domain
                                                    and not crossed[n] and not linear[n]
                                                    and (lifted is None or not getattr(lifted, "available", True))):
            if progress is not None:
                progress(n + 1)
            continue
        if np.isfinite(noise[n]) or left_domain or crossed[n] or linear[n]:
            ref = (float(value[n]), float(noise[n])) if np.isfinite(noise[n]) else None
            if crossed[n] and not left_domain:
                # no reference: two ladders from below the first look's steps, on grids that
                # share no step, must agree (chaotic rungs, sin at 1e7 with steps beyond its
                # period, can agree by chance on one grid, not on two)
                s0 = float(h[n]) / 4 if step is None else float(step)
                r = entry_derivative(f_call, work, k, f0=f0, eps=eps, claimed=float(a[n]), target=target, step=s0)
                r2 = entry_derivative(f_call, work, k, f0=f0, eps=eps, claimed=float(a[n]), target=target,
                                      step=s0 * CROSS_GRID, kink_test=False)
                agree = abs(r.value - r2.value) <= r.error + r2.error  # False when either is NaN / inf
                second = agree and r2.error < r.error  # the better of the two stands, value with its bound
                r = replace(r, calls=r.calls + r2.calls, value=r.value if agree else np.nan,
                            error=min(r.error, r2.error) if agree else np.inf)
                if second:
                    r = replace(r, value=r2.value, step=r2.step, noise=r2.noise)
            else:
                r = entry_derivative(f_call, work, k, f0=f0, eps=eps, claimed=float(a[n]), target=target,
                                     reference=ref, step=step)
            if claimed is not None:  # the claim must lie between the one-sided slopes
                # at the finest rung that moved f (a rung where f(x +- h) == f(x) is below the
                # code's resolution: float32 code at steps under its quantum)
                moved = np.flatnonzero((r.plus != f0) | (r.minus != f0))
                last = int(moved[-1]) if moved.size else len(r.steps) - 1
                r = replace(r, kink=r.kink and bool(moved.size))
                hf = float(r.steps[last])
                right, left = float((r.plus[last] - f0) / hf), float((f0 - r.minus[last]) / hf)
                lo, hi = min(left, right), max(left, right)
                slack = 0.01 * max(abs(lo), abs(hi))
                kink[n] = r.kink and bool(lo - slack <= a[n] <= hi + slack)
            else:
                kink[n] = r.kink
            # after a first look that proved nothing, the ladder must at least settle the
            # sign (its long steps across a pole can agree on a wrong value: 1 / x at 1e-150)
            if r.error < noise[n] and not (crossed[n] and not r.error <= abs(r.value)):
                value[n], noise[n], used[n] = r.value, r.error, r.step
                # what round-off alone can put into the value taken: the candidate's own weights
                # amplify it (2.5 times for the all-powers column that removes the h of x |x| at 0);
                # float32 code keeps the plain difference's (its zero claims are the float32
                # rules' to judge: a ladder on float32 values is no proof of round-off alone)
                ro = r.noise / r.step
                if np.isfinite(r.roundoff) and eps <= 1e3 * EPS:
                    ro = max(ro, r.roundoff)
                resolution[n] = min(resolution[n], SAFETY * 2 * ro)
                # the zero rule's scale is f's size on the steps the evidence came from, not
                # on the first look's long ones (x |x| at 1e-9 is 1e-18 there, not 2e-3)
                scale[n] = min(scale[n], _f_size(r, f0))
            elif r.kink and not kink[n] and claimed is not None and not np.isfinite(noise[n]):
                # a kink at the point (within the smallest stencil) and a claim outside its
                # one-sided slopes: the slopes are the evidence (2 dout at a max-pool tie)
                value[n], noise[n], used[n] = (lo + hi) / 2, (hi - lo) / 2 + slack, float(r.steps[-1])
        # lifted only where the verdict needs it: the evidence does not yet verify the claim
        # with half the tolerance to spare (``target`` drove the ladder with a quarter), nor
        # proves it wrong by half its size (a failure whatever the tolerances: extended
        # precision would not change it, and its budget is kept for the undecided)
        with np.errstate(all="ignore"):
            gap = abs(float(a[n]) - float(value[n]))
            verified = gap + noise[n] <= 2 * target and noise[n] <= 2 * target
            wrong = gap - noise[n] > 0.5 * max(abs(float(a[n])), abs(float(value[n])))
        if lifted is not None and not kink[n] and not verified and not wrong:
            pending.append((n, k, target))
        if progress is not None:
            progress(n + 1)
    if claimed is not None and eps > 1e3 * EPS:  # values of float32's precision (or coarser)
        _fit_low_precision(f_call, work, idx, a, value, noise, used, kink, f0=f0, eps=eps, pass_tol=pass_tol)
    # precision lifting of the entries float64 left: a few leftovers get their own share
    if pending and hasattr(lifted, "grant"):
        lifted.grant(len(pending))
    for n, k, target in pending:
        if not getattr(lifted, "usable", True):
            break
        if ld is None:
            lf = lambda w: lifted(w.reshape(shape))  # noqa: E731
            if hasattr(lifted, "base"):  # its value and noise at x, shared by every entry
                lw, lf0 = lifted.base(flat, shape)
                lw, sigma = lw.copy(), lifted.noise_at(flat, shape)
            else:
                lw, sigma = flat.astype(np.longdouble), None
                lf0 = lf(lw)
            ld = (lf, lw, lf0, sigma)
        lf, lw, lf0, sigma = ld
        ref = (float(value[n]), float(noise[n])) if np.isfinite(noise[n]) else None
        r2 = entry_derivative(lf, lw, k, f0=lf0, eps=float(np.finfo(np.longdouble).eps), claimed=float(a[n]),
                              target=target, reference=ref, step=step, noise=sigma)
        flat_bound = _flat_bound(r2, lf0, float(np.finfo(np.longdouble).eps), probe=_prober(lf, lw, k))
        if flat_bound < noise[n] and not r2.error < flat_bound:
            r2 = replace(r2, value=0.0, error=flat_bound)
        # a kink the longer lifted steps cross (a relu unit near 0) is no evidence
        if r2.error < noise[n] and not r2.kink:
            value[n], noise[n], used[n] = r2.value, r2.error, r2.step
            # the zero rule's scale is f's own value, which extended precision resolves (x**2
            # at 1e-200 is 1e-400, not the 5e-7 of the float64 stencil's far points)
            with np.errstate(all="ignore"):
                scale[n] = min(scale[n], abs(float(lf0)))
    bad = ~np.isfinite(value) | np.isnan(noise)
    return Estimate(value=np.where(bad, np.nan, value), noise=np.where(bad, np.inf, noise), step=used, eps=eps,
                    kink=kink, f_scale=scale, resolution=resolution)


def _fit_low_precision(f_call, work, idx, a, value, noise, used, kink, *, f0, eps, pass_tol) -> None:
    """Float32 code: the entries whose evidence does not verify the claim and does not prove
    it wrong get the least-squares fit over many steps (``lowprec.fit_derivative``, within
    ``lowprec.fit_budget`` calls), which tightens ``value, noise`` (in place) where it
    agrees.  One the first fit leaves undecided gets a second: ``FIT_MORE_POINTS`` pairs where
    they can settle it (``FIT_MORE_GAIN``), or, where a kink near x kept the first from
    proving anything, the kink-aware fit on the side without it (``lowprec.kink_aware_fit``),
    staged: its second half of points only where its first half neither settles the entry nor
    shows that the whole fit could not (``HALF_GAIN``)."""
    from .lowprec import (FIT_MORE_POINTS, FIT_POINTS, KINK_MARGIN, combine, fit_budget, fit_derivative,
                          kink_aware_fit)

    left = fit_budget(work.size)
    # fits that proved nothing (kinks inside every width: relu code) stop the fitting once
    # they outnumber the useful ones by FIT_FRUITLESS: there more calls cannot help
    def gap_tol(n: int) -> tuple[float, float]:
        with np.errstate(all="ignore"):
            return abs(float(a[n]) - float(value[n])), pass_tol * abs(float(a[n]))

    def warned(n: int) -> bool:
        # proved wrong, by a gap a warn's size (not a fail's)
        gap, tol = gap_tol(n)
        return bool(gap - noise[n] > tol and gap <= WARN_RECHECK * tol)

    def settled(n: int, second_opinion: bool = False) -> bool:
        # a warn on the ladder's evidence alone gets the fit's (``second_opinion``): a relu
        # unit crossing 0 within its stencil can bias it beyond its bound (the fit checks its premise)
        if second_opinion and warned(n):
            return False
        gap, tol = gap_tol(n)
        return bool(gap + noise[n] <= tol or gap - noise[n] > tol)

    def can_settle(n: int, e: float) -> bool:
        # a bound e / FIT_MORE_GAIN (4 times the pairs: the noise's share halves, and the
        # orders' disagreement, mostly noise too, with it) could verify the claim or prove it wrong
        gap, tol = gap_tol(n)
        return bool(gap + e / FIT_MORE_GAIN <= tol or gap - e / FIT_MORE_GAIN > tol)

    fruitless = useful = 0
    for n, k in enumerate(idx.tolist()):
        if left < 2 * FIT_POINTS or fruitless > FIT_FRUITLESS + 2 * useful:
            break
        fitted = False
        first = None
        fitted_value = False  # a fit gave evidence (a finite bound) on this entry
        step0 = used[n]
        for points in (FIT_POINTS, FIT_MORE_POINTS):
            # verified, or proved beyond the tolerance (more points change nothing); a kink,
            # a claim of exactly 0 (the zero rule's) and an entry the ladder proved nothing
            # about (the fit only tightens evidence) are left as they are
            if settled(n, not fitted_value) or kink[n] or a[n] == 0 or not np.isfinite(noise[n]) or left < 2 * points:
                break
            if first is None:
                # staged: where every other pair shows a kink too near x for any of its widths
                # (relu code), the kinks are located on the inner pairs and the rest not evaluated
                fit = fit_derivative(f_call, work, k, f0=f0, eps=eps, points=points, staged=True)
            elif np.isfinite(first.error):
                if not can_settle(n, float(noise[n])):
                    break  # 4 times the pairs would leave it undecided: not worth their calls
                fit = fit_derivative(f_call, work, k, f0=f0, eps=eps, points=points, width=first.width)
            elif first.free is not None and min(first.free) > 0:
                # the first proved nothing because of a kink near x: the side without it
                fa, fb = first.free
                crossed = min(first.free) < 4 * float(step0)

                def enough(half, n=n, crossed=crossed) -> bool:
                    # the fit on half its points settles the entry (with the ladder's evidence,
                    # as the whole fit's would be combined): the other half is not evaluated
                    if not np.isfinite(half.error):
                        return False
                    v, e = combine(float(value[n]), float(noise[n]), half, crossed)
                    with np.errstate(all="ignore"):
                        gap, tol = abs(float(a[n]) - v), pass_tol * abs(float(a[n]))
                    if gap + e <= tol or gap - e > tol:
                        return True
                    # ... or twice the points could not settle it (their bound at best
                    # HALF_GAIN times smaller): not worth their calls
                    e /= HALF_GAIN
                    return not (gap + e <= tol or gap - e > tol)

                fit = kink_aware_fit(f_call, work, k, f0=f0, eps=eps, a=KINK_MARGIN * fa, b=KINK_MARGIN * fb,
                                     points=points, enough=enough)
            else:
                break  # no second fit where the first proved nothing and saw no kink
            first = fit if first is None else first
            left -= fit.calls
            fitted = True
            if not np.isfinite(fit.error):
                continue
            fitted_value = True
            # the ladder's stencil (up to 4 times its step) spanned a kink the first fit's values showed
            crossed = first.free is not None and min(first.free) < 4 * float(step0)
            value[n], noise[n] = combine(float(value[n]), float(noise[n]), fit, crossed)
            if noise[n] == fit.error:
                used[n] = fit.width
        if first is not None and not fitted_value and first.kink_at < 4 * float(step0) and warned(n):
            # a warn on the ladder's evidence alone, whose stencil spanned a kink the fit's
            # values showed and which no fit could settle: that evidence is no proof
            noise[n] = np.inf
        if fitted:  # useful: the fits settled the entry; else fruitless (relu kinks in every width)
            useful, fruitless = (useful + 1, fruitless) if settled(n) else (useful, fruitless + 1)


#: a warn (a gap up to this many tolerances: the float32 fail tolerance is 20 times its
#: pass tolerance) that rests on the ladder alone gets the fit as a second opinion
WARN_RECHECK = 20.0


#: the bound a fit of 4 times the pairs is expected to reach at best (the noise's share
#: halves; measured on the float32 nets: 2 to 6 times smaller)
FIT_MORE_GAIN = 6.0


#: the bound the kink-aware fit on all its points is expected to reach at best, against its
#: first half's (measured on the FC float32 net: 1 to 2.5 times smaller, once 39)
HALF_GAIN = 4.0


#: fits that settled nothing, beyond twice the ones that settled their entry, after which a
#: re-estimate fits no more
FIT_FRUITLESS = 8


def _f_size(r, f0) -> float:
    """``max |f|`` at x and at the ladder's rungs no longer than the step of its value
    (inf where one of them is not finite)."""
    steps = np.asarray(r.steps, dtype=float)
    if not steps.size or not np.isfinite(r.step):
        return float("inf")
    near = steps <= r.step * (1 + 1e-12)
    with np.errstate(all="ignore"):
        size = max(abs(float(f0)), float(np.max(np.abs(np.asarray(r.plus, dtype=float)[near]), initial=0.0)),
                   float(np.max(np.abs(np.asarray(r.minus, dtype=float)[near]), initial=0.0)))
    return size if np.isfinite(size) else float("inf")


#: a flat ladder is probed at steps FLAT_RATIO**k times its longest, k = 1 .. FLAT_PROBES
FLAT_RATIO = 8.0
FLAT_PROBES = 12


def _prober(cost: Callable, w: np.ndarray, k: int) -> Callable[[float], tuple]:
    """``H -> (cost(w + H e_k), cost(w - H e_k))``, ``w`` restored; NaN outside the domain."""
    def probe(H: float):
        orig, out = w[k], []
        for d in (H, -H):
            w[k] = orig + d
            try:
                out.append(cost(w))
            except NonFiniteCostError:
                out.append(np.nan)
            finally:
                w[k] = orig
        return tuple(out)
    return probe


def _flat_bound(r, f0, eps: float, probe: Callable[[float], tuple] | None = None) -> float:
    """A bound on ``|f'|`` from a ladder that saw nothing: ``f(x ± h) == f(x)`` exactly at
    its two longest steps ``h`` and ``h / 2`` (the bias before a batchnorm, which no
    change of f shows even in extended precision); ``inf`` otherwise.

    Exact flatness proves only ``|f'| h <= q``, ``q`` the quantum of the code's
    intermediates at x, which may be far coarser than f's own ulp (``(x + 1e20) - 1e20``:
    q = 8 in extended precision, slope 1).  So the ladder is probed at longer steps
    ``H = h FLAT_RATIO**k`` (``probe(H) -> (f(x + H), f(x - H))``).  Where f first moves
    on both sides, its odd part ``Delta = |f(x+H) - f(x-H)| / 2`` is at least the quantum
    that hid a slope (a hidden slope moves both sides, in opposite senses), and the
    longest step ``H'`` seen flat gives ``|f'| H' <= q <= Delta``: ``|f'| <= SAFETY Delta /
    H'``.  A value that is not finite there proves nothing (``inf``).  Where f moves on one
    side only (a relu unit crossing 0 beyond ``H'``), or nowhere up to ``h
    FLAT_RATIO**FLAT_PROBES`` (7e10 times ``h``), the flatness is f's own: ``|f'| <= SAFETY 3
    ROUNDOFF_ULPS eps F / (2 H')`` (F = |f(x)|; the Richardson combination of two flat
    steps).  Without ``probe`` there is no bound."""
    steps, plus, minus = np.asarray(r.steps), np.asarray(r.plus), np.asarray(r.minus)
    if steps.size < 2 or probe is None:
        return float("inf")
    top = np.argsort(steps)[::-1][:2]
    if not (np.all(plus[top] == f0) and np.all(minus[top] == f0)) or not np.isfinite(f0):
        return float("inf")
    F = float(abs(f0))
    if not F > 0:
        return float("inf")
    h = float(steps[top[0]])  # the longest step seen flat
    for _ in range(FLAT_PROBES):
        fp, fm = probe(h * FLAT_RATIO)
        if not (fp == f0 and fm == f0):
            with np.errstate(all="ignore"):
                up, down = float(fp - f0), float(fm - f0)
            if not (np.isfinite(up) and np.isfinite(down)):
                return float("inf")
            if up == 0 or down == 0:
                # one side only: a feature beyond h on that side (a relu unit crossing 0);
                # a slope hidden by a quantum would move both sides alike
                break
            # both sides: the odd part is at least the quantum q that hid a slope at h
            return SAFETY * abs(up - down) / 2 / h
        h *= FLAT_RATIO
    return SAFETY * 3 * ROUNDOFF_ULPS * eps * F / (2 * h)


@dataclass
class Entries:
    """Four-point results for some entries (flat indices): value and error of the central
    difference, the one-sided slopes and how far their jump exceeds ``L'' h`` (> 0: a jump)."""

    indices: np.ndarray
    value: np.ndarray
    noise: np.ndarray
    plus: np.ndarray
    minus: np.ndarray
    jump_excess: np.ndarray
    #: the two-call first look's raw rows ``f(x + h e_k), f(x - h e_k)`` and their terms' sizes
    #: (``two_point_entries``), which ``four_point_entries(first=...)`` reuses; else None
    values: np.ndarray | None = None
    sizes: np.ndarray | None = None

    def take(self, pos) -> "Entries":
        """The entries at positions ``pos``."""
        rows = lambda v: None if v is None else v[:, pos]  # noqa: E731
        return Entries(self.indices[pos], self.value[pos], self.noise[pos], self.plus[pos], self.minus[pos],
                       self.jump_excess[pos], rows(self.values), rows(self.sizes))

    def jumps(self) -> np.ndarray:
        """Whether the one-sided slopes jump beyond the ``L'' h`` the 4h values predict (by
        more than 1e-6 of their size: ``jump_excess``); never for a two-call look."""
        with np.errstate(all="ignore"):
            return self.jump_excess > 1e-6 * (np.abs(self.plus) + np.abs(self.minus))


def step_factor(sigma: float, scale: float) -> float:
    """``(eps_f / eps)**(1/3)`` with ``eps_f = sigma / scale`` the relative noise of f (>= eps):
    the default step ``eps**(1/3) max(|x|, 1)`` balances truncation against float64 round-off;
    a noisier f (float32 code) needs the step that balances its own noise."""
    if not (scale > 0 and np.isfinite(sigma)):
        return 1.0
    return float(max(1.0, sigma / (EPS * scale)) ** (1 / 3))


def _shifted_values(shifted: Callable[[int, float], tuple[float, float]], indices: np.ndarray, h: np.ndarray,
                    multiples: tuple[float, ...], progress: Callable[[int], None] | None):
    """``(values, sizes)``, one row per step multiple ``m``: ``shifted(k, m h_k)`` for each
    entry ``k`` of ``indices`` (entry by entry, ``progress`` after each)."""
    vals = np.empty((len(multiples), len(indices)))
    sizes = np.empty((len(multiples), len(indices)))
    for n, (k, hk) in enumerate(zip(indices, h)):
        for row, m in enumerate(multiples):
            vals[row, n], sizes[row, n] = shifted(int(k), float(m * hk))
        if progress is not None:
            progress(n + 1)
    return vals, sizes


def four_point_entries(shifted: Callable[[int, float], tuple[float, float]], x: np.ndarray, indices: np.ndarray, *,
                       f0: float, scale: float, sigma: float = 0.0, eps: float | None = None,
                       progress: Callable[[int], None] | None = None, first: Entries | None = None) -> Entries:
    """Central differences at ``h_k = eps**(1/3) max(|x_k|, 1) step_factor(sigma, scale)``,
    four calls per entry, ``shifted(k, d) -> (value, size)`` returning ``f(x + d e_k)``
    minus ``f0`` (``f0 = 0`` when it returns differences) and the size of the terms that
    make it (for the round-off).  Value and error by ``central_from_values`` at ``h`` and
    ``4h``; ``plus``/``minus`` the one-sided slopes ``(f(x+h) - f0) / h``, ``(f0 - f(x-h)) /
    h``; ``jump_excess = |(D+ - D-) - f'' h| - (KINK_ULPS eps max(size, |f0|) + KINK_SIGMAS
    sigma) / h`` with ``f'' h`` predicted from the 4h values.  ``scale`` is f's size at x
    (for the step factor); ``sigma`` f's measured noise; ``eps`` the precision of the terms
    (float32 outputs: float32's, though their differences are summed in float64; default:
    ``value_eps`` of the values).  ``first``: the ``two_point_entries`` of these
    entries (same step), whose ``f(x +- h e_k)`` are reused: 2 calls per entry."""
    x = np.asarray(x, dtype=float).ravel()
    indices = np.asarray(indices)
    h = default_step(x[indices]) * step_factor(sigma, scale)
    if first is not None and first.values is not None and np.array_equal(first.indices, indices):
        far, far_sizes = _shifted_values(shifted, indices, h, (4, -4), progress)
        vals, sizes = np.vstack([first.values, far]), np.vstack([first.sizes, far_sizes])
    else:
        vals, sizes = _shifted_values(shifted, indices, h, (1, -1, 4, -4), progress)
    size = np.max(sizes, axis=0)
    # a stencil that moved nothing at all (sigmoid at 36.2: its output is 1 to float64's
    # resolution) bounds the derivative only by the round-off of everything it may reach
    size = np.where(np.all(sizes == 0, axis=0) & np.all(vals == vals[:1], axis=0), max(scale, abs(f0)), size)
    value, noise = central_from_values(vals[0], vals[1], vals[2], vals[3], h, f_scale=size, eps=eps)
    with np.errstate(all="ignore"):
        plus, minus = (vals[0] - f0) / h, (f0 - vals[1]) / h
        predicted = (vals[2] - 2 * f0 + vals[3]) / (16 * h)
        excess = (np.abs((plus - minus) - predicted)
                  - (KINK_ULPS * max(eps or EPS, EPS) * np.maximum(size, abs(f0)) + KINK_SIGMAS * sigma) / h)
    return Entries(indices, value, noise, plus, minus, np.nan_to_num(excess, nan=-1.0))


def two_point_entries(shifted: Callable[[int, float], tuple[float, float]], x: np.ndarray, indices: np.ndarray, *,
                      f0: float, scale: float, sigma: float = 0.0, eps: float = EPS,
                      progress: Callable[[int], None] | None = None) -> Entries:
    """The first look of the full mode: two calls per entry at the step of
    ``four_point_entries``, ``D = (f(x + h e_k) - f(x - h e_k)) / 2h``, with the round-off
    alone as its error::

        error = SAFETY max(ROUNDOFF_ULPS eps size, 3 sigma') / h

    ``size`` the terms' scale ``shifted`` reports, ``eps`` the precision of the values
    (float32 outputs: float32's); ``sigma' = sigma`` when f is noisier than float64
    round-off of its whole scale can explain (``sigma > ROUNDOFF_ULPS EPS scale``: float32
    arithmetic, noisy internals), else 0 (differences summed term by term cancel the
    rounding of the terms an entry does not reach).  A pass within this error is settled
    (a wrong value could hide only by equalling the truncation error); anything else is
    left to ``four_point_entries`` and the re-estimate.  ``jump_excess`` is -1 (no kink
    test with two points)."""
    x = np.asarray(x, dtype=float).ravel()
    indices = np.asarray(indices)
    h = default_step(x[indices]) * step_factor(sigma, scale)
    vals, sizes = _shifted_values(shifted, indices, h, (1, -1), progress)
    noisy = sigma if sigma > ROUNDOFF_ULPS * EPS * scale else 0.0
    with np.errstate(all="ignore"):
        value = (vals[0] - vals[1]) / (2 * h)
        size = np.maximum(np.max(sizes, axis=0), np.max(np.abs(vals), axis=0))
        noise = SAFETY * np.maximum(ROUNDOFF_ULPS * eps * size, 3 * noisy) / h
        plus, minus = (vals[0] - f0) / h, (f0 - vals[1]) / h
    bad = ~(np.isfinite(value) & np.isfinite(noise))
    return Entries(indices, np.where(bad, np.nan, value), np.where(bad, np.inf, noise), plus, minus,
                   np.full(len(indices), -1.0), vals, sizes)


def jump_kink(e: Entries, analytic: np.ndarray, rel: np.ndarray, thresholds: Thresholds,
              at_point: bool = False) -> np.ndarray:
    """Kinks of the four-point engine, for entries that do not pass (``rel > pass_tol``): the
    one-sided slopes jump (``jump_excess`` beyond 1e-6 of their size) and the claim lies
    between them (a one-sided derivative, or a subgradient between), within ``fail_tol``.
    A wrong value away from a kink is never excused: there ``D+ = D-`` up to ``f'' h``.
    ``at_point``: passing entries too (a kink at the point claimed at the midpoint of its
    slopes, ``|x| + c x`` at 0, where the central difference is blind), which the shrinking
    one-sided test then confirms (``pipeline._confirm_kinks``)."""
    lo, hi = np.minimum(e.plus, e.minus), np.maximum(e.plus, e.minus)
    jump = e.jumps()
    with np.errstate(all="ignore"):
        tol = thresholds.fail_tol * np.maximum(np.abs(lo), np.abs(hi)) + np.abs(e.plus - e.minus) * 1e-3
        between = (analytic >= lo - tol) & (analytic <= hi + tol)
    return jump & between & ((rel > thresholds.pass_tol) | at_point) & np.isfinite(analytic)
