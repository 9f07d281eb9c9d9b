"""A CS224n-style two-layer network, as a student writes it: the ``--impl`` target of the
benchmarks and of ``tests/test_fast_mode.py``.

``forward_backward_prop(data, labels, params, dimensions) -> (cost, grad)``: sigmoid hidden
layer, softmax output, cross-entropy summed over the rows of ``data``; ``params`` is flat
W1, b1, W2, b2 and ``grad`` is flat in the same order.  Variants with planted mistakes:

``one_wrong``    one entry of W1's gradient is off (W1[ONE_WRONG]: an off-by-one in a loop
                 that "fixes" one entry), everything else right;
``five_wrong``   five scattered entries of W1 and b2 off (the ``FIVE_WRONG`` flat indices);
``block_bug``    the classic block-wide mistake: the sigmoid derivative is left out of
                 backprop, so every entry of W1 and b1 is wrong.

The planted entries are given for a 784-100-10 network; for smaller networks they are
wrapped into range (``% size``) so the variants work at any size.
"""

import numpy as np

#: W1 entry (row, column) made wrong by ``one_wrong`` (wrapped into W1's shape)
ONE_WRONG = (523, 71)
#: flat indices into params made wrong by ``five_wrong`` (wrapped into range)
FIVE_WRONG = (17, 12_345, 40_000, 77_777, 79_505)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def sigmoid_grad(s):
    return s * (1.0 - s)


def softmax(x):
    x = x - np.max(x, axis=1, keepdims=True)
    e = np.exp(x)
    return e / np.sum(e, axis=1, keepdims=True)


def _unpack(params, dimensions):
    Dx, H, Dy = dimensions
    ofs = 0
    W1 = np.reshape(params[ofs:ofs + Dx * H], (Dx, H))
    ofs += Dx * H
    b1 = np.reshape(params[ofs:ofs + H], (1, H))
    ofs += H
    W2 = np.reshape(params[ofs:ofs + H * Dy], (H, Dy))
    ofs += H * Dy
    b2 = np.reshape(params[ofs:ofs + Dy], (1, Dy))
    return W1, b1, W2, b2


def _prop(data, labels, params, dimensions, skip_sigmoid_grad=False):
    W1, b1, W2, b2 = _unpack(params, dimensions)
    # forward
    h = sigmoid(data.dot(W1) + b1)
    yhat = softmax(h.dot(W2) + b2)
    cost = -np.sum(labels * np.log(yhat))
    # backward
    d2 = yhat - labels
    gradW2 = h.T.dot(d2)
    gradb2 = np.sum(d2, axis=0, keepdims=True)
    d1 = d2.dot(W2.T)
    if not skip_sigmoid_grad:
        d1 = d1 * sigmoid_grad(h)
    gradW1 = data.T.dot(d1)
    gradb1 = np.sum(d1, axis=0, keepdims=True)
    grad = np.concatenate((gradW1.flatten(), gradb1.flatten(), gradW2.flatten(), gradb2.flatten()))
    return cost, grad


def forward_backward_prop(data, labels, params, dimensions):
    """The correct implementation."""
    return _prop(data, labels, params, dimensions)


def one_wrong(data, labels, params, dimensions):
    """W1[ONE_WRONG] (wrapped) gets 1.5 times its gradient plus 0.01; the rest is right."""
    cost, grad = _prop(data, labels, params, dimensions)
    Dx, H, _ = dimensions
    k = (ONE_WRONG[0] % Dx) * H + ONE_WRONG[1] % H
    grad[k] = 1.5 * grad[k] + 0.01
    return cost, grad


def five_wrong(data, labels, params, dimensions):
    """The ``FIVE_WRONG`` flat entries (wrapped into range) are off; the rest is right."""
    cost, grad = _prop(data, labels, params, dimensions)
    for n, k in enumerate(FIVE_WRONG):
        k %= grad.size
        grad[k] = -grad[k] + 0.01 * (n + 1)
    return cost, grad


def block_bug(data, labels, params, dimensions):
    """The sigmoid derivative is left out of backprop: all of W1 and b1 is wrong."""
    return _prop(data, labels, params, dimensions, skip_sigmoid_grad=True)


def wrong_entries(variant, dimensions):
    """Flat indices of the entries a variant makes wrong (None: a whole-block bug)."""
    Dx, H, Dy = dimensions
    size = (Dx + 1) * H + (H + 1) * Dy
    if variant == "forward_backward_prop":
        return []
    if variant == "one_wrong":
        return [(ONE_WRONG[0] % Dx) * H + ONE_WRONG[1] % H]
    if variant == "five_wrong":
        return sorted({k % size for k in FIVE_WRONG})
    return None
