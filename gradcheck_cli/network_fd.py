"""Structured finite differences of the built-in network's cost, for every parameter.

numpy only.  Nothing here prints; results are arrays and frozen dataclasses.

Estimate and error figure
-------------------------
For each parameter ``x_e`` the numeric derivative is the central difference of
``finite_diff`` with its fixed step and error model::

    h_e   = eps**(1/3) max(|x_e|, 1)                              (finite_diff.default_step)
    D(h)  = (f(x + h e) - f(x - h e)) / 2h
    noise = |D(4h) - D(h)| / 15  +  4 eps f_scale / h             (finite_diff.central_from_values)

with ``f_scale = sum_i |c_i|`` (divided by M for a mean cost), the size of what the cost
sums; for cross-entropy ``|c_i|`` is raised by ``max_k |z_ik| + |z_{i,y}|``, the size of the
two terms of ``c_i = logsumexp(z_i) - z_{i,y}``, whose round-off remains when a saturated
softmax makes ``c_i`` itself ~0.  ``noise`` bounds ``|D(h) - f'(x)|``: the first term is the truncation error
``c h**2`` of ``D(h)`` (``D(4h) - D(h) = 15 c h**2``), the second the round-off of
evaluating two sums of M costs.  The verdict (``verdict.py``) passes an entry whose
``|analytic - numeric| <= noise``.

How the perturbed costs are computed
------------------------------------
Not by 4P forward passes.  Perturbing ``W_l[a, b]`` by ``d`` changes only column b of
``z_l``, by ``d a_{l-1}[:, a]`` (``d`` for ``b_l[b]``); the change of the next
pre-activation is then rank one, ``da_b (x) W_{l+1}[b, :]``.  So for a block the four
stencil points of every entry are evaluated together, as arrays of shape
(rows, 4, M, columns), in tiles of at most ``chunk_bytes``, and only the *change* of each
per-sample cost is formed, never ``f(x + h e)`` itself:

* activation change, from exact identities without cancellation (``k = 1/2`` for the
  sigmoid, 1 for tanh)::

      act(z + d) - act(z) = tanh(k d) / (A(z) + B(z) tanh(k d))
      sigmoid: A = 1 + cosh z,  B = sinh z;   tanh: A = cosh(z)**2,  B = sinh z cosh z
      relu:    max(z + d, 0) - max(z, 0) piecewise

* output change, softmax + cross-entropy, ``dz`` a full change of ``z_L``::

      dc_i = (sum_j y_ij) log1p(sum_j p_ij expm1(dz_ij)) - sum_j y_ij dz_ij

  and when only the last hidden unit b changed (``dz_i = da_i W_L[b, :]``), through the
  cumulant series of ``w = W_L[b, :]`` under ``p_i``::

      log sum_j p_ij exp(da w_j) = sum_{n>=1} kappa_n(i, b) da**n / n!

  (kappa_n computed from the central moments of w, orders 1..8) truncated at the first
  order K whose remainder bound ``sum_{K<n<=8} max|kappa_n / n!| |da|**n`` plus the Cauchy
  bound of the orders above 8, ``2 x**9 / (1 - x)`` with ``x = |da| max_j |w_j - mean|
  4/pi`` (the CGF is analytic for ``x < 2``), is below 10% of ``eps f_scale / M``; else
  the general formula is used.  Small ``tanh`` arguments use its odd series with the same
  kind of bound;
* squared error: ``dc_i = sum_j dyhat_ij (yhat_ij - y_ij + dyhat_ij / 2)``.

These changes are exact to a few ulps *of the change*, far below the round-off allowance
``4 eps f_scale / h`` that ``noise`` carries, so ``noise`` stays an honest, conservative
bound.  Deeper layers propagate the change densely: ``dz_{m+1} = da_m W_{m+1}``.

Kinks (relu)
------------
An entry is a kink when a relu pre-activation changes sign inside its stencil
``[x - 4h, x + 4h]``.  Up to the first sign change every pre-activation is affine in the
perturbation, so comparing signs at the stencil's ends with the base point is exact.

Fast mode (``directional_check``, ``fast_check``)
-------------------------------------------------
Per block, ``k`` random directions ``u = v * max(|x|, 1)`` with Rademacher ``v = +-1``
(no entry gets a small weight) and step ``t = eps**(1/3)`` compare ``g . u`` with the
central difference ``D_u`` (4 evaluations each, all directions in one structured pass).
A direction is *suspect* when ``|g . u - D_u| > SAFETY * noise_u``, ``noise_u`` being the
central-difference noise plus the round-off of the dot product.  Not a relative error: a
wrong entry ``e`` shifts ``g . u`` by ``|e| |u_e| >= |e|`` in *every* direction whatever
the block size, so any single entry off by more than ``(SAFETY + 1) max noise_u`` (the
block's ``detectable``) is caught with certainty, while a relative error over P entries
would dilute it by 1/sqrt(P).  ``noise_u`` is the per-entry round-off term plus the
direction's truncation error, which grows with the block (about 4e-6 against 5e-8 per
entry for W1 of 784-100-10).  An entry fails the full check only when off by more than
``fail_tol * floor >= (fail_tol / pass_tol) * noise_e`` (1e5 x its noise by default);
``fast_check`` sends a block to the full check when it is suspect, when a direction
crosses a relu kink, or when ``detectable`` exceeds that level, so fast mode never misses
an entry that the full check would fail.  The full check then names the entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb, factorial, pi
from typing import Iterable

import numpy as np

from .finite_diff import EPS, REL_STEP, ROUNDOFF_ULPS, central_from_values, default_step
from .errors import OptionError
from .fast_mode import Agreement, judge_direction
from .models import Activation, Block, Loss, NetworkSpec, forward, validate_inputs
from .verdict import Thresholds

#: a fast-mode direction is suspect when its disagreement exceeds SAFETY x its noise
SAFETY = 10.0
#: default number of random directions per block in fast mode
DEFAULT_DIRECTIONS = 8
#: default size of the work arrays of one tile of the full check
DEFAULT_CHUNK_BYTES = 4 * 2**20
#: share of the round-off allowance eps * f_scale given to series truncation
SERIES_BUDGET = 0.1
#: stencil multipliers: x + h, x - h, x + 4h, x - 4h
STENCIL = np.array([1.0, -1.0, 4.0, -4.0])
_MAX_CUMULANT = 8
_CLIP_Z = 300.0  # |z| beyond this: the activation change is below 1e-130 of the step
# Taylor coefficients of tanh(x) / x in powers of x**2 (alternating, decreasing for |x| < 1)
_TANH_SERIES = (1.0, -1 / 3, 2 / 15, -17 / 315, 62 / 2835, -1382 / 155925, 21844 / 6081075,
                -929569 / 638512875, 6404582 / 10854718875)


@dataclass(frozen=True)
class NumericGradient:
    """Numeric gradient of the cost with its error, flat like ``params``.

    Entries outside the checked blocks are NaN (numeric, noise) and False (kink).
    Unpacks as ``numeric, noise, kink = result``.
    """

    numeric: np.ndarray
    noise: np.ndarray
    kink: np.ndarray

    def __iter__(self):
        return iter((self.numeric, self.noise, self.kink))


@dataclass(frozen=True)
class DirectionalResult:
    """Fast-mode result of one block: ``k`` directional comparisons.

    ``analytic[j] = g . u_j``, ``numeric[j] = D_{u_j}``, ``noise[j]`` its error bound;
    ``kink[j]`` when a relu kink lies in that direction's stencil.  ``suspect`` when a
    kink-free direction disagrees by more than ``safety * noise``; ``needs_full`` when the
    block must get the full check (suspect, kinked, or a non-finite analytic value).
    """

    block: str
    analytic: np.ndarray
    numeric: np.ndarray
    noise: np.ndarray
    kink: np.ndarray
    suspect: bool
    needs_full: bool
    safety: float = SAFETY
    entry_noise: float = 0.0  # a lower bound of the full check's noise for any entry of the block

    @property
    def detectable(self) -> float:
        """Any single entry off by more than this makes every kink-free direction suspect."""
        return (self.safety + 1.0) * float(np.max(self.noise))

    @property
    def ratio(self) -> np.ndarray:
        """``|g . u - D_u| / noise_u`` per direction (suspect above ``safety``)."""
        with np.errstate(all="ignore"):
            return np.abs(self.analytic - self.numeric) / self.noise


@dataclass(frozen=True)
class FastResult:
    """Fast mode over every block: per-block directional results and what needs a full check."""

    directional: tuple[DirectionalResult, ...]
    full_blocks: tuple[str, ...]


# ---------------------------------------------------------------------------- base pass


def cost_magnitude(spec: NetworkSpec, fw, labels) -> np.ndarray:
    """Per sample, the size of what its cost is computed from (round-off is eps times it).

    ``|c_i|``; for cross-entropy ``c_i = logsumexp(z_i) - z_{i,y}`` the two terms'
    sizes ``max_k |z_ik| + |z_{i,y}|`` are added: their round-off remains when a
    saturated softmax makes ``c_i`` itself ~0.
    """
    magnitude = np.abs(fw.costs)
    if spec.loss is Loss.CE:
        z = fw.zs[-1]
        magnitude = magnitude + np.max(np.abs(z), axis=1) + np.abs(np.sum(labels * z, axis=1))
    return magnitude


class _Base:
    """The unperturbed forward pass and the per-layer constants of the difference formulas."""

    def __init__(self, spec: NetworkSpec, data, labels, params) -> None:
        data, labels, params = validate_inputs(spec, data, labels, params)
        self.spec = spec
        self.L = spec.layers
        self.M = data.shape[0]
        self.labels = labels
        self.params = params
        self.layers = spec.unpack(params)
        fw = forward(spec, data, labels, params)
        self.zs, self.acts = fw.zs, fw.acts
        self.scale = 1.0 / self.M if spec.mean else 1.0
        magnitude = cost_magnitude(spec, fw, labels)
        self.per_sample_scale = float(np.sum(magnitude)) / self.M
        self.f_scale = float(np.sum(magnitude)) * self.scale
        self.ysum = np.sum(labels, axis=1)
        self._ab: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._cumulants: tuple[np.ndarray, np.ndarray] | None = None

    def act_coeffs(self, l: int) -> tuple[np.ndarray, np.ndarray]:
        """``(A, B)`` of the activation-change identity at hidden layer l (or the mse output)."""
        if l not in self._ab:
            z = np.clip(self.zs[l], -_CLIP_Z, _CLIP_Z)
            kind = self._kind(l)
            if kind is Activation.SIGMOID:
                self._ab[l] = (1.0 + np.cosh(z), np.sinh(z))
            else:  # tanh
                c = np.cosh(z)
                self._ab[l] = (c * c, np.sinh(z) * c)
        return self._ab[l]

    def _kind(self, l: int) -> Activation:
        return self.spec.activation if l < self.L else Activation.SIGMOID

    def cumulants(self) -> tuple[np.ndarray, np.ndarray]:
        """Series coefficients ``C[n-1] (M, H)`` of ``dc_i(da)`` for last-hidden unit b, and radii.

        ``dc_i = sum_n C_n[i, b] da**n`` with ``C_1 = sum_j (ysum_i p_ij - y_ij) W_L[b, j]``
        and ``C_n = ysum_i kappa_n / n!``; ``R[i, b] = max_j |W_L[b, j] - mean_i(w)|``.
        """
        if self._cumulants is None:
            W = self.layers[-1][0]  # (H, Dy)
            p = self.acts[-1]  # (M, Dy)
            H = W.shape[0]
            coeffs = np.empty((_MAX_CUMULANT,) + (self.M, H))
            radius = np.empty((self.M, H))
            coeffs[0] = (p * self.ysum[:, None] - self.labels) @ W.T
            step = max(1, DEFAULT_CHUNK_BYTES // (8 * self.M * W.shape[1]))
            for b0 in range(0, H, step):  # bounded memory: (M, step, Dy) at a time
                b = slice(b0, min(H, b0 + step))
                mean = p @ W[b].T  # (M, h)
                cen = W[None, b, :] - mean[:, :, None]  # (M, h, Dy): w - its mean under p_i
                raw = [None, None]
                power = cen.copy()
                for n in range(2, _MAX_CUMULANT + 1):
                    power *= cen
                    raw.append(np.einsum("ij,ibj->ib", p, power))
                kappa = [None, None]
                for n in range(2, _MAX_CUMULANT + 1):  # cumulants from moments, centred: mu_1 = 0
                    k = raw[n].copy()
                    for m in range(2, n - 1):
                        k -= comb(n - 1, m - 1) * kappa[m] * raw[n - m]
                    kappa.append(k)
                    coeffs[n - 1][:, b] = self.ysum[:, None] * k / factorial(n)
                radius[:, b] = np.max(np.abs(cen), axis=2)
            self._cumulants = (coeffs, radius)
        return self._cumulants


# ---------------------------------------------------------------------------- difference formulas


def _tanh_small(x: np.ndarray, bound: float | None = None, rtol: float = EPS / 8) -> np.ndarray:
    """``tanh(x)`` to relative ``rtol``: its odd series when ``|x| <= bound`` is small, else numpy."""
    ax = bound if bound is not None else (float(np.max(np.abs(x))) if x.size else 0.0)
    for n in range(1, len(_TANH_SERIES)):
        if abs(_TANH_SERIES[n]) * ax ** (2 * n) <= rtol:
            break
    else:
        return np.tanh(x)
    if n == 1:
        return x.copy()
    x2 = x * x
    acc = x2 * _TANH_SERIES[n - 1]
    for c in reversed(_TANH_SERIES[1 : n - 1]):
        acc += c
        acc *= x2
    acc += 1.0
    acc *= x
    return acc


def _act_diff(kind: Activation, z, coeffs, dz, bound: float | None = None, rtol: float = EPS / 8,
              scaled: bool = False) -> np.ndarray:
    """``act(z + dz) - act(z)`` without cancellation (identities in the module docstring).

    ``bound`` is an upper bound of ``|dz|`` (saves a pass over ``dz``), ``rtol`` the
    relative accuracy wanted; ``scaled`` when ``dz`` is already multiplied by ``k``.
    """
    if kind is Activation.RELU:
        return np.where(z > 0, np.maximum(dz, -z), np.maximum(z + dz, 0.0))
    A, B = coeffs
    k = 0.5 if kind is Activation.SIGMOID and not scaled else 1.0
    t = _tanh_small(dz * k if k != 1.0 else dz, None if bound is None else k * bound, rtol)
    den = B * t
    den += A
    return np.divide(t, den, out=den)


#: the ``k`` of ``tanh(k d)`` in the activation-change identity
_KAPPA = {Activation.SIGMOID: 0.5, Activation.TANH: 1.0, Activation.RELU: 1.0}
#: Lipschitz constant of each activation: |act(z + d) - act(z)| <= LIP |d|
_LIP = {Activation.SIGMOID: 0.25, Activation.TANH: 1.0, Activation.RELU: 1.0}


def _output_dense(base: _Base, dz: np.ndarray) -> np.ndarray:
    """``sum_i dc_i`` for a full change ``dz`` (..., M, Dy) of ``z_L`` (unscaled)."""
    y = base.labels
    if base.spec.loss is Loss.CE:
        p = base.acts[-1]
        with np.errstate(over="ignore", invalid="ignore"):
            s = np.einsum("...ij,ij->...i", np.expm1(dz), p)
            dc = base.ysum * np.log1p(s) - np.einsum("...ij,ij->...i", dz, y)
    else:
        yhat = base.acts[-1]
        dy = _act_diff(Activation.SIGMOID, base.zs[-1], base.act_coeffs(base.L), dz)
        dc = np.einsum("...ij,...ij->...i", dy, (yhat - y) + 0.5 * dy)
    return np.sum(dc, axis=-1)


def _crossing(z, dz) -> np.ndarray:
    """Where ``z + dz`` and ``z`` lie on different sides of 0 (a relu kink crossed)."""
    return (z > 0) != (z + dz > 0)


def _propagate(base: _Base, l: int, dz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Push a change ``dz`` (..., M, D_l) of ``z_l`` to the output.

    Returns ``(sum_i dc_i, kink)`` with the batch shape ``...``; ``kink`` when a relu
    pre-activation at layer ``l`` or later changes sign.
    """
    batch = dz.shape[:-2]
    kink = np.zeros(batch, dtype=bool)
    relu = base.spec.activation is Activation.RELU
    while l < base.L:
        z = base.zs[l]
        coeffs = None if relu else base.act_coeffs(l)
        if relu:
            kink |= np.any(_crossing(z, dz), axis=(-2, -1))
        da = _act_diff(base.spec.activation, z, coeffs, dz)
        W = base.layers[l][0]
        dz = (da.reshape(-1, da.shape[-1]) @ W).reshape(batch + (base.M, W.shape[1]))
        l += 1
    return _output_dense(base, dz), kink


# ---------------------------------------------------------------------------- full check


def _resolve_blocks(spec: NetworkSpec, blocks) -> list[Block]:
    if blocks is None:
        return spec.blocks
    out = []
    for b in blocks:
        out.append(spec.block(b.name if isinstance(b, Block) else str(b)))
    return out


def numeric_gradient(
    spec: NetworkSpec,
    data,
    labels,
    params,
    blocks: Iterable[str | Block] | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> NumericGradient:
    """Central-difference derivative of the cost for every entry of ``blocks`` (default all).

    Returns flat ``(numeric, noise, kink)`` of length P (see the module docstring for the
    error model); entries of other blocks are NaN / NaN / False.  Peak extra memory is a
    few times ``chunk_bytes`` (at least a few arrays of 4 M D floats for the widest layer
    D after the block's: one entry's stencil).
    """
    if not (isinstance(chunk_bytes, (int, np.integer)) and chunk_bytes >= 2**12):
        raise OptionError(f"chunk_bytes must be an integer >= 4096, got {chunk_bytes!r}")
    base = _Base(spec, data, labels, params)
    P = spec.param_count
    numeric = np.full(P, np.nan)
    noise = np.full(P, np.nan)
    kink = np.zeros(P, dtype=bool)
    for block in _resolve_blocks(spec, blocks):
        n, e, k = _block_numeric(base, block, int(chunk_bytes))
        numeric[block.slice], noise[block.slice], kink[block.slice] = n.ravel(), e.ravel(), k.ravel()
    return NumericGradient(numeric, noise, kink)


def kink_mask(spec: NetworkSpec, data, params, blocks: Iterable[str | Block] | None = None) -> np.ndarray:
    """Flat bool mask (length P): a relu pre-activation changes sign inside the entry's stencil.

    Always all False for sigmoid and tanh.  Uses the full structured pass (labels do not
    affect kinks, so zero labels stand in).
    """
    data = np.atleast_2d(np.asarray(data, dtype=float))
    if spec.activation is not Activation.RELU:
        return np.zeros(spec.param_count, dtype=bool)
    labels = np.zeros((data.shape[0], spec.dims[-1]))
    return numeric_gradient(spec, data, labels, params, blocks=blocks).kink


def _block_numeric(base: _Base, block: Block, chunk_bytes: int):
    l = block.layer
    x = block.take(base.params)  # (rows, cols)
    rows, cols = x.shape
    if block.is_bias:
        u_all = np.ones((1, base.M))
    else:
        u_all = base.acts[l - 1].T  # (D_{l-1}, M): row a is a_{l-1}[:, a]
    # bytes per entry of one tile's work arrays: a few (4, M) arrays, plus (4, M, D_m) arrays
    # of the later layers when the change is propagated densely
    dense = l < base.L and not (l == base.L - 1 and base.spec.loss is Loss.CE)
    per_entry = 4 * base.M * 8 * (6 + (4 * max(base.spec.dims[l + 1 :]) if dense else 0))
    ncol = int(max(1, min(cols, chunk_bytes // per_entry)))
    nrow = int(max(1, min(rows, chunk_bytes // (per_entry * ncol))))
    f = np.empty((4, rows, cols))
    kink = np.zeros((rows, cols), dtype=bool)
    h = default_step(x)
    for r0 in range(0, rows, nrow):
        r = slice(r0, min(rows, r0 + nrow))
        for c0 in range(0, cols, ncol):
            c = slice(c0, min(cols, c0 + ncol))
            ft, kink[r, c] = _tile(base, l, u_all[r], c, h[r, c], chunk_bytes)
            f[:, r, c] = np.moveaxis(ft, 1, 0)
    f *= base.scale
    numeric, noise = central_from_values(f[0], f[1], f[2], f[3], h, base.f_scale)
    return numeric, noise, kink


def _tile(base: _Base, l: int, u: np.ndarray, c: slice, h: np.ndarray, chunk_bytes: int):
    """Cost changes ``f (A, 4, C)`` at the stencil points of a tile of layer-l entries, and kinks.

    ``u (A, M)`` is how z_l[:, col] moves per unit of each row's entries, ``h (A, C)``.
    """
    spec = base.spec
    hs = h[:, None, :] * STENCIL[None, :, None]  # (A, 4, C)
    dmax = 4.0 * float(np.max(h)) * float(np.max(np.abs(u)))  # >= max |d|
    cumulant = l == base.L - 1 and spec.loss is Loss.CE
    if cumulant and spec.activation is not Activation.RELU:  # fold k of tanh(k d) into the step
        kappa = _KAPPA[spec.activation]
        d = (hs * kappa)[:, :, None, :] * u[:, None, :, None]  # (A, 4, M, C), k d
    else:
        d = hs[:, :, None, :] * u[:, None, :, None]  # (A, 4, M, C)
    kink = np.zeros(h.shape, dtype=bool)
    if l == base.L:  # output layer: z_L[:, col] moves by d
        y = base.labels[:, c]
        if spec.loss is Loss.CE:
            p = base.acts[-1][:, c]
            with np.errstate(over="ignore", invalid="ignore"):
                t = np.expm1(d)
                t *= p
                t = np.log1p(t, out=t)
                t *= base.ysum[:, None]
            t -= d * y
        else:
            yhat = base.acts[-1][:, c]
            A, B = base.act_coeffs(l)
            dy = _act_diff(Activation.SIGMOID, base.zs[l][:, c], (A[:, c], B[:, c]), d)
            t = dy * ((yhat - y[:, :]) + 0.5 * dy)
        return np.sum(t, axis=2), kink

    z = base.zs[l][:, c]  # (M, C)
    relu = spec.activation is Activation.RELU
    if relu:  # z + s h u crosses 0 for some |s| <= 4
        kink |= np.any(np.abs(z)[None] < 4 * h[:, None, :] * np.abs(u)[:, :, None], axis=1)
        coeffs = None
    else:
        A, B = base.act_coeffs(l)
        coeffs = (A[:, c], B[:, c])
    if cumulant:
        coeffs_c, radius = base.cumulants()
        damax = _LIP[spec.activation] * dmax
        c1 = float(np.max(np.abs(coeffs_c[0][:, c])))
        # relative accuracy of da that keeps its share of the error budget
        rtol = max(EPS / 8, SERIES_BUDGET * EPS * base.per_sample_scale / max(c1 * damax, 1e-300))
        if spec.activation is Activation.RELU:
            da = _act_diff(spec.activation, z, coeffs, d)
        else:
            da = _act_diff(spec.activation, z, coeffs, d, kappa * dmax, rtol, scaled=True)
        f = _cumulant_series(base, da, c, damax)
        if f is not None:
            return f, kink
        if spec.activation is not Activation.RELU:  # undo the folded k for the general path
            d = hs[:, :, None, :] * u[:, None, :, None]
    da = _act_diff(spec.activation, z, coeffs, d, dmax)  # (A, 4, M, C)
    # dense: z_{l+1}[i, :] moves by da[i] * W_{l+1}[col, :], a few rows at a time
    W = base.layers[l][0][c]  # (C, D_{l+1})
    nA, C = h.shape
    group = max(1, chunk_bytes // (4 * 4 * C * base.M * max(spec.dims[l + 1 :]) * 8))
    f = np.empty((nA, 4, C))
    for a0 in range(0, nA, group):
        a = slice(a0, min(nA, a0 + group))
        dz = np.moveaxis(da[a], 3, 2)[..., None] * W[None, None, :, None, :]  # (a, 4, C, M, D_{l+1})
        f[a], kk = _propagate(base, l + 1, dz)
        kink[a] |= np.any(kk, axis=1)
    return f, kink


def _cumulant_series(base: _Base, da: np.ndarray, c: slice, bound: float):
    """``sum_i dc_i`` via the cumulant series, or None when its remainder is not small enough.

    ``bound >= max |da|``.  Remainder after order K: ``sum_{K<n<=8} max|C_n| bound**n`` plus
    the Cauchy bound of the orders above 8 (module docstring).
    """
    coeffs, radius = base.cumulants()
    x = bound * float(np.max(radius[:, c])) * 4 / pi
    tol = SERIES_BUDGET * EPS * base.per_sample_scale
    ymax = float(np.max(np.abs(base.ysum)))
    if not (x < 0.5 and tol > 0):
        return None
    sizes = [float(np.max(np.abs(coeffs[n][:, c]))) * bound ** (n + 1) for n in range(_MAX_CUMULANT)]
    tail = 2 * ymax * x ** (_MAX_CUMULANT + 1) / (1 - x)
    for K in range(2, _MAX_CUMULANT + 1):
        if sum(sizes[K:]) + tail <= tol:
            break
    else:
        return None
    acc = da * coeffs[K - 1][:, c]
    for n in range(K - 2, -1, -1):
        acc += coeffs[n][:, c]
        acc *= da
    return np.sum(acc, axis=2)


# ---------------------------------------------------------------------------- fast mode


def directional_check(
    spec: NetworkSpec,
    data,
    labels,
    params,
    analytic,
    k: int = DEFAULT_DIRECTIONS,
    seed: int = 0,
    blocks: Iterable[str | Block] | None = None,
    safety: float = SAFETY,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> tuple[DirectionalResult, ...]:
    """Compare ``g . u`` with ``D_u`` along ``k`` Rademacher directions per block.

    ``analytic`` is the flat gradient being checked.  See the module docstring (fast mode)
    for the directions, the step and the suspect rule.  Seeded per (seed, block).
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise OptionError(f"number of directions must be a positive whole number, got {k!r}")
    if not (np.isfinite(safety) and safety > 0):
        raise OptionError(f"safety factor must be positive, got {safety!r}")
    base = _Base(spec, data, labels, params)
    g_all = np.asarray(analytic, dtype=float).reshape(-1)
    if g_all.size != spec.param_count:
        raise OptionError(f"analytic gradient has {g_all.size} entries, the network has {spec.param_count}")
    out = []
    for block in _resolve_blocks(spec, blocks):
        idx = [b.name for b in spec.blocks].index(block.name)
        rng = np.random.default_rng([int(seed), idx])
        x = block.take(base.params)
        g = block.take(g_all)
        U = rng.choice(np.array([-1.0, 1.0]), size=(k,) + x.shape) * np.maximum(np.abs(x), 1.0)
        with np.errstate(all="ignore"):
            terms = g[None] * U
            gu = np.sum(terms, axis=(1, 2))
            dot_noise = (ROUNDOFF_ULPS + np.log2(block.size)) * EPS * np.sum(np.abs(terms), axis=(1, 2))
        l = block.layer
        t = REL_STEP
        f = np.empty((k, 4))
        kk = np.zeros((k, 4), dtype=bool)
        step = max(1, chunk_bytes // (4 * base.M * max(spec.dims[l:]) * 8 * 4))
        for j0 in range(0, k, step):  # directions in groups of bounded memory
            j = slice(j0, min(k, j0 + step))
            if block.is_bias:
                G = np.broadcast_to(U[j], (U[j].shape[0], base.M, x.shape[1]))
            else:
                G = np.einsum("ia,kab->kib", base.acts[l - 1], U[j])  # (k, M, D_l)
            dz = (STENCIL * t)[None, :, None, None] * G[:, None]  # (k, 4, M, D_l)
            f[j], kk[j] = _propagate(base, l, dz)
        f *= base.scale
        kink = np.any(kk, axis=1)
        num, noi = central_from_values(f[:, 0], f[:, 1], f[:, 2], f[:, 3], np.full(k, t), base.f_scale)
        noi = noi + dot_noise
        # the one judgement of a direction (fast_mode), with this mode's wider margin
        agree = np.array([judge_direction(float(a), float(d), float(safety * n)) is Agreement.AGREE
                          for a, d, n in zip(gu, num, noi)], dtype=bool)
        bad = ~agree & ~kink
        finite = bool(np.all(np.isfinite(g)))
        suspect = bool(np.any(bad)) or not finite
        out.append(
            DirectionalResult(
                block=block.name, analytic=gu, numeric=num, noise=noi, kink=kink,
                suspect=suspect, needs_full=suspect or bool(np.any(kink)), safety=float(safety),
                entry_noise=ROUNDOFF_ULPS * EPS * base.f_scale / float(np.max(default_step(x))),
            )
        )
    return tuple(out)


def fast_check(
    spec: NetworkSpec,
    data,
    labels,
    params,
    analytic,
    k: int = DEFAULT_DIRECTIONS,
    seed: int = 0,
    safety: float = SAFETY,
    thresholds: Thresholds | None = None,
) -> FastResult:
    """Fast mode: directional checks of every block; the blocks that need the full check.

    A block needs it when suspect, kinked, or when its ``detectable`` error exceeds the
    smallest error at which one of its entries fails under ``thresholds`` (default
    tolerances when None): ``fail_tol * floor``, with ``floor = entry_noise / pass_tol`` or
    the fixed ``--floor``.  The caller then runs ``numeric_gradient(...,
    blocks=result.full_blocks)`` so the report still names the wrong entries.  Cost:
    ``4 k`` structured evaluations per block.
    """
    t = thresholds if thresholds is not None else Thresholds()
    res = directional_check(spec, data, labels, params, analytic, k=k, seed=seed, safety=safety)
    full = []
    for r in res:
        floor = t.floor if t.floor is not None else r.entry_noise / t.pass_tol
        if r.needs_full or not (r.detectable <= t.fail_tol * floor):
            full.append(r.block)
    return FastResult(res, tuple(full))
