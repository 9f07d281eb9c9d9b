"""``gradcheck sanity``: the built-in suite (``sanity.SUITE``, CS224n assignment 1's sanity
checks) as one report: value items against printed references, gradient items with the
black-box check, and the built-in network with its structured check.
"""

from __future__ import annotations

import numpy as np

from ..choices import Method
from ..inputs import validate_seed
from ..results import Check, Report, SanityItem, SanitySubject, count_statuses
from ..verdict import Status, Thresholds
from ..choices import Mode
from ..blocks import judge_blocks, network_block_data
from .func import check_gradient
from .common import timed


def _value_report(name: str, computed: np.ndarray, expected: np.ndarray, thresholds: Thresholds) -> Report:
    """Computed values against printed ones: pass within ``sanity.VALUE_TOL``, else fail.

    In the checks, ``analytic`` is the computed value and ``numeric`` the reference.
    """
    from ..results import BlockResult
    from ..sanity import VALUE_TOL
    from ..verdict import Status, worst

    a = np.asarray(computed, dtype=float)
    r = np.broadcast_to(np.asarray(expected, dtype=float), a.shape)
    with np.errstate(all="ignore"):
        diff = np.abs(a - r)
        rel = np.where(diff == 0, 0.0, diff / np.maximum(np.abs(a), np.abs(r)))
    ok = np.isfinite(a) & (diff <= VALUE_TOL)
    rel = np.where(np.isfinite(rel), rel, np.inf)
    statuses = np.array([Status.PASS, Status.FAIL], dtype=object)[(~ok).astype(int)]
    w = int(np.argmax(rel.ravel()))
    wi = tuple(int(i) for i in np.unravel_index(w, a.shape))
    counts = count_statuses(list(statuses.ravel()))
    checks = tuple(
        Check(name=name, analytic=float(a[i]), numeric=float(r[i]), rel_error=float(rel[i]),
              status=statuses[i], floor=0.0, index=i)
        for i in (tuple(int(k) for k in j) for j in np.argwhere(~ok))
    )
    block = BlockResult(name=name, shape=a.shape, checked=a.size, max_rel_error=float(rel.ravel()[w]),
                        worst_index=wi, status=worst(statuses.ravel()), counts=counts)
    return Report(command="sanity", method=Method.CENTRAL, thresholds=thresholds, checks=checks,
                  counts=counts, blocks=(block,))


def _network_report(dims, seed: int, thresholds: Thresholds) -> Report:
    """The network item: the built-in network's structured check (``network.differences``), every entry."""
    from ..network import differences, model

    spec = model.NetworkSpec(tuple(dims))
    data, labels, params = model.make_problem(spec, 20, seed)
    _, g = model.cost_and_grad(spec, data, labels, params)
    numeric, noise, kink = differences.settle(spec, data, labels, params, g)
    verdict = judge_blocks(network_block_data(spec.blocks, g, numeric, noise, kink), thresholds, top=0)
    return Report(command="net", method=Method.CENTRAL, thresholds=thresholds, checks=verdict.checks,
                  counts=verdict.counts, blocks=verdict.blocks)


@timed
def check_sanity(*, seed: int = 0, thresholds: Thresholds = Thresholds(), items=None) -> Report:
    """Run the built-in sanity suite (``sanity.SUITE``, or ``items``) as one report.

    Each item contributes its block(s): one named after the item, or ``network.W1``...
    for the network; ``checks`` holds every failing entry; ``sanity`` holds one typed
    ``SanityItem`` per item, from which the view prints the course-style transcript
    (``Running sanity checks...``, the values, ``Gradient check passed!``).

    >>> check_sanity().passed
    True
    """
    from dataclasses import replace

    from .. import sanity
    from ..results import merge_counts

    validate_seed(seed)
    items = sanity.SUITE if items is None else tuple(items)
    rng = np.random.default_rng(seed)
    blocks, checks, counts, results = [], [], [], []
    for item in items:
        computed = expected = worst = None
        if isinstance(item, sanity.ValueItem):
            computed = np.asarray(item.compute(), dtype=float)
            expected = np.asarray(item.expected, dtype=float)
            sub = _value_report(item.name, computed, item.expected, thresholds)
        else:
            if isinstance(item, sanity.GradientItem):
                sub = check_gradient(item.f, item.make_x(rng), seed=seed, thresholds=thresholds, top=0, mode=Mode.FULL,
                                     name=item.name)
            else:
                sub = _network_report(item.dims, seed, thresholds)
            bad = [c for c in sub.checks if c.status in (Status.FAIL, Status.WARN)]
            worst = bad[0] if bad and not sub.passed else None
        results.append(SanityItem(name=item.name, title=item.title, status=sub.status, passed=sub.passed,
                                  computed=computed, expected=expected, worst=worst))
        rename = (lambda n: item.name) if len(sub.blocks) == 1 else (lambda n: f"{item.name}.{n}")
        blocks += [replace(b, name=rename(b.name)) for b in sub.blocks]
        checks += [replace(c, name=rename(c.name)) for c in sub.checks if c.status in (Status.FAIL, Status.WARN)
                   and (c.status is Status.FAIL or thresholds.strict)]
        counts.append(sub.counts)
    return Report(
        command="sanity",
        method=Method.CENTRAL,
        thresholds=thresholds,
        checks=tuple(checks),
        counts=merge_counts(counts),
        blocks=tuple(blocks),
        subject=SanitySubject(tuple(results)),
    )
