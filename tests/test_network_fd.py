"""Tests of network_fd.py: the structured numeric gradient, its noise, kinks and fast mode."""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from gradcheck_cli import models as m
from gradcheck_cli import network_fd as nf
from gradcheck_cli.errors import OptionError
from gradcheck_cli.finite_diff import central_from_values, default_step
from gradcheck_cli.verdict import Status, Thresholds, classify, floor_from_noise, relative_error, worst

T = Thresholds()


def verdicts(spec, data, labels, params, analytic, result=None):
    numeric, noise, kink = result if result is not None else nf.numeric_gradient(spec, data, labels, params)
    rel = relative_error(analytic, numeric, floor_from_noise(noise, T))
    return rel, classify(rel, T, kink)


def where(statuses, status):
    """Boolean mask of the entries with ``status`` (object arrays of Status)."""
    return np.array([s is status for s in statuses], dtype=bool)


def block_status(spec, statuses):
    return {b.name: worst(statuses[b.slice]) for b in spec.blocks}


def naive_numeric(spec, data, labels, params):
    """The per-entry loop: 4 full cost evaluations per entry, same step and error model."""
    fw = m.forward(spec, data, labels, params)
    f_scale = np.sum(nf.cost_magnitude(spec, fw, labels)) / (data.shape[0] if spec.mean else 1)
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


SMALL = [
    dict(dims=(10, 5, 10)),
    dict(dims=(4, 3)),
    dict(dims=(6, 5, 4, 3), activation="tanh"),
    dict(dims=(5, 4, 3), loss="mse"),
    dict(dims=(5, 4, 3), mean=True),
    dict(dims=(6, 5, 4), activation="relu"),
    dict(dims=(5, 4, 3, 3), activation="relu", loss="mse", mean=True),
]


@pytest.mark.parametrize("kw", SMALL, ids=lambda kw: "-".join(map(str, kw.values())))
def test_structured_gradient_equals_the_naive_loop(kw):
    spec = m.NetworkSpec(**kw)
    data, labels, params = m.make_problem(spec, samples=7, seed=2)
    numeric, noise, kink = nf.numeric_gradient(spec, data, labels, params)
    slow, slow_noise = naive_numeric(spec, data, labels, params)
    assert not kink.any()
    assert np.all(np.abs(numeric - slow) <= slow_noise)
    np.testing.assert_allclose(noise, slow_noise, rtol=0.05)  # same error model


CORRECT = [
    dict(dims=(10, 5, 10)),
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
    numeric, noise, kink = result = nf.numeric_gradient(spec, data, labels, params)
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
    spec = m.NetworkSpec(tuple(dims), activation=activation, loss=loss, mean=mean)
    data, labels, params = m.make_problem(spec, samples=samples, seed=seed)
    _, grad = m.cost_and_grad(spec, data, labels, params)
    numeric, noise, kink = nf.numeric_gradient(spec, data, labels, params)
    ok = np.abs(grad - numeric) <= noise
    assert np.all(ok | kink)


def test_tiling_does_not_change_the_result():
    spec = m.NetworkSpec((30, 20, 10, 5))
    data, labels, params = m.make_problem(spec, samples=6)
    a = nf.numeric_gradient(spec, data, labels, params)
    b = nf.numeric_gradient(spec, data, labels, params, chunk_bytes=4096)
    assert np.all(np.abs(a.numeric - b.numeric) <= 1e-3 * a.noise)
    np.testing.assert_allclose(a.noise, b.noise, rtol=1e-3)


def test_only_the_named_blocks_are_checked():
    spec = m.NetworkSpec((10, 5, 10))
    data, labels, params = m.make_problem(spec)
    numeric, noise, kink = nf.numeric_gradient(spec, data, labels, params, blocks=["W2"])
    inside = np.zeros(spec.param_count, dtype=bool)
    inside[spec.block("W2").slice] = True
    assert np.all(np.isfinite(numeric[inside])) and np.all(np.isnan(numeric[~inside]))
    full = nf.numeric_gradient(spec, data, labels, params)
    np.testing.assert_array_equal(numeric[inside], full.numeric[inside])
    with pytest.raises(OptionError, match="no parameter block 'W9'"):
        nf.numeric_gradient(spec, data, labels, params, blocks=["W9"])


def test_input_validation():
    spec = m.NetworkSpec((10, 5, 10))
    data, labels, params = m.make_problem(spec)
    with pytest.raises(OptionError, match="115 parameters"):
        nf.numeric_gradient(spec, data, labels, params[:10])
    with pytest.raises(OptionError, match="chunk_bytes"):
        nf.numeric_gradient(spec, data, labels, params, chunk_bytes=0)
    with pytest.raises(OptionError, match="analytic gradient has 3 entries"):
        nf.directional_check(spec, data, labels, params, np.zeros(3))
    with pytest.raises(OptionError, match="directions"):
        nf.directional_check(spec, data, labels, params, np.zeros(115), k=0)


# ---------------------------------------------------------------- relu kinks

def test_relu_kink_in_the_first_layer_is_reported_as_kink_not_failure():
    spec = m.NetworkSpec((6, 4, 3), activation="relu")
    data, labels, params = m.make_problem(spec, samples=5, seed=4)
    W1, b1 = spec.block("W1"), spec.block("b1")
    j = 2
    params[b1.offset + j] = -(data[0] @ W1.take(params)[:, j])  # z1[0, j] = 0 (to rounding)
    _, grad = m.cost_and_grad(spec, data, labels, params)
    result = nf.numeric_gradient(spec, data, labels, params)
    rel, status = verdicts(spec, data, labels, params, grad, result)
    expected = np.zeros(spec.param_count, dtype=bool)
    expected[W1.offset + j : W1.offset + W1.size : 4] = True
    expected[b1.offset + j] = True
    np.testing.assert_array_equal(result.kink, expected)
    np.testing.assert_array_equal(nf.kink_mask(spec, data, params), expected)
    assert where(status, Status.KINK)[expected].all()
    assert Status.FAIL not in set(status) and Status.WARN not in set(status)
    # without the kink mark these entries would not pass: the stencil straddles the kink
    assert np.any(classify(rel, T)[expected] != Status.PASS)


def test_relu_kink_in_a_later_layer_marks_every_upstream_entry_that_moves_it():
    spec = m.NetworkSpec((5, 4, 3, 2), activation="relu")
    data, labels, params = m.make_problem(spec, samples=4, seed=11)
    fw = m.forward(spec, data, labels, params)
    j = int(np.argmax(fw.acts[2][0] > -1))  # any unit of layer 2
    b2 = spec.block("b2")
    params[b2.offset + j] -= fw.zs[2][0, j]  # z2[0, j] = 0
    _, grad = m.cost_and_grad(spec, data, labels, params)
    result = nf.numeric_gradient(spec, data, labels, params)
    _, status = verdicts(spec, data, labels, params, grad, result)
    assert result.kink[b2.offset + j]
    assert result.kink[spec.block("W2").slice].reshape(4, 3)[:, j][fw.acts[1][0] > 0].all()
    assert result.kink[spec.block("W1").slice].any()  # upstream entries that move z2[0, j]
    assert not result.kink[spec.block("W3").slice].any() and not result.kink[spec.block("b3").slice].any()
    assert Status.FAIL not in set(status)


def test_smooth_activations_have_no_kinks():
    spec = m.NetworkSpec((6, 4, 3))
    data, _, params = m.make_problem(spec)
    assert not nf.kink_mask(spec, data, params).any()


# ---------------------------------------------------------------- injected bugs

BUG_NETS = [dict(dims=(10, 5, 10)), dict(dims=(50, 30, 10)), dict(dims=(784, 100, 10)),
            dict(dims=(10, 8, 6, 4), activation="tanh"), dict(dims=(50, 30, 10), activation="relu")]


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
        fast = nf.fast_check(checked, data, labels, params, grad)
        assert set(m.bug_blocks(spec, bug)) <= set(fast.full_blocks), bug


# ---------------------------------------------------------------- fast mode

@pytest.mark.parametrize("dims", [(10, 5, 10), (50, 30, 10), (784, 100, 10), (10, 8, 6, 4)])
def test_fast_mode_passes_a_correct_network(dims):
    spec = m.NetworkSpec(dims)
    data, labels, params = m.make_problem(spec)
    _, grad = m.cost_and_grad(spec, data, labels, params)
    res = nf.fast_check(spec, data, labels, params, grad)
    assert res.full_blocks == ()
    assert [r.block for r in res.directional] == [b.name for b in spec.blocks]
    for r in res.directional:
        assert r.analytic.shape == (nf.DEFAULT_DIRECTIONS,) and not r.suspect
        assert np.all(r.ratio < 1.0)  # a wide margin below SAFETY


@pytest.fixture(scope="module")
def big():
    spec = m.NetworkSpec((784, 100, 10))
    data, labels, params = m.make_problem(spec)
    _, grad = m.cost_and_grad(spec, data, labels, params)
    return spec, data, labels, params, grad, nf.numeric_gradient(spec, data, labels, params)


def _smallest_failing_bump(grad, result, e):
    """An error at entry e just large enough for the full check to fail it (rel ~ 2 fail_tol)."""
    floor = floor_from_noise(result.noise[e], T)
    return 2 * T.fail_tol * max(abs(grad[e]), abs(result.numeric[e]), float(floor)) * 1.05


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.slow
def test_fast_mode_catches_one_wrong_entry_in_w1_of_784_100_10(big, seed):
    spec, data, labels, params, grad, result = big
    W1 = spec.block("W1")
    e = W1.offset + int(np.random.default_rng(seed).integers(W1.size))
    wrong = grad.copy()
    wrong[e] += _smallest_failing_bump(grad, result, e) * (-1) ** seed
    _, status = verdicts(spec, data, labels, params, wrong, result)
    assert list(np.flatnonzero(where(status, Status.FAIL))) == [e]  # the full check fails just e
    fast = nf.fast_check(spec, data, labels, params, wrong, seed=seed)
    assert fast.full_blocks == ("W1",)
    partial = nf.numeric_gradient(spec, data, labels, params, blocks=fast.full_blocks)
    assert np.all(np.isnan(partial.numeric[W1.size :]))  # other blocks were not re-checked
    _, status = verdicts(spec, data, labels, params, wrong, partial)
    assert list(np.flatnonzero(where(status[W1.slice], Status.FAIL))) == [e - W1.offset]


@pytest.mark.parametrize("block", ["W1", "b1", "W2", "b2"])
def test_fast_mode_catches_one_wrong_entry_in_any_block(block):
    spec = m.NetworkSpec((50, 30, 10))
    data, labels, params = m.make_problem(spec)
    _, grad = m.cost_and_grad(spec, data, labels, params)
    result = nf.numeric_gradient(spec, data, labels, params)
    b = spec.block(block)
    for e in b.offset + np.random.default_rng(1).choice(b.size, size=min(5, b.size), replace=False):
        wrong = grad.copy()
        wrong[e] += _smallest_failing_bump(grad, result, e)
        assert nf.fast_check(spec, data, labels, params, wrong).full_blocks == (block,)


def test_fast_mode_flags_a_non_finite_gradient():
    spec = m.NetworkSpec((10, 5, 10))
    data, labels, params = m.make_problem(spec)
    _, grad = m.cost_and_grad(spec, data, labels, params)
    grad[spec.block("b2").offset] = np.nan
    assert nf.fast_check(spec, data, labels, params, grad).full_blocks == ("b2",)


# ---------------------------------------------------------------- scale

@pytest.mark.slow
def test_784_100_10_is_fast_and_small(big):
    spec, data, labels, params, grad, _ = big
    t = time.perf_counter()
    nf.numeric_gradient(spec, data, labels, params)
    full = time.perf_counter() - t
    t = time.perf_counter()
    nf.fast_check(spec, data, labels, params, grad)
    fast = time.perf_counter() - t
    tracemalloc.start()
    nf.numeric_gradient(spec, data, labels, params)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # generous bounds (shared CI machines); the naive loop takes minutes here
    assert full < 5.0 and fast < 2.0
    assert peak < 64 * 2**20


def test_fast_mode_sensitivity_covers_every_failing_single_entry(big):
    spec, data, labels, params, grad, result = big
    for r in nf.fast_check(spec, data, labels, params, grad).directional:
        b = spec.block(r.block)
        fail_level = T.fail_tol * floor_from_noise(result.noise[b.slice], T)
        assert r.detectable <= fail_level.min()  # a failing entry cannot hide
        assert r.entry_noise <= result.noise[b.slice].min()


def test_fast_mode_sends_a_block_to_the_full_check_when_it_cannot_promise_detection():
    spec = m.NetworkSpec((10, 5, 10))
    data, labels, params = m.make_problem(spec)
    _, grad = m.cost_and_grad(spec, data, labels, params)
    strict = Thresholds(pass_tol=1e-9, fail_tol=1e-8)  # a failing entry may be off by ~noise
    assert nf.fast_check(spec, data, labels, params, grad, thresholds=strict).full_blocks == (
        "W1", "b1", "W2", "b2")
    fixed = Thresholds(floor=1.0)
    assert nf.fast_check(spec, data, labels, params, grad, thresholds=fixed).full_blocks == ()


def test_series_and_general_paths_agree(monkeypatch):
    spec = m.NetworkSpec((30, 12, 10))
    data, labels, params = m.make_problem(spec)
    series = nf.numeric_gradient(spec, data, labels, params)
    monkeypatch.setattr(nf, "SERIES_BUDGET", 0.0)  # no budget: every tile takes the general path
    general = nf.numeric_gradient(spec, data, labels, params)
    assert np.all(np.abs(series.numeric - general.numeric) <= 1e-3 * series.noise)


@pytest.mark.parametrize("scale", [1e-3, 10.0, 100.0])
def test_correct_network_passes_with_extreme_parameters(scale):
    spec = m.NetworkSpec((50, 30, 10), activation="tanh")
    data, labels, params = m.make_problem(spec)
    params = params * scale
    _, grad = m.cost_and_grad(spec, data, labels, params)
    numeric, noise, kink = nf.numeric_gradient(spec, data, labels, params)
    assert np.all(np.abs(grad - numeric) <= noise)
