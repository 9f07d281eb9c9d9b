"""What a CS231n-style model is and what its ``loss`` returns, validated in one place.

numpy only.  A model has ``params``, a dict of real arrays keyed by name (``W1``, ``b1``,
``gamma1`` ...), and ``loss(X, y) -> (loss, grads)`` with ``loss`` a finite real scalar
and ``grads`` a dict with exactly the keys of ``params``, each of its parameter's shape.
Anything else is the user's mistake: ``UserCodeError`` naming the key (exit 2).

``load_model`` makes one from ``FILE.py:CLASS`` (or a factory); ``BoundModel`` calls its
``loss`` with some parameters replaced and puts everything back; ``require_repeatable``
refuses a model whose ``loss`` is not a function of its parameters.
"""

from __future__ import annotations

import copy
import functools
import inspect
from typing import Any, Mapping

import numpy as np

from .errors import LoadError, UserCodeError

#: relative agreement asked of two calls of loss at the same params (64 ulps)
REPEAT_RTOL = 64 * float(np.finfo(float).eps)


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


class BoundModel:
    """The model with its data: ``call(values)`` runs ``loss`` with some params replaced.

    ``values`` maps keys to float64 arrays; the other keys get copies of their values at
    the start.  The params dict and the other attributes are put back after every call.
    """

    def __init__(self, model: Any, loss, args: tuple, who: str) -> None:
        self.model = model
        self.loss = loss  # a UserFunction
        self.args = args
        self.who = who
        self.params = model_params(model, who)
        self.own = dict(self.params)  # the user's own array objects
        self.base = {k: np.array(v, dtype=np.float64, copy=True) for k, v in self.params.items()}
        self.shapes = {k: tuple(v.shape) for k, v in self.base.items()}
        self.converted = tuple(k for k, v in self.params.items() if np.finfo(v.dtype).eps > np.finfo(np.float64).eps)
        self.state = self._snapshot()

    def _snapshot(self) -> dict[str, Any]:
        """Deep copies of the model's other attributes (those that can be copied)."""
        saved = {}
        for key, value in vars(self.model).items() if hasattr(self.model, "__dict__") else ():
            if key == "params" or callable(value):
                continue
            try:
                saved[key] = copy.deepcopy(value)
            except Exception:  # an attribute that cannot be copied is left as it is
                continue
        return saved

    def call(self, values: Mapping[str, np.ndarray]) -> tuple[float, dict[str, np.ndarray]]:
        model, params = self.model, self.params
        for key, value in self.state.items():
            setattr(model, key, copy.deepcopy(value))
        params.clear()
        params.update({k: np.array(values[k] if k in values else self.base[k], copy=True) for k in self.base})
        try:
            model.params = params
            result = self.loss.call(*self.args)
        finally:
            model.params = params
            params.clear()
            params.update(self.own)
        return loss_and_grads(result, self.shapes, self.loss.name)

    def restore(self) -> None:
        """The model's attributes as they were before the check."""
        for key, value in self.state.items():
            setattr(self.model, key, value)


def require_repeatable(who: str, first, second) -> None:
    """Two calls at the same params must agree (to ``REPEAT_RTOL``): loss and every gradient."""
    (l1, g1), (l2, g2) = first, second
    if abs(l1 - l2) > REPEAT_RTOL * max(abs(l1), abs(l2)):
        what = f"losses ({l1!r}, then {l2!r})"
    else:
        what = next((f"grads['{k}']" for k in g1
                     if not np.allclose(g1[k], g2[k], rtol=REPEAT_RTOL, atol=0.0, equal_nan=True)), None)
    if what is not None:
        raise UserCodeError(
            f"{who} gave two different {what} at the same params: it draws random numbers that gradcheck "
            "cannot reset (a dropout mask from an unseeded Generator?) or keeps state between calls; "
            "seed it (dropout_param 'seed') so that every call computes the same function")


def load_model(target: str, init: Mapping[str, Any], seed: int = 0):
    """``FILE.py:CLASS`` (or a factory function) -> ``(model, name)``: ``CLASS(**init)`` made
    with ``random`` and ``numpy.random`` seeded by ``seed`` (CS231n initialises with
    ``np.random.randn``), so the params repeat from run to run."""
    from .loading import load_seeded

    (maker,) = load_seeded([(target, "class or factory function")], seed)
    is_class = inspect.isclass(maker.fn)
    if init:
        maker.fn = functools.partial(maker.fn, **init)
    model = maker.call()  # from the seeded state load_seeded captured; the caller's is put back
    if is_class or (hasattr(model, "params") and callable(getattr(model, "loss", None))):
        return model, target
    raise LoadError(f"'{target}' returned {type(model).__name__}, not a model: a model has a dict params and "
                    "a method loss(X, y) -> (loss, grads)")
