"""``gradcheck func``: load the user's ``FILE.py:NAME`` (``f(x) -> (cost, grad)``, or a cost
with ``--grad``) and check it at x from ``--shape``/``--x`` with the black-box check
(``common.check_gradient``).
"""

from __future__ import annotations

from ..choices import Mode
from ..errors import NonFiniteCostError
from ..inputs import func_x
from ..results import Report
from ..verdict import Thresholds
from .common import check_gradient, validate_gradient_options


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
    ``isolate``: the user's code runs in a child process (``usercode.isolate``).
    """
    from ..usercode import load_seeded

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
            source=source, progress=progress, hvp=hvp, taylor=taylor, mode=mode,
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
