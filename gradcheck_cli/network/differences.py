"""Structured finite differences of the built-in network's cost, for every parameter.

numpy only.  Nothing here prints; results are arrays and frozen dataclasses.

Estimate and error figure
-------------------------
For each parameter ``x_e`` the numeric derivative is the central difference of
``finite_diff`` with its fixed step and error model::

    h_e   = eps**(1/3) max(|x_e|, 1)                              (finite_diff.default_step)
    D(h)  = (f(x + h e) - f(x - h e)) / 2h
    noise = |D(4h) - D(h)| / 15  +  4 eps f_scale / h             (finite_diff.central_from_values)

with ``f_scale = sum_i |c_i|`` (divided by M for a mean cost), the size of what the cost
sums; for cross-entropy ``|c_i|`` is raised by ``max_k |z_ik| + |z_{i,y}|``, the size of the
two terms of ``c_i = logsumexp(z_i) - z_{i,y}``, whose round-off remains when a saturated
softmax makes ``c_i`` itself ~0.  ``noise`` bounds ``|D(h) - f'(x)|``: the first term is the truncation error
``c h**2`` of ``D(h)`` (``D(4h) - D(h) = 15 c h**2``), the second the round-off of
evaluating two sums of M costs.  The verdict (``verdict.py``) passes an entry whose
``|analytic - numeric| <= noise``.

How the perturbed costs are computed
------------------------------------
Not by 4P forward passes.  The cost is a sum over samples, and perturbing ``W_l[a, b]``
by ``d`` moves only unit b of layer l, by ``d u_s`` in sample s (``u = a_{l-1}[:, a]``;
``u = 1`` for ``b_l[b]``).  So every stencil value is a sum of one-dimensional functions::

    f(x + d e) - f(x) = sum_s phi_{s,b}(d u_s),
    phi_{s,b}(t) = c_s(z_l[s, b] + t) - c_s(z_l[s, b])    (the rest of z_l[s] fixed)

and only these *changes* are formed, never ``f(x + h e)`` itself.

*Output layer* (``W_L``, ``b_L``): ``phi`` is closed-form and evaluated exactly, O(M)
per stencil point (``_tile``)::

    cross-entropy:  dc_s = (sum_j y_sj) log1p(p_sb expm1(d)) - y_sb d
    squared error:  dc_s = dyhat (yhat_sb - y_sb + dyhat / 2)

(``network.dense``).

*Hidden layers* (every l < L): certified Taylor series per (sample, unit), see
``network.series``.

Kinks (relu)
------------
An entry is a kink when a relu pre-activation changes sign inside its stencil
``[x - 4h, x + 4h]``.  Up to the first sign change every pre-activation moves by
``t J`` (the network is linear there), so the first crossing of row (s, b) is at
``dstar = min(|z_l[s, b]|, min_{m,k} |z_m[s, k]| / |J_m[k]|)`` (``relu_dstar``), exact;
an entry is a kink when ``4 h |u_s| > dstar`` for some sample.  Inside the kink-free
region relu's ``phi`` is the loss along a line, analytic, so its series is certified as
above; kink entries are recomputed densely, so their numbers are true differences.

"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

from ..errors import OptionError
from ..finite_diff import central_from_values, default_step, evidence, unit_roundoff
from ..verdict import CODE, Status, Thresholds, assess
from . import precise, refine
from .dense import dense_entries
from .kernels import DEFAULT_CHUNK_BYTES, Base, block_u, cost_magnitude, resolve_blocks, row_tiles
from .model import Activation, Block, NetworkSpec, forward, validate_inputs
from .series import MAX_ORDER, first_order, layer_series, relu_dstar, series_block


#: numbers per layer (samples x widest layer) up to which ``settle`` re-estimates the entries
#: float64 leaves open in extended precision (above ``model.EXTENDED_ELEMENTS``, where the
#: analytic gradient itself stays float64: only the few open entries need the longdouble pass)
LIFT_ELEMENTS = 10_000_000


#: float64's smallest normal number: below it a value computed in float64 has lost relative
#: precision (gradual underflow), so a claim and a truth both within it are zero to float64
UNDERFLOW = float(np.finfo(float).tiny)


@dataclass(frozen=True)
class NumericGradient:
    """Numeric gradient of the cost with its error, flat like ``params``.

    Entries outside the checked blocks are NaN (numeric, noise) and False (kink).
    Unpacks as ``numeric, noise, kink = result``.
    """

    numeric: np.ndarray
    noise: np.ndarray
    kink: np.ndarray
    #: entries re-estimated in extended precision (``settle``); None when none was asked
    precise: np.ndarray | None = None
    #: the zero rule's ``z`` per entry (``verdict.assess``): ``zero_scale`` where the
    #: extended-precision evidence stands (``settle``), else 0; None when none was asked
    zero_scale: np.ndarray | None = None

    def __iter__(self):
        return iter((self.numeric, self.noise, self.kink))


def numeric_gradient(
    spec: NetworkSpec,
    data,
    labels,
    params,
    blocks: Iterable[str | Block] | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> NumericGradient:
    """Central-difference derivative of the cost for every entry of ``blocks`` (default all).

    Returns flat ``(numeric, noise, kink)`` of length P (see the module docstring for the
    error model); entries of other blocks are NaN / NaN / False.  Hidden layers take the
    certified per-unit series, the output layer and uncertified units exact changes.  Peak
    extra memory: a few arrays of the block's size, plus about ``K`` times ``chunk_bytes``
    for a tile of the series (K its order, typically <= 6), or a few times ``chunk_bytes``
    on the dense path (at least a few arrays of 4 M D floats, D the widest later layer).
    """
    if not (isinstance(chunk_bytes, (int, np.integer)) and chunk_bytes >= 2**12):
        raise OptionError(f"chunk_bytes must be an integer >= 4096, got {chunk_bytes!r}")
    samples = _sample_chunks(spec, np.atleast_2d(np.asarray(data)).shape[0])
    if len(samples) > 1:
        return _numeric_gradient_by_samples(spec, data, labels, params, blocks, int(chunk_bytes), samples)
    base = Base(spec, data, labels, params)
    P = spec.param_count
    numeric = np.full(P, np.nan)
    noise = np.full(P, np.nan)
    kink = np.zeros(P, dtype=bool)
    for block in resolve_blocks(spec, blocks):
        with np.errstate(all="ignore"):  # a non-finite value shows as nan numeric, inf noise
            n, e, k = _block_numeric(base, block, int(chunk_bytes))
        numeric[block.slice], noise[block.slice], kink[block.slice] = n.ravel(), e.ravel(), k.ravel()
    return NumericGradient(numeric, noise, kink)


#: the hidden layers' series hold MAX_ORDER coefficients per (sample, unit); past this many
#: bytes the samples are taken in chunks (the cost is a sum over samples)
SERIES_BYTES = 256 * 2**20


def _sample_chunks(spec: NetworkSpec, M: int) -> list[slice]:
    """Slices of the samples such that each chunk's series fit in ``SERIES_BYTES``."""
    widest = max(spec.dims[1:-1], default=1)
    rows = max(1, SERIES_BYTES // (MAX_ORDER * widest * 8))
    return [slice(i, min(i + rows, M)) for i in range(0, M, rows)] or [slice(0, M)]


def _numeric_gradient_by_samples(spec, data, labels, params, blocks, chunk_bytes: int, chunks) -> NumericGradient:
    """:func:`numeric_gradient` with the samples in chunks: the cost is a sum over samples,
    so the stencil values of the chunks add up (and kinks combine by "or"); the mean cost
    divides the sum by M once, at the end.  Memory then does not grow with M."""
    data = np.atleast_2d(np.asarray(data, dtype=float))
    labels = np.asarray(labels)
    chosen = resolve_blocks(spec, blocks)
    sums: dict[str, np.ndarray] = {}
    kinks: dict[str, np.ndarray] = {}
    steps: dict[str, np.ndarray] = {}
    magnitude = 0.0
    for c in chunks:
        base = Base(spec, data[c], labels[c], params)
        magnitude += base.f_scale / base.scale  # sum over the chunk's samples
        for block in chosen:
            with np.errstate(all="ignore"):
                f, kink, h = _block_values(base, block, chunk_bytes)
            sums[block.name] = f if block.name not in sums else sums[block.name] + f
            kinks[block.name] = kink if block.name not in kinks else kinks[block.name] | kink
            steps[block.name] = h
    scale = 1.0 / data.shape[0] if spec.mean else 1.0
    P = spec.param_count
    numeric, noise, kink = np.full(P, np.nan), np.full(P, np.nan), np.zeros(P, dtype=bool)
    for block in chosen:
        f = sums[block.name] * scale
        with np.errstate(all="ignore"):
            n, e = central_from_values(f[0], f[1], f[2], f[3], steps[block.name], magnitude * scale, measured=True)
        numeric[block.slice], noise[block.slice], kink[block.slice] = n.ravel(), e.ravel(), kinks[block.name].ravel()
    return NumericGradient(numeric, noise, kink)


def settle(
    spec: NetworkSpec,
    data,
    labels,
    params,
    analytic,
    thresholds: Thresholds | None = None,
    blocks: Iterable[str | Block] | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    result: NumericGradient | None = None,
) -> NumericGradient:
    """``numeric_gradient``, with every entry its evidence cannot decide taken in extended precision.

    The float64 estimate is judged as the report will judge it (``finite_diff.evidence``
    and ``verdict.assess`` under ``thresholds``); entries that come out ``unresolved`` or
    ``warn`` (outside kinks) are re-estimated by ``precise.entry_derivatives``: a
    longdouble complex-step derivative whose bound is ~1e-15 of its terms' size.  A
    correct network then passes everywhere; a wrong entry is judged on better evidence
    (a fail stays a fail: its float64 interval already excluded the analytic value).
    ``result.precise`` marks the re-estimated entries (the longdouble pass is made only
    when some entry needs it: 50-30-10 at ``--samples 100000`` leaves a few, at 0.4 of
    the float64 check's time).  Past ``LIFT_ELEMENTS`` numbers per layer (samples x widest
    layer) the float64 evidence stands alone, as the longdouble pass would cost far more
    than the check.
    """
    res = result if result is not None else numeric_gradient(spec, data, labels, params, blocks, chunk_bytes)
    if np.atleast_2d(np.asarray(data)).shape[0] * max(spec.dims) > LIFT_ELEMENTS:
        return NumericGradient(res.numeric, res.noise, res.kink, np.zeros(spec.param_count, dtype=bool),
                               np.zeros(spec.param_count))
    t = thresholds if thresholds is not None else Thresholds()
    a = np.asarray(analytic, dtype=float).reshape(-1)
    if a.size != spec.param_count:
        raise OptionError(f"analytic gradient has {a.size} entries, the network has {spec.param_count}")
    numeric, noise = res.numeric.copy(), res.noise.copy()
    lifted = np.zeros(spec.param_count, dtype=bool)
    cache: dict = {}
    for block in resolve_blocks(spec, blocks):
        sl = block.slice
        with np.errstate(all="ignore"):
            error, zs = evidence(a[sl], numeric[sl], noise[sl])
            # |a - t| / max(|a|, |t|, floor) <= (|a - n| + e) / |a| on [n - e, n + e]: a sure pass
            open_ = ~((np.abs(a[sl] - numeric[sl]) + error <= t.pass_tol * np.abs(a[sl])) | res.kink[sl])
        idx = np.flatnonzero(open_)
        if idx.size:
            with np.errstate(all="ignore"):
                code = assess(a[sl][idx], numeric[sl][idx], error[idx], t, zero_scale=zs[idx]).code
            undecided = ((code == CODE[Status.UNRESOLVED]) | (code == CODE[Status.WARN])) & np.isfinite(a[sl][idx])
            idx = idx[undecided]
        if idx.size == 0:
            continue
        rows, cols = np.divmod(idx, block.shape[1])
        if "p" not in cache:
            cache["p"] = precise.Precise(spec, data, labels, params)
        with np.errstate(all="ignore"):
            n, e = precise.entry_derivatives(spec, data, labels, params, block, rows, cols, precise=cache["p"])
        numeric[sl.start + idx], noise[sl.start + idx] = n, e
        lifted[sl.start + idx] = True
    zero = zero_scale(spec, data, labels, params) if lifted.any() else np.zeros(spec.param_count)
    if lifted.any():
        refine_open(spec, data, labels, params, a, numeric, noise, zero, np.flatnonzero(lifted), t, cache["p"])
    return NumericGradient(numeric, noise, res.kink, lifted, np.where(lifted, zero, 0.0))


def refine_open(spec: NetworkSpec, data, labels, params, analytic, numeric, noise, zero, idx, thresholds,
                p) -> None:
    """The entries ``idx`` (flat) whose extended-precision evidence still leaves the verdict
    open (``unresolved`` or ``warn``) get their dominant samples in mpmath (``refine``), in
    place in ``numeric`` and ``noise``: at most ``refine.MAX_ENTRIES`` of them (a chance
    cancellation to 1e-8 between samples, about one entry in 10**7)."""
    a = np.asarray(analytic, dtype=float)
    with np.errstate(all="ignore"):
        error, zs = evidence(a[idx], numeric[idx], noise[idx], unit_roundoff=zero[idx])
        code = assess(a[idx], numeric[idx], error, thresholds, zero_scale=zs).code
    open_ = idx[((code == CODE[Status.UNRESOLVED]) | (code == CODE[Status.WARN])) & np.isfinite(a[idx])]
    if open_.size == 0 or open_.size > refine.MAX_ENTRIES:
        return
    for block in spec.blocks:
        mine = open_[(open_ >= block.offset) & (open_ < block.offset + block.size)]
        if mine.size:
            rows, cols = np.divmod(mine - block.offset, block.shape[1])
            numeric[mine], noise[mine] = refine.refine(p, spec, data, labels, params, block, rows, cols)


def zero_scale(spec: NetworkSpec, data, labels, params) -> np.ndarray:
    """The zero rule's ``z`` (flat, length P) for extended-precision evidence of every entry.

    The rule every command applies (``finite_diff.evidence``): a claim and a proved truth
    both within the round-off of f per unit x, ``finite_diff.unit_roundoff(f_scale, x)``
    (``f_scale`` the size of what the cost sums, ``kernels.cost_magnitude``), are zero to
    round-off: float64 differences cannot show an interval that narrow, extended
    precision can (two saturated samples whose contributions cancel exactly, leaving
    5e-12 next to a cost of 4000).  And never below ``UNDERFLOW``: a truth below float64's
    normal range has no relative precision to judge a float64 claim by (gradual underflow:
    its ulp is 5e-324 at any size).
    """
    data, labels, params = validate_inputs(spec, data, labels, params)
    fw = forward(spec, data, labels, params)
    f_scale = float(np.sum(cost_magnitude(spec, fw, labels))) / (data.shape[0] if spec.mean else 1)
    return np.maximum(unit_roundoff(f_scale, params), UNDERFLOW)


def kink_mask(spec: NetworkSpec, data, params, blocks: Iterable[str | Block] | None = None) -> np.ndarray:
    """Flat bool mask (length P): a relu pre-activation changes sign inside the entry's stencil.

    Always all False for sigmoid and tanh.  Only the first-order pass of the structured
    check (``relu_dstar``): labels do not affect kinks.
    """
    data = np.atleast_2d(np.asarray(data, dtype=float))
    out = np.zeros(spec.param_count, dtype=bool)
    if spec.activation is not Activation.RELU:
        return out
    labels = np.zeros((data.shape[0], spec.dims[-1]))
    base = Base(spec, data, labels, params)
    dstars: dict[int, np.ndarray] = {}
    for block in resolve_blocks(spec, blocks):
        l = block.layer
        if l == base.L:
            continue  # the output layer has no relu after it
        if l not in dstars:
            dstar = np.empty((base.M, spec.dims[l]))
            for s, b in row_tiles(base, l, np.arange(dstar.size), DEFAULT_CHUNK_BYTES):
                dstar[s, b] = relu_dstar(base, l, s, b, first_order(base, l, s, b))
            dstars[l] = dstar
        out[block.slice] = _entry_kinks(base, block, dstars[l]).ravel()
    return out


def _entry_kinks(base: Base, block: Block, dstar: np.ndarray) -> np.ndarray:
    """(rows, cols): some sample's ``4 h |u|`` exceeds its distance to the first relu kink."""
    h4 = 4.0 * default_step(block.take(base.params))
    u = np.abs(block_u(base, block))
    kink = np.zeros(h4.shape, dtype=bool)
    for s in range(base.M):
        kink |= h4 * u[s][:, None] > dstar[s][None, :]
    return kink


def _block_values(base: Base, block: Block, chunk_bytes: int):
    """Stencil values ``f (4, rows, cols)`` of the summed (unscaled) cost, kinks and steps."""
    l = block.layer
    x = block.take(base.params)  # (rows, cols)
    h = default_step(x)
    if l == base.L:  # the output layer: exact, O(M) per entry
        f, kink = dense_entries(base, block, h, np.arange(x.shape[1]), chunk_bytes)
    else:
        f, kink = series_block(base, block, h, layer_series(base, l, chunk_bytes), chunk_bytes)
    return f, kink, h


def _block_numeric(base: Base, block: Block, chunk_bytes: int):
    f, kink, h = _block_values(base, block, chunk_bytes)
    f *= base.scale
    # issue 9: the structured differences cancel identical rounding: measure it
    numeric, noise = central_from_values(f[0], f[1], f[2], f[3], h, base.f_scale, measured=True)
    return numeric, noise, kink
