"""``gradcheck func`` and the public ``check_gradient``: the black-box check
(``blackbox.check_blackbox``) of ``f(x) -> (cost, grad)`` (or a cost with a separate
gradient), at x from ``--shape``/``--x``.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace

import numpy as np

from ..blackbox.pipeline import check_blackbox, deadline_after, validate_max_seconds, validate_mode
from ..choices import Method, Mode
from ..diagnosis import nonfinite_hint, ratio_hint
from ..errors import NonFiniteCostError
from ..inputs import func_x
from ..results import FunctionSubject, Report, XSource
from ..verdict import Status, Thresholds
from ..finite_diff import EPS32, value_eps
from .common import callable_name, lifted_cost, validate_gradient_options, with_second_opinions




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
    mode: Mode | str = Mode.ADAPTIVE,
    value_range: str | None = None,
    max_seconds: float | None = None,
    isolate: bool = False,
) -> Report:
    """``gradcheck func``: load ``FILE.py:NAME`` (or ``module:NAME``) and check it.

    x is ``--x`` (a ``.npy`` file or ``"1,2,3"``), else N(0, 1) of ``shape``
    (``"3,4"``, default ``DEFAULT_FUNC_SHAPE``) drawn with ``seed`` (U(LO, HI) with
    ``value_range="LO,HI"``).  A NaN or infinite cost at a drawn x says how to draw
    another one (NonFiniteCostError, exit 2).  ``grad``
    (``FILE.py:NAME2``, or just ``NAME2`` from the same file) makes f cost-only.  The
    global random states are seeded with ``seed`` while the user's code is loaded and
    for every call, so results are reproducible; the caller's states are restored.
    ``mode``: ``adaptive`` (default), ``fast`` (the same) or ``full`` (``check_gradient``).
    ``max_seconds``: the check stops then (counted from here), the rest ``unchecked``.
    ``isolate``: the user's code runs in a child process (``usercode.isolate``).
    """
    from ..usercode import load_seeded

    deadline = deadline_after(validate_max_seconds(max_seconds))
    x0, source = func_x(shape, x, seed, value_range)
    validate_gradient_options(x0, sample=sample, seed=seed, eps=eps, top=top, hvp=hvp, mode=mode)  # before loading user code
    grad_spec = grad
    if grad is not None and ":" not in grad:
        grad_spec = f"{target.rpartition(':')[0]}:{grad.strip()}"

    specs = [(target, "function")] + ([(grad_spec, "gradient function")] if grad_spec else [])
    fu, gu = (load_seeded(specs, seed, isolate=isolate) + [None])[:2]
    try:
        return check_gradient(
            fu, x0, grad=gu, sample=sample, seed=seed, eps=eps, thresholds=thresholds, top=top,
            source=source, progress=progress, hvp=hvp, taylor=taylor, mode=mode, deadline=deadline,
        )
    except NonFiniteCostError as exc:
        if source.kind not in ("normal", "uniform"):
            raise
        drawn = "N(0, 1), negative entries included" if source.kind == "normal" else f"U({source.low:g}, {source.high:g})"
        raise NonFiniteCostError(
            f"{exc} (x ~ {drawn}, seed {seed}): if f is defined only for some x "
            "(log, sqrt: x > 0), draw x from an interval with --range LO,HI (e.g. --range 0.5,2) "
            "or give it with --x"
        ) from None


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
    source: XSource | None = None,
    progress=None,
    hvp: int = 0,
    taylor: bool = False,
    mode: Mode | str = Mode.ADAPTIVE,
    max_seconds: float | None = None,
    deadline: float | None = None,
) -> Report:
    """Check the gradient of a black-box scalar function ``f`` at ``x``, every entry.

    ``f(x) -> (cost, grad)`` with ``grad`` of x's shape (the ``gradcheck_naive``
    convention), or ``f(x) -> cost`` together with ``grad(x) -> array``.  ``mode``
    ``adaptive`` (default; ``fast`` is the same) tests random-sign sets of entries and
    splits only those that disagree (``blackbox.search``: every entry gets a verdict, directly
    or by exclusion, and an entry that its own check would fail cannot be masked);
    ``full`` checks every entry (or ``sample`` random ones, seeded by ``seed``) with the
    central difference ``(f(x + h e_k) - f(x - h e_k)) / 2h``, ``h = eps**(1/3) max(|x_k|,
    1)`` (or the fixed ``eps``), two calls per entry (four when it does not pass within
    round-off, to measure the truncation).  The verdict is the usual one (``verdict``).
    The report has one block, ``x``, every failing entry and the ``top`` worst, and the
    effort (``Report.effort``: entries, calls, seconds).

    Each call of f starts from the random state of ``random`` and ``numpy.random`` as it
    was when the check began (so f may draw random numbers) and gets a private copy of
    x; changing it in place, raising, or returning the wrong shape raises
    ``UserCodeError``.  ``name`` and ``source`` (where x came from) label the report; ``progress(done,
    total)`` is called after each entry.  ``hvp`` adds that many Hessian-vector symmetry
    checks and ``taylor`` the Taylor test (see ``check_network``).  ``max_seconds`` stops
    the check after that long (or at the ``time.perf_counter()`` value ``deadline``): what
    was checked is judged, the rest counted ``unchecked`` (never ``pass``).

    >>> import numpy as np
    >>> check_gradient(lambda x: (np.sum(x**2), 2 * x), np.ones((3, 4))).status.value
    'pass'
    """
    from ..usercode import UserFunction

    x0, idx = validate_gradient_options(x, sample=sample, seed=seed, eps=eps, top=top, hvp=hvp)
    mode = validate_mode(mode)
    if deadline is None:
        deadline = deadline_after(validate_max_seconds(max_seconds))
    fu = f if isinstance(f, UserFunction) else UserFunction(f, name or callable_name(f))
    gu = None
    if grad is not None:
        gu = grad if isinstance(grad, UserFunction) else UserFunction(grad, callable_name(grad))

    with fu.session(), (gu.session() if gu is not None else contextlib.nullcontext()):
        if gu is None:
            cost0, g = fu.cost_and_grad(x0, grad_shape=x0.shape)
            cost = fu.cost_of(x0.shape)
        else:
            cost0 = fu.cost_only(x0)
            g = gu.gradient_only(x0)
            cost = fu.cost_only
        # float32 code: the default pass tolerance is what float32 can verify (issue 16); a
        # float32 cost or gradient says so before its conversion (whole numbers, zeros say nothing after)
        single = fu.returned_single or (gu is not None and gu.returned_single)
        thresholds = thresholds.for_precision(EPS32 if single else value_eps(np.asarray([cost0]), np.asarray(g)))
        calls = lambda: fu.calls + (gu.calls if gu is not None else 0)  # noqa: E731
        first = lambda r: r[0] if isinstance(r, (tuple, list)) and gu is None else r  # noqa: E731
        lifted = lifted_cost(lambda z: first(fu.call(z)), x0, cost0)
        bb = check_blackbox(cost, x0, g, [("x", x0.shape, 0)], mode=mode, thresholds=thresholds, top=top, seed=seed,
                            f0=cost0, step=eps, indices=idx, calls=calls, lifted=lifted, progress=progress,
                            deadline=deadline, precision=EPS32 if single else None)
    result, verdict, effort = bb.search, bb.verdict, bb.effort
    total = x0.size if idx is None else len(idx)
    block = result.blocks[0]
    c = block.checked

    subject = FunctionSubject(function=fu.name, gradient=None if gu is None else gu.name, source=source,
                              shape=tuple(x0.shape), cost=float(cost0), size=int(x0.size),
                              sampled=None if idx is None else total)
    judged = np.asarray(verdict.indices.get("x", c))
    keep = np.isin(judged, c)  # the entries the search checked itself (and judged)
    analytic, numeric = block.analytic[judged[keep]], block.numeric[judged[keep]]
    failing = np.array([s is Status.FAIL for s in np.asarray(verdict.statuses["x"], dtype=object)[keep]], dtype=bool)
    report = Report(
        command="func",
        method=Method.CENTRAL,
        thresholds=thresholds,
        checks=verdict.checks,
        counts=verdict.counts,
        blocks=verdict.blocks,
        hints=(nonfinite_hint("x", np.asarray(g, dtype=float).reshape(x0.shape)),) if not np.all(np.isfinite(g))
        else ratio_hint(analytic, numeric, failing),
        subject=subject,
        seed=seed,
        shown=top,
        mode=mode,
        effort=effort,
    )
    if not (hvp or taylor):
        return report
    if gu is None:
        grad_fn = lambda z: fu.cost_and_grad(z.reshape(x0.shape), grad_shape=x0.shape)[1].ravel()  # noqa: E731
    else:
        grad_fn = lambda z: gu.gradient_only(z.reshape(x0.shape)).ravel()  # noqa: E731
    with fu.session(), (gu.session() if gu is not None else contextlib.nullcontext()):
        report = with_second_opinions(report, cost, grad_fn, x0, g, hvp=hvp, taylor=taylor, seed=seed)
    # the second opinions' calls are calls of the user's code too
    return replace(report, effort=replace(report.effort, calls=calls()))
