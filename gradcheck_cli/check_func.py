"""``gradcheck func`` and the Python ``check_gradient``: a black-box ``f(x) -> (cost, grad)``
checked entry by entry; and ``gradcheck sanity``, the built-in suite.
"""

from __future__ import annotations

import numpy as np

from .check import (BlockData, callable_name, judge_blocks, validate_method, validate_seed,
                    with_second_opinions)
from .errors import OptionError
from .finite_diff import Method
from .results import Check, Report, count_statuses
from .verdict import Thresholds


#: shape of x for ``gradcheck func`` when neither ``--shape`` nor ``--x`` is given
DEFAULT_FUNC_SHAPE = (3, 4)
#: the largest x accepted by ``func`` (a full check costs 4 calls per entry)
MAX_FUNC_ENTRIES = 10_000_000


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


def parse_x(text: str) -> tuple[np.ndarray, str]:
    """``--x``: a ``.npy`` file, or numbers separated by commas.

    ``"1.0,2.0,3.0"`` gives a 1-D x, a single number ``"2.5"`` a scalar (0-d) x.
    Returns the array (float64) and a description for the report header.
    """
    import os

    from .errors import LoadError

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
        return array.astype(np.float64), f"x from {spec}"
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
    return array, (f"x = {np.array2string(array, separator=', ')}" if array.size <= 8 else "x given with --x")


def func_x(shape: str | None, x: str | None, seed: int) -> tuple[np.ndarray, str]:
    """x for ``func`` and ``sweep --func``: ``--x`` as given, else N(0, 1) of ``--shape``
    (default ``DEFAULT_FUNC_SHAPE``) drawn with ``seed``; and its description."""
    validate_seed(seed)
    if shape is not None and x is not None:
        raise OptionError("give either --shape or --x, not both")
    if x is not None:
        x0, label = parse_x(x)
    else:
        dims = DEFAULT_FUNC_SHAPE if shape is None else parse_shape(shape)
        x0, label = np.random.default_rng(seed).standard_normal(dims), f"x ~ N(0, 1), seed {seed}"
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
    if sample < 1:
        raise OptionError(f"--sample must be at least 1, got {sample}")
    if sample >= size:
        return None
    return np.sort(np.random.default_rng(seed).choice(size, size=sample, replace=False))


def _grad_only(gu, x: np.ndarray) -> np.ndarray:
    """Call a separate gradient function and validate that it returns an array of x's shape."""
    from .errors import UserCodeError

    result = gu.call(x)
    expected = f"expected a real array of shape {x.shape} (the shape of x)"
    if result is None or isinstance(result, tuple):
        what = "None" if result is None else f"a tuple of {len(result)} items"
        raise UserCodeError(f"{gu.name} returned {what}, {expected}")
    try:
        array = np.asarray(result)
        if array.dtype.kind == "c":
            raise UserCodeError(f"{gu.name} returned a complex gradient, {expected}")
        array = np.array(array, dtype=np.float64)
    except (TypeError, ValueError):
        raise UserCodeError(f"{gu.name} returned a gradient of type {type(result).__name__}, {expected}") from None
    if array.shape != x.shape:
        raise UserCodeError(f"{gu.name} returned a gradient of shape {array.shape}, {expected}")
    return array


def _ratio_hint(analytic: np.ndarray, numeric: np.ndarray, failing: np.ndarray) -> tuple[str, ...]:
    """A hint when every failing entry is off by the same factor k (-1, 2, 1/2, ...).

    One failing entry gets a hint only for the classic factors (-1, 0, 2, 1/2, -2, -1/2).
    """
    a, n = analytic[failing], numeric[failing]
    usable = np.isfinite(a) & np.isfinite(n) & (n != 0)
    count = int(usable.sum())
    if count < 1 or count < failing.sum():
        return ()
    ratio = a[usable] / n[usable]
    k = float(np.median(ratio))
    if not np.all(np.abs(ratio - k) <= 1e-3 * max(abs(k), 1e-3)) or abs(k - 1) < 1e-2:
        return ()
    near = lambda v: abs(k - v) <= 1e-3 * max(abs(v), 1.0)  # noqa: E731
    classic = any(near(v) for v in (-1.0, 0.0, 2.0, 0.5, -2.0, -0.5))
    if count == 1 and not classic:
        return ()
    where = "the failing entry" if count == 1 else f"all {count} failing entries"
    if near(-1.0):
        return (f"analytic = -numeric on {where}: a sign error?",)
    if near(0.0):
        return (f"analytic is ~0 where numeric is not, on {where}: a missing term?",)
    why = "a missing or extra factor 2" if near(2.0) or near(0.5) else "a constant factor"
    if near(-2.0) or near(-0.5):
        why = "a sign error and a factor 2"
    return (f"analytic / numeric = {k:.4g} on {where}: {why}?",)


def check_gradient(
    f,
    x,
    *,
    grad=None,
    sample: int | None = None,
    seed: int = 0,
    eps: float | None = None,
    thresholds: Thresholds = Thresholds(),
    top: int = 5,
    name: str | None = None,
    x_label: str | None = None,
    progress=None,
    hvp: int = 0,
    taylor: bool = False,
) -> Report:
    """Check the gradient of a black-box scalar function ``f`` at ``x`` entry by entry.

    ``f(x) -> (cost, grad)`` with ``grad`` of x's shape (the ``gradcheck_naive``
    convention), or ``f(x) -> cost`` together with ``grad(x) -> array``.  Every entry
    of x (or ``sample`` random ones, seeded by ``seed``) is checked against the central
    difference ``(f(x + h e_k) - f(x - h e_k)) / 2h`` with ``h = eps**(1/3) max(|x_k|, 1)``
    (or the fixed ``eps``), four calls per entry; its error is estimated from a second
    step ``4h`` and the round-off of f (``finite_diff.blackbox_gradient``), and the
    verdict is the usual one (``verdict``).  The report has one block, ``x``, plus
    every failing entry and the ``top`` worst.

    Each call of f starts from the random state of ``random`` and ``numpy.random`` as it
    was when the check began (so f may draw random numbers) and gets a private copy of
    x; changing it in place, raising, or returning the wrong shape raises
    ``UserCodeError``.  ``name`` and ``x_label`` label the report; ``progress(done,
    total)`` is called after each entry.  ``hvp`` adds that many Hessian-vector symmetry
    checks and ``taylor`` the Taylor test (see ``check_network``).

    >>> import numpy as np
    >>> check_gradient(lambda x: (np.sum(x**2), 2 * x), np.ones((3, 4))).status.value
    'pass'
    """
    from .finite_diff import blackbox_gradient
    from .loading import UserFunction
    from .verdict import Status

    x0 = validate_x(x)
    validate_method(Method.CENTRAL, eps)
    validate_seed(seed)
    if top < 0:
        raise OptionError(f"--top must be at least 0, got {top}")
    idx = sample_indices(x0.size, sample, seed)
    fu = f if isinstance(f, UserFunction) else UserFunction(f, name or callable_name(f))
    gu = None
    if grad is not None:
        gu = grad if isinstance(grad, UserFunction) else UserFunction(grad, callable_name(grad))

    if gu is None:
        cost0, g = fu.cost_and_grad(x0, grad_shape=x0.shape)
        cost = lambda z: fu.cost_and_grad(z, grad_shape=x0.shape)[0]  # noqa: E731
    else:
        cost0 = fu.cost_only(x0)
        g = _grad_only(gu, x0)
        cost = fu.cost_only
    total = x0.size if idx is None else len(idx)
    step = None if progress is None else (lambda k: progress(k, total))
    est = blackbox_gradient(cost, x0, indices=idx, step=eps, progress=step)
    analytic = g.ravel() if idx is None else g.ravel()[idx]
    block = BlockData("x", x0.shape, analytic, est.value, est.noise, kink=est.kink, indices=idx, eps=est.eps,
                      resolution=est.resolution)
    verdict = judge_blocks([block], thresholds, top)

    shape_text = " x ".join(map(str, x0.shape)) or "scalar"
    header = [f"f = {fu.name}" + (" -> (cost, grad)" if gu is None else f" -> cost, grad = {gu.name}")]
    shape_text = f"shape {shape_text}" if x0.shape else "a scalar"
    header.append(f"{x_label}, {shape_text}" if x_label else f"x: {shape_text}")
    header.append(f"cost at x = {cost0:.10g}")
    notes = ()
    if idx is not None:
        notes = (f"checked {total} of {x0.size} entries of x, chosen at random (seed {seed})",)
    failing = np.array([s is Status.FAIL for s in verdict.statuses["x"]], dtype=bool)
    report = Report(
        command="func",
        method=Method.CENTRAL,
        thresholds=thresholds,
        checks=verdict.checks,
        counts=verdict.counts,
        header=tuple(header),
        blocks=verdict.blocks,
        hints=_ratio_hint(analytic, est.value, failing),
        notes=notes,
        extra={"cost": cost0},
        shown=top,
    )
    if not (hvp or taylor):
        return report
    if gu is None:
        grad_fn = lambda z: fu.cost_and_grad(z.reshape(x0.shape), grad_shape=x0.shape)[1].ravel()  # noqa: E731
    else:
        grad_fn = lambda z: _grad_only(gu, z.reshape(x0.shape)).ravel()  # noqa: E731
    return with_second_opinions(report, cost, grad_fn, x0, g, hvp=hvp, taylor=taylor, seed=seed)


def check_func(
    target: str,
    *,
    grad: str | None = None,
    shape: str | None = None,
    x: str | None = None,
    seed: int = 0,
    sample: int | None = None,
    eps: float | None = None,
    thresholds: Thresholds = Thresholds(),
    top: int = 5,
    progress=None,
    hvp: int = 0,
    taylor: bool = False,
) -> Report:
    """``gradcheck func``: load ``FILE.py:NAME`` (or ``module:NAME``) and check it.

    x is ``--x`` (a ``.npy`` file or ``"1,2,3"``), else N(0, 1) of ``shape``
    (``"3,4"``, default ``DEFAULT_FUNC_SHAPE``) drawn with ``seed``.  ``grad``
    (``FILE.py:NAME2``, or just ``NAME2`` from the same file) makes f cost-only.  The
    global random states are seeded with ``seed`` while the user's code is loaded and
    for every call, so results are reproducible; the caller's states are restored.
    """
    from .loading import load_seeded

    x0, label = func_x(shape, x, seed)
    validate_method(Method.CENTRAL, eps)
    sample_indices(x0.size, sample, seed)
    if top < 0:
        raise OptionError(f"--top must be at least 0, got {top}")
    grad_spec = grad
    if grad is not None and ":" not in grad:
        grad_spec = f"{target.rpartition(':')[0]}:{grad.strip()}"

    specs = [(target, "function")] + ([(grad_spec, "gradient function")] if grad_spec else [])
    fu, gu = (load_seeded(specs, seed) + [None])[:2]
    return check_gradient(
        fu, x0, grad=gu, sample=sample, seed=seed, eps=eps, thresholds=thresholds, top=top,
        x_label=label, progress=progress, hvp=hvp, taylor=taylor,
    )


# -------------------------------------------------------------- sanity suite
def _value_report(name: str, computed: np.ndarray, expected: np.ndarray, thresholds: Thresholds) -> Report:
    """Computed values against printed ones: pass within ``sanity.VALUE_TOL``, else fail.

    In the checks, ``analytic`` is the computed value and ``numeric`` the reference.
    """
    from .results import BlockResult
    from .sanity import VALUE_TOL
    from .verdict import Status, worst

    a = np.asarray(computed, dtype=float)
    r = np.broadcast_to(np.asarray(expected, dtype=float), a.shape)
    with np.errstate(all="ignore"):
        diff = np.abs(a - r)
        rel = np.where(diff == 0, 0.0, diff / np.maximum(np.abs(a), np.abs(r)))
    ok = np.isfinite(a) & (diff <= VALUE_TOL)
    rel = np.where(np.isfinite(rel), rel, np.inf)
    statuses = np.array([Status.PASS, Status.FAIL], dtype=object)[(~ok).astype(int)]
    w = int(np.argmax(rel.ravel()))
    wi = tuple(int(i) for i in np.unravel_index(w, a.shape))
    counts = count_statuses(list(statuses.ravel()))
    checks = tuple(
        Check(name=name, analytic=float(a[i]), numeric=float(r[i]), rel_error=float(rel[i]),
              status=statuses[i], floor=0.0, index=i)
        for i in (tuple(int(k) for k in j) for j in np.argwhere(~ok))
    )
    block = BlockResult(name=name, shape=a.shape, checked=a.size, max_rel_error=float(rel.ravel()[w]),
                        worst_index=wi, status=worst(statuses.ravel()), counts=counts)
    return Report(command="sanity", method=Method.CENTRAL, thresholds=thresholds, checks=checks,
                  counts=counts, blocks=(block,))


def _array_text(a: np.ndarray) -> str:
    return np.array2string(np.asarray(a), precision=8, suppress_small=False, separator=" ", floatmode="maxprec")


def _run_network_item(item, seed: int, thresholds: Thresholds) -> Report:
    """The network item: ``check_net.check_network`` at the item's dims."""
    from . import check_net

    return check_net.check_network(dims=item.dims, seed=seed, thresholds=thresholds, top=0)


def check_sanity(*, seed: int = 0, thresholds: Thresholds = Thresholds(), items=None) -> Report:
    """Run the built-in sanity suite (``sanity.SUITE``, or ``items``) as one report.

    Each item contributes its block(s): one named after the item, or ``network.W1``...
    for the network; ``checks`` holds every failing entry; ``header`` is the course-style
    transcript (``Running sanity checks...``, the values, ``Gradient check passed!``).

    >>> check_sanity().passed
    True
    """
    from dataclasses import replace

    from . import sanity
    from .results import merge_counts
    from .verdict import Status

    items = sanity.SUITE if items is None else tuple(items)
    rng = np.random.default_rng(seed)
    lines = ["Running sanity checks..."]
    blocks, checks, counts, summary = [], [], [], []
    for item in items:
        if isinstance(item, sanity.ValueItem):
            computed = np.asarray(item.compute(), dtype=float)
            sub = _value_report(item.name, computed, item.expected, thresholds)
            lines += [f"{item.title}:", _array_text(computed)]
            if not sub.passed:
                lines += ["  differs from the reference values:", _array_text(item.expected)]
        else:
            if isinstance(item, sanity.GradientItem):
                sub = check_gradient(item.f, item.make_x(rng), seed=seed, thresholds=thresholds, top=0,
                                     name=item.name)
            else:
                sub = _run_network_item(item, seed, thresholds)
            if sub.passed:
                extra = "" if sub.status is Status.PASS else " (with warnings)"
                lines.append(f"{item.title}: Gradient check passed!{extra}")
            else:
                lines.append(f"{item.title}: Gradient check failed.")
                bad = [c for c in sub.checks if c.status in (Status.FAIL, Status.WARN)]
                if bad:
                    c = bad[0]
                    lines.append(f"  worst gradient error at {c.label}: your gradient {c.analytic:f}, "
                                 f"numerical gradient {c.numeric:f}")
        rename = (lambda n: item.name) if len(sub.blocks) == 1 else (lambda n: f"{item.name}.{n}")
        blocks += [replace(b, name=rename(b.name)) for b in sub.blocks]
        checks += [replace(c, name=rename(c.name)) for c in sub.checks if c.status in (Status.FAIL, Status.WARN)
                   and (c.status is Status.FAIL or thresholds.strict)]
        counts.append(sub.counts)
        summary.append({"name": item.name, "title": item.title, "status": sub.status.value})
    return Report(
        command="sanity",
        method=Method.CENTRAL,
        thresholds=thresholds,
        checks=tuple(checks),
        counts=merge_counts(counts),
        header=tuple(lines),
        blocks=tuple(blocks),
        notes=("reference values: the sanity checks of CS224n assignment 1",),
        extra={"items": summary},
    )


