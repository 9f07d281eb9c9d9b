"""``model`` cases of the audit: CS231n models (``model.params``, ``loss(X, y) -> (loss, grads)``).

The two-layer net of assignment 1 (weights 1e-3 as its notebook makes them, and 1e-1 with
an L2 term), the fully connected net of assignment 2 with batchnorm, with dropout (a seed
in ``dropout_param``, as the course's ``dropout_forward`` reseeds), with its default
``dtype=np.float32`` (the parameters cast at ``__init__``), and a model that computes in
float32 inside ``loss``.  Each wrong variant is a bug people make in them.  The layers are
written here the course's way.  ``cases()`` returns the ``Case`` records.
"""

from __future__ import annotations

import sys

import numpy as np

from corpus_common import Case, compare, mp_truth

THIS = sys.modules[__name__]


# ------------------------------------------------------------------ the course's layers
def affine_forward(x, w, b):
    return x.reshape(x.shape[0], -1) @ w + b, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    return (dout @ w.T).reshape(x.shape), x.reshape(x.shape[0], -1).T @ dout, dout.sum(axis=0)


def relu_forward(x):
    return np.maximum(0, x), x


def relu_backward(dout, x):
    return dout * (x > 0)


def softmax_loss(x, y):
    s = x - x.max(axis=1, keepdims=True)
    z = np.exp(s).sum(axis=1, keepdims=True)
    logp = s - np.log(z)
    N = x.shape[0]
    loss = -np.sum(logp[np.arange(N), y]) / N
    dx = np.exp(logp)
    dx[np.arange(N), y] -= 1
    return loss, dx / N


def batchnorm_forward(x, gamma, beta, bn_param):
    eps = bn_param.get("eps", 1e-5)
    mu = x.mean(axis=0)
    var = x.var(axis=0)
    xhat = (x - mu) / np.sqrt(var + eps)
    bn_param["running_mean"] = 0.9 * bn_param.get("running_mean", np.zeros_like(mu)) + 0.1 * mu
    bn_param["running_var"] = 0.9 * bn_param.get("running_var", np.zeros_like(var)) + 0.1 * var
    return gamma * xhat + beta, (xhat, gamma, np.sqrt(var + eps))


def batchnorm_backward(dout, cache):
    xhat, gamma, std = cache
    N = dout.shape[0]
    dxhat = dout * gamma
    dx = (N * dxhat - dxhat.sum(axis=0) - xhat * np.sum(dxhat * xhat, axis=0)) / (N * std)
    return dx, np.sum(dout * xhat, axis=0), dout.sum(axis=0)


def batchnorm_backward_swapped(dout, cache):
    """dgamma and dbeta returned in each other's place."""
    dx, dgamma, dbeta = batchnorm_backward(dout, cache)
    return dx, dbeta, dgamma


def dropout_forward(x, dropout_param):
    p, mode = dropout_param["p"], dropout_param["mode"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    if mode == "train":
        mask = (np.random.rand(*x.shape) < p) / p
        return x * mask, mask
    return x, None


def dropout_backward(dout, mask):
    return dout * mask


def dropout_backward_unscaled(dout, mask):
    """The mask as 0/1 (the 1/p of the forward forgotten)."""
    return dout * (mask > 0)


# ------------------------------------------------------------------ models
class TwoLayerNet:
    """affine - relu - affine - softmax, L2 0.5 reg ||W||^2 (assignment 1)."""

    def __init__(self, input_size, hidden_size, output_size, std=1e-4, reg=0.0, seed=0, bug=None):
        r = np.random.RandomState(seed)
        self.params = {"W1": std * r.randn(input_size, hidden_size), "b1": np.zeros(hidden_size),
                       "W2": std * r.randn(hidden_size, output_size), "b2": np.zeros(output_size)}
        if std > 1e-2:  # nonzero biases when the weights are not tiny
            self.params["b1"] = 0.1 * r.randn(hidden_size)
            self.params["b2"] = 0.1 * r.randn(output_size)
        self.reg, self.bug = reg, bug

    def loss(self, X, y=None):
        W1, b1, W2, b2 = (self.params[k] for k in ("W1", "b1", "W2", "b2"))
        h = np.maximum(0, X @ W1 + b1)
        scores = h @ W2 + b2
        loss, dscores = softmax_loss(scores, y)
        loss += 0.5 * self.reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
        grads = {"W2": h.T @ dscores + self.reg * W2, "b2": dscores.sum(axis=0)}
        dh = dscores @ W2.T * (h > 0)
        grads["W1"] = X.T @ dh + (0 if self.bug == "reg missing in W1" else self.reg * W1)
        grads["b1"] = dh.sum(axis=0) if self.bug != "b1 without relu mask" else (dscores @ W2.T).sum(axis=0)
        return loss, grads


class FullyConnectedNet:
    """{affine - [batchnorm] - relu - [dropout]} x (L - 1) - affine - softmax (assignment 2)."""

    def __init__(self, hidden_dims, input_dim, num_classes, dropout_keep_ratio=1, normalization=None, reg=0.0,
                 weight_scale=1e-2, dtype=np.float32, seed=None, init_seed=0, bn_backward=batchnorm_backward,
                 drop_backward=dropout_backward, compute_dtype=None):
        r = np.random.RandomState(init_seed)
        self.normalization, self.reg, self.dtype = normalization, reg, dtype
        self.use_dropout = dropout_keep_ratio != 1
        self.num_layers = 1 + len(hidden_dims)
        self.bn_backward, self.drop_backward, self.compute_dtype = bn_backward, drop_backward, compute_dtype
        dims = [input_dim] + list(hidden_dims) + [num_classes]
        self.params = {}
        for i in range(self.num_layers):
            self.params[f"W{i + 1}"] = weight_scale * r.randn(dims[i], dims[i + 1])
            self.params[f"b{i + 1}"] = 0.1 * r.randn(dims[i + 1])
            if normalization == "batchnorm" and i < self.num_layers - 1:
                self.params[f"gamma{i + 1}"] = 1 + 0.1 * r.randn(dims[i + 1])
                self.params[f"beta{i + 1}"] = 0.1 * r.randn(dims[i + 1])
        self.dropout_param = {"mode": "train", "p": dropout_keep_ratio, **({"seed": seed} if seed is not None else {})}
        self.bn_params = [{"mode": "train"} for _ in range(self.num_layers - 1)] if normalization else []
        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)

    def loss(self, X, y=None):
        cd = self.compute_dtype
        P = {k: (v.astype(cd) if cd else v) for k, v in self.params.items()}
        X = X.astype(cd or self.dtype)
        caches, out = [], X
        L = self.num_layers
        for i in range(1, L):
            out, ca = affine_forward(out, P[f"W{i}"], P[f"b{i}"])
            cb = None
            if self.normalization == "batchnorm":
                out, cb = batchnorm_forward(out, P[f"gamma{i}"], P[f"beta{i}"], self.bn_params[i - 1])
            out, cr = relu_forward(out)
            cd_ = None
            if self.use_dropout:
                out, cd_ = dropout_forward(out, self.dropout_param)
            caches.append((ca, cb, cr, cd_))
        scores, cl = affine_forward(out, P[f"W{L}"], P[f"b{L}"])
        loss, dout = softmax_loss(scores, y)
        loss += sum(0.5 * self.reg * np.sum(P[f"W{i}"] ** 2) for i in range(1, L + 1))
        grads = {}
        dout, grads[f"W{L}"], grads[f"b{L}"] = affine_backward(dout, cl)
        grads[f"W{L}"] += self.reg * P[f"W{L}"]
        for i in range(L - 1, 0, -1):
            ca, cb, cr, cd_ = caches[i - 1]
            if self.use_dropout:
                dout = self.drop_backward(dout, cd_)
            dout = relu_backward(dout, cr)
            if self.normalization == "batchnorm":
                dout, grads[f"gamma{i}"], grads[f"beta{i}"] = self.bn_backward(dout, cb)
            dout, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(dout, ca)
            grads[f"W{i}"] += self.reg * P[f"W{i}"]
        return loss, grads


# ------------------------------------------------------------------ truth, damage
def _truth(make, X, y, k=3):
    """mpmath truth of every block's hand gradient at ``k`` entries (the model's own loss)."""
    def t():
        m = make()
        keys = list(m.params)
        base = {kk: np.array(v, dtype=float) for kk, v in m.params.items()}
        m.params = {kk: v.copy() for kk, v in base.items()}
        hand = m.loss(X, y)[1]

        def cost(*arrays):
            mm = make()
            mm.params = dict(zip(keys, arrays))
            return mm.loss(X, y)[0]
        rows = mp_truth(cost, [base[kk] for kk in keys], list(range(len(keys))),
                        [np.asarray(hand[kk], dtype=float) for kk in keys], [THIS], k=k)
        # a block whose true gradient is 0 (a bias before batchnorm) holds round-off of the
        # whole gradient's scale, not of its own
        top = max(s for *_, s in rows)
        return [(lab, h, tr, top) for lab, h, tr, _ in rows]
    return t


def _damage(make_bug, make_ok, X, y):
    def d():
        mb, mo = make_bug(), make_ok()
        mb.params = {kk: np.array(v, dtype=float) for kk, v in mo.params.items()}
        mo.params = {kk: np.array(v, dtype=float) for kk, v in mo.params.items()}
        gb, go = mb.loss(X, y)[1], mo.loss(X, y)[1]
        return compare([gb[kk] for kk in go], [go[kk] for kk in go])
    return d


def cases() -> list[Case]:
    from gradcheck_cli import check_model

    C: list[Case] = []
    r = np.random.default_rng(500)

    def run(make, X, y):
        return lambda mode=None: check_model(make(), X, y, **({} if mode is None else {"mode": mode}))

    def ok(name, make, X, y, small=True, truth=True, note=""):
        C.append(Case("model", name, True, run(make, X, y), truth=_truth(make, X, y) if truth else None,
                      small=small, note=note))

    def bug(name, make_bug, make_ok, X, y, small=True):
        C.append(Case("model", name, False, run(make_bug, X, y), damage=_damage(make_bug, make_ok, X, y),
                      small=small))

    X, y = r.standard_normal((8, 12)), r.integers(0, 4, 8)
    ok("two-layer net, std 1e-4 (assignment 1's init)", lambda: TwoLayerNet(12, 10, 4, std=1e-4), X, y)
    for std, seed in ((1e-3, 2), (1e-5, 2)):
        r2 = np.random.default_rng(500 + seed)
        X2, y2 = r2.standard_normal((8, 12)), r2.integers(0, 4, 8)
        ok(f"two-layer net, std {std:g} (seed {seed})", lambda std=std, seed=seed: TwoLayerNet(12, 10, 4, std=std, seed=seed),
           X2, y2, small=std > 1e-5)
    ok("two-layer net, std 1e-1, reg 0.05", lambda: TwoLayerNet(12, 10, 4, std=1e-1, reg=0.05), X, y)
    bug("two-layer net [reg missing in dW1]", lambda: TwoLayerNet(12, 10, 4, std=1e-1, reg=0.05, bug="reg missing in W1"),
        lambda: TwoLayerNet(12, 10, 4, std=1e-1, reg=0.05), X, y)
    bug("two-layer net [db1 without the relu mask]",
        lambda: TwoLayerNet(12, 10, 4, std=1e-1, reg=0.05, bug="b1 without relu mask"),
        lambda: TwoLayerNet(12, 10, 4, std=1e-1, reg=0.05), X, y)

    Xf, yf = r.standard_normal((6, 10)), r.integers(0, 5, 6)
    fc = dict(hidden_dims=[8, 7], input_dim=10, num_classes=5, weight_scale=2e-1, dtype=np.float64)
    ok("FC net 3 layers + batchnorm", lambda: FullyConnectedNet(normalization="batchnorm", **fc), Xf, yf)
    bug("FC net + batchnorm [dgamma and dbeta swapped]",
        lambda: FullyConnectedNet(normalization="batchnorm", bn_backward=batchnorm_backward_swapped, **fc),
        lambda: FullyConnectedNet(normalization="batchnorm", **fc), Xf, yf)
    ok("FC net + dropout 0.75 (seeded), reg 0.01",
       lambda: FullyConnectedNet(dropout_keep_ratio=0.75, seed=123, reg=0.01, **fc), Xf, yf)
    bug("FC net + dropout [1/p lost in backward]",
        lambda: FullyConnectedNet(dropout_keep_ratio=0.75, seed=123, reg=0.01, drop_backward=dropout_backward_unscaled,
                                  **fc),
        lambda: FullyConnectedNet(dropout_keep_ratio=0.75, seed=123, reg=0.01, **fc), Xf, yf)
    fc32 = {**fc, "dtype": np.float32}
    ok("FC net, default dtype float32 (cast at init)", lambda: FullyConnectedNet(**fc32), Xf, yf)
    ok("FC net computing in float32 inside loss", lambda: FullyConnectedNet(compute_dtype=np.float32, **fc), Xf, yf,
       truth=False, note="float32 arithmetic: the hand gradient holds ~1e-6; a float32 tolerance is right")
    return C
