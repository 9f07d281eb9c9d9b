"""Tests of network/series.py: the certified per-unit Taylor series against exact dense
changes and against mpmath."""

from __future__ import annotations

import numpy as np
import pytest

from gradcheck_cli.network import differences, kernels, series
from gradcheck_cli.network import model as m

def dense_reference(monkeypatch, spec, data, labels, params):
    """The dense path for every entry: no Taylor order is certified when the budget is 0."""
    with monkeypatch.context() as mp:
        mp.setattr(series, "SERIES_BUDGET", 0.0)
        return differences.numeric_gradient(spec, data, labels, params)


def test_series_and_general_paths_agree(monkeypatch):
    spec = m.NetworkSpec((30, 12, 10))
    data, labels, params = m.make_problem(spec)
    series = differences.numeric_gradient(spec, data, labels, params)
    general = dense_reference(monkeypatch, spec, data, labels, params)
    assert np.all(np.abs(series.numeric - general.numeric) <= 1e-2 * series.noise)


DEEP = [dict(dims=dims, activation=act, loss=loss, mean=mean)
        for dims in [(7, 6, 5, 4), (6, 5, 5, 4, 3)]
        for act in ("sigmoid", "tanh", "relu")
        for loss, mean in (("ce", False), ("mse", True))]


@pytest.mark.parametrize("kw", DEEP, ids=lambda kw: "-".join(map(str, kw.values())))
@pytest.mark.parametrize("scale", [0.3, 1.0, 4.0])
def test_series_equals_the_dense_differences_entry_by_entry(monkeypatch, kw, scale):
    """Every hidden layer's series against exact changes propagated densely.

    The certified truncation is at most SERIES_BUDGET eps f_scale per stencil sum, 1/80 of
    the noise's round-off part; the dense changes are exact to a few ulps of the change.
    """
    spec = m.NetworkSpec(**kw)
    data, labels, params = m.make_problem(spec, samples=9, seed=3)
    params = params * scale
    series = differences.numeric_gradient(spec, data, labels, params)
    dense = dense_reference(monkeypatch, spec, data, labels, params)
    np.testing.assert_array_equal(series.kink, dense.kink)
    assert np.all(np.abs(series.numeric - dense.numeric) <= 0.02 * dense.noise)
    # the round-off part of the noise is measured from the rungs (issue 9), whose rounding
    # differs a little between the series and the dense changes
    np.testing.assert_allclose(series.noise, dense.noise, rtol=0.25)
    _, grad = m.cost_and_grad(spec, data, labels, params)
    smooth = ~series.kink
    assert np.all(np.abs(grad - series.numeric)[smooth] <= series.noise[smooth])


def test_units_whose_series_cannot_be_certified_take_the_dense_path(monkeypatch):
    spec = m.NetworkSpec((12, 10, 8, 6), activation="tanh")
    data, labels, params = m.make_problem(spec, samples=8, seed=5)
    base = kernels.Base(spec, data, labels, params)
    orders = series.layer_series(base, 1, kernels.DEFAULT_CHUNK_BYTES).coeffs.shape[0]
    assert orders >= 3
    monkeypatch.setattr(series, "MAX_ORDER", orders - 1)  # some units now need more than allowed
    base = kernels.Base(spec, data, labels, params)
    dense_units = series.layer_series(base, 1, kernels.DEFAULT_CHUNK_BYTES).dense
    assert dense_units.any() and not dense_units.all()
    mixed = differences.numeric_gradient(spec, data, labels, params)
    dense = dense_reference(monkeypatch, spec, data, labels, params)
    assert np.all(np.abs(mixed.numeric - dense.numeric) <= 0.02 * dense.noise)


def _mp_cost_change(spec, data, labels, params, l, s, b, t, mp):
    """``phi_{s,b}(t)`` in mpmath: the cost of sample s with ``z_l[s, b] += t``, minus at t = 0."""
    layers = spec.unpack(params)

    def act(x, last):
        if last:
            return x
        if spec.activation == "sigmoid":
            return 1 / (1 + mp.exp(-x))
        if spec.activation == "tanh":
            return mp.tanh(x)
        return max(x, mp.mpf(0))

    def cost(dt):
        a = [mp.mpf(float(v)) for v in data[s]]
        for k, (W, bias) in enumerate(layers, start=1):
            z = [mp.fsum(a[i] * mp.mpf(float(W[i, j])) for i in range(len(a))) + mp.mpf(float(bias[0, j]))
                 for j in range(W.shape[1])]
            if k == l:
                z[b] += dt
            a = [act(v, k == spec.layers) for v in z]
        y = [mp.mpf(float(v)) for v in labels[s]]
        if spec.loss == "ce":
            lse = mp.log(mp.fsum(mp.exp(v) for v in a))
            return mp.fsum(yj * (lse - zj) for yj, zj in zip(y, a))
        return mp.fsum((1 / (1 + mp.exp(-v)) - yj) ** 2 for v, yj in zip(a, y)) / 2

    return cost(mp.mpf(t)) - cost(mp.mpf(0))


@pytest.mark.parametrize("act", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("loss", ["ce", "mse"])
@pytest.mark.parametrize("scale", [0.5, 3.0])
def test_certified_series_matches_extended_precision(act, loss, scale):
    """The truncated series is within its budget of the true change (mpmath, 40 digits)
    at the edges of the stencil, ``t = +-r`` and ``+-r/4``, for every hidden layer."""
    mp = pytest.importorskip("mpmath").mp
    mp.dps = 40
    spec = m.NetworkSpec((4, 5, 4, 3), activation=act, loss=loss)
    data, labels, params = m.make_problem(spec, samples=3, seed=7)
    params = params * scale
    base = kernels.Base(spec, data, labels, params)
    tol = series.SERIES_BUDGET * series.EPS * base.per_sample_scale
    checked = 0
    for l in (1, 2):
        r = series._stencil_radius(base, l)
        s, b = np.divmod(np.arange(r.size), spec.dims[l])
        J = series.first_order(base, l, s, b)
        need = series.tail_orders(base, l, s, b, r[s, b], J)
        dstar = series.relu_dstar(base, l, s, b, J) if act == "relu" else np.full(s.size, np.inf)
        for i in np.flatnonzero((need > 0) & (r[s, b] < dstar)):
            c = series._unit_series(base, l, s[i : i + 1], b[i : i + 1], need[i : i + 1], {k: v[i : i + 1] for k, v in J.items()})
            for t in (r[s[i], b[i]], -r[s[i], b[i]], r[s[i], b[i]] / 4):
                approx = sum(float(cn[0]) * t**n for n, cn in enumerate(c, start=1))
                true = _mp_cost_change(spec, data, labels, params, l, int(s[i]), int(b[i]), t, mp)
                assert abs(float(true) - approx) <= tol + 4 * series.EPS * abs(approx), (l, s[i], b[i], t)
                checked += 1
    assert checked >= 30
