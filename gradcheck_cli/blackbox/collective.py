"""Full mode's collective verification: the entries whose direct check agrees with the claim
but cannot verify it, verified together by precise directions (``verify_by_directions``).

numpy only.  Nothing here prints.

The full mode's entries that a direct check (``engine``: Direct checks) agrees with but cannot verify (a small
entry of a large summed cost: the round-off of f over ``h_j`` exceeds ``pass_tol |g_j|``)
are verified together (``_verify``, ``verify_by_directions``): precise directions through
sets of them, sorted by magnitude, with longer steps for the smallest, then in extended
precision; only what they leave is estimated again one by one.
"""

from __future__ import annotations

from typing import Callable, Iterable, Sequence

import numpy as np

from ..finite_diff import EPS, SCALE_ULPS, evidence, function_scale
from ..verdict import Thresholds, assess
from .block import TIGHT_LEAF, TIGHT_MAX, Block
from .engine import Engine
from .outcome import How, Stopped
from .params import regions

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


def _unverified_first_looks(b: "Block", idx: np.ndarray) -> np.ndarray:
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


def _verify(b: "Block", pool: np.ndarray) -> np.ndarray:
    """Verify the entries ``pool`` of block ``b`` together.  A set, sorted by |claim|, gets
    ``VERIFY_DIRECTIONS`` fresh precise directions (``Engine.precise``: the stencil ladder
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


def _verify_until_stopped(b: "Block", pool: np.ndarray) -> np.ndarray:
    """``_verify(b, pool)``; past the deadline (``Stopped``) the engine is marked stopped and
    the entries verified so far are returned."""
    try:
        return _verify(b, pool)
    except Stopped:
        b.e.stopped = True
        return pool[b.verified(pool)]


def settle_by_directions(b: "Block", idx: np.ndarray) -> None:
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
        error, zs = evidence(a, a, b.bound[b.local(ok)], scale=b.zero_scale() / (SCALE_ULPS * EPS),
                             size=function_scale(b.e.f0, b.e.x[ok], b.e.scale_sigma))
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
    eng = Engine(cost, x, grad, thresholds, f0, seed, None, None, deadline)
    eng.lifted = lifted
    bound = np.full(eng.x.size, np.nan)
    cand = np.unique(np.asarray(candidates, dtype=np.int64))
    for i, r in enumerate(regions(blocks, eng.x.size)):
        pool = cand[(cand >= r.offset) & (cand < r.offset + r.size)]
        pool = pool[np.isfinite(eng.g[pool]) & (eng.g[pool] != 0)]
        if not pool.size or eng.stopped:
            continue
        b = Block(eng, r, i, 1)
        ok = _verify_until_stopped(b, pool)
        bound[ok] = b.bound[b.local(ok)]
    return bound, eng.f.calls
