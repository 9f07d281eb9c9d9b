"""Tests of network/directions.py: the fast mode of the built-in network check."""

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


@pytest.mark.parametrize("dims", [(10, 5, 10), (50, 30, 10), (784, 100, 10), (10, 8, 6, 4)])
def test_fast_mode_passes_a_correct_network(dims):
    spec = m.NetworkSpec(dims)
    data, labels, params = m.make_problem(spec)
    _, grad = m.cost_and_grad(spec, data, labels, params)
    res = directions.fast_check(spec, data, labels, params, grad)
    assert [r.block for r in res.directional] == [b.name for b in spec.blocks]
    for r in res.directional:
        assert r.analytic.shape == (directions.DEFAULT_DIRECTIONS,) and not r.suspect
        assert np.all(r.ratio < 0.5)  # a wide margin below MARGIN
    # no block needs the full check: the directions agreed, and every entry is verified
    # against its extended-precision derivative (784-100-10's W1 and W2 hold entries too
    # small for the directions alone to vouch for: they once went to the full check)
    assert res.full_blocks == ()
    assert set(res.verified) == {b.name for b in spec.blocks}
    for name, statuses in verified_statuses(spec, data, labels, params, grad, res).items():
        assert set(statuses) == {Status.PASS}, name


def verified_statuses(spec, data, labels, params, grad, fast, thresholds=T):
    """Per block of ``fast.verified``: the status of every entry, judged as ``net`` judges it."""
    from gradcheck_cli.finite_diff import evidence
    from gradcheck_cli.verdict import assess

    out = {}
    zero = differences.zero_scale(spec, data, labels, params) if fast.verified else None
    for name, (n, e) in fast.verified.items():
        b = spec.block(name)
        err, zs = evidence(grad[b.slice], n, e, unit_roundoff=zero[b.slice])
        out[name] = assess(grad[b.slice], n, err, thresholds, zero_scale=zs).statuses
    return out


def caught(spec, data, labels, params, grad, fast, e) -> bool:
    """Fast mode catches a wrong entry e: its block goes to the full check, or its own
    extended-precision verdict fails it (and nothing else in the block)."""
    b = next(b for b in spec.blocks if b.offset <= e < b.offset + b.size)
    if b.name in fast.full_blocks:
        return True
    statuses = verified_statuses(spec, data, labels, params, grad, fast)[b.name]
    return list(np.flatnonzero(where(statuses, Status.FAIL))) == [e - b.offset]


def test_fast_mode_never_clears_a_block_whose_small_entry_could_hide_a_failure():
    # the smallest W1 entry of 784-100-10 is 1.9e-7; doubled, it is off by far less than
    # the directions can see (8e-6), yet its own check fails it (verdict.radius): the old
    # floor (entry noise / pass_tol) cleared W1, the search's cover sends it to the full check
    spec = m.NetworkSpec((784, 100, 10))
    data, labels, params = m.make_problem(spec)
    _, grad = m.cost_and_grad(spec, data, labels, params)
    W1 = spec.block("W1")
    j = W1.offset + int(np.argmin(np.abs(grad[W1.slice])))
    wrong = grad.copy()
    wrong[j] *= 2
    fast = directions.fast_check(spec, data, labels, params, wrong)
    (r,) = [r for r in fast.directional if r.block == "W1"]
    assert not r.suspect and abs(wrong[j] - grad[j]) < r.detectable  # the directions alone miss it
    # the extended-precision derivative of every entry catches it, and only it
    assert "W1" not in fast.full_blocks and caught(spec, data, labels, params, wrong, fast, j)
    from gradcheck_cli.finite_diff import evidence
    from gradcheck_cli.verdict import assess

    partial = differences.numeric_gradient(spec, data, labels, params, blocks=["W1"])
    error, zs = evidence(wrong[W1.slice], partial.numeric[W1.slice], partial.noise[W1.slice])
    status = assess(wrong[W1.slice], partial.numeric[W1.slice], error, T, zero_scale=zs).statuses
    assert list(np.flatnonzero(where(status, Status.FAIL))) == [j - W1.offset]


@pytest.fixture(scope="module")
def big():
    spec = m.NetworkSpec((784, 100, 10))
    data, labels, params = m.make_problem(spec)
    _, grad = m.cost_and_grad(spec, data, labels, params)
    return spec, data, labels, params, grad, differences.numeric_gradient(spec, data, labels, params)


def _smallest_failing_bump(grad, result, e):
    """An error at entry e just large enough for the full check to fail it (rel ~ 2 fail_tol)."""
    floor = result.noise[e] / T.pass_tol
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
    fast = directions.fast_check(spec, data, labels, params, wrong, seed=seed)
    assert caught(spec, data, labels, params, wrong, fast, e)
    partial = differences.numeric_gradient(spec, data, labels, params, blocks=("W1",))
    assert np.all(np.isnan(partial.numeric[W1.size :]))  # other blocks were not re-checked
    _, status = verdicts(spec, data, labels, params, wrong, partial)
    assert list(np.flatnonzero(where(status[W1.slice], Status.FAIL))) == [e - W1.offset]


@pytest.mark.parametrize("block", ["W1", "b1", "W2", "b2"])
def test_fast_mode_catches_one_wrong_entry_in_any_block(block):
    spec = m.NetworkSpec((50, 30, 10))
    data, labels, params = m.make_problem(spec)
    _, grad = m.cost_and_grad(spec, data, labels, params)
    result = differences.numeric_gradient(spec, data, labels, params)
    b = spec.block(block)
    for e in b.offset + np.random.default_rng(1).choice(b.size, size=min(5, b.size), replace=False):
        wrong = grad.copy()
        wrong[e] += _smallest_failing_bump(grad, result, e)
        fast = directions.fast_check(spec, data, labels, params, wrong)
        assert set(fast.full_blocks) <= {block} and caught(spec, data, labels, params, wrong, fast, e)


def test_fast_mode_flags_a_non_finite_gradient():
    spec = m.NetworkSpec((10, 5, 10))
    data, labels, params = m.make_problem(spec)
    _, grad = m.cost_and_grad(spec, data, labels, params)
    grad[spec.block("b2").offset] = np.nan
    assert directions.fast_check(spec, data, labels, params, grad).full_blocks == ("b2",)


# ---------------------------------------------------------------- scale

@pytest.mark.slow
def test_784_100_10_is_fast_and_small(big):
    spec, data, labels, params, grad, _ = big
    t = time.perf_counter()
    differences.numeric_gradient(spec, data, labels, params)
    full = time.perf_counter() - t
    t = time.perf_counter()
    directions.fast_check(spec, data, labels, params, grad)
    fast = time.perf_counter() - t
    tracemalloc.start()
    differences.numeric_gradient(spec, data, labels, params)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # generous bounds (shared CI machines); the naive loop takes minutes here
    assert full < 5.0 and fast < 2.0
    assert peak < 64 * 2**20


def test_fast_mode_sensitivity_covers_every_failing_single_entry(big):
    spec, data, labels, params, grad, result = big
    for r in directions.fast_check(spec, data, labels, params, grad).directional:
        b = spec.block(r.block)
        # fast mode's promise is stated with the a-priori entry noise (the full check
        # measures its round-off and may go ROUNDOFF_DISCOUNT x lower)
        fail_level = T.fail_tol * np.maximum(result.noise[b.slice], r.entry_noise) / T.pass_tol
        assert r.detectable <= fail_level.min()  # a failing entry cannot hide
        # the a-priori round-off; the full check measures it and may go ROUNDOFF_DISCOUNT x lower
        assert r.entry_noise <= ROUNDOFF_DISCOUNT * result.noise[b.slice].min()


def test_fast_mode_sends_a_block_to_the_full_check_when_it_cannot_promise_detection(monkeypatch):
    spec = m.NetworkSpec((10, 5, 10))
    data, labels, params = m.make_problem(spec)
    _, grad = m.cost_and_grad(spec, data, labels, params)
    # past EXTENDED_ELEMENTS no entry is verified in extended precision: the cover rule decides
    monkeypatch.setattr(directions, "EXTENDED_ELEMENTS", 0)
    assert directions.fast_check(spec, data, labels, params, grad).verified == {}
    strict = Thresholds(pass_tol=1e-9, fail_tol=1e-8)  # a failing entry may be off by ~noise
    # the weight blocks cannot promise detection at these tolerances (the biases' measured
    # directional noise may be small enough to)
    assert {"W1", "W2"} <= set(directions.fast_check(spec, data, labels, params, grad, thresholds=strict).full_blocks)
    fixed = Thresholds(floor=1.0)
    assert directions.fast_check(spec, data, labels, params, grad, thresholds=fixed).full_blocks == ()
