"""``gradcheck layer FILE.py:MyFunction --torch``: a ``torch.autograd.Function`` as a layer.

torch is an optional extra (``pip install 'gradcheck-cli[torch]'``), imported only here and
only when ``--torch`` is given.  The Function's own ``backward`` is what is checked: its
``forward(ctx, *inputs)`` becomes ``forward(*arrays, **params) -> (out, cache)`` with the
inputs as float64 tensors (floats requiring grad; integer and boolean inputs as they are)
and ``backward(dout, cache)`` asks autograd for the gradients of ``sum(out * dout)``
(``torch.autograd.grad``, which runs ``MyFunction.backward``), one per differentiated
input, as numpy arrays.  Everything else is ``layer``'s check, in float64.

Beside our verdict, torch's own ``torch.autograd.gradcheck`` is run on the same inputs
(float64, its default tolerances ``eps=1e-6, atol=1e-5, rtol=1e-3``) and its pass/fail
stated, so the two can be compared.
"""

from __future__ import annotations

import inspect
from typing import Any, Sequence

import numpy as np

from .errors import LoadError, OptionError, UserCodeError


def require_torch():
    """The ``torch`` module, or OptionError saying how to install it."""
    try:
        import torch
    except ImportError:
        raise OptionError("--torch needs PyTorch: pip install 'gradcheck-cli[torch]' (or pip install torch)") from None
    return torch


def _signature(fn_class) -> inspect.Signature:
    """``forward(ctx, a, b, ...)``'s signature without ``ctx``."""
    try:
        sig = inspect.signature(fn_class.forward)
    except (TypeError, ValueError):
        return inspect.Signature()
    params = list(sig.parameters.values())[1:]
    return sig.replace(parameters=params)


def as_layer(fn_class, name: str):
    """``(forward, backward)`` numpy callables for the ``torch.autograd.Function`` ``fn_class``.

    ``forward`` has the signature of ``fn_class.forward`` without ``ctx`` (so inputs and
    params bind by name, ``usercode.layer.bind_by_name``).
    """
    torch = require_torch()
    if not (inspect.isclass(fn_class) and issubclass(fn_class, torch.autograd.Function)):
        raise LoadError(f"'{name}' is {type(fn_class).__name__}, not a torch.autograd.Function subclass (--torch)")
    sig = _signature(fn_class)

    def forward(*args, **kwargs):
        bound = sig.bind(*args, **kwargs) if sig.parameters else None
        values = list(bound.args) if bound is not None else list(args)
        tensors = [_tensor(torch, v) for v in values]
        with torch.enable_grad():
            out = fn_class.apply(*tensors)
        outs = out if isinstance(out, tuple) else (out,)
        arrays = tuple(o.detach().numpy().copy() if isinstance(o, torch.Tensor) else o for o in outs)
        cache = (tensors, outs)
        return (*arrays, cache)

    def backward(*args):
        *douts, (tensors, outs) = args
        wanted = [t for t in tensors if isinstance(t, torch.Tensor) and t.requires_grad]
        grads = torch.autograd.grad(
            [o for o in outs if isinstance(o, torch.Tensor)],
            wanted, grad_outputs=[torch.as_tensor(np.asarray(d, dtype=np.float64)) for d in douts],
            allow_unused=True, retain_graph=True)
        arrays = [np.zeros(tuple(t.shape)) if g is None else g.detach().numpy().copy() for g, t in zip(grads, wanted)]
        return tuple(arrays) if len(arrays) != 1 else arrays[0]

    forward.__signature__ = sig
    forward.__name__ = f"{fn_class.__name__}.forward"
    backward.__name__ = f"{fn_class.__name__}.backward"
    return forward, backward


def _tensor(torch, value: Any):
    """A float array as a float64 tensor requiring grad; other arrays as tensors; the rest as is."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f":
            return torch.tensor(value, dtype=torch.float64, requires_grad=True)
        return torch.as_tensor(value)
    return value


def torch_verdict(fn_class, layer_inputs: Sequence, layout, params: dict) -> bool:
    """``torch.autograd.gradcheck`` on the check's inputs (float64; its default tolerances):
    True when torch's own check passes.  Its exceptions from the user's code are
    ``UserCodeError``."""
    torch = require_torch()
    arrays = [i.value for i in layer_inputs]
    if layout is not None:
        values = [arrays[w] if isinstance(w, int) else params[w] for w in layout]
    else:
        values = arrays + list(params.values())
    diff = {id(i.value) for i in layer_inputs if i.differentiated}
    args = [_tensor(torch, v) if not isinstance(v, np.ndarray) or id(v) in diff or v.dtype.kind != "f"
            else torch.tensor(v, dtype=torch.float64)  # left out by --wrt: data
            for v in values]
    try:
        return bool(torch.autograd.gradcheck(fn_class.apply, tuple(args), raise_exception=False))
    except Exception as exc:  # noqa: BLE001 - the user's Function raised inside torch's check
        raise UserCodeError(f"torch.autograd.gradcheck raised {type(exc).__name__}: {exc}") from None
