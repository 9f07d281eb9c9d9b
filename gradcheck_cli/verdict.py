"""Verdicts: does the evidence show the analytic value within tolerance of the truth?

numpy only.  The evidence for one component is the analytic value ``a``, a numeric
estimate ``n`` of the true derivative ``t`` and an error bound ``e`` with
``|n - t| <= e`` (``finite_diff`` states how ``e`` is estimated, with a safety factor;
``referee`` gives one from extended precision).  So ``t`` lies in ``T = [n - e, n + e]``.

With the relative error ::

    r(t) = |a - t| / max(|a|, |t|, floor)       (r = 0 when a == t)

(``floor = 0`` unless ``--floor`` is given; ``--floor 1`` is the CS224n convention
``max(1, |a|, |t|)``) the rule (``assess``) is

========== ===========================================================================
pass       ``max_T r <= pass_tol``: every value the truth can take is within tolerance;
           or the *zero rule*: ``|a| <= z`` and ``T`` lies inside ``[-z, z]`` (the true
           value and the claim are both zero to within round-off), or, for users' code,
           ``T`` lies inside ``[a - z, a + z]`` (the claim agrees with the truth to within
           round-off: what the code's own precision can resolve of this entry).  ``z``
           (``zero_scale``, supplied by the caller) is round-off of the function's own
           scale and never depends on the tolerances.  For users' code
           (``finite_diff.evidence``) ``z`` is at least ``64 eps G_j``, ``G_j`` the block's
           gradient scale (``finite_diff.gradient_scale``, which a bug cannot inflate),
           capped per entry by the function's own (``finite_diff.entry_scale``):
           a saturated sigmoid's ``dout s (1 - s)`` is exact only to ~``4 eps G``.  For
           expressions (``referee``, exact evidence) only the first form applies.
fail       ``min_T r > fail_tol`` (every value the truth can take is too far from ``a``),
           or a non-finite analytic value
warn       ``pass_tol < min_T r`` and ``max_T r <= fail_tol``
unresolved anything else: ``T`` is too wide to decide (``reason`` says why)
kink       a genuine non-differentiable point (decided by the caller); never a failure
========== ===========================================================================

``r`` is monotone between the breakpoints ``a, -a, 0, ±floor`` (on each piece it is
``|a - t| / c`` or ``|a - t| / |t|``), so ``min_T r`` and ``max_T r`` are exact from the
endpoints of ``T`` and the breakpoints inside it.  Properties (tests in
``tests/test_verdict.py``): a smaller ``pass_tol`` never turns a non-pass into pass and
a smaller ``fail_tol`` never turns a fail into anything else (both limits are
tolerance-free; ``z`` is too); multiplying ``a, n, e, z`` by ``10**k`` changes nothing
(``floor = 0``); a value off by a factor 2, a sign or ``1e-3`` can pass only if the
evidence is wrong, i.e. never with an honest ``e``.

The displayed relative error is ``|a - n| / max(|a|, |n|, floor)``.  Every decision
goes through ``assess`` or its radii (``radius``: the bound an entry may have and still
pass or not fail; ``proved_rel``: how wrong the evidence proves a value): the search's
clear and stop decisions, kink and recheck selection, sweep's worst pick, block figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Iterable

import numpy as np

from .errors import OptionError


class Status(str, Enum):
    """Outcome of one checked component; the value is what JSON shows."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    KINK = "kink"
    UNRESOLVED = "unresolved"
    #: not reached before ``--max-seconds`` (a count and a block status; never an entry's code)
    UNCHECKED = "unchecked"


#: index with status codes: 0 pass, 1 warn, 2 fail, 3 kink, 4 unresolved
STATUS_BY_CODE = np.array([Status.PASS, Status.WARN, Status.FAIL, Status.KINK, Status.UNRESOLVED], dtype=object)
CODE = {s: i for i, s in enumerate(STATUS_BY_CODE)}
# Severity order used by `worst`: kink counts as pass, unresolved just below warn.
# Unchecked (never looked at) ranks below unresolved (looked at, undecided).
_SEVERITY = {Status.PASS: 0, Status.KINK: 0, Status.UNCHECKED: 0.5, Status.UNRESOLVED: 1, Status.WARN: 2,
             Status.FAIL: 3}


class Reason(str, Enum):
    """Why a component is ``unresolved`` (or a non-pass that needs saying); with the
    row's numbers (``error`` e, ``numeric`` n) a view writes the sentence."""

    NONE = ""
    #: the numeric error bound is too large for the value: ``e`` against ``|n|``
    NOISE = "noise"
    #: the numeric estimate is not finite (every stencil left the domain or overflowed)
    NUMERIC_NONFINITE = "numeric_nonfinite"
    #: the analytic value is not finite (a fail)
    ANALYTIC_NONFINITE = "analytic_nonfinite"
    #: the extended-precision referee reached its precision cap undecided
    PRECISION_CAP = "precision_cap"
    #: the extended-precision referee ran out of time undecided
    TIME_CAP = "time_cap"


REASON_BY_CODE = np.array(list(Reason), dtype=object)
_REASON_CODE = {r: i for i, r in enumerate(Reason)}


#: the default pass tolerance of float32 code: what float32 can verify (at 1e-4 its
#: round-off of f leaves about half of the entries of correct code unresolved), below the
#: 9.99e-4 of a x1.001 bug, which must not pass
FLOAT32_PASS_TOL = 5e-4


@dataclass(frozen=True)
class Thresholds:
    """Tolerances of the verdict; ``floor=None`` means no floor (pure relative error)."""

    pass_tol: float = 1e-7
    fail_tol: float = 1e-2
    strict: bool = False
    floor: float | None = None
    #: whether the user chose ``pass_tol`` (None: whenever it is not the default 1e-7);
    #: a chosen one is never replaced by the float32 default (``for_precision``)
    pass_tol_given: bool | None = None
    #: "float32" when the pass tolerance is float32's default (``for_precision``)
    precision: str | None = None

    def __post_init__(self) -> None:
        validate_thresholds(self)

    def for_precision(self, eps: float) -> "Thresholds":
        """The thresholds for code whose values have machine epsilon ``eps``: for float32
        code (``eps`` of float32) a default ``pass_tol`` becomes ``FLOAT32_PASS_TOL``,
        what float32 can verify (the round-off of its differences over the steps the
        ladder can take); a chosen one stands.  Below ``fail_tol`` still, and below 1e-3:
        a 1e-3 bug is never a pass."""
        given = self.pass_tol_given if self.pass_tol_given is not None else self.pass_tol != 1e-7
        if eps <= float(np.finfo(float).eps) or given or self.pass_tol >= FLOAT32_PASS_TOL:
            return self
        from dataclasses import replace

        return replace(self, pass_tol=min(FLOAT32_PASS_TOL, self.fail_tol), precision="float32")

    def to_dict(self) -> dict[str, float]:
        return {"pass": self.pass_tol, "fail": self.fail_tol}


def validate_thresholds(t: Thresholds) -> None:
    """Raise OptionError unless 0 < pass_tol <= fail_tol and the floor is >= 0."""
    for name, value in (("--pass-tol", t.pass_tol), ("--fail-tol", t.fail_tol)):
        if not (np.isfinite(value) and value > 0):
            raise OptionError(f"{name} must be a positive number, got {value!r}")
    if t.pass_tol > t.fail_tol:
        raise OptionError(
            f"--pass-tol ({t.pass_tol:g}) must not exceed --fail-tol ({t.fail_tol:g})"
        )
    if t.floor is not None and not (np.isfinite(t.floor) and t.floor >= 0):
        raise OptionError(f"--floor must be a finite number >= 0, got {t.floor!r}")


@dataclass(frozen=True)
class Assessment:
    """The verdict of every component (arrays of one shape).

    ``rel`` is the displayed relative error ``|a - n| / max(|a|, |n|, floor)``;
    ``rel_min``/``rel_max`` its exact range over ``[n - e, n + e]``; ``code`` indexes
    ``STATUS_BY_CODE`` and ``reason`` indexes ``REASON_BY_CODE``; ``error`` is ``e``.
    """

    rel: np.ndarray
    rel_min: np.ndarray
    rel_max: np.ndarray
    code: np.ndarray
    reason: np.ndarray
    error: np.ndarray
    floor: np.ndarray

    @property
    def statuses(self) -> np.ndarray:
        return STATUS_BY_CODE[self.code]

    @property
    def reasons(self) -> np.ndarray:
        return REASON_BY_CODE[self.reason]


def _rel(a: np.ndarray, t: np.ndarray, floor: np.ndarray) -> np.ndarray:
    diff = np.abs(a - t)
    denom = np.maximum(np.maximum(np.abs(a), np.abs(t)), floor)
    return np.where(diff == 0, 0.0, diff / np.where(denom > 0, denom, 1.0))


def relative_range(analytic, numeric, error, floor=0.0) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``(min, max)`` of ``r(t)`` over ``t`` in ``[n - e, n + e]`` (see the module doc).

    Candidates: both endpoints and every breakpoint ``a, -a, 0, floor, -floor`` clipped
    into the interval (a clipped breakpoint is an endpoint, so it does no harm).  An
    unbounded interval gives ``(0, 2)`` (``r <= 2`` everywhere, ``r(a) = 0``).
    """
    a, n, e, fl = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (analytic, numeric, error, floor)))
    with np.errstate(all="ignore"):
        lo, hi = n - e, n + e
        bounded = np.isfinite(lo) & np.isfinite(hi)
        lo_, hi_ = np.where(bounded, lo, 0.0), np.where(bounded, hi, 0.0)
        cands = [lo_, hi_] + [np.clip(b, lo_, hi_) for b in (a, -a, np.zeros_like(a), fl, -fl)]
        r = np.stack([_rel(a, c, fl) for c in cands])
        rmin, rmax = r.min(axis=0), r.max(axis=0)
    unbounded = ~bounded
    return np.where(unbounded, 0.0, rmin), np.where(unbounded, 2.0, rmax)  # sup r = 2 (at t = -a)


def assess(analytic, numeric, error, thresholds: Thresholds, zero_scale=0.0, kink=None,
           agreement: bool = True) -> Assessment:
    """The verdict of every component from ``a``, ``n``, ``e`` (and ``z``, kinks); vectorised.

    ``error`` is an absolute bound on ``|n - t|`` (``inf`` when unknown); ``zero_scale``
    the round-off scale ``z`` of the zero rule; ``kink`` a boolean mask of genuine kinks;
    ``agreement=False`` (exact evidence, ``expr``): the zero rule only for a claim and a
    truth both within ``z`` of zero, not for ``|a - t| <= z``.
    See the module docstring for the rule.
    """
    a, n, e, z = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (analytic, numeric, error, zero_scale)))
    floor = np.full(a.shape, float(thresholds.floor or 0.0))
    with np.errstate(all="ignore"):
        e = np.where(np.isnan(e), np.inf, np.abs(e))
        n_ok = np.isfinite(n)
        e = np.where(n_ok, e, np.inf)
        rmin, rmax = relative_range(a, np.where(n_ok, n, 0.0), e, floor)
        # the zero rule: the claim and every value the truth can take are within z of zero,
        # or within z of each other (a saturated entry's hand value, exact to round-off of
        # the gradient's scale, not of its own tiny size)
        zero = (np.abs(a) <= z) & (np.abs(n) + e <= z)
        if agreement:
            zero |= np.abs(a - n) + e <= z
        passed = (rmax <= thresholds.pass_tol) | zero
        failed = rmin > thresholds.fail_tol
        warned = (rmin > thresholds.pass_tol) & (rmax <= thresholds.fail_tol)
        code = np.where(passed, 0, np.where(failed, 2, np.where(warned, 1, 4)))
        reason = np.where(code == 4, np.where(n_ok, _REASON_CODE[Reason.NOISE], _REASON_CODE[Reason.NUMERIC_NONFINITE]), 0)
        a_bad = ~np.isfinite(a)
        code = np.where(a_bad, 2, code)
        reason = np.where(a_bad, _REASON_CODE[Reason.ANALYTIC_NONFINITE], reason)
        if kink is not None:
            k = np.broadcast_to(np.asarray(kink, dtype=bool), a.shape)
            code = np.where(k & ~a_bad, 3, code)
            reason = np.where(k & ~a_bad, 0, reason)
        rel = np.where(np.isfinite(a) & n_ok, _rel(a, np.where(n_ok, n, 0.0), floor), np.inf)
    return Assessment(rel=rel, rel_min=rmin, rel_max=rmax, code=code.astype(int), reason=reason.astype(int),
                      error=e, floor=floor)


# ---------------------------------------------------------------- radii of the rule
def radius(analytic, tol: float, thresholds: Thresholds) -> np.ndarray:
    """The largest bound ``B`` on ``|t - a|`` with ``max r <= tol`` over ``[a - B, a + B]``:
    ``tol max(|a|, floor)`` (``r = B / max(|a|, floor)`` toward zero is the binding side).
    With ``tol = pass_tol`` an entry whose error is proved within it passes (by
    ``assess``); with ``fail_tol`` its own direct check cannot fail it.  The search clears
    and verifies entries by these radii, so it decides as ``assess`` would."""
    a = np.abs(np.asarray(analytic, dtype=float))
    return tol * np.maximum(a, float(thresholds.floor or 0.0))


def proved_rel(analytic, numeric, error, thresholds: Thresholds) -> np.ndarray:
    """The relative error the evidence proves, ``min r`` over ``[n - e, n + e]`` (0 when
    the truth may equal ``a``; ``inf`` for a non-finite value): how wrong a value surely
    is, the ranking of worst entries (``sweep``, block figures)."""
    res = assess(analytic, numeric, error, thresholds)
    a, n = np.asarray(analytic, dtype=float), np.asarray(numeric, dtype=float)
    return np.where(np.isfinite(a) & np.isfinite(n), res.rel_min, np.inf)


def statuses_of(analytic, numeric, error, thresholds: Thresholds, kink=None) -> np.ndarray:
    """``Status`` per component by ``assess`` (an object array)."""
    return assess(analytic, numeric, error, thresholds, kink=kink).statuses


def count_codes(code: np.ndarray) -> dict[str, int]:
    """Summary counts (``checks`` and one per status) of an array of status codes."""
    tally = np.bincount(np.asarray(code, dtype=int).ravel(), minlength=len(STATUS_BY_CODE))
    return {"checks": int(np.size(code))} | {s.value: int(tally[i]) for i, s in enumerate(STATUS_BY_CODE)}


def worst(statuses: Iterable[Status]) -> Status:
    """The worst status of a collection (kink counts as pass; empty -> pass)."""
    result = Status.PASS
    for s in statuses:
        s = Status(s)
        if _SEVERITY[s] > _SEVERITY[result]:
            result = s
    return result


def is_failure(status: Status, strict: bool) -> bool:
    """Whether a status makes the command exit 1 (warn and unresolved only under ``--strict``)."""
    return status is Status.FAIL or (strict and status in (Status.WARN, Status.UNRESOLVED, Status.UNCHECKED))


class Agreement(str, Enum):
    """Outcome of one directional comparison (``judge_direction``)."""

    AGREE = "agree"  # |claimed - numeric| <= error: no entry of S is wrong beyond 2 error
    DISAGREE = "disagree"  # the difference exceeds the error: S holds a wrong entry
    UNDECIDED = "undecided"  # the numeric value or its error is not finite



def judge_direction(claimed: float, numeric: float, error: float) -> Agreement:
    """The judgement of one directional comparison against its own noise.

    ``claimed = g . w``, ``numeric`` its finite-difference estimate, ``error`` a bound on
    the estimate's absolute error.  A non-finite claimed value disagrees (the gradient
    holds a NaN/inf); a non-finite numeric value or error cannot decide.
    """
    if not math.isfinite(claimed):
        return Agreement.DISAGREE
    if not (math.isfinite(numeric) and math.isfinite(error)):
        return Agreement.UNDECIDED
    return Agreement.AGREE if abs(claimed - numeric) <= error else Agreement.DISAGREE
