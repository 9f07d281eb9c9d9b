"""What the checking commands share: callable names, the option checks of
``check_gradient``, the second opinions (``--hvp``, ``--taylor``).

No command module imports another; what two of them need lives here (the black-box
check itself is ``blackbox.pipeline.check_blackbox``, the block verdict ``blocks``).
"""

from __future__ import annotations

import numpy as np

from ..blackbox.ladder import Lifted
from ..blackbox.pipeline import validate_mode
from ..choices import Method, Mode
from ..diagnosis import TAYLOR_DISAGREES
from ..finite_diff import validate_step
from ..inputs import sample_indices, validate_hvp, validate_seed, validate_top, validate_x
from ..results import Report, count_statuses


def timed(check):
    """``check(...) -> Report`` that records its wall time in ``Report.seconds`` (reports
    without an ``Effort``, whose seconds the black-box pipeline measures)."""
    import functools
    import time
    from dataclasses import replace

    @functools.wraps(check)
    def run(*args, **kwargs):
        started = time.perf_counter()
        report = check(*args, **kwargs)
        if report.effort is not None or report.seconds is not None:
            return report
        return replace(report, seconds=time.perf_counter() - started)

    return run


#: the longdouble cost must agree with the float64 one to this relative tolerance
LIFT_AGREEMENT = 1e-9


def _lifts(raw_cost, x: np.ndarray, cost0: float) -> bool:
    """Whether ``raw_cost`` computes in np.longdouble: one call at x (``lifted_cost``)."""
    from ..errors import UserCodeError

    if np.finfo(np.longdouble).eps >= np.finfo(float).eps:
        return False
    try:
        c = raw_cost(np.asarray(x, dtype=np.longdouble))
    except UserCodeError:
        return False
    c = np.asarray(c)
    if c.dtype != np.longdouble or c.size != 1 or not np.isfinite(c).all():
        return False
    c = c.reshape(())[()]
    return bool(abs(c - np.longdouble(cost0)) <= LIFT_AGREEMENT * max(abs(float(cost0)), np.finfo(float).tiny))


def _in_longdouble(raw_cost):
    """``z -> raw_cost(z)`` at z in np.longdouble, NaN when it does not come back one."""
    def cost(z):
        value = np.asarray(raw_cost(np.asarray(z, dtype=np.longdouble)))
        return value.reshape(())[()] if value.dtype == np.longdouble and value.size == 1 else np.longdouble(np.nan)

    return cost


def lifted_cost(raw_cost, x: np.ndarray, cost0: float):
    """Precision lifting: ``z -> cost`` in ``np.longdouble``, or None.

    ``raw_cost(z)`` calls the user's code and returns its cost as the code returned it.
    The code is called once at x in ``np.longdouble``: it is lifted when the cost comes
    back a longdouble scalar that agrees with the float64 cost ``cost0`` (to
    ``LIFT_AGREEMENT`` relative: the same function) and the platform's longdouble is wider
    than float64.  Code that converts to float64 (or raises) is not lifted.
    """
    return _in_longdouble(raw_cost) if _lifts(raw_cost, x, cost0) else None


def lazy_lifted_cost(raw_cost, x: np.ndarray, cost0: float):
    """``lifted_cost`` whose probe call is made the first time lifting is wanted
    (``LazyLifted``), or None where longdouble is no wider than float64."""
    if np.finfo(np.longdouble).eps >= np.finfo(float).eps:
        return None
    return LazyLifted(raw_cost, x, cost0)


class LazyLifted(Lifted):
    """A ``blackbox.ladder.Lifted`` (the same budgets of calls) whose probe (``lifted_cost``:
    one call of the code at x in np.longdouble, ~ an eager forward pass) is made when the
    check first asks whether lifting is available (``available``, ``usable``, a call): a
    check that never needs extended precision never pays for it.  Code that does not lift
    is never ``usable`` and never called in longdouble."""

    def __init__(self, raw_cost, x: np.ndarray, cost0: float) -> None:
        super().__init__(_in_longdouble(raw_cost))
        self._probe = (raw_cost, np.array(x, dtype=float), cost0)
        self._lifts: bool | None = None

    @property
    def probed(self) -> bool:
        return self._lifts is not None

    @property
    def available(self) -> bool:
        """Whether the code computes in np.longdouble (probed on first use)."""
        if self._lifts is None:
            self._lifts = _lifts(*self._probe)
        return self._lifts

    @property
    def usable(self) -> bool:
        return self.available and Lifted.usable.fget(self)

    def __call__(self, z):
        if not self.available:
            return np.longdouble(np.nan)
        return super().__call__(z)


def callable_name(fn) -> str:
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__
    return "<lambda>" if name.endswith("<lambda>") else name


def with_second_opinions(report: Report, cost, grad_fn, x: np.ndarray, g: np.ndarray, *,
                          hvp: int = 0, taylor: bool = False, seed: int = 0) -> Report:
    """Add ``--hvp K`` symmetry rows and the ``--taylor`` order to a net/func report.

    ``cost(x) -> float`` and ``grad_fn(flat x) -> flat gradient`` are the checked
    function; ``g`` the gradient at ``x``.  Hessian-vector rows count in the summary;
    the Taylor order is advisory (a note, a hint if it disagrees, JSON ``taylor_order``).
    """
    from dataclasses import replace

    from ..results import merge_counts

    checks, counts, hints = list(report.checks), dict(report.counts), list(report.hints)
    taylor_result = None
    if hvp:
        from ..second_order import hvp_checks, hvp_symmetry

        rows = hvp_checks(hvp_symmetry(grad_fn, x, hvp, seed, report.thresholds))
        checks += rows
        counts = merge_counts([counts, count_statuses([r.status for r in rows])])
    if taylor:
        from ..sweep import taylor_test

        taylor_result = taylor_test(lambda z: float(cost(z.reshape(np.shape(x)))), np.ravel(x), np.ravel(g), seed)
        if not taylor_result.consistent and report.status.value == "pass":
            hints.append(TAYLOR_DISAGREES)
    return replace(report, checks=tuple(checks), counts=counts, hints=tuple(hints), hvp=hvp,
                   taylor_test=taylor_result, taylor_order=None if taylor_result is None else taylor_result.order,
                   seed=seed)


def validate_gradient_options(x, *, sample=None, seed=0, eps=None, top=5, hvp=0,
                              mode=Mode.ADAPTIVE) -> tuple[np.ndarray, np.ndarray | None]:
    """Validate what ``check_gradient`` takes, once (``func`` calls it before loading user code).

    Returns x as a fresh float64 array and the sampled flat indices (None: every entry).
    """
    validate_mode(mode)
    x0 = validate_x(x)
    validate_step(Method.CENTRAL, eps)
    validate_seed(seed)
    validate_top(top)
    validate_hvp(hvp)
    return x0, sample_indices(x0.size, sample, seed)
