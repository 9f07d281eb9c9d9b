"""TwoLayerNet and FullyConnectedNet the way CS231n assignment 2 writes them."""

import numpy as np

from model_layers import (affine_backward, affine_forward, batchnorm_backward, batchnorm_forward, dropout_backward,
                    dropout_forward, relu_backward, relu_forward, softmax_loss)


class TwoLayerNet:
    def __init__(self, input_dim=3 * 32 * 32, hidden_dim=100, num_classes=10, weight_scale=1e-3, reg=0.0):
        self.params = {}
        self.reg = reg
        self.params["W1"] = weight_scale * np.random.randn(input_dim, hidden_dim)
        self.params["b1"] = np.zeros(hidden_dim)
        self.params["W2"] = weight_scale * np.random.randn(hidden_dim, num_classes)
        self.params["b2"] = np.zeros(num_classes)

    def loss(self, X, y=None):
        W1, b1, W2, b2 = self.params["W1"], self.params["b1"], self.params["W2"], self.params["b2"]
        h, cache1 = affine_forward(X, W1, b1)
        a, cache_relu = relu_forward(h)
        scores, cache2 = affine_forward(a, W2, b2)
        if y is None:
            return scores
        loss, dscores = softmax_loss(scores, y)
        loss += 0.5 * self.reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
        grads = {}
        da, grads["W2"], grads["b2"] = affine_backward(dscores, cache2)
        dh = relu_backward(da, cache_relu)
        _, grads["W1"], grads["b1"] = affine_backward(dh, cache1)
        grads["W1"] += self.reg * W1
        grads["W2"] += self.reg * W2
        return loss, grads


class FullyConnectedNet:
    # the layers it uses (a variant may swap one)
    batchnorm_backward = staticmethod(batchnorm_backward)
    dropout_backward = staticmethod(dropout_backward)

    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, dropout_keep_ratio=1,
                 normalization=None, reg=0.0, weight_scale=1e-2, dtype=np.float32, seed=None):
        self.normalization = normalization
        self.use_dropout = dropout_keep_ratio != 1
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype
        self.params = {}
        dims = [input_dim] + list(hidden_dims) + [num_classes]
        for i in range(self.num_layers):
            self.params[f"W{i + 1}"] = weight_scale * np.random.randn(dims[i], dims[i + 1])
            self.params[f"b{i + 1}"] = np.zeros(dims[i + 1])
            if normalization == "batchnorm" and i < self.num_layers - 1:
                self.params[f"gamma{i + 1}"] = np.ones(dims[i + 1])
                self.params[f"beta{i + 1}"] = np.zeros(dims[i + 1])
        self.dropout_param = {}
        if self.use_dropout:
            self.dropout_param = {"mode": "train", "p": dropout_keep_ratio}
            if seed is not None:
                self.dropout_param["seed"] = seed
        self.bn_params = []
        if self.normalization == "batchnorm":
            self.bn_params = [{"mode": "train"} for _ in range(self.num_layers - 1)]
        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)

    def reg_loss(self, W):
        return 0.5 * self.reg * np.sum(W * W)

    def reg_grad(self, W):
        return self.reg * W

    def loss(self, X, y=None):
        X = X.astype(self.dtype)
        mode = "test" if y is None else "train"
        if self.use_dropout:
            self.dropout_param["mode"] = mode
        for bn_param in self.bn_params:
            bn_param["mode"] = mode
        caches = []
        out = X
        for i in range(1, self.num_layers):
            out, c_aff = affine_forward(out, self.params[f"W{i}"], self.params[f"b{i}"])
            c_bn = None
            if self.normalization == "batchnorm":
                out, c_bn = batchnorm_forward(out, self.params[f"gamma{i}"], self.params[f"beta{i}"],
                                              self.bn_params[i - 1])
            out, c_relu = relu_forward(out)
            c_drop = None
            if self.use_dropout:
                out, c_drop = dropout_forward(out, self.dropout_param)
            caches.append((c_aff, c_bn, c_relu, c_drop))
        L = self.num_layers
        scores, c_last = affine_forward(out, self.params[f"W{L}"], self.params[f"b{L}"])
        if mode == "test":
            return scores
        loss, dscores = softmax_loss(scores, y)
        grads = {}
        for i in range(1, L + 1):
            loss += self.reg_loss(self.params[f"W{i}"])
        dout, grads[f"W{L}"], grads[f"b{L}"] = affine_backward(dscores, c_last)
        grads[f"W{L}"] += self.reg_grad(self.params[f"W{L}"])
        for i in range(L - 1, 0, -1):
            c_aff, c_bn, c_relu, c_drop = caches[i - 1]
            if self.use_dropout:
                dout = self.dropout_backward(dout, c_drop)
            dout = relu_backward(dout, c_relu)
            if self.normalization == "batchnorm":
                dout, grads[f"gamma{i}"], grads[f"beta{i}"] = self.batchnorm_backward(dout, c_bn)
            dout, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(dout, c_aff)
            grads[f"W{i}"] += self.reg_grad(self.params[f"W{i}"])
        return loss, grads


def make_net(hidden=20, reg=0.0):
    """A factory: the model made by a function."""
    return FullyConnectedNet([hidden], input_dim=15, num_classes=10, reg=reg, weight_scale=5e-2, dtype=np.float64)
