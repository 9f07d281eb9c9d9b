"""``gradcheck layer`` and the Python ``check_layer``: hand-written forward/backward pairs.

numpy only.

A layer is ``forward(*inputs, **params) -> (out, cache)`` (or ``(out_1, ..., out_m,
cache)``) with ``backward(dout, cache)`` (or ``backward(dout_1, ..., dout_m, cache)``)
returning one gradient per differentiated input, in input order; a loss layer is one
function ``loss(*inputs, **params) -> (loss, dx)`` (or ``(loss, dx, dw, ...)``).  Inputs
and params named after the function's parameters are bound to them by name
(``bind_by_name``: ``naiveSoftmaxLossAndGradient(centerWordVec, outsideWordIdx,
outsideVectors, dataset)`` takes an index ``--param`` between two inputs); the pair itself
is found by ``layer_names`` (CS231n's ``conv_forward_naive`` / ``conv_backward_naive``).

What is checked (the vector-Jacobian product).  With ``dout_k ~ N(0, 1)`` of the shape
of ``out_k`` (seeded), the backward pass claims the gradient of the scalar

    L(inputs) = sum_k sum(out_k * dout_k)          (L = loss for a loss layer)

with respect to every differentiated input.  Entry ``j`` of input ``z`` is checked
against the central difference ``(L(z + h e_j) - L(z - h e_j)) / 2h`` with
``h = eps**(1/3) max(|z_j|, 1)``; its error is estimated from the same difference at
``4h`` and the round-off (``finite_diff.central_from_values``).  The differences
``L(z ± h e_j) - L(z)`` are summed output by output, ``sum((out(z ± h e_j) - out(z)) *
dout)``: outputs that entry j does not reach cancel exactly, so the round-off is that of
the terms that changed, ``eps sum |out * dout|`` over them, not over all of L (a bias
entry of a big layer reaches one column).
Four forward calls per entry; the verdict is the usual one (``verdict``), one block
per input.

Kinks (one-sided test).  A layer with relu/max inside is not differentiable where two
branches meet (a pooling window whose maximum is tied).  With ``L0 = L(z)``, the
one-sided slopes ``D+ = (L(z + h e_j) - L0) / h`` and ``D- = (L0 - L(z - h e_j)) / h``
differ by ``L'' h`` for a smooth L, which the 4h values predict:
``(L(z + 4h e_j) - 2 L0 + L(z - 4h e_j)) / 16h``.  An entry that does not pass is a
``kink`` when ``D+ - D-`` departs from that prediction by more than the round-off and
``KINK_SIGMAS`` times the measured noise of L, over h (the slopes jump), and the
analytic value lies between ``D-`` and ``D+`` (it is one of the one-sided derivatives,
or a subgradient between them).  A wrong value away from a kink is never excused:
there ``D+ = D-`` up to ``L'' h``.

Noise.  The noise ``sigma`` of L is measured once per input, ECnoise-style (``blackbox.stencils.noise_probe``).
Float64 code gives ``sigma ~ eps |L|`` and the step above; a noisier L (float32
arithmetic) gets the step scaled by ``(sigma / (eps |L|))**(1/3)``, which balances
truncation against its own noise, and the report says how noisy it is.

Modes.  ``full`` checks every entry as above.  ``adaptive`` (``fast`` is the same; the
default past ``AUTO_FAST_ENTRIES`` differentiated entries, e.g. a conv) is
``blackbox.search``'s adaptive group testing over the differentiated inputs laid end to end,
one block each: random-sign sets of entries, split only where they disagree, every entry
getting a verdict directly or by exclusion (the guarantees are in ``blackbox.search``); the
entries it checks directly that do not pass then get the four-call difference above and
its kink test; when a block looked wrong everywhere but its samples are all kinks (relu
zeros, pooling ties), its other entries are checked directly too.

Before every call the states of ``random`` and ``numpy.random`` are restored (a forward
pass that draws a dropout mask from ``np.random`` sees the same mask at every probe),
params are deep-copied afresh (batchnorm may update its running mean), and array
arguments must come back unchanged (``usercode.UserFunction``).  The cache is checked
too: backward is run a second time on the first cache after another forward pass; a
different result means the cache is shared with later calls or changed by backward.
Backward may not change the inputs its cache holds.  A cache that holds ``out`` itself
cannot be told from a correct one by running the code (forward mutated it before
returning; sigmoid caches ``out`` rightly): when a failure no other pattern explains
comes with a cache that shares memory with ``out``, the hint says so (``diagnosis``).
"""

from __future__ import annotations

import copy
import functools
import time
from dataclasses import replace
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..choices import Method, Mode
from ..diagnosis import diagnose_layer
from ..errors import LoadError, NonFiniteCostError, OptionError, UserCodeError
from ..blackbox.params import FlatParams
from ..blackbox.pipeline import check_blackbox, deadline_after, validate_max_seconds
from ..blackbox.pipeline import validate_mode as pipeline_mode
from ..blackbox.stencils import four_point_entries, noise_probe, two_point_entries
from ..finite_diff import EPS, value_eps
from ..blocks import BlockData
from ..inputs import LayerInput, make_inputs, make_params, validate_inputs, validate_seed, validate_top
from ..results import LayerArg, LayerSubject, Report
from ..usercode import protocols
from ..verdict import Status, Thresholds
from .common import callable_name, lifted_cost

#: ``mode=None`` is adaptive when the differentiated inputs have more entries than this
AUTO_FAST_ENTRIES = 256


def validate_mode(mode) -> Mode | None:
    """``mode``: None (adaptive past ``AUTO_FAST_ENTRIES`` differentiated entries, else
    full) or a ``Mode`` / its value (``full``, ``adaptive``, ``fast``: the same as adaptive)."""
    return None if mode is None else pipeline_mode(mode)


# --------------------------------------------------------------------------- the layer


def _leaves(obj: Any, path: str = "cache", depth: int = 0):
    """(path, array) for every ndarray inside a cache of tuples, lists and dicts."""
    if isinstance(obj, np.ndarray):
        yield path, obj
    elif depth < 4 and isinstance(obj, (tuple, list)):
        for i, item in enumerate(obj):
            yield from _leaves(item, f"{path}[{i}]", depth + 1)
    elif depth < 4 and isinstance(obj, dict):
        for key, item in obj.items():
            yield from _leaves(item, f"{path}[{key!r}]", depth + 1)


def bind_by_name(fn, inputs: list[LayerInput], params: Mapping[str, Any], strict: bool = False):
    """Inputs and params bound to ``fn``'s parameters by name.

    When every input is named after a positional parameter of ``fn``, the inputs are
    reordered to ``fn``'s order (so gradients are expected in that order too) and the call
    is laid out by position: ``layout`` lists, for each positional parameter up to the
    last one bound, the index of the input or the name of the param that fills it (a
    scalar index given as ``--param outsideWordIdx=3`` between two arrays), or ``(name,
    default)`` for a parameter left to its default.  Params after that are keywords.  Otherwise the inputs are passed in the order given and
    ``layout`` is None (params as keywords).  ``strict`` (the ``layer`` command: inputs
    are named by ``--input NAME=``): a name that matches no parameter is an ``OptionError``
    (``_refuse_unknown_names``) instead.
    """
    import inspect

    try:
        every = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return inputs, None
    sig = [p for p in every if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    names = [p.name for p in sig]
    by_name = {i.name: i for i in inputs}
    if strict:
        _refuse_unknown_names(fn, every, list(by_name), list(params))
    if not inputs or not set(by_name) <= set(names):  # not all parameters (the API, or *args): by position
        return inputs, None
    last = max(names.index(n) for n in list(by_name) + [k for k in params if k in names])
    ordered = [by_name[n] for n in names if n in by_name]
    layout: list = []
    for p in sig[: last + 1]:
        if p.name in by_name:
            layout.append(ordered.index(by_name[p.name]))
        elif p.name in params:
            layout.append(p.name)
        elif p.default is not p.empty:  # left to its default, by position
            layout.append((p.name, p.default))
        else:
            raise OptionError(f"{getattr(fn, '__name__', 'the function')}'s parameter '{p.name}' is neither an "
                              f"--input nor a --param (its parameters: {', '.join(names)})")
    return ordered, layout


def _refuse_unknown_names(fn, every: list, inputs: list[str], params: list[str]) -> None:
    """``OptionError`` naming an --input that matches no positional parameter of ``fn``
    (unless ``fn`` takes ``*args``) or a --param that matches no parameter (unless
    ``fn`` takes ``**kwargs``), with ``fn``'s parameters: nothing is bound silently to
    the wrong one."""
    kinds = {p.name: p.kind for p in every}
    P = type(every[0]) if every else None
    var_args = any(p.kind is p.VAR_POSITIONAL for p in every)
    var_kwargs = any(p.kind is p.VAR_KEYWORD for p in every)
    listed = ", ".join(("*" if p.kind is p.VAR_POSITIONAL else "**" if p.kind is p.VAR_KEYWORD else "") + p.name
                       for p in every) or "none"
    fname = getattr(fn, "__name__", "the function")
    for name in inputs:
        if var_args or (P is not None and kinds.get(name) in (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD)):
            continue
        raise OptionError(f"--input {name} matches no parameter of {fname} (its parameters: {listed}); "
                          "inputs bind to the parameters by name")
    for name in params:
        if var_kwargs or (P is not None and kinds.get(name) in (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD, P.KEYWORD_ONLY)):
            continue
        raise OptionError(f"--param {name} matches no parameter of {fname} (its parameters: {listed}); "
                          "params bind to the parameters by name")


class _Layer:
    """The user's forward/backward (or loss) functions bound to inputs and params.

    ``call_forward(arrays)`` returns ``(outs, cache)`` with outs validated float arrays;
    ``objective(arrays)`` returns ``(L, sum |out * dout|)``.
    """

    def __init__(self, forward, backward, inputs: list[LayerInput], params: Mapping[str, Any],
                 forward_name: str, backward_name: str | None, by_name: bool = False) -> None:
        from ..usercode import UserFunction

        self.params = dict(params)
        self.forward = forward if isinstance(forward, UserFunction) else UserFunction(forward, forward_name)
        self._raw_forward = self.forward.fn
        self.inputs, self.layout = bind_by_name(self._raw_forward, list(inputs), self.params, strict=by_name)
        self.backward = None
        if backward is not None:
            self.backward = backward if isinstance(backward, UserFunction) else UserFunction(backward, backward_name)
        self.is_loss = backward is None
        self.douts: tuple[np.ndarray, ...] = ()
        self.last_params: dict[str, Any] = {}
        self.out_shapes: tuple[tuple[int, ...], ...] = ()
        #: a gradient came back float32 (float32 code: ``Thresholds.for_precision``)
        self.float32 = False

    # ------------------------------------------------------------- forward
    def _call(self, arrays: Sequence[np.ndarray]) -> Any:
        # a fresh deep copy of the params for every call; functools.partial adds no frame
        # to the user's traceback and keeps the positional names for mutation messages
        fresh = copy.deepcopy(self.params)
        self.last_params = fresh
        args = list(arrays)
        if self.layout is not None:  # bound by name: params placed among the inputs by position
            args = [arrays[what] if isinstance(what, int) else fresh[what] if isinstance(what, str) else what[1]
                    for what in self.layout]
            keywords = {k: v for k, v in fresh.items() if k not in self.layout}
        else:
            keywords = fresh
        self.forward.fn = functools.partial(self._raw_forward, **keywords) if keywords else self._raw_forward
        try:
            return self.forward.call(*args)
        finally:
            self.forward.fn = self._raw_forward

    def call_forward(self, arrays: Sequence[np.ndarray]) -> tuple[tuple[np.ndarray, ...], Any]:
        """Forward pass -> (outputs, cache); for a loss layer (loss,) and the gradients
        (validated by ``usercode.protocols.layer_forward``)."""
        outs, cache = protocols.layer_forward(self._call(arrays), self.forward.name, self.is_loss)
        if not self.is_loss and self.out_shapes and tuple(o.shape for o in outs) != self.out_shapes:
            got = ", ".join(protocols.shape_text(o.shape) for o in outs)
            raise UserCodeError(f"{self.forward.name} returned out of shape {got} at a perturbed input, but "
                                f"{', '.join(protocols.shape_text(s) for s in self.out_shapes)} at the first call")
        return outs, cache

    def objective(self, arrays: Sequence[np.ndarray]) -> tuple[float, float]:
        """``L = sum_k sum(out_k * dout_k)`` (the loss for a loss layer) and ``sum |out_k * dout_k|``."""
        outs, _ = self.call_forward(arrays)
        if self.is_loss:
            v = float(outs[0])
            return v, abs(v)
        total, scale = 0.0, 0.0
        with np.errstate(all="ignore"):
            for o, d in zip(outs, self.douts):
                prod = np.asarray(o, dtype=np.float64) * d
                total += float(np.sum(prod))
                scale += float(np.sum(np.abs(prod)))
        return total, scale

    # ------------------------------------------------------------- backward
    def call_backward(self, cache: Any, arrays: Sequence[np.ndarray] = ()) -> Any:
        """``backward(*douts, cache)``; the inputs ``arrays`` (which the cache may hold) must
        come back unchanged, like the douts (UserCodeError naming the first changed entry)."""
        result = self.backward.call(*(d.copy() for d in self.douts), cache)
        for item, array in zip(self.inputs, arrays):
            if array.shape == item.value.shape and np.array_equal(array, item.value, equal_nan=True):
                continue
            if array.shape != item.value.shape:
                change = f"its shape changed from {item.value.shape} to {array.shape}"
            else:
                where = tuple(int(k) for k in np.argwhere(~((array == item.value) | (np.isnan(array) & np.isnan(item.value))))[0])
                label = f"{item.name}[{', '.join(map(str, where))}]" if where else item.name
                change = f"{label} changed from {item.value[where]!r} to {array[where]!r}"
            raise UserCodeError(f"{self.backward.name} modified the input {item.name}, which its cache holds, "
                                f"in place: {change} (copy it before changing it)")
        return result

    def gradients(self, returned: Any, who: str) -> list[np.ndarray]:
        """Validate the returned gradients: one per differentiated input (or per input), right
        shapes (``usercode.protocols.layer_gradients``)."""
        items = returned if isinstance(returned, (tuple, list)) else (returned,)
        if self.is_loss and len(items) == 1 and isinstance(items[0], (tuple, list)):
            items = items[0]
        # float32 code (``Thresholds.for_precision``)
        self.float32 = self.float32 or any(getattr(g, "dtype", None) == np.float32 for g in items)
        return protocols.layer_gradients(returned, who, [i.name for i in self.inputs],
                                         [tuple(i.value.shape) for i in self.inputs],
                                         [i.differentiated for i in self.inputs], self.is_loss)


# --------------------------------------------------------------------------- numerics


def _noise_along(layer: _Layer, arrays: list[np.ndarray], which: int, seed: int) -> float:
    """The noise of L along input ``which`` (``stencils.noise_probe``, direction seeded by
    ``(seed, 4, which)``)."""
    flat = arrays[which].reshape(-1)
    base = flat.copy()
    u = np.random.default_rng((seed, 4, which)).choice([-1.0, 1.0], size=flat.size)

    def cost(z: np.ndarray) -> float:
        flat[:] = z
        return layer.objective(arrays)[0]

    try:
        return noise_probe(cost, base, u)
    finally:
        flat[:] = base


class _LazyNoise:
    """``sigma_of[block]``: the noise of L along input ``diff_idx[block]`` (``_noise_along``),
    measured on first use."""

    def __init__(self, layer: _Layer, arrays: list[np.ndarray], diff_idx: list[int], seed: int) -> None:
        self.layer, self.arrays, self.diff_idx, self.seed = layer, arrays, diff_idx, seed
        self.values: dict[int, float] = {}

    def __getitem__(self, block: int) -> float:
        if block not in self.values:
            self.values[block] = _noise_along(self.layer, self.arrays, self.diff_idx[block], self.seed)
        return self.values[block]

    def known(self) -> list[float]:
        return list(self.values.values())


def _objective_in(layer: _Layer, arrays: list[np.ndarray], diff_idx: list[int], dtype):
    """``z -> L`` with the differentiated inputs set to the flat ``z`` in ``dtype`` and L
    summed in it (precision lifting: ``checks.common.lifted_cost``); outputs as returned."""
    sizes = [arrays[k].size for k in diff_idx]
    offsets = np.cumsum([0] + sizes[:-1])

    def raw(z: np.ndarray):
        z = np.asarray(z).ravel()
        args = list(arrays)
        for k, off, n in zip(diff_idx, offsets, sizes):
            args[k] = z[off: off + n].astype(dtype).reshape(arrays[k].shape)
        result = layer._call(args)
        if not isinstance(result, (tuple, list)) or len(result) < 2:
            return np.nan
        if layer.is_loss:
            return np.asarray(result[0])
        total = dtype(0)
        for o, d in zip(result[:-1], layer.douts):
            total = total + np.sum(np.asarray(o) * d)
        return np.asarray(total)

    return raw


def _four_point(layer: _Layer, arrays: list[np.ndarray], diff_idx: list[int], f0: float, scale0: float,
                sigmas, out_eps: float = EPS):
    """The layer's direct estimator for ``check_blackbox``: ``stencils.four_point_entries`` on
    input ``diff_idx[block]``, with L's differences summed output by output (the outputs an
    entry does not reach cancel exactly, so the round-off is that of the terms it changed)."""

    def direct(block: int, indices: np.ndarray, progress=None, points: int = 4):
        """Four calls per entry with the kink test; ``points=2``: the full mode's first look."""
        which = diff_idx[block]
        flat = arrays[which].reshape(-1)  # a view: perturbations reach the array the layer gets
        base = None if layer.is_loss else [np.array(o, dtype=np.float64) for o in layer.call_forward(arrays)[0]]

        def shifted(k: int, d: float) -> tuple[float, float]:
            orig = flat[k]
            try:
                flat[k] = orig + d
                if base is None:
                    return layer.objective(arrays)
                outs = layer.call_forward(arrays)[0]
                delta = total = 0.0
                with np.errstate(all="ignore"):
                    for o, o0, dout in zip(outs, base, layer.douts):
                        o = np.asarray(o, dtype=np.float64)
                        moved = o != o0
                        delta += float(np.sum((o - o0)[moved] * dout[moved]))
                        total += float(np.sum(np.maximum(np.abs(o), np.abs(o0))[moved] * np.abs(dout[moved])))
                return delta, total
            finally:
                flat[k] = orig

        engine = four_point_entries if points == 4 else functools.partial(two_point_entries, eps=out_eps)
        return engine(shifted, flat, indices, f0=f0 if base is None else 0.0,
                      scale=max(scale0, abs(f0)), sigma=sigmas[block], progress=progress)

    direct.first_look = True  # it takes points=2 (check_blackbox's full mode)
    return direct


# --------------------------------------------------------------------------- hints


def _is_fail(statuses: np.ndarray) -> np.ndarray:
    return np.array([s is Status.FAIL for s in statuses], dtype=bool)


def _evidence(data: list[BlockData], status: dict[str, np.ndarray], full: dict[str, bool]) -> list:
    """``diagnosis.LayerBlock`` per checked input (the numbers the hints are made from)."""
    from ..diagnosis import LayerBlock

    blocks = []
    for b in data:
        size = int(np.prod(b.shape))
        a, n, noise = (np.full(size, np.nan) for _ in range(3))
        idx = np.arange(size) if b.indices is None else b.indices
        a[idx], n[idx], noise[idx] = b.analytic, b.numeric, b.noise
        blocks.append(LayerBlock(b.name, a.reshape(b.shape), n.reshape(b.shape), noise.reshape(b.shape),
                                 _is_fail(status[b.name]).reshape(b.shape), full[b.name]))
    return blocks


def _cache_aliases(cache: Any, outs: tuple[np.ndarray, ...]) -> list[str]:
    """Paths in the cache (``cache[0]``) of arrays that share memory with an output."""
    return [p for p, arr in _leaves(cache) if any(np.may_share_memory(arr, o) for o in outs)]


# --------------------------------------------------------------------------- the check


def check_layer(
    forward,
    backward=None,
    inputs: Mapping[str, Any] | Sequence[LayerInput] = (),
    params: Mapping[str, Any] | None = None,
    *,
    wrt: Sequence[str] | str | None = None,
    seed: int = 0,
    mode: str | Mode | None = None,
    thresholds: Thresholds = Thresholds(),
    top: int = 5,
    name: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    max_seconds: float | None = None,
) -> Report:
    """Check a layer's backward pass against the numeric vector-Jacobian product.

    ``forward(*inputs, **params) -> (out, cache)`` (or several outputs before the cache)
    and ``backward(*douts, cache) -> grads``; without ``backward``, ``forward`` is a loss
    layer returning ``(loss, dx, ...)``.  ``inputs`` maps names to arrays in positional
    order (integer and boolean arrays are data; floats are differentiated unless
    ``wrt`` names a subset); ``params`` are keyword arguments, deep-copied for every
    call.  See the module docstring for what is compared, the kink test and
    ``mode`` (None: by size; ``"full"``, ``"adaptive"``, ``"fast"``).  The report has one block per
    differentiated input, the failing and ``top`` worst entries, and hints.  ``max_seconds``
    stops the check after that long: the entries not settled by then are ``unchecked``.

    >>> import numpy as np
    >>> fwd = lambda x, w: (x @ w, (x, w))
    >>> bwd = lambda dout, cache: (dout @ cache[1].T, cache[0].T @ dout)
    >>> check_layer(fwd, bwd, {"x": np.ones((2, 3)), "w": np.ones((3, 4))}).status.value
    'pass'
    """
    deadline = deadline_after(validate_max_seconds(max_seconds))
    validate_seed(seed)
    mode = validate_mode(mode)
    validate_top(top)
    if params is not None and not isinstance(params, Mapping):
        raise OptionError("params must be a mapping of keyword arguments, e.g. {'conv_param': {...}}")
    items = list(inputs) if inputs and all(isinstance(i, LayerInput) for i in inputs) else validate_inputs(inputs, wrt)
    fname = name or callable_name(forward)
    bname = None if backward is None else callable_name(backward) if not hasattr(backward, "name") else backward.name
    if hasattr(forward, "name") and name is None:
        fname = forward.name
    layer = _Layer(forward, backward, items, params or {}, fname, bname)
    return _run(layer, seed, mode, thresholds, top, progress, deadline)


def _require_finite(layer: _Layer, outs: Sequence[np.ndarray], f0: float, seed: int) -> None:
    """A NaN or infinite output (or loss) at the drawn inputs is bad input, not a verdict:
    no finite difference can be taken there (NonFiniteCostError, exit 2, with advice)."""
    if np.isfinite(f0):
        return
    name = layer.forward.name
    what, value = "loss", float(outs[0]) if layer.is_loss else float("nan")
    if not layer.is_loss:
        for k, o in enumerate(outs):
            bad = np.argwhere(~np.isfinite(np.asarray(o, dtype=float).reshape(np.shape(o) or (1,))))
            if bad.size:
                where = f"[{', '.join(map(str, bad[0]))}]" if np.ndim(o) else ""
                what = ("out" if len(outs) == 1 else f"output {k + 1}") + where
                value = float(np.asarray(o, dtype=float).reshape(-1)[np.ravel_multi_index(tuple(bad[0]), np.shape(o)) if np.ndim(o) else 0])
                break
        else:
            what = "sum(out * dout)"
            value = f0
    drawn = [f"{i.name} ~ {i.source}" for i in layer.inputs if i.differentiated and i.source.startswith(("N(", "U("))]
    normal = any(i.source.startswith("N(") for i in layer.inputs if i.differentiated)
    advice = (f" ({', '.join(drawn)}, seed {seed}{', negative entries included' if normal else ''})" if drawn else "")
    raise NonFiniteCostError(
        f"{name} returned a non-finite {what} ({value}){advice}: if the layer is defined only for "
        "some inputs (log, sqrt: x > 0), draw them from an interval with --input NAME=uniform:LO..HI:SHAPE "
        "(e.g. uniform:0.5..2:4) or give them as FILE.npy"
    )


def _run(layer: _Layer, seed: int, mode: Mode | None, thresholds: Thresholds, top: int, progress,
         deadline: float | None = None) -> Report:
    """The check, inside one session of each user function (their random states set per
    call, the caller's saved once: ``UserFunction.session``)."""
    import contextlib

    with contextlib.ExitStack() as stack:
        stack.enter_context(layer.forward.session())
        if layer.backward is not None:
            stack.enter_context(layer.backward.session())
        return _check(layer, seed, mode, thresholds, top, progress, deadline)


def _check(layer: _Layer, seed: int, mode: Mode | None, thresholds: Thresholds, top: int, progress,
           deadline: float | None = None) -> Report:
    arrays = [i.value.copy() for i in layer.inputs]
    diff_idx = [k for k, i in enumerate(layer.inputs) if i.differentiated]
    outs, cache = layer.call_forward(arrays)
    updated = _changed_paths(layer.params, layer.last_params)
    if layer.is_loss:
        layer.douts = ()
        grads = layer.gradients(cache, layer.forward.name)
        changed = False
    else:
        layer.out_shapes = tuple(o.shape for o in outs)
        layer.douts = tuple(np.random.default_rng((seed, 1, k)).standard_normal(o.shape) for k, o in enumerate(outs))
        grads = layer.gradients(layer.call_backward(cache, arrays), layer.backward.name)
        _backward_draws(layer, cache, grads, seed)
        changed = _cache_changes(layer, arrays, cache, grads, seed)
    f0, scale0 = layer.objective(arrays)
    _require_finite(layer, outs, f0, seed)

    total_entries = sum(layer.inputs[k].value.size for k in diff_idx)
    if mode is None:
        mode = Mode.ADAPTIVE if total_entries > AUTO_FAST_ENTRIES else Mode.FULL
    mode = Mode.ADAPTIVE if mode is Mode.FAST else mode
    # each input's noise is measured when its direct estimate first needs it (10 calls an
    # input): a correct layer that the search clears in adaptive mode never pays for it
    sigma_of = _LazyNoise(layer, arrays, diff_idx, seed)
    t0 = time.perf_counter()
    flat = FlatParams([layer.inputs[k].name for k in diff_idx], [arrays[k] for k in diff_idx])

    def cost(z: np.ndarray) -> float:
        """L with the differentiated inputs set to ``z`` (restored after every call)."""
        try:
            flat.assign(z)
            return layer.objective(arrays)[0]
        finally:
            flat.restore()

    g = np.concatenate([gr.ravel() for gr in grads])
    raw_out = [np.asarray(o) for o in outs]
    if any(o.dtype == np.float32 for o in raw_out) or layer.float32:
        thresholds = thresholds.for_precision(float(np.finfo(np.float32).eps))
    lifted = lifted_cost(_objective_in(layer, arrays, diff_idx, np.longdouble), flat.x0, f0)
    bb = check_blackbox(cost, flat.x0.copy(), g, flat.regions, mode=mode, thresholds=thresholds, top=top, seed=seed,
                        f0=f0, direct=_four_point(layer, arrays, diff_idx, f0, scale0, sigma_of, value_eps(*outs)),
                        lifted=lifted, progress=progress, deadline=deadline)
    verdict, effort, data = bb.verdict, bb.effort, list(bb.judged)
    if mode is Mode.ADAPTIVE:
        # the hints read the values the search measured (the judged ones add the re-estimates
        # of entries it left unchecked: a truer count for the hints, and a change of output)
        data = [BlockData(b.name, b.shape, b.analytic[i], b.numeric[i], b.noise[i], indices=i)
                for b, i in ((b, verdict.indices.get(b.name, b.checked)) for b in bb.search.blocks)]
    full = {b.name: len(b.checked) == b.how.size for b in bb.search.blocks}
    effort = replace(effort, calls=layer.forward.calls + (layer.backward.calls if layer.backward else 0),
                     seconds=time.perf_counter() - t0)
    counts = dict(verdict.counts)
    ordered = list(verdict.blocks)
    # statuses of the full arrays for hints
    status = {b.name: _status_array(verdict.statuses[b.name], b) for b in data}
    diff = [i for i in layer.inputs if i.differentiated]
    hints = diagnose_layer(
        _evidence(data, status, full),
        who=layer.forward.name if layer.is_loss else layer.backward.name,
        grads=tuple(i.name for i in diff),
        douts=layer.douts,
        data_inputs={i.name: i.value for i in layer.inputs if i.kind == "int"},
        params=layer.params,
        batch=diff[0].value.shape[0] if diff[0].value.ndim >= 1 else None,
        cache_aliases=() if layer.is_loss else tuple(_cache_aliases(cache, outs)),
        cache_changed=changed,
    )
    subject = LayerSubject(
        forward=layer.forward.name,
        backward=None if layer.backward is None else layer.backward.name,
        inputs=tuple(LayerArg(i.name, tuple(i.value.shape), i.kind, i.differentiated, i.source) for i in layer.inputs),
        params=_jsonable(layer.params),
        outputs=() if layer.is_loss else tuple(tuple(s) for s in layer.out_shapes),
        updated_params=tuple(updated),
        cache_changed=changed,
        relative_noise=(max(sigma_of.known() + [bb.search.sigma]) / max(scale0, abs(f0))
                        if max(scale0, abs(f0)) > 0 else 0.0),
        arguments=() if layer.layout is None else tuple(
            layer.inputs[w].name if isinstance(w, int) else w if isinstance(w, str) else w[0] for w in layer.layout),
    )
    return Report(
        command="layer",
        method=Method.CENTRAL,
        thresholds=thresholds,
        checks=verdict.checks,
        counts=counts,
        blocks=tuple(ordered),
        hints=tuple(hints),
        shown=top,
        subject=subject,
        mode=mode,
        effort=effort,
        seed=seed,
    )


def _backward_draws(layer: _Layer, cache: Any, grads: list[np.ndarray], seed: int) -> None:
    """Backward run twice more, under random states other than forward's: a result that
    changes draws random numbers (a dropout mask drawn anew is forward's own mask only
    because the checker resets the state before every call; in training it is not).
    UserCodeError (exit 2) when it does."""
    same = lambda a, b: all(np.array_equal(g1, g2, equal_nan=True) for g1, g2 in zip(a, b))  # noqa: E731
    if not same(grads, layer.gradients(layer.call_backward(cache), layer.backward.name)):
        return  # not even repeatable under forward's state: backward changes its cache (reported apart)
    for k in (1, 2):
        with layer.backward.reseeded(int(seed) * 7919 + 104729 * k):
            again = layer.gradients(layer.call_backward(cache), layer.backward.name)
        if not same(grads, again):
            raise UserCodeError(f"{layer.backward.name} draws random numbers: use the mask saved in the cache "
                                "(its result changed with the random state)")


def _cache_changes(layer: _Layer, arrays: list[np.ndarray], cache: Any, grads: list[np.ndarray], seed: int) -> bool:
    """Whether backward on the first cache gives another answer after a second forward pass.

    The second pass gets the float inputs scaled entrywise by 1 + U(-0.01, 0.01) (signs
    and domains kept), so a cache that points into a buffer the next call overwrites
    changes.  A second pass that raises skips the test (the inputs are not the user's).
    """
    rng = np.random.default_rng((seed, 3))
    other = [a * (1 + rng.uniform(-0.01, 0.01, a.shape)) if i.differentiated else a.copy()
             for a, i in zip(arrays, layer.inputs)]
    try:
        layer.call_forward(other)
    except UserCodeError:
        return False
    again = layer.gradients(layer.call_backward(cache), layer.backward.name)
    return not all(np.array_equal(g1, g2, equal_nan=True) for g1, g2 in zip(grads, again))


def _changed_paths(before: Any, after: Any, path: str = "") -> list[str]:
    """Dotted paths of the param entries a forward call added, removed or changed."""
    if isinstance(before, dict) and isinstance(after, dict):
        found = []
        for key in list(before) + [k for k in after if k not in before]:
            label = f"{path}.{key}" if path else str(key)
            if key not in before or key not in after:
                found.append(label)
            else:
                found += _changed_paths(before[key], after[key], label)
        return found
    try:
        same = type(before) is type(after) and bool(np.array_equal(np.asarray(before, dtype=object),
                                                                   np.asarray(after, dtype=object)))
    except Exception:
        same = before is after
    return [] if same else [path or "params"]


def _status_array(st: np.ndarray, b: BlockData) -> np.ndarray:
    if b.indices is None:
        return st
    full = np.full(int(np.prod(b.shape)), Status.PASS, dtype=object)
    full[b.indices] = st
    return full


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


# --------------------------------------------------------------------------- the command


def load_layer(target: str | None, forward: str | None = None, backward: str | None = None, seed: int = 0,
               isolate: bool = False):
    """``FILE.py:NAME`` -> (forward, backward) UserFunctions, or (loss, None) for a loss layer.

    The pair ``NAME`` names (``layer_names``: ``NAME_forward``/``NAME_backward``, or
    CS231n's ``X_forward_Y``/``X_backward_Y``; a label that is itself a forward or
    backward pass stands for its pair) when the file defines it, else ``NAME`` itself as
    a loss layer ``NAME(...) -> (loss, dx)``; ``forward``/``backward`` (``F`` or
    ``FILE.py:F``) override either name, and with both no ``NAME`` is needed (``target``
    None, or ``FILE.py`` alone).  Loaded with ``usercode.load_seeded`` (``isolate``: in a
    child process).
    """
    from ..usercode import load_seeded
    from ..layer_names import find_pair, pair_candidates, partner

    source, base = _split_target(target, forward, backward)
    qualify = lambda s: s if ":" in s else f"{source}:{s.strip()}"  # noqa: E731
    if forward is not None and backward is not None:
        return tuple(load_seeded([(qualify(forward), "forward function"), (qualify(backward), "backward function")], seed, isolate=isolate))
    names, complete = _names_in(source)
    if forward is not None or backward is not None:
        given = (forward or backward).rpartition(":")[2].strip()
        other = partner(names, given) if names else None
        if other is None:
            missing = "--backward" if backward is None else "--forward"
            raise OptionError(f"{missing} is needed too: no partner of '{given}' found in '{source}'")
        fwd, bwd = (given, other) if forward is not None else (other, given)
        return tuple(load_seeded([(qualify(fwd), "forward function"), (qualify(bwd), "backward function")], seed, isolate=isolate))
    pair = find_pair(names, base)
    if pair is None and not complete:  # names the file's text does not show (a star import): try them
        for f, b in pair_candidates(base):
            try:
                return tuple(load_seeded([(f"{source}:{f}", "forward function"), (f"{source}:{b}", "backward function")], seed, isolate=isolate))
            except LoadError:
                continue
    if pair is not None:
        return tuple(load_seeded([(f"{source}:{pair[0]}", "forward function"), (f"{source}:{pair[1]}", "backward function")], seed, isolate=isolate))
    try:
        (loss,) = load_seeded([(f"{source}:{base}", "loss function")], seed, isolate=isolate)
    except LoadError as exc:
        if f"no loss function '{base}'" not in str(exc):
            raise
        raise LoadError(f"{exc} (a layer is NAME_forward and NAME_backward, X_forward_Y and X_backward_Y, "
                        f"or a loss function NAME(...) -> (loss, dx))") from None
    return loss, None


def _split_target(target: str | None, forward: str | None, backward: str | None) -> tuple[str, str | None]:
    """``FILE.py:NAME`` -> (FILE.py, NAME); ``FILE.py`` or nothing with --forward/--backward."""
    both = forward is not None and backward is not None
    if target is None or ":" not in target:
        given = [s for s in (forward, backward) if s is not None and ":" in s]
        source = target.strip() if target else (given[0].rpartition(":")[0] if given else "")
        if not source or (forward is None and backward is None):
            if target is not None:
                raise LoadError(f"cannot load '{target}': expected FILE.py:NAME or module:NAME")
            raise OptionError("name the layer: FILE.py:NAME, or --forward FILE.py:F --backward FILE.py:B")
        return source, None if both else (forward or backward).rpartition(":")[2]
    source, _, base = target.rpartition(":")
    if not source.strip() or not base.strip():
        raise LoadError(f"cannot load '{target}': expected FILE.py:NAME or module:NAME")
    return source, base.strip()


def _names_in(source: str) -> tuple[set[str], bool]:
    """The names FILE.py defines, from its text (``layer_names.defined_names``); for a
    module (or an unreadable file): none known, incomplete (the candidates are tried)."""
    import os

    from ..layer_names import defined_names

    if not source.endswith(".py") or not os.path.isfile(source):
        return set(), False
    try:
        with open(source, encoding="utf-8") as fh:
            return defined_names(fh.read())
    except (OSError, UnicodeDecodeError):
        return set(), False


def check_layer_command(
    target: str | None,
    *,
    inputs: Sequence[str] = (),
    params: Sequence[str] = (),
    wrt: str | None = None,
    forward: str | None = None,
    backward: str | None = None,
    seed: int = 0,
    mode: str | Mode | None = None,
    thresholds: Thresholds = Thresholds(),
    top: int = 5,
    progress=None,
    max_seconds: float | None = None,
    torch: bool = False,
    isolate: bool = False,
) -> Report:
    """``gradcheck layer FILE.py:NAME --input x=4,5 ... --param 'p={...}'``: load and check.

    Inputs and params as in ``layer_inputs``; the user's module is loaded and every call
    made with ``random`` and ``numpy.random`` seeded by ``seed`` (``usercode.load_seeded``).
    ``torch``: ``NAME`` is a ``torch.autograd.Function`` subclass (``torch_layer``), checked
    in float64, with torch's own ``gradcheck`` verdict in the report.
    """
    deadline = deadline_after(validate_max_seconds(max_seconds))
    validate_seed(seed)
    mode = validate_mode(mode)
    validate_top(top)
    items = make_inputs(inputs, seed, wrt)
    kwargs = make_params(params)
    if torch:
        if isolate:
            raise OptionError("--torch and --isolate cannot be combined (tensors stay in this process)")
        return _check_torch(target, items, kwargs, seed, mode, thresholds, top, progress, deadline)
    fu, bu = load_layer(target, forward, backward, seed, isolate)
    layer = _Layer(fu, bu, items, kwargs, fu.name, None if bu is None else bu.name, by_name=True)
    return _run(layer, seed, mode, thresholds, top, progress, deadline)


def _check_torch(target, items, kwargs, seed, mode, thresholds, top, progress, deadline=None) -> Report:
    """``--torch``: the Function's forward and autograd's backward as a layer, then torch's
    own ``gradcheck`` on the same inputs."""
    from ..torch_layer import as_layer, require_torch, torch_verdict
    from ..usercode import load_seeded

    require_torch()
    if target is None or ":" not in target:
        raise OptionError("--torch needs FILE.py:NAME, NAME a torch.autograd.Function subclass")
    fu, bu = load_seeded([(target, "torch.autograd.Function"), (target, "torch.autograd.Function")], seed)
    cls = fu.fn
    fu.fn, bu.fn = as_layer(cls, target)
    fu.name, bu.name = f"{target}.forward", f"{target}.backward"
    layer = _Layer(fu, bu, items, kwargs, fu.name, bu.name)
    report = _run(layer, seed, mode, thresholds, top, progress, deadline)
    verdict = torch_verdict(cls, layer.inputs, layer.layout, copy.deepcopy(layer.params))
    return replace(report, subject=replace(report.subject, torch_gradcheck=verdict))
