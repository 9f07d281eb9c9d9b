"""Certified per-unit Taylor series of the built-in network's cost (hidden layers).

numpy only.  Perturbing ``W_l[a, b]`` by ``d`` moves unit b of layer l by ``d u_s`` in
sample s, so the cost change is ``sum_s phi_{s,b}(d u_s)`` (``network.differences``).

*Hidden layers* (every l < L, ``layer_series``): ``phi_{s,b}`` is expanded in its Taylor
series ``sum_n c_n[s, b] t**n`` by univariate Taylor arithmetic through the rest of the
network: the activation series from its ODE (``y' = act'(y) x'``, ``_act_series``), one
matmul per later layer for all orders at once, then the series of the loss (exp and log
by their ODEs, ``_output_series``).  One expansion per (sample, unit) serves every entry
of ``W_l[:, b]`` and ``b_l[b]``::

    f_k[a, b] = sum_n (k h_ab)**n Q_n[a, b],   Q_n = (u**n)^T c_n      (k = +-1, +-4)

an (A x M) by (M x D_l) product per order (``series_block``).  Cost per layer: a few
forward passes of M D_l rows, instead of 4 A D_l M dense ones.

The truncation is certified, not guessed (``tail_orders``).  Cauchy's estimate: if a
function g with the same Taylor coefficients past order 1 as ``phi`` is analytic on the
complex disk ``|t| <= R`` with ``|g| <= B``, the remainder after order K on
``|t| <= r`` (``r >= 4 h |u|``, every stencil point of the column) is at most
``B q**(K+1) / (1 - q)``, ``q = r / R``.  R and B come from bounding every later
pre-activation's change on the disk: its first-order part exactly (``J``, forward mode)
and the rest by the centred form ``|act(z + w) - act(z) - act'(z) w| <= sup|act''| |w|**2/2``
with ``|act'|``, ``|act''|`` bounded on complex disks around z (``disk_sup``:
``|cosh(x + iy)|**2 = sinh(x)**2 + cos(y)**2``).  Each row takes the least order K <=
``MAX_ORDER`` whose remainder is below ``SERIES_BUDGET eps per_sample_scale``, so the
truncation of a stencil sum is below ``SERIES_BUDGET eps f_scale``, i.e. at most 1/40
of the round-off allowance that ``noise`` carries: ``noise`` stays an honest,
conservative bound.  Rows are grouped by order (typically 1-6).  A unit where no order
suffices (a nearly singular disk, a huge step) is computed densely instead (``_tile``:
exact activation changes ``act(z + d) - act(z) = tanh(k d) / (A(z) + B(z) tanh(k d))``
propagated through the later layers).

"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..finite_diff import EPS, default_step
from .dense import dense_entries, relu_exact
from .kernels import KAPPA, RHO, STENCIL, Base, block_u, matmul, row_tiles
from .model import Activation, Block, Loss


#: share of the round-off allowance eps * f_scale given to series truncation
SERIES_BUDGET = 0.1


#: highest Taylor order of the per-unit series; a unit needing more takes the dense path
MAX_ORDER = 12


#: radius of the softmax's shifted logits: keeps |sum_j p_j exp(w_j) - 1| <= e**0.5 - 1 < 1
RHO_OUT = 0.5


#: a row's first-guess disk radius is SHRINK x the largest the first-order terms allow
SHRINK = 0.7


@dataclass(frozen=True)
class LayerSeries:
    """Taylor coefficients of every per-(sample, unit) cost function of one hidden layer.

    ``coeffs[n-1][s, b]`` is ``c_n`` of ``phi_{s,b}(d) = sum_n c_n d**n`` (unscaled);
    ``dense[b]`` when unit b's series could not be certified (its entries take the dense
    path); ``dstar[s, b]`` (relu) the smallest ``|d|`` at which a relu pre-activation
    changes sign (inf for smooth activations).
    """

    coeffs: np.ndarray  # (K, M, D_l)
    dense: np.ndarray  # (D_l,) bool
    dstar: np.ndarray  # (M, D_l)


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


def _output_series(base: Base, s: np.ndarray, dzs: list, starts: list) -> list:
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


def first_order(base: Base, l: int, s: np.ndarray, b: np.ndarray) -> dict:
    """``J[m]`` (n, D_m): the derivative of ``z_m[s]`` w.r.t. ``z_l[s, b]`` per row, m = l+1..L."""
    d = base.act_grad(l)[s, b]
    J = {l + 1: d[:, None] * base.layers[l][0][b]}
    for m in range(l + 1, base.L):
        J[m + 1] = matmul(base.act_grad(m)[s] * J[m], base.layers[m][0])
    return J


def relu_dstar(base: Base, l: int, s: np.ndarray, b: np.ndarray, J: dict) -> np.ndarray:
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


def _disk_error(base: Base, l: int, s: np.ndarray, b: np.ndarray, R: np.ndarray, J: dict):
    """``e_L >= |dz_L - J_L d|`` (n, Dy) over the complex disks ``|d| <= R`` (n,), and theta.

    Centred form: ``e_{l+1} = S_l R**2 / 2 |W_{l+1}[b]|``, ``rho_m = |J_m| R + e_m`` and
    ``e_{m+1} = (|act'(z_m)| e_m + S_m rho_m**2 / 2) |W_{m+1}|`` with ``S_m = 2k sup|act'|``
    bounding ``|act''|`` on disks of radius ``RHO[act]`` (``disk_sup``), valid while every
    ``rho_m <= RHO[act]``.  Every ``e_m`` is at least quadratic in R, so for ``theta <= 1``
    the bounds at ``theta R`` are at most ``theta**2 e_m`` and ``theta rho_m``: ``theta``
    (n,) is the largest such factor keeping every ``rho_m`` within ``RHO[act]``.
    """
    kind = base.spec.activation
    k2 = 2 * KAPPA[kind]
    rho_h = RHO[kind]
    e = (k2 * base.disk_sup(l)[s, b] * R * R / 2)[:, None] * np.abs(base.layers[l][0][b])
    theta = np.minimum(1.0, rho_h / R)
    Rc = R[:, None]
    for m in range(l + 1, base.L):
        a = np.abs(J[m]) * Rc
        theta = np.minimum(theta, np.min(_largest_scale(a, e, rho_h), axis=1))
        rho = a + e
        n = base.act_grad(m)[s] * e + (k2 / 2) * base.disk_sup(m)[s] * rho * rho
        e = matmul(n, np.abs(base.layers[m][0]))
    return e, theta


def tail_orders(base: Base, l: int, s: np.ndarray, b: np.ndarray, r: np.ndarray, J: dict) -> np.ndarray:
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


def _unit_series(base: Base, l: int, s: np.ndarray, b: np.ndarray, need: np.ndarray, J: dict) -> list:
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
            nxt = matmul(np.concatenate(ys[1:]), base.layers[m][0])
            dzs += np.split(nxt, np.cumsum([y.shape[0] for y in ys[1:-1]]))
    return _output_series(base, s, dzs, starts)


def _stencil_radius(base: Base, l: int) -> np.ndarray:
    """(M, D_l): ``r[s, b] >= 4 h |u|``, the largest move of ``z_l[s, b]`` over the
    stencils of the entries of ``W_l[:, b]`` and ``b_l[b]``."""
    W, b = base.layers[l - 1]
    hW = np.max(default_step(W), axis=0)
    umax = np.max(np.abs(base.acts[l - 1]), axis=1)
    hb = default_step(b).reshape(-1)
    return 4.0 * np.maximum(umax[:, None] * hW[None, :], hb[None, :])


def layer_series(base: Base, l: int, chunk_bytes: int) -> LayerSeries:
    """The certified Taylor coefficients of hidden layer l (cached on ``base``).

    Per tile of (sample, unit) rows: the first-order pass, the tail bound of every row,
    then the rows expanded in groups of equal order.
    """
    if l not in base.series_cache:
        M, D = base.M, base.spec.dims[l]
        r = _stencil_radius(base, l)
        need = np.zeros((M, D), dtype=int)
        dstar = np.full((M, D), np.inf)
        coeffs = np.zeros((MAX_ORDER, M, D))
        for s, b in row_tiles(base, l, np.arange(M * D), chunk_bytes):
            J = first_order(base, l, s, b)
            if base.spec.activation is Activation.RELU:
                dstar[s, b] = relu_dstar(base, l, s, b, J)
            k = tail_orders(base, l, s, b, r[s, b], J)
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
        base.series_cache[l] = LayerSeries(coeffs, dense, dstar)
    return base.series_cache[l]


def series_block(base: Base, block: Block, h: np.ndarray, ser: LayerSeries, chunk_bytes: int):
    """Stencil values ``f (4, rows, cols)`` and kinks of a hidden layer's block from its series.

    ``f_k[a, b] = sum_s phi_{s,b}(k h_ab u_sa) = sum_n (k h_ab)**n Q_n[a, b]`` with
    ``Q_n = (u**n)^T c_n``: one (rows x M) by (M x cols) product per order (scaled by
    ``umax`` and ``hmax_b`` so no power over- or underflows).  Columns whose series is not
    certified are redone densely; relu kinks are corrected sample by sample
    (``_relu_crossings``).
    """
    u = block_u(base, block)  # (M, rows)
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
        Q.append(matmul(np.ascontiguousarray(pw.T), ser.coeffs[n - 1] * radn))
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
        f[:, :, cols], kink[:, cols] = dense_entries(base, block, h[:, cols], cols, chunk_bytes)
    return f, kink


def _relu_crossings(base: Base, block: Block, h: np.ndarray, ser: LayerSeries, f: np.ndarray,
                    chunk_bytes: int) -> np.ndarray:
    """Kinks of a relu block, and true values for them: ``f`` corrected in place.

    Only the (entry, sample) pairs whose stencil reaches the sample's first kink,
    ``4 h_ab |u_sa| > dstar[s, b]``, are wrong in the series; for those the series term is
    replaced by ``phi_{s,b}`` itself, one sample propagated exactly (``relu_exact``).
    """
    u = block_u(base, block)
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
        fix = relu_exact(base, block.layer, s[i], b[i], t) - series
        np.add.at(f, (slice(None), a[i], b[i]), fix.T)
    return kink
