"""Inputs of the black-box checks: x for ``func`` (and ``sweep --func``) from a shape or a
file, the entries to sample, and the seed; validated once here for the CLI and the API.

x is float64, finite, real and non-empty; ``--shape 3,4`` draws it from N(0, 1) with the
seed, ``--x FILE.npy`` reads it (``allow_pickle=False``), ``--x "1,2,3"`` takes it as given.
"""

from __future__ import annotations

import numpy as np

from .errors import LoadError, OptionError
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


def validate_top(top: int) -> int:
    """``--top K``: a whole number >= 0."""
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 0:
        raise OptionError(f"--top must be at least 0, got {top!r}")
    return int(top)


def parse_shape(text: str) -> tuple[int, ...]:
    """``--shape``: ``"3,4"`` -> ``(3, 4)``; ``"5"`` -> ``(5,)``; ``"scalar"`` or ``"()"`` -> ``()``."""
    raw = text.strip().strip("()[]").strip()
    if raw.lower() in ("", "scalar"):
        return ()
    dims = []
    for part in raw.replace("x", ",").split(","):
        part = part.strip()
        if not part and len(dims) >= 1:  # trailing comma: "3,"
            continue
        try:
            n = int(part)
        except ValueError:
            raise OptionError(f"--shape must be sizes separated by commas, e.g. 3,4; got {text!r}") from None
        if n < 1:
            raise OptionError(f"--shape: every size must be at least 1, got {text!r}")
        dims.append(n)
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
    if spec.endswith(".npy") or os.path.isfile(spec):
        if not os.path.isfile(spec):
            raise LoadError(f"--x: no file '{spec}'")
        try:
            array = np.load(spec, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise LoadError(f"--x: cannot read '{spec}' as a .npy array: {exc}") from None
        if not isinstance(array, np.ndarray) or array.dtype.kind not in "biuf":
            kind = "an archive of arrays" if not isinstance(array, np.ndarray) else f"dtype {array.dtype}"
            raise OptionError(f"--x: '{spec}' holds {kind}, expected an array of real numbers")
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


def func_x(shape: str | None, x: str | None, seed: int) -> tuple[np.ndarray, XSource]:
    """x for ``func`` and ``sweep --func``: ``--x`` as given, else N(0, 1) of ``--shape``
    (default ``DEFAULT_FUNC_SHAPE``) drawn with ``seed``; and where it came from."""
    validate_seed(seed)
    if shape is not None and x is not None:
        raise OptionError("give either --shape or --x, not both")
    if x is not None:
        x0, label = parse_x(x)
    else:
        dims = DEFAULT_FUNC_SHAPE if shape is None else parse_shape(shape)
        x0, label = np.random.default_rng(seed).standard_normal(dims), XSource("normal", seed=seed)
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
