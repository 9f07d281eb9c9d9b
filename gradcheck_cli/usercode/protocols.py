"""What users' code must return, validated in one place.

Each protocol takes the raw value returned by the user's code and the name that starts
every message (``who``, e.g. ``mycode.py:quad``), and returns clean numpy values or raises
``UserCodeError`` (exit 2) saying what came back and what was expected:

==================  ===============================================  =========================
protocol            the user's code returns                          used by
==================  ===============================================  =========================
``cost_and_grad``   ``(cost, grad)``, grad of a given shape          ``func``, ``net --impl``
``cost_only``       a real scalar cost                               ``func --grad``
``gradient_only``   an array of x's shape                            ``func --grad``
``layer_forward``   ``(out, cache)``, ``(out_1, ..., cache)``,        ``layer``
                    or ``(loss, dx, ...)`` for a loss layer
``layer_gradients`` one gradient per differentiated input, in order  ``layer``
``model_loss``      ``(loss, grads)``, grads keyed like the params   ``model``
==================  ===============================================  =========================

A cost must be a finite real scalar (a number, or a 0-d or size-1 real array): a NaN or
infinite one raises ``NonFiniteCostError``.  Gradients must be real arrays of exactly the
expected shape; their non-finite entries are allowed (the verdict fails them).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import NonFiniteCostError, UserCodeError

__all__ = [
    "describe_value", "shape_text", "scalar_cost", "grad_array", "cost_and_grad", "cost_only",
    "gradient_only", "loss_value", "out_array", "layer_forward", "layer_gradients", "model_loss",
]


def describe_value(value: Any) -> str:
    """A short description of a returned value for messages: 'a tuple of 3 items'..."""
    if value is None:
        return "None"
    if isinstance(value, (tuple, list)):
        n = len(value)
        return f"a {type(value).__name__} of {n} item{'s' if n != 1 else ''}"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, numbers.Number):
        return f"a single number ({value!r})"
    return f"a value of type {type(value).__name__}"


def shape_text(shape: tuple[int, ...]) -> str:
    """``(4,)``, ``(2, 3)``: a shape as Python prints a tuple."""
    return f"({', '.join(map(str, shape))}{',' if len(shape) == 1 else ''})"


def _as_array(value: Any) -> np.ndarray:
    try:
        return np.asarray(value)
    except Exception:
        return np.asarray(None, dtype=object)


# --------------------------------------------------------------------------- scalar cost and gradient


def _is_bool(value: Any) -> bool:
    """True for ``True``/``False``, ``np.bool_`` and boolean arrays: never a cost (``x > 0``
    returned by mistake), though Python counts a bool as a number."""
    return isinstance(value, (bool, np.bool_)) or (isinstance(value, np.ndarray) and value.dtype.kind == "b")


def scalar_cost(value: Any, who: str) -> float:
    """A finite real scalar cost as a float; ``NonFiniteCostError`` for NaN or inf."""
    if type(value) is float or type(value) is np.float64:  # the common case, first
        if value - value == 0.0:  # finite (inf - inf and nan - nan are nan)
            return float(value)
        raise NonFiniteCostError(f"{who} returned a non-finite cost ({float(value)})")
    if value is None:
        raise UserCodeError(f"{who} returned None as the cost, expected a real scalar")
    if _is_bool(value):
        raise UserCodeError(f"{who} returned a bool ({value!r}) as the cost, expected a real scalar")
    if isinstance(value, numbers.Real) and not isinstance(value, np.ndarray):
        cost = float(value)
    else:
        array = _as_array(value)
        if array.dtype.kind == "c":
            raise UserCodeError(f"{who} returned a complex cost, expected a real scalar")
        if array.dtype.kind not in "biuf":
            raise UserCodeError(f"{who} returned a cost of type {type(value).__name__}, expected a real scalar")
        if array.size != 1:
            raise UserCodeError(f"{who} returned a cost of shape {array.shape}, expected a scalar")
        cost = float(array.reshape(()))
    if not math.isfinite(cost):
        raise NonFiniteCostError(f"{who} returned a non-finite cost ({cost})")
    return cost


def grad_array(value: Any, who: str, shape: tuple[int, ...], source: str = "") -> np.ndarray:
    """A real array of exactly ``shape`` (as returned: not copied).  ``source`` says where
    the expected shape comes from (`` (the shape of x)``) in the shape message."""
    if type(value) is np.ndarray and value.shape == shape and value.dtype.kind in "biuf":
        return value  # the common case, first
    expected = f"expected a real array of shape {shape}"
    if value is None:
        raise UserCodeError(f"{who} returned None as the gradient, {expected}")
    array = _as_array(value)
    if array.dtype.kind == "c":
        raise UserCodeError(f"{who} returned a complex gradient, {expected}")
    if array.dtype.kind not in "biuf":
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError):
            raise UserCodeError(
                f"{who} returned a gradient of type {type(value).__name__}, {expected}"
            ) from None
    if array.shape != shape:
        raise UserCodeError(f"{who} returned a gradient of shape {array.shape}, expected {shape}{source}")
    return array


def cost_and_grad(result: Any, who: str, shape: tuple[int, ...], source: str = "") -> tuple[float, np.ndarray]:
    """``(cost, grad)`` (the CS224n ``gradcheck_naive`` convention) -> (float cost, grad as given)."""
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise UserCodeError(f"{who} returned {describe_value(result)}, expected a pair (cost, grad)")
    cost = scalar_cost(result[0], who)
    return cost, grad_array(result[1], who, shape, source)


def cost_only(result: Any, who: str) -> float:
    """A function that returns only its cost (``func --grad``)."""
    if isinstance(result, (tuple, list)):
        raise UserCodeError(f"{who} returned {describe_value(result)}, expected a scalar cost")
    return scalar_cost(result, who)


def gradient_only(result: Any, who: str, shape: tuple[int, ...]) -> np.ndarray:
    """A separate gradient function's result: a float64 copy of a real array of x's shape."""
    expected = f"expected a real array of shape {shape} (the shape of x)"
    if result is None or isinstance(result, tuple):
        what = "None" if result is None else f"a tuple of {len(result)} items"
        raise UserCodeError(f"{who} returned {what}, {expected}")
    try:
        array = np.asarray(result)
        if array.dtype.kind == "c":
            raise UserCodeError(f"{who} returned a complex gradient, {expected}")
        array = np.array(array, dtype=np.float64)
    except (TypeError, ValueError):
        raise UserCodeError(f"{who} returned a gradient of type {type(result).__name__}, {expected}") from None
    if array.shape != shape:
        raise UserCodeError(f"{who} returned a gradient of shape {array.shape}, {expected}")
    return array


# --------------------------------------------------------------------------- layers


def loss_value(value: Any, who: str) -> np.ndarray:
    """A loss layer's loss: a real scalar (as a 0-d float64 array; NaN/inf allowed here)."""
    if _is_bool(value):
        raise UserCodeError(f"{who} returned a bool ({value!r}) as the loss, expected a real scalar")
    array = _as_array(value) if not isinstance(value, (tuple, list)) else None
    if array is not None and array.dtype.kind in "biuf" and array.size > 1:
        raise UserCodeError(
            f"{who} returned {describe_value(value)} as the loss: this is a forward pass (out, cache), not a "
            "loss; give its backward with --backward B (or name the pair NAME_forward/NAME_backward or "
            "X_forward_Y/X_backward_Y)")
    if array is None or array.dtype.kind not in "biuf" or array.size != 1:
        raise UserCodeError(f"{who} returned {describe_value(value)} as the loss, expected a real scalar")
    return np.array(float(array.reshape(())))


def out_array(value: Any, who: str, k: int, m: int) -> np.ndarray:
    """Output ``k`` of the ``m`` outputs of a forward pass: a real array."""
    what = "out" if m == 1 else f"output {k + 1} of {m}"
    array = _as_array(value)
    if array.dtype.kind not in "biuf":
        raise UserCodeError(f"{who} returned {describe_value(value)} as {what}, expected a real array")
    return array


def layer_forward(result: Any, who: str, is_loss: bool) -> tuple[tuple[np.ndarray, ...], Any]:
    """A forward pass -> ``(outs, cache)``; a loss layer -> ``((loss,), (dx, ...))``."""
    if not isinstance(result, (tuple, list)) or len(result) < 2:
        want = "(loss, dx)" if is_loss else "(out, cache)"
        raise UserCodeError(f"{who} returned {describe_value(result)}, expected a pair {want}")
    if is_loss:
        return (loss_value(result[0], who),), tuple(result[1:])
    outs = tuple(out_array(o, who, k, len(result) - 1) for k, o in enumerate(result[:-1]))
    return outs, result[-1]


def layer_gradients(returned: Any, who: str, names: Sequence[str], shapes: Sequence[tuple[int, ...]],
                    differentiated: Sequence[bool], is_loss: bool = False) -> list[np.ndarray]:
    """One float64 gradient per differentiated input, in input order, of its shape.

    ``names``, ``shapes``, ``differentiated``: every input of the layer.  A backward pass
    may return a gradient for every input (those of inputs not differentiated are dropped);
    a loss layer may return ``(loss, (dx, dw))``.
    """
    diff = [(n, s) for n, s, d in zip(names, shapes, differentiated) if d]
    if isinstance(returned, (tuple, list)) and is_loss and len(returned) == 1 and isinstance(returned[0], (tuple, list)):
        returned = returned[0]  # (loss, (dx, dw))
    if not isinstance(returned, (tuple, list)):
        returned = (returned,)
    returned = list(returned)
    if len(returned) == len(names) and len(returned) != len(diff):
        returned = [g for g, d in zip(returned, differentiated) if d]
    if len(returned) != len(diff):
        n = len(returned)
        raise UserCodeError(
            f"{who} returned {n} gradient{'s' if n != 1 else ''}, expected {len(diff)} "
            f"(one per differentiated input, in order: {', '.join(f'd{name}' for name, _ in diff)})"
        )
    arrays = []
    for g, (name, shape) in zip(returned, diff):
        a = _as_array(g)
        if a.dtype.kind not in "biuf":
            raise UserCodeError(f"{who} returned {describe_value(g)} as d{name}, expected a real array of "
                                f"shape {shape_text(shape)}")
        arrays.append(np.array(a, dtype=np.float64))
    _check_shapes(arrays, diff, who)
    return arrays


def _check_shapes(arrays: list[np.ndarray], diff: list[tuple[str, tuple[int, ...]]], who: str) -> None:
    """The gradients' shapes are the inputs' (a permutation of them: the wrong order)."""
    got = [a.shape for a in arrays]
    want = [tuple(s) for _, s in diff]
    if got == want:
        return
    if sorted(got) == sorted(want) and len(set(want)) > 1:
        order = []
        free = list(range(len(diff)))
        for shape in got:
            k = next(k for k in free if want[k] == shape)
            free.remove(k)
            order.append(f"d{diff[k][0]}")
        raise UserCodeError(
            f"{who} returns its gradients in the wrong order: shapes "
            f"{', '.join(shape_text(s) for s in got)} are those of {', '.join(order)}; "
            f"expected the order {', '.join(f'd{n}' for n, _ in diff)}, shapes "
            f"{', '.join(shape_text(s) for s in want)}"
        )
    k = next(k for k in range(len(diff)) if got[k] != want[k])
    name = diff[k][0]
    message = (f"{who} returned d{name} of shape {shape_text(got[k])}, expected {shape_text(want[k])}, "
               f"the shape of {name}")
    if got[k] == want[k][::-1] and len(want[k]) > 1:
        message += " (it is transposed)"
    elif int(np.prod(got[k])) == int(np.prod(want[k])):
        message += " (same entries, another shape: a missing reshape, or keepdims?)"
    raise UserCodeError(message)


# --------------------------------------------------------------------------- models


def model_loss(result: Any, who: str, params: Mapping[str, np.ndarray]) -> tuple[float, dict[str, np.ndarray]]:
    """A CS231n model's ``loss(X, y) -> (loss, grads)``: a finite real loss and a dict with
    exactly ``params``' keys, each a float64 copy of a real array of that param's shape."""
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise UserCodeError(f"{who} returned {describe_value(result)}, expected a pair (loss, grads)")
    loss = scalar_cost(result[0], who)
    grads = result[1]
    if not isinstance(grads, Mapping):
        raise UserCodeError(f"{who} returned {describe_value(grads)} as grads, expected a dict keyed like params")
    missing = [k for k in params if k not in grads]
    extra = [k for k in grads if k not in params]
    if missing:
        raise UserCodeError(f"{who} returned grads without the key {missing[0]!r} (params has "
                            f"{', '.join(map(repr, params))})")
    if extra:
        raise UserCodeError(f"{who} returned grads with the key {extra[0]!r}, which params does not have")
    out = {}
    for key, p in params.items():
        shape = tuple(np.shape(p))
        array = grad_array(grads[key], f"{who}", shape, f" (the shape of params[{key!r}])")
        out[key] = np.array(array, dtype=np.float64)
    return loss, out
