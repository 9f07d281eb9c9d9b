"""Adaptive group testing of a black-box gradient: the one random-direction rule.

numpy only.  Nothing here prints; results are frozen dataclasses (``outcome``).

Problem
-------
``f`` is a scalar cost of a flat parameter vector ``x`` (length P), each call costly (the
user's ``forward_backward_prop``, ``f(x) -> (cost, grad)`` of ``func``, a layer).  ``g`` is
the claimed gradient.  Checking every entry costs ``2 P`` calls.  Most entries are right,
so test *sets* of entries at once and split only the sets that disagree.

The modules, each with its part of the theory in its docstring: ``outcome`` (the result
types), ``engine`` (one directional check of a set S, the direct checks of single
entries), ``block`` (the search inside one block), ``collective`` (full mode's
collective verification) and this one (the guarantee; the entry points ``check_adaptive``
and ``check_every_entry``; blocks searched together).  A set S, its direction ``w``, the
claimed ``a = g . w``, the numeric ``D`` and its ``error_S`` are those of ``engine``'s
docstring (One directional check of a set S).

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
is set aside and settled in sets of its own (``Block.settle_small``: exact differences for
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
sets are then verified (``Block.tighten``): precise directions through them (the stencil
ladder of ``ladder``, the noise of f measured along each, sorted by magnitude and split
where they do not verify every entry), in extended precision where the code allows it
(precision lifting, on a budget of calls); an entry is ``pass`` by exclusion where its
bound is within ``verdict.radius(g_j, pass_tol)``.  ``--mode full`` measures every entry.

Blocks searched together (``_joint_groups``).  Adjacent blocks whose scales ``max(max |x|,
1)`` lie within ``JOINT_SCALE`` of each other (a layer's x, w and b; a network's W1, b1, W2,
b2) are first tested as one pool: each direction moves every entry of all of them, so a
correct gradient costs one set of ``directions`` directions and one verification of the
cleared entries, not one per block (a 16-entry bias is then not checked entry by entry).
The rules above are unchanged: a set is a set, whatever blocks its entries come from.  On
the first direction that does not clear the pool, the blocks are searched one by one as
``block`` does (which localises the wrong entries; the joint calls are spent); the entries the
pool's directions set aside as too small are settled block by block.
"""

from __future__ import annotations

import time
from typing import Callable, Iterable, Sequence

import numpy as np

from ..errors import OptionError, UserCodeError
from ..verdict import Thresholds
from .block import LEAF_SIZE, Block, Disagree
from .collective import settle_by_directions
from .engine import Engine
from .outcome import AdaptiveResult, BlockOutcome, How, Stopped
from .params import Region, regions

#: default number of fresh directions that must all clear a block (miss probability 2**-8)
DIRECTIONS = 8
#: consecutive blocks whose scales ``max(max |x|, 1)`` lie within this factor of each other
#: are first tested together (``_joint_groups``): one set of directions for all of them
JOINT_SCALE = 4.0


def _joint_groups(eng: Engine, regs: Sequence[Region], directions: int) -> list[list[int]]:
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


def _joint_outcomes(eng: Engine, regs: Sequence[Region], index: int, directions: int) -> list[BlockOutcome] | None:
    """Adjacent blocks searched as one pool (``Block(joint=True)``): every direction
    through all of them at once.  When every direction clears the pool (a correct gradient:
    one set of directions instead of one per block), the outcome split back into blocks;
    None as soon as one direction does not (the caller then searches each block alone,
    which localises the wrong entry as usual; the calls spent are counted).  The joint
    search's calls are counted in the first block's ``calls``; the kink suspects among the
    entries it checked directly (``jumpy``, ``sides``) go to their blocks."""
    first, last = regs[0], regs[-1]
    union = Region("+".join(r.name for r in regs), (last.offset + last.size - first.offset,), first.offset)
    resolved = eng.resolved
    block = Block(eng, union, index, directions, joint=True)
    block.parts = [(r.offset, r.offset + r.size) for r in regs]
    try:
        whole = block.run()
    except Disagree:
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
    precision: float | None = None,
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
    eng = Engine(cost, x, grad, thresholds, f0, seed, progress, step, deadline)
    eng.lifted = lifted
    eng.least_eps = float(precision or 0.0)  # float32 code: values all whole or 0 cannot tell
    eng.probe(np.random.default_rng([int(seed), 2**31]))
    regs = regions(blocks, eng.x.size)
    outs: list[BlockOutcome] = []
    for group in _joint_groups(eng, regs, int(directions)):
        if len(group) > 1 and not eng.stopped:
            joint = _joint_outcomes(eng, [regs[i] for i in group], group[0], int(directions))
            if joint is not None:
                outs += joint
                continue
        outs += [Block(eng, regs[i], i, int(directions)).run() for i in group]
    return AdaptiveResult(tuple(outs), tuple(eng.directions), eng.f.calls, time.perf_counter() - t0,
                          eng.sigma, eng.f0, eng.scale_sigma)


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
    precision: float | None = None,
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
    eng = Engine(cost, x, grad, thresholds, f0, 0, progress, step, deadline, truncation)
    eng.lifted = lifted
    eng.least_eps = float(precision or 0.0)
    eng.probe(np.random.default_rng([0, 2**31]))
    chosen = None if indices is None else np.unique(np.asarray(indices, dtype=np.int64))
    outs = []
    for i, r in enumerate(regions(blocks, eng.x.size)):
        b = Block(eng, r, i, 1)
        idx = np.arange(r.offset, r.offset + r.size)
        if chosen is not None:
            b.how[:] = How.SKIPPED.value
            idx = idx[np.isin(idx, chosen)]
        try:
            if eng.stopped:
                raise Stopped
            b.check(idx)
            if verify:
                settle_by_directions(b, idx)
        except Stopped:
            eng.stopped = True
            b.how[idx[b.how[b.local(idx)] != How.CHECKED.value] - r.offset] = How.STOPPED.value
        outs.append(b.outcome())
    return AdaptiveResult(tuple(outs), (), eng.f.calls, time.perf_counter() - t0, eng.sigma, eng.f0, eng.scale_sigma)
