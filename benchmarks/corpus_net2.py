"""More ``net --impl`` cases of the audit: CS224n ``forward_backward_prop`` written other ways.

A per-sample Python loop, labels turned into indices with argmax, ``log(yhat + 1e-12)``,
``sigmoid_grad(sigmoid(z))`` helpers, a relu-then-tanh 3-layer net, tanh with weights x3
(saturated), the MSE loss (sigmoid output), and the bugs people make in them.  The truth and
damage helpers are ``corpus_net``'s.  ``cases()`` returns the ``Case`` records.
"""

from __future__ import annotations

import sys

import numpy as np

from corpus_common import Case
from corpus_net import _damage, _truth, make, unpack

THIS = sys.modules[__name__]


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def sigmoid_grad(s):
    return s * (1 - s)


def softmax(x):
    x = x - np.max(x, axis=1, keepdims=True)
    e = np.exp(x)
    return e / np.sum(e, axis=1, keepdims=True)


def loop_per_sample(data, labels, params, dimensions, bug=None):
    """Backprop one sample at a time, accumulating the gradients (sigmoid, summed CE)."""
    (W1, b1), (W2, b2) = unpack(params, dimensions)
    cost = 0.0
    gW1, gb1, gW2, gb2 = np.zeros_like(W1), np.zeros_like(b1), np.zeros_like(W2), np.zeros_like(b2)
    for i in range(data.shape[0]):
        x, y = data[i:i + 1], labels[i:i + 1]
        h = sigmoid(x @ W1 + b1)
        p = softmax(h @ W2 + b2)
        cost += -np.sum(y * np.log(p))
        d2 = p - y
        gW2 += h.T @ d2
        gb2 += d2
        d1 = (d2 @ W2.T) * sigmoid_grad(h)
        gW1 += x.T @ d1
        if bug == "b1 = instead of +=":
            gb1 = d1.copy()
        else:
            gb1 += d1
    return cost, np.concatenate([gW1.ravel(), gb1.ravel(), gW2.ravel(), gb2.ravel()])


def argmax_labels(data, labels, params, dimensions, bug=None):
    """tanh hidden layer; the labels as indices (argmax) and the CE by fancy indexing."""
    (W1, b1), (W2, b2) = unpack(params, dimensions)
    M = data.shape[0]
    idx = np.argmax(labels, axis=1)
    h = np.tanh(data @ W1 + b1)
    p = softmax(h @ W2 + b2)
    cost = -np.sum(np.log(p[np.arange(M), idx]))
    d2 = p.copy()
    d2[np.arange(M), idx] -= 1
    d1 = d2 @ W2.T * ((1 - h) if bug == "1 - tanh, not 1 - tanh^2" else (1 - h * h))
    return cost, np.concatenate([(data.T @ d1).ravel(), d1.sum(axis=0), (h.T @ d2).ravel(), d2.sum(axis=0)])


def log_eps(data, labels, params, dimensions, bug=None):
    """Sigmoid net with the cost -sum y log(yhat + 1e-12) and the gradient yhat - y (off by ~1e-11)."""
    (W1, b1), (W2, b2) = unpack(params, dimensions)
    z1 = data.dot(W1) + b1
    h = sigmoid(z1)
    yhat = softmax(h.dot(W2) + b2)
    cost = -np.sum(labels * np.log(yhat + 1e-12))
    d2 = yhat - labels
    d1 = d2.dot(W2.T) * sigmoid_grad(z1 if bug == "sigmoid_grad of z" else h)
    return cost, np.concatenate([data.T.dot(d1).ravel(), d1.sum(axis=0), h.T.dot(d2).ravel(), d2.sum(axis=0)])


def log_eps6(data, labels, params, dimensions):
    """The cost -sum y log(yhat + 1e-6) with the gradient yhat - y: a soft bug of ~1e-6 / yhat."""
    (W1, b1), (W2, b2) = unpack(params, dimensions)
    h = sigmoid(data.dot(W1) + b1)
    yhat = softmax(h.dot(W2) + b2)
    cost = -np.sum(labels * np.log(yhat + 1e-6))
    d2 = yhat - labels
    d1 = d2.dot(W2.T) * sigmoid_grad(h)
    return cost, np.concatenate([data.T.dot(d1).ravel(), d1.sum(axis=0), h.T.dot(d2).ravel(), d2.sum(axis=0)])


def log_eps6_ok(data, labels, params, dimensions):
    """What log_eps6 should return: the gradient of its own cost."""
    (W1, b1), (W2, b2) = unpack(params, dimensions)
    h = sigmoid(data.dot(W1) + b1)
    yhat = softmax(h.dot(W2) + b2)
    cost = -np.sum(labels * np.log(yhat + 1e-6))
    dy = -labels / (yhat + 1e-6)
    d2 = yhat * (dy - np.sum(dy * yhat, axis=1, keepdims=True))
    d1 = d2.dot(W2.T) * sigmoid_grad(h)
    return cost, np.concatenate([data.T.dot(d1).ravel(), d1.sum(axis=0), h.T.dot(d2).ravel(), d2.sum(axis=0)])


def relu_tanh(data, labels, params, dimensions, bug=None, scale=1.0):
    """3 layers: relu then tanh hidden layers, summed CE."""
    (W1, b1), (W2, b2), (W3, b3) = unpack(params * scale, dimensions)
    z1 = data @ W1 + b1
    h1 = np.maximum(z1, 0)
    h2 = np.tanh(h1 @ W2 + b2)
    p = softmax(h2 @ W3 + b3)
    cost = -np.sum(labels * np.log(p))
    d3 = p - labels
    d2 = d3 @ W3.T * (1 - h2 * h2)
    d1 = d2 @ W2.T * ((h1 >= 0) if bug == "relu mask h >= 0" else (z1 > 0))
    g = np.concatenate([(data.T @ d1).ravel(), d1.sum(axis=0), (h1.T @ d2).ravel(), d2.sum(axis=0),
                        (h2.T @ d3).ravel(), d3.sum(axis=0)])
    return cost, g * scale


def tanh_x3(data, labels, params, dimensions):
    """tanh net with the weights scaled by 3 inside (saturated units)."""
    (W1, b1), (W2, b2) = unpack(3.0 * params, dimensions)
    h = np.tanh(data @ W1 + b1)
    p = softmax(h @ W2 + b2)
    cost = -np.sum(labels * np.log(p))
    d2 = p - labels
    d1 = d2 @ W2.T * (1 - h * h)
    return cost, 3.0 * np.concatenate([(data.T @ d1).ravel(), d1.sum(axis=0), (h.T @ d2).ravel(), d2.sum(axis=0)])


def mse_net(data, labels, params, dimensions, bug=None):
    """sigmoid hidden, sigmoid output, 0.5 sum (yhat - y)^2 (the checker's --loss mse)."""
    (W1, b1), (W2, b2) = unpack(params, dimensions)
    h = sigmoid(data @ W1 + b1)
    yhat = sigmoid(h @ W2 + b2)
    cost = 0.5 * np.sum((yhat - labels) ** 2)
    d2 = (yhat - labels) if bug == "output sigmoid' forgotten" else (yhat - labels) * yhat * (1 - yhat)
    d1 = d2 @ W2.T * h * (1 - h)
    return cost, np.concatenate([(data.T @ d1).ravel(), d1.sum(axis=0), (h.T @ d2).ravel(), d2.sum(axis=0)])


def _bugged(f, bugname):
    def impl(data, labels, params, dimensions):
        return f(data, labels, params, dimensions, bug=bugname)
    impl.__name__ = f"{f.__name__}_bug"
    return impl


def cases() -> list[Case]:
    from gradcheck_cli import check_network

    C: list[Case] = []

    def run(impl, dims, samples, activation, loss, cost_check):
        def r(mode=None):
            return check_network(dims, impl=impl, samples=samples, activation=activation, loss=loss,
                                 cost_check=cost_check, **({} if mode is None else {"mode": mode}))
        return r

    def ok(name, impl, dims, act="sigmoid", loss="ce", cc=True, samples=20, small=True):
        C.append(Case("net --impl", name, True, run(impl, dims, samples, act, loss, cc),
                      truth=_truth(impl, dims, samples), small=small))

    def bug(name, impl, good, dims, act="sigmoid", loss="ce", cc=True, samples=20, small=True, full=True):
        C.append(Case("net --impl", name, False, run(impl, dims, samples, act, loss, cc),
                      damage=_damage(impl, good, dims, samples), small=small, full=full))

    ok("per-sample loop, sigmoid 10-5-10", loop_per_sample, (10, 5, 10))
    bug("per-sample loop [gb1 = instead of +=]", _bugged(loop_per_sample, "b1 = instead of +="), loop_per_sample,
        (10, 5, 10))
    ok("argmax labels, tanh 10-6-10", argmax_labels, (10, 6, 10), act="tanh")
    bug("argmax labels tanh [1 - tanh, not 1 - tanh^2]", _bugged(argmax_labels, "1 - tanh, not 1 - tanh^2"),
        argmax_labels, (10, 6, 10), act="tanh")
    ok("log(yhat + 1e-12), sigmoid 10-5-10", log_eps, (10, 5, 10))
    bug("log(yhat + 1e-12) [sigmoid_grad(z) for sigmoid_grad(h)]", _bugged(log_eps, "sigmoid_grad of z"), log_eps,
        (10, 5, 10))
    # (cost check off: the 1e-6 inside the log moves the cost 0.02% from the reference's, a warn of its own)
    ok("log(yhat + 1e-6) with its exact gradient, 10-5-10", log_eps6_ok, (10, 5, 10), cc=False)
    bug("log(yhat + 1e-6) [gradient yhat - y: soft]", log_eps6, log_eps6_ok, (10, 5, 10), cc=False)
    bug("log(yhat + 1e-6) 784-100-10 [gradient yhat - y: soft]", log_eps6, log_eps6_ok, (784, 100, 10), cc=False,
        small=False, full=False)
    ok("relu then tanh, 10-8-6-10", relu_tanh, (10, 8, 6, 10), cc=False)
    bug("relu then tanh [relu mask h >= 0]", _bugged(relu_tanh, "relu mask h >= 0"), relu_tanh, (10, 8, 6, 10), cc=False)
    ok("tanh with weights x3 (saturated) 10-5-10", tanh_x3, (10, 5, 10), act="tanh", cc=False)
    ok("MSE loss, sigmoid output 10-5-10", mse_net, (10, 5, 10), loss="mse")
    bug("MSE loss [output sigmoid' forgotten]", _bugged(mse_net, "output sigmoid' forgotten"), mse_net, (10, 5, 10),
        loss="mse")
    C.append(Case("net --impl", "relu 10-5-10, weights x1e-3 inside", True,
                  run(make("relu_tiny", act="relu", scale=1e-3), (10, 5, 10), 20, "relu", "ce", False),
                  truth=_truth(make("relu_tiny", act="relu", scale=1e-3), (10, 5, 10), 20)))
    C.append(Case("net --impl", "relu 50-30-10, weights x1e-2 inside", True,
                  run(make("relu_small", act="relu", scale=1e-2), (50, 30, 10), 20, "relu", "ce", False),
                  truth=_truth(make("relu_small", act="relu", scale=1e-2), (50, 30, 10), 20)))
    C.append(Case("net --impl", "relu 784-100-10, weights x1e-3 inside", True,
                  run(make("relu_tiny784", act="relu", scale=1e-3), (784, 100, 10), 20, "relu", "ce", False),
                  truth=_truth(make("relu_tiny784", act="relu", scale=1e-3), (12, 6, 10), 20), small=False, full=False))
    for act in ("relu", "tanh"):  # float32 code (the float32 merge's lowprec path); truth: the same code in float64
        C.append(Case("net --impl", f"float32 {act} 10-5-10", True,
                      run(make(f"f32_{act}", act=act, f32=True), (10, 5, 10), 20, act, "ce", False),
                      truth=_truth(make(f"f64_{act}", act=act), (10, 5, 10), 20),
                      note="float32 code; truth: the same code in float64"))
    ok("per-sample loop, sigmoid 50-30-10, 100 samples", loop_per_sample, (50, 30, 10), samples=100, small=False)
    return C
