"""Tests of network/differences.py: the structured numeric gradient, its noise, kinks."""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from gradcheck_cli.network import differences, directions, kernels, series
from gradcheck_cli.network import model as m
from gradcheck_cli.errors import OptionError
from gradcheck_cli.finite_diff import ROUNDOFF_DISCOUNT, central_from_values, default_step
from gradcheck_cli.verdict import STATUS_BY_CODE, Status, Thresholds, worst

from network_helpers import T, block_status, naive_numeric, old_oracle, verdicts, where  # noqa: F401


SMALL = [
    dict(dims=(10, 5, 10)),
    dict(dims=(4, 3)),
    dict(dims=(6, 5, 4, 3), activation="tanh"),
    dict(dims=(5, 4, 3), loss="mse"),
    dict(dims=(5, 4, 3), mean=True),
    dict(dims=(6, 5, 4), activation="relu"),
    dict(dims=(5, 4, 3, 3), activation="relu", loss="mse", mean=True),
    dict(dims=(6, 5, 4, 4, 3)),
    dict(dims=(6, 5, 4, 4, 3), activation="tanh", loss="mse"),
    dict(dims=(6, 5, 4, 4, 3), activation="relu", mean=True),
]


@pytest.mark.parametrize("kw", SMALL, ids=lambda kw: "-".join(map(str, kw.values())))
def test_structured_gradient_equals_the_naive_loop(kw):
    spec = m.NetworkSpec(**kw)
    data, labels, params = m.make_problem(spec, samples=7, seed=2)
    numeric, noise, kink = differences.numeric_gradient(spec, data, labels, params)
    slow, slow_noise = naive_numeric(spec, data, labels, params)
    assert not kink.any()
    assert np.all(np.abs(numeric - slow) <= slow_noise)
    # same error model; the round-off part is measured (finite_diff.measured_roundoff), so
    # the two computations agree to within its clipping range
    assert np.all(noise <= 1.01 * slow_noise)  # never above the a-priori model of the loop


CORRECT = [
    dict(dims=(10, 5, 10)),
    dict(dims=(100, 100, 100, 100, 10)),
    dict(dims=(60, 40, 40, 40, 10), activation="tanh", loss="mse"),
    dict(dims=(60, 40, 40, 40, 10), activation="relu", mean=True),
    dict(dims=(50, 30, 10)),
    dict(dims=(784, 100, 10)),
    dict(dims=(10, 8, 6, 4)),
    dict(dims=(10, 10)),
    dict(dims=(784, 10)),
    dict(dims=(50, 30, 10), activation="tanh"),
    dict(dims=(50, 30, 10), activation="relu"),
    dict(dims=(50, 30, 10), loss="mse"),
    dict(dims=(50, 30, 10), mean=True),
    dict(dims=(784, 100, 10), activation="tanh", mean=True),
    dict(dims=(20, 12, 8, 6, 4), activation="relu", loss="mse"),
]


@pytest.mark.parametrize("kw", CORRECT, ids=lambda kw: "-".join(map(str, kw.values())))
def test_a_correct_network_passes_every_entry(kw):
    spec = m.NetworkSpec(**kw)
    data, labels, params = m.make_problem(spec)
    _, grad = m.cost_and_grad(spec, data, labels, params)
    numeric, noise, kink = result = differences.numeric_gradient(spec, data, labels, params)
    rel, status = verdicts(spec, data, labels, params, grad, result)
    assert np.all(np.isfinite(numeric)) and np.all(noise > 0)
    smooth = ~kink
    assert np.all(np.abs(grad - numeric)[smooth] <= noise[smooth])  # noise is an honest bound
    assert rel[smooth].max() <= 1e-7
    assert set(block_status(spec, status).values()) == {Status.PASS}


@settings(max_examples=25, deadline=None)
@given(
    dims=st.lists(st.integers(1, 6), min_size=2, max_size=4),
    activation=st.sampled_from(["sigmoid", "tanh", "relu"]),
    loss=st.sampled_from(["ce", "mse"]),
    mean=st.booleans(),
    seed=st.integers(0, 2**16),
    samples=st.integers(1, 8),
)
def test_random_correct_networks_pass(dims, activation, loss, mean, seed, samples):
    if loss == "ce" and dims[-1] < 2:
        dims = [*dims[:-1], 2]  # a softmax over one output is refused (identically 0)
    spec = m.NetworkSpec(tuple(dims), activation=activation, loss=loss, mean=mean)
    data, labels, params = m.make_problem(spec, samples=samples, seed=seed)
    _, grad = m.cost_and_grad(spec, data, labels, params)
    numeric, noise, kink = differences.numeric_gradient(spec, data, labels, params)
    ok = np.abs(grad - numeric) <= noise
    assert np.all(ok | kink)


def test_tiling_does_not_change_the_result():
    spec = m.NetworkSpec((30, 20, 10, 5))
    data, labels, params = m.make_problem(spec, samples=6)
    a = differences.numeric_gradient(spec, data, labels, params)
    b = differences.numeric_gradient(spec, data, labels, params, chunk_bytes=4096)
    # the summation order changes the rounding, nothing else: both estimates agree within
    # either's error, and the measured round-off stays of one size
    assert np.all(np.abs(a.numeric - b.numeric) <= np.minimum(a.noise, b.noise))
    assert np.all(a.noise <= 100 * b.noise) and np.all(b.noise <= 100 * a.noise)


def test_only_the_named_blocks_are_checked():
    spec = m.NetworkSpec((10, 5, 10))
    data, labels, params = m.make_problem(spec)
    numeric, noise, kink = differences.numeric_gradient(spec, data, labels, params, blocks=["W2"])
    inside = np.zeros(spec.param_count, dtype=bool)
    inside[spec.block("W2").slice] = True
    assert np.all(np.isfinite(numeric[inside])) and np.all(np.isnan(numeric[~inside]))
    full = differences.numeric_gradient(spec, data, labels, params)
    np.testing.assert_array_equal(numeric[inside], full.numeric[inside])
    with pytest.raises(OptionError, match="no parameter block 'W9'"):
        differences.numeric_gradient(spec, data, labels, params, blocks=["W9"])


def test_input_validation():
    spec = m.NetworkSpec((10, 5, 10))
    data, labels, params = m.make_problem(spec)
    with pytest.raises(OptionError, match="115 parameters"):
        differences.numeric_gradient(spec, data, labels, params[:10])
    with pytest.raises(OptionError, match="chunk_bytes"):
        differences.numeric_gradient(spec, data, labels, params, chunk_bytes=0)
    with pytest.raises(OptionError, match="analytic gradient has 3 entries"):
        directions.directional_check(spec, data, labels, params, np.zeros(3))
    with pytest.raises(OptionError, match="directions"):
        directions.directional_check(spec, data, labels, params, np.zeros(115), k=0)


# ---------------------------------------------------------------- relu kinks

def test_relu_kink_in_the_first_layer_is_reported_as_kink_not_failure():
    spec = m.NetworkSpec((6, 4, 3), activation="relu")
    data, labels, params = m.make_problem(spec, samples=5, seed=4)
    W1, b1 = spec.block("W1"), spec.block("b1")
    j = 2
    params[b1.offset + j] = -(data[0] @ W1.take(params)[:, j])  # z1[0, j] = 0 (to rounding)
    _, grad = m.cost_and_grad(spec, data, labels, params)
    result = differences.numeric_gradient(spec, data, labels, params)
    rel, status = verdicts(spec, data, labels, params, grad, result)
    expected = np.zeros(spec.param_count, dtype=bool)
    expected[W1.offset + j : W1.offset + W1.size : 4] = True
    expected[b1.offset + j] = True
    np.testing.assert_array_equal(result.kink, expected)
    np.testing.assert_array_equal(differences.kink_mask(spec, data, params), expected)
    assert where(status, Status.KINK)[expected].all()
    assert Status.FAIL not in set(status) and Status.WARN not in set(status)
    # without the kink mark these entries would not pass: the stencil straddles the kink
    assert np.any(old_oracle(grad, result.numeric, result.noise)[1][expected] != Status.PASS)


def test_relu_kink_in_a_later_layer_marks_every_upstream_entry_that_moves_it():
    spec = m.NetworkSpec((5, 4, 3, 2), activation="relu")
    data, labels, params = m.make_problem(spec, samples=4, seed=11)
    fw = m.forward(spec, data, labels, params)
    j = int(np.argmax(fw.acts[2][0] > -1))  # any unit of layer 2
    b2 = spec.block("b2")
    params[b2.offset + j] -= fw.zs[2][0, j]  # z2[0, j] = 0
    _, grad = m.cost_and_grad(spec, data, labels, params)
    result = differences.numeric_gradient(spec, data, labels, params)
    _, status = verdicts(spec, data, labels, params, grad, result)
    assert result.kink[b2.offset + j]
    assert result.kink[spec.block("W2").slice].reshape(4, 3)[:, j][fw.acts[1][0] > 0].all()
    assert result.kink[spec.block("W1").slice].any()  # upstream entries that move z2[0, j]
    assert not result.kink[spec.block("W3").slice].any() and not result.kink[spec.block("b3").slice].any()
    assert Status.FAIL not in set(status)


def test_smooth_activations_have_no_kinks():
    spec = m.NetworkSpec((6, 4, 3))
    data, _, params = m.make_problem(spec)
    assert not differences.kink_mask(spec, data, params).any()


# ---------------------------------------------------------------- injected bugs

BUG_NETS = [dict(dims=(10, 5, 10)), dict(dims=(50, 30, 10)), dict(dims=(784, 100, 10)),
            dict(dims=(10, 8, 6, 4), activation="tanh"), dict(dims=(50, 30, 10), activation="relu"),
            dict(dims=(30, 20, 20, 20, 10)), dict(dims=(30, 20, 20, 10), activation="relu", loss="mse"),
            dict(dims=(30, 20, 20, 10), activation="tanh", mean=True)]


@pytest.mark.parametrize("kw", BUG_NETS, ids=lambda kw: "-".join(map(str, kw.values())))
def test_every_bug_fails_exactly_at_its_blocks(kw):
    spec = m.NetworkSpec(**kw)
    data, labels, params = m.make_problem(spec)
    for bug in m.BUGS:
        try:
            m.validate_bug(spec, bug)
        except OptionError:
            continue
        checked = m.cost_spec(spec, bug)
        _, grad = m.cost_and_grad(spec, data, labels, params, bug=bug)
        _, status = verdicts(checked, data, labels, params, grad)
        got = block_status(spec, status)
        expected = {b.name: (Status.FAIL if b.name in m.bug_blocks(spec, bug) else Status.PASS)
                    for b in spec.blocks}
        assert got == expected, bug
        fast = directions.fast_check(checked, data, labels, params, grad)
        assert set(m.bug_blocks(spec, bug)) <= set(fast.full_blocks), bug


# ---------------------------------------------------------------- fast mode

def dense_reference(monkeypatch, spec, data, labels, params):
    """The dense path for every entry: no Taylor order is certified when the budget is 0."""
    with monkeypatch.context() as mp:
        mp.setattr(series, "SERIES_BUDGET", 0.0)
        return differences.numeric_gradient(spec, data, labels, params)


def test_deep_relu_kink_entries_carry_true_differences(monkeypatch):
    spec = m.NetworkSpec((6, 5, 4, 3), activation="relu")
    data, labels, params = m.make_problem(spec, samples=4, seed=11)
    fw = m.forward(spec, data, labels, params)
    b2 = spec.block("b2")
    params[b2.offset + 1] -= fw.zs[2][0, 1] - 1e-6  # z2[0, 1] = 1e-6: inside many stencils
    series = differences.numeric_gradient(spec, data, labels, params)
    dense = dense_reference(monkeypatch, spec, data, labels, params)
    assert series.kink.sum() >= 3
    np.testing.assert_array_equal(series.kink, dense.kink)
    k = series.kink  # true differences across the kink: the crossing samples are computed exactly
    assert np.all(np.abs(series.numeric[k] - dense.numeric[k]) <= 1e-6 * dense.noise[k])
    np.testing.assert_array_equal(differences.kink_mask(spec, data, params), series.kink)


@pytest.mark.slow
@pytest.mark.parametrize("dims, limit", [((784, 300, 300, 10), 6.0), ((100, 100, 100, 100, 10), 2.0)])
def test_deep_networks_are_checked_in_seconds(dims, limit):
    spec = m.NetworkSpec(dims)
    data, labels, params = m.make_problem(spec)
    _, grad = m.cost_and_grad(spec, data, labels, params)
    t = time.perf_counter()
    numeric, noise, kink = differences.numeric_gradient(spec, data, labels, params)
    elapsed = time.perf_counter() - t
    assert np.all(np.abs(grad - numeric) <= noise) and not kink.any()
    # generous (a shared machine); the dense propagation took 34 s and 4.4 s here
    assert elapsed < limit


@pytest.mark.parametrize("scale", [1e-3, 10.0, 100.0])
def test_correct_network_passes_with_extreme_parameters(scale):
    spec = m.NetworkSpec((50, 30, 10), activation="tanh")
    data, labels, params = m.make_problem(spec)
    params = params * scale
    _, grad = m.cost_and_grad(spec, data, labels, params)
    numeric, noise, kink = differences.numeric_gradient(spec, data, labels, params)
    assert np.all(np.abs(grad - numeric) <= noise)
