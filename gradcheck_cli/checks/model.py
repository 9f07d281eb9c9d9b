"""``gradcheck model`` and ``check_model``: a CS231n-style model, one block per parameter.

A model keeps its parameters in ``model.params`` (a dict of float arrays) and has
``loss(X, y) -> (loss, grads)``, ``grads`` keyed like ``params`` (``usercode.model``).
The claimed gradient of every entry of every parameter (or of the ``wrt`` keys) is
checked against central differences of the returned loss, the model being a black box
(``fast_mode``: ``adaptive`` group testing by default, ``full`` for every entry, 2 calls
each), one block per key in the dict's order, with the usual verdict (``verdict``).

Every call of ``loss`` sees ``model.params`` holding fresh float64 copies of the
parameters (the one entry perturbed); afterwards the dict holds its own arrays again,
with their values, so the model is as it was after the check.  The model's other
attributes (batchnorm's ``bn_params`` with their running means, ``dropout_param``) are
deep-copied back before every call, and ``random``/``numpy.random`` are reset (a dropout
mask drawn from ``np.random`` is the same at every probe).  ``loss`` is called twice at
the start and must give the same loss and grads: a model that draws numbers gradcheck
cannot reset has no derivative to check.  ``isolate`` (``--isolate``): the model is made
and called in a child process (``usercode.isolate``), the check computed here.

Hints, beyond the network's (``diagnosis.diagnose``: a factor N for a mean against a
sum, a factor 2): a block whose error is ``c * W`` (``diagnosis.regularisation_hint``),
the regularisation gradient missing, doubled, or its ``0.5`` dropped.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Any, Mapping, Sequence

import numpy as np

from ..blackbox.pipeline import check_blackbox, deadline_after, validate_max_seconds
from ..choices import Method, Mode
from ..errors import OptionError
from ..finite_diff import value_eps
from ..inputs import parse_input, validate_seed, validate_top
from ..usercode.model import BoundModel, load_model, loss_parameters, model_params, require_repeatable, seeded_loss
from ..results import LayerArg, ModelSubject, Report
from ..verdict import Status, Thresholds
from .common import lifted_cost

#: ``mode=None``: every entry (``full``) up to this many checked entries, else ``adaptive``
AUTO_FULL_ENTRIES = 20_000


def _bind_data(names: Sequence[str], data: Sequence[tuple[str, Any]]) -> tuple:
    """The data arguments of ``loss`` (its parameters ``names``) in their order when every
    name is one of them (``--input y=... --input X=...`` binds by name), else in the order
    given."""
    given = [n for n, _ in data]
    if given and set(given) <= set(names):
        by_name = dict(data)
        order = [n for n in names if n in by_name]
        if order != given and names[: len(order)] != order:
            raise OptionError(f"--input: {', '.join(given)} are parameters of loss, but not its first ones "
                              f"({', '.join(names)})")
        return tuple(by_name[n] for n in order)
    return tuple(v for _, v in data)


def _data(name: str, value: Any) -> np.ndarray:
    """A data argument (X, y) as an array; OptionError if it is not real and finite."""
    try:
        array = np.asarray(value)
    except Exception as exc:
        raise OptionError(f"{name} cannot be made into an array: {exc}") from None
    if array.dtype.kind not in "biuf":
        raise OptionError(f"{name} must hold real numbers, got dtype {array.dtype}")
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        raise OptionError(f"{name} must be finite")
    return array


def _validate_wrt(wrt, keys: Sequence[str]) -> list[str]:
    if wrt is None:
        return list(keys)
    names = [w.strip() for w in wrt.split(",") if w.strip()] if isinstance(wrt, str) else list(wrt)
    if not names:
        raise OptionError("--wrt names no parameter")
    for w in names:
        if w not in keys:
            raise OptionError(f"--wrt: '{w}' is not a key of model.params (the keys: {', '.join(keys)})")
    return [k for k in keys if k in names]  # in the dict's order


def check_model(
    model: Any,
    X: Any,
    y: Any = None,
    *,
    wrt: Sequence[str] | str | None = None,
    seed: int = 0,
    mode: Mode | str | None = None,
    thresholds: Thresholds = Thresholds(),
    top: int = 5,
    name: str | None = None,
    progress=None,
    max_seconds: float | None = None,
) -> Report:
    """Check ``model.loss(X, y) -> (loss, grads)`` against central differences of the loss.

    One block per key of ``model.params`` in its order (``wrt``: a subset, e.g.
    ``"W1,b1"``), every entry judged (``mode`` ``adaptive``, the default: random-sign
    sets of entries, split only where they disagree; ``full``: each entry,
    ``(L(p + h e_k) - L(p - h e_k)) / 2h`` with ``h = eps**(1/3) max(|p_k|, 1)``; default
    ``full`` up to ``AUTO_FULL_ENTRIES`` entries, as the course checks a small model).
    ``model.params`` is restored after every call; ``y=None`` calls ``loss(X)``.
    The report has the blocks, the failing and ``top`` worst entries, hints and the effort.
    ``max_seconds`` stops the check after that long: the rest is counted ``unchecked``.

    >>> import numpy as np
    >>> class Linear:
    ...     def __init__(self):
    ...         self.params = {"W": np.ones((3, 2))}
    ...     def loss(self, X, y):
    ...         r = X @ self.params["W"] - y
    ...         return 0.5 * np.sum(r**2), {"W": X.T @ r}
    >>> check_model(Linear(), np.eye(3), np.zeros((3, 2))).status.value
    'pass'
    """
    from ..usercode import UserFunction

    deadline = deadline_after(validate_max_seconds(max_seconds))
    who = name or type(model).__name__
    model_params(model, who)
    args = (_data("X", X),) if y is None else (_data("X", X), _data("y", y))
    bound = BoundModel(model, UserFunction(model.loss, f"{who}.loss"), args, who)
    inputs = tuple(LayerArg(n, tuple(a.shape), _kind(a), False, "given") for n, a in zip(("X", "y"), args))
    return _check(bound, wrt=wrt, seed=seed, mode=mode, thresholds=thresholds, top=top,
                  progress=progress, inputs=inputs, init={}, deadline=deadline)


def _kind(a: np.ndarray) -> str:
    return {"b": "bool", "i": "int", "u": "int"}.get(a.dtype.kind, "float")


def _mode(mode) -> Mode | None:
    if mode is None:
        return None
    try:
        return Mode(getattr(mode, "value", mode))
    except ValueError:
        raise OptionError(f"--mode must be one of adaptive, fast, full, got {mode!r}") from None


def _check(bound: BoundModel, *, wrt, seed: int, mode, thresholds: Thresholds, top: int,
           progress, inputs: Sequence[LayerArg], init: Mapping[str, Any], deadline: float | None = None) -> Report:
    """The check of ``check_model``: the model bound to its validated data, its ``loss``
    wrapped (``bound.loss``, a UserFunction, or one in a child process)."""
    from ..diagnosis import diagnose, regularisation_hint

    validate_seed(seed)
    mode = _mode(mode)
    validate_top(top)
    fu, args, who = bound.loss, bound.args, bound.who
    keys = _validate_wrt(wrt, list(bound.base))
    offsets = np.cumsum([0] + [bound.base[k].size for k in keys[:-1]]).astype(int)
    blocks = [(k, bound.shapes[k], int(o)) for k, o in zip(keys, offsets)]
    x0 = np.concatenate([bound.base[k].ravel() for k in keys])
    if mode is None:
        mode = Mode.FULL if x0.size <= AUTO_FULL_ENTRIES else Mode.ADAPTIVE

    def values_of(z: np.ndarray) -> dict[str, np.ndarray]:
        return {k: z[o: o + bound.base[k].size].reshape(bound.shapes[k]) for k, o in zip(keys, offsets)}

    def cost(z: np.ndarray) -> float:
        return bound.call(values_of(np.asarray(z, dtype=float).ravel()))[0]

    t0 = time.perf_counter()
    try:
        with fu.session():
            loss0, grads = bound.call({})
            again, grads2 = bound.call({})
            require_repeatable(fu.name, (loss0, grads), (again, grads2))
            g = np.concatenate([grads[k].ravel() for k in keys])
            # float32 code: the default pass tolerance is what float32 can verify (issue 16)
            thresholds = thresholds.for_precision(value_eps(np.asarray([loss0]), g))
            # precision lifting: a loss computed in the dtype of its params is re-estimated
            # in np.longdouble where float64 cannot decide
            lifted = lifted_cost(lambda z: bound.raw_loss(values_of(np.asarray(z).ravel())), x0, loss0)
            checked = check_blackbox(cost, x0, g, blocks, mode=mode, thresholds=thresholds, top=top, seed=seed,
                                     f0=loss0, calls=lambda: fu.calls, lifted=lifted, progress=progress,
                                     deadline=deadline)
    finally:
        bound.restore()
    verdict = checked.verdict
    effort = replace(checked.effort, calls=fu.calls, seconds=time.perf_counter() - t0)

    # the hints: numeric values where checked, the claim elsewhere (taken as right)
    how, numeric, _ = checked.search.flat(x0.size)
    numeric = np.where(np.isfinite(numeric), numeric, g)
    by_name = {b.name: b for b in verdict.blocks}
    items = [(k, g[o: o + bound.base[k].size].reshape(bound.shapes[k]),
              numeric[o: o + bound.base[k].size].reshape(bound.shapes[k]), by_name[k].status)
             for k, o in zip(keys, offsets)]
    reg = bound.reg
    hints, explained = [], set()
    for k, a, n, status in items:
        if status is Status.FAIL:
            hint = regularisation_hint(k, a, n, bound.base[k], reg)
            if hint:
                hints.append(hint)
                explained.add(k)
    batch = int(args[0].shape[0]) if args[0].ndim else None
    hints += diagnose([it for it in items if it[0] not in explained], samples=batch, activation="")

    subject = ModelSubject(
        model=who, init=dict(init), inputs=tuple(inputs),
        params=tuple((k, bound.shapes[k]) for k in bound.base), checked=tuple(keys), loss=float(loss0),
        reg=reg, converted=bound.converted,
    )
    return Report(
        command="model", method=Method.CENTRAL, thresholds=thresholds, checks=verdict.checks,
        counts=verdict.counts, blocks=verdict.blocks, param_count=int(x0.size), hints=tuple(hints),
        shown=top, mode=mode, effort=effort, seed=seed, subject=subject,
    )


# --------------------------------------------------------------------------- the command


def _parse_init(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise OptionError(f"--init: not valid JSON ({exc.msg} at column {exc.colno}): {text}") from None
    if not isinstance(value, dict):
        raise OptionError(f"--init must be a JSON object of keyword arguments, e.g. '{{\"reg\": 0.1}}'; got {text}")
    return value


def check_model_command(
    target: str,
    *,
    init: str | None = None,
    inputs: Sequence[str] = (),
    wrt: str | None = None,
    seed: int = 0,
    mode: Mode | str | None = None,
    thresholds: Thresholds = Thresholds(),
    top: int = 5,
    progress=None,
    max_seconds: float | None = None,
    isolate: bool = False,
) -> Report:
    """``gradcheck model FILE.py:CLASS --init JSON --input X=2,15 --input y=int:10:2``.

    The inputs are drawn as ``layer``'s (``inputs.parse_input``, seeded) and bound to
    ``loss``'s parameters by name (else in the order given); the model is made and its
    ``loss`` called from ``random``/``numpy.random`` seeded by ``seed``.  ``isolate``:
    the model is made and called in a child process (``usercode.isolate``).
    """
    deadline = deadline_after(validate_max_seconds(max_seconds))
    validate_seed(seed)
    _mode(mode)
    validate_top(top)
    kwargs = _parse_init(init)
    if not inputs:
        raise OptionError("declare the data of loss(X, y) with --input, e.g. --input X=2,15 --input y=int:10:2")
    data, args = [], []
    for k, text in enumerate(inputs):
        name, value, source = parse_input(text, np.random.default_rng((seed, 0, k)))
        if name in [d.name for d in data]:
            raise OptionError(f"--input: '{name}' is declared twice")
        value = _data(f"--input {name}", value)
        data.append(LayerArg(name, tuple(value.shape), {"b": "bool", "i": "int", "u": "int"}.get(value.dtype.kind, "float"),
                             False, source))
        args.append((name, value))
    loss_name = f"{target.rpartition(':')[2]}.loss"
    if isolate:
        from ..usercode.isolate import load_isolated_model

        bound = load_isolated_model(target, kwargs, seed, loss_name)
        names = bound.loss_params
    else:
        model, who = load_model(target, kwargs, seed)
        model_params(model, who)
        # every call of loss starts from the seeded state (a dropout mask drawn from np.random)
        bound = BoundModel(model, seeded_loss(model, loss_name, seed), (), who)
        names = loss_parameters(model.loss)
    bound.args = _bind_data(names, args)
    if len(bound.args) > 2:
        raise OptionError(f"loss(X, y) takes two data arguments; --input declares {len(bound.args)}")
    order = [next(n for n, v in args if v is b) for b in bound.args]
    data = [next(d for d in data if d.name == n) for n in order]
    return _check(bound, wrt=wrt, seed=seed, mode=mode, thresholds=thresholds, top=top,
                  progress=progress, inputs=data, init=kwargs, deadline=deadline)
