"""What the adaptive search finds: how each entry got its outcome (``How``), the directional
comparisons (``Direction``), per-block outcomes (``BlockOutcome``) and the whole result
(``AdaptiveResult``); the block's proved gradient scale (``proved_scale``, ``block_zero_scale``).

numpy only.  Nothing here prints; results are frozen dataclasses.  The rules that produce
them are in ``search`` (the guarantee), ``engine``, ``block`` and ``collective``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np

from ..finite_diff import EPS, SCALE_ULPS, entry_scale, gradient_scale
from ..verdict import Agreement, Status, Thresholds, radius, statuses_of


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


def block_zero_scale(g, how, numeric, noise, bound, size=None):
    """The zero rule's round-off scale of the gradient for a block: ``SCALE_ULPS eps G``
    (``finite_diff.evidence``), ``G`` by ``proved_scale``; per entry ``SCALE_ULPS eps
    min(G, F_j)`` when ``size`` gives the function's own scale per unit x of the entries,
    ``F_j = |f| / max(|x_j|, 1)`` (``finite_diff.entry_scale``)."""
    return SCALE_ULPS * EPS * entry_scale(proved_scale(g, how, numeric, noise, bound), size)


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
    #: ``sigma`` where it is noise (``stencils.scale_noise``): the zero rule's cap uses it
    scale_sigma: float = 0.0

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
