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

Kinks (one-sided test) and the noise of L: ``layer_numerics``.

Modes.  ``full`` checks every entry as above.  ``adaptive`` (``fast`` is the same; the
default past ``AUTO_FAST_ENTRIES`` differentiated entries, e.g. a conv) is
``blackbox.search``'s adaptive group testing over the differentiated inputs laid end to end,
one block each: random-sign sets of entries, split only where they disagree, every entry
getting a verdict directly or by exclusion (the guarantees are in ``blackbox.search``); the
entries it checks directly that do not pass then get the four-call difference above and
its kink test; when a block looked wrong everywhere but its samples are all kinks (relu
zeros, pooling ties), its other entries are checked directly too.

The calls themselves (params deep-copied afresh, random states restored, the cache
checked): ``usercode.layer``.
"""

from __future__ import annotations

import copy
import time
from dataclasses import replace
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..choices import Method, Mode
from ..diagnosis import diagnose_layer
from ..errors import OptionError
from ..blackbox.params import FlatParams
from ..blackbox.pipeline import check_blackbox, deadline_after, validate_max_seconds
from ..blackbox.pipeline import validate_mode as pipeline_mode
from ..blocks import BlockData
from ..finite_diff import value_eps
from ..inputs import LayerInput, make_inputs, make_params, validate_inputs, validate_seed, validate_top
from ..layer_numerics import LazyNoise, evidence, four_point, objective_in, status_array
from ..results import LayerArg, LayerSubject, Report
from ..usercode.layer import (Layer, cache_aliases, cache_and_draws, changed_paths, jsonable, load_layer,
                              require_finite)
from ..verdict import Thresholds
from .common import callable_name, lazy_lifted_cost

#: ``mode=None`` is adaptive when the differentiated inputs have more entries than this
AUTO_FAST_ENTRIES = 256


def validate_mode(mode) -> Mode | None:
    """``mode``: None (adaptive past ``AUTO_FAST_ENTRIES`` differentiated entries, else
    full) or a ``Mode`` / its value (``full``, ``adaptive``, ``fast``: the same as adaptive)."""
    return None if mode is None else pipeline_mode(mode)


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
    call.  See the module docstring for what is compared (``layer_numerics``: the kink test) and
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
    layer = Layer(forward, backward, items, params or {}, fname, bname)
    return _run(layer, seed, mode, thresholds, top, progress, deadline)


def _run(layer: Layer, seed: int, mode: Mode | None, thresholds: Thresholds, top: int, progress,
         deadline: float | None = None) -> Report:
    """The check, inside one session of each user function (their random states set per
    call, the caller's saved once: ``UserFunction.session``)."""
    import contextlib

    with contextlib.ExitStack() as stack:
        stack.enter_context(layer.forward.session())
        if layer.backward is not None:
            stack.enter_context(layer.backward.session())
        return _check(layer, seed, mode, thresholds, top, progress, deadline)


def _as_float32(cost):
    """``cost`` with its values rounded to float32 (a float32 layer's L)."""
    def rounded(z: np.ndarray) -> float:
        with np.errstate(over="ignore"):
            return float(np.float32(cost(z)))
    return rounded


def _check(layer: Layer, seed: int, mode: Mode | None, thresholds: Thresholds, top: int, progress,
           deadline: float | None = None) -> Report:
    arrays = [i.value.copy() for i in layer.inputs]
    diff_idx = [k for k, i in enumerate(layer.inputs) if i.differentiated]
    outs, cache = layer.call_forward(arrays)
    updated = changed_paths(layer.params, layer.last_params)
    if not layer.is_loss:
        layer.out_shapes = tuple(o.shape for o in outs)
    layer.douts = () if layer.is_loss else tuple(
        np.random.default_rng((seed, 1, k)).standard_normal(o.shape) for k, o in enumerate(outs))
    # L at the inputs, from this first call's outputs (before another call can overwrite a
    # buffer they share): no second forward pass for it
    f0, scale0 = layer.objective_of(outs)
    total_entries = sum(layer.inputs[k].value.size for k in diff_idx)
    if mode is None:
        mode = Mode.ADAPTIVE if total_entries > AUTO_FAST_ENTRIES else Mode.FULL
    mode = Mode.ADAPTIVE if mode is Mode.FAST else mode
    changed = False
    # backward's random-state and cache tests (``cache_and_draws``): a backward under another
    # random state after a second forward pass.  The adaptive search's first call (its noise
    # probe, beside x) is that second pass: the tests run right after it (``cost``), one
    # backward; the full mode's direct estimates do not go through ``cost``: a jittered
    # forward pass of their own first (2 calls)
    cache_test = not layer.is_loss and mode is Mode.ADAPTIVE
    if layer.is_loss:
        grads = layer.gradients(cache, layer.forward.name)
    else:
        grads = layer.gradients(layer.call_backward(cache, arrays), layer.backward.name)
        if not cache_test:
            changed = cache_and_draws(layer, arrays, cache, grads, seed)
    require_finite(layer, outs, f0, seed)
    # each input's noise is measured when its direct estimate first needs it (10 calls an
    # input): a correct layer that the search clears in adaptive mode never pays for it
    sigma_of = LazyNoise(layer, arrays, diff_idx, seed)
    t0 = time.perf_counter()
    flat = FlatParams([layer.inputs[k].name for k in diff_idx], [arrays[k] for k in diff_idx])

    def cost(z: np.ndarray) -> float:
        """L with the differentiated inputs set to ``z`` (restored after every call); after
        the first call at other inputs than the first, backward's tests (see above)."""
        nonlocal changed, cache_test
        try:
            flat.assign(z)
            value = layer.value(arrays)
        finally:
            flat.restore()
        if cache_test and not np.array_equal(z, flat.x0):
            cache_test = False
            changed = cache_and_draws(layer, arrays, cache, grads, seed, moved=True)
        return value

    g = np.concatenate([gr.ravel() for gr in grads])
    raw_out = [np.asarray(o) for o in outs]
    single = any(o.dtype == np.float32 for o in raw_out) or layer.float32
    if single:
        thresholds = thresholds.for_precision(float(np.finfo(np.float32).eps))
    # probed (one eager forward pass in np.longdouble) only when a lifted estimate is wanted
    lifted = None if single else lazy_lifted_cost(objective_in(layer, arrays, diff_idx, np.longdouble), flat.x0, f0)
    if single and not layer.is_loss:
        # float32 outputs: L = sum(out * dout) is summed in float64 but carries float32's
        # round-off; its values are handed on as float32 numbers, so the black box takes
        # float32's steps and round-off (a float64 step of 1e-4 moves float32 outputs by a
        # few of their ulps: noise, no evidence); extended precision cannot help code that
        # casts to float32
        cost = _as_float32(cost)
        f0 = float(np.float32(f0))
    bb = check_blackbox(cost, flat.x0.copy(), g, flat.regions, mode=mode, thresholds=thresholds, top=top, seed=seed,
                        f0=f0, direct=four_point(layer, arrays, diff_idx, f0, scale0, sigma_of, value_eps(*outs)),
                        lifted=lifted, progress=progress, deadline=deadline)
    if cache_test:  # the search made no forward pass at other inputs (stopped before it)
        changed = cache_and_draws(layer, arrays, cache, grads, seed)
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
    status = {b.name: status_array(verdict.statuses[b.name], b) for b in data}
    diff = [i for i in layer.inputs if i.differentiated]
    hints = diagnose_layer(
        evidence(data, status, full),
        who=layer.forward.name if layer.is_loss else layer.backward.name,
        grads=tuple(i.name for i in diff),
        douts=layer.douts,
        data_inputs={i.name: i.value for i in layer.inputs if i.kind == "int"},
        params=layer.params,
        batch=diff[0].value.shape[0] if diff[0].value.ndim >= 1 else None,
        cache_aliases=() if layer.is_loss else tuple(cache_aliases(cache, outs)),
        cache_changed=changed,
    )
    subject = LayerSubject(
        forward=layer.forward.name,
        backward=None if layer.backward is None else layer.backward.name,
        inputs=tuple(LayerArg(i.name, tuple(i.value.shape), i.kind, i.differentiated, i.source) for i in layer.inputs),
        params=jsonable(layer.params),
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


# --------------------------------------------------------------------------- the command


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
    layer = Layer(fu, bu, items, kwargs, fu.name, None if bu is None else bu.name, by_name=True)
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
    layer = Layer(fu, bu, items, kwargs, fu.name, bu.name)
    report = _run(layer, seed, mode, thresholds, top, progress, deadline)
    verdict = torch_verdict(cls, layer.inputs, layer.layout, copy.deepcopy(layer.params))
    return replace(report, subject=replace(report.subject, torch_gradcheck=verdict))
