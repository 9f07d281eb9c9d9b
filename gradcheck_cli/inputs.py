"""Inputs of the black-box checks: x for ``func`` (and ``sweep --func``) from a shape or a
file, the entries to sample, and the seed; the inputs and params of ``layer``; validated
once here for the CLI and the API.

x is float64, finite, real and non-empty; ``--shape 3,4`` draws it from N(0, 1) with the
seed, ``--x FILE.npy`` reads it (``allow_pickle=False``), ``--x "1,2,3"`` takes it as given.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from .errors import OptionError
from .results import XSource

#: shape of x for ``gradcheck func`` when neither ``--shape`` nor ``--x`` is given
DEFAULT_FUNC_SHAPE = (3, 4)
#: the largest x accepted by ``func`` (a full check costs 4 calls per entry)
MAX_FUNC_ENTRIES = 10_000_000


def validate_seed(seed: int) -> int:
    """``--seed``: a whole number >= 0."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise OptionError(f"--seed must be a whole number >= 0, got {seed!r}")
    return int(seed)


#: the most Hessian-vector products ``--hvp`` checks (each costs a few gradient calls)
MAX_HVP = 1000


def validate_hvp(hvp: int) -> int:
    """``--hvp K``: a whole number, 0 <= K <= MAX_HVP."""
    if isinstance(hvp, bool) or not isinstance(hvp, (int, np.integer)) or not 0 <= hvp <= MAX_HVP:
        raise OptionError(f"--hvp must be between 0 and {MAX_HVP}, got {hvp!r}")
    return int(hvp)


def validate_top(top: int) -> int:
    """``--top K``: a whole number >= 0."""
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 0:
        raise OptionError(f"--top must be at least 0, got {top!r}")
    return int(top)


def parse_shape(text: str) -> tuple[int, ...]:
    """``--shape``: ``"3,4"`` or ``"3x4"`` -> ``(3, 4)``; ``"5"`` -> ``(5,)``; ``"scalar"`` or ``"()"`` -> ``()``."""
    from .points import parse_sizes

    if text.strip().strip("()[]").strip().lower() in ("", "scalar"):
        return ()
    dims = parse_sizes(text, "--shape", "3,4", times=True)
    size = int(np.prod(dims, dtype=float))
    if size > MAX_FUNC_ENTRIES:
        raise OptionError(f"--shape {text}: {size} entries is more than the {MAX_FUNC_ENTRIES} gradcheck func accepts")
    return tuple(dims)


def parse_x(text: str) -> tuple[np.ndarray, XSource]:
    """``--x``: a ``.npy`` file, or numbers separated by commas.

    ``"1.0,2.0,3.0"`` gives a 1-D x, a single number ``"2.5"`` a scalar (0-d) x.
    Returns the array (float64) and where it came from.
    """
    import os

    spec = text.strip()
    if spec.endswith((".npy", ".npz")) or os.path.isfile(spec):
        array = load_npy(spec, "--x")
        return array.astype(np.float64), XSource("file", path=spec)
    parts = [p.strip() for p in spec.strip("[]").split(",")]
    if parts and parts[-1] == "" and len(parts) > 1:  # trailing comma
        parts = parts[:-1]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise OptionError(
            f"--x must be a .npy file or numbers separated by commas, e.g. \"1.0,2.0,3.0\"; got {text!r}"
        ) from None
    array = np.array(values[0]) if len(values) == 1 and "," not in spec else np.array(values)
    return array, XSource("given", values=tuple(float(v) for v in array.ravel()) if array.size <= 8 else None)


def parse_range(text: str) -> tuple[float, float]:
    """``--range LO,HI``: two finite numbers with LO < HI (``"0.5,2"`` -> ``(0.5, 2.0)``)."""
    parts = [p.strip() for p in text.strip().strip("()[]").split(",")]
    try:
        lo, hi = (float(p) for p in parts)
    except ValueError:
        raise OptionError(f"--range must be two numbers LO,HI, e.g. 0.5,2; got {text!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo >= hi:
        raise OptionError(f"--range LO,HI needs finite numbers with LO < HI, got {text!r}")
    if not np.isfinite(hi - lo):
        raise OptionError(f"--range LO,HI: the width HI - LO must be a finite float64 (below 1.8e308), got {text!r}")
    return lo, hi


def func_x(shape: str | None, x: str | None, seed: int, value_range: str | None = None) -> tuple[np.ndarray, XSource]:
    """x for ``func`` and ``sweep --func``: ``--x`` as given, else drawn with ``seed`` with
    the shape ``--shape`` (default ``DEFAULT_FUNC_SHAPE``): N(0, 1), or U(LO, HI) with
    ``--range LO,HI`` (for a function defined only on an interval, such as log on x > 0);
    and where it came from."""
    validate_seed(seed)
    if shape is not None and x is not None:
        raise OptionError("give either --shape or --x, not both")
    if value_range is not None and x is not None:
        raise OptionError("give either --range or --x, not both")
    if x is not None:
        x0, label = parse_x(x)
    else:
        dims = DEFAULT_FUNC_SHAPE if shape is None else parse_shape(shape)
        rng = np.random.default_rng(seed)
        if value_range is None:
            x0, label = rng.standard_normal(dims), XSource("normal", seed=seed)
        else:
            lo, hi = parse_range(value_range)
            x0, label = rng.uniform(lo, hi, dims), XSource("uniform", seed=seed, low=lo, high=hi)
    return validate_x(x0), label


def validate_x(x) -> np.ndarray:
    """x as a fresh float64 array; OptionError when it is empty, complex or not finite."""
    try:
        array = np.asarray(x)
    except Exception as exc:
        raise OptionError(f"x cannot be made into an array: {exc}") from None
    if array.dtype.kind == "c":
        raise OptionError("x must be real, got a complex array")
    if array.dtype.kind not in "biuf":
        raise OptionError(f"x must be an array of real numbers, got dtype {array.dtype}")
    if array.size == 0:
        raise OptionError(f"x is empty (shape {array.shape}): nothing to check")
    if array.size > MAX_FUNC_ENTRIES:
        raise OptionError(f"x has {array.size} entries, more than the {MAX_FUNC_ENTRIES} that can be checked")
    array = np.array(array, dtype=np.float64, copy=True)
    bad = ~np.isfinite(array)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        label = f"x[{', '.join(map(str, where))}]" if where else "x"
        raise OptionError(f"x must be finite, but {label} is {array[where] if where else array.item()}")
    return array


def sample_indices(size: int, sample: int | None, seed: int) -> np.ndarray | None:
    """Flat indices of ``sample`` distinct random entries (sorted), or None for all."""
    if sample is None:
        return None
    if isinstance(sample, bool) or not isinstance(sample, (int, np.integer)) or sample < 1:
        raise OptionError(f"--sample must be at least 1, got {sample}")
    if sample >= size:
        return None
    return np.sort(np.random.default_rng(seed).choice(size, size=sample, replace=False))


# --------------------------------------------------------------------------- layer inputs
# Inputs and parameters of ``gradcheck layer``: ``--input NAME=SPEC`` and ``--param NAME=JSON``.
#
# ``--input NAME=SPEC`` declares one positional input of the forward pass, in command-line
# order.  SPEC is one of:
#
# ================================  ==========================================================
# ``4,2,3`` (or ``4x2x3``)          float64 ~ N(0, 1) of that shape; ``scalar`` for a 0-d input
# ``uniform:LO..HI:4,5``            float64 uniform on [LO, HI) (e.g. positive inputs)
# ``int:C:4``                       integers 0 .. C-1 (class labels, word indices), shape (4,)
# ``int:LO..HI:4,5``                integers LO .. HI-1, as Python's ``range(LO, HI)``
# ``bool:4,5``                      booleans, each True with probability 1/2 (masks)
# ``bool:P:4,5``                    booleans, each True with probability P
# ``FILE.npy``                      the array stored in FILE (its dtype decides, as below)
# ================================  ==========================================================
#
# Float inputs are differentiated; integer and boolean inputs (labels, indices, masks) are
# passed as they are and never differentiated; ``--wrt NAMES`` narrows the differentiated
# set further (a float input left out of it is data).  Random inputs are drawn from
# ``numpy.random.default_rng((seed, 0, k))`` for the k-th input, so adding an input does not
# change the others.
#
# ``--param NAME=VALUE`` gives a keyword argument of the forward pass as JSON
# (``conv_param={"stride": 1, "pad": 1}``, ``eps=1e-5``); a bare word that is not JSON is a
# string (``mode=train``).  Parameters are deep-copied afresh for every call, so a forward
# pass that updates them (batchnorm's running mean) sees the same values each time.

#: the largest input accepted (a full check costs 4 forward calls per entry)
MAX_INPUT_ENTRIES = 10_000_000


@dataclass(frozen=True)
class LayerInput:
    """One positional input of a layer: its value, whether it is differentiated, its origin."""

    name: str
    value: np.ndarray
    differentiated: bool
    source: str  # "N(0, 1)", "int 0..9", "x.npy" ... for the report

    @property
    def kind(self) -> str:
        return {"b": "bool", "i": "int", "u": "int"}.get(self.value.dtype.kind, "float")


def _split(text: str, option: str) -> tuple[str, str]:
    name, sep, body = text.partition("=")
    name, body = name.strip(), body.strip()
    if not sep or not name.isidentifier():
        raise OptionError(f"{option} must be NAME=VALUE with NAME a Python name, got {text!r}")
    if not body:
        raise OptionError(f"{option} {name}=: no value after '='")
    return name, body


def parse_shape_text(text: str, option: str = "--input") -> tuple[int, ...]:
    """``"4,2,3"`` / ``"4x2x3"`` -> ``(4, 2, 3)``; ``"scalar"`` or ``"()"`` -> ``()``."""
    raw = text.strip().strip("()[]").strip()
    if raw.lower() in ("", "scalar"):
        return ()
    dims = []
    for part in raw.replace("x", ",").split(","):
        part = part.strip()
        if not part and dims:
            continue
        try:
            n = int(part)
        except ValueError:
            raise OptionError(f"{option}: a shape is sizes separated by commas, e.g. 4,2,3; got {text!r}") from None
        if n < 1:
            raise OptionError(f"{option}: every size must be at least 1, got {text!r}")
        dims.append(n)
    if float(np.prod(dims, dtype=float)) > MAX_INPUT_ENTRIES:
        raise OptionError(f"{option}: shape {text} has more than {MAX_INPUT_ENTRIES} entries")
    return tuple(dims)


_INT64 = np.iinfo(np.int64)


def _range(text: str, option: str, integer: bool) -> tuple[float, float]:
    """``"LO..HI"`` (or ``"C"`` for integers, meaning 0..C) -> (LO, HI) with LO < HI."""
    lo, sep, hi = text.partition("..")
    try:
        if not sep and integer:
            low, high = 0, int(lo)
        elif integer:
            low, high = int(lo), int(hi)
        else:
            low, high = float(lo), float(hi)
    except ValueError:
        kind = "integers LO..HI (HI excluded) or a count C" if integer else "numbers LO..HI"
        raise OptionError(f"{option}: the range must be {kind}, got {text!r}") from None
    if integer and not (_INT64.min <= low and high - 1 <= _INT64.max):
        raise OptionError(f"{option}: the range {text!r} goes beyond 64-bit integers "
                          f"({_INT64.min}..{_INT64.max})")
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise OptionError(f"{option}: the range {text!r} is empty (it needs LO < HI)")
    if not integer and not np.isfinite(high - low):
        raise OptionError(f"{option}: the width HI - LO of {text!r} must be a finite float64 (below 1.8e308)")
    return low, high


def load_npy(path: str, option: str = "--input") -> np.ndarray:
    """An array of numbers or booleans from a ``.npy`` file (``usercode.load_npy``: no pickles,
    sizes checked against the file before anything is allocated)."""
    from .usercode import load_npy as load

    return load(path, option)


def parse_input(text: str, rng: np.random.Generator) -> tuple[str, np.ndarray, str]:
    """One ``--input NAME=SPEC`` -> (name, array, source); see the module docstring."""
    name, body = _split(text, "--input")
    option = f"--input {name}"
    head, sep, rest = body.partition(":")
    kind = head.strip().lower() if sep else ""
    if body.endswith((".npy", ".npz")) or (not sep and os.path.isfile(body)):
        return name, load_npy(body, option), os.path.basename(body)
    # int, bool and uniform all end in :SHAPE
    spec, _, shape_text = rest.rpartition(":")
    if kind == "int":
        if not spec:
            raise OptionError(f"{option}: write int:C:SHAPE or int:LO..HI:SHAPE, e.g. int:10:4; got {body!r}")
        low, high = _range(spec, option, integer=True)
        shape = parse_shape_text(shape_text, option)
        return name, rng.integers(low, high, size=shape), f"int in [{low}, {high})"
    if kind == "bool":
        p = 0.5
        if spec:
            try:
                p = float(spec)
            except ValueError:
                raise OptionError(f"{option}: write bool:SHAPE or bool:P:SHAPE with 0 <= P <= 1; got {body!r}") from None
            if not 0 <= p <= 1:
                raise OptionError(f"{option}: the probability P of bool:P:SHAPE must lie in [0, 1], got {p:g}")
        shape = parse_shape_text(shape_text, option)
        return name, rng.random(size=shape) < p, "bool" if p == 0.5 else f"bool, P(True) = {p:g}"
    if kind == "uniform":
        if not spec:
            raise OptionError(f"{option}: write uniform:LO..HI:SHAPE, e.g. uniform:0.1..2:4,5; got {body!r}")
        low, high = _range(spec, option, integer=False)
        shape = parse_shape_text(shape_text, option)
        return name, rng.uniform(low, high, size=shape), f"U({low:g}, {high:g})"
    if sep:
        raise OptionError(
            f"{option}: unknown kind '{head.strip()}' (use a shape such as 4,5, int:C:SHAPE, "
            f"int:LO..HI:SHAPE, bool:SHAPE, uniform:LO..HI:SHAPE or FILE.npy)"
        )
    return name, rng.standard_normal(parse_shape_text(body, option)), "N(0, 1)"


def parse_param(text: str) -> tuple[str, Any]:
    """One ``--param NAME=JSON`` -> (name, value); a bare word that is not JSON is a string."""
    name, body = _split(text, "--param")
    try:
        value = json.loads(body)
    except json.JSONDecodeError as exc:
        if body.replace("_", "").replace("-", "").isalnum() and not body[0].isdigit():
            return name, body
        raise OptionError(f"--param {name}: not valid JSON ({exc.msg} at column {exc.colno}): {body}") from None
    except RecursionError:
        value = None
    if value is None and body.strip() != "null" or _json_depth(value) > MAX_PARAM_DEPTH:
        raise OptionError(f"--param {name}: JSON nested more than {MAX_PARAM_DEPTH} levels deep")
    return name, value


#: deepest nesting of a ``--param`` JSON value (it is deep-copied for every call)
MAX_PARAM_DEPTH = 100


def _json_depth(value: Any) -> int:
    """Nesting depth of a JSON value (a number: 0, ``[1]``: 1), without recursion."""
    depth, level = 0, [(value, 0)]
    while level:
        item, d = level.pop()
        depth = max(depth, d)
        if d > MAX_PARAM_DEPTH:
            break
        if isinstance(item, dict):
            level.extend((v, d + 1) for v in item.values())
        elif isinstance(item, list):
            level.extend((v, d + 1) for v in item)
    return depth


def make_inputs(
    specs: Sequence[str], seed: int = 0, wrt: Sequence[str] | None = None
) -> list[LayerInput]:
    """``--input`` texts (and ``--wrt``) -> validated LayerInputs, drawn with ``seed``."""
    if not specs:
        raise OptionError("declare the layer's inputs with --input NAME=SHAPE, e.g. --input x=4,5 --input w=5,3")
    named = {}
    for k, text in enumerate(specs):
        name, value, source = parse_input(text, np.random.default_rng((seed, 0, k)))
        if name in named:
            raise OptionError(f"--input: '{name}' is declared twice")
        named[name] = (value, source)
    return validate_inputs({n: v for n, (v, _) in named.items()}, wrt,
                           sources={n: s for n, (_, s) in named.items()})


def validate_inputs(
    inputs: Mapping[str, Any], wrt: Sequence[str] | str | None = None, sources: Mapping[str, str] | None = None
) -> list[LayerInput]:
    """Arrays of the Python API or the CLI -> LayerInputs (float64 copies for floats).

    Floats are differentiated unless ``wrt`` (names, or ``"x,w"``) leaves them out;
    integers and booleans never are.  OptionError for an empty, complex, non-finite or
    non-numeric input, an unknown or non-float ``wrt`` name, or nothing to differentiate.
    """
    if isinstance(wrt, str):
        wrt = [w.strip() for w in wrt.split(",") if w.strip()]
    if not isinstance(inputs, Mapping) or not inputs:
        raise OptionError("inputs must be a non-empty mapping of names to arrays, e.g. {'x': x, 'w': w}")
    out = []
    for name, raw in inputs.items():
        try:
            array = np.asarray(raw)
        except Exception as exc:
            raise OptionError(f"input {name} cannot be made into an array: {exc}") from None
        if array.dtype.kind == "c":
            raise OptionError(f"input {name} is complex; layers are checked on real inputs")
        if array.dtype.kind not in "biuf":
            raise OptionError(f"input {name} must hold numbers or booleans, got dtype {array.dtype}")
        if array.size == 0:
            raise OptionError(f"input {name} is empty (shape {array.shape})")
        if array.size > MAX_INPUT_ENTRIES:
            raise OptionError(f"input {name} has {array.size} entries, more than the {MAX_INPUT_ENTRIES} accepted")
        floating = array.dtype.kind == "f"
        array = np.array(array, dtype=np.float64 if floating else array.dtype, copy=True)
        if floating and not np.all(np.isfinite(array)):
            where = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
            raise OptionError(f"input {name} must be finite, but {name}{list(where)} is {array[where]}")
        source = (sources or {}).get(name, "given")
        out.append(LayerInput(name, array, floating and (wrt is None or name in wrt), source))
    names = [i.name for i in out]
    for w in wrt or ():
        if w not in names:
            raise OptionError(f"--wrt: '{w}' is not an input (the inputs: {', '.join(names)})")
        item = out[names.index(w)]
        if not item.value.dtype.kind == "f":
            raise OptionError(f"--wrt: '{w}' holds {item.kind}s, which are not differentiated")
    if not any(i.differentiated for i in out):
        raise OptionError("no input to differentiate: every input is an integer or boolean array "
                          "(or left out of --wrt); declare a float input such as --input x=4,5")
    return out


def make_params(specs: Sequence[str]) -> dict[str, Any]:
    """``--param`` texts -> {name: value} (each name once)."""
    params: dict[str, Any] = {}
    for text in specs:
        name, value = parse_param(text)
        if name in params:
            raise OptionError(f"--param: '{name}' is given twice")
        params[name] = value
    return params
