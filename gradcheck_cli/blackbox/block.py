"""The search inside one block (``Block``): directions on the block, bisection of the sets
that disagree, the small entries settled, the cleared entries verified (``tighten``).

numpy only.  Nothing here prints.  The guarantee it keeps is in ``search``'s docstring.

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

A precise direction of ``tighten`` that contradicts its set (an error below the coarse
directions' reach) starts a bisection with precise directions (``_locate``) down to a few
entries checked directly.  Entries cleared at exactly ``x_j = 0`` are screened for a kink
at the point (``screen_kinks``), which no central difference can see when it is symmetric.
"""

from __future__ import annotations

import math

import numpy as np

from ..finite_diff import function_scale
from ..verdict import Agreement, Status, assess, radius
from .engine import Engine
from .ladder import GROW_PATIENCE
from .outcome import BlockOutcome, How, Stopped, block_zero_scale, entry_status
from .params import Region

#: sets of at most this many entries are checked entry by entry
LEAF_SIZE = 2
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
#: the largest |v_j| of a float64 precise direction verifying a pool (``Block.weights``)
MAX_WEIGHT = 16.0
#: ... on at most this many of its entries (else none)
MAX_WEIGHTED = 64
#: precise directions per block, at most, to locate the wrong entries of sets that a
#: precise direction contradicts (``Block._locate``: about 2 log2(n / TIGHT_LEAF) each)
LOCATE_MAX = 64
#: sets of entries at x = 0 tested for a kink at the point per block (``Block.screen_kinks``),
#: at most, and the size of the sets then checked directly
KINK_SETS = 64
KINK_LEAF = 2
#: calls of one precise direction at most: noise table 7, reference 4, ladder 2 per rung
TIGHT_CALLS = 7 + 4 + 2 * (5 + 6)


class Disagree(Exception):
    """A joint search (``Block(joint=True)``) met a direction that does not clear its
    pool: the blocks are then searched one by one."""


class Block:
    """The search inside one block (module docstring, Search)."""

    def __init__(self, eng: Engine, region: Region, index: int, directions: int, joint: bool = False) -> None:
        self.e = eng
        self.r = region
        self.m = directions
        #: a joint pool of several blocks (``_joint_groups``): raise ``Disagree`` on the first
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
        self.located = 0  # precise directions spent locating wrong entries (``_locate``)
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
            # the zero rule as the verdict applies it: a claim within 64 eps G_j of the truth
            # (``block_zero_scale``; not for an exact zero, which has its own rule below)
            res = assess(a, a, self.bound[loc], self.e.t, zero_scale=np.where(a != 0, self.zero_scale(idx), 0.0))
        return (res.code == 0) | ((a == 0) & (self.bound[loc] <= self.least_noise[loc]))

    def zero_scale(self, idx: np.ndarray | None = None):
        """``block_zero_scale`` of this block as far as the search has gone; of the entries
        ``idx`` (flat), each capped by the function's own scale per unit x_j
        (``finite_diff.function_scale`` of f(x))."""
        sl = self.r.slice
        size = None if idx is None else function_scale(self.e.f0, self.e.x[idx], self.e.scale_sigma)
        return block_zero_scale(self.e.g[sl], self.how, self.numeric, self.noise, self.bound, size)

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
        directions.  A float64 direction's ladder aims at the set's least claim (as
        weighted, ``least_need``), grows with patience 2 and defers its two finest rungs
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
            w = None if lift else self.weights(s)
            # (a bound 2 (diff + err) within the zero rule's scale verifies too)
            need = max(self.e.need(s) if lift else self.least_need(s, w), self.zero_scale() / 4)
            if lift and not getattr(self.e.lifted, "usable", True):
                kept.append(s)
                break
            diff, err = self.e.precise(s, self.rng, need, lift=lift, patience=1 if lift else GROW_PATIENCE, weights=w)
            done += 1
            if self._contradicts(diff, err):
                # an entry of s is wrong by more than the coarse directions could see (a
                # warn): found by halving, not left unresolved
                todo += self._locate(s, lift)
                continue
            if not (np.isfinite(diff) and np.isfinite(err)) or diff > err:
                kept.append(s)
                continue  # no evidence, or apart within what the verdict forgives: the coarse clearing stands
            loc = self.local(s)
            self.bound[loc] = np.fmin(self.bound[loc], 2 * (diff + err) / (1.0 if w is None else w))
            rest = s[~self.verified(s)]
            if rest.size == s.size:
                todo += [(rest[: rest.size // 2], False), (rest[rest.size // 2:], False)]
            elif rest.size:
                todo.append((rest, True))
        return [s for s in kept + [t for t, _ in todo] if s.size]

    def _locate(self, s: np.ndarray, lift: bool) -> list[tuple[np.ndarray, bool]]:
        """The wrong entries of a set ``s`` that a precise direction contradicts
        (``_contradicts``): its halves get a precise direction each (in the same precision)
        and the halves it contradicts are halved again, down to ``TIGHT_LEAF`` entries, which
        are checked directly (the pipeline's re-estimate then judges them: a soft error,
        between the tolerances, reads ``warn`` and is named).  A half beside one that is
        contradicted is verified as in ``_tighten`` only when a second fresh direction agrees
        too (a set whose parent held wrong entries may hold more, cancelling in one
        direction); when neither half is contradicted, the parent's wrong entries cancelled
        in both (several of them): both are halved, none verified.  At most ``LOCATE_MAX``
        directions per block; a set left when they are spent keeps its coarse clearing.
        Returns the entries of verified halves that their bound leaves unverified, as
        ``_tighten``'s ``(set, tail)`` items."""
        out: list[tuple[np.ndarray, bool]] = []
        stack = [s]
        while stack:
            t = stack.pop()
            if t.size <= TIGHT_LEAF:
                self.check(t)
                continue
            apart, agree = [], []
            for half in (t[: t.size // 2], t[t.size // 2:]):
                if half.size <= TIGHT_LEAF:
                    apart.append(half)  # checked directly
                    continue
                diff, err = self._locating(half, lift)
                if self._contradicts(diff, err):
                    apart.append(half)
                elif np.isfinite(diff) and np.isfinite(err) and diff <= err:
                    agree.append((half, 2 * (diff + err)))
            if not apart:  # cancelled in both halves: several wrong entries
                stack += [h for h, _ in agree]
                continue
            stack += apart
            for half, bound in agree:  # beside a wrong entry: a second fresh direction must agree
                diff, err = self._locating(half, lift)
                if self._contradicts(diff, err):
                    stack.append(half)
                    continue
                if not (np.isfinite(diff) and np.isfinite(err) and diff <= err):
                    continue  # the coarse clearing stands
                loc = self.local(half)
                w = None if lift else self.weights(half)
                self.bound[loc] = np.fmin(self.bound[loc], min(bound, 2 * (diff + err)) / (1.0 if w is None else w))
                rest = half[~self.verified(half)]
                if rest.size:
                    out.append((rest, True))
        return out

    def _locating(self, half: np.ndarray, lift: bool) -> tuple[float, float]:
        """One precise direction through ``half`` for ``_locate`` (as ``_tighten``'s), ``(nan,
        nan)`` once ``LOCATE_MAX`` are spent."""
        if self.located >= LOCATE_MAX:
            return np.nan, np.nan
        self.located += 1
        need = max(self.e.need(half) if lift else self.least_need(half), self.zero_scale() / 4)
        w = None if lift else self.weights(half)
        return self.e.precise(half, self.rng, need, lift=lift, patience=1 if lift else GROW_PATIENCE, weights=w)

    def _contradicts(self, diff: float, err: float) -> bool:
        """Whether a precise direction's ``|g . v - D_v| = diff`` exceeds its bound ``err`` by
        more than the zero rule's ``64 eps G`` (``zero_scale``): some entry is then wrong by
        more than the verdict forgives (the claims' own round-off, which extended precision
        sees in a saturated tanh's ``1 - tanh**2``, is forgiven)."""
        return bool(np.isfinite(diff) and np.isfinite(err) and diff - err > self.zero_scale())

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

    def least_need(self, s: np.ndarray, weights: np.ndarray | None = None) -> float:
        """The error a float64 precise direction through ``s`` aims at (the ladder's
        ``target``; below ``need(s)``): what verifies its least claim ``a`` with ``2 (diff +
        err) <= pass_tol a`` when ``diff`` is at most ``err`` and the claim's allowance ``C``
        (``claim_error``) is part of ``err``: ``(pass_tol a - 2 C) / 4``, for the least claim
        where that is at least ``C / 2`` (below it, the allowance, not the ladder, limits).
        With ``weights`` (``weights``) entry j's bound is divided by ``|v_j|``: ``a`` is then
        ``|g_j| |v_j|``, the least of those, and ``C`` the weighted allowance.
        Where round-off limits the ladder, its longer rungs (``ladder._Growth``, 2 calls
        each) then verify the small entries a direction of their own (~14 calls) would
        otherwise be spent on; the ladder stops growing where that no longer pays, and
        only the bound it reports verifies."""
        need = self.e.need(s)
        C = self.e.claim_error(s, weights)
        a = self.e.t.pass_tol * np.abs(self.e.g[s]) * (1.0 if weights is None else weights)
        a = a[a >= 4 * C]
        return min(need, (float(np.min(a)) - 2 * C) / 4) if a.size else need

    def screen_kinks(self) -> None:
        """The entries cleared by exclusion whose x is exactly 0 (where abs, relu, max and
        an L1 penalty have their kinks), screened for a kink at the point: a symmetric kink
        (``|x|`` at 0 claimed as ``sign(0) = 0``, ``lam |w|`` at a pruned weight) agrees with
        every central difference, so exclusion would pass it where the full mode's
        one-sided test reads ``kink``.  Sets of them get the shrinking one-sided test along
        a fresh direction (``Engine.kink_at``; 4 calls where curvature explains it); a set
        that shows a kink is halved, down to ``KINK_LEAF`` entries, which are checked
        directly (their one-sided slopes go to the pipeline's shrinking test, which reads
        ``kink``).  At most ``KINK_SETS`` tests per block; the sets not reached are checked
        directly too (not passed unscreened), up to ``SMALL_MAX`` entries, else left
        ``UNCHECKED``.  Kinks at other points (``|x - c|`` at x = c) are not screened."""
        e, r = self.e, self.r
        idx = np.arange(r.offset, r.offset + r.size)
        cand = idx[(e.x[idx] == 0) & (self.how == How.EXCLUDED.value) & np.isfinite(e.g[idx])]
        frontier, tests = ([cand] if cand.size else []), 0
        try:
            while frontier and tests < KINK_SETS:
                s = frontier.pop()
                if s.size <= KINK_LEAF:
                    self.check(s)
                    continue
                tests += 1
                if e.kink_at(s, self.rng):
                    frontier += [s[: s.size // 2], s[s.size // 2:]]
            rest = np.concatenate(frontier) if frontier else idx[:0]
            self.check(rest[:SMALL_MAX])
            self.how[self.local(rest[SMALL_MAX:])] = How.UNCHECKED.value
        except Stopped:  # the deadline: the candidates not screened are not passed either
            loc = self.local(cand)
            self.how[loc[self.how[loc] == How.EXCLUDED.value]] = How.STOPPED.value
            raise

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
                        raise Disagree
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
        # (sorted and deduplicated without np.unique, which imports numpy.ma on first use: 7 ms)
        small = np.sort(np.concatenate(self.small)) if self.small else idx[:0]
        small = small[np.concatenate(([True], small[1:] != small[:-1]))] if small.size else small
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
        self.screen_kinks()
