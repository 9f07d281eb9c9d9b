"""Realistic mistakes in a CS231n FullyConnectedNet, one per class."""

import numpy as np

from fc_net import FullyConnectedNet


class MissingReg(FullyConnectedNet):
    """The gradient forgets the regularisation term."""

    def reg_grad(self, W):
        return 0 * W


class RegDoubled(FullyConnectedNet):
    """The regularisation gradient added twice (2 * reg * W for 0.5 * reg * sum(W**2))."""

    def reg_grad(self, W):
        return 2 * self.reg * W


class RegHalfDropped(FullyConnectedNet):
    """The loss has reg * sum(W**2) (the 0.5 dropped) while the gradient is reg * W."""

    def reg_loss(self, W):
        return self.reg * np.sum(W * W)


def _new_mask_backward(dout, cache):
    dropout_param, mask = cache
    p = dropout_param["p"]
    return dout * (np.random.rand(*dout.shape) < p) / p  # a fresh mask, not the forward's


class DropoutMaskNotReused(FullyConnectedNet):
    dropout_backward = staticmethod(_new_mask_backward)


def _gamma_wrong_axis(dout, cache):
    x_hat, gamma, std = cache
    N = dout.shape[0]
    dgamma = np.sum(dout * x_hat, axis=1)  # over the features, not the batch
    dbeta = np.sum(dout, axis=0)
    dx_hat = dout * gamma
    dx = (N * dx_hat - np.sum(dx_hat, axis=0) - x_hat * np.sum(dx_hat * x_hat, axis=0)) / (N * std)
    return dx, dgamma, dbeta


class GammaWrongAxis(FullyConnectedNet):
    batchnorm_backward = staticmethod(_gamma_wrong_axis)


class MeanLossSummedGrad(FullyConnectedNet):
    """The data loss averaged over the batch, its gradient summed (not divided by N)."""

    def loss(self, X, y=None):
        out = super().loss(X, y)
        if y is None:
            return out
        loss, grads = out
        return loss, {k: g * X.shape[0] for k, g in grads.items()}


class WrongKeys(FullyConnectedNet):
    def loss(self, X, y=None):
        loss, grads = super().loss(X, y)
        grads["w1"] = grads.pop("W1")
        return loss, grads


class TransposedW2(FullyConnectedNet):
    def loss(self, X, y=None):
        loss, grads = super().loss(X, y)
        grads["W2"] = grads["W2"].T
        return loss, grads


class Unseeded(FullyConnectedNet):
    def loss(self, X, y=None):
        loss, grads = super().loss(X, y)
        return loss + np.random.default_rng().random() * 1e-3, grads
