"""Realistically wrong versions of the layers in ``layers.py``, one classic mistake each.

The forward pass is the correct one unless the bug lives there; each backward pass
says in its docstring what is wrong.
"""

import numpy as np

import layers
from layers import (affine_forward, conv_naive_forward, dropout_forward, layernorm_forward,
                    lstm_step_forward, max_pool_naive_forward, relu_forward, rnn_step_forward,
                    sigmoid_forward, word_embedding_forward)

# ----------------------------------------------------------------- affine
affine_dw_transposed_forward = affine_forward
affine_db_mean_forward = affine_forward
affine_wrong_order_forward = affine_forward


def affine_dw_transposed_backward(dout, cache):
    """dw computed as dout^T x (shape (M, D)), then reshaped to w's (D, M) to silence the error."""
    x, w, b = cache
    x2 = x.reshape(x.shape[0], -1)
    dx = dout.dot(w.T).reshape(x.shape)
    dw = dout.T.dot(x2).reshape(w.shape)
    db = np.sum(dout, axis=0)
    return dx, dw, db


def affine_db_mean_backward(dout, cache):
    """db averaged over the batch instead of summed."""
    x, w, b = cache
    dx = dout.dot(w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T.dot(dout)
    db = np.mean(dout, axis=0)
    return dx, dw, db


def affine_wrong_order_backward(dout, cache):
    """Returns (dw, dx, db) instead of (dx, dw, db)."""
    dx, dw, db = layers.affine_backward(dout, cache)
    return dw, dx, db


# ----------------------------------------------------------------- relu, sigmoid
relu_no_mask_forward = relu_forward
sigmoid_no_local_forward = sigmoid_forward


def relu_no_mask_backward(dout, cache):
    """Passes dout through: the relu mask (x > 0) is missing."""
    return dout.copy()


def sigmoid_no_local_backward(dout, cache):
    """Forgets the local gradient s (1 - s)."""
    return dout


# ----------------------------------------------------------------- batchnorm, layernorm
def batchnorm_cache_view_forward(x, gamma, beta, bn_param):
    """Caches xhat, then scales and shifts ``out`` in place: out IS xhat, so the cache changes."""
    eps, momentum = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
    D = x.shape[1]
    mu, var = x.mean(axis=0), x.var(axis=0)
    std = np.sqrt(var + eps)
    xhat = (x - mu) / std
    cache = (xhat, gamma, std)
    out = xhat
    out *= gamma
    out += beta
    bn_param["running_mean"] = momentum * bn_param.get("running_mean", np.zeros(D)) + (1 - momentum) * mu
    bn_param["running_var"] = momentum * bn_param.get("running_var", np.zeros(D)) + (1 - momentum) * var
    return out, cache


batchnorm_cache_view_backward = layers.batchnorm_backward

layernorm_keepdims_forward = layernorm_forward


def layernorm_keepdims_backward(dout, cache):
    """dgamma and dbeta keep a leading axis: shape (1, D) instead of (D,)."""
    dx, dgamma, dbeta = layers.layernorm_backward(dout, cache)
    return dx, dgamma[None, :], dbeta[None, :]


# ----------------------------------------------------------------- dropout
dropout_no_scale_forward = dropout_forward


def dropout_no_scale_backward(dout, cache):
    """Uses the 0/1 mask, forgetting the 1/p of inverted dropout."""
    dropout_param, mask = cache
    return dout * (mask > 0)


# ----------------------------------------------------------------- conv, pool
conv_naive_pad_forward = conv_naive_forward
conv_naive_db_mean_forward = conv_naive_forward


def conv_naive_pad_backward(dout, cache):
    """Returns the gradient of the padded input: the pad is never cropped."""
    x, w, b, conv_param = cache
    pad = conv_param["pad"]
    dx, dw, db = layers.conv_naive_backward(dout, cache)
    dxp = np.pad(dx, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    return dxp, dw, db


def conv_naive_db_mean_backward(dout, cache):
    """db averaged over the batch instead of summed."""
    dx, dw, db = layers.conv_naive_backward(dout, cache)
    return dx, dw, dout.sum(axis=(2, 3)).mean(axis=0)


max_pool_no_stride_forward = max_pool_naive_forward


def max_pool_no_stride_backward(dout, cache):
    """Routes dout[i, j] to window (i, j) instead of (i * stride, j * stride)."""
    x, pool_param = cache
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, Ho, Wo = dout.shape
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    window = x[n, c, i * stride:i * stride + ph, j * stride:j * stride + pw]
                    a, b = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, i + a, j + b] += dout[n, c, i, j]
    return dx


# ----------------------------------------------------------------- rnn, lstm, embedding
rnn_wrong_order_forward = rnn_step_forward
rnn_dwh_transposed_forward = rnn_step_forward


def rnn_wrong_order_backward(dnext_h, cache):
    """Returns dWh before dWx."""
    dx, dprev_h, dWx, dWh, db = layers.rnn_step_backward(dnext_h, cache)
    return dx, dprev_h, dWh, dWx, db


def rnn_dwh_transposed_backward(dnext_h, cache):
    """dWh = da^T prev_h instead of prev_h^T da (same shape: Wh is square)."""
    x, prev_h, Wx, Wh, next_h = cache
    dx, dprev_h, dWx, dWh, db = layers.rnn_step_backward(dnext_h, cache)
    da = dnext_h * (1 - next_h ** 2)
    return dx, dprev_h, dWx, da.T.dot(prev_h), db


lstm_no_forget_forward = lstm_step_forward


def lstm_no_forget_backward(dnext_h, dnext_c, cache):
    """dprev_c = dc: the forget gate's local gradient is missing."""
    dx, dprev_h, dprev_c, dWx, dWh, db = layers.lstm_step_backward(dnext_h, dnext_c, cache)
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, tc = cache
    return dx, dprev_h, dprev_c / f, dWx, dWh, db


word_embedding_assign_forward = word_embedding_forward


def word_embedding_assign_backward(dout, cache):
    """dW[x] += dout: a buffered fancy-index update keeps one of the repeated words only."""
    x, shape = cache
    dW = np.zeros(shape)
    dW[x] += dout
    return dW


# ----------------------------------------------------------------- losses
def svm_loss_no_mean(x, y):
    """The loss is averaged over the batch but dx is not divided by N."""
    loss, dx = layers.svm_loss(x, y)
    return loss, dx * x.shape[0]


def softmax_loss_no_mean(x, y):
    """The loss is averaged over the batch but dx is not divided by N."""
    loss, dx = layers.softmax_loss(x, y)
    return loss, dx * x.shape[0]


def temporal_softmax_loss_no_mask(x, y, mask):
    """dx ignores the mask: padded time steps get a gradient although they add nothing to the loss."""
    N, T, V = x.shape
    xf, yf = x.reshape(N * T, V), y.reshape(N * T)
    loss, _ = layers.temporal_softmax_loss(x, y, mask)
    p = np.exp(xf - xf.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(N * T), yf] -= 1
    return loss, (p / N).reshape(N, T, V)
