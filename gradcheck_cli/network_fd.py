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
Not by 4P forward passes.  The cost is a sum over samples, and perturbing ``W_l[a, b]``
by ``d`` moves only unit b of layer l, by ``d u_s`` in sample s (``u = a_{l-1}[:, a]``;
``u = 1`` for ``b_l[b]``).  So every stencil value is a sum of one-dimensional functions::

    f(x + d e) - f(x) = sum_s phi_{s,b}(d u_s),
    phi_{s,b}(t) = c_s(z_l[s, b] + t) - c_s(z_l[s, b])    (the rest of z_l[s] fixed)

and only these *changes* are formed, never ``f(x + h e)`` itself.

*Output layer* (``W_L``, ``b_L``): ``phi`` is closed-form and evaluated exactly, O(M)
per stencil point (``_tile``)::

    cross-entropy:  dc_s = (sum_j y_sj) log1p(p_sb expm1(d)) - y_sb d
    squared error:  dc_s = dyhat (yhat_sb - y_sb + dyhat / 2)

*Hidden layers* (every l < L, ``_layer_series``): ``phi_{s,b}`` is expanded in its Taylor
series ``sum_n c_n[s, b] t**n`` by univariate Taylor arithmetic through the rest of the
network: the activation series from its ODE (``y' = act'(y) x'``, ``_act_series``), one
matmul per later layer for all orders at once, then the series of the loss (exp and log
by their ODEs, ``_output_series``).  One expansion per (sample, unit) serves every entry
of ``W_l[:, b]`` and ``b_l[b]``::

    f_k[a, b] = sum_n (k h_ab)**n Q_n[a, b],   Q_n = (u**n)^T c_n      (k = +-1, +-4)

an (A x M) by (M x D_l) product per order (``_series_block``).  Cost per layer: a few
forward passes of M D_l rows, instead of 4 A D_l M dense ones.

The truncation is certified, not guessed (``_tail_orders``).  Cauchy's estimate: if a
function g with the same Taylor coefficients past order 1 as ``phi`` is analytic on the
complex disk ``|t| <= R`` with ``|g| <= B``, the remainder after order K on
``|t| <= r`` (``r >= 4 h |u|``, every stencil point of the column) is at most
``B q**(K+1) / (1 - q)``, ``q = r / R``.  R and B come from bounding every later
pre-activation's change on the disk: its first-order part exactly (``J``, forward mode)
and the rest by the centred form ``|act(z + w) - act(z) - act'(z) w| <= sup|act''| |w|**2/2``
with ``|act'|``, ``|act''|`` bounded on complex disks around z (``_disk_sup``:
``|cosh(x + iy)|**2 = sinh(x)**2 + cos(y)**2``).  Each row takes the least order K <=
``MAX_ORDER`` whose remainder is below ``SERIES_BUDGET eps per_sample_scale``, so the
truncation of a stencil sum is below ``SERIES_BUDGET eps f_scale``, i.e. at most 1/40
of the round-off allowance that ``noise`` carries: ``noise`` stays an honest,
conservative bound.  Rows are grouped by order (typically 1-6).  A unit where no order
suffices (a nearly singular disk, a huge step) is computed densely instead (``_tile``:
exact activation changes ``act(z + d) - act(z) = tanh(k d) / (A(z) + B(z) tanh(k d))``
propagated through the later layers).

Kinks (relu)
------------
An entry is a kink when a relu pre-activation changes sign inside its stencil
``[x - 4h, x + 4h]``.  Up to the first sign change every pre-activation moves by
``t J`` (the network is linear there), so the first crossing of row (s, b) is at
``dstar = min(|z_l[s, b]|, min_{m,k} |z_m[s, k]| / |J_m[k]|)`` (``_relu_dstar``), exact;
an entry is a kink when ``4 h |u_s| > dstar`` for some sample.  Inside the kink-free
region relu's ``phi`` is the loss along a line, analytic, so its series is certified as
above; kink entries are recomputed densely, so their numbers are true differences.

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
from math import pi
from typing import Iterable

import numpy as np

from .finite_diff import EPS, REL_STEP, ROUNDOFF_ULPS, central_from_values, default_step
from .errors import OptionError
from .verdict import Agreement, judge_direction
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
#: highest Taylor order of the per-unit series; a unit needing more takes the dense path
MAX_ORDER = 12
#: radius of the complex disks (pre-activation units) on which each activation is bounded:
#: within it |tanh| <= 1 (tanh) and |tanh(w/2)| <= 1 (sigmoid), see ``_disk_sup``
RHO = {Activation.TANH: pi / 4, Activation.SIGMOID: pi / 2, Activation.RELU: np.inf}
#: radius of the softmax's shifted logits: keeps |sum_j p_j exp(w_j) - 1| <= e**0.5 - 1 < 1
RHO_OUT = 0.5
#: a row's first-guess disk radius is SHRINK x the largest the first-order terms allow
SHRINK = 0.7
#: stencil multipliers: x + h, x - h, x + 4h, x - 4h
STENCIL = np.array([1.0, -1.0, 4.0, -4.0])
_SMALL_GEMM = 1_000_000  # multiply-adds of a product OpenBLAS keeps on one thread (_matmul)
_CLIP_Z = 300.0  # |z| beyond this: the activation change is below 1e-130 of the step
# Taylor coefficients of tanh(x) / x in powers of x**2 (alternating, decreasing for |x| < 1)
_TANH_SERIES = (1.0, -1 / 3, 2 / 15, -17 / 315, 62 / 2835, -1382 / 155925, 21844 / 6081075,
                -929569 / 638512875, 6404582 / 10854718875)
#: the ``k`` of ``tanh(k d)`` in the activation-change identity
_KAPPA = {Activation.SIGMOID: 0.5, Activation.TANH: 1.0, Activation.RELU: 1.0}


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
    entry_noise: float = 0.0  # the a-priori round-off of the full check (the measured one may be ROUNDOFF_DISCOUNT x lower)

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
        self._grad: dict[int, np.ndarray] = {}
        self._sup: dict[int, np.ndarray] = {}
        self._series: dict[int, _LayerSeries] = {}

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

    def act_grad(self, l: int) -> np.ndarray:
        """``act'(z_l)`` (M, D_l) at hidden layer l (the sigmoid's at the mse output)."""
        if l not in self._grad:
            self._grad[l] = _act_grad(self._kind(l), self.zs[l])
        return self._grad[l]

    def disk_sup(self, l: int) -> np.ndarray:
        """``sup |act'(w)|`` over the complex disks ``|w - z_l| <= RHO[act]`` (M, D_l)."""
        if l not in self._sup:
            self._sup[l] = _disk_sup(self._kind(l), self.zs[l], RHO[self._kind(l)])
        return self._sup[l]


# ---------------------------------------------------------------------------- difference formulas


def _matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for 2-D arrays, in row blocks of at most ``_SMALL_GEMM`` multiply-adds.

    Why: OpenBLAS runs such products on one thread (its small-matrix path), while a
    threaded call on a busy machine waits for its second thread to be scheduled (about
    10 ms per call measured on the 2-core machine of issue 11, against 0.1 ms for the
    product itself).  The flops are the same; only the hand-offs go.
    """
    m, k = a.shape
    n = b.shape[1]
    rows = max(1, _SMALL_GEMM // max(1, k * n))
    if m <= rows:
        return a @ b
    out = np.empty((m, n), dtype=np.result_type(a, b))
    for r0 in range(0, m, rows):
        np.matmul(a[r0 : r0 + rows], b, out=out[r0 : r0 + rows])
    return out



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




def _output_dense(base: _Base, dz: np.ndarray) -> np.ndarray:
    """``sum_i dc_i`` for a full change ``dz`` (..., M, Dy) of ``z_L`` (unscaled)."""
    y = base.labels
    if base.spec.loss is Loss.CE:
        p = base.acts[-1]
        with np.errstate(all="ignore"):
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
        dz = _matmul(da.reshape(-1, da.shape[-1]), W).reshape(batch + (base.M, W.shape[1]))
        l += 1
    return _output_dense(base, dz), kink


# ---------------------------------------------------------------------------- per-unit series


@dataclass(frozen=True)
class _LayerSeries:
    """Taylor coefficients of every per-(sample, unit) cost function of one hidden layer.

    ``coeffs[n-1][s, b]`` is ``c_n`` of ``phi_{s,b}(d) = sum_n c_n d**n`` (unscaled);
    ``dense[b]`` when unit b's series could not be certified (its entries take the dense
    path); ``dstar[s, b]`` (relu) the smallest ``|d|`` at which a relu pre-activation
    changes sign (inf for smooth activations).
    """

    coeffs: np.ndarray  # (K, M, D_l)
    dense: np.ndarray  # (D_l,) bool
    dstar: np.ndarray  # (M, D_l)


def _act_grad(kind: Activation, z) -> np.ndarray:
    """``act'(z)`` from z, without the cancellation of ``1 - a**2`` or ``a (1 - a)``."""
    if kind is Activation.RELU:
        return (z > 0).astype(float)
    k = _KAPPA[kind]
    c = np.cosh(np.clip(k * z, -_CLIP_Z, _CLIP_Z))
    return (k * k) / (c * c)


def _disk_sup(kind: Activation, z, rho: float) -> np.ndarray:
    """``sup |act'(w)|`` over complex ``|w - z| <= rho`` (rho <= pi/4 for tanh, pi/2 for sigmoid).

    ``tanh' = 1/cosh**2`` and ``|cosh(x + iy)|**2 = sinh(x)**2 + cos(y)**2``; the sigmoid's
    is ``1/4`` of it at ``w/2``.  ``|act''| <= 2k sup|act'|`` on the same disk, as
    ``|tanh| <= 1`` for ``|Im| <= pi/4``.  relu: its slope (its region is linear).
    """
    if kind is Activation.RELU:
        return (z > 0).astype(float)
    k = _KAPPA[kind]
    s = np.sinh(np.minimum(k * np.maximum(np.abs(z) - rho, 0.0), _CLIP_Z))
    return (k * k) / (s * s + np.cos(k * rho) ** 2)


def _act_series(kind: Activation, y0, w0, xs: list, starts: list) -> list:
    """Taylor coefficients ``y_1..y_K`` of ``act(z + sum_n x_n t**n) - act(z)``.

    ``y0 = act(z)``, ``w0 = act'(z)`` (all rows), ``xs = [x_1..x_K]`` (None for a zero
    coefficient).  Rows are sorted by the order they need: an order-n array covers rows
    ``starts[n]:`` only (``starts[0] = 0``), and so does ``y_n``.  From the ODE
    ``y' = w x'`` with ``w = act'(y)`` a polynomial in y (``1 - y**2`` for tanh, ``y - y**2``
    for the sigmoid): ``n y_n = sum_{k=1..n} k x_k w_{n-k}`` and
    ``w_n = w'(y0) y_n - sum_{i=1..n-1} y_i y_{n-i}``.  relu (linear region): ``y_n = w0 x_n``.
    """
    if kind is Activation.RELU:
        return [None if x is None else w0[starts[n]:] * x for n, x in enumerate(xs, start=1)]
    c0 = -2.0 * y0 if kind is Activation.TANH else 1.0 - 2.0 * y0
    K = len(xs)
    kx = [None if x is None else (x if k == 1 else k * x) for k, x in enumerate(xs, start=1)]
    ys: list = []
    ws = [w0]
    buf = None
    for n in range(1, K + 1):
        st = starts[n]
        acc = np.multiply(kx[0][st - starts[1] :], ws[n - 1][st - starts[n - 1] :])  # x_1 never zero
        if buf is None:
            buf = np.empty_like(acc)
        tmp = buf[: acc.shape[0]]
        for k in range(2, n + 1):
            if kx[k - 1] is not None:
                acc += np.multiply(kx[k - 1][st - starts[k] :], ws[n - k][st - starts[n - k] :], out=tmp)
        if n > 1:
            acc *= 1.0 / n
        ys.append(acc)
        if n < K:
            w = np.multiply(c0[st:], acc)
            w -= _self_convolution(ys, n, starts, tmp)
            ws.append(w)
    return ys


def _self_convolution(ys: list, n: int, starts: list, out=None):
    """``sum_{i=1..n-1} y_i y_{n-i}`` over the rows of order n (``ys[i-1] = y_i``)."""
    st = starts[n]
    acc = np.zeros_like(ys[n - 1])
    for i in range(1, n // 2 + 1):
        prod = np.multiply(ys[i - 1][st - starts[i] :], ys[n - i - 1][st - starts[n - i] :], out=out)
        if 2 * i != n:
            prod *= 2.0
        acc += prod
    return acc


def _output_series(base: _Base, s: np.ndarray, dzs: list, starts: list) -> list:
    """``[c_1..c_K]`` of the cost change of samples ``s`` for ``dz_L = sum_n dz_n t**n``.

    ``dzs[n-1]`` (rows ``starts[n]:``, Dy) or None when zero; ``c_n`` covers rows
    ``starts[n]:`` (see ``_act_series``).  Cross-entropy: ``dc = ysum log S - y . dz``
    with ``S = sum_j p_j exp(dz_j)`` (series of exp and log by their ODEs); squared
    error: ``dc = sum_j dyhat_j (yhat_j - y_j + dyhat_j / 2)``.
    """
    y = base.labels[s]
    K = len(dzs)
    out = []
    if base.spec.loss is Loss.CE:
        p = base.acts[-1][s]
        ysum = base.ysum[s]
        es: list = []  # E_n of exp(dz) (E_0 = 1)
        ss: list = []  # S_n = sum_j p_j E_n
        logs: list = []
        for n in range(1, K + 1):
            st = starts[n]
            acc = None
            for k in range(1, n + 1):
                if dzs[k - 1] is None:
                    continue
                dz = dzs[k - 1][st - starts[k] :]
                term = k * dz if k == n else (k * dz) * es[n - k - 1][st - starts[n - k] :]
                acc = term if acc is None else acc + term
            e = acc / n
            es.append(e)
            sn = np.einsum("nj,nj->n", e, p[st:])
            ss.append(sn)
            ln = sn.copy()
            for k in range(1, n):
                ln -= (k / n) * logs[k - 1][st - starts[k] :] * ss[n - k - 1][st - starts[n - k] :]
            logs.append(ln)
            phi = ysum[st:] * ln
            if dzs[n - 1] is not None:
                phi -= np.einsum("nj,nj->n", dzs[n - 1], y[st:])
            out.append(phi)
    else:
        yhat = base.acts[-1][s]
        dys = _act_series(Activation.SIGMOID, yhat, base.act_grad(base.L)[s], dzs, starts)
        r = yhat - y
        for n in range(1, K + 1):
            t = dys[n - 1] * r[starts[n] :]
            if n > 1:
                t += 0.5 * _self_convolution(dys, n, starts)
            out.append(np.sum(t, axis=1))
    return out


def _first_order(base: _Base, l: int, s: np.ndarray, b: np.ndarray) -> dict:
    """``J[m]`` (n, D_m): the derivative of ``z_m[s]`` w.r.t. ``z_l[s, b]`` per row, m = l+1..L."""
    d = base.act_grad(l)[s, b]
    J = {l + 1: d[:, None] * base.layers[l][0][b]}
    for m in range(l + 1, base.L):
        J[m + 1] = _matmul(base.act_grad(m)[s] * J[m], base.layers[m][0])
    return J


def _relu_dstar(base: _Base, l: int, s: np.ndarray, b: np.ndarray, J: dict) -> np.ndarray:
    """(n,): the smallest ``|d|`` at which some relu pre-activation changes sign.

    Up to the first sign change every pre-activation moves by ``d J``, so the first
    crossing is at ``min(|z_l[s, b]|, min_{m, k} |z_m[s, k]| / |J_m[k]|)``.
    """
    dstar = np.abs(base.zs[l][s, b])
    with np.errstate(divide="ignore", invalid="ignore"):
        for m in range(l + 1, base.L):
            ratio = np.abs(base.zs[m][s]) / np.abs(J[m])
            dstar = np.minimum(dstar, np.min(ratio, axis=1, initial=np.inf))
    return dstar


def _largest_scale(a, c, rho):
    """The largest ``theta`` with ``a theta + c theta**2 <= rho`` (a, c >= 0), elementwise."""
    with np.errstate(all="ignore"):
        return 2 * rho / (a + np.sqrt(a * a + 4 * c * rho))


def _disk_error(base: _Base, l: int, s: np.ndarray, b: np.ndarray, R: np.ndarray, J: dict):
    """``e_L >= |dz_L - J_L d|`` (n, Dy) over the complex disks ``|d| <= R`` (n,), and theta.

    Centred form: ``e_{l+1} = S_l R**2 / 2 |W_{l+1}[b]|``, ``rho_m = |J_m| R + e_m`` and
    ``e_{m+1} = (|act'(z_m)| e_m + S_m rho_m**2 / 2) |W_{m+1}|`` with ``S_m = 2k sup|act'|``
    bounding ``|act''|`` on disks of radius ``RHO[act]`` (``_disk_sup``), valid while every
    ``rho_m <= RHO[act]``.  Every ``e_m`` is at least quadratic in R, so for ``theta <= 1``
    the bounds at ``theta R`` are at most ``theta**2 e_m`` and ``theta rho_m``: ``theta``
    (n,) is the largest such factor keeping every ``rho_m`` within ``RHO[act]``.
    """
    kind = base.spec.activation
    k2 = 2 * _KAPPA[kind]
    rho_h = RHO[kind]
    e = (k2 * base.disk_sup(l)[s, b] * R * R / 2)[:, None] * np.abs(base.layers[l][0][b])
    theta = np.minimum(1.0, rho_h / R)
    Rc = R[:, None]
    for m in range(l + 1, base.L):
        a = np.abs(J[m]) * Rc
        theta = np.minimum(theta, np.min(_largest_scale(a, e, rho_h), axis=1))
        rho = a + e
        n = base.act_grad(m)[s] * e + (k2 / 2) * base.disk_sup(m)[s] * rho * rho
        e = _matmul(n, np.abs(base.layers[m][0]))
    return e, theta


def _tail_orders(base: _Base, l: int, s: np.ndarray, b: np.ndarray, r: np.ndarray, J: dict) -> np.ndarray:
    """Per row (sample s, unit b): the Taylor order K whose remainder on ``|d| <= r`` is in budget.

    Cauchy's estimate: if ``g`` is analytic on the complex disk ``|d| <= R`` with
    ``|g| <= B`` there, ``|g_n| <= B / R**n`` and the remainder after order ``K >= 1`` is
    at most ``B q**(K+1) / (1 - q)``, ``q = r / R``; K is the least order putting it below
    ``SERIES_BUDGET eps per_sample_scale``.  ``g`` is ``phi`` up to a linear function of d
    (same tail): for cross-entropy ``ysum log sum_j p_j exp(dz_j - c d) - y . (dz - J_L d)``,
    ``c`` the midrange of ``J_L`` (the softmax is shift invariant), so
    ``B = |ysum| (-log(1 - t)) + |y| . e_L`` with ``t = sum_j p_j expm1(|J_Lj - c| R + e_Lj)``;
    for squared error ``B = sum_j dy_j (|yhat_j - y_j| + dy_j / 2)``, ``dy_j`` bounding the
    output's change (``sup|sigmoid'| rho_L``).  R: a first guess ``SHRINK`` x the radius
    at which the first-order changes ``|J| R`` reach ``RHO`` (or the output's ``RHO_OUT``),
    times the ``theta <= 1`` keeping the bounds valid (``_disk_error``).  relu is linear
    up to ``z_L``, so there ``e = 0`` and ``R = RHO_OUT / max|J_L - c|`` exactly.  Returns 0
    where no order up to ``MAX_ORDER`` suffices: that unit then takes the dense path.
    """
    spec = base.spec
    kind = spec.activation
    L = base.L
    v = J[L]
    ce = spec.loss is Loss.CE
    if ce:
        dev = np.abs(v - 0.5 * (np.max(v, axis=1) + np.min(v, axis=1))[:, None])
        rho_o = RHO_OUT
    else:
        dev = np.abs(v)
        rho_o = RHO[Activation.SIGMOID]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        R = rho_o / np.max(dev, axis=1)
        if kind is Activation.RELU:  # linear up to z_L: exact, no shrinking needed
            e = np.zeros(dev.shape)
            ok = np.ones(R.shape, dtype=bool)
        else:
            jmax = np.ones(R.shape)
            for m in range(l + 1, L):
                jmax = np.maximum(jmax, np.max(np.abs(J[m]), axis=1))
            R = SHRINK * np.minimum(RHO[kind] / jmax, R)
            e, theta = _disk_error(base, l, s, b, R, J)
            theta = np.minimum(theta, np.min(_largest_scale(dev * R[:, None], e, rho_o), axis=1))
            R = theta * R
            e = e * (theta * theta)[:, None]
            ok = theta > 0
        rho = dev * np.where(np.isfinite(R), R, 0.0)[:, None] + e
        y = base.labels[s]
        if ce:
            t = np.einsum("nj,nj->n", np.expm1(rho), base.acts[-1][s])
            ok &= t < 1.0
            B = np.abs(base.ysum[s]) * -np.log1p(-np.minimum(t, 1.0)) + np.einsum("nj,nj->n", e, np.abs(y))
        else:
            dyb = base.disk_sup(L)[s] * rho
            B = np.sum(dyb * (np.abs(base.acts[-1][s] - y) + 0.5 * dyb), axis=1)
        tol = SERIES_BUDGET * EPS * base.per_sample_scale
        q = r / R
        trivial = (B <= 0) | (q <= 0)
        # B q**(K+1) / (1 - q) <= tol  <=>  K + 1 >= log(tol (1 - q) / B) / log(q)
        need = np.ceil(np.log(tol * (1 - q) / B) / np.log(q)) - 1
        good = ok & (q < 0.5) & np.isfinite(need) & (need <= MAX_ORDER) & (tol > 0)
        need = np.where(trivial, 1, np.where(good, np.maximum(need, 1), 0))
    return need.astype(int)


def _unit_series(base: _Base, l: int, s: np.ndarray, b: np.ndarray, need: np.ndarray, J: dict) -> list:
    """``[c_1..c_K]`` of ``phi_{s,b}`` for rows (sample s, unit b of hidden layer l).

    ``need`` is each row's order, sorted ascending: ``c_n`` covers the rows with
    ``need >= n`` (a suffix).  Univariate Taylor arithmetic: the unit's activation series,
    then per later layer the activation series of every unit and one matmul for all
    orders >= 2 together (order 1 is J).
    """
    kind = base.spec.activation
    L = base.L
    K = int(need[-1])
    starts = [0] + [int(np.searchsorted(need, n)) for n in range(1, K + 1)]
    if kind is Activation.RELU:  # linear up to z_L
        return _output_series(base, s, [J[L]] + [None] * (K - 1), starts)
    d = base.act_grad(l)[s, b]
    ys = _act_series(kind, base.acts[l][s, b], d, [np.ones_like(d)] + [None] * (K - 1), starts)
    W = base.layers[l][0]
    dzs = [J[l + 1]] + [ys[n - 1][:, None] * W[b[starts[n] :]] for n in range(2, K + 1)]
    for m in range(l + 1, L):
        ys = _act_series(kind, base.acts[m][s], base.act_grad(m)[s], dzs, starts)
        dzs = [J[m + 1]]
        if K > 1:
            nxt = _matmul(np.concatenate(ys[1:]), base.layers[m][0])
            dzs += np.split(nxt, np.cumsum([y.shape[0] for y in ys[1:-1]]))
    return _output_series(base, s, dzs, starts)


def _stencil_radius(base: _Base, l: int) -> np.ndarray:
    """(M, D_l): ``r[s, b] >= 4 h |u|``, the largest move of ``z_l[s, b]`` over the
    stencils of the entries of ``W_l[:, b]`` and ``b_l[b]``."""
    W, b = base.layers[l - 1]
    hW = np.max(default_step(W), axis=0)
    umax = np.max(np.abs(base.acts[l - 1]), axis=1)
    hb = default_step(b).reshape(-1)
    return 4.0 * np.maximum(umax[:, None] * hW[None, :], hb[None, :])


def _row_tiles(base: _Base, l: int, rows: np.ndarray, chunk_bytes: int):
    """``(s, b)`` index arrays of consecutive tiles of flat (sample, unit) rows of layer l."""
    D = base.spec.dims[l]
    n = int(max(1, chunk_bytes // (8 * 4 * max(base.spec.dims[l + 1 :]))))
    for t0 in range(0, rows.size, n):
        s, b = np.divmod(rows[t0 : t0 + n], D)
        yield s, b


def _layer_series(base: _Base, l: int, chunk_bytes: int) -> _LayerSeries:
    """The certified Taylor coefficients of hidden layer l (cached on ``base``).

    Per tile of (sample, unit) rows: the first-order pass, the tail bound of every row,
    then the rows expanded in groups of equal order.
    """
    if l not in base._series:
        M, D = base.M, base.spec.dims[l]
        r = _stencil_radius(base, l)
        need = np.zeros((M, D), dtype=int)
        dstar = np.full((M, D), np.inf)
        coeffs = np.zeros((MAX_ORDER, M, D))
        for s, b in _row_tiles(base, l, np.arange(M * D), chunk_bytes):
            J = _first_order(base, l, s, b)
            if base.spec.activation is Activation.RELU:
                dstar[s, b] = _relu_dstar(base, l, s, b, J)
            k = _tail_orders(base, l, s, b, r[s, b], J)
            need[s, b] = k
            i = np.argsort(k, kind="stable")
            i = i[k[i] > 0]  # certified rows, by the order they need
            if i.size:
                c = _unit_series(base, l, s[i], b[i], k[i], {m: J[m][i] for m in J})
                for n, cn in enumerate(c, start=1):
                    st = i.size - cn.shape[0]
                    coeffs[n - 1, s[i[st:]], b[i[st:]]] = cn
        dense = np.any(need == 0, axis=0)
        coeffs = coeffs[: max(1, int(need.max()))]
        base._series[l] = _LayerSeries(coeffs, dense, dstar)
    return base._series[l]


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
    error model); entries of other blocks are NaN / NaN / False.  Hidden layers take the
    certified per-unit series, the output layer and uncertified units exact changes.  Peak
    extra memory: a few arrays of the block's size, plus about ``K`` times ``chunk_bytes``
    for a tile of the series (K its order, typically <= 6), or a few times ``chunk_bytes``
    on the dense path (at least a few arrays of 4 M D floats, D the widest later layer).
    """
    if not (isinstance(chunk_bytes, (int, np.integer)) and chunk_bytes >= 2**12):
        raise OptionError(f"chunk_bytes must be an integer >= 4096, got {chunk_bytes!r}")
    samples = _sample_chunks(spec, np.atleast_2d(np.asarray(data)).shape[0])
    if len(samples) > 1:
        return _numeric_gradient_by_samples(spec, data, labels, params, blocks, int(chunk_bytes), samples)
    base = _Base(spec, data, labels, params)
    P = spec.param_count
    numeric = np.full(P, np.nan)
    noise = np.full(P, np.nan)
    kink = np.zeros(P, dtype=bool)
    for block in _resolve_blocks(spec, blocks):
        with np.errstate(all="ignore"):  # a non-finite value shows as nan numeric, inf noise
            n, e, k = _block_numeric(base, block, int(chunk_bytes))
        numeric[block.slice], noise[block.slice], kink[block.slice] = n.ravel(), e.ravel(), k.ravel()
    return NumericGradient(numeric, noise, kink)


#: the hidden layers' series hold MAX_ORDER coefficients per (sample, unit); past this many
#: bytes the samples are taken in chunks (the cost is a sum over samples)
SERIES_BYTES = 256 * 2**20


def _sample_chunks(spec: NetworkSpec, M: int) -> list[slice]:
    """Slices of the samples such that each chunk's series fit in ``SERIES_BYTES``."""
    widest = max(spec.dims[1:-1], default=1)
    rows = max(1, SERIES_BYTES // (MAX_ORDER * widest * 8))
    return [slice(i, min(i + rows, M)) for i in range(0, M, rows)] or [slice(0, M)]


def _numeric_gradient_by_samples(spec, data, labels, params, blocks, chunk_bytes: int, chunks) -> NumericGradient:
    """:func:`numeric_gradient` with the samples in chunks: the cost is a sum over samples,
    so the stencil values of the chunks add up (and kinks combine by "or"); the mean cost
    divides the sum by M once, at the end.  Memory then does not grow with M."""
    data = np.atleast_2d(np.asarray(data, dtype=float))
    labels = np.asarray(labels)
    chosen = _resolve_blocks(spec, blocks)
    sums: dict[str, np.ndarray] = {}
    kinks: dict[str, np.ndarray] = {}
    steps: dict[str, np.ndarray] = {}
    magnitude = 0.0
    for c in chunks:
        base = _Base(spec, data[c], labels[c], params)
        magnitude += base.f_scale / base.scale  # sum over the chunk's samples
        for block in chosen:
            with np.errstate(all="ignore"):
                f, kink, h = _block_values(base, block, chunk_bytes)
            sums[block.name] = f if block.name not in sums else sums[block.name] + f
            kinks[block.name] = kink if block.name not in kinks else kinks[block.name] | kink
            steps[block.name] = h
    scale = 1.0 / data.shape[0] if spec.mean else 1.0
    P = spec.param_count
    numeric, noise, kink = np.full(P, np.nan), np.full(P, np.nan), np.zeros(P, dtype=bool)
    for block in chosen:
        f = sums[block.name] * scale
        with np.errstate(all="ignore"):
            n, e = central_from_values(f[0], f[1], f[2], f[3], steps[block.name], magnitude * scale, measured=True)
        numeric[block.slice], noise[block.slice], kink[block.slice] = n.ravel(), e.ravel(), kinks[block.name].ravel()
    return NumericGradient(numeric, noise, kink)


def kink_mask(spec: NetworkSpec, data, params, blocks: Iterable[str | Block] | None = None) -> np.ndarray:
    """Flat bool mask (length P): a relu pre-activation changes sign inside the entry's stencil.

    Always all False for sigmoid and tanh.  Only the first-order pass of the structured
    check (``_relu_dstar``): labels do not affect kinks.
    """
    data = np.atleast_2d(np.asarray(data, dtype=float))
    out = np.zeros(spec.param_count, dtype=bool)
    if spec.activation is not Activation.RELU:
        return out
    labels = np.zeros((data.shape[0], spec.dims[-1]))
    base = _Base(spec, data, labels, params)
    dstars: dict[int, np.ndarray] = {}
    for block in _resolve_blocks(spec, blocks):
        l = block.layer
        if l == base.L:
            continue  # the output layer has no relu after it
        if l not in dstars:
            dstar = np.empty((base.M, spec.dims[l]))
            for s, b in _row_tiles(base, l, np.arange(dstar.size), DEFAULT_CHUNK_BYTES):
                dstar[s, b] = _relu_dstar(base, l, s, b, _first_order(base, l, s, b))
            dstars[l] = dstar
        out[block.slice] = _entry_kinks(base, block, dstars[l]).ravel()
    return out


def _block_u(base: _Base, block: Block) -> np.ndarray:
    """(M, rows): how ``z_l[:, col]`` moves per unit of each row's entry (``a_{l-1}`` or 1)."""
    if block.is_bias:
        return np.ones((base.M, 1))
    return base.acts[block.layer - 1]


def _entry_kinks(base: _Base, block: Block, dstar: np.ndarray) -> np.ndarray:
    """(rows, cols): some sample's ``4 h |u|`` exceeds its distance to the first relu kink."""
    h4 = 4.0 * default_step(block.take(base.params))
    u = np.abs(_block_u(base, block))
    kink = np.zeros(h4.shape, dtype=bool)
    for s in range(base.M):
        kink |= h4 * u[s][:, None] > dstar[s][None, :]
    return kink


def _block_values(base: _Base, block: Block, chunk_bytes: int):
    """Stencil values ``f (4, rows, cols)`` of the summed (unscaled) cost, kinks and steps."""
    l = block.layer
    x = block.take(base.params)  # (rows, cols)
    h = default_step(x)
    if l == base.L:  # the output layer: exact, O(M) per entry
        f, kink = _dense_entries(base, block, h, np.arange(x.shape[1]), chunk_bytes)
    else:
        f, kink = _series_block(base, block, h, _layer_series(base, l, chunk_bytes), chunk_bytes)
    return f, kink, h


def _block_numeric(base: _Base, block: Block, chunk_bytes: int):
    f, kink, h = _block_values(base, block, chunk_bytes)
    f *= base.scale
    # issue 9: the structured differences cancel identical rounding: measure it
    numeric, noise = central_from_values(f[0], f[1], f[2], f[3], h, base.f_scale, measured=True)
    return numeric, noise, kink


def _series_block(base: _Base, block: Block, h: np.ndarray, ser: _LayerSeries, chunk_bytes: int):
    """Stencil values ``f (4, rows, cols)`` and kinks of a hidden layer's block from its series.

    ``f_k[a, b] = sum_s phi_{s,b}(k h_ab u_sa) = sum_n (k h_ab)**n Q_n[a, b]`` with
    ``Q_n = (u**n)^T c_n``: one (rows x M) by (M x cols) product per order (scaled by
    ``umax`` and ``hmax_b`` so no power over- or underflows).  Columns whose series is not
    certified are redone densely; relu kinks are corrected sample by sample
    (``_relu_crossings``).
    """
    u = _block_u(base, block)  # (M, rows)
    K = ser.coeffs.shape[0]
    hmax = np.max(h, axis=0)
    umax = float(np.max(np.abs(u)))
    umax = umax if umax > 0 else 1.0
    un = u / umax
    rad = hmax * umax
    Q = []
    pw = np.ones_like(un)
    radn = np.ones_like(rad)
    for n in range(1, K + 1):
        pw = pw * un
        radn = radn * rad
        Q.append(_matmul(np.ascontiguousarray(pw.T), ser.coeffs[n - 1] * radn))
    ratio = h / hmax
    f = np.empty((4,) + h.shape)
    for i, k in enumerate(STENCIL):
        t = k * ratio
        acc = Q[K - 1] * t
        for n in range(K - 1, 0, -1):
            acc += Q[n - 1]
            acc *= t
        f[i] = acc
    kink = np.zeros(h.shape, dtype=bool)
    if base.spec.activation is Activation.RELU:
        kink = _relu_crossings(base, block, h, ser, f, chunk_bytes)
    cols = np.flatnonzero(ser.dense)
    if cols.size:
        f[:, :, cols], kink[:, cols] = _dense_entries(base, block, h[:, cols], cols, chunk_bytes)
    return f, kink


def _relu_crossings(base: _Base, block: Block, h: np.ndarray, ser: _LayerSeries, f: np.ndarray,
                    chunk_bytes: int) -> np.ndarray:
    """Kinks of a relu block, and true values for them: ``f`` corrected in place.

    Only the (entry, sample) pairs whose stencil reaches the sample's first kink,
    ``4 h_ab |u_sa| > dstar[s, b]``, are wrong in the series; for those the series term is
    replaced by ``phi_{s,b}`` itself, one sample propagated exactly (``_relu_exact``).
    """
    u = _block_u(base, block)
    h4 = 4.0 * h
    kink = np.zeros(h.shape, dtype=bool)
    hits = []
    for s in range(base.M):
        cross = h4 * np.abs(u[s])[:, None] > ser.dstar[s][None, :]
        cross[:, ser.dense] = False  # those columns are redone densely anyway
        if cross.any():
            a, b = np.nonzero(cross)
            hits.append((np.full(a.size, s), a, b))
            kink |= cross
    if not hits:
        return kink
    s, a, b = (np.concatenate(x) for x in zip(*hits))
    step = max(1, chunk_bytes // (8 * 4 * 4 * max(base.spec.dims[block.layer :])))
    for i0 in range(0, s.size, step):
        i = slice(i0, i0 + step)
        t = (h[a[i], b[i]] * u[s[i], a[i]])[:, None] * STENCIL[None, :]  # (n, 4)
        c = ser.coeffs[:, s[i], b[i]]  # (K, n)
        series = np.zeros(t.shape)
        for n in range(c.shape[0], 0, -1):
            series += c[n - 1][:, None]
            series *= t
        fix = _relu_exact(base, block.layer, s[i], b[i], t) - series
        np.add.at(f, (slice(None), a[i], b[i]), fix.T)
    return kink


def _relu_exact(base: _Base, l: int, s: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``phi_{s,b}(t)`` (n, 4) exactly: one sample per row, ``z_l[s, b]`` moved by ``t``."""
    relu = Activation.RELU
    da = _act_diff(relu, base.zs[l][s, b][:, None], None, t)
    dz = da[:, :, None] * base.layers[l][0][b][:, None, :]  # (n, 4, D_{l+1})
    for m in range(l + 1, base.L):
        da = _act_diff(relu, base.zs[m][s][:, None, :], None, dz)
        dz = _matmul(da.reshape(-1, da.shape[-1]), base.layers[m][0]).reshape(da.shape[:-1] + (-1,))
    y = base.labels[s][:, None, :]
    if base.spec.loss is Loss.CE:
        p = base.acts[-1][s][:, None, :]
        return base.ysum[s][:, None] * np.log1p(np.sum(p * np.expm1(dz), axis=2)) - np.sum(y * dz, axis=2)
    A, B = base.act_coeffs(base.L)
    zL = base.zs[base.L][s][:, None, :]
    dy = _act_diff(Activation.SIGMOID, zL, (A[s][:, None, :], B[s][:, None, :]), dz)
    return np.sum(dy * ((base.acts[-1][s][:, None, :] - y) + 0.5 * dy), axis=2)


def _dense_entries(base: _Base, block: Block, h: np.ndarray, cols: np.ndarray, chunk_bytes: int,
                   rows: np.ndarray | None = None):
    """Stencil values ``f (4, rows, cols)`` and kinks by the dense path (``_tile``), tiled."""
    l = block.layer
    u_all = _block_u(base, block).T  # (rows, M): row a is how z_l[:, col] moves
    if rows is not None:
        u_all = u_all[rows]
    nr, nc = h.shape
    dense = l < base.L
    per_entry = 4 * base.M * 8 * (6 + (4 * max(base.spec.dims[l + 1 :]) if dense else 0))
    ncol = int(max(1, min(nc, chunk_bytes // per_entry)))
    nrow = int(max(1, min(nr, chunk_bytes // (per_entry * ncol))))
    f = np.empty((4, nr, nc))
    kink = np.zeros((nr, nc), dtype=bool)
    for r0 in range(0, nr, nrow):
        r = slice(r0, min(nr, r0 + nrow))
        for c0 in range(0, nc, ncol):
            c = slice(c0, min(nc, c0 + ncol))
            ft, kink[r, c] = _tile(base, l, u_all[r], cols[c], h[r, c], chunk_bytes)
            f[:, r, c] = np.moveaxis(ft, 1, 0)
    return f, kink


def _tile(base: _Base, l: int, u: np.ndarray, c: np.ndarray, h: np.ndarray, chunk_bytes: int):
    """Cost changes ``f (A, 4, C)`` at the stencil points of a tile of layer-l entries, and kinks.

    ``u (A, M)`` is how z_l[:, col] moves per unit of each row's entries, ``c`` the
    columns, ``h (A, C)``.  Exact changes (``_act_diff``) propagated densely.
    """
    spec = base.spec
    hs = h[:, None, :] * STENCIL[None, :, None]  # (A, 4, C)
    dmax = 4.0 * float(np.max(h)) * float(np.max(np.abs(u)))  # >= max |d|
    d = hs[:, :, None, :] * u[:, None, :, None]  # (A, 4, M, C)
    kink = np.zeros(h.shape, dtype=bool)
    if l == base.L:  # output layer: z_L[:, col] moves by d
        y = base.labels[:, c]
        if spec.loss is Loss.CE:
            p = base.acts[-1][:, c]
            with np.errstate(all="ignore"):
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
