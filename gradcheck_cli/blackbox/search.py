"""Adaptive group testing of a black-box gradient: the one random-direction rule.

numpy only.  Nothing here prints; results are frozen dataclasses.

Problem
-------
``f`` is a scalar cost of a flat parameter vector ``x`` (length P), each call costly (the
user's ``forward_backward_prop``, ``f(x) -> (cost, grad)`` of ``func``, a layer).  ``g`` is
the claimed gradient.  Checking every entry costs ``2 P`` calls.  Most entries are right,
so test *sets* of entries at once and split only the sets that disagree.

One directional check of a set S (``Direction``)
-----------------------------------------------
``v`` has random signs ``+-1`` on S (fresh signs for every check) and 0 elsewhere; the step
is ``h_S = eps**(1/3) max(max_{j in S} |x_j|, 1)`` (``KAPPA`` = 1 times the largest step of
S's entries; ``--eps`` fixes it).  With the points ``x+- = x +- h_S v`` as actually rounded,
``w = (x+ - x-) / 2 h_S`` is the direction really differenced, and::

    claimed   a   = g . w
    numeric   D   = (f(x+) - f(x-)) / 2 h_S                                  (2 calls)
    round-off R_S = SAFETY (max(ULPS eps F, 3 sigma) / h_S + (ULPS + log2 |S|) eps sum_S |g w|)

with ``F = max(|f(x)|, |f(x+)|, |f(x-)|)`` and ``sigma`` the noise of f measured once near x
(``stencils.noise_probe``: ``NOISE_POINTS`` values along a random direction: it
catches float32 arithmetic or noisy internals that the dtype's eps would not).  The
precise directions (``tighten``, ``settle_small``) take the same ``sigma``: the noise of f
near x is a property of f there, and a direction through every entry changes every term
of f (a subset's direction changes fewer: no more noise).
``judge_direction(a, D, error)`` is the one judgement: *agree* when ``|a - D| <= error``,
*disagree* above it, *undecided* when D or its error is not finite.  First ``error =
R_S``; when that does not agree, two more calls at ``4 h_S`` measure the truncation,
``error = R_S + SAFETY |D(4h) - D(h)| / 15`` (the fixed-step rule of
``finite_diff.central_from_values``), and the direction is judged again.  When it then
agrees but the truncation ``T`` exceeds ``REFINE`` times the round-off ``R``, one more pair
at ``h' = h_S (R / 2T)**(1/3)``, the minimiser of ``R h_S / h' + T (h' / h_S)**2``, is
judged with that error (the measured ``c h**2`` model): a tighter bound for the set.
Only the directions that clear a whole pool do this (level 0, whose error is the bound
reported); ``--eps`` fixes the step and skips it.  A direction is
not judged by a *relative* error: ``a`` sums |S| entries, so a relative tolerance on it
would let an entry hide under ``pass_tol |g . w|``; the absolute error of D does not grow
with the size of that sum (its truncation grows with |S|, and is measured).

The guarantee: no entry that its own check would fail is cleared by exclusion
-----------------------------------------------------------------------------
Write ``e = g - grad f``.  If S agrees, ``|e . w| <= |a - D| + |D - grad f . w| <= 2
error_S``.  When j is the only wrong entry of S, ``|e . w| = |e_j| |w_j|`` with ``|w_j| = 1``
to rounding, *whatever the signs*: an agreeing S proves ``|e_j| <= 2 error_S``.  By the
one rule (``verdict.assess``) the direct check of entry j can fail it only when its error
exceeds ``verdict.radius(g_j, fail_tol) = fail_tol max(|g_j|, floor)`` (``--floor``, else
0), and cannot see an error below its own round-off ``noise_j`` (f's round-off at j's own
step ``eps**(1/3) max(|x_j|, 1)``).  So an agreeing S clears entry j only when::

    2 error_S <= cover_j = max(fail_tol max(|g_j|, floor), 2 noise_j)

An entry an agreeing S cannot cover (its claim is tiny or exactly 0) is not suspected: it
is set aside and settled in sets of its own (``settle_small``: exact differences for
claims that are exactly 0, precise directions for the others, four fresh directions that
must all agree) or checked directly.  A set that disagrees holds a wrong entry: it is
split and tested in smaller sets (whose truncation is smaller), down to single entries if
need be: *an entry that its own check would fail is
never declared clean by a set that could mask it* (certainly when it is the only wrong
entry of the set).  Several wrong entries in one set can cancel, but conditioning on the
other signs, the two values of ``e . w`` for ``w_j = +-1`` are ``2 |e_j|`` apart, so
``P(|e . w| < |e_j|) <= 1/2`` per fresh direction: the entries finally cleared by exclusion
in a block have passed ``directions`` (default 8) fresh directions *together*, so a
failing entry survives among them with probability at most ``2**-directions`` (0.4%)
even for adversarial errors (equal magnitudes, cancelling in pairs).

What a pass by exclusion proves is therefore weaker than a direct pass: ``|e_j| <= 2
error_S`` (``BlockOutcome.bound``; ``relative_bound`` divides it by the verdict's
denominator ``max(|g_j|, floor)``): never a failing error.  To make it a pass the cleared
sets are then verified (``tighten``): precise directions through them (the stencil
ladder of ``ladder``, the noise of f measured along each, sorted by magnitude and split
where they do not verify every entry), in extended precision where the code allows it
(precision lifting, on a budget of calls); an entry is ``pass`` by exclusion where its
bound is within ``verdict.radius(g_j, pass_tol)``.  ``--mode full`` measures every entry.

Search
------
Per block (blocks of at most ``2 directions`` entries are simply checked entry by entry,
which costs no more): test the block with up to ``directions`` directions; on the first
that does not clear it, bisect (breadth first): each half of a suspect set gets one fresh direction,
halves that do not clear are split again, sets of ``LEAF_SIZE`` or fewer entries are
checked directly.  The union of the sets cleared on the way is then re-verified with
``directions`` fresh directions (and bisected again if one fails; from then on each set
cleared is re-verified on its own, with its own step), so k wrong entries
among P cost about ``2 k log2 P`` directional checks of 2-4 calls each.  A block-wide bug
(at least 7/8 of ``BLOCKWIDE_SETS`` or more sets at one level suspect) stops the splitting:
``SAMPLE`` entries drawn from the suspect sets are checked directly; if one of them does
not pass, the block is reported with them and the other suspect entries are left
``UNCHECKED``; if all pass, the splitting goes on.

Blocks searched together (``_joint_groups``).  Adjacent blocks whose scales ``max(max |x|,
1)`` lie within ``JOINT_SCALE`` of each other (a layer's x, w and b; a network's W1, b1, W2,
b2) are first tested as one pool: each direction moves every entry of all of them, so a
correct gradient costs one set of ``directions`` directions and one verification of the
cleared entries, not one per block (a 16-entry bias is then not checked entry by entry).
The rules above are unchanged: a set is a set, whatever blocks its entries come from.  On
the first direction that does not clear the pool, the blocks are searched one by one as
above (which localises the wrong entries; the joint calls are spent); the entries the
pool's directions set aside as too small are settled block by block.

Direct checks (single entries, and ``check_every_entry``, the full mode)
------------------------------------------------------------------------
Central difference at ``h_j = eps**(1/3) max(|x_j|, 1)`` (2 calls, actual step
``(x_j+ - x_j-) / 2``), error ``SAFETY max(ULPS eps F, 3 sigma) / h_j``; when the verdict
with that error is not ``pass``, two more calls at ``4 h_j`` add the truncation term, as
above.  A pass within round-off is accepted without measuring truncation (for sets too):
the claimed value then equals the central difference to within the round-off of f, and
a wrong value could hide only by equalling that difference's truncation error.

The full mode's entries that such a difference agrees with but cannot verify (a small
entry of a large summed cost: the round-off of f over ``h_j`` exceeds ``pass_tol |g_j|``)
are verified together (``_verify``, ``verify_by_directions``): precise directions through
sets of them, sorted by magnitude, with longer steps for the smallest, then in extended
precision; only what they leave is estimated again one by one.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from enum import Enum
from typing import Callable, Iterable, Sequence

import numpy as np

from ..errors import NonFiniteCostError, OptionError, UserCodeError
# NOISE_POINTS: the search's probe size, read through this module by the tests
from ..finite_diff import (EPS, NOISE_POINTS, REL_STEP, ROUNDOFF_ULPS, SAFETY, SCALE_ULPS,  # noqa: F401
                           evidence, gradient_scale, value_eps)
from ..verdict import Agreement, Status, Thresholds, assess, judge_direction, radius, statuses_of
from .ladder import GROW_PATIENCE
from .params import Region, regions
from .stencils import jump_suspects, measured_noise, probe_table

#: an agreeing direction whose measured truncation exceeds REFINE x its round-off is redone
#: once at the step that minimises their sum (2 more calls: a tighter bound for its set)
REFINE = 4.0
#: default number of fresh directions that must all clear a block (miss probability 2**-8)
DIRECTIONS = 8
#: a set's step is KAPPA times the largest of its entries' steps (larger: less round-off,
#: more truncation, which grows with the set; 1 keeps the truncation of big sets measurable)
KAPPA = 1.0
#: sets of at most this many entries are checked entry by entry
LEAF_SIZE = 2
#: consecutive blocks whose scales ``max(max |x|, 1)`` lie within this factor of each other
#: are first tested together (``_joint_groups``): one set of directions for all of them
JOINT_SCALE = 4.0
#: block-wide bug: at a level of at least this many tested sets, 7/8 of them suspect...
BLOCKWIDE_SETS = 16
BLOCKWIDE_SHARE = 7 / 8
#: ...or more suspect sets than this at once
MAX_SUSPECTS = 256
#: entries set aside by agreeing directions (too small to clear): this many fresh precise
#: directions must agree on them together (a cancellation of their errors survives each
#: with probability 1/2), then those still not covered are checked directly, at most
SMALL_DIRECTIONS = 4
SMALL_MAX = 512
#: sets tested while settling the small entries (halves of a set that fails)
SETTLE_SETS = 64
#: entries checked directly to report a block-wide bug
SAMPLE = 32
#: re-verifications of a block's cleared entries before giving up on them
MAX_ROUNDS = 6
#: precise directions per block to verify its cleared entries, and the set size left to
#: the direct checks
TIGHT_MAX = 32
TIGHT_MAX_LIFTABLE = 6
TIGHT_LEAF = 4
#: ... and in extended precision (precision lifting) on the entries float64 left
LIFT_MAX = 12
#: the largest |v_j| of a float64 precise direction verifying a pool (``_Block.weights``)
MAX_WEIGHT = 16.0
#: ... on at most this many of its entries (else none)
MAX_WEIGHTED = 64
#: calls of one precise direction at most: noise table 7, reference 4, ladder 2 per rung
TIGHT_CALLS = 7 + 4 + 2 * (5 + 6)


class How(int, Enum):
    """How an entry got its outcome (``BlockOutcome.how``)."""

    EXCLUDED = 0  # in a set whose directions agreed and covered it: pass by exclusion
    CHECKED = 1  # checked directly: see numeric / noise
    UNCHECKED = 2  # in a suspect set of a block-wide bug, not sampled
    SKIPPED = 3  # not asked for (``check_every_entry(indices=...)``)
    STOPPED = 4  # not reached before the deadline (``--max-seconds``)


class Stopped(Exception):
    """The deadline passed (``--max-seconds``): raised before a call of the cost, caught by
    the search, which marks the entries it had not settled ``How.STOPPED``."""


class _Disagree(Exception):
    """A joint search (``_Block(joint=True)``) met a direction that does not clear its
    pool: the blocks are then searched one by one."""


def entry_status(analytic, numeric, noise, thresholds: Thresholds) -> np.ndarray:
    """The verdict of directly checked entries (``verdict``), as ``Status`` objects."""
    return statuses_of(analytic, numeric, noise, thresholds)


@dataclass(frozen=True)
class Direction:
    """One directional comparison: ``claimed = g . w`` vs ``numeric`` within ``error``.

    ``entries`` are the flat indices of S, ``step`` is ``h_S``, ``level`` the bisection
    depth (0: the whole block), ``calls`` 2 or 4 (the truncation was measured).
    """

    block: str
    entries: np.ndarray
    level: int
    claimed: float
    numeric: float
    error: float
    step: float
    calls: int
    agreement: Agreement

    @property
    def size(self) -> int:
        return int(len(self.entries))


def proved_scale(g, how, numeric, noise, bound) -> float:
    """The block's gradient scale ``G`` (``finite_diff.gradient_scale``) from the search's
    evidence: an entry checked directly proves ``|t| >= |n| - e``, one cleared by exclusion
    ``|t| >= |g| - bound`` (its bound holds as the clearing does); capped by the largest
    claim among them, so a bug cannot inflate it.  The zero rule's ``64 eps G`` is then
    the block's, not that of the few entries left for a direct look (a saturated unit's
    entries of 1e-10 in a block whose largest is 8)."""
    g = np.asarray(g, dtype=float)
    checked = np.asarray(how) == How.CHECKED
    cleared = (np.asarray(how) == How.EXCLUDED) & np.isfinite(np.asarray(bound, dtype=float))
    a = np.concatenate([g[checked], g[cleared]])
    n = np.concatenate([np.asarray(numeric, dtype=float)[checked], g[cleared]])
    e = np.concatenate([np.asarray(noise, dtype=float)[checked], np.asarray(bound, dtype=float)[cleared]])
    return gradient_scale(a, n, e)


def block_zero_scale(g, how, numeric, noise, bound) -> float:
    """The zero rule's round-off scale of the gradient for a block: ``SCALE_ULPS eps G``
    (``finite_diff.evidence``), ``G`` by ``proved_scale``."""
    return SCALE_ULPS * EPS * proved_scale(g, how, numeric, noise, bound)


@dataclass(frozen=True)
class BlockOutcome:
    """Per-entry outcome of one block (arrays over the block's entries, row-major).

    ``how`` holds ``How`` codes; ``numeric``/``noise`` are set where CHECKED (NaN
    elsewhere); ``bound`` where EXCLUDED: the proved bound ``2 error_S`` on ``|g_j - df/dx_j|``
    (when j is its set's only wrong entry).  ``blockwide`` when the splitting stopped on a
    block-wide bug.
    """

    name: str
    shape: tuple[int, ...]
    offset: int
    analytic: np.ndarray
    how: np.ndarray
    numeric: np.ndarray
    noise: np.ndarray
    bound: np.ndarray
    blockwide: bool
    calls: int
    least_noise: np.ndarray  # the round-off a direct check would give each entry, at least
    #: full mode: entries checked directly whose first look could not verify them and that
    #: precise directions then verified (``verify_by_directions``; numeric = claim, noise =
    #: the proved bound); None: none
    by_directions: np.ndarray | None = None
    #: entries checked directly whose one-sided slopes differ (``stencils.jump_suspects``):
    #: kink suspects, which the pipeline's shrinking one-sided test decides; None: none
    jumpy: np.ndarray | None = None
    #: the suspects' first-look one-sided slopes and step, rows ``(R, L, h)`` (NaN elsewhere):
    #: the shrinking test's first rung (``ladder.shrinking_kink``); None: no suspect
    sides: np.ndarray | None = None

    def scale(self) -> float:
        """``proved_scale`` of the block: ``G`` from every entry the search settled."""
        return proved_scale(self.analytic, self.how, self.numeric, self.noise, self.bound)

    def relative_bound(self, thresholds: Thresholds) -> np.ndarray:
        """Per EXCLUDED entry, the relative error it could still have (``bound /
        max(|g_j|, floor)``, the verdict's denominator: ``verdict.radius``); NaN elsewhere."""
        scale = radius(self.analytic, 1.0, thresholds)
        with np.errstate(all="ignore"):
            return np.where(self.how == How.EXCLUDED, self.bound / scale, np.nan)

    @property
    def checked(self) -> np.ndarray:
        """Indices (within the block) of the entries checked directly."""
        return np.flatnonzero(self.how == How.CHECKED)

    def statuses(self, thresholds: Thresholds) -> np.ndarray:
        """``Status`` of every CHECKED entry (in ``checked`` order)."""
        c = self.checked
        return entry_status(self.analytic[c], self.numeric[c], self.noise[c], thresholds)


@dataclass(frozen=True)
class AdaptiveResult:
    """What ``check_adaptive`` / ``check_every_entry`` found: per block, every entry.

    ``calls`` counts every call of the cost (noise probe included, the caller's first call
    excluded), ``seconds`` the wall time, ``sigma`` the measured noise of f.
    """

    blocks: tuple[BlockOutcome, ...]
    directions: tuple[Direction, ...]
    calls: int
    seconds: float
    sigma: float
    cost: float

    @property
    def entries(self) -> int:
        return sum(b.how.size for b in self.blocks)

    def flat(self, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(how, numeric, noise)`` over the flat parameter vector (how = -1 outside blocks)."""
        how = np.full(size, -1, dtype=np.int8)
        numeric, noise = np.full(size, np.nan), np.full(size, np.nan)
        for b in self.blocks:
            s = slice(b.offset, b.offset + b.how.size)
            how[s], numeric[s], noise[s] = b.how, b.numeric, b.noise
        return how, numeric, noise

    def wrong(self, thresholds: Thresholds) -> dict[str, np.ndarray]:
        """Block name -> flat indices (within the block) of directly checked entries proved
        wrong (``fail`` or ``warn`` by ``assess``; an entry whose first difference cannot
        decide is not wrong: the pipeline estimates it again)."""
        out = {}
        for b in self.blocks:
            st = b.statuses(thresholds)
            out[b.name] = b.checked[np.array([s in (Status.FAIL, Status.WARN) for s in st], dtype=bool)]
        return out


# ----------------------------------------------------------------------------- engine


#: the full mode's loop reports progress every this many entries
TICK = 16


class _Counter:
    """The cost function, counted; every call gets the same reshaped work buffer (the
    buffer itself when it has x's shape, else one view of it, made once).  Past
    ``deadline`` (a ``time.perf_counter()`` value) a call raises ``Stopped`` instead.
    (``_Engine._first_look`` does the same inline.)"""

    def __init__(self, cost: Callable[[np.ndarray], float], x: np.ndarray, deadline: float | None = None) -> None:
        self.cost = cost
        self.shape = x.shape
        self.calls = 0
        self.deadline = deadline
        self.at_x = False  # a non-finite cost at x itself is an error, elsewhere no value
        self._flat: np.ndarray | None = None  # the last buffer given, and its view of x's shape
        self._view: np.ndarray | None = None

    def __call__(self, flat: np.ndarray) -> float:
        if self.deadline is not None and time.perf_counter() > self.deadline:
            raise Stopped
        self.calls += 1
        with np.errstate(all="ignore"):
            return self._value(self.shaped(flat))

    def shaped(self, flat: np.ndarray) -> np.ndarray:
        """``flat`` with x's shape: itself when it has it, else one view of it, kept."""
        if flat.shape == self.shape:
            return flat
        if flat is not self._flat:
            self._view = flat.reshape(self.shape)
            self._flat = flat
        return self._view

    def _value(self, shaped: np.ndarray) -> float:
        try:
            return float(self.cost(shaped))
        except NonFiniteCostError:
            if self.at_x:  # at x itself: the caller's error
                raise
            return np.nan  # a step outside the domain (log at x below its step): no value


class _Engine:
    """State of one check: x, g, the work vector, the noise model, the records."""

    def __init__(self, cost, x, g, thresholds: Thresholds, f0: float | None, seed: int, progress,
                 step: float | None = None, deadline: float | None = None, truncation: bool = True) -> None:
        self.x = np.array(x, dtype=float).ravel()
        self.g = np.asarray(g, dtype=float).ravel()
        #: the cost in np.longdouble (precision lifting of the precise directions), or None
        self.lifted = None
        self._lifted_f0 = None
        if self.g.size != self.x.size:
            raise UserCodeError(f"gradient has {self.g.size} entries, x has {self.x.size}")
        self.f = _Counter(cost, np.asarray(x), deadline)
        self.truncation = truncation
        self.stopped = False
        self.work = self.x.copy()
        self.t = thresholds
        self.seed = int(seed)
        self.progress = progress
        self.step = None if step is None else float(step)
        if f0 is None:  # the first call: never refused by the deadline; non-finite is an error
            deadline, self.f.deadline = self.f.deadline, None
            self.f.at_x = True
            f0 = self.f(self.work)
            self.f.at_x = False
            self.f.deadline = deadline
        self.f0 = float(f0)
        self.directions: list[Direction] = []
        #: entries whose direct check's one-sided slopes differ (``stencils.jump_suspects``),
        #: and their first look's ``(R, L, h)`` by flat index
        self.jumpy = np.zeros(self.x.size, dtype=bool)
        self.sides: dict[int, tuple[float, float, float]] = {}
        self.sigma = 0.0
        #: the noise probe ran: ``sigma`` and ``eps`` are f's at x, shared by the precise
        #: directions (the noise of f near x is a property of f there, not of a direction)
        self.probed = False
        self.resolved = 0
        self.set_precision(EPS)

    # ------------------------------------------------------------------ noise model
    def probe(self, rng) -> None:
        """``probe_noise``, or ``stopped`` when the deadline passes during it."""
        try:
            self.probe_noise(rng)
        except Stopped:
            self.stopped = True

    def probe_noise(self, rng) -> None:
        """``sigma``: the one noise probe (``stencils.noise_probe``) along a random +-1 direction."""
        v = rng.choice(np.array([-1.0, 1.0]), size=self.x.size)
        table = probe_table(self.f, self.x, v, f0=self.f0)
        self.sigma = float(measured_noise(table))
        self.set_precision(value_eps(table))
        self.probed = True

    def set_precision(self, eps: float) -> None:
        """The precision of the values (``eps``: float32's for float32 code): their
        round-off, and the steps of the 2-point checks, ``eps**(1/3) max(|x|, 1)`` in it."""
        self.eps = max(float(eps), EPS)
        self.rel_step = REL_STEP * (self.eps / EPS) ** (1 / 3)

    def _roundoff(self, F: float, h) -> np.ndarray:
        return SAFETY * np.maximum(ROUNDOFF_ULPS * self.eps * F, 3 * self.sigma) / h

    def entry_floor_noise(self, idx: np.ndarray) -> np.ndarray:
        """The least noise a direct check can give these entries (round-off at |f(x)|)."""
        return self._roundoff(abs(self.f0), self.entry_steps(idx))

    def entry_steps(self, idx: np.ndarray) -> np.ndarray:
        """Steps of direct checks: ``eps**(1/3) max(|x_j|, 1)``, or the fixed step."""
        if self.step is not None:
            return np.full(idx.size, self.step)
        return self.rel_step * np.maximum(np.abs(self.x[idx]), 1.0)

    # ------------------------------------------------------------------ evaluations
    def _pair(self, idx: np.ndarray, d: np.ndarray) -> tuple[float, float, np.ndarray]:
        """f at x + d and x - d on ``idx``; returns (f+, f-, actual half-differences)."""
        w = self.work
        base = self.x[idx]
        try:
            w[idx] = base + d
            plus_pts = w[idx].copy()
            fp = self.f(w)
            w[idx] = base - d
            minus_pts = w[idx]
            fm = self.f(w)
        finally:
            w[idx] = base
        return fp, fm, (plus_pts - minus_pts) / 2

    def direction(self, name: str, idx: np.ndarray, level: int, rng) -> Direction:
        """One fresh directional check of the set ``idx`` (see the module docstring)."""
        v = rng.choice(np.array([-1.0, 1.0]), size=idx.size)
        h = self.step if self.step is not None else KAPPA * self.rel_step * max(float(np.max(np.abs(self.x[idx]))), 1.0)
        g = self.g[idx]
        with np.errstate(all="ignore"):
            fp, fm, half = self._pair(idx, h * v)
            wv = half / h
            claimed = float(np.dot(g, wv))
            numeric = (fp - fm) / (2 * h)
            dot = (ROUNDOFF_ULPS + math.log2(idx.size + 1)) * EPS * float(np.sum(np.abs(g * wv)))
            F = max(abs(self.f0), abs(fp), abs(fm))
            error = float(self._roundoff(F, h)) + SAFETY * dot
        calls = 2
        verdict = judge_direction(claimed, numeric, error)
        if verdict is not Agreement.AGREE and math.isfinite(claimed) and math.isfinite(numeric):
            with np.errstate(all="ignore"):
                fp4, fm4, half4 = self._pair(idx, 4 * h * v)
                d4 = (fp4 - fm4) / (8 * h)
                # the rounded points differ slightly from 4x the first ones: correct D(4h) by g . dw
                shift = float(np.dot(g, half4 / (4 * h) - wv))
                F = max(F, abs(fp4), abs(fm4))
                error = float(self._roundoff(F, h)) + SAFETY * dot + SAFETY * abs(d4 - shift - numeric) / 15
            calls = 4
            verdict = judge_direction(claimed, numeric, error)
            rnd = float(self._roundoff(F, h)) + SAFETY * dot
            trunc = error - rnd
            if verdict is Agreement.AGREE and level == 0 and self.step is None and trunc > REFINE * rnd:
                # truncation dominates: one more pair at the step that minimises rnd h / h' + trunc (h' / h)**2
                # (the measured c h**2 model) tightens the error this set is cleared with
                r = (rnd / (2 * trunc)) ** (1 / 3)
                with np.errstate(all="ignore"):
                    fpr, fmr, halfr = self._pair(idx, r * h * v)
                    hr = r * h
                    claimed_r = float(np.dot(g, halfr / hr))
                    numeric_r = (fpr - fmr) / (2 * hr)
                    Fr = max(abs(self.f0), abs(fpr), abs(fmr))
                    error_r = float(self._roundoff(Fr, hr)) + SAFETY * dot + trunc * r * r
                calls = 6
                verdict = judge_direction(claimed_r, numeric_r, error_r)
                claimed, numeric, error, h = claimed_r, numeric_r, error_r, hr
        d = Direction(name, idx, level, claimed, float(numeric), float(error), h, calls, verdict)
        self.directions.append(d)
        return d

    def precise(self, idx: np.ndarray, rng, target: float, lift: bool = False,
                reach: float = 1.0, patience: int = 1, weights: np.ndarray | None = None) -> tuple[float, float]:
        """One directional check of ``idx`` by the stencil ladder (``ladder``):
        ``(|g . v - D_v|, error)`` with ``D_v`` the order-6 estimate along fresh signs ``v``
        and ``error`` its bound (noise of f measured along ``v``); ``target`` is the error
        the verdict needs.  An agreeing direction bounds a lone wrong entry by twice
        ``|g . v - D_v| + error``... as ``direction``: ``|e_j| <= |a - D| + error``.
        ``reach`` multiplies the ladder's first step (longer steps: less round-off, for a
        small entry of a large cost; the ladder's agreement of orders bounds the truncation).
        ``patience``: the ladder's (``derivative_along``).  ``weights`` (powers of 2, so
        that ``g_j v_j`` stays exact): ``|v_j|``, 1 where not given; a lone wrong entry is
        then bounded by ``(|a - D| + error) / |v_j|`` (``_Block.weights``)."""
        from .ladder import LOW_PRECISION, MAX_STRETCH, derivative_along, measured_noise

        v = rng.choice(np.array([-1.0, 1.0]), size=idx.size)
        if weights is not None:
            v = v * weights
        scale = max(float(np.max(np.abs(self.x[idx]))), 1.0)
        # a direction through many entries varies faster than one entry: start shorter
        h0 = 0.1 * float(reach) * scale * idx.size ** -0.25
        g = self.g[idx]
        claimed = float(np.dot(g, v))
        lift = lift and self.lifted is not None and getattr(self.lifted, "usable", True)
        if lift:  # precision lifting: the direction in extended precision
            if self._lifted_f0 is None:
                if hasattr(self.lifted, "base"):  # the value at x, shared with the re-estimates
                    lw, self._lifted_f0 = self.lifted.base(self.x, self.f.shape)
                    self._lifted_work = lw.copy()
                else:
                    self._lifted_work = self.x.astype(np.longdouble)
                    self._lifted_f0 = self._lifted_call(self._lifted_work)
            w, f, f0, eps = self._lifted_work, self._lifted_call, self._lifted_f0, float(np.finfo(np.longdouble).eps)
        else:
            w, f, f0, eps = self.work, self.f, self.f0, self.eps
        base = w[idx].copy()

        def at(t: float) -> tuple[float, np.ndarray]:
            w[idx] = base + t * v
            pts = w[idx].copy()
            try:
                val = f(w)
            except NonFiniteCostError:  # a step outside the domain: no value there
                val = np.nan
            finally:
                w[idx] = base
            return val, pts

        if lift:  # extended precision: truncation, not round-off, limits the ladder
            h0 /= 4
        shared = getattr(self.lifted, "noise", None) if lift else None
        if shared is not None:  # measured by an earlier lifted direction at x (``Lifted.note_noise``)
            table, sigma = [f0], shared
        elif not lift and self.probed:
            # float64: the probe's noise, measured along a direction through every entry
            # (moving fewer entries changes fewer terms of f: no more noise), and its precision
            table, sigma = [f0], self.sigma
        else:
            table = [f0] + [at(k * 1e-6 * h0)[0] for k in range(1, 6 if lift else 8)]
            sigma = measured_noise(np.array(table))
            if lift and hasattr(self.lifted, "note_noise"):
                self.lifted.note_noise(sigma)
        if not lift:
            # values of a coarse precision (float32 code): its round-off, and longer steps
            # (``ladder.entry_derivative`` does the same for one entry)
            eps = max(eps, value_eps(np.array(table, dtype=float)) if len(table) > 1 else eps)
            if eps > LOW_PRECISION * EPS:
                h0 *= min((eps / EPS) ** (1 / 7), MAX_STRETCH)

        def pair(t: float) -> tuple[float, float, float]:
            fp, pp = at(t)
            fm, pm = at(-t)
            with np.errstate(all="ignore"):
                shift = float(np.dot(g, np.asarray((pp - pm) / (2 * t), dtype=float) - v))
            return fp, fm, shift

        ref = widen = None
        if not lift:  # a short-step estimate the ladder must agree with (see ``derivative_along``)
            hs = self.rel_step * scale
            p1, m1, s1 = pair(hs)
            with np.errstate(all="ignore"):
                d1 = float((p1 - m1) / (2 * hs)) - s1
                F1 = float(max(abs(f0), abs(p1), abs(m1)))
                ref = (d1, SAFETY * max(ROUNDOFF_ULPS * eps * F1, 3 * sigma) / hs)

            def widen() -> tuple[float, float]:
                # its truncation, measured at 4 hs only when the ladder is apart from it at
                # round-off (2 calls), as a coarse direction measures its own
                p4, m4, s4 = pair(4 * hs)
                with np.errstate(all="ignore"):
                    d4 = float((p4 - m4) / (8 * hs)) - s4
                    F = float(max(F1, abs(p4), abs(m4)))
                    return d1, SAFETY * max(ROUNDOFF_ULPS * eps * F, 3 * sigma) / hs + SAFETY * abs(d4 - d1) / 15
        dot = self.claim_error(idx, weights)
        r = derivative_along(pair, h0, f0, noise=sigma, eps=eps, target=target, reference=ref, patience=patience,
                             widen=widen, defer=2 if patience > 1 else 0)
        with np.errstate(all="ignore"):
            return abs(claimed - r.value), r.error + dot

    def claim_error(self, idx: np.ndarray, weights: np.ndarray | None = None) -> float:
        """The allowance of a precise direction's claim ``g . v`` for rounding (its sum,
        and the claims' own round-off, which the verdict tolerates): ``SAFETY (ULPS +
        log2 |S|) eps sum_S |g v|``, a floor under the error of any direction through S."""
        a = np.abs(self.g[idx]) if weights is None else np.abs(self.g[idx]) * weights
        with np.errstate(all="ignore"):
            return SAFETY * (ROUNDOFF_ULPS + math.log2(idx.size + 1)) * EPS * float(np.sum(a))

    def need(self, s: np.ndarray) -> float:
        """The error a precise direction through ``s`` (sorted by |claim|, largest first)
        needs: a quarter of ``pass_tol`` of the claim at its 90th percentile."""
        return self.t.pass_tol * float(np.abs(self.g[s][int(0.9 * (s.size - 1))])) / 4

    def _lifted_call(self, w: np.ndarray):
        """The lifted cost at the longdouble work vector (counted as a call of the code)."""
        self.f.calls += 1
        with np.errstate(all="ignore"):
            return self.lifted(w.reshape(self.f.shape))

    def _pair1(self, j: int, d: float) -> tuple[float, float, float]:
        """``_pair`` for one entry (scalar indexing: the loop of the full mode)."""
        w = self.work
        base = self.x[j]
        try:
            w[j] = base + d
            plus = w[j]
            fp = self.f(w)
            w[j] = base - d
            minus = w[j]
            fm = self.f(w)
        finally:
            w[j] = base
        return fp, fm, (plus - minus) / 2

    def direct(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """Central differences of single entries (2 calls, 4 when not passing at round-off
        and ``truncation``); returns (value, noise, how many entries were reached before
        the deadline: the first ones of ``idx``; ``stopped`` is then set)."""
        idx = np.asarray(idx, dtype=np.int64)
        steps = self.entry_steps(idx)
        fp, fm, hh = np.full(idx.size, np.nan), np.full(idx.size, np.nan), np.ones(idx.size)
        plus, minus, half = self._first_look(idx.tolist(), steps.tolist())
        reached = len(plus)
        fp[:reached], fm[:reached], hh[:reached] = plus, minus, half
        with np.errstate(all="ignore"):
            value = (fp - fm) / (2 * hh)
            F = np.maximum(abs(self.f0), np.maximum(np.abs(fp), np.abs(fm)))
            noise = self._roundoff(F, hh)
            suspect = jump_suspects(self.f0, fp, fm, hh, noise * hh / SAFETY)[:reached]
            self.jumpy[idx[:reached]] = suspect
            # their one-sided slopes over the steps taken (the points as rounded, as the
            # loop made them), kept for the shrinking test's first rung
            n = np.flatnonzero(suspect)
            base, d = self.x[idx[n]], steps[n]
            right, left = (fp[n] - self.f0) / ((base + d) - base), (self.f0 - fm[n]) / (base - (base - d))
            self.sides.update(zip(idx[n].tolist(), zip(right.tolist(), left.tolist(), hh[n].tolist())))
        st = entry_status(self.g[idx], value, noise, self.t)
        redo = np.flatnonzero(np.isfinite(value) & np.array([s is not Status.PASS for s in st], dtype=bool))
        for n in redo.tolist() if self.truncation and not self.stopped else ():
            # measure the truncation: two more calls at 4h (the full mode leaves this to the re-estimate)
            try:
                fp4, fm4, h4 = self._pair1(int(idx[n]), 4 * float(steps[n]))
            except Stopped:
                self.stopped = True
                break
            with np.errstate(all="ignore"):
                d4 = (fp4 - fm4) / (2 * h4)
                F4 = max(F[n], abs(fp4), abs(fm4))
                noise[n] = float(self._roundoff(F4, hh[n])) + SAFETY * abs(d4 - value[n]) / 15
        bad = ~(np.isfinite(value) & np.isfinite(noise))
        return np.where(bad, np.nan, value), np.where(bad, np.inf, noise), reached

    def _first_look(self, idx: list, steps: list) -> tuple[list, list, list]:
        """The two calls of each entry, ``f(x + h_j e_j)`` and ``f(x - h_j e_j)``:
        ``(f+, f-, half-differences of the points as rounded)``, lists over the entries
        reached before the deadline (``stopped`` is then set).  ``_pair1`` and ``_Counter``
        inlined, as this loop is the whole of the full mode's own cost per call: one
        ``np.errstate`` around it, the work vector written through a memoryview (half the
        cost of numpy's scalar assignment), progress every ``TICK`` entries."""
        w, f = self.work, self.f
        cost, deadline, clock = f.cost, f.deadline, time.perf_counter
        shaped = f.shaped(w)
        put = memoryview(w)  # w: the flat float64 copy of x (``__init__``)
        xs = self.x[np.asarray(idx, dtype=np.int64)].tolist()
        fp: list = []
        fm: list = []
        hh: list = []
        told = 0
        try:
            with np.errstate(all="ignore"):
                for n, j in enumerate(idx):
                    base, d = xs[n], steps[n]
                    try:
                        if deadline is not None and clock() > deadline:
                            raise Stopped
                        put[j] = plus = base + d
                        f.calls += 1
                        try:
                            vp = float(cost(shaped))
                        except NonFiniteCostError:  # a step outside the domain: no value
                            vp = math.nan
                        if deadline is not None and clock() > deadline:
                            raise Stopped
                        put[j] = minus = base - d
                        f.calls += 1
                        try:
                            vm = float(cost(shaped))
                        except NonFiniteCostError:
                            vm = math.nan
                    except Stopped:
                        self.stopped = True
                        break
                    finally:
                        put[j] = base
                    fp.append(vp)
                    fm.append(vm)
                    hh.append((plus - minus) / 2)
                    if n + 1 - told >= TICK:
                        self.tick(n + 1 - told)
                        told = n + 1
        finally:
            if len(fp) > told:
                self.tick(len(fp) - told)
        return fp, fm, hh

    def tick(self, n: int) -> None:
        """Progress: ``n`` more entries have their outcome (a re-verified entry may count twice)."""
        self.resolved = min(self.resolved + n, self.x.size)
        if self.progress is not None:
            self.progress(self.resolved, self.x.size)


class _Block:
    """The search inside one block (module docstring, Search)."""

    def __init__(self, eng: _Engine, region: Region, index: int, directions: int, joint: bool = False) -> None:
        self.e = eng
        self.r = region
        self.m = directions
        #: a joint pool of several blocks (``_joint_groups``): raise ``_Disagree`` on the first
        #: direction that does not clear it, instead of bisecting
        self.joint = joint
        #: the flat ranges of the blocks in this pool (one, unless joint)
        self.parts = [(region.offset, region.offset + region.size)]
        self.rng = np.random.default_rng([eng.seed, index] if not joint else [eng.seed, index, 1])
        n = region.size
        self.how = np.full(n, How.EXCLUDED.value, dtype=np.int8)
        self.numeric, self.noise, self.bound = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
        idx = np.arange(region.offset, region.offset + n)
        self.least_noise = eng.entry_floor_noise(idx)
        # an entry is cleared when its proved error is within the radius at which its own
        # direct check could fail it (``verdict.radius`` at fail_tol), or within that
        # check's own round-off, which no direct check can see past
        self.cover = np.maximum(radius(eng.g[idx], eng.t.fail_tol, eng.t), 2 * self.least_noise)
        self.blockwide = False
        self.allow_blockwide = True
        self.small: list[np.ndarray] = []  # entries agreeing directions could not cover
        self.calls0 = eng.f.calls

    def local(self, flat_idx: np.ndarray) -> np.ndarray:
        return flat_idx - self.r.offset

    def check(self, idx: np.ndarray) -> None:
        """Check these flat indices directly."""
        if idx.size == 0:
            return
        num, noi, reached = self.e.direct(idx)
        loc = self.local(idx[:reached])
        self.how[loc] = How.CHECKED.value
        self.numeric[loc], self.noise[loc] = num[:reached], noi[:reached]
        if reached < idx.size:
            raise Stopped

    def test(self, idx: np.ndarray, level: int) -> tuple[np.ndarray, np.ndarray, float]:
        """One direction on ``idx``: (cleared entries, entries still suspect, error).

        An agreeing direction clears the entries it covers; the others (their failing
        radius is below what the set can prove: tiny entries) are set aside for a direct
        check (``small``), not suspected: nothing says they are wrong."""
        d = self.e.direction(self.r.name, idx, level, self.rng)
        if d.agreement is not Agreement.AGREE:
            return idx[:0], idx, d.error
        covered = self.cover[self.local(idx)] >= 2 * d.error
        self.small.append(idx[~covered])
        return idx[covered], idx[:0], d.error

    def bisect(self, suspect: np.ndarray, level: int) -> list[tuple[np.ndarray, float]]:
        """Breadth-first splitting of a suspect set; returns the cleared sets with their errors."""
        cleared: list[tuple[np.ndarray, float]] = []
        frontier = [suspect]
        while frontier:
            tested, nxt = 0, []
            for s in frontier:
                if s.size <= LEAF_SIZE:
                    self.check(s)
                    continue
                mid = s.size // 2
                for half in (s[:mid], s[mid:]):
                    if half.size <= LEAF_SIZE:
                        self.check(half)
                        continue
                    tested += 1
                    ok, bad, err = self.test(half, level + 1)
                    if ok.size:
                        cleared.append((ok, err))
                    if bad.size:
                        nxt.append(bad)
            level += 1
            frontier = nxt
            if frontier and self.allow_blockwide and (
                (tested >= BLOCKWIDE_SETS and len(nxt) >= BLOCKWIDE_SHARE * tested) or len(nxt) > MAX_SUSPECTS
            ):
                if self.sample(frontier):
                    return cleared
        return cleared

    def verified(self, idx: np.ndarray) -> np.ndarray:
        """Entries of ``idx`` whose bound verifies them (``verdict.assess``: the truth
        interval ``g_j ± bound_j`` within ``pass_tol``, or an exact zero within the
        round-off a direct check would give it)."""
        loc = self.local(idx)
        a = self.e.g[idx]
        with np.errstate(all="ignore"):
            # the zero rule as the verdict applies it: a claim within 64 eps G of the truth
            # (``block_zero_scale``; not for an exact zero, which has its own rule below)
            res = assess(a, a, self.bound[loc], self.e.t, zero_scale=np.where(a != 0, self.zero_scale(), 0.0))
        return (res.code == 0) | ((a == 0) & (self.bound[loc] <= self.least_noise[loc]))

    def zero_scale(self) -> float:
        """``block_zero_scale`` of this block as far as the search has gone."""
        sl = self.r.slice
        return block_zero_scale(self.e.g[sl], self.how, self.numeric, self.noise, self.bound)

    def settle_small(self, small: np.ndarray) -> np.ndarray:
        """Entries too small for the coarse directions to clear, settled in sets (at most
        ``SETTLE_SETS`` tests): a set of claims that are exactly 0 (a dead relu unit, an
        input that does not reach the cost) is cleared, with bound 0, when ``f(x + h v) ==
        f(x - h v)`` exactly in ``SMALL_DIRECTIONS`` fresh directions (the zero rule for a
        set: a cancellation to the last bit in random directions is no chance event);
        another set when ``SMALL_DIRECTIONS`` fresh precise directions (the ladder) all
        agree, the entries their bound covers.  A set that fails is split in halves (a kink
        inside one entry's stencil spoils only its half).  Then, when the code allows it,
        precise directions in extended precision tighten the bound of those cleared but
        not yet verified.  Returns the entries left for direct checks."""
        if self.e.step is not None or small.size <= TIGHT_LEAF:
            return small
        g = self.e.g
        frontier = [p for p in (small[g[small] == 0], small[g[small] != 0]) if p.size]
        left, cleared, tests = [], [], 0
        while frontier and tests < SETTLE_SETS:
            part = frontier.pop(0)
            if part.size <= TIGHT_LEAF:
                left.append(part)
                continue
            tests += 1
            if np.all(g[part] == 0):
                if all(d.numeric == 0 and d.claimed == 0 for d in
                       (self.e.direction(self.r.name, part, 0, self.rng) for _ in range(SMALL_DIRECTIONS))):
                    self.bound[self.local(part)] = 0.0
                    continue
            else:
                need = self.e.t.pass_tol * float(np.median(np.abs(g[part]))) / 4
                bounds = []
                for _ in range(SMALL_DIRECTIONS):
                    diff, err = self.e.precise(part, self.rng, need)
                    if not (np.isfinite(diff) and np.isfinite(err)) or diff > err:
                        break
                    bounds.append(2 * (diff + err))
                if len(bounds) == SMALL_DIRECTIONS:
                    loc = self.local(part)
                    ok = self.cover[loc] >= min(bounds)
                    self.bound[loc[ok]] = min(bounds)
                    cleared.append(part[ok])
                    if np.any(~ok):
                        left.append(part[~ok])
                    continue
            frontier += [part[: part.size // 2], part[part.size // 2:]]
        left += frontier
        if self.e.lifted is not None and cleared:
            c = np.concatenate(cleared)
            self._tighten([(c[~self.verified(c)], False)], LIFT_MAX, lift=True)
        return np.concatenate(left) if left else small[:0]

    def tighten(self, pool: np.ndarray) -> None:
        """Verify the cleared pool to ``pass_tol`` where the magnitudes allow: precise
        directions (the stencil ladder) on the entries not yet verified, largest first;
        a set that does not verify all its entries is split by magnitude, down to
        ``TIGHT_LEAF`` entries (left to the direct checks), at most ``TIGHT_MAX``
        directions.  A float64 direction's ladder aims at the set's least claim
        (``least_need``), grows with patience 2 and defers its two finest rungs
        (``ladder.derivative_along``): where round-off limits it, its longer rungs verify
        the small entries a second direction would be spent on.  Then, when the code
        computes in the dtype it is given (precision lifting), at most ``LIFT_MAX`` more in
        extended precision on what is left."""
        if self.e.step is not None:
            return
        # float64's precise directions reach their floor in a few sets: with extended
        # precision at hand the rest is left to it (one lifted direction verifies more
        # than many float64 ones, at the price of ~20 of their calls)
        # (asked only when sets are left after that: a lazily probed cost, ``checks.common.LazyLifted``,
        # is then probed; code that does not lift goes on with float64 up to ``TIGHT_MAX``)
        todo, kept = [(pool[~self.verified(pool)], False)], []
        left = self._tighten(todo, TIGHT_MAX_LIFTABLE if self.e.lifted is not None else TIGHT_MAX, lift=False, kept=kept)
        if left and self.e.lifted is not None and not getattr(self.e.lifted, "available", True):
            left = self._tighten(todo, TIGHT_MAX - TIGHT_MAX_LIFTABLE, lift=False, kept=kept)
        if self.e.lifted is not None and left and getattr(self.e.lifted, "usable", True):
            self._tighten([(np.sort(np.concatenate(left)), False)], LIFT_MAX, lift=True)

    def _tighten(self, todo: list[tuple[np.ndarray, bool]], budget: int, lift: bool,
                 kept: list[np.ndarray] | None = None) -> list[np.ndarray]:
        """The sets left: ``kept`` (given: filled in place, and ``todo`` left as the queue, so
        a second call goes on where the first stopped) and the queue not reached.  ``todo``
        holds ``(set, tail)``, ``tail`` when the set is the rest a direction left unverified."""
        done, kept = 0, [] if kept is None else kept
        while todo and done < budget:
            s, tail = todo.pop(0)
            # a leaf is left to the direct checks, unless it is what an agreeing direction
            # left unverified: one more direction (~14 calls) then costs less than the
            # per-entry ladder its entries would get (~26 calls each)
            if s.size <= TIGHT_LEAF and not tail:
                kept.append(s)
                continue
            s = s[np.argsort(-np.abs(self.e.g[s]), kind="stable")]
            # (a bound 2 (diff + err) within the zero rule's scale verifies too)
            need = max(self.e.need(s) if lift else self.least_need(s), self.zero_scale() / 4)
            if lift and not getattr(self.e.lifted, "usable", True):
                kept.append(s)
                break
            w = None if lift else self.weights(s)
            diff, err = self.e.precise(s, self.rng, need, lift=lift, patience=1 if lift else GROW_PATIENCE, weights=w)
            done += 1
            if not (np.isfinite(diff) and np.isfinite(err)) or diff > err:
                kept.append(s)
                continue  # disagrees beyond its bound: the coarse clearing stands
            loc = self.local(s)
            self.bound[loc] = np.fmin(self.bound[loc], 2 * (diff + err) / (1.0 if w is None else w))
            rest = s[~self.verified(s)]
            if rest.size == s.size:
                todo += [(rest[: rest.size // 2], False), (rest[rest.size // 2:], False)]
            elif rest.size:
                todo.append((rest, True))
        return [s for s in kept + [t for t, _ in todo] if s.size]

    def weights(self, s: np.ndarray) -> np.ndarray | None:
        """``|v_j|`` of a float64 precise direction through ``s``: 1, but a power of 2 up to
        ``MAX_WEIGHT`` for a claim below what its bound could verify, about ``4 C`` (the
        claim's allowance ``C``, ``claim_error``, is a floor under its error): ``2**k >= 8
        C / (pass_tol |g_j|)``, at most ``MAX_WEIGHT`` (given where ``4 MAX_WEIGHT`` would do).  The direction's round-off
        (noise of f over its step) does not grow with them, and ``C`` only by those few
        terms: the small entries get bounds ``2**k`` times tighter in the same direction.
        Only for at most ``MAX_WEIGHTED`` such entries (a few smallest of a set: longer
        steps for thousands of them cross the kinks of a relu network's tiny pre-activations,
        and the direction then verifies less).
        A lone wrong entry j has ``|e_j| |v_j| = |e . v| <= |a - D| + error``; several
        cancel in it with probability at most 1/2 (the two values of ``e . v`` for ``v_j =
        +-|v_j|`` are ``2 |e_j| |v_j|`` apart), as with unit signs.  None: all 1."""
        a = self.e.t.pass_tol * np.abs(self.e.g[s])
        C = self.e.claim_error(s)
        with np.errstate(all="ignore"):
            k = np.ceil(np.log2(8 * C / a))
        top = math.log2(MAX_WEIGHT)
        # (up to 4 MAX_WEIGHT wanted: MAX_WEIGHT, as 8 C is twice the bound usually seen)
        k = np.where(np.isfinite(k) & (a > 0) & (k > 0) & (k <= top + 2), np.minimum(k, top), 0)
        n = int(np.count_nonzero(k))
        return np.exp2(k) if 0 < n <= MAX_WEIGHTED else None

    def least_need(self, s: np.ndarray) -> float:
        """The error a float64 precise direction through ``s`` aims at (the ladder's
        ``target``; below ``need(s)``): what verifies its least claim ``a`` with ``2 (diff +
        err) <= pass_tol a`` when ``diff`` is at most ``err`` and the claim's allowance ``C``
        (``claim_error``) is part of ``err``: ``(pass_tol a - 2 C) / 4``, for the least claim
        where that is at least ``C / 2`` (below it, the allowance, not the ladder, limits).
        Where round-off limits the ladder, its longer rungs (``ladder._Growth``, 2 calls
        each) then verify the small entries a direction of their own (~14 calls) would
        otherwise be spent on; the ladder stops growing where that no longer pays, and
        only the bound it reports verifies."""
        need = self.e.need(s)
        C = self.e.claim_error(s)
        a = self.e.t.pass_tol * np.abs(self.e.g[s])
        a = a[a >= 4 * C]
        return min(need, (float(np.min(a)) - 2 * C) / 4) if a.size else need

    def sample(self, frontier: list[np.ndarray]) -> bool:
        """Block-wide bug?  Check SAMPLE entries of the suspect sets; True when one fails."""
        pool = np.concatenate(frontier)
        if pool.size <= 2 * SAMPLE:  # as cheap to check them all
            pick = np.sort(pool)
        else:
            pick = np.sort(self.rng.choice(pool, size=SAMPLE, replace=False))
        self.check(pick)
        loc = self.local(pick)
        st = entry_status(self.e.g[pick], self.numeric[loc], self.noise[loc], self.e.t)
        if not any(s in (Status.FAIL, Status.WARN) for s in st):
            # no sample proved wrong: scattered wrong entries, not a block-wide bug
            self.allow_blockwide = False
            return False
        rest = np.setdiff1d(pool, pick)
        self.how[self.local(rest)] = How.UNCHECKED.value
        self.e.tick(rest.size)
        self.blockwide = True
        return True

    def run(self) -> BlockOutcome:
        """The search of the block (module docstring); past the deadline the entries it had
        not settled (neither cleared for good nor checked) are ``STOPPED``."""
        e, r = self.e, self.r
        idx = np.arange(r.offset, r.offset + r.size)
        try:
            if e.stopped:
                raise Stopped
            self._search(idx)
        except Stopped:
            e.stopped = True
            unsettled = (self.how == How.EXCLUDED) & ~np.isfinite(self.bound)
            self.how[unsettled] = How.STOPPED.value
        return self.outcome()

    def outcome(self) -> BlockOutcome:
        e, r = self.e, self.r
        return BlockOutcome(
            name=r.name, shape=r.shape, offset=r.offset, analytic=e.g[r.slice].copy(), how=self.how,
            numeric=self.numeric, noise=self.noise, bound=self.bound, blockwide=self.blockwide,
            calls=e.f.calls - self.calls0, least_noise=self.least_noise,
            by_directions=getattr(self, "by_directions", None), jumpy=e.jumpy[r.slice].copy(),
            sides=self._sides(),
        )

    def _sides(self) -> np.ndarray | None:
        """``BlockOutcome.sides`` of this block from the engine's record."""
        e, r = self.e, self.r
        mine = [(j - r.offset, v) for j, v in e.sides.items() if r.offset <= j < r.offset + r.size]
        if not mine:
            return None
        out = np.full((3, r.size), np.nan)
        for j, v in mine:
            out[:, j] = v
        return out

    def _search(self, idx: np.ndarray) -> None:
        e = self.e
        finite = np.isfinite(e.g[idx])
        bad = idx[~finite]
        if bad.size:  # a non-finite claimed value fails: no search; the numeric value of SAMPLE of them
            shown = bad if bad.size <= 2 * SAMPLE else bad[:SAMPLE]
            rest = np.setdiff1d(bad, shown)
            self.check(shown)
            loc = self.local(rest)
            self.how[loc] = How.CHECKED.value
            self.noise[loc] = self.least_noise[loc]
            e.tick(rest.size)
        pool = idx[finite]
        if pool.size <= max(LEAF_SIZE, 2 * self.m):  # checking each entry costs no more than 2m calls
            self.check(pool)
            pool = pool[:0]
        pools = [pool] if pool.size else []
        for rnd in range(MAX_ROUNDS):
            if not pools:
                break
            nxt = []
            for pool in pools:
                errors = []
                for _ in range(self.m):
                    ok, sus, err = self.test(pool, 0)
                    errors.append(err)
                    if sus.size and self.joint:
                        raise _Disagree
                    if sus.size:
                        break
                    pool = ok  # the entries it could not cover are set aside (``small``)
                    if not pool.size:
                        break
                else:  # every direction agreed and covered the pool: cleared for good
                    self.bound[self.local(pool)] = 2 * min(errors)
                    self.tighten(pool)
                    e.tick(pool.size)
                    continue
                if not pool.size:  # every entry set aside (too small to clear): ``small``
                    continue
                cleared = self.bisect(pool, 0)
                if rnd == 0:  # the union of the cleared sets is re-verified at once
                    nxt += [np.sort(np.concatenate([s for s, _ in cleared]))] if cleared else []
                else:
                    # the union failed again: its step (from its largest |x|) may reach a kink
                    # that the smaller sets' steps do not (relu at 40,000 N(0, 1) entries), so a
                    # re-verified union never clears and every entry would be left to a direct
                    # check (n calls of an O(n) function); re-verify each cleared set alone
                    nxt += [np.sort(s) for s, _ in cleared]
            pools = nxt
        for pool in pools:  # never verified in MAX_ROUNDS: left unchecked rather than passed
            self.how[self.local(pool)] = How.UNCHECKED.value
            e.tick(pool.size)
        small = np.unique(np.concatenate(self.small)) if self.small else idx[:0]
        small = small[self.how[self.local(small)] == How.EXCLUDED.value]
        small = small[np.isnan(self.bound[self.local(small)])]  # not cleared after all
        # set aside by agreeing directions: precise directions, then direct checks, block by
        # block (a joint pool's small entries are settled in their own blocks' sets)
        for lo, hi in self.parts:
            part = small[(small >= lo) & (small < hi)]
            if part.size:
                part = self.settle_small(part)
                self.check(part[:SMALL_MAX])
                self.how[self.local(part[SMALL_MAX:])] = How.UNCHECKED.value
                e.tick(part.size)


def _joint_groups(eng: _Engine, regs: Sequence[Region], directions: int) -> list[list[int]]:
    """Indices of ``regs`` in runs searched together: consecutive blocks, adjacent in the
    flat vector, with finite claims and scales ``max(max |x|, 1)`` within ``JOINT_SCALE``
    of each other (a joint set's step follows its largest entry: one block far larger
    would stretch the others' steps), together more than ``2 directions`` entries."""
    if eng.step is not None:
        scale = [1.0] * len(regs)
    else:
        scale = [max(float(np.max(np.abs(eng.x[r.slice]), initial=0.0)), 1.0) for r in regs]
    finite = [bool(np.all(np.isfinite(eng.g[r.slice]))) for r in regs]
    groups: list[list[int]] = []
    for i, r in enumerate(regs):
        g = groups[-1] if groups else None
        if (g is not None and finite[i] and all(finite[k] for k in g)
                and regs[g[-1]].offset + regs[g[-1]].size == r.offset
                and max(scale[k] for k in g + [i]) <= JOINT_SCALE * min(scale[k] for k in g + [i])):
            g.append(i)
        else:
            groups.append([i])
    # a run too small to search (each of its entries checked directly) is not joined
    out: list[list[int]] = []
    for g in groups:
        if len(g) > 1 and sum(regs[k].size for k in g) <= max(LEAF_SIZE, 2 * directions):
            out += [[k] for k in g]
        else:
            out.append(g)
    return out


def _joint_outcomes(eng: _Engine, regs: Sequence[Region], index: int, directions: int) -> list[BlockOutcome] | None:
    """Adjacent blocks searched as one pool (``_Block(joint=True)``): every direction
    through all of them at once.  When every direction clears the pool (a correct gradient:
    one set of directions instead of one per block), the outcome split back into blocks;
    None as soon as one direction does not (the caller then searches each block alone,
    which localises the wrong entry as usual; the calls spent are counted).  The joint
    search's calls are counted in the first block's ``calls``; the kink suspects among the
    entries it checked directly (``jumpy``, ``sides``) go to their blocks."""
    first, last = regs[0], regs[-1]
    union = Region("+".join(r.name for r in regs), (last.offset + last.size - first.offset,), first.offset)
    resolved = eng.resolved
    block = _Block(eng, union, index, directions, joint=True)
    block.parts = [(r.offset, r.offset + r.size) for r in regs]
    try:
        whole = block.run()
    except _Disagree:
        eng.resolved = resolved
        return None
    outs = []
    for k, r in enumerate(regs):
        s = slice(r.offset - first.offset, r.offset - first.offset + r.size)
        outs.append(BlockOutcome(
            name=r.name, shape=r.shape, offset=r.offset, analytic=whole.analytic[s].copy(), how=whole.how[s].copy(),
            numeric=whole.numeric[s].copy(), noise=whole.noise[s].copy(), bound=whole.bound[s].copy(),
            blockwide=False, calls=whole.calls if k == 0 else 0, least_noise=whole.least_noise[s].copy(),
            by_directions=None if whole.by_directions is None else whole.by_directions[s].copy(),
            # the kink suspects among the small entries checked directly, and their first
            # looks: the pipeline's kink test reads them per block
            jumpy=None if whole.jumpy is None else whole.jumpy[s].copy(), sides=_part_sides(whole.sides, s)))
    return outs


def _part_sides(sides: np.ndarray | None, s: slice) -> np.ndarray | None:
    """``BlockOutcome.sides`` of the block at ``s`` within a joint pool's (None: no suspect there)."""
    if sides is None or not np.any(np.isfinite(sides[:, s])):
        return None
    return sides[:, s].copy()


def _validate(x, g, thresholds, directions) -> None:
    if not isinstance(thresholds, Thresholds):
        raise OptionError("thresholds must be a verdict.Thresholds")
    if isinstance(directions, bool) or not isinstance(directions, (int, np.integer)) or directions < 1:
        raise OptionError(f"directions must be a positive whole number, got {directions!r}")
    if np.asarray(x).size != np.asarray(g).size:
        raise UserCodeError(f"gradient has {np.asarray(g).size} entries, x has {np.asarray(x).size}")


def check_adaptive(
    cost: Callable[[np.ndarray], float],
    x: np.ndarray,
    grad: np.ndarray,
    blocks: Iterable | None = None,
    *,
    thresholds: Thresholds = Thresholds(),
    directions: int = DIRECTIONS,
    seed: int = 0,
    f0: float | None = None,
    step: float | None = None,
    progress: Callable[[int, int], None] | None = None,
    deadline: float | None = None,
    lifted: Callable[[np.ndarray], object] | None = None,
) -> AdaptiveResult:
    """Adaptive group testing of ``grad`` against the black box ``cost`` at ``x``.

    ``cost(z)`` takes an array of x's shape and returns the scalar cost; ``grad`` is the
    claimed gradient (x's size); ``blocks`` are ``Region``s / ``models.Block``s /
    ``(name, shape, offset)`` tuples over ``x.ravel()`` (default: one block ``x``);
    ``f0`` is ``cost(x)`` when the caller has it; ``step`` fixes every step (``--eps``)
    instead of the rules above.  Every entry gets an outcome: pass by
    exclusion (with a proved bound), a direct check, or (block-wide bug) unchecked.
    The guarantee and the rules are in the module docstring.  ``progress(resolved,
    total)`` is called as entries get their outcome.  Directions are seeded per
    (``seed``, block).  Past ``deadline`` (a ``time.perf_counter()`` value) the search
    stops: entries it had not settled are ``How.STOPPED``.

    >>> import numpy as np
    >>> x = np.linspace(-1, 1, 1000); g = 2 * x; g[123] += 1e-3
    >>> res = check_adaptive(lambda z: float(np.sum(z**2)), x, g)
    >>> res.wrong(Thresholds())["x"].tolist(), res.calls < 200
    ([123], True)
    """
    _validate(x, grad, thresholds, directions)
    t0 = time.perf_counter()
    eng = _Engine(cost, x, grad, thresholds, f0, seed, progress, step, deadline)
    eng.lifted = lifted
    eng.probe(np.random.default_rng([int(seed), 2**31]))
    regs = regions(blocks, eng.x.size)
    outs: list[BlockOutcome] = []
    for group in _joint_groups(eng, regs, int(directions)):
        if len(group) > 1 and not eng.stopped:
            joint = _joint_outcomes(eng, [regs[i] for i in group], group[0], int(directions))
            if joint is not None:
                outs += joint
                continue
        outs += [_Block(eng, regs[i], i, int(directions)).run() for i in group]
    return AdaptiveResult(tuple(outs), tuple(eng.directions), eng.f.calls, time.perf_counter() - t0,
                          eng.sigma, eng.f0)


#: full mode's collective verification: fresh precise directions that must each agree on a
#: set before its bound counts (a cancellation of several entries' errors survives each with
#: probability at most 1/2)
VERIFY_DIRECTIONS = 3
#: ... at most max(TIGHT_MAX, entries / VERIFY_SHARE) sets per block in float64
VERIFY_SHARE = 128
#: ... trying the entries an agreeing set could not verify with steps REACH times longer
#: while that halves their bound, up to MAX_REACH times the first
REACH = 8.0
MAX_REACH = 64.0
#: ... and then in halves at the best reach while a set there verifies this many entries
VERIFY_WORTH = 8
#: sets verified in extended precision (precision lifting) after float64, at most
VERIFY_LIFT = 8


def _unverified_first_looks(b: "_Block", idx: np.ndarray) -> np.ndarray:
    """Entries of ``idx`` checked directly whose first look neither passes nor shows an
    error (``assess`` code 4: it agrees within a round-off too large to verify), with a
    finite non-zero claim: the candidates for ``verify_by_directions``."""
    loc = b.local(idx)
    a, n = b.e.g[idx], b.numeric[loc]
    with np.errstate(all="ignore"):
        error, zs = evidence(a, n, b.noise[loc])
        code = assess(a, n, error, b.e.t, zero_scale=zs).code
    keep = (b.how[loc] == How.CHECKED.value) & (code == 4) & np.isfinite(n) & np.isfinite(a) & (a != 0)
    return idx[keep]


def _verify(b: "_Block", pool: np.ndarray) -> np.ndarray:
    """Verify the entries ``pool`` of block ``b`` together.  A set, sorted by |claim|, gets
    ``VERIFY_DIRECTIONS`` fresh precise directions (``_Engine.precise``: the stencil ladder
    with the noise of f measured along each); when every one agrees, ``|e . v| <= |a - D| +
    error`` for each, so an entry j that is its set's only wrong entry has ``|e_j| <=
    max(|a - D| + error)`` (``|v_j| = 1``; several wrong entries cancel in all of them with
    probability at most ``2**-VERIFY_DIRECTIONS``), and it is verified where that is within
    ``verdict.radius(g_j, pass_tol)``.  The entries of an agreeing set left unverified (too
    small for its round-off) are tried again with steps ``REACH`` times longer while that
    halves the bound (up to ``MAX_REACH``: a small entry of a large cost needs long steps,
    whose truncation the ladder's agreement of orders bounds), then in halves at the best
    reach while a set verifies ``VERIFY_WORTH`` entries (fewer entries moved, less noise);
    a set where a direction disagrees is split in halves (at the first reach; past it the
    set is left); sets of ``TIGHT_LEAF`` entries or fewer are left.  At most ``max(TIGHT_MAX, |pool| /
    VERIFY_SHARE)`` sets in float64, then ``LIFT_MAX`` in extended precision on what is
    left when the code allows it (``VERIFY_LIFT`` sets while their share of calls, a ladder each direction, lasts).
    Returns the verified entries (their bound in ``b.bound``)."""
    e = b.e
    if e.step is not None or not pool.size:
        return pool[:0]
    done: list[np.ndarray] = []
    order = lambda t: t[np.argsort(-np.abs(e.g[t]), kind="stable")]  # noqa: E731
    # (set, reach, the bound at the reach before, the largest reach to try, entries that reach verified)
    todo = [(order(pool), 1.0, np.inf, MAX_REACH, VERIFY_WORTH)]
    for lift, budget in ((False, max(TIGHT_MAX, pool.size // VERIFY_SHARE)), (True, VERIFY_LIFT)):
        if lift and e.lifted is not None and hasattr(e.lifted, "extend"):  # its own share of calls
            from .ladder import LIFT_NEED

            e.lifted.extend(VERIFY_LIFT * VERIFY_DIRECTIONS * LIFT_NEED)
        if lift and (e.lifted is None or not getattr(e.lifted, "usable", True)):
            break
        tests, kept = 0, []
        while todo and tests < budget:
            if lift and not getattr(e.lifted, "usable", True):  # its budget of calls is spent
                break
            s, reach, before, ceiling, gained = todo.pop(0)
            tests += 1
            need = e.need(s)
            bound = 0.0
            for _ in range(VERIFY_DIRECTIONS):
                diff, err = e.precise(s, b.rng, need, lift=lift, reach=reach)
                if not (np.isfinite(diff) and np.isfinite(err)) or diff > err:
                    bound = np.inf
                    break
                bound = max(bound, diff + err)
            if not np.isfinite(bound):  # disagrees: a wrong entry, or a feature within the steps
                if reach > 1 or s.size <= TIGHT_LEAF:
                    kept.append(s)
                else:
                    todo += [(h, reach, np.inf, ceiling, VERIFY_WORTH) for h in (s[: s.size // 2], s[s.size // 2:])]
                continue
            loc = b.local(s)
            b.bound[loc] = np.fmin(b.bound[loc], bound)
            ok = b.verified(s)
            done.append(s[ok])
            rest = s[~ok]
            if not rest.size:
                continue
            better = bound < before / 2
            if better and reach * REACH <= ceiling:  # longer steps still pay: round-off limits
                todo.append((rest, reach * REACH, bound, ceiling, int(np.sum(ok))))
                continue
            # the best reach found: smaller sets of the rest at that reach (their directions
            # move fewer entries: less noise), while a set there still verifies VERIFY_WORTH
            best, gain = (reach, int(np.sum(ok))) if better else (max(reach / REACH, 1.0), gained)
            if gain >= VERIFY_WORTH and rest.size > TIGHT_LEAF:
                todo += [(h, best, np.inf, best, 0) for h in (rest[: rest.size // 2], rest[rest.size // 2:])]
            else:
                kept.append(rest)
        left = kept + [t[0] for t in todo]
        # extended precision: truncation, not round-off, limits it; no longer steps
        todo = [(order(np.concatenate(left)), 1.0, np.inf, 1.0, VERIFY_WORTH)] if left else []
    return np.concatenate(done) if done else pool[:0]


def _verify_until_stopped(b: "_Block", pool: np.ndarray) -> np.ndarray:
    """``_verify(b, pool)``; past the deadline (``Stopped``) the engine is marked stopped and
    the entries verified so far are returned."""
    try:
        return _verify(b, pool)
    except Stopped:
        b.e.stopped = True
        return pool[b.verified(pool)]


def _settle_by_directions(b: "_Block", idx: np.ndarray) -> None:
    """The first looks of ``idx`` that cannot verify their entries, verified together
    (``_verify``); a verified entry's evidence becomes its claim with the proved bound
    (``numeric = g_j``, ``noise = bound_j``), marked in ``by_directions``.  The deadline
    (``Stopped``) leaves the rest with their first look."""
    pool = _unverified_first_looks(b, idx)
    if not pool.size:
        return
    ok = _verify_until_stopped(b, pool)

    with np.errstate(all="ignore"):  # judged as the verdict will judge it (``blocks.judge_blocks``)
        a = b.e.g[ok]
        error, zs = evidence(a, a, b.bound[b.local(ok)], scale=b.zero_scale() / (SCALE_ULPS * EPS))
        ok = ok[assess(a, a, error, b.e.t, zero_scale=zs).code == 0]
    if not ok.size:
        return
    loc = b.local(ok)
    if getattr(b, "by_directions", None) is None:
        b.by_directions = np.zeros(b.how.size, dtype=bool)
    b.by_directions[loc] = True
    b.numeric[loc], b.noise[loc] = b.e.g[ok], b.bound[loc]


def verify_by_directions(
    cost: Callable[[np.ndarray], float],
    x: np.ndarray,
    grad: np.ndarray,
    blocks: Iterable | None,
    candidates: Sequence[int],
    *,
    thresholds: Thresholds = Thresholds(),
    f0: float,
    seed: int = 0,
    lifted: Callable[[np.ndarray], object] | None = None,
    deadline: float | None = None,
) -> tuple[np.ndarray, int]:
    """Full mode's collective verification (``_verify``) of the flat entries
    ``candidates``, whose own direct checks agree with their claims but cannot verify
    them: ``(bound, calls)``, the proved bound on ``|g_j - df/dx_j|`` per flat entry (NaN
    where not verified) and the calls of ``cost`` made.  Past ``deadline`` it stops."""
    eng = _Engine(cost, x, grad, thresholds, f0, seed, None, None, deadline)
    eng.lifted = lifted
    bound = np.full(eng.x.size, np.nan)
    cand = np.unique(np.asarray(candidates, dtype=np.int64))
    for i, r in enumerate(regions(blocks, eng.x.size)):
        pool = cand[(cand >= r.offset) & (cand < r.offset + r.size)]
        pool = pool[np.isfinite(eng.g[pool]) & (eng.g[pool] != 0)]
        if not pool.size or eng.stopped:
            continue
        b = _Block(eng, r, i, 1)
        ok = _verify_until_stopped(b, pool)
        bound[ok] = b.bound[b.local(ok)]
    return bound, eng.f.calls


def check_every_entry(
    cost: Callable[[np.ndarray], float],
    x: np.ndarray,
    grad: np.ndarray,
    blocks: Iterable | None = None,
    *,
    thresholds: Thresholds = Thresholds(),
    indices: Sequence[int] | None = None,
    f0: float | None = None,
    step: float | None = None,
    progress: Callable[[int, int], None] | None = None,
    truncation: bool = True,
    deadline: float | None = None,
    verify: bool = False,
    lifted: Callable[[np.ndarray], object] | None = None,
) -> AdaptiveResult:
    """The full mode: every entry (or the flat ``indices``) checked directly, 2 calls each
    (4 for an entry that does not pass within round-off, unless ``truncation=False``: the
    pipeline's full mode hands such entries to its re-estimate instead); same result type
    as ``check_adaptive`` (entries outside ``indices`` are SKIPPED; past ``deadline`` the
    entries not reached are STOPPED).

    ``verify``: the entries whose two calls agree with the claim but cannot verify it (a
    small entry of a large summed cost: the round-off of ``f`` over the step) are then
    verified together by precise directions (``_verify``: a few hundred calls for
    thousands of entries, ``lifted`` the cost in extended precision for what float64
    leaves), marked in ``BlockOutcome.by_directions``; the others keep their first look."""
    _validate(x, grad, thresholds, 1)
    t0 = time.perf_counter()
    eng = _Engine(cost, x, grad, thresholds, f0, 0, progress, step, deadline, truncation)
    eng.lifted = lifted
    eng.probe(np.random.default_rng([0, 2**31]))
    chosen = None if indices is None else np.unique(np.asarray(indices, dtype=np.int64))
    outs = []
    for i, r in enumerate(regions(blocks, eng.x.size)):
        b = _Block(eng, r, i, 1)
        idx = np.arange(r.offset, r.offset + r.size)
        if chosen is not None:
            b.how[:] = How.SKIPPED.value
            idx = idx[np.isin(idx, chosen)]
        try:
            if eng.stopped:
                raise Stopped
            b.check(idx)
            if verify:
                _settle_by_directions(b, idx)
        except Stopped:
            eng.stopped = True
            b.how[idx[b.how[b.local(idx)] != How.CHECKED.value] - r.offset] = How.STOPPED.value
        outs.append(b.outcome())
    return AdaptiveResult(tuple(outs), (), eng.f.calls, time.perf_counter() - t0, eng.sigma, eng.f0)
