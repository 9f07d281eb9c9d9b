"""``net --impl`` cases of the audit: CS224n ``forward_backward_prop`` variants and their bugs.

``NAME(data, labels, params, dimensions) -> (cost, grad)``, params flat W1, b1, W2, b2 (then
W3, b3 for a deeper net).  Correct: sigmoid / tanh / relu hidden layer, softmax cross-entropy
summed or averaged, an L2 term, 1 and 1,000 samples, weights scaled up (saturated sigmoids)
or down inside the code, 784-100-10, 10-5-10 and a 3-layer net.  Wrong: the bugs students
make in it.  ``cases()`` returns the ``Case`` records (``corpus_common``).
"""

from __future__ import annotations

import sys

import numpy as np

from corpus_common import Case, compare, mp_truth

THIS = sys.modules[__name__]


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def softmax(x):
    x = x - np.max(x, axis=1, keepdims=True)
    e = np.exp(x)
    return e / np.sum(e, axis=1, keepdims=True)


def unpack(params, dims):
    """[(W, b), ...] views of the flat params for dims (D0, D1, ..., DL)."""
    out, ofs = [], 0
    for a, b in zip(dims[:-1], dims[1:]):
        W = params[ofs:ofs + a * b].reshape(a, b)
        ofs += a * b
        bb = params[ofs:ofs + b].reshape(1, b)
        ofs += b
        out.append((W, bb))
    return out


def flat(grads):
    return np.concatenate([g.reshape(-1) for pair in grads for g in pair])


# ------------------------------------------------------------------ the student's network
def fbp(data, labels, params, dimensions, act="sigmoid", mean=False, reg=0.0, scale=1.0,
        bug=None, f32=False):
    """Two-layer (or deeper) network; ``bug`` plants one classic mistake; ``f32``: in float32."""
    if f32:
        cost, g = fbp(data.astype(np.float32), labels.astype(np.float32), np.asarray(params, dtype=np.float32),
                      dimensions, act, mean, reg, scale, bug)
        return np.float32(cost), g.astype(np.float32)
    layers = unpack(params * scale if scale != 1.0 else params, dimensions)
    M = data.shape[0]
    hs = [data]
    for W, b in layers[:-1]:
        z = hs[-1].dot(W) + b
        if act == "sigmoid":
            h = sigmoid(z)
        elif act == "tanh":
            h = np.tanh(z)
        else:
            h = np.maximum(z, 0)
        hs.append(h)
    W, b = layers[-1]
    yhat = softmax(hs[-1].dot(W) + b)
    cost = -np.sum(labels * np.log(yhat))
    if mean:
        cost = cost / M
    if reg:
        cost = cost + 0.5 * reg * sum(np.sum(W * W) for W, _ in layers)

    d = yhat - labels
    if mean and bug != "mean grad summed":
        d = d / M
    grads = []
    for li in range(len(layers) - 1, -1, -1):
        W, b = layers[li]
        h = hs[li]
        if bug == "loop misses the last sample":
            gW = sum(np.outer(h[i], d[i]) for i in range(M - 1))
        else:
            gW = h.T.dot(d)
        if bug == "b summed over all axes":
            gb = np.full((1, d.shape[1]), np.sum(d))
        elif bug == "b summed over the wrong axis" and li == 0:
            gb = np.sum(d, axis=1).reshape(1, -1)
        else:
            gb = np.sum(d, axis=0, keepdims=True)
        if reg and bug != "reg missing in grad":
            gW = gW + (2 * reg if bug == "reg doubled" else reg) * W
        grads.append((gW, gb))
        if li == 0:
            break
        dh = d.dot(W) if bug == "W not transposed" else d.dot(W.T)
        hp = hs[li]
        if bug == "sigmoid grad missing":
            d = dh
        elif act == "sigmoid":
            d = dh * (hp * (1 - hp) if bug != "tanh grad for sigmoid" else (1 - hp * hp))
        elif act == "tanh":
            d = dh * ((1 - hp * hp) if bug != "sigmoid grad for tanh" else hp * (1 - hp))
        else:
            d = dh * (hp > 0) if bug != "relu mask missing" else dh
    g = flat(grads[::-1])
    if scale != 1.0:
        g = g * scale
    if bug == "off by one entry":
        k = g.size // 3
        g[k] = g[k + 1]
    return cost, g


def make(name, **kw):
    def impl(data, labels, params, dimensions):
        return fbp(data, labels, params, dimensions, **kw)
    impl.__name__ = name
    impl.kw = kw
    return impl


def _problem(dims, samples, seed=0):
    """A point like the checker's (X ~ N(0,1), one-hot labels, params ~ N(0,1)) for the truth."""
    r = np.random.default_rng(seed + 1000)
    X = r.standard_normal((samples, dims[0]))
    y = np.zeros((samples, dims[-1]))
    y[np.arange(samples), r.integers(0, dims[-1], samples)] = 1
    n = sum(a * b + b for a, b in zip(dims[:-1], dims[1:]))
    return X, y, r.standard_normal(n)


def _truth(impl, dims, samples, k=3):
    def t():
        X, y, p = _problem(dims, min(samples, 20))
        hand = impl(X, y, p, list(dims))[1]
        mods = [THIS] + ([sys.modules[impl.__module__]] if impl.__module__ != __name__ else [])
        return mp_truth(lambda q: impl(X, y, q, list(dims))[0], [p], [0], [hand], mods, k=k)
    return t


def _damage(bug, ok, dims, samples):
    def d():
        X, y, p = _problem(dims, samples)
        return compare(bug(X, y, p, list(dims))[1], ok(X, y, p, list(dims))[1])
    return d


def cases() -> list[Case]:
    from gradcheck_cli import check_network

    C: list[Case] = []

    def run(impl, dims, samples, activation, mean, cost_check):
        def r(mode=None):
            return check_network(dims, impl=impl, samples=samples, activation=activation, mean=mean,
                                 cost_check=cost_check, **({} if mode is None else {"mode": mode}))
        return r

    def ok(name, dims, samples=20, small=True, truth_dims=None, full=True, **kw):
        impl = make(name.replace(" ", "_"), **kw)
        act, mean = kw.get("act", "sigmoid"), kw.get("mean", False)
        cc = not kw.get("reg") and kw.get("scale", 1.0) == 1.0
        C.append(Case("net --impl", name, True, run(impl, dims, samples, act, mean, cc),
                      truth=_truth(impl, truth_dims or dims, samples), small=small, full=full))
        return impl, dims, samples, act, mean, cc

    def bug(base, name, bugname, small=True):
        impl0, dims, samples, act, mean, cc = base
        impl = make(name.replace(" ", "_"), **{**impl0.kw, "bug": bugname})
        C.append(Case("net --impl", f"{name} [{bugname}]", False, run(impl, dims, samples, act, mean, cc),
                      damage=_damage(impl, impl0, dims, samples), small=small))

    s = ok("sigmoid CE sum 10-5-10", (10, 5, 10))
    bug(s, "sigmoid 10-5-10", "sigmoid grad missing")
    bug(s, "sigmoid 10-5-10", "off by one entry")
    bug(s, "sigmoid 10-5-10", "b summed over all axes")
    bug(s, "sigmoid 10-5-10", "loop misses the last sample", small=False)
    sq = ok("sigmoid 10-10-10", (10, 10, 10))
    bug(sq, "sigmoid 10-10-10", "W not transposed")
    t = ok("tanh 10-5-10", (10, 5, 10), act="tanh")
    bug(t, "tanh 10-5-10", "sigmoid grad for tanh")
    rl = ok("relu 10-5-10", (10, 5, 10), act="relu")
    bug(rl, "relu 10-5-10", "relu mask missing")
    m = ok("sigmoid CE mean 10-5-10", (10, 5, 10), mean=True)
    bug(m, "mean 10-5-10", "mean grad summed")
    rg = ok("sigmoid + L2 1e-3 20-10-5", (20, 10, 5), reg=1e-3)
    bug(rg, "L2 20-10-5", "reg missing in grad")
    bug(rg, "L2 20-10-5", "reg doubled")
    ok("1 sample 10-5-10", (10, 5, 10), samples=1)
    b5 = ok("sigmoid 5 samples 10-5-10", (10, 5, 10), samples=5)
    bug(b5, "5 samples 10-5-10", "b summed over the wrong axis")
    ok("1,000 samples 10-5-10", (10, 5, 10), samples=1000, small=False, truth_dims=(10, 5, 10))
    ok("large weights (x8, saturated) 10-5-10", (10, 5, 10), scale=8.0)
    ok("tiny weights (x1e-3) 10-5-10", (10, 5, 10), scale=1e-3)
    ok("784-100-10", (784, 100, 10), small=False, truth_dims=(12, 6, 10), full=False)
    ok("3 layers 10-8-6-10", (10, 8, 6, 10))
    d3 = ok("3 layers tanh 10-8-6-10", (10, 8, 6, 10), act="tanh")
    bug(d3, "3 layers tanh 10-8-6-10", "sigmoid grad for tanh")
    ok("mean CE 784-100-10", (784, 100, 10), small=False, truth_dims=(12, 6, 10), full=False, mean=True)
    ok("tanh 784-100-10", (784, 100, 10), small=False, truth_dims=(12, 6, 10), full=False, act="tanh")
    ok("relu 784-100-10 (weights x0.05)", (784, 100, 10), small=False, truth_dims=(12, 6, 10), full=False, act="relu",
       scale=0.05)
    l2d = make("l2_default_cost_check", reg=1e-3)
    C.append(Case("net --impl", "sigmoid + L2 1e-3 20-10-5, cost check on (CLI default)", True,
                  run(l2d, (20, 10, 5), 20, "sigmoid", False, True), truth=_truth(l2d, (20, 10, 5), 20),
                  note="the cost legitimately differs from the reference (its L2 term)"))
    f32 = make("float32_10_5_10", f32=True)
    C.append(Case("net --impl", "float32 10-5-10", True, run(f32, (10, 5, 10), 20, "sigmoid", False, False),
                  truth=_truth(make("float64_10_5_10"), (10, 5, 10), 20),
                  note="float32 code (cost check off); truth: the same code in float64"))
    # the benchmark's student network (benchmarks/mynet.py), as in the issue
    import mynet

    for dims, small in (((50, 30, 10), True), ((784, 100, 10), False)):
        C.append(Case("net --impl", f"mynet {dims}", True, run(mynet.forward_backward_prop, dims, 20, "sigmoid",
                                                               False, True), small=small, full=small,
                      truth=_truth(mynet.forward_backward_prop, (12, 6, 10), 20)))
    C.append(Case("net --impl", "mynet one_wrong (784, 100, 10)", False,
                  run(mynet.one_wrong, (784, 100, 10), 20, "sigmoid", False, True), small=False, full=False,
                  damage=_damage(mynet.one_wrong, mynet.forward_backward_prop, (784, 100, 10), 20)))
    C.append(Case("net --impl", "mynet block_bug (50, 30, 10)", False,
                  run(mynet.block_bug, (50, 30, 10), 20, "sigmoid", False, True),
                  damage=_damage(mynet.block_bug, mynet.forward_backward_prop, (50, 30, 10), 20)))
    return C
