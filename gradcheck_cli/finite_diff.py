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
relative to ``|x|``.  So per point and component we evaluate a ladder of steps
``h_j = 0.1 max(|x_i|, 1) 4**-j`` down to ``1e-10 min(|x_i|, 1)`` (about 15-40 steps,
all in one vectorised call of ``f``) and keep the step whose estimated total error is
least.  The error of ``D(h_j)`` is estimated as

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

All noise figures are absolute errors of the derivative, in units of f per unit of x;
``verdict.floor_from_noise`` turns them into the relative-error floor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .choices import Method  # re-exported: the method enum belongs with the methods


EPS = float(np.finfo(float).eps)
#: round-off of one evaluation of f, in units of eps |f| (a few operations' worth)
ROUNDOFF_ULPS = 4.0
#: ladder ratio between consecutive steps
RATIO = 4.0
#: default step of the fixed-step rule used for black-box functions and networks
REL_STEP = EPS ** (1 / 3)
COMPLEX_STEP = 1e-20
#: grid for the measured noise of f: NOISE_POINTS values spaced NOISE_SPACING max(|x|, 1)
NOISE_POINTS = 10
NOISE_SPACING = 1e-7
#: estimated errors are multiplied by this before they are reported (they are estimates)
SAFETY = 2.0
NOISE_GAMMA4 = 576 / 40320
_MAX_LADDER = 60


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


def default_step(x: np.ndarray) -> np.ndarray:
    """Fixed step ``h = eps**(1/3) max(|x|, 1)`` (optimal for ``|f'''| ~ |f|``)."""
    return REL_STEP * np.maximum(np.abs(np.asarray(x, dtype=float)), 1.0)


def roundoff(f_values: Sequence[np.ndarray], h: np.ndarray) -> np.ndarray:
    """Round-off error of a central difference with half-width ``h``."""
    scale = np.zeros(np.shape(h))
    for v in f_values:
        scale = np.maximum(scale, np.abs(v))
    return ROUNDOFF_ULPS * EPS * scale / h


def central_from_values(f_plus, f_minus, f_plus4, f_minus4, h, f_scale=None) -> tuple[np.ndarray, np.ndarray]:
    """Central difference at ``h`` and its error, from values at ``x ± h`` and ``x ± 4h``.

    Returns ``(D(h), noise)`` with ``noise = SAFETY (|D(4h) - D(h)| / 15 + roundoff)``,
    the fixed-step form of the rule in the module docstring.  ``f_scale`` (e.g. the sum of
    absolute per-sample costs) replaces ``|f|`` in the round-off term when larger.
    Non-finite inputs give ``nan`` value and ``inf`` noise.
    """
    h = np.asarray(h, dtype=float)
    with np.errstate(all="ignore"):
        d1 = (np.asarray(f_plus) - np.asarray(f_minus)) / (2 * h)
        d4 = (np.asarray(f_plus4) - np.asarray(f_minus4)) / (8 * h)
        values = [f_plus, f_minus, f_plus4, f_minus4]
        if f_scale is not None:
            values.append(np.broadcast_to(f_scale, np.shape(h)))
        noise = np.abs(d4 - d1) / 15 + roundoff(values, h)
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
    """Steps of shape (P, n, J): the adaptive ladder, or ``16H, 4H, H`` for fixed H."""
    if step is not None:
        return np.broadcast_to(step * RATIO ** -np.arange(-2.0, 1.0), points.shape + (3,)).copy()
    ax = np.abs(points)
    top = 0.1 * np.maximum(ax, 1.0)
    bottom = 1e-10 * np.where(ax > 0, np.minimum(ax, 1.0), 1.0)
    with np.errstate(over="ignore"):  # |x| near 1e308: top / bottom is inf, the ladder is capped
        n_steps = int(np.clip(np.ceil(np.max(np.log(top / bottom)) / np.log(RATIO)) + 1, 3, _MAX_LADDER))
    return top[..., None] * RATIO ** -np.arange(float(n_steps))


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
    d4 = np.diff(table, n=4, axis=-1)
    with np.errstate(all="ignore"):
        sigma = np.sqrt(NOISE_GAMMA4 * np.mean(d4 * d4, axis=-1))
    return np.where(np.isfinite(sigma), sigma, 0.0)


def _ladder(f, points: np.ndarray, method: Method, step: float | None) -> Estimate:
    P, n = points.shape
    h = _ladder_steps(points, step)  # (P, n, J)
    J = h.shape[-1]
    # noise grid: x_i + k delta, k = 0..NOISE_POINTS-1, delta = 1e-7 |x_i| (1e-7 at 0)
    delta = NOISE_SPACING * np.where(points != 0, np.abs(points), 1.0)
    grid = delta[..., None] * np.arange(NOISE_POINTS)
    cols = np.concatenate([_shifted(points, h), _shifted(points, -h), _shifted(points, grid)], axis=1)
    vals = _evaluate(f, cols)
    m = P * n * J
    f_plus, f_minus = vals[:m].reshape(P, n, J), vals[m : 2 * m].reshape(P, n, J)
    sigma = measured_noise(vals[2 * m :].reshape(P, n, NOISE_POINTS))
    with np.errstate(all="ignore"):
        d = (f_plus - f_minus) / (2 * h)
        r = np.maximum(roundoff([f_plus, f_minus], h), 3 * sigma[..., None] / h)
        d[~np.isfinite(d)] = np.nan
        diff = np.abs(d[..., :-1] - d[..., 1:])  # |D_j - D_{j+1}|, (P, n, J-1)
        if method is Method.CENTRAL:
            value = d
            err = np.full(d.shape, np.nan)
            err[..., :-1] = 16 / 15 * diff
            err[..., 1:] = np.fmax(err[..., 1:], diff / 15)
            noise = err + r
        else:
            value = np.full(d.shape, np.nan)
            value[..., :-1] = (RATIO**2 * d[..., 1:] - d[..., :-1]) / (RATIO**2 - 1)
            rr = np.full(d.shape, np.nan)
            rr[..., :-1] = (RATIO**2 * r[..., 1:] + r[..., :-1]) / (RATIO**2 - 1)
            rdiff = np.abs(value[..., :-1] - value[..., 1:])
            err = np.full(d.shape, np.nan)
            err[..., :-1] = rdiff
            err[..., 1:] = np.fmax(err[..., 1:], rdiff / RATIO**4)
            noise = err + rr
    if step is not None:  # fixed step: use H, the last rung (first extrapolation for richardson)
        pick = np.full((P, n), J - 1 if method is Method.CENTRAL else J - 2)
    else:
        score = np.where(np.isfinite(noise) & np.isfinite(value), noise, np.inf)
        pick = np.argmin(score, axis=-1)
    take = lambda a: np.take_along_axis(a, pick[..., None], axis=-1)[..., 0]
    value, noise, used = take(value), SAFETY * take(noise), take(h)
    bad = ~np.isfinite(value)
    noise = np.where(bad | ~np.isfinite(noise), np.inf, noise)
    return Estimate(value=value, noise=noise, step=used)


def _complex_step(f, points: np.ndarray, step: float | None) -> Estimate:
    P, n = points.shape
    scale = np.maximum(np.abs(points), 1.0)
    h = np.full((P, n), float(step)) if step is not None else COMPLEX_STEP * scale
    cols = np.broadcast_to(points[:, None, :], (P, n, n)).astype(complex)
    cols = cols + 1j * h[..., None] * np.eye(n)[None]
    all_cols = np.concatenate([cols.reshape(-1, n), points.astype(complex)]).T
    vals = _evaluate(f, all_cols, dtype=complex)
    f0 = vals[P * n :].real  # (P,)
    with np.errstate(all="ignore"):
        value = vals[: P * n].reshape(P, n).imag / h
        # cancellation (inside f, or in evaluating the analytic formula, e.g. 1 - tanh**2
        # near saturation) leaves ~eps of the terms' size; |f| / max(|x|, 1) stands in for it
        noise = 8 * EPS * np.abs(value) + 64 * EPS * np.abs(f0)[:, None] / scale
    bad = ~(np.isfinite(value) & np.isfinite(f0)[:, None])
    return Estimate(
        value=np.where(bad, np.nan, value), noise=np.where(bad, np.inf, noise), step=h
    )


def blackbox_gradient(
    cost: Callable[[np.ndarray], float],
    x: np.ndarray,
    indices: Sequence[int] | None = None,
    step: float | None = None,
    progress: Callable[[int], None] | None = None,
) -> Estimate:
    """Central differences of a scalar function called once per stencil point.

    For user code that cannot be vectorised: entry ``k`` of ``x.ravel()`` (all entries,
    or ``indices``) costs four calls, ``cost(x ± h e_k)`` and ``cost(x ± 4h e_k)`` with
    ``h = default_step(x_k)`` (or the fixed ``step``); value and error as in
    :func:`central_from_values`.  ``x`` is restored after every call.  ``progress(k)``
    is called after each entry.  Results are flat arrays over the checked entries.
    """
    flat = np.array(x, dtype=float).ravel()
    idx = np.arange(flat.size) if indices is None else np.asarray(indices, dtype=int)
    validate_step(Method.CENTRAL, step)
    h = default_step(flat[idx]) if step is None else np.full(len(idx), float(step))
    vals = np.empty((4, len(idx)))
    work = flat.copy()
    for n, (k, hk) in enumerate(zip(idx, h)):
        orig = work[k]
        for row, d in enumerate((hk, -hk, 4 * hk, -4 * hk)):
            work[k] = orig + d
            vals[row, n] = cost(work.reshape(np.shape(x)))
        work[k] = orig
        if progress is not None:
            progress(n + 1)
    value, noise = central_from_values(vals[0], vals[1], vals[2], vals[3], h)
    return Estimate(value=value, noise=noise, step=h)


def blackbox_directional(
    cost: Callable[[np.ndarray], float], x: np.ndarray, directions: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Directional derivatives ``D_u = (f(x + h u) - f(x - h u)) / 2h`` and their errors.

    One row of ``directions`` (shape ``(k, x.size)``) per direction; four calls each
    (``± h u``, ``± 4h u``, ``h = eps**(1/3) max(|x|_inf, 1) / |u|_inf``); value and error
    as in :func:`central_from_values`.  Compare with ``g . u``.
    """
    x = np.asarray(x, dtype=float)
    flat = x.ravel()
    h = REL_STEP * max(float(np.max(np.abs(flat), initial=0.0)), 1.0)
    hs = h / np.maximum(np.max(np.abs(directions), axis=1), 1e-300)
    vals = np.empty((4, len(directions)))
    for j, (u, hu) in enumerate(zip(directions, hs)):
        for row, d in enumerate((hu, -hu, 4 * hu, -4 * hu)):
            vals[row, j] = cost((flat + d * u).reshape(x.shape))
    return central_from_values(vals[0], vals[1], vals[2], vals[3], hs)


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
