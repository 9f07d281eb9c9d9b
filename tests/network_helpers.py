"""Shared helpers of the network tests (``test_network_differences``, ``test_network_directions``):
the old noise/pass_tol oracle the network's own figures are stated with, and the naive
per-entry loop they are compared against."""

from __future__ import annotations

import numpy as np

from gradcheck_cli.finite_diff import central_from_values, default_step
from gradcheck_cli.network import differences, kernels
from gradcheck_cli.network import model as m
from gradcheck_cli.verdict import STATUS_BY_CODE, Thresholds, worst

T = Thresholds()

T = Thresholds()


def old_oracle(analytic, numeric, noise, kink=None):
    """The network differences state their figures with the floor noise / pass_tol (the
    command's verdict is ``assess``): the tests keep that oracle for them."""
    a, n = np.asarray(analytic, dtype=float), np.asarray(numeric, dtype=float)
    with np.errstate(all="ignore"):
        d = np.abs(a - n)
        rel = np.where(d == 0, 0.0, d / np.maximum(np.maximum(np.abs(a), np.abs(n)), np.asarray(noise) / T.pass_tol))
    rel = np.where(np.isfinite(a) & np.isfinite(n), rel, np.inf)
    code = np.where(rel <= T.pass_tol, 0, np.where(rel <= T.fail_tol, 1, 2))
    if kink is not None:
        code = np.where(np.asarray(kink, dtype=bool), 3, code)
    return rel, STATUS_BY_CODE[code]


def verdicts(spec, data, labels, params, analytic, result=None):
    numeric, noise, kink = result if result is not None else differences.numeric_gradient(spec, data, labels, params)
    return old_oracle(analytic, numeric, noise, kink)


def where(statuses, status):
    """Boolean mask of the entries with ``status`` (object arrays of Status)."""
    return np.array([s is status for s in statuses], dtype=bool)


def block_status(spec, statuses):
    return {b.name: worst(statuses[b.slice]) for b in spec.blocks}


def naive_numeric(spec, data, labels, params):
    """The per-entry loop: 4 full cost evaluations per entry, same step and error model."""
    fw = m.forward(spec, data, labels, params)
    f_scale = np.sum(kernels.cost_magnitude(spec, fw, labels)) / (data.shape[0] if spec.mean else 1)
    numeric, noise = np.empty(params.size), np.empty(params.size)
    for i in range(params.size):
        h = default_step(params[i])
        vals = []
        for s in (1, -1, 4, -4):
            q = params.copy()
            q[i] += s * h
            vals.append(m.cost(spec, data, labels, q))
        numeric[i], noise[i] = central_from_values(*vals, h, f_scale)
    return numeric, noise
