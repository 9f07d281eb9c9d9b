"""torch.autograd.Function subclasses as students write them (correct and buggy)."""

import torch


class MyLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w, b):
        ctx.save_for_backward(x, w)
        return x @ w + b

    @staticmethod
    def backward(ctx, grad_out):
        x, w = ctx.saved_tensors
        return grad_out @ w.T, x.T @ grad_out, grad_out.sum(0)


class MyLinearBadBias(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w, b):
        ctx.save_for_backward(x, w)
        return x @ w + b

    @staticmethod
    def backward(ctx, grad_out):
        x, w = ctx.saved_tensors
        return grad_out @ w.T, x.T @ grad_out, grad_out.mean(0)  # should be summed


class ScaledTanh(torch.autograd.Function):
    """A non-tensor argument (the scale) between tensors."""

    @staticmethod
    def forward(ctx, x, scale):
        y = torch.tanh(scale * x)
        ctx.save_for_backward(y)
        ctx.scale = scale
        return y

    @staticmethod
    def backward(ctx, grad_out):
        (y,) = ctx.saved_tensors
        return grad_out * ctx.scale * (1 - y**2), None
