"""Shared pieces of the built-in network's structured differences.

numpy only.  ``Base`` is the unperturbed forward pass with the per-layer constants of
the difference formulas; the kernels compute activation changes ``act(z + d) - act(z)``
without cancellation (``act_diff``: ``tanh(k d) / (A(z) + B(z) tanh(k d))`` with
``A = 1 + cosh z, B = sinh z, k = 1/2`` for the sigmoid and ``A = cosh**2 z,
B = sinh z cosh z, k = 1`` for tanh), the activation's slope from z (``act_grad``) and
its bound on complex disks (``disk_sup``), and the products of a busy 2-core machine
(``matmul``).  The maths of the whole check is in ``network.differences``.
"""

from __future__ import annotations

from math import pi

import numpy as np

from ..finite_diff import EPS
from .exact import matmul  # noqa: F401  (re-exported: the kernels' product)
from .model import Activation, Block, Loss, NetworkSpec, forward, validate_inputs


#: default size of the work arrays of one tile of the full check
DEFAULT_CHUNK_BYTES = 4 * 2**20


#: radius of the complex disks (pre-activation units) on which each activation is bounded:
#: within it |tanh| <= 1 (tanh) and |tanh(w/2)| <= 1 (sigmoid), see ``disk_sup``
RHO = {Activation.TANH: pi / 4, Activation.SIGMOID: pi / 2, Activation.RELU: np.inf}


#: stencil multipliers: x + h, x - h, x + 4h, x - 4h
STENCIL = np.array([1.0, -1.0, 4.0, -4.0])




_CLIP_Z = 300.0  # |z| beyond this: the activation change is below 1e-130 of the step


# Taylor coefficients of tanh(x) / x in powers of x**2 (alternating, decreasing for |x| < 1)
_TANH_SERIES = (1.0, -1 / 3, 2 / 15, -17 / 315, 62 / 2835, -1382 / 155925, 21844 / 6081075,
                -929569 / 638512875, 6404582 / 10854718875)


#: the ``k`` of ``tanh(k d)`` in the activation-change identity
KAPPA = {Activation.SIGMOID: 0.5, Activation.TANH: 1.0, Activation.RELU: 1.0}


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


class Base:
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
        self.series_cache: dict = {}  # layer -> series.LayerSeries, filled by series.layer_series

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
            self._grad[l] = act_grad(self._kind(l), self.zs[l])
        return self._grad[l]

    def disk_sup(self, l: int) -> np.ndarray:
        """``sup |act'(w)|`` over the complex disks ``|w - z_l| <= RHO[act]`` (M, D_l)."""
        if l not in self._sup:
            self._sup[l] = disk_sup(self._kind(l), self.zs[l], RHO[self._kind(l)])
        return self._sup[l]


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


def act_diff(kind: Activation, z, coeffs, dz, bound: float | None = None, rtol: float = EPS / 8,
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


def act_grad(kind: Activation, z) -> np.ndarray:
    """``act'(z)`` from z, without the cancellation of ``1 - a**2`` or ``a (1 - a)``."""
    if kind is Activation.RELU:
        return (z > 0).astype(float)
    k = KAPPA[kind]
    c = np.cosh(np.clip(k * z, -_CLIP_Z, _CLIP_Z))
    return (k * k) / (c * c)


def disk_sup(kind: Activation, z, rho: float) -> np.ndarray:
    """``sup |act'(w)|`` over complex ``|w - z| <= rho`` (rho <= pi/4 for tanh, pi/2 for sigmoid).

    ``tanh' = 1/cosh**2`` and ``|cosh(x + iy)|**2 = sinh(x)**2 + cos(y)**2``; the sigmoid's
    is ``1/4`` of it at ``w/2``.  ``|act''| <= 2k sup|act'|`` on the same disk, as
    ``|tanh| <= 1`` for ``|Im| <= pi/4``.  relu: its slope (its region is linear).
    """
    if kind is Activation.RELU:
        return (z > 0).astype(float)
    k = KAPPA[kind]
    s = np.sinh(np.minimum(k * np.maximum(np.abs(z) - rho, 0.0), _CLIP_Z))
    return (k * k) / (s * s + np.cos(k * rho) ** 2)


def row_tiles(base: Base, l: int, rows: np.ndarray, chunk_bytes: int):
    """``(s, b)`` index arrays of consecutive tiles of flat (sample, unit) rows of layer l."""
    D = base.spec.dims[l]
    n = int(max(1, chunk_bytes // (8 * 4 * max(base.spec.dims[l + 1 :]))))
    for t0 in range(0, rows.size, n):
        s, b = np.divmod(rows[t0 : t0 + n], D)
        yield s, b


def resolve_blocks(spec: NetworkSpec, blocks) -> list[Block]:
    if blocks is None:
        return spec.blocks
    out = []
    for b in blocks:
        out.append(spec.block(b.name if isinstance(b, Block) else str(b)))
    return out


def block_u(base: Base, block: Block) -> np.ndarray:
    """(M, rows): how ``z_l[:, col]`` moves per unit of each row's entry (``a_{l-1}`` or 1)."""
    if block.is_bias:
        return np.ones((base.M, 1))
    return base.acts[block.layer - 1]
