"""Per-block verdicts: a block (``W1``, ``x``, a layer input) judged entry by entry.

numpy only.  ``judge_blocks`` applies the one rule (``verdict.assess`` on the evidence of
``finite_diff.evidence``) to every entry of every block, summarises each block and picks
the entries a report shows: every failing one, then the ``top`` worst.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np

from .finite_diff import evidence
from .results import BlockResult, Check, merge_counts
from .verdict import STATUS_BY_CODE, Thresholds, assess, count_codes, worst


@dataclass(frozen=True)
class BlockData:
    """Analytic and numeric values of one parameter block, flat, before the verdict.

    ``indices`` are the flat indices (into the block) that were checked, in the order
    of the arrays; ``None`` means every entry in order.
    """

    name: str
    shape: tuple[int, ...]
    analytic: np.ndarray
    numeric: np.ndarray
    noise: np.ndarray
    kink: np.ndarray | None = None
    indices: np.ndarray | None = None
    #: machine epsilon of the code that computed the values (float32 code: float32's)
    eps: float = float(np.finfo(float).eps)
    #: round-off resolution of the estimate (``finite_diff.Estimate.resolution``)
    resolution: np.ndarray | None = None
    #: round-off of f per unit x, ``ANALYTIC_ULPS eps |f| / max(|x_k|, 1)`` (the zero
    #: rule's ``z`` for a claim that is not exactly 0; ``finite_diff.evidence``)
    unit_roundoff: np.ndarray | None = None
    #: a lower bound of the block's gradient scale ``G`` proved by entries outside this data
    #: (those an adaptive search verified: ``outcome.proved_scale``); 0: none
    scale: float = 0.0
    #: the function's own scale per unit x per entry, ``|f| / max(|x_k|, 1)`` (the zero rule's
    #: cap of ``G`` per entry, ``finite_diff.entry_scale``); NaN or None: not known
    size: np.ndarray | None = None

    def only(self, keep: np.ndarray) -> "BlockData":
        """These entries where the boolean mask ``keep`` holds (every per-entry field)."""
        pick = lambda v: None if v is None else np.asarray(v)[keep]  # noqa: E731
        idx = np.arange(len(self.analytic)) if self.indices is None else np.asarray(self.indices)
        return replace(self, analytic=pick(self.analytic), numeric=pick(self.numeric), noise=pick(self.noise),
                       indices=idx[keep], kink=pick(self.kink), resolution=pick(self.resolution),
                       unit_roundoff=pick(self.unit_roundoff), size=pick(self.size))

    def assessed(self, thresholds: Thresholds, *, proved_scale: bool = True):
        """``verdict.assess`` of these entries on their evidence (``finite_diff.evidence`` of
        every field above); ``proved_scale=False`` leaves out ``scale``, the gradient scale
        proved outside these entries (the dispute's and the kink suspects' selection judge by
        these entries' own evidence)."""
        error, zs = evidence(self.analytic, self.numeric, self.noise, self.eps, self.resolution, self.unit_roundoff,
                             self.scale if proved_scale else 0.0, self.size)
        return assess(self.analytic, self.numeric, error, thresholds, zero_scale=zs, kink=self.kink)


@dataclass(frozen=True)
class BlockVerdict:
    """Per-block verdicts: block summaries, the entries to show, counts over all."""

    blocks: tuple  # of results.BlockResult
    checks: tuple  # of results.Check: every failing entry, then the top-K worst
    counts: dict
    statuses: dict  # block name -> object array of Status per checked entry
    rel: dict  # block name -> relative errors per checked entry
    indices: dict = field(default_factory=dict)  # block name -> the checked entries (flat, in order)


def network_block_data(blocks, g: np.ndarray, numeric: np.ndarray, noise: np.ndarray,
                       kink: np.ndarray) -> list[BlockData]:
    """``BlockData`` of each network block (``models.Block``) from flat parameter-length arrays."""
    return [BlockData(b.name, b.shape, g[b.slice], numeric[b.slice], noise[b.slice], kink[b.slice]) for b in blocks]


#: rank of a status code (``verdict.STATUS_BY_CODE``) among a report's rows, worst
#: highest: fail, warn, unresolved, kink, pass
_ROW_RANK = np.array([0, 3, 4, 1, 2])


def row_order(code: np.ndarray, proved: np.ndarray, rel: np.ndarray, agreed: np.ndarray,
              possible: np.ndarray | None = None) -> np.ndarray:
    """Positions of entries, worst first: by status (fail, warn, unresolved, kink, pass),
    then by how wrong the evidence proves the claim (``proved``: ``min r`` over the
    truth's interval), then by the displayed relative error ``rel``, then by how wrong it
    may be (``possible``: ``max r``; the least settled unresolved entry first).  A pass by
    the zero rule (``agreed``: its displayed error is round-off) ranks below every
    relative pass.  NaN (a non-finite claim) ranks as infinitely wrong.  The figures
    that involve an error bound are compared to six digits (its last ulps do not reorder
    equal errors); ties keep the entries' order."""
    code = np.asarray(code, dtype=int)
    worse = lambda v, digits=_six_digits: np.where(agreed, -1.0, digits(v))  # noqa: E731
    keys = (-worse(rel, _inf_nan), -worse(proved), -_ROW_RANK[code])
    return np.lexsort(keys if possible is None else (-worse(possible),) + keys)


def _inf_nan(v) -> np.ndarray:
    return np.nan_to_num(np.asarray(v, dtype=float), nan=np.inf, posinf=np.inf)


def _six_digits(v) -> np.ndarray:
    """``v`` rounded to six significant digits (NaN and inf: inf)."""
    v = _inf_nan(v)
    with np.errstate(all="ignore"):
        unit = 10.0 ** (np.floor(np.log10(np.abs(v))) - 5)
        return np.where(np.isfinite(v) & (v != 0), np.round(v / unit) * unit, v)


def judge_blocks(data: Sequence[BlockData], thresholds: Thresholds, top: int = 5) -> BlockVerdict:
    """Apply the verdict entry by entry; summarise per block; pick entries to report.

    ``checks`` holds every failing (or, under ``--strict``, warning or unresolved) entry
    plus the ``top`` worst entries overall, in ``row_order``: every non-pass block shows
    its non-pass entries first, each with its reason.  A block's worst entry is its first
    entry in that order (``max_rel_error`` is that entry's relative error; 0 for a kink, and
    for a block whose every entry passes by round-off: its relative error says nothing).
    """
    results, counts, statuses, rels, parts, errors, reasons = [], [], {}, {}, [], {}, {}
    for bi, b in enumerate(data):
        # issue 9: the interval rule; exact zeros (a == 0 and f unchanged) pass
        res = b.assessed(thresholds)
        code, rel, floor = res.code, res.rel, res.floor
        finite_a = np.isfinite(np.asarray(b.analytic, dtype=float))
        # a non-finite analytic value has no error bar either (one representation: nan)
        errors[b.name] = np.where(finite_a, res.error, np.nan)
        reasons[b.name] = res.reasons
        # a NaN/inf in the user's gradient has no relative error: NaN (JSON null, table
        # "nan"), ranked worst, and a failure (assess fails a non-finite analytic value)
        rel = np.where(finite_a, rel, np.nan)
        proved = np.where(finite_a, res.rel_min, np.nan)
        agreed = (code == 0) & (res.rel_max > thresholds.pass_tol)
        st = STATUS_BY_CODE[code]
        idx = np.arange(len(rel)) if b.indices is None else np.asarray(b.indices)
        order = row_order(code, proved, rel, agreed, res.rel_max)
        w = int(order[0]) if len(rel) else None
        c = count_codes(code)
        results.append(BlockResult(
            name=b.name, shape=tuple(b.shape), checked=len(rel),
            max_rel_error=float(rel[w]) if w is not None and code[w] != 3 and not agreed[w] else 0.0,
            worst_index=tuple(int(i) for i in np.unravel_index(idx[w], b.shape)) if w is not None else None,
            # (the codes present; not np.unique, which imports numpy.ma on first use: 7 ms)
            status=worst(STATUS_BY_CODE[np.flatnonzero(np.bincount(np.asarray(code, dtype=int).ravel()))]), counts=c,
        ))
        counts.append(c)
        statuses[b.name], rels[b.name] = st, rel
        failing = (code == 2) | (((code == 1) | (code == 4)) & thresholds.strict)
        parts.append((np.full(len(rel), bi), np.arange(len(rel)), code, proved, rel, agreed, res.rel_max, failing,
                      floor))
    if parts:
        block_of, entry, code, proved, rel, agreed, possible, failing, floor = (np.concatenate(a) for a in zip(*parts))
        order = row_order(code, proved, rel, agreed, possible)
        keep = np.zeros(len(order), dtype=bool)
        keep[order[:top]] = True
        keep |= failing
        chosen = [i for i in order if keep[i]]
    else:
        chosen = []
    checks = []
    for i in chosen:
        b, j = data[block_of[i]], entry[i]
        flat = j if b.indices is None else b.indices[j]
        checks.append(Check(
            name=b.name, analytic=float(b.analytic[j]), numeric=float(b.numeric[j]),
            rel_error=float(rels[b.name][j]), status=statuses[b.name][j], floor=float(floor[i]),
            index=tuple(int(k) for k in np.unravel_index(flat, b.shape)),
            error=float(errors[b.name][j]), reason=reasons[b.name][j].value,
        ))
    indices = {b.name: (np.arange(len(b.analytic)) if b.indices is None else np.asarray(b.indices)) for b in data}
    return BlockVerdict(tuple(results), tuple(checks), merge_counts(counts), statuses, rels, indices)
