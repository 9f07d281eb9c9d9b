"""Exact cost changes of the built-in network, propagated densely.

numpy only.  The output layer's per-sample changes are closed-form::

    cross-entropy:  dc_s = (sum_j y_sj) log1p(p_sb expm1(d)) - y_sb d
    squared error:  dc_s = dyhat (yhat_sb - y_sb + dyhat / 2)

and a hidden layer's change is pushed through every later layer with exact activation
changes (``kernels.act_diff``).  Used for the output layer, for hidden units whose
series cannot be certified (``network.series``), for relu kinks, and by fast mode.
"""

from __future__ import annotations

import numpy as np

from .kernels import STENCIL, Base, act_diff, block_u, matmul
from .model import Activation, Block, Loss


def _output_dense(base: Base, dz: np.ndarray) -> np.ndarray:
    """``sum_i dc_i`` for a full change ``dz`` (..., M, Dy) of ``z_L`` (unscaled)."""
    y = base.labels
    if base.spec.loss is Loss.CE:
        p = base.acts[-1]
        with np.errstate(all="ignore"):
            s = np.einsum("...ij,ij->...i", np.expm1(dz), p)
            dc = base.ysum * np.log1p(s) - np.einsum("...ij,ij->...i", dz, y)
    else:
        yhat = base.acts[-1]
        dy = act_diff(Activation.SIGMOID, base.zs[-1], base.act_coeffs(base.L), dz)
        dc = np.einsum("...ij,...ij->...i", dy, (yhat - y) + 0.5 * dy)
    return np.sum(dc, axis=-1)


def _crossing(z, dz) -> np.ndarray:
    """Where ``z + dz`` and ``z`` lie on different sides of 0 (a relu kink crossed)."""
    return (z > 0) != (z + dz > 0)


def propagate(base: Base, l: int, dz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
        da = act_diff(base.spec.activation, z, coeffs, dz)
        W = base.layers[l][0]
        dz = matmul(da.reshape(-1, da.shape[-1]), W).reshape(batch + (base.M, W.shape[1]))
        l += 1
    return _output_dense(base, dz), kink


def relu_exact(base: Base, l: int, s: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``phi_{s,b}(t)`` (n, 4) exactly: one sample per row, ``z_l[s, b]`` moved by ``t``."""
    relu = Activation.RELU
    da = act_diff(relu, base.zs[l][s, b][:, None], None, t)
    dz = da[:, :, None] * base.layers[l][0][b][:, None, :]  # (n, 4, D_{l+1})
    for m in range(l + 1, base.L):
        da = act_diff(relu, base.zs[m][s][:, None, :], None, dz)
        dz = matmul(da.reshape(-1, da.shape[-1]), base.layers[m][0]).reshape(da.shape[:-1] + (-1,))
    y = base.labels[s][:, None, :]
    if base.spec.loss is Loss.CE:
        p = base.acts[-1][s][:, None, :]
        return base.ysum[s][:, None] * np.log1p(np.sum(p * np.expm1(dz), axis=2)) - np.sum(y * dz, axis=2)
    A, B = base.act_coeffs(base.L)
    zL = base.zs[base.L][s][:, None, :]
    dy = act_diff(Activation.SIGMOID, zL, (A[s][:, None, :], B[s][:, None, :]), dz)
    return np.sum(dy * ((base.acts[-1][s][:, None, :] - y) + 0.5 * dy), axis=2)


def dense_entries(base: Base, block: Block, h: np.ndarray, cols: np.ndarray, chunk_bytes: int,
                   rows: np.ndarray | None = None):
    """Stencil values ``f (4, rows, cols)`` and kinks by the dense path (``_tile``), tiled."""
    l = block.layer
    u_all = block_u(base, block).T  # (rows, M): row a is how z_l[:, col] moves
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


def _tile(base: Base, l: int, u: np.ndarray, c: np.ndarray, h: np.ndarray, chunk_bytes: int):
    """Cost changes ``f (A, 4, C)`` at the stencil points of a tile of layer-l entries, and kinks.

    ``u (A, M)`` is how z_l[:, col] moves per unit of each row's entries, ``c`` the
    columns, ``h (A, C)``.  Exact changes (``act_diff``) propagated densely.
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
            dy = act_diff(Activation.SIGMOID, base.zs[l][:, c], (A[:, c], B[:, c]), d)
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
    da = act_diff(spec.activation, z, coeffs, d, dmax)  # (A, 4, M, C)
    # dense: z_{l+1}[i, :] moves by da[i] * W_{l+1}[col, :], a few rows at a time
    W = base.layers[l][0][c]  # (C, D_{l+1})
    nA, C = h.shape
    group = max(1, chunk_bytes // (4 * 4 * C * base.M * max(spec.dims[l + 1 :]) * 8))
    f = np.empty((nA, 4, C))
    for a0 in range(0, nA, group):
        a = slice(a0, min(nA, a0 + group))
        dz = np.moveaxis(da[a], 3, 2)[..., None] * W[None, None, :, None, :]  # (a, 4, C, M, D_{l+1})
        f[a], kk = propagate(base, l + 1, dz)
        kink[a] |= np.any(kk, axis=1)
    return f, kink
