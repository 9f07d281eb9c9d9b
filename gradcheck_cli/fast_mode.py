"""Fast mode: random ±1 directions per block before (or instead of) an entry-by-entry check.

The one home of the random-direction rule (``net --mode fast``, built-in and ``--impl``).
For a block B and ``k`` directions ``u`` (±1 on B's entries, 0 elsewhere), the claimed
gradient's projection ``u.g`` is compared with the central difference of the cost along
``u``; a direction disagreeing by more than ``SAFETY`` times its own error estimate, or a
block where a single wrong entry could hide below that margin (its error exceeds
``fail_tol x floor``), is then checked entry by entry.
"""

from __future__ import annotations

import numpy as np

from .choices import Mode
from .finite_diff import EPS, REL_STEP, blackbox_directional, blackbox_gradient
from .verdict import Thresholds

#: directional checks per block
FAST_DIRECTIONS = 8
#: a direction disagrees when |u.g - D_u| > SAFETY x its error estimate
SAFETY = 10.0


def rademacher_blocks(blocks, size: int, k: int, seed: int):
    """``k`` ±1 directions per block, zero outside it: shape (k, size) per block."""
    rng = np.random.default_rng(seed)
    for b in blocks:
        u = np.zeros((k, size))
        u[:, b.slice] = rng.choice([-1.0, 1.0], size=(k, b.size))
        yield b, u


def blackbox_numeric(user_cost, params: np.ndarray, blocks, g: np.ndarray, mode: Mode, seed: int,
                  thresholds: Thresholds, progress=None):
    """Numeric gradient of the user's own cost (black box), flat, NaN where not computed.

    ``full``: four calls per entry.  ``fast``: ``FAST_DIRECTIONS`` directional checks
    per block first; a block is checked entry by entry only when a direction disagrees
    by more than ``SAFETY`` times its error, or when a single wrong entry
    could hide below that margin.  Returns (numeric, noise, blocks checked in full,
    per-block directional results for the report).
    """

    n = params.size
    numeric, noise = np.full(n, np.nan), np.full(n, np.nan)
    full, directional = [], {}
    if mode is Mode.FAST:
        f0 = abs(user_cost(params))
        h = REL_STEP * max(float(np.max(np.abs(params))), 1.0)
        entry_noise = 2 * 4 * EPS * f0 / h  # the round-off part of any entry's error estimate
        for b, dirs in rademacher_blocks(blocks, n, FAST_DIRECTIONS, seed):
            d, dn = blackbox_directional(user_cost, params, dirs)
            a = dirs @ g
            floor = thresholds.floor if thresholds.floor is not None else entry_noise / thresholds.pass_tol
            suspect = bool(np.any(~np.isfinite(d)) or np.any(np.abs(a - d) > SAFETY * dn))
            hidden = (SAFETY + 1) * float(np.max(dn)) > thresholds.fail_tol * floor
            directional[b.name] = (a, d, dn)
            if suspect or hidden:
                full.append(b)
    else:
        full = list(blocks)
    done = 0
    for b in full:
        idx = np.arange(b.offset, b.offset + b.size)
        step = None if progress is None else (lambda k, done=done: progress(done + k, sum(x.size for x in full)))
        est = blackbox_gradient(user_cost, params, indices=idx, progress=step)
        numeric[idx], noise[idx] = est.value, est.noise
        done += b.size
    return numeric, noise, {b.name for b in full}, directional
