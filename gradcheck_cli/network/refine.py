"""The few entries longdouble cannot settle: their dominant samples redone in mpmath.

numpy, and mpmath (imported when an entry needs it).  An entry's derivative is a sum over
samples, ``s sum_s u_s G[s, b]`` (``network.precise``), whose longdouble bound is about
1e-15 of each sample's terms ``|u_s| S_s``: the error of the longdouble pre-activations
(a few ulps of z, carried through every later layer) moves each local derivative.  When
samples of size 1 cancel to 1e-7 (a chance cancellation; about one entry in 10**7 at
784-300-300-10), that bound is 1e-7 of the entry itself and the verdict stays open.

Such an entry is refined: the ``MAX_SAMPLES`` samples that carry most of its bound are
recomputed in mpmath at ``DIGITS`` digits, one sample at a time (the forward pass from the
exact float64 data and parameters, then the chain of local derivatives back to the unit:
``act'`` as ``sigmoid(z) sigmoid(-z)`` or ``1 / cosh(z)**2``, the loss's ``ysum p - y`` or
``((1 - y) sigmoid(z) - y sigmoid(-z)) sigmoid(z) sigmoid(-z)``: no cancellation at any
size).  The other samples keep their longdouble terms and bounds, and every term is added
exactly in mpmath.  A refined sample's error is far below ``REFINED_REL |u_s| S_s``
(40-digit arithmetic, amplified like the longdouble pass's 1e-19 into 1e-15: about
1e-35), which the bound takes for it.
"""

from __future__ import annotations

import numpy as np

from ..finite_diff import SAFETY
from .model import Activation, Block, Loss, NetworkSpec

#: digits of the mpmath evaluation of a refined sample
DIGITS = 40
#: the bound taken for a refined sample, relative to its terms ``|u_s| S_s`` (its true error: ~1e-35)
REFINED_REL = 1e-25
#: samples recomputed per entry (the ones carrying most of its longdouble bound)
MAX_SAMPLES = 4
#: entries refined per check at most (each costs a few mpmath forward passes)
MAX_ENTRIES = 16


def _exact(v):
    """A longdouble or float64 number as an exact mpmath number."""
    import mpmath

    n, d = np.longdouble(v).as_integer_ratio()
    return mpmath.mpf(n) / d


def _act(kind: Activation, z):
    import mpmath

    if kind is Activation.SIGMOID:
        return 1 / (1 + mpmath.exp(-z))
    if kind is Activation.TANH:
        return mpmath.tanh(z)
    return z if z > 0 else mpmath.mpf(0)


def _slope(kind: Activation, z):
    import mpmath

    if kind is Activation.SIGMOID:
        return 1 / ((1 + mpmath.exp(-z)) * (1 + mpmath.exp(z)))
    if kind is Activation.TANH:
        return 1 / mpmath.cosh(z) ** 2
    return mpmath.mpf(1) if z > 0 else mpmath.mpf(0)


#: bits kept of each vector in ``_product``, below its largest entry (2**-200 of it: far
#: below the 40 digits' 1e-40, and the result's error is 2**-200 max|v| sum|W|)
_FIXED = 200


def _integers(W) -> tuple[np.ndarray, int]:
    """``W = Wint * 2**e``: every float64 entry as an exact integer of a common unit."""
    W = np.asarray(W, dtype=float)
    m, e = np.frexp(W)
    mant = np.ldexp(m, 53).astype(np.int64)  # exact: 53-bit integers
    e = e.astype(np.int64) - 53
    e0 = int(e[mant != 0].min()) if np.any(mant != 0) else 0
    shift = (e - e0).ravel().tolist()
    ints = [int(q) << k for q, k in zip(mant.ravel().tolist(), shift)]
    return np.array(ints, dtype=object).reshape(W.shape), e0


def _product(v: list, W: tuple[np.ndarray, int]) -> list:
    """``v @ W`` for a vector ``v`` of mpmath numbers and ``W`` given by ``_integers``: the
    vector rounded to ``2**-_FIXED`` of its largest entry, the sums in exact integer
    arithmetic, then one rounding to ``DIGITS`` digits per result."""
    import mpmath

    Wint, e0 = W
    top = max((abs(x) for x in v), default=mpmath.mpf(0))
    if top == 0:
        return [mpmath.mpf(0)] * Wint.shape[1]
    shift = _FIXED - int(mpmath.floor(mpmath.log(top, 2)))
    vint = np.array([int(mpmath.nint(mpmath.ldexp(x, shift))) for x in v], dtype=object)
    sums = vint.dot(Wint)
    return [mpmath.ldexp(mpmath.mpf(int(t)), e0 - shift) for t in sums]


def sample_column(spec: NetworkSpec, x, y, params, l: int, b: int, ints=None):
    """``(acts, g)`` of one sample in mpmath: every layer's activations and ``dc / dz_l[b]``.

    ``ints`` caches the weights as exact integers (``_integers``) between samples."""
    import mpmath

    layers = [(W, bias.ravel()) for W, bias in spec.unpack(np.asarray(params, dtype=float))]
    ints = {} if ints is None else ints
    for m, (W, _) in enumerate(layers):
        if m not in ints:
            ints[m] = _integers(W)
            ints[("T", m)] = (np.ascontiguousarray(ints[m][0].T), ints[m][1])
    a = [mpmath.mpf(float(v)) for v in x]
    acts, zs = [a], [None]
    for m, (W, bias) in enumerate(layers, start=1):
        z = [v + mpmath.mpf(float(c)) for v, c in zip(_product(a, ints[m - 1]), bias)]
        zs.append(z)
        if m < spec.layers:
            a = [_act(spec.activation, v) for v in z]
            acts.append(a)
    zL = zs[-1]
    y = [mpmath.mpf(float(v)) for v in y]
    if spec.loss is Loss.CE:
        top = max(zL)
        lse = top + mpmath.log(mpmath.fsum(mpmath.exp(v - top) for v in zL))
        ysum = mpmath.fsum(y)
        g = [ysum * mpmath.exp(v - lse) - yj for v, yj in zip(zL, y)]
    else:
        sig = lambda t: 1 / (1 + mpmath.exp(-t))  # noqa: E731
        g = [((1 - yj) * sig(v) - yj * sig(-v)) * sig(v) * sig(-v) for v, yj in zip(zL, y)]
    for m in range(spec.layers - 1, l - 1, -1):  # g = dc / dz_{m+1} -> dc / dz_m
        W = layers[m][0]  # W_{m+1}: (D_m, D_{m+1})
        if m == l:
            return acts, _slope(spec.activation, zs[m][b]) * mpmath.fdot(g, W[b].tolist())
        back = _product(g, ints[("T", m)])  # W_{m+1} g
        g = [_slope(spec.activation, zs[m][k]) * back[k] for k in range(W.shape[0])]
    return acts, g[b]


def refine(p, spec: NetworkSpec, data, labels, params, block: Block, rows, cols) -> tuple[np.ndarray, np.ndarray]:
    """``(value, error)`` of ``df / d block[rows[i], cols[i]]`` with the dominant samples in mpmath.

    ``p`` is the problem's ``precise.Precise``; see the module docstring for the method
    and the bound.
    """
    import mpmath

    data = np.asarray(data, dtype=float)
    labels = np.asarray(labels, dtype=float)
    rows = np.asarray(rows, dtype=int).ravel()
    cols = np.asarray(cols, dtype=int).ravel()
    l = block.layer
    out, err = np.empty(rows.size), np.empty(rows.size)
    eps_ld = float(np.finfo(np.longdouble).eps)
    ints: dict = {}
    with mpmath.workdps(DIGITS):
        scale = _exact(p.scale)
        for i, (r, c) in enumerate(zip(rows, cols)):
            G, S, E = (v[:, 0] for v in p.columns(l, np.array([c])))
            if block.is_bias:
                u, u_err = np.ones(p.M, dtype=np.longdouble), np.zeros(p.M)
            else:
                u, u_err = p.acts[l - 1][:, r], p.act_err[l - 1][:, r]
            ua = np.abs(u).astype(float)
            per = ua * E + u_err * (np.abs(G).astype(float) + E)  # each sample's longdouble bound
            chosen = [int(s) for s in np.argsort(-per)[:MAX_SAMPLES] if per[s] > 0]
            total, bound, size = mpmath.mpf(0), 0.0, 0.0
            for s in range(p.M):
                if s in chosen:
                    acts, g = sample_column(spec, data[s], labels[s], params, l, c, ints)
                    us = mpmath.mpf(1) if block.is_bias else acts[l - 1][r]
                    total += us * g
                    bound += REFINED_REL * ua[s] * float(S[s])
                else:
                    total += _exact(u[s]) * _exact(G[s])  # exact at DIGITS digits (two 64-bit mantissas)
                    bound += float(per[s])
                size += ua[s] * float(S[s])
            value = float(scale * total)
            # the mpmath sum's own rounding (10**-DIGITS of its terms) and the rounding to float64
            bound = float(p.scale) * (bound + 64 * 10.0 ** -DIGITS * size) * (1 + 4 * eps_ld)
            out[i] = value
            with np.errstate(all="ignore"):
                err[i] = SAFETY * bound + np.spacing(abs(value))
    return out, err
