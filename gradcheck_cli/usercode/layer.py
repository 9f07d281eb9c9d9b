"""Users' layer code: loading, binding and calling a hand-written forward/backward pair
(or a loss layer) for ``gradcheck layer`` and ``check_layer`` (``checks.layer``).

``load_layer`` finds and loads the pair (``layer_names``); ``bind_by_name`` binds inputs
and params to the function's parameters by name; ``Layer`` calls them.

Before every call the states of ``random`` and ``numpy.random`` are restored (a forward
pass that draws a dropout mask from ``np.random`` sees the same mask at every probe),
params are deep-copied afresh (batchnorm may update its running mean), and array
arguments must come back unchanged (``usercode.UserFunction``).  The cache is checked
too, with backward's use of random numbers, in two calls (``cache_and_draws``): backward is
run a second time on the first cache, under another random state, after another forward
pass; a different result means it draws random numbers (an error) or that the cache is
shared with later calls or changed by backward (a hint), told apart by a few more calls.
Backward may not change the inputs its cache holds.  A cache that holds ``out`` itself
cannot be told from a correct one by running the code (forward mutated it before
returning; sigmoid caches ``out`` rightly): when a failure no other pattern explains
comes with a cache that shares memory with ``out``, the hint says so (``diagnosis``).
"""

from __future__ import annotations

import copy
import functools
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import LoadError, NonFiniteCostError, OptionError, UserCodeError
from . import protocols


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


def bind_by_name(fn, inputs: list, params: Mapping[str, Any], strict: bool = False):
    """Inputs (``inputs.LayerInput``: name, value, source) and params bound to ``fn``'s parameters by name.

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


#: values a params tree may hold as they are (immutable)
_ATOMS = (str, int, float, bool, type(None), bytes)


def _plain_tree(value: Any, seen: set | None = None) -> bool:
    """Whether ``value`` is dicts and lists (each held once) of immutable atoms or tuples
    of them: then ``_copy_tree`` copies it as ``copy.deepcopy`` does, several times faster
    (the ``{"bn_param": {"mode": "train"}}`` of a layer: 13 us a call otherwise)."""
    seen = set() if seen is None else seen
    kind = type(value)
    if kind is dict or kind is list:
        if id(value) in seen:
            return False  # shared: deepcopy keeps the sharing
        seen.add(id(value))
        items = value.values() if kind is dict else value
        return all(_plain_tree(v, seen) for v in items) and (kind is list or all(type(k) in _ATOMS for k in value))
    if kind is tuple:
        return all(type(v) in _ATOMS for v in value)
    return kind in _ATOMS


def _copy_tree(value: Any) -> Any:
    """A copy of a ``_plain_tree`` value: new dicts and lists, the same atoms."""
    kind = type(value)
    if kind is dict:
        return {k: _copy_tree(v) for k, v in value.items()}
    if kind is list:
        return [_copy_tree(v) for v in value]
    return value


class Layer:
    """The user's forward/backward (or loss) functions bound to inputs and params.

    ``call_forward(arrays)`` returns ``(outs, cache)`` with outs validated float arrays;
    ``objective(arrays)`` returns ``(L, sum |out * dout|)``.
    """

    def __init__(self, forward, backward, inputs: list, params: Mapping[str, Any],
                 forward_name: str, backward_name: str | None, by_name: bool = False) -> None:
        from .function import UserFunction

        self.params = dict(params)
        self._plain = _plain_tree(self.params)  # copied per call without deepcopy's bookkeeping
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
    def call(self, arrays: Sequence[np.ndarray]) -> Any:
        # a fresh deep copy of the params for every call; functools.partial adds no frame
        # to the user's traceback and keeps the positional names for mutation messages
        fresh = _copy_tree(self.params) if self._plain else copy.deepcopy(self.params)
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
        outs, cache = protocols.layer_forward(self.call(arrays), self.forward.name, self.is_loss)
        if not self.is_loss and self.out_shapes and tuple(o.shape for o in outs) != self.out_shapes:
            got = ", ".join(protocols.shape_text(o.shape) for o in outs)
            raise UserCodeError(f"{self.forward.name} returned out of shape {got} at a perturbed input, but "
                                f"{', '.join(protocols.shape_text(s) for s in self.out_shapes)} at the first call")
        return outs, cache

    def objective(self, arrays: Sequence[np.ndarray]) -> tuple[float, float]:
        """``L = sum_k sum(out_k * dout_k)`` (the loss for a loss layer) and ``sum |out_k * dout_k|``."""
        return self.objective_of(self.call_forward(arrays)[0])

    def value(self, arrays: Sequence[np.ndarray]) -> float:
        """``objective(arrays)[0]`` alone (the cost the checks difference: no ``sum |out *
        dout|`` per call), summed as ``objective_of`` sums it."""
        outs = self.call_forward(arrays)[0]
        if self.is_loss:
            return float(outs[0])
        total = 0.0
        with np.errstate(all="ignore"):
            for o, d in zip(outs, self.douts):
                total += float(np.sum(np.asarray(o, dtype=np.float64) * d))
        return total

    def objective_of(self, outs: Sequence[np.ndarray]) -> tuple[float, float]:
        """``objective`` of the outputs ``outs`` of a forward call already made."""
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


def cache_aliases(cache: Any, outs: tuple[np.ndarray, ...]) -> list[str]:
    """Paths in the cache (``cache[0]``) of arrays that share memory with an output."""
    return [p for p, arr in _leaves(cache) if any(np.may_share_memory(arr, o) for o in outs)]


def require_finite(layer: Layer, outs: Sequence[np.ndarray], f0: float, seed: int) -> None:
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


def _same(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> bool:
    return all(np.array_equal(g1, g2, equal_nan=True) for g1, g2 in zip(a, b))


def _reseed(seed: int, k: int) -> int:
    return int(seed) * 7919 + 104729 * k


def cache_and_draws(layer: Layer, arrays: list[np.ndarray], cache: Any, grads: list[np.ndarray], seed: int,
                    moved: bool = False) -> bool:
    """Whether backward on the first cache gives another answer after a second forward pass
    (the cache changed: a buffer the next call overwrites, or backward updating its cache);
    ``UserCodeError`` (exit 2) when backward draws random numbers (a dropout mask drawn anew
    is forward's own mask only because the checker resets the state before every call).

    Two calls when neither happens: a second forward pass with the float inputs scaled
    entrywise by ``1 + U(-0.01, 0.01)`` (signs and domains kept), then backward on the first
    cache under a random state other than forward's.  The same gradients as the first
    call mean backward neither draws nor reads what the second pass changed (a mask drawn
    under the other state that equals forward's by chance has probability 2^-n for n
    dropout entries at p = 1/2: negligible).  Only a different result costs more calls, to
    tell which it is: backward again under forward's state on the same cache (the same as
    the first result: it draws); otherwise the cache changed, and backward on a fresh cache
    (forward at the inputs) is still tried for drawing when it repeats under forward's
    state, under two other states (``_draws``).  A second pass that raises skips the cache
    test (the inputs are not the user's).

    ``moved``: the caller has just made a forward pass at other inputs (the search's first
    call, ``checks.layer``): it is the second pass, and no jittered one is made (one call).
    """
    jittered = True
    if not moved:
        rng = np.random.default_rng((seed, 3))
        other = [a * (1 + rng.uniform(-0.01, 0.01, a.shape)) if i.differentiated else a.copy()
                 for a, i in zip(arrays, layer.inputs)]
        try:
            layer.call_forward(other)
        except UserCodeError:
            jittered = False
    with layer.backward.reseeded(_reseed(seed, 1)):
        again = layer.gradients(layer.call_backward(cache), layer.backward.name)
    if _same(grads, again):
        return False
    if _same(grads, layer.gradients(layer.call_backward(cache), layer.backward.name)):
        _draws_error(layer)  # the same cache gives the first result under forward's state
    # the cache changed (or backward is not repeatable on it): a fresh cache for the draw test
    try:
        _, fresh = layer.call_forward(arrays)
    except UserCodeError:
        return jittered
    first = layer.gradients(layer.call_backward(fresh, arrays), layer.backward.name)
    if _same(first, layer.gradients(layer.call_backward(fresh, arrays), layer.backward.name)):
        _draws(layer, fresh, first, seed)
    return jittered


def _draws(layer: Layer, cache: Any, grads: list[np.ndarray], seed: int) -> None:
    """Backward on ``cache`` under two random states other than forward's: a result that
    changes draws random numbers (``_draws_error``)."""
    for k in (1, 2):
        with layer.backward.reseeded(_reseed(seed, k)):
            again = layer.gradients(layer.call_backward(cache), layer.backward.name)
        if not _same(grads, again):
            _draws_error(layer)


def _draws_error(layer: Layer) -> None:
    raise UserCodeError(f"{layer.backward.name} draws random numbers: use the mask saved in the cache "
                        "(its result changed with the random state)")


def changed_paths(before: Any, after: Any, path: str = "") -> list[str]:
    """Dotted paths of the param entries a forward call added, removed or changed."""
    if isinstance(before, dict) and isinstance(after, dict):
        found = []
        for key in list(before) + [k for k in after if k not in before]:
            label = f"{path}.{key}" if path else str(key)
            if key not in before or key not in after:
                found.append(label)
            else:
                found += changed_paths(before[key], after[key], label)
        return found
    try:
        same = type(before) is type(after) and bool(np.array_equal(np.asarray(before, dtype=object),
                                                                   np.asarray(after, dtype=object)))
    except Exception:
        same = before is after
    return [] if same else [path or "params"]


def jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


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
    from . import load_seeded
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
