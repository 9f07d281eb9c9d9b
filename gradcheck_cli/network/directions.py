"""Fast mode of the built-in network's check: random directions per block.

numpy only.

Per block, ``k`` random directions ``u = v * max(|x|, 1)`` with Rademacher ``v = +-1``
(no entry gets a small weight) and step ``t = eps**(1/3)`` compare ``g . u`` with the
central difference ``D_u`` (4 evaluations each, all directions in one structured pass).
A direction is *suspect* when ``|g . u - D_u| > noise_u``, ``noise_u`` being the
central-difference noise plus the round-off of the dot product.  One safety factor: the
noise already carries ``finite_diff.SAFETY`` (2, as every estimate of the tool does), so a
direction is read as ``verdict.assess`` reads an entry, the truth within ``D_u ± noise_u``
(the old extra factor of 10 here only widened what fast mode let through).  Not a relative error: a
wrong entry ``e`` shifts ``g . u`` by ``|e| |u_e| >= |e|`` in *every* direction whatever
the block size, so any single entry off by more than ``2 max noise_u`` (the
block's ``detectable``) is caught with certainty, while a relative error over P entries
would dilute it by 1/sqrt(P).  ``noise_u`` is the per-entry round-off term plus the
direction's truncation error, which grows with the block (about 4e-6 against 5e-8 per
entry for W1 of 784-100-10).  By the one rule (``verdict.assess``) an entry's own check
can fail it only when its error exceeds ``verdict.radius(g_j, fail_tol) = fail_tol
max(|g_j|, floor)``, and cannot see an error below its round-off ``noise_j``: the block's
``cover`` is ``min_j max(radius_j, 2 noise_j)``, the black-box search's rule for clearing
a set.  ``fast_check`` sends a block to the full check when it is suspect or when a
direction crosses a relu kink; the full check then names the entries.

A block whose directions agree is then decided entry by entry without finite differences:
no direction can see a 2x bug on an entry of 1e-9 next to entries of 1 (``detectable``
exceeds the cover), but we own the network, so the extended-precision derivative of every
entry (``precise.entry_derivatives``: the longdouble reverse pass from complex-step local
derivatives, with a rigorous bound ~1e-15 of its terms) costs about one backward pass,
and each entry is judged against it by the one rule, as the full check judges the entries
it settles.  A correct network is then decided without the full check (issue 16), and a
wrong entry fails on its own.  Past ``model.EXTENDED_ELEMENTS`` numbers per layer the
longdouble pass would cost more than the check: there the old rule stands (the full check
for a block whose ``detectable`` exceeds its cover).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from ..errors import OptionError
from ..finite_diff import EPS, REL_STEP, ROUNDOFF_ULPS, SAFETY, central_from_values, default_step
from ..verdict import Agreement, Thresholds, judge_direction, radius
from . import precise
from .dense import propagate
from .kernels import DEFAULT_CHUNK_BYTES, STENCIL, Base, resolve_blocks
from .model import EXTENDED_ELEMENTS, Block, NetworkSpec


#: a fast-mode direction is suspect when its disagreement exceeds MARGIN x its error bound
#: (the bound already carries finite_diff.SAFETY: no second factor)
MARGIN = 1.0


#: default number of random directions per block in fast mode
DEFAULT_DIRECTIONS = 8


@dataclass(frozen=True)
class DirectionalResult:
    """Fast-mode result of one block: ``k`` directional comparisons.

    ``analytic[j] = g . u_j``, ``numeric[j] = D_{u_j}``, ``noise[j]`` its error bound;
    ``kink[j]`` when a relu kink lies in that direction's stencil.  ``suspect`` when a
    kink-free direction disagrees by more than ``safety * noise``; ``needs_full`` when the
    block must get the full check (suspect, kinked, or a non-finite analytic value).
    """

    block: str
    analytic: np.ndarray
    numeric: np.ndarray
    noise: np.ndarray
    kink: np.ndarray
    suspect: bool
    needs_full: bool
    safety: float = MARGIN
    entry_noise: float = 0.0  # the a-priori round-off of the full check (the measured one may be ROUNDOFF_DISCOUNT x lower)
    #: per entry: the claimed value ``g_j`` and the least error its direct check can see
    #: (``SAFETY ROUNDOFF_ULPS eps |f| / h_j``, the black-box search's ``entry_floor_noise``)
    claimed: np.ndarray | None = None
    entry_noises: np.ndarray | None = None

    def cover(self, thresholds: Thresholds) -> float:
        """The largest single-entry error that no entry's own check could fail, by the
        search's rule: ``min_j max(verdict.radius(g_j, fail_tol), 2 noise_j)``."""
        if self.claimed is None or self.entry_noises is None or not len(self.claimed):
            return 0.0
        with np.errstate(all="ignore"):
            c = np.maximum(radius(self.claimed, thresholds.fail_tol, thresholds), 2 * self.entry_noises)
        return float(np.min(c)) if np.all(np.isfinite(c)) else 0.0

    @property
    def detectable(self) -> float:
        """Any single entry off by more than this makes every kink-free direction suspect."""
        return (self.safety + 1.0) * float(np.max(self.noise))

    @property
    def ratio(self) -> np.ndarray:
        """``|g . u - D_u| / noise_u`` per direction (suspect above ``safety``)."""
        with np.errstate(all="ignore"):
            return np.abs(self.analytic - self.numeric) / self.noise


@dataclass(frozen=True)
class FastResult:
    """Fast mode over every block: per-block directional results and what needs a full check.

    ``verified`` maps each block whose directions agreed to ``(value, error)`` (flat, the
    block's entries): its extended-precision derivative (``precise.entry_derivatives``),
    the truth within ``value ± error``, judged entry by entry as the full check's are.
    """

    directional: tuple[DirectionalResult, ...]
    full_blocks: tuple[str, ...]
    verified: dict = field(default_factory=dict)


def directional_check(
    spec: NetworkSpec,
    data,
    labels,
    params,
    analytic,
    k: int = DEFAULT_DIRECTIONS,
    seed: int = 0,
    blocks: Iterable[str | Block] | None = None,
    safety: float = MARGIN,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> tuple[DirectionalResult, ...]:
    """Compare ``g . u`` with ``D_u`` along ``k`` Rademacher directions per block.

    ``analytic`` is the flat gradient being checked.  See the module docstring (fast mode)
    for the directions, the step and the suspect rule.  Seeded per (seed, block).
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise OptionError(f"number of directions must be a positive whole number, got {k!r}")
    if not (np.isfinite(safety) and safety > 0):
        raise OptionError(f"safety factor must be positive, got {safety!r}")
    base = Base(spec, data, labels, params)
    g_all = np.asarray(analytic, dtype=float).reshape(-1)
    if g_all.size != spec.param_count:
        raise OptionError(f"analytic gradient has {g_all.size} entries, the network has {spec.param_count}")
    out = []
    for block in resolve_blocks(spec, blocks):
        idx = [b.name for b in spec.blocks].index(block.name)
        rng = np.random.default_rng([int(seed), idx])
        x = block.take(base.params)
        g = block.take(g_all)
        U = rng.choice(np.array([-1.0, 1.0]), size=(k,) + x.shape) * np.maximum(np.abs(x), 1.0)
        with np.errstate(all="ignore"):
            terms = g[None] * U
            gu = np.sum(terms, axis=(1, 2))
            dot_noise = (ROUNDOFF_ULPS + np.log2(block.size)) * EPS * np.sum(np.abs(terms), axis=(1, 2))
        l = block.layer
        t = REL_STEP
        f = np.empty((k, 4))
        kk = np.zeros((k, 4), dtype=bool)
        step = max(1, chunk_bytes // (4 * base.M * max(spec.dims[l:]) * 8 * 4))
        for j0 in range(0, k, step):  # directions in groups of bounded memory
            j = slice(j0, min(k, j0 + step))
            if block.is_bias:
                G = np.broadcast_to(U[j], (U[j].shape[0], base.M, x.shape[1]))
            else:
                G = np.einsum("ia,kab->kib", base.acts[l - 1], U[j])  # (k, M, D_l)
            dz = (STENCIL * t)[None, :, None, None] * G[:, None]  # (k, 4, M, D_l)
            f[j], kk[j] = propagate(base, l, dz)
        f *= base.scale
        kink = np.any(kk, axis=1)
        num, noi = central_from_values(f[:, 0], f[:, 1], f[:, 2], f[:, 3], np.full(k, t), base.f_scale)
        noi = noi + dot_noise
        # the one judgement of a direction (fast_mode), with this mode's wider margin
        agree = np.array([judge_direction(float(a), float(d), float(safety * n)) is Agreement.AGREE
                          for a, d, n in zip(gu, num, noi)], dtype=bool)
        bad = ~agree & ~kink
        finite = bool(np.all(np.isfinite(g)))
        suspect = bool(np.any(bad)) or not finite
        out.append(
            DirectionalResult(
                block=block.name, analytic=gu, numeric=num, noise=noi, kink=kink,
                suspect=suspect, needs_full=suspect or bool(np.any(kink)), safety=float(safety),
                entry_noise=ROUNDOFF_ULPS * EPS * base.f_scale / float(np.max(default_step(x))),
                claimed=g.ravel().copy(),
                entry_noises=SAFETY * ROUNDOFF_ULPS * EPS * base.f_scale / default_step(x).ravel(),
            )
        )
    return tuple(out)


def fast_check(
    spec: NetworkSpec,
    data,
    labels,
    params,
    analytic,
    k: int = DEFAULT_DIRECTIONS,
    seed: int = 0,
    safety: float = MARGIN,
    thresholds: Thresholds | None = None,
) -> FastResult:
    """Fast mode: directional checks of every block; the blocks that need the full check.

    A block needs it when suspect or kinked.  A block whose directions agree gets the
    extended-precision derivative of every entry (``result.verified``, judged entry by
    entry by the caller); past ``EXTENDED_ELEMENTS`` it needs the full check when its
    ``detectable`` error exceeds its ``cover`` under ``thresholds`` (default tolerances
    when None): an error its directions cannot see must be one that no entry's own check
    (``verdict.assess``) could fail, ``verdict.radius(g_j, fail_tol)`` or the check's
    round-off, as the black-box search clears a set.  The caller then runs
    ``settle(..., blocks=result.full_blocks)`` so the report still names the wrong
    entries.  Cost: ``4 k`` structured evaluations per block, and one longdouble pass.
    """
    t = thresholds if thresholds is not None else Thresholds()
    res = directional_check(spec, data, labels, params, analytic, k=k, seed=seed, safety=safety)
    agreed = [r.block for r in res if not r.needs_full]
    verified: dict = {}
    if agreed and np.atleast_2d(np.asarray(data)).shape[0] * max(spec.dims) <= EXTENDED_ELEMENTS:
        p = precise.Precise(spec, data, labels, params)
        for name in agreed:
            block = spec.block(name)
            rows, cols = np.divmod(np.arange(block.size), block.shape[1])
            with np.errstate(all="ignore"):
                verified[name] = precise.entry_derivatives(spec, data, labels, params, block, rows, cols, precise=p)
        # the rare entries whose longdouble bound still leaves the verdict open: mpmath samples
        from .differences import refine_open, zero_scale

        numeric, noise = np.full(spec.param_count, np.nan), np.full(spec.param_count, np.nan)
        for name, (value, error) in verified.items():
            numeric[spec.block(name).slice], noise[spec.block(name).slice] = value, error
        idx = np.concatenate([np.arange(spec.param_count)[spec.block(name).slice] for name in verified])
        refine_open(spec, data, labels, params, analytic, numeric, noise, zero_scale(spec, data, labels, params),
                    idx, t, p)
        verified = {name: (numeric[spec.block(name).slice], noise[spec.block(name).slice]) for name in verified}
    full = []
    for r in res:
        if r.needs_full or (r.block not in verified and not (r.detectable <= r.cover(t))):
            full.append(r.block)
    return FastResult(res, tuple(full), verified)
