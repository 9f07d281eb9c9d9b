"""``layer`` cases of the audit: CS231n-style ``X_forward`` / ``X_backward`` pairs and their bugs.

Correct: affine, relu, leaky relu, sigmoid and tanh at saturation, batchnorm (train),
layernorm, softmax and SVM losses, a small naive conv, naive max-pool, an RNN step and a
short sequence, an LSTM step, a word embedding (integer indices), dropout with the cache's
mask, attention softmax(QK'/sqrt d)V, a temporal affine.  Wrong: the bugs students make in
them.  ``cases()`` returns the ``Case`` records (``corpus_common``).
"""

from __future__ import annotations

import sys

import numpy as np

from corpus_common import Case, compare, mp_truth

THIS = sys.modules[__name__]
R = np.random.default_rng


# ------------------------------------------------------------------ affine, temporal affine
def affine_forward(x, w, b):
    out = x.reshape(x.shape[0], -1) @ w + b
    return out, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    return (dout @ w.T).reshape(x.shape), x.reshape(x.shape[0], -1).T @ dout, dout.sum(axis=0)


def affine_backward_dw_mean(dout, cache):
    dx, dw, db = affine_backward(dout, cache)
    return dx, dw / dout.shape[0], db


def affine_backward_dx_no_reshape(dout, cache):
    """dx computed with w (not w.T) on a square w."""
    x, w = cache
    return (dout @ w).reshape(x.shape), x.reshape(x.shape[0], -1).T @ dout, dout.sum(axis=0)


def affine_forward_f32(x, w, b):
    """The affine layer of a float32 model: everything cast to float32."""
    x, w, b = (np.asarray(a, dtype=np.float32) for a in (x, w, b))
    return x @ w + b, (x, w)


def affine_backward_f32(dout, cache):
    x, w = cache
    dout = np.asarray(dout, dtype=np.float32)
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


def temporal_affine_forward(x, w, b):
    N, T, D = x.shape
    out = x.reshape(N * T, D) @ w + b
    return out.reshape(N, T, -1), (x, w)


def temporal_affine_backward(dout, cache):
    x, w = cache
    N, T, D = x.shape
    d2 = dout.reshape(N * T, -1)
    return (d2 @ w.T).reshape(N, T, D), x.reshape(N * T, D).T @ d2, d2.sum(axis=0)


def temporal_affine_backward_last_step(dout, cache):
    dx, dw, db = temporal_affine_backward(dout, cache)
    return dx, dw, dout[:, -1].sum(axis=0)


# ------------------------------------------------------------------ activations
def relu_forward(x):
    return np.maximum(0, x), x


def relu_backward(dout, x):
    return dout * (x > 0)


def leaky_relu_forward(x, alpha=0.01):
    return np.where(x > 0, x, alpha * x), (x, alpha)


def leaky_relu_backward(dout, cache):
    x, alpha = cache
    return dout * np.where(x > 0, 1.0, alpha)


def leaky_relu_backward_no_slope(dout, cache):
    x, _ = cache
    return dout * (x > 0)


def sigmoid_forward(x):
    s = 1 / (1 + np.exp(-x))
    return s, s


def sigmoid_backward(dout, s):
    return dout * s * (1 - s)


def sigmoid_forward_cache_x(x):
    return 1 / (1 + np.exp(-x)), x


def sigmoid_backward_uses_x(dout, x):
    """Cached x, used as if it were sigmoid(x)."""
    return dout * x * (1 - x)


def tanh_forward(x):
    t = np.tanh(x)
    return t, t


def tanh_backward(dout, t):
    return dout * (1 - t * t)


def tanh_backward_sigmoid_rule(dout, t):
    return dout * t * (1 - t)


# ------------------------------------------------------------------ normalisation
def batchnorm_forward(x, gamma, beta, bn_param):
    eps = bn_param.get("eps", 1e-5)
    mu = x.mean(axis=0)
    var = x.var(axis=0)
    std = np.sqrt(var + eps)
    xhat = (x - mu) / std
    bn_param["running_mean"] = 0.9 * bn_param.get("running_mean", 0) + 0.1 * mu
    return gamma * xhat + beta, (xhat, gamma, std)


def batchnorm_backward(dout, cache):
    xhat, gamma, std = cache
    N = dout.shape[0]
    dxhat = dout * gamma
    dx = (N * dxhat - dxhat.sum(axis=0) - xhat * np.sum(dxhat * xhat, axis=0)) / (N * std)
    return dx, np.sum(dout * xhat, axis=0), dout.sum(axis=0)


def batchnorm_backward_no_var_term(dout, cache):
    """The path through the variance forgotten."""
    xhat, gamma, std = cache
    N = dout.shape[0]
    dxhat = dout * gamma
    dx = (N * dxhat - dxhat.sum(axis=0)) / (N * std)
    return dx, np.sum(dout * xhat, axis=0), dout.sum(axis=0)


def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    mu = x.mean(axis=1, keepdims=True)
    std = np.sqrt(x.var(axis=1, keepdims=True) + eps)
    xhat = (x - mu) / std
    return gamma * xhat + beta, (xhat, gamma, std)


def layernorm_backward(dout, cache):
    xhat, gamma, std = cache
    D = dout.shape[1]
    dxhat = dout * gamma
    dx = (D * dxhat - dxhat.sum(axis=1, keepdims=True)
          - xhat * np.sum(dxhat * xhat, axis=1, keepdims=True)) / (D * std)
    return dx, np.sum(dout * xhat, axis=0), dout.sum(axis=0)


def layernorm_backward_batch_axis(dout, cache):
    """batchnorm's reductions (axis 0) kept in layernorm's backward."""
    xhat, gamma, std = cache
    D = dout.shape[1]
    dxhat = dout * gamma
    dx = (D * dxhat - dxhat.sum(axis=0) - xhat * np.sum(dxhat * xhat, axis=0)) / (D * std)
    return dx, np.sum(dout * xhat, axis=0), dout.sum(axis=0)


# ------------------------------------------------------------------ losses
def softmax_loss(x, y):
    s = x - x.max(axis=1, keepdims=True)
    logp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
    N = x.shape[0]
    loss = -logp[np.arange(N), y].mean()
    dx = np.exp(logp)
    dx[np.arange(N), y] -= 1
    return loss, dx / N


def softmax_loss_no_N(x, y):
    loss, dx = softmax_loss(x, y)
    return loss, dx * x.shape[0]


def svm_loss(x, y):
    N = x.shape[0]
    correct = x[np.arange(N), y][:, None]
    margins = np.maximum(0, x - correct + 1.0)
    margins[np.arange(N), y] = 0
    loss = margins.sum() / N
    pos = (margins > 0).astype(float)
    dx = pos.copy()
    dx[np.arange(N), y] -= pos.sum(axis=1)
    return loss, dx / N


def svm_loss_no_correct_class_term(x, y):
    """Only the wrong classes get their gradient: the -count at the label forgotten."""
    N = x.shape[0]
    correct = x[np.arange(N), y][:, None]
    margins = np.maximum(0, x - correct + 1.0)
    margins[np.arange(N), y] = 0
    return margins.sum() / N, (margins > 0).astype(float) / N


BETA = 1e-3


def smooth_l1(x):
    a = np.abs(x)
    small = a < BETA
    loss = np.sum(np.where(small, 0.5 * x * x / BETA, a - 0.5 * BETA))
    return loss, np.where(small, x / BETA, np.sign(x))


def smooth_l1_sign(x):
    """The issue's wrong pass: the sign flipped on the entries inside the quadratic zone."""
    loss, dx = smooth_l1(x)
    return loss, np.where(np.abs(x) < BETA, -dx, dx)


# ------------------------------------------------------------------ conv and pool (naive)
def conv_forward_naive(x, w, b, conv_param):
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    Ho, Wo = 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride
    out = np.zeros((N, F, Ho, Wo))
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    win = xp[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
                    out[n, f, i, j] = np.sum(win * w[f]) + b[f]
    return out, (x, w, b, conv_param)


def conv_backward_naive(dout, cache, flip=False):
    x, w, b, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    _, _, Ho, Wo = dout.shape
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    sl = (slice(i * stride, i * stride + HH), slice(j * stride, j * stride + WW))
                    kernel = w[f, :, ::-1, ::-1] if flip else w[f]
                    dxp[n, :, sl[0], sl[1]] += kernel * dout[n, f, i, j]
                    dw[f] += xp[n, :, sl[0], sl[1]] * dout[n, f, i, j]
    return dxp[:, :, pad:pad + H, pad:pad + W], dw, dout.sum(axis=(0, 2, 3))


def conv_backward_naive_flipped(dout, cache):
    return conv_backward_naive(dout, cache, flip=True)


def max_pool_forward_naive(x, pool_param):
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    Ho, Wo = 1 + (H - ph) // s, 1 + (W - pw) // s
    out = np.zeros((N, C, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            out[:, :, i, j] = x[:, :, i * s:i * s + ph, j * s:j * s + pw].max(axis=(2, 3))
    return out, (x, pool_param)


def max_pool_backward_naive(dout, cache, first=False):
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
                    a, b = (0, 0) if first else np.unravel_index(np.argmax(win), win.shape)
                    dx[n, c, i * s + a, j * s + b] += dout[n, c, i, j]
    return dx


def max_pool_backward_first(dout, cache):
    return max_pool_backward_naive(dout, cache, first=True)


# ------------------------------------------------------------------ RNN, LSTM
def rnn_step_forward(x, prev_h, Wx, Wh, b):
    h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return h, (x, prev_h, Wx, Wh, h)


def rnn_step_backward(dh, cache):
    x, prev_h, Wx, Wh, h = cache
    da = dh * (1 - h * h)
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def rnn_step_backward_no_tanh(dh, cache):
    x, prev_h, Wx, Wh, h = cache
    da = dh
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def rnn_forward(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    hs, caches, h = [], [], h0
    for t in range(T):
        h, c = rnn_step_forward(x[:, t], h, Wx, Wh, b)
        hs.append(h)
        caches.append(c)
    return np.stack(hs, axis=1), caches


def rnn_backward(dh, caches, carry=True):
    N, T, H = dh.shape
    dxs, dWx, dWh, db = [], 0, 0, 0
    dprev = np.zeros((N, H))
    for t in reversed(range(T)):
        dx, dprev_t, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t] + (dprev if carry else 0), caches[t])
        dprev = dprev_t
        dxs.append(dx)
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return np.stack(dxs[::-1], axis=1), dprev, dWx, dWh, db


def rnn_backward_no_carry(dh, caches):
    """The gradient flowing back through h_t from later steps dropped."""
    return rnn_backward(dh, caches, carry=False)


def _sig(z):
    return 1 / (1 + np.exp(-z))


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    a = x @ Wx + prev_h @ Wh + b
    H = prev_h.shape[1]
    i, f, o, g = _sig(a[:, :H]), _sig(a[:, H:2 * H]), _sig(a[:, 2 * H:3 * H]), np.tanh(a[:, 3 * H:])
    c = f * prev_c + i * g
    tc = np.tanh(c)
    return o * tc, c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, c, tc)


def lstm_step_backward(dh, dc, cache, bug=None):
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, c, tc = cache
    dc = dc + dh * o * (1 - tc * tc)
    do = dh * tc
    di, df, dg = dc * g, dc * (prev_h if bug == "prev_h for prev_c" else prev_c), dc * i
    da = np.hstack([di * i * (1 - i), df * f * (1 - f), do * o * (1 - o), dg * (1 - g * g)])
    return da @ Wx.T, da @ Wh.T, dc * f, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def lstm_step_backward_prev_h(dh, dc, cache):
    return lstm_step_backward(dh, dc, cache, bug="prev_h for prev_c")


# ------------------------------------------------------------------ embedding, dropout, attention
def word_embedding_forward(x, W):
    return W[x], (x, W.shape)


def word_embedding_backward(dout, cache):
    x, shape = cache
    dW = np.zeros(shape)
    np.add.at(dW, x, dout)
    return dW


def word_embedding_backward_assign(dout, cache):
    """dW[x] = dout: repeated words overwrite instead of adding."""
    x, shape = cache
    dW = np.zeros(shape)
    dW[x] = dout
    return dW


def dropout_forward(x, dropout_param):
    p = dropout_param["p"]
    mask = (np.random.rand(*x.shape) < p) / p
    return x * mask, mask


def dropout_backward(dout, mask):
    return dout * mask


def dropout_backward_new_mask(dout, mask):
    fresh = (np.random.rand(*dout.shape) < 0.8) / 0.8
    return dout * fresh


def attention_forward(q, k, v):
    d = q.shape[1]
    s = q @ k.T / np.sqrt(d)
    s = s - s.max(axis=1, keepdims=True)
    p = np.exp(s)
    p = p / p.sum(axis=1, keepdims=True)
    return p @ v, (q, k, v, p)


def attention_backward(dout, cache, bug=None):
    q, k, v, p = cache
    d = q.shape[1]
    dv = p.T @ dout
    dp = dout @ v.T
    if bug == "elementwise softmax":
        ds = dp * p * (1 - p)
    else:
        ds = p * (dp - np.sum(dp * p, axis=1, keepdims=True))
    return ds @ k / np.sqrt(d), ds.T @ q / np.sqrt(d), dv


def attention_backward_elementwise(dout, cache):
    return attention_backward(dout, cache, bug="elementwise softmax")


# ------------------------------------------------------------------ the cases
def _outs(r):
    """The differentiable outputs of a forward's result (everything but the cache)."""
    return r[:-1]


def _truth(forward, backward, inputs, params, wrt, seed=5, k=12, rng_seed=None):
    """mpmath truth of d sum(out * dout) / d input (loss layers: d loss / d input)."""
    import copy

    names = list(inputs)
    arrays = [inputs[n] for n in names]
    wrt_i = [names.index(n) for n in wrt]

    def reseed():
        if rng_seed is not None:
            np.random.seed(rng_seed)

    def t():
        reseed()
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
        return mp_truth(cost, arrays, wrt_i, hand, [THIS], k=k, before_call=reseed)
    return t


def _damage(forward, backward, good_fwd, good_bwd, inputs, params, seed=5):
    """The bug's gradient (its own forward's cache) against the correct pair's."""
    import copy

    def grads(f, b):
        r = f(*inputs.values(), **copy.deepcopy(params))
        if b is None:
            return list(r[1:])
        douts = [R(seed + j).standard_normal(np.shape(o)) for j, o in enumerate(_outs(r))]
        return _as_list(b(*douts, r[-1]))

    return lambda: compare(grads(forward, backward), grads(good_fwd, good_bwd))


def _as_list(g):
    return list(g) if isinstance(g, (tuple, list)) else [g]


def cases() -> list[Case]:
    from gradcheck_cli import check_layer

    r = R(3)
    C: list[Case] = []

    def run(fwd, bwd, inputs, params):
        return lambda mode=None: check_layer(fwd, bwd, inputs, params, mode=mode)

    def diff_names(inputs):
        return [n for n, a in inputs.items() if np.asarray(a).dtype.kind == "f"]

    def ok(name, fwd, bwd, inputs, params=None, small=True, truth=True, rng_seed=None, k=12):
        params = params or {}
        tr = _truth(fwd, bwd, inputs, params, diff_names(inputs), rng_seed=rng_seed, k=k) if truth else None
        C.append(Case("layer", name, True, run(fwd, bwd, inputs, params), truth=tr, small=small))
        return fwd, bwd, inputs, params

    def bug(base, name, fwd=None, bwd=None, small=True, damage=True):
        f0, b0, inputs, params = base
        f, b = fwd or f0, bwd or b0
        dmg = _damage(f, b, f0, b0, inputs, params) if damage else None
        C.append(Case("layer", name, False, run(f, b, inputs, params), damage=dmg, small=small))

    n = r.standard_normal
    aff = ok("affine", affine_forward, affine_backward, {"x": n((4, 2, 3)), "w": n((6, 5)), "b": n(5)})
    bug(aff, "affine [dw averaged over N]", bwd=affine_backward_dw_mean)
    affsq = ok("affine square w", affine_forward, affine_backward, {"x": n((4, 5)), "w": n((5, 5)), "b": n(5)})
    bug(affsq, "affine [dout @ w for dout @ w.T]", bwd=affine_backward_dx_no_reshape)
    ta = ok("temporal affine", temporal_affine_forward, temporal_affine_backward,
            {"x": n((2, 3, 4)), "w": n((4, 5)), "b": n(5)})
    bug(ta, "temporal affine [db from the last step]", bwd=temporal_affine_backward_last_step)
    ok("relu", relu_forward, relu_backward, {"x": n((4, 5))})
    lr = ok("leaky relu", leaky_relu_forward, leaky_relu_backward, {"x": n((4, 5))})
    bug(lr, "leaky relu [negative slope dropped]", bwd=leaky_relu_backward_no_slope)
    xs = n((4, 5)) * 12
    xs[1, 2] = 36.2
    sg = ok("sigmoid, inputs to 36", sigmoid_forward, sigmoid_backward, {"x": xs}, k=20)
    bug(sg, "sigmoid [cached x used as s]", fwd=sigmoid_forward_cache_x, bwd=sigmoid_backward_uses_x)
    xt = n((4, 5)) * 4
    xt[2, 3] = 9.5  # saturated: 1 - t*t = 2e-8, still exact to 1e-8 in float64 (at |x| > 11 it is not)
    th = ok("tanh, inputs to 9.5", tanh_forward, tanh_backward, {"x": xt})
    bug(th, "tanh [sigmoid's rule]", bwd=tanh_backward_sigmoid_rule)
    xt13 = n((4, 5)) * 6  # |x| to 13: 1 - t*t of 2e-11 holds ~7 digits (its error is 2e-17: round-off)
    xt13[0, 2], xt13[1, 2] = -12.830043642726121, -11.706154683127536
    ok("tanh, inputs to 13", tanh_forward, tanh_backward, {"x": xt13}, k=20)
    bn = ok("batchnorm train", batchnorm_forward, batchnorm_backward,
            {"x": n((8, 5)) * 3 + 2, "gamma": n(5), "beta": n(5)}, {"bn_param": {"mode": "train"}})
    bug(bn, "batchnorm [variance path forgotten]", bwd=batchnorm_backward_no_var_term)
    ln = ok("layernorm", layernorm_forward, layernorm_backward,
            {"x": n((4, 6)), "gamma": n(6), "beta": n(6)}, {"ln_param": {}})
    bug(ln, "layernorm [batchnorm's axis]", bwd=layernorm_backward_batch_axis)
    sm = ok("softmax loss", softmax_loss, None, {"x": n((10, 6)), "y": r.integers(0, 6, 10)})
    bug(sm, "softmax loss [1/N forgotten]", fwd=softmax_loss_no_N)
    sv = ok("SVM loss", svm_loss, None, {"x": n((10, 6)), "y": r.integers(0, 6, 10)})
    bug(sv, "SVM loss [label term forgotten]", fwd=svm_loss_no_correct_class_term)
    xsl = 1e-3 * r.standard_normal((4, 5))  # most entries inside the quadratic zone
    xsl[0] = 3 * r.standard_normal(5)
    sl = ok("smooth-L1 beta 1e-3", smooth_l1, None, {"x": xsl})
    bug(sl, "smooth-L1 [sign on small entries]", fwd=smooth_l1_sign)
    cv = ok("conv naive 1x2x4x4, 2 filters 3x3", conv_forward_naive, conv_backward_naive,
            {"x": n((1, 2, 4, 4)), "w": n((2, 2, 3, 3)), "b": n(2)}, {"conv_param": {"stride": 1, "pad": 1}})
    ok("conv naive 2x3x5x5 stride 2", conv_forward_naive, conv_backward_naive,
       {"x": n((2, 3, 5, 5)), "w": n((2, 3, 3, 3)), "b": n(2)}, {"conv_param": {"stride": 2, "pad": 1}}, small=False)
    bug(cv, "conv naive [kernel flipped in dx]", bwd=conv_backward_naive_flipped)
    mp_ = ok("max-pool naive 2x2", max_pool_forward_naive, max_pool_backward_naive, {"x": n((2, 2, 4, 4))},
             {"pool_param": {"pool_height": 2, "pool_width": 2, "stride": 2}})
    bug(mp_, "max-pool [first entry, not the max]", bwd=max_pool_backward_first)
    N, D, H = 3, 4, 5
    rs = ok("rnn step", rnn_step_forward, rnn_step_backward,
            {"x": n((N, D)), "prev_h": n((N, H)), "Wx": n((D, H)), "Wh": n((H, H)), "b": n(H)})
    bug(rs, "rnn step [tanh derivative missing]", bwd=rnn_step_backward_no_tanh)
    rq = ok("rnn sequence T=3", rnn_forward, rnn_backward,
            {"x": n((2, 3, D)), "h0": n((2, H)), "Wx": n((D, H)), "Wh": n((H, H)), "b": n(H)})
    bug(rq, "rnn sequence [dh of later steps dropped]", bwd=rnn_backward_no_carry)
    ls = ok("lstm step", lstm_step_forward, lstm_step_backward,
            {"x": n((N, D)), "prev_h": n((N, H)), "prev_c": n((N, H)), "Wx": n((D, 4 * H)),
             "Wh": n((H, 4 * H)), "b": n(4 * H)})
    bug(ls, "lstm step [prev_h for prev_c in df]", bwd=lstm_step_backward_prev_h)
    we = ok("word embedding (repeated words)", word_embedding_forward, word_embedding_backward,
            {"x": np.array([[0, 3, 1], [3, 3, 2]]), "W": n((5, 4))})
    bug(we, "word embedding [dW[x] = dout]", bwd=word_embedding_backward_assign)
    dr = ok("dropout p 0.8 (cache's mask)", dropout_forward, dropout_backward, {"x": n((4, 5))},
            {"dropout_param": {"p": 0.8}}, rng_seed=0)
    bug(dr, "dropout [new mask in backward]", bwd=dropout_backward_new_mask, damage=False)
    at = ok("attention 4x3", attention_forward, attention_backward, {"q": n((4, 3)), "k": n((5, 3)), "v": n((5, 2))})
    bug(at, "attention [softmax as elementwise]", bwd=attention_backward_elementwise)
    # saturation everywhere: inputs 30 N(0, 1) (the textbook formulas hold tiny entries to a few digits)
    ok("sigmoid, inputs 30 N(0,1)", sigmoid_forward, sigmoid_backward, {"x": 30 * R(9).standard_normal((5, 6))}, k=30)
    ok("tanh, inputs 30 N(0,1)", tanh_forward, tanh_backward, {"x": 30 * R(10).standard_normal((5, 6))}, k=30)
    ok("softmax loss, scores 30 N(0,1)", softmax_loss, None, {"x": 30 * R(11).standard_normal((10, 6)),
                                                              "y": R(1).integers(0, 6, 10)}, k=30)
    # larger layers: the adaptive search (past 256 entries) on the same code
    ok("batchnorm train 64x100", batchnorm_forward, batchnorm_backward,
       {"x": n((64, 100)), "gamma": n(100), "beta": n(100)}, {"bn_param": {"mode": "train"}}, small=False, k=6)
    big_aff = ok("affine 64x100 -> 50", affine_forward, affine_backward,
                 {"x": n((64, 100)), "w": n((100, 50)), "b": n(50)}, small=False, k=6)
    bug(big_aff, "affine 64x100 -> 50 [dw averaged over N]", bwd=affine_backward_dw_mean, small=False)
    ok("lstm step N=10 D=20 H=30", lstm_step_forward, lstm_step_backward,
       {"x": n((10, 20)), "prev_h": n((10, 30)), "prev_c": n((10, 30)), "Wx": n((20, 120)),
        "Wh": n((30, 120)), "b": n(120)}, small=False, k=4)
    ok("conv naive 2x3x8x8, 4 filters 3x3", conv_forward_naive, conv_backward_naive,
       {"x": n((2, 3, 8, 8)), "w": n((4, 3, 3, 3)), "b": n(4)}, {"conv_param": {"stride": 1, "pad": 1}},
       small=False, k=4)
    f32in = {"x": n((4, 6)), "w": n((6, 5)), "b": n(5)}
    ok("float32 affine", affine_forward_f32, affine_backward_f32, f32in, truth=False)
    C[-1].truth = _truth(affine_forward, affine_backward, f32in, {}, ["x", "w", "b"])
    C[-1].note = "truth: the same formula in float64"
    return C
