"""A CS231n-style model as gradcheck calls it.

A model has ``params``, a dict of real arrays keyed by name (``W1``, ``b1``, ``gamma1``
...), and ``loss(X, y) -> (loss, grads)`` with ``loss`` a finite real scalar and ``grads``
a dict with exactly the keys of ``params``, each of its parameter's shape
(``usercode.protocols.model_loss``).  Anything else is the user's mistake:
``UserCodeError`` naming the key (exit 2).

``load_model`` makes one from ``FILE.py:CLASS`` (or a factory); ``seeded_loss`` wraps its
``loss`` (every call from the same random state); ``BoundModel`` calls it with some
parameters replaced and puts everything back; ``require_repeatable`` refuses a model whose
``loss`` is not a function of its parameters.  Under ``--isolate`` all of this runs in the
child process (``isolate.load_isolated_model``), the parent holding copies of the params.
"""

from __future__ import annotations

import copy
import functools
import inspect
import random
from typing import Any, Mapping

import numpy as np

from ..errors import LoadError, UserCodeError
from . import protocols
from .function import UserFunction

#: relative agreement asked of two calls of loss at the same params (64 ulps)
REPEAT_RTOL = 64 * float(np.finfo(float).eps)


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
            raise UserCodeError(f"{who}.params['{key}'] is {protocols.describe_value(value)}, expected a real numpy array")
        if array.dtype.kind != "f":
            raise UserCodeError(f"{who}.params['{key}'] holds {array.dtype} numbers; parameters are floats")
        if array.size == 0:
            raise UserCodeError(f"{who}.params['{key}'] is empty (shape {array.shape})")
        if not np.all(np.isfinite(array)):
            raise UserCodeError(f"{who}.params['{key}'] is not finite")
    return params


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
        self.reg = model_reg(model)
        self._hold(model_params(model, who))
        self.state = self._snapshot()

    def _hold(self, params: dict[str, np.ndarray]) -> None:
        """Keep ``params`` (the user's dict) and float64 copies of its arrays (``base``)."""
        self.params = params
        self.own = dict(params)  # the user's own array objects
        self.base = {k: np.array(v, dtype=np.float64, copy=True) for k, v in params.items()}
        self.shapes = {k: tuple(v.shape) for k, v in self.base.items()}
        self.converted = tuple(k for k, v in params.items() if np.finfo(v.dtype).eps > np.finfo(np.float64).eps)

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
        return protocols.model_loss(self.call_raw(values), self.loss.name, self.base)

    def raw_loss(self, values: Mapping[str, np.ndarray]):
        """The loss as ``loss`` returned it (a ``np.longdouble`` for longdouble params when
        the code computes in the dtype it is given: precision lifting), grads unchecked."""
        result = self.call_raw(values)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            return protocols.model_loss(result, self.loss.name, self.base)[0]  # raises the usual error
        return result[0]

    def call_raw(self, values: Mapping[str, np.ndarray]):
        """``loss(*args)`` with ``values`` in ``model.params`` (their dtype kept), the
        model's attributes and params put back; the result as returned."""
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
        return result

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
    from . import load_seeded

    (maker,) = load_seeded([(target, "class or factory function")], seed)
    is_class = inspect.isclass(maker.fn)
    if init:
        maker.fn = functools.partial(maker.fn, **init)
    model = maker.call()  # from the seeded state load_seeded captured; the caller's is put back
    if is_class or (hasattr(model, "params") and callable(getattr(model, "loss", None))):
        return model, target
    raise LoadError(f"'{target}' returned {type(model).__name__}, not a model: a model has a dict params and "
                    "a method loss(X, y) -> (loss, grads)")


def model_reg(model: Any) -> float | None:
    """``model.reg`` as a float when it is a real number (what the regularisation hint names)."""
    reg = getattr(model, "reg", None)
    return float(reg) if isinstance(reg, (int, float, np.floating)) and not isinstance(reg, bool) else None


def loss_parameters(loss) -> list[str]:
    """The names of ``loss``'s positional parameters (``["X", "y"]``): what ``--input NAME=``
    binds to; [] when the signature cannot be read."""
    try:
        return [p.name for p in inspect.signature(loss).parameters.values()
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return []


def seeded_loss(model: Any, name: str, seed: int) -> UserFunction:
    """``model.loss`` as a UserFunction whose every call starts from ``random`` and
    ``numpy.random`` seeded with ``seed`` (a dropout mask drawn from ``np.random`` is the
    same at every probe); the caller's random states are put back."""
    saved = random.getstate(), np.random.get_state()
    try:
        random.seed(seed)
        np.random.seed(seed % 2**32)
        return UserFunction(model.loss, name)
    finally:
        random.setstate(saved[0])
        np.random.set_state(saved[1])
