"""What a CS231n-style model is and what its ``loss`` returns, validated in one place.

numpy only.  A model has ``params``, a dict of real arrays keyed by name (``W1``, ``b1``,
``gamma1`` ...), and ``loss(X, y) -> (loss, grads)`` with ``loss`` a finite real scalar
and ``grads`` a dict with exactly the keys of ``params``, each of its parameter's shape.
Anything else is the user's mistake: ``UserCodeError`` naming the key (exit 2).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from .errors import UserCodeError


def _describe(value: Any) -> str:
    if value is None:
        return "None"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} item{'s' if len(value) != 1 else ''}"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    return f"a value of type {type(value).__name__}"


def _shape(shape: tuple[int, ...]) -> str:
    return f"({', '.join(map(str, shape))}{',' if len(shape) == 1 else ''})"


def model_params(model: Any, who: str) -> dict[str, np.ndarray]:
    """``model.params`` validated: a non-empty dict of non-empty, finite, real arrays.

    Returns it as it is (the caller copies).  ``UserCodeError`` names the offending key.
    """
    params = getattr(model, "params", None)
    if not isinstance(params, dict):
        what = "no attribute 'params'" if not hasattr(model, "params") else f"params of type {type(params).__name__}"
        raise UserCodeError(f"{who} has {what}; a model keeps its parameters in a dict self.params "
                            "(e.g. self.params['W1'] = ...)")
    if not params:
        raise UserCodeError(f"{who}.params is empty: nothing to check")
    if not callable(getattr(model, "loss", None)):
        raise UserCodeError(f"{who} has no method loss(X, y) -> (loss, grads)")
    for key, value in params.items():
        if not isinstance(key, str):
            raise UserCodeError(f"{who}.params has the key {key!r}; keys are names such as 'W1'")
        array = value if isinstance(value, np.ndarray) else None
        if array is None or array.dtype.kind not in "biuf":
            raise UserCodeError(f"{who}.params['{key}'] is {_describe(value)}, expected a real numpy array")
        if array.dtype.kind != "f":
            raise UserCodeError(f"{who}.params['{key}'] holds {array.dtype} numbers; parameters are floats")
        if array.size == 0:
            raise UserCodeError(f"{who}.params['{key}'] is empty (shape {array.shape})")
        if not np.all(np.isfinite(array)):
            raise UserCodeError(f"{who}.params['{key}'] is not finite")
    return params


def loss_and_grads(result: Any, shapes: Mapping[str, tuple[int, ...]], who: str) -> tuple[float, dict[str, np.ndarray]]:
    """Validate ``loss(X, y)``'s result: ``(loss, grads)`` with ``grads`` keyed and shaped like
    ``params`` (``shapes``: key -> shape, in the params' order).

    Returns ``(float loss, {key: float64 copy of the gradient})``.  ``UserCodeError`` for
    anything else, naming the first key that is missing, extra or of the wrong shape.
    """
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        extra = ""
        if isinstance(result, np.ndarray) and result.ndim == 2:
            extra = " (scores: was y passed? loss(X) without y is the test-time forward pass)"
        raise UserCodeError(f"{who} returned {_describe(result)}, expected a pair (loss, grads){extra}")
    value, grads = result
    try:
        array = np.asarray(value)
    except Exception:
        array = np.asarray(None, dtype=object)
    if array.dtype.kind not in "biuf" or array.size != 1:
        raise UserCodeError(f"{who} returned {_describe(value)} as the loss, expected a real scalar")
    loss = float(array.reshape(()))
    if not np.isfinite(loss):
        raise UserCodeError(f"{who} returned the loss {loss}, expected a finite number")
    if not isinstance(grads, Mapping):
        raise UserCodeError(f"{who} returned {_describe(grads)} as grads, expected a dict keyed like "
                            f"params ({', '.join(shapes)})")
    for key in shapes:
        if key not in grads:
            raise UserCodeError(f"{who} returned grads without the key '{key}' (params has it; "
                                f"grads has {', '.join(map(str, grads)) or 'no keys'})")
    for key in grads:
        if key not in shapes:
            raise UserCodeError(f"{who} returned grads with the key '{key}', which params does not have "
                                f"(params: {', '.join(shapes)})")
    out = {}
    for key, shape in shapes.items():
        g = grads[key]
        try:
            a = np.asarray(g)
        except Exception:
            a = np.asarray(None, dtype=object)
        if a.dtype.kind not in "biuf":
            raise UserCodeError(f"{who} returned {_describe(g)} as grads['{key}'], expected a real array "
                                f"of shape {_shape(shape)}")
        if a.shape != tuple(shape):
            message = f"{who} returned grads['{key}'] of shape {_shape(a.shape)}, expected {_shape(shape)}, the shape of params['{key}']"
            if a.shape == tuple(shape)[::-1] and len(shape) > 1:
                message += " (it is transposed)"
            elif a.size == int(np.prod(shape)):
                message += " (same entries, another shape: a missing reshape, or keepdims?)"
            raise UserCodeError(message)
        out[key] = np.array(a, dtype=np.float64)
    return loss, out
