"""Extended-precision derivatives of the built-in network's cost, for chosen entries.

numpy only.  Used by ``differences.settle`` for the entries whose float64 differences
cannot decide the verdict (a small entry of a large summed cost: the central difference's
error is ~1e-10 of the cost's scale, the entry 1e-4 of it).

Method
------
Everything is computed in ``np.longdouble`` (x86-64: 80-bit, ``eps = 2**-63 ~ 1.08e-19``).
The forward pass is redone in longdouble.  The loss's local derivatives are taken by
the *complex step* of its forward function itself, never from a derivative formula; the
activations' by closed forms without cancellation (``_slope``)::

    act'(z)            = sigmoid(z) sigmoid(-z),  1 / cosh(z)**2   (relu: its linear piece)
    dc_s / dz_L[s, j]  = Im c_s(z_L + i H e_j) / H    (log-sum-exp cross-entropy, or the
                                                       sigmoid + squared error)

with ``H = 2**-600``: the complex step has no cancellation, and its truncation
``H**2 |f'''| / 6`` is below 1e-300 of the value (cross-entropy is taken as
``sum_j y_j (d_k + log1p(sum_{i != k} exp(d_i - d_k)))``, ``d = z - z_j``, so that even
``1 - p`` of a saturated softmax comes out to full relative precision).  Perturbing
``W_l[a, b]`` moves only ``z_l[:, b]``, by ``u_s = a_{l-1}[s, a]`` per unit (1 for
``b_l[b]``); chaining the local derivatives over the later layers (the complex step of
the whole cost to first order in H) gives, per sample and unit,
``G[s, b] = dc_s / dz_l[s, b]``::

    G_L = dc / dz_L,   G_l = act'(z_l) * (G_{l+1} W_{l+1}^T),   df / dW_l[a, b] = s sum_s u_s G_l[s, b]

(``s = 1/M`` for a mean cost): the sums over paths of products of local derivatives,
accumulated from the output, once per layer for every column.  The forward products
``a W + b`` are exact float64 pieces added in longdouble (``exact.affine``).

Error bound
-----------
A forward rounding-error analysis, element by element: every quantity is a sum of
products, so its error is at most ``gamma_n = n eps / (1 - n eps)`` times the same sum
over absolute values (``S``, accumulated alongside with ``|act'|`` and ``|W|``; for the
loss, the sizes of the two terms whose difference the complex step forms).  The
longdouble pre-activations differ from the exact ones by ``delta_m`` (``exact.affine``'s
bound plus the earlier layers' errors carried through ``|W|``), which moves each local
derivative by at most ``K delta_m`` relative (``K = sup |act''/act'|``: 2 for tanh, 1 for
the sigmoid) and the softmax's by ``p_k ((1 - p_k) delta_k + sum_{i != k} p_i delta_i)``.
``E`` carries all of it from the output down; an entry's bound is
``SAFETY s sum_s (|u_s| E_s + err(u_s) (|G_s| + E_s)) + gamma_M S`` plus the rounding to
float64.  It is ~1e-15 of ``S``, and contains the truth: the tests compare it with
mpmath at 60 digits.
"""

from __future__ import annotations

import numpy as np

from ..finite_diff import SAFETY
from .exact import affine, matmul
from .model import Activation, Block, Loss, NetworkSpec

LD = np.longdouble
#: longdouble's machine epsilon (float64's on platforms without extended precision)
EPS_LD = float(np.finfo(LD).eps)
#: the complex step (a power of 2: dividing by it is exact; longdouble's range holds its products)
H = LD(2.0) ** -600 if np.finfo(LD).minexp < -2000 else LD(2.0) ** -300
#: sup |act''/act'|: how far a rounding error of z moves the local derivative, relatively
_CURVATURE = {Activation.SIGMOID: 1.0, Activation.TANH: 2.0, Activation.RELU: 0.0}
#: complex longdouble numbers per chunk of the loss's complex steps (Dy copies of z_L)
_LOSS_CHUNK = 2_000_000
#: share of a weight block's entries above which they are all computed at once
_WHOLE_BLOCK = 0.25
#: |z| beyond this: exp(|z|) would overflow longdouble (its sigmoid' is below 1e-4700 there)
_CLIP = 11000.0 if np.finfo(LD).maxexp > 2000 else 700.0


def _sigmoid(z):
    """``1 / (1 + exp(-z))`` for real or complex longdouble z (clipped: no overflow)."""
    if np.iscomplexobj(z):
        z = np.clip(z.real, -_CLIP, _CLIP) + 1j * z.imag
    else:
        z = np.clip(z, -_CLIP, _CLIP)
    return 1 / (1 + np.exp(-z))


def _sigmoid_pair(z):
    """``(sigmoid(z), sigmoid(-z))`` of real longdouble z from one exponential: ``e =
    exp(-z)``, ``sigmoid(z) = 1 / (1 + e)``, ``sigmoid(-z) = e sigmoid(z)``: neither cancels
    (a saturated unit's ``1 - yhat`` of 1e-47 keeps its relative precision).  Not for the
    complex step: there ``Im(e sigmoid(z))`` is a difference of two nearly equal terms."""
    z = np.clip(z, -_CLIP, _CLIP)
    e = np.exp(-z)
    up = 1 / (1 + e)
    return up, e * up


def _act(kind: Activation, z):
    if kind is Activation.SIGMOID:
        return _sigmoid(z)
    if kind is Activation.TANH:
        return np.tanh(z)
    return np.where(np.real(z) > 0, z, 0)


def _slope(kind: Activation, z) -> np.ndarray:
    """``act'(z)`` in closed form (real longdouble): ``sigmoid(z) sigmoid(-z)``,
    ``1 / cosh(z)**2``, relu's 0 or 1.  No cancellation at any z (a saturated unit's
    1e-40 comes out to full relative precision), a few roundings (within ``_gamma(16)``
    of ``rho``), and a fraction of the complex step's cost (complex longdouble tanh)."""
    if kind is Activation.SIGMOID:
        up, down = _sigmoid_pair(z)
        return up * down
    if kind is Activation.TANH:
        with np.errstate(over="ignore"):  # |z| > 11356: cosh = inf, the slope 0 (truly < 1e-4900)
            return (1 / np.cosh(z)) ** 2
    return (np.asarray(z) > 0).astype(LD)


def _losses(spec: NetworkSpec, z, labels, ysum):
    """Per-sample costs ``c_s`` of complex logits ``z (..., M, Dy)`` (no mean).

    Cross-entropy as ``sum_j y_j (-log p_j)`` with ``-log p_j = d_k + log1p(sum_{i != k}
    exp(d_i - d_k))``, ``d = z - z_j`` and k the largest ``d``: no term cancels, so the
    complex step gives ``1 - p_j`` (a saturated softmax's 1e-40) to full relative precision.
    """
    if spec.loss is Loss.CE:
        y = labels.reshape(-1, labels.shape[-1])  # (M, Dy): the same for every copy of z
        out = np.zeros(z.shape[:-1], dtype=z.dtype)
        for j in np.flatnonzero(np.any(y != 0, axis=0)):
            rows = np.flatnonzero(y[:, j] != 0)  # one-hot: each sample in one class only
            zr = z[..., rows, :]
            d = zr - zr[..., j:j + 1]
            k = np.argmax(np.real(d), axis=-1)[..., None]
            dk = np.take_along_axis(d, k, axis=-1)
            e = np.exp(d - dk)
            np.put_along_axis(e, k, 0, axis=-1)
            out[..., rows] += y[rows, j] * (dk[..., 0] + np.log1p(np.sum(e, axis=-1)))
        return out
    return np.sum(_output_terms(z, labels), axis=-1)


def _output_terms(z, labels):
    """Squared error per output, ``(yhat - y)**2 / 2`` of complex logits ``z``.

    ``yhat - y = (1 - y) sigmoid(z) - y sigmoid(-z)``: for 0/1 labels one term is 0, so a
    saturated output's ``1 - yhat`` (1e-47 next to 1) is not lost to cancellation.
    """
    d = (1 - labels) * _sigmoid(z) - labels * _sigmoid(-z)  # complex: two exps (``_sigmoid_pair``)
    return 0.5 * (d * d)


def _gamma(n: float) -> float:
    return n * EPS_LD / (1.0 - n * EPS_LD)


class Precise:
    """The longdouble forward pass, local derivatives and rounding bounds of one problem.

    ``delta[m]`` (M, D_m, float64) bounds the error of the longdouble ``z_m``; ``rho[m]``
    the relative error of the local derivative at layer m (``K delta_m`` plus its own
    rounding); ``out_abs`` the size of the terms the loss's complex step subtracts.
    """

    def __init__(self, spec: NetworkSpec, data, labels, params) -> None:
        self.spec, self.L = spec, spec.layers
        self.M = int(np.shape(data)[0])
        self.scale = LD(1) / self.M if spec.mean else LD(1)
        self.labels = np.asarray(labels, dtype=LD)
        self.ysum = np.sum(self.labels, axis=1)
        self.w64 = [(W, b) for W, b in spec.unpack(np.asarray(params, dtype=float))]
        self.layers = [(W.astype(LD), b.astype(LD)) for W, b in self.w64]
        self.abs_w = [np.abs(W).astype(float) for W, _ in self.layers]
        kind = spec.activation
        a = np.asarray(data, dtype=float)  # exact; sliced in float64 by _affine
        self.acts, self.zs, self.slopes = [a.astype(LD)], [None], [None]
        self.delta: list = [np.zeros(a.shape)]  # error of acts[0] (exact data) then of z_m
        self.act_err: list = [np.zeros(a.shape)]  # error of acts[m]
        self.rho: list = [None]
        self._adjoint: dict = {}
        for l, (W, b) in enumerate(self.w64, start=1):
            z, own = affine(a, W, b)
            absW = self.abs_w[l - 1]
            # rounding of z's own sum, plus the error of the activations it sums
            d = own + matmul(self.act_err[-1], absW)
            self.delta.append(d * (1 + 1e-6))
            self.zs.append(z)
            if l < self.L:
                sl = _slope(kind, z)
                self.slopes.append(sl)
                a = _act(kind, z)
                self.acts.append(a)
                own_act = 0.0 if kind is Activation.RELU else _gamma(8) * np.abs(a).astype(float)  # relu: exact
                self.act_err.append(np.abs(sl).astype(float) * d * (1 + 1e-6) + own_act)
                self.rho.append(_CURVATURE[kind] * self.delta[-1] + _gamma(16))
        zL = self.zs[-1]
        Dy = zL.shape[1]
        eye = np.eye(Dy, dtype=LD)[:, None, :]  # (Dy, 1, Dy): column j perturbed in copy j
        self.out_grad = np.empty(zL.shape, dtype=LD)  # (M, Dy): dc_s / dz_L[s, j]
        if spec.loss is Loss.MSE:  # a sum of one term per output: every z_L[s, j] stepped at once
            self.out_grad[:] = np.imag(_output_terms(zL + 1j * H, self.labels)) / H
        rows = max(1, _LOSS_CHUNK // (Dy * Dy))  # Dy complex copies of z_L: in chunks of samples
        for r0 in range(0, self.M if spec.loss is Loss.CE else 0, rows):
            r = slice(r0, r0 + rows)
            c = _losses(spec, zL[None, r] + 1j * H * eye, self.labels[None, r], self.ysum[None, r])
            self.out_grad[r] = (np.imag(c) / H).T
        dL = self.delta[-1]
        if spec.loss is Loss.CE:
            lp = zL - np.max(zL, axis=1, keepdims=True)
            p = np.exp(lp - np.log(np.sum(np.exp(lp), axis=1, keepdims=True))).astype(float)
            off = 1.0 - np.eye(Dy)  # sums over i != k, without the cancellation of 1 - p_k
            q = p @ off  # 1 - p_k
            ysum = self.ysum.astype(float)[:, None]
            y = np.abs(self.labels).astype(float)
            # g_k = ysum p_k - y_k = (ysum - y_k) p_k - y_k (1 - p_k): the two terms' sizes
            out_abs = (ysum - y) * p + y * q
            # dp_k = p_k ((1 - p_k) dz_k - sum_{i != k} p_i dz_i): z_L's errors move g_k by at most
            moved = ysum * p * (q * dL + (p * dL) @ off)
        else:
            y = self.labels.astype(float)
            up, down = (v.astype(float) for v in _sigmoid_pair(zL))
            s1 = up * down  # sigmoid'(z_L) (``_slope``)
            # the two terms of yhat - y = (1 - y) sigmoid(z) - y sigmoid(-z) (``_losses``)
            terms = np.abs(1 - y) * up + np.abs(y) * down
            out_abs = terms * s1
            # d/dz [(sigmoid - y) sigmoid'] = sigmoid'**2 + (sigmoid - y) sigmoid'', |sigmoid''| <= sigmoid',
            # |sigmoid - y| <= terms (which itself moves by at most (|1 - y| + |y|) sigmoid' dL)
            moved = (s1 * (1 + np.abs(1 - y) + np.abs(y)) + terms) * s1 * dL
        self.out_abs = np.maximum(out_abs, np.abs(self.out_grad).astype(float))
        # error of out_grad: the loss's own rounding (its sums over Dy) and z_L's error
        self.out_err = _gamma(2 * Dy + 32) * self.out_abs + moved * (1 + 1e-3)
        self.out_grad_abs = np.abs(self.out_grad).astype(float)

    def columns(self, l: int, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(G, S, E)`` (M, len(cols)): ``dc_s / dz_l[s, b]``, its absolute-value twin and
        the bound of G's error (float64 S and E)."""
        if l not in self._adjoint:
            self._fill(l)
        G, S, E = self._adjoint[l]
        return G[:, cols], S[:, cols], E[:, cols]

    def _fill(self, l: int) -> None:
        """The chain of the module docstring for every unit of layer l at once.

        ``G_l = act'(z_l) * (G_{l+1} W_{l+1}^T)``: the same sums of products of local
        derivatives as the per-column forward chain, accumulated from the output (one
        product per layer for all columns); the twins ``S`` and ``E`` likewise.
        """
        if l == self.L:
            self._adjoint[l] = (self.out_grad, self.out_abs, self.out_err)
            return
        if l + 1 not in self._adjoint:
            self._fill(l + 1)
        G1, S1, E1 = self._adjoint[l + 1]
        W = self.layers[l][0]  # W_{l+1}: (D_l, D_{l+1})
        absW = self.abs_w[l]
        back = G1 @ W.T
        sback = matmul(S1, absW.T)
        sl = self.slopes[l]
        sa = np.abs(sl).astype(float)
        G = sl * back
        S = sa * sback
        E = sa * (matmul(E1, absW.T) + _gamma(absW.shape[1] + 2) * sback) + self.rho[l] * S
        self._adjoint[l] = (G, S, E)


def entry_derivatives(spec: NetworkSpec, data, labels, params, block: Block, rows, cols,
                      precise: Precise | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(value, error)`` (float64) of ``df / d block[rows[i], cols[i]]`` for every i.

    ``value`` is the longdouble complex-step derivative rounded to float64; ``error`` the
    bound of the module docstring (the truth lies within ``value ± error``).
    """
    p = precise if precise is not None else Precise(spec, data, labels, params)
    rows = np.asarray(rows, dtype=int).ravel()
    cols = np.asarray(cols, dtype=int).ravel()
    if rows.size == 0:
        return np.zeros(0), np.zeros(0)
    l = block.layer
    if not block.is_bias and rows.size > _WHOLE_BLOCK * block.size:
        out, error = _whole_block(p, block, rows, cols)
        # the exact float64 slices (``exact.affine``) of a unit's activations or of a column
        # of G near or below float64's range (a saturated output's exp(-1e4)) would underflow:
        # those entries take the column path (plain longdouble)
        G = p.columns(l, np.arange(block.shape[1]))[0]
        bad = _underflows(np.max(np.abs(p.acts[l - 1]), axis=0))[rows] | _underflows(np.max(np.abs(G), axis=0))[cols]
        bad |= ~(np.isfinite(out) & np.isfinite(error))
        if np.any(bad):
            out[bad], error[bad] = _columns(p, block, rows[bad], cols[bad])
        return out, error
    return _columns(p, block, rows, cols)


#: below this a float64 slice of ``exact.affine`` (84 bits under the largest) could underflow
_SLICE_FLOOR = LD(2.0) ** -900


def _underflows(largest) -> np.ndarray:
    """Where a row/column whose largest magnitude is ``largest`` cannot be sliced exactly in float64."""
    return (largest > 0) & (largest < _SLICE_FLOOR)


def _columns(p: Precise, block: Block, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``entry_derivatives`` column by column: ``s sum_s u_s G[s, b]`` summed in longdouble."""
    l = block.layer
    need, inverse = np.unique(cols, return_inverse=True)
    G, S, E = p.columns(l, need)
    if block.is_bias:
        u = np.ones((p.M, rows.size), dtype=LD)
        u_err = np.zeros((p.M, rows.size))
    else:
        u = p.acts[l - 1][:, rows]  # (M, n)
        u_err = p.act_err[l - 1][:, rows]
    g, s, e = G[:, inverse], S[:, inverse], E[:, inverse]
    value = p.scale * np.sum(u * g, axis=0)
    ua = np.abs(u).astype(float)
    bound = float(p.scale) * (np.sum(ua * e + u_err * (np.abs(g).astype(float) + e), axis=0)
                              + _gamma(p.M + 2) * np.sum(ua * s, axis=0))
    out = value.astype(float)
    with np.errstate(all="ignore"):
        # rounding to float64: half its spacing (never 0: a subnormal's spacing is 5e-324)
        error = SAFETY * bound + np.spacing(np.abs(out))
    return out, error


def _whole_block(p: Precise, block: Block, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``entry_derivatives`` for many entries of a weight block: the whole ``u^T G`` at once
    (exact float64 pieces, ``exact.affine``), its bound by float64 products of the twins."""
    l = block.layer
    G, S, E = p.columns(l, np.arange(block.shape[1]))
    u = np.ascontiguousarray(p.acts[l - 1].T)  # (D_{l-1}, M)
    ua = np.abs(u).astype(float)
    u_err = np.ascontiguousarray(p.act_err[l - 1].T)
    full, own = affine(u, G, np.zeros((1, G.shape[1]), dtype=LD))
    # the float64 products of non-negative terms: 1 + 2 M eps64 covers their own rounding
    grow = 1 + 2 * (p.M + 2) * 2.0 ** -52
    bound = float(p.scale) * grow * (matmul(ua, E) + matmul(u_err, np.abs(G).astype(float) + E)
                                     + _gamma(p.M + 2) * matmul(ua, S) + own)
    value = (p.scale * full)[rows, cols]
    out = value.astype(float)
    with np.errstate(all="ignore"):
        error = SAFETY * bound[rows, cols] + np.spacing(np.abs(out))
    return out, error
