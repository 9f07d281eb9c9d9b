"""More ``layer`` cases of the audit: the layers ``corpus_layer`` does not have.

Group norm and spatial batchnorm (N, C, H, W), layernorm on (N, T, D), conv with padding 2
and a stride that leaves a column out, a transposed conv, max-pool with overlapping windows
(3x3 stride 2: a maximum shared by two windows), avg-pool, a GRU step, an LSTM over a
sequence, causal attention with a mask, a softmax layer with temperature 0.1, CS231n's
temporal softmax loss with a mask, a sigmoid BCE-with-logits loss, an affine-relu sandwich.
Each wrong variant is a bug people make in them.  ``cases()`` returns the ``Case`` records.
"""

from __future__ import annotations

import copy
import sys

import numpy as np

from corpus_common import Case, compare, mp_truth

THIS = sys.modules[__name__]
R = np.random.default_rng


def _sig(z):
    return 1 / (1 + np.exp(-z))


# ------------------------------------------------------------------ group norm, spatial batchnorm, layernorm 3-D
def groupnorm_forward(x, gamma, beta, G, eps=1e-5):
    N, C, H, W = x.shape
    xg = x.reshape(N, G, C // G * H * W)
    mu = xg.mean(axis=2, keepdims=True)
    std = np.sqrt(xg.var(axis=2, keepdims=True) + eps)
    xhat = ((xg - mu) / std).reshape(N, C, H, W)
    return gamma * xhat + beta, (xhat, gamma, std, G)


def groupnorm_backward(dout, cache, bug=None):
    xhat, gamma, std, G = cache
    N, C, H, W = dout.shape
    dgamma = np.sum(dout * xhat, axis=(0, 2, 3), keepdims=True)
    dbeta = np.sum(dout, axis=(0, 2, 3), keepdims=True)
    dxhat = (dout * gamma).reshape(N, G, -1)
    xh = xhat.reshape(N, G, -1)
    M = C // G * H * W if bug != "count of a channel" else H * W
    dx = (M * dxhat - dxhat.sum(axis=2, keepdims=True) - xh * np.sum(dxhat * xh, axis=2, keepdims=True)) / (M * std)
    return dx.reshape(N, C, H, W), dgamma, dbeta


def groupnorm_backward_channel_count(dout, cache):
    return groupnorm_backward(dout, cache, bug="count of a channel")


def _bn(x, gamma, beta, eps=1e-5):
    mu = x.mean(axis=0)
    std = np.sqrt(x.var(axis=0) + eps)
    xhat = (x - mu) / std
    return gamma * xhat + beta, (xhat, gamma, std)


def _bn_back(dout, cache):
    xhat, gamma, std = cache
    N = dout.shape[0]
    dxhat = dout * gamma
    dx = (N * dxhat - dxhat.sum(axis=0) - xhat * np.sum(dxhat * xhat, axis=0)) / (N * std)
    return dx, np.sum(dout * xhat, axis=0), dout.sum(axis=0)


def batchnorm_forward(x, gamma, beta, bn_param):
    eps = bn_param.get("eps", 1e-5)
    mu = x.mean(axis=0)
    var = x.var(axis=0)
    xhat = (x - mu) / np.sqrt(var + eps)
    return gamma * xhat + beta, (x, mu, var, eps, gamma)


def batchnorm_backward_alt(dout, cache, drop_eps=False):
    """The staged (computational-graph) backward of assignment 2, from the cached x, mu, var."""
    x, mu, var, eps, gamma = cache
    N = x.shape[0]
    std = np.sqrt(var) if drop_eps else np.sqrt(var + eps)
    xhat = (x - mu) / std
    dxhat = dout * gamma
    dvar = np.sum(dxhat * (x - mu), axis=0) * -0.5 * std**-3
    dmu = -np.sum(dxhat, axis=0) / std + dvar * np.mean(-2 * (x - mu), axis=0)
    dx = dxhat / std + dvar * 2 * (x - mu) / N + dmu / N
    return dx, np.sum(dout * xhat, axis=0), dout.sum(axis=0)


def batchnorm_backward_no_eps(dout, cache):
    """eps left out of the backward's std (the forward has it): a soft bug of ~eps / (2 var)."""
    return batchnorm_backward_alt(dout, cache, drop_eps=True)


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    out, cache = _bn(x.transpose(0, 2, 3, 1).reshape(-1, C), gamma, beta, bn_param.get("eps", 1e-5))
    return out.reshape(N, H, W, C).transpose(0, 3, 1, 2), cache


def spatial_batchnorm_backward(dout, cache):
    N, C, H, W = dout.shape
    dx, dgamma, dbeta = _bn_back(dout.transpose(0, 2, 3, 1).reshape(-1, C), cache)
    return dx.reshape(N, H, W, C).transpose(0, 3, 1, 2), dgamma, dbeta


def spatial_batchnorm_backward_no_transpose(dout, cache):
    """dout reshaped to (N H W, C) without moving C last first."""
    N, C, H, W = dout.shape
    dx, dgamma, dbeta = _bn_back(dout.reshape(-1, C), cache)
    return dx.reshape(N, C, H, W), dgamma, dbeta


def layernorm3_forward(x, gamma, beta, eps=1e-5):
    mu = x.mean(axis=-1, keepdims=True)
    std = np.sqrt(x.var(axis=-1, keepdims=True) + eps)
    xhat = (x - mu) / std
    return gamma * xhat + beta, (xhat, gamma, std)


def layernorm3_backward(dout, cache):
    xhat, gamma, std = cache
    D = dout.shape[-1]
    dxhat = dout * gamma
    dx = (D * dxhat - dxhat.sum(axis=-1, keepdims=True)
          - xhat * np.sum(dxhat * xhat, axis=-1, keepdims=True)) / (D * std)
    return dx, np.sum(dout * xhat, axis=(0, 1)), dout.sum(axis=(0, 1))


def layernorm3_backward_no_mean_term(dout, cache):
    xhat, gamma, std = cache
    D = dout.shape[-1]
    dxhat = dout * gamma
    dx = (D * dxhat - xhat * np.sum(dxhat * xhat, axis=-1, keepdims=True)) / (D * std)
    return dx, np.sum(dout * xhat, axis=(0, 1)), dout.sum(axis=(0, 1))


# ------------------------------------------------------------------ conv, transposed conv, pooling
def conv_forward(x, w, b, conv_param):
    s, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    Ho, Wo = 1 + (H + 2 * pad - HH) // s, 1 + (W + 2 * pad - WW) // s
    out = np.zeros((N, F, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            win = xp[:, :, i * s:i * s + HH, j * s:j * s + WW]
            out[:, :, i, j] = np.tensordot(win, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return out, (x, w, b, conv_param)


def conv_backward(dout, cache, bug=None):
    x, w, b, conv_param = cache
    s, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    src = np.pad(x, ((0, 0), (0, 0), (0, 2 * pad), (0, 2 * pad))) if bug == "dw from unpadded x" else xp
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    _, _, Ho, Wo = dout.shape
    for i in range(Ho):
        for j in range(Wo):
            d = dout[:, :, i, j]
            dxp[:, :, i * s:i * s + HH, j * s:j * s + WW] += np.tensordot(d, w, axes=([1], [0]))
            dw += np.tensordot(d, src[:, :, i * s:i * s + HH, j * s:j * s + WW], axes=([0], [0]))
    return dxp[:, :, pad:pad + H, pad:pad + W], dw, dout.sum(axis=(0, 2, 3))


def conv_backward_unpadded_dw(dout, cache):
    return conv_backward(dout, cache, bug="dw from unpadded x")


def conv_transpose_forward(x, w, b, stride):
    """out[n, f, i s + a, j s + c] += x[n, k, i, j] w[k, f, a, c] (a 'deconvolution')."""
    N, K, H, W = x.shape
    _, F, HH, WW = w.shape
    out = np.zeros((N, F, (H - 1) * stride + HH, (W - 1) * stride + WW))
    for i in range(H):
        for j in range(W):
            out[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW] += np.tensordot(
                x[:, :, i, j], w, axes=([1], [0]))
    return out + b[None, :, None, None], (x, w, stride)


def conv_transpose_backward(dout, cache, bug=None):
    x, w, stride = cache
    N, K, H, W = x.shape
    _, F, HH, WW = w.shape
    dx, dw = np.zeros_like(x), np.zeros_like(w)
    kern = w[:, :, ::-1, ::-1] if bug == "flipped" else w
    for i in range(H):
        for j in range(W):
            win = dout[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
            dx[:, :, i, j] = np.tensordot(win, kern, axes=([1, 2, 3], [1, 2, 3]))
            dw += np.tensordot(x[:, :, i, j], win, axes=([0], [0]))
    return dx, dw, dout.sum(axis=(0, 2, 3))


def conv_transpose_backward_flipped(dout, cache):
    return conv_transpose_backward(dout, cache, bug="flipped")


def maxpool_forward(x, pool_param):
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    Ho, Wo = 1 + (H - ph) // s, 1 + (W - pw) // s
    out = np.zeros((N, C, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            out[:, :, i, j] = x[:, :, i * s:i * s + ph, j * s:j * s + pw].max(axis=(2, 3))
    return out, (x, pool_param)


def maxpool_backward(dout, cache, assign=False):
    x, pool_param = cache
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    dx = np.zeros_like(x)
    _, _, Ho, Wo = dout.shape
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    win = x[n, c, i * s:i * s + ph, j * s:j * s + pw]
                    a, b = np.unravel_index(np.argmax(win), win.shape)
                    if assign:
                        dx[n, c, i * s + a, j * s + b] = dout[n, c, i, j]
                    else:
                        dx[n, c, i * s + a, j * s + b] += dout[n, c, i, j]
    return dx


def maxpool_backward_assign(dout, cache):
    """dx[...] = dout: a maximum shared by overlapping windows keeps one window's gradient."""
    return maxpool_backward(dout, cache, assign=True)


def avgpool_forward(x, k):
    N, C, H, W = x.shape
    return x.reshape(N, C, H // k, k, W // k, k).mean(axis=(3, 5)), (x.shape, k)


def avgpool_backward(dout, cache):
    shape, k = cache
    return np.repeat(np.repeat(dout, k, axis=2), k, axis=3) / (k * k)


def avgpool_backward_no_div(dout, cache):
    shape, k = cache
    return np.repeat(np.repeat(dout, k, axis=2), k, axis=3)


# ------------------------------------------------------------------ GRU step, LSTM sequence
def gru_step_forward(x, h, Wx, Wh, b):
    """z, r gates; n = tanh(x Wxn + (r h) Whn + bn); h' = (1 - z) n + z h."""
    H = h.shape[1]
    ax = x @ Wx + b
    z = _sig(ax[:, :H] + h @ Wh[:, :H])
    r = _sig(ax[:, H:2 * H] + h @ Wh[:, H:2 * H])
    rh = r * h
    n = np.tanh(ax[:, 2 * H:] + rh @ Wh[:, 2 * H:])
    return (1 - z) * n + z * h, (x, h, Wx, Wh, z, r, n, rh)


def gru_step_backward(dnext, cache, bug=None):
    x, h, Wx, Wh, z, r, n, rh = cache
    H = h.shape[1]
    dn = dnext * (1 - z)
    dz = dnext * (h - n) if bug != "dz sign" else dnext * (n - h)
    dan = dn * (1 - n * n)
    drh = dan @ Wh[:, 2 * H:].T
    dr = drh * h
    daz, dar = dz * z * (1 - z), dr * r * (1 - r)
    da = np.hstack([daz, dar, dan])
    dh = dnext * z + drh * r + daz @ Wh[:, :H].T + dar @ Wh[:, H:2 * H].T
    dWh = np.hstack([h.T @ daz, h.T @ dar, rh.T @ dan])
    return da @ Wx.T, dh, x.T @ da, dWh, da.sum(axis=0)


def gru_step_backward_dz_sign(dnext, cache):
    return gru_step_backward(dnext, cache, bug="dz sign")


def _lstm_step(x, prev_h, prev_c, Wx, Wh, b):
    a = x @ Wx + prev_h @ Wh + b
    H = prev_h.shape[1]
    i, f, o, g = _sig(a[:, :H]), _sig(a[:, H:2 * H]), _sig(a[:, 2 * H:3 * H]), np.tanh(a[:, 3 * H:])
    c = f * prev_c + i * g
    tc = np.tanh(c)
    return o * tc, c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, c, tc)


def _lstm_step_back(dh, dc, cache):
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, c, tc = cache
    dc = dc + dh * o * (1 - tc * tc)
    do = dh * tc
    da = np.hstack([dc * g * i * (1 - i), dc * prev_c * f * (1 - f), do * o * (1 - o), dc * i * (1 - g * g)])
    return da @ Wx.T, da @ Wh.T, dc * f, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def lstm_forward(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    h, c = h0, np.zeros_like(h0)
    hs, caches = [], []
    for t in range(T):
        h, c, cache = _lstm_step(x[:, t], h, c, Wx, Wh, b)
        hs.append(h)
        caches.append(cache)
    return np.stack(hs, axis=1), caches


def lstm_backward(dh, caches, carry_c=True):
    N, T, H = dh.shape
    dprev_h, dprev_c = np.zeros((N, H)), np.zeros((N, H))
    dxs, dWx, dWh, db = [], 0, 0, 0
    for t in reversed(range(T)):
        dx, dprev_h, dc, dWx_t, dWh_t, db_t = _lstm_step_back(dh[:, t] + dprev_h, dprev_c, caches[t])
        dprev_c = dc if carry_c else np.zeros_like(dc)
        dxs.append(dx)
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return np.stack(dxs[::-1], axis=1), dprev_h, dWx, dWh, db


def lstm_backward_no_dc(dh, caches):
    """The cell state's gradient not carried to the previous step."""
    return lstm_backward(dh, caches, carry_c=False)


# ------------------------------------------------------------------ masked attention, softmax layer
def causal_attention_forward(q, k, v):
    T, d = q.shape
    s = q @ k.T / np.sqrt(d)
    s = np.where(np.tril(np.ones((T, T))) > 0, s, -1e9)
    s = s - s.max(axis=1, keepdims=True)
    p = np.exp(s)
    p = p / p.sum(axis=1, keepdims=True)
    return p @ v, (q, k, v, p)


def causal_attention_backward(dout, cache, bug=None):
    q, k, v, p = cache
    d = q.shape[1]
    dp = dout @ v.T
    ds = p * (dp - np.sum(dp * p, axis=1, keepdims=True))
    dk = ds.T @ q if bug == "dk unscaled" else ds.T @ q / np.sqrt(d)
    return ds @ k / np.sqrt(d), dk, p.T @ dout


def causal_attention_backward_dk_unscaled(dout, cache):
    return causal_attention_backward(dout, cache, bug="dk unscaled")


def softmax_t_forward(x, T=0.1):
    s = x / T
    s = s - s.max(axis=-1, keepdims=True)
    e = np.exp(s)
    y = e / e.sum(axis=-1, keepdims=True)
    return y, (y, T)


def softmax_t_backward(dout, cache):
    y, T = cache
    return y * (dout - np.sum(dout * y, axis=-1, keepdims=True)) / T


def softmax_t_backward_no_T(dout, cache):
    y, T = cache
    return y * (dout - np.sum(dout * y, axis=-1, keepdims=True))


# ------------------------------------------------------------------ loss layers, sandwich
def temporal_softmax_loss(x, y, mask):
    """CS231n: sum over masked steps of -log softmax, divided by N."""
    N, T, V = x.shape
    xf, yf, mf = x.reshape(N * T, V), y.reshape(N * T), mask.reshape(N * T)
    p = np.exp(xf - xf.max(axis=1, keepdims=True))
    p = p / p.sum(axis=1, keepdims=True)
    loss = -np.sum(mf * np.log(p[np.arange(N * T), yf])) / N
    dx = p.copy()
    dx[np.arange(N * T), yf] -= 1
    dx = dx / N * mf[:, None]
    return loss, dx.reshape(N, T, V)


def temporal_softmax_loss_unmasked_grad(x, y, mask):
    N, T, V = x.shape
    loss, _ = temporal_softmax_loss(x, y, mask)
    xf, yf = x.reshape(N * T, V), y.reshape(N * T)
    p = np.exp(xf - xf.max(axis=1, keepdims=True))
    p = p / p.sum(axis=1, keepdims=True)
    p[np.arange(N * T), yf] -= 1
    return loss, (p / N).reshape(N, T, V)


def bce_logits_loss(x, y):
    """mean over entries of max(x, 0) - x y + log(1 + exp(-|x|))."""
    loss = np.mean(np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x))))
    return loss, (_sig(x) - y) / x.size


def bce_logits_loss_per_row(x, y):
    """Divided by the rows N, not the entries N D."""
    loss, dx = bce_logits_loss(x, y)
    return loss, dx * x.size / x.shape[0]


def affine_relu_forward(x, w, b):
    a = x @ w + b
    return np.maximum(a, 0), (x, w, a)


def affine_relu_backward(dout, cache, bug=None):
    x, w, a = cache
    da = dout * (a > 0) if bug != "mask after" else dout
    dx = da @ w.T
    if bug == "mask after":
        dx = dx * (x > 0)
    return dx, x.T @ da, da.sum(axis=0)


def affine_relu_backward_mask_after(dout, cache):
    return affine_relu_backward(dout, cache, bug="mask after")


def sigmoid_forward(x):
    s = 1 / (1 + np.exp(-x))
    return s, s


def sigmoid_backward(dout, s):
    return dout * s * (1 - s)


def sigmoid_backward_floor(dout, s):
    """s (1 - s) floored at 1e-8 "so saturated units still learn"."""
    return dout * np.maximum(s * (1 - s), 1e-8)


def relu_forward(x):
    return np.maximum(0, x), x


def sin_forward(x):
    """A periodic activation (SIREN-style / a phase input)."""
    return np.sin(x), x


def sin_backward(dout, x):
    return dout * np.cos(x)


def relu_backward(dout, x):
    return dout * (x > 0)


# ------------------------------------------------------------------ word2vec losses of several arrays (CS224n a2)
def naive_softmax_loss(v, o, U):
    """-log softmax(U v)[o] -> (loss, d/dv, d/dU)."""
    s = U @ v
    e = np.exp(s - s.max())
    p = e / e.sum()
    loss = -np.log(p[int(o)])
    d = p.copy()
    d[int(o)] -= 1
    return loss, U.T @ d, np.outer(d, v)


def neg_sampling_loss(v, o, U, K=6):
    """Negative sampling with K negatives drawn by ``random`` (as the course's dataset does), repeats allowed."""
    import random

    neg = []
    while len(neg) < K:
        k = random.randint(0, U.shape[0] - 1)
        if k != int(o):
            neg.append(k)
    so = _sig(U[int(o)] @ v)
    sn = _sig(-U[neg] @ v)
    loss = -np.log(so) - np.sum(np.log(sn))
    dv = (so - 1) * U[int(o)] + (1 - sn) @ U[neg]
    dU = np.zeros_like(U)
    dU[int(o)] += (so - 1) * v
    np.add.at(dU, neg, np.outer(1 - sn, v))
    return loss, dv, dU


def neg_sampling_loss_fancy(v, o, U, K=6):
    """dU[neg] += ... (buffered: a negative drawn twice counts once)."""
    import random

    neg = []
    while len(neg) < K:
        k = random.randint(0, U.shape[0] - 1)
        if k != int(o):
            neg.append(k)
    so = _sig(U[int(o)] @ v)
    sn = _sig(-U[neg] @ v)
    loss = -np.log(so) - np.sum(np.log(sn))
    dv = (so - 1) * U[int(o)] + (1 - sn) @ U[neg]
    dU = np.zeros_like(U)
    dU[int(o)] += (so - 1) * v
    dU[neg] += np.outer(1 - sn, v)
    return loss, dv, dU


# ------------------------------------------------------------------ the cases
def _outs(r):
    return r[:-1]


def _truth(forward, backward, inputs, params, wrt, seed=5, k=12):
    names = list(inputs)
    arrays = [inputs[n] for n in names]
    wrt_i = [names.index(n) for n in wrt]

    def t():
        r = forward(*arrays, **copy.deepcopy(params))
        if backward is None:
            hand = list(r[1:])
            cost = lambda *a: forward(*a, **copy.deepcopy(params))[0]  # noqa: E731
        else:
            outs = _outs(r)
            douts = [R(seed + j).standard_normal(np.shape(o)) for j, o in enumerate(outs)]
            hand = backward(*douts, r[-1])
            hand = list(hand) if isinstance(hand, (tuple, list)) else [hand]

            def cost(*a):
                rr = forward(*a, **copy.deepcopy(params))
                return sum(np.sum(o * d) for o, d in zip(_outs(rr), douts))
        hand = [np.asarray(h, dtype=float) for h in hand]
        return mp_truth(cost, arrays, wrt_i, hand, [THIS], k=k)
    return t


def _as_list(g):
    return list(g) if isinstance(g, (tuple, list)) else [g]


def _damage(forward, backward, good_fwd, good_bwd, inputs, params, seed=5):
    def grads(f, b):
        r = f(*inputs.values(), **copy.deepcopy(params))
        if b is None:
            return list(r[1:])
        douts = [R(seed + j).standard_normal(np.shape(o)) for j, o in enumerate(_outs(r))]
        return [np.asarray(g, dtype=float) for g in _as_list(b(*douts, r[-1]))]

    return lambda: compare(grads(forward, backward), grads(good_fwd, good_bwd))


def cases() -> list[Case]:
    from gradcheck_cli import check_layer

    r = R(300)
    n = r.standard_normal
    C: list[Case] = []

    def run(fwd, bwd, inputs, params):
        return lambda mode=None: check_layer(fwd, bwd, inputs, params, mode=mode)

    def diff_names(inputs):
        return [k for k, a in inputs.items() if np.asarray(a).dtype.kind == "f"]

    def ok(name, fwd, bwd, inputs, params=None, small=True, k=12):
        params = params or {}
        C.append(Case("layer", name, True, run(fwd, bwd, inputs, params),
                      truth=_truth(fwd, bwd, inputs, params, diff_names(inputs), k=k), small=small))
        return fwd, bwd, inputs, params

    def bug(base, name, fwd=None, bwd=None, small=True):
        f0, b0, inputs, params = base
        f, b = fwd or f0, bwd or b0
        C.append(Case("layer", name, False, run(f, b, inputs, params),
                      damage=_damage(f, b, f0, b0, inputs, params), small=small))

    gn = ok("group norm 2x4x3x3, G=2", groupnorm_forward, groupnorm_backward,
            {"x": 2 * n((2, 4, 3, 3)) + 1, "gamma": n((1, 4, 1, 1)), "beta": n((1, 4, 1, 1))}, {"G": 2})
    bug(gn, "group norm [a channel's count for the group's]", bwd=groupnorm_backward_channel_count)
    sb = ok("spatial batchnorm 2x3x4x4", spatial_batchnorm_forward, spatial_batchnorm_backward,
            {"x": 3 * n((2, 3, 4, 4)) - 1, "gamma": n(3), "beta": n(3)}, {"bn_param": {"mode": "train"}})
    bug(sb, "spatial batchnorm [reshape without transpose]", bwd=spatial_batchnorm_backward_no_transpose)
    bnx = {"x": n((8, 5)), "gamma": n(5), "beta": n(5)}
    bn = ok("batchnorm, staged backward", batchnorm_forward, batchnorm_backward_alt, bnx, {"bn_param": {}})
    bug(bn, "batchnorm [eps dropped in backward: soft, ~5e-6]", bwd=batchnorm_backward_no_eps)
    bnb = ok("batchnorm 64x100, staged backward", batchnorm_forward, batchnorm_backward_alt,
             {"x": n((64, 100)), "gamma": n(100), "beta": n(100)}, {"bn_param": {}}, small=False, k=4)
    bug(bnb, "batchnorm 64x100 [eps dropped in backward: soft]", bwd=batchnorm_backward_no_eps, small=False)
    ln3 = ok("layernorm on (N, T, D) = 2x3x8", layernorm3_forward, layernorm3_backward,
             {"x": n((2, 3, 8)), "gamma": n(8), "beta": n(8)})
    bug(ln3, "layernorm 3-D [mean term dropped]", bwd=layernorm3_backward_no_mean_term)
    lnt = ok("layernorm, features ~1e-3 (var ~ eps)", layernorm3_forward, layernorm3_backward,
             {"x": 3e-3 * n((2, 2, 6)), "gamma": n(6), "beta": n(6)})

    cv = ok("conv pad 2, 5x5 kernel, 1x2x5x5", conv_forward, conv_backward,
            {"x": n((1, 2, 5, 5)), "w": n((2, 2, 5, 5)), "b": n(2)}, {"conv_param": {"stride": 1, "pad": 2}})
    bug(cv, "conv pad 2 [dw from unpadded x]", bwd=conv_backward_unpadded_dw)
    ok("conv stride 2 pad 0 on 6x6 (a column unused)", conv_forward, conv_backward,
       {"x": n((2, 2, 6, 6)), "w": n((3, 2, 3, 3)), "b": n(3)}, {"conv_param": {"stride": 2, "pad": 0}})
    ct = ok("transposed conv stride 2, 3x3", conv_transpose_forward, conv_transpose_backward,
            {"x": n((2, 2, 3, 3)), "w": n((2, 3, 3, 3)), "b": n(3)}, {"stride": 2})
    bug(ct, "transposed conv [kernel flipped in dx]", bwd=conv_transpose_backward_flipped)
    mp_ = ok("max-pool 3x3 stride 2 (overlapping), 2x2x7x7", maxpool_forward, maxpool_backward,
             {"x": n((2, 2, 7, 7))}, {"pool_param": {"pool_height": 3, "pool_width": 3, "stride": 2}})
    bug(mp_, "max-pool overlapping [dx = dout, not +=]", bwd=maxpool_backward_assign)
    ap = ok("avg-pool 2x2", avgpool_forward, avgpool_backward, {"x": n((2, 3, 4, 4))}, {"k": 2})
    bug(ap, "avg-pool [1/k^2 forgotten]", bwd=avgpool_backward_no_div)

    N, D, H = 3, 4, 5
    gru = ok("GRU step", gru_step_forward, gru_step_backward,
             {"x": n((N, D)), "h": n((N, H)), "Wx": n((D, 3 * H)), "Wh": n((H, 3 * H)), "b": n(3 * H)})
    bug(gru, "GRU step [dz sign]", bwd=gru_step_backward_dz_sign)
    ls = ok("LSTM sequence T=4", lstm_forward, lstm_backward,
            {"x": n((2, 4, D)), "h0": n((2, H)), "Wx": 0.5 * n((D, 4 * H)), "Wh": 0.5 * n((H, 4 * H)),
             "b": n(4 * H)}, k=6)
    bug(ls, "LSTM sequence [dc not carried back]", bwd=lstm_backward_no_dc)
    at = ok("causal attention T=5 d=4 (mask -1e9)", causal_attention_forward, causal_attention_backward,
            {"q": n((5, 4)), "k": n((5, 4)), "v": n((5, 3))})
    bug(at, "causal attention [1/sqrt(d) lost in dk]", bwd=causal_attention_backward_dk_unscaled)
    st = ok("softmax layer, temperature 0.1", softmax_t_forward, softmax_t_backward, {"x": n((3, 6))}, {"T": 0.1})
    bug(st, "softmax temperature [1/T lost]", bwd=softmax_t_backward_no_T)

    mask = r.random((3, 4)) < 0.7
    tl = ok("temporal softmax loss with mask", temporal_softmax_loss, None,
            {"x": n((3, 4, 6)), "y": r.integers(0, 6, (3, 4)), "mask": mask})
    bug(tl, "temporal softmax loss [mask not in dx]", fwd=temporal_softmax_loss_unmasked_grad)
    bl = ok("BCE-with-logits loss, logits to 30", bce_logits_loss, None,
            {"x": 10 * n((4, 5)), "y": (r.random((4, 5)) < 0.5).astype(int)})
    bug(bl, "BCE-with-logits [/N rows, not N D]", fwd=bce_logits_loss_per_row)
    import random

    w2v = {"v": n(6), "o": np.array(2), "U": 0.5 * n((7, 6))}
    ok("word2vec naive softmax loss (v, o, U)", naive_softmax_loss, None, w2v)
    w2n = {"v": n(6), "o": np.array(2), "U": 0.5 * n((5, 6))}

    def run_seeded(fwd):  # the check starts from random.seed(4) (it resets random to that state per call)
        def r(mode=None):
            saved = random.getstate()
            random.seed(4)
            try:
                return check_layer(fwd, None, w2n, {}, mode=mode)
            finally:
                random.setstate(saved)
        return r

    def reseed():
        random.seed(4)

    def ns_truth():
        reseed()
        loss, dv, dU = neg_sampling_loss(w2n["v"], w2n["o"], w2n["U"])
        arrays = [w2n["v"], w2n["o"], w2n["U"]]
        return mp_truth(lambda *a: neg_sampling_loss(*a)[0], arrays, [0, 2], [dv, dU], [THIS], k=12,
                        before_call=reseed)

    def ns_damage():
        reseed()
        gb = neg_sampling_loss_fancy(w2n["v"], w2n["o"], w2n["U"])[1:]
        reseed()
        go = neg_sampling_loss(w2n["v"], w2n["o"], w2n["U"])[1:]
        return compare(list(gb), list(go))

    C.append(Case("layer", "word2vec neg-sampling loss, negatives drawn by random (v, o, U)", True,
                  run_seeded(neg_sampling_loss), truth=ns_truth))
    C.append(Case("layer", "word2vec neg-sampling [dU[neg] += for repeats]", False, run_seeded(neg_sampling_loss_fancy),
                  damage=ns_damage))
    xs = 30 * n((4, 5))
    sg = ok("sigmoid, inputs 30 N(0,1) (layer2 seed)", sigmoid_forward, sigmoid_backward, {"x": xs}, k=20)
    C[-1].truth, C[-1].note = None, ("s (1 - s) at saturation: right to the round-off of 1 - s (against mpmath: "
                                     "floored rel 1.3e-8, entries at |x| ~ 18)")
    bug(sg, "sigmoid [s(1-s) floored at 1e-8]", bwd=sigmoid_backward_floor)
    ok("sin activation at x ~ 1e6", sin_forward, sin_backward, {"x": 1e6 * (1 + r.random((3, 4)))})
    ok("sin activation at x ~ 1e3", sin_forward, sin_backward, {"x": 1e3 * (1 + r.random((3, 4)))})
    xz = n((4, 6))
    xz[xz < -0.5] = 0.0  # exact zeros (a relu after zero padding)
    C.append(Case("layer", "relu with exact zeros (kink)", True, run(relu_forward, relu_backward, {"x": xz}, {}),
                  truth=None, expect="kink", note="exact: 1 or 0 away from the zeros"))
    xi = r.integers(0, 4, (1, 2, 6, 6)).astype(float)  # integer-valued pixels: ties in the windows
    C.append(Case("layer", "max-pool 2x2 on integer pixels 0..3 (ties: kink)", True,
                  run(maxpool_forward, maxpool_backward, {"x": xi},
                      {"pool_param": {"pool_height": 2, "pool_width": 2, "stride": 2}}),
                  truth=None, expect="kink", note="the tied maxima are kinks; the rest exact 0/dout"))
    at = ok("affine-relu, w std 1e-4, b = 0", affine_relu_forward, affine_relu_backward,
            {"x": n((8, 12)), "w": 1e-4 * n((12, 10)), "b": np.zeros(10)})
    ar = ok("affine-relu sandwich", affine_relu_forward, affine_relu_backward,
            {"x": n((4, 6)), "w": n((6, 5)), "b": n(5)})
    bug(ar, "affine-relu [relu mask on x after the affine]", bwd=affine_relu_backward_mask_after)
    return C
