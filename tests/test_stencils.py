"""blackbox/stencils.py: the direct-entry estimates of users' code, the noise probe and the
kink tests."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gradcheck_cli.blackbox.stencils import (
    Entries, blackbox_gradient, four_point_entries, jump_kink, noise_probe, one_sided_kink,
)
from gradcheck_cli.blackbox.stencils import PROBE_POINTS
from gradcheck_cli.finite_diff import EPS32, evidence
from gradcheck_cli.verdict import Status, Thresholds, assess


def test_blackbox_matches_vectorised_and_restores_x():
    x = np.array([[0.5, -1.0], [2.0, 0.25]])
    seen = []

    def cost(z):
        seen.append(z.copy())
        return float(np.sum(np.sin(z) * z))

    est = blackbox_gradient(cost, x)
    np.testing.assert_allclose(est.value, (np.cos(x) * x + np.sin(x)).ravel(), rtol=1e-9)
    # a first look of six per entry (x ± 4h, ± h, ± h/4) and f(x) once; the ladder
    # only for entries it does not verify (no claim given: every one)
    assert 6 * x.size + 1 < len(seen) <= 6 * x.size + 1 + 2 * 28 * x.size
    assert np.count_nonzero(seen[0] != x) == 0
    assert all(np.count_nonzero(s != x) == 1 for s in seen[1:])  # one entry perturbed at a time


@pytest.mark.parametrize(
    "f, x, kink",
    [
        (lambda z: max(z, 0.0), 0.0, True),  # relu at exactly 0
        (abs, 0.0, True),
        (lambda z: z * abs(z), 0.0, False),  # C1: the derivative is 0
        (lambda z: max(z, 0.0) ** 2, 0.0, False),
        (math.sin, 0.3, False),
        (lambda z: 1 / z, 1e-150, False),  # a pole inside the stencil is not a kink
        (math.sin, 1e7, False),  # nor a step longer than the period
    ],
)
def test_one_sided_test_decides_kinks(f, x, kink):
    h = 1e-4 if x == 0 else 6e-6 * max(abs(x), 1.0)
    vals = [f(x + d) for d in (h, -h, 4 * h, -4 * h)]
    assert bool(one_sided_kink(f(x), *vals, h)) is kink


def test_blackbox_kinks_and_float32_code():
    est = blackbox_gradient(lambda z: float(np.sum(np.maximum(z, 0.0))), np.array([0.0, 1.0, -2.0]))
    assert est.kink.tolist() == [True, False, False]
    # a correct float32 gradient is judged with float32 round-off: never fail or warn
    rng = np.random.default_rng(0)
    x = rng.standard_normal(200)
    cost = lambda z: float(np.sum(np.tanh(np.float32(z)) * np.float32(z)))  # noqa: E731
    x32 = np.float32(x)
    grad = (np.tanh(x32) + x32 * (1 - np.tanh(x32) ** 2)).astype(float)
    est = blackbox_gradient(cost, x)
    assert est.eps == EPS32
    error, zs = evidence(grad, est.value, est.noise, est.eps)
    res = assess(grad, est.value, error, Thresholds(), zero_scale=zs, kink=est.kink)
    assert set(res.statuses) <= {Status.PASS, Status.UNRESOLVED}
    wrong = assess(2 * grad, est.value, est.noise, Thresholds(), kink=est.kink)
    assert set(wrong.statuses) <= {Status.FAIL, Status.UNRESOLVED} and Status.FAIL in set(wrong.statuses)


def test_blackbox_pole_in_the_stencil_is_no_evidence():
    est = blackbox_gradient(lambda z: float(1 / z[0]), np.array([1e-150]))
    # never a confident wrong value: the bound holds the truth (-1e300) or says nothing
    assert np.isinf(est.noise[0]) or abs(est.value[0] + 1e300) <= est.noise[0]


def test_black_box_zero_rule_is_for_exact_zeros_only():
    # a dead unit: f does not change at all and the claim is exactly 0 -> pass
    est = blackbox_gradient(lambda z: float(np.sum(np.maximum(z, 0.0))), np.array([-1.0, 2.0]))
    error, zs = evidence(np.array([0.0, 1.0]), est.value, est.noise, est.eps)
    assert list(assess(np.array([0.0, 1.0]), est.value, error, Thresholds(), zero_scale=zs).statuses) == [
        Status.PASS, Status.PASS]
    # a tiny partial next to a huge one: a sign error is never a pass
    est = blackbox_gradient(lambda z: float(z[0] * 1e8 + z[1] * 1e-8), np.array([1.0, 1.0]))
    a = np.array([1e8, -1e-8])
    error, zs = evidence(a, est.value, est.noise, est.eps)
    got = assess(a, est.value, error, Thresholds(), zero_scale=zs).statuses
    assert got[0] is Status.PASS and got[1] is not Status.PASS


def test_noise_probe_sees_float32_round_off_and_spares_a_call_with_f0():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(50)
    u = rng.choice([-1.0, 1.0], size=x.size)
    calls = []

    def f64(z):
        calls.append(1)
        return float(np.sum(np.sin(z)))

    sigma64 = noise_probe(f64, x, u)
    assert len(calls) == PROBE_POINTS
    noise_probe(f64, x, u, f0=f64(x))
    assert len(calls) == 2 * PROBE_POINTS
    sigma32 = noise_probe(lambda z: float(np.sum(np.sin(np.float32(z)))), x, u)
    assert sigma64 < 1e-12 < sigma32  # float32 arithmetic is far noisier than float64


def test_four_point_entries_estimate_and_restore_nothing_behind():
    x = np.array([0.5, -1.0, 2.0])
    f = lambda z: float(np.sum(z ** 3))  # noqa: E731
    f0 = f(x)

    def shifted(k, d):
        z = x.copy()
        z[k] += d
        return f(z), abs(f(z))

    e = four_point_entries(shifted, x, np.arange(3), f0=f0, scale=abs(f0))
    np.testing.assert_allclose(e.value, 3 * x ** 2, rtol=1e-8)
    assert np.all(e.noise < 1e-6) and np.all(e.noise > 0)
    rel = np.abs(e.value - 3 * x ** 2)
    assert not jump_kink(e, 3 * x ** 2, rel, Thresholds()).any()  # smooth: never a kink


def test_four_points_completed_from_the_two_call_look_take_two_calls_and_equal_four_calls():
    from gradcheck_cli.blackbox.stencils import two_point_entries

    x = np.array([0.5, -1.0, 2.0, 0.0])
    f = lambda z: float(np.sum(z ** 3) + abs(z[3]))  # noqa: E731  (a kink at the last entry)
    f0 = f(x)
    calls = [0]

    def shifted(k, d):
        calls[0] += 1
        z = x.copy()
        z[k] += d
        return f(z) - f0, abs(f(z))

    look = two_point_entries(shifted, x, np.arange(4), f0=0.0, scale=abs(f0))
    assert calls[0] == 8
    whole = four_point_entries(shifted, x, np.arange(4), f0=0.0, scale=abs(f0))
    calls[0] = 0
    part = four_point_entries(shifted, x, np.arange(1, 4), f0=0.0, scale=abs(f0), first=look.take(np.arange(1, 4)))
    assert calls[0] == 6  # f(x +- 4h e_k) only
    for name in ("value", "noise", "plus", "minus", "jump_excess"):
        np.testing.assert_array_equal(getattr(part, name), getattr(whole, name)[1:])
    assert part.jumps().tolist() == [False, False, True]  # curvature twice, the kink of |x| at 0


def test_jump_kink_excuses_a_one_sided_derivative_at_relu_zero_but_not_a_wrong_value():
    x = np.array([0.0])
    f = lambda z: float(np.maximum(z, 0.0).sum())  # noqa: E731

    def shifted(k, d):
        z = x.copy()
        z[k] += d
        return f(z), abs(f(z))

    e = four_point_entries(shifted, x, np.arange(1), f0=0.0, scale=0.0)
    assert isinstance(e, Entries)
    t = Thresholds()
    assert jump_kink(e, np.array([1.0]), np.array([0.5]), t).tolist() == [True]  # the right derivative
    assert jump_kink(e, np.array([0.0]), np.array([0.5]), t).tolist() == [True]  # the left one
    assert jump_kink(e, np.array([3.0]), np.array([0.5]), t).tolist() == [False]  # outside [D-, D+]


# ---- issue 16 item 5: a flat cost gets a sound bound
def _absorbing(big: float):
    """``(x + big) - big``: flat in a float format for steps below its quantum at big,
    slope 1 in truth; the lifted twin computes in np.longdouble."""
    def f64(z):
        return float(np.sum((np.asarray(z, dtype=float) + big) - big) + 5.0)

    def fld(z):
        z = np.asarray(z, dtype=np.longdouble)
        return np.sum((z + np.longdouble(big)) - np.longdouble(big)) + np.longdouble(5)

    return f64, fld


@pytest.mark.parametrize("big", [1e20, 1e22])
def test_flat_stencil_of_an_absorbing_cost_neither_fails_a_right_slope_nor_passes_a_wrong_one(big):
    from gradcheck_cli.blackbox.ladder import Lifted

    if np.finfo(np.longdouble).eps >= np.finfo(float).eps:
        pytest.skip("no extended precision on this platform")
    f64, fld = _absorbing(big)
    x = np.array([0.3, -0.7])
    t = Thresholds()
    for claim, wrong in ((np.ones(2), False), (2 * np.ones(2), True), (-np.ones(2), True)):
        e = blackbox_gradient(f64, x, claimed=claim, pass_tol=t.pass_tol, lifted=Lifted(fld))
        error, zs = evidence(claim, e.value, e.noise, e.eps, e.resolution)
        status = assess(claim, e.value, error, t, zero_scale=zs, kink=e.kink).statuses
        assert all(np.isfinite(e.noise) <= (np.abs(e.value - 1) <= e.noise)), (claim, e.value, e.noise)  # holds the truth
        if wrong:
            assert Status.PASS not in set(status), (claim, status)
        else:
            assert Status.FAIL not in set(status) and Status.WARN not in set(status), (claim, status)


def test_flat_bound_uses_the_quantum_seen_at_longer_steps():
    from types import SimpleNamespace

    from gradcheck_cli.blackbox.stencils import _flat_bound

    f0 = 5.0
    r = SimpleNamespace(steps=np.array([0.1, 0.05, 0.025]), plus=np.full(3, f0), minus=np.full(3, f0))
    # f moves by one quantum of 8 once the step reaches 6.4 (slope 1 hidden below it)
    probe = lambda H: (f0 + 8.0, f0 - 8.0) if H >= 6.4 else (f0, f0)  # noqa: E731
    assert _flat_bound(r, f0, 1e-19, probe) >= 1.0
    # flat to the last bit up to 7e10 steps: only then is f's own round-off trusted
    assert _flat_bound(r, f0, 1e-19, lambda H: (f0, f0)) < 1e-20
    # leaving the domain at a longer step proves nothing; no probe, no bound
    assert _flat_bound(r, f0, 1e-19, lambda H: (np.nan, f0) if H > 1 else (f0, f0)) == math.inf
    assert _flat_bound(r, f0, 1e-19) == math.inf


def test_flat_absorbing_costs_at_any_magnitude_never_fail_a_right_slope_nor_pass_a_wrong_one():
    # (x + 10**e) - 10**e for e >= 20: flat at every step of the ladder in extended precision
    # (its quantum 8 .. 2e6); a quantum inside the ladder's steps (e = 18) is beyond any
    # noise probe: not claimed here
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from gradcheck_cli.blackbox.ladder import Lifted

    if np.finfo(np.longdouble).eps >= np.finfo(float).eps:
        pytest.skip("no extended precision on this platform")

    @settings(max_examples=12, deadline=None)
    @given(e=st.integers(20, 24), at=st.floats(-3, 3), wrong=st.sampled_from([2.0, -1.0, 0.5]))
    def check(e, at, wrong):
        f64, fld = _absorbing(10.0**e)
        x = np.array([at, -at / 2])
        t = Thresholds()
        for claim, bad in ((np.ones(2), False), (wrong * np.ones(2), True)):
            est = blackbox_gradient(f64, x, claimed=claim, pass_tol=t.pass_tol, lifted=Lifted(fld))
            error, zs = evidence(claim, est.value, est.noise, est.eps, est.resolution)
            status = set(assess(claim, est.value, error, t, zero_scale=zs, kink=est.kink).statuses)
            assert (Status.PASS not in status) if bad else not ({Status.FAIL, Status.WARN} & status), (e, at, claim)

    check()


def _c1_point32(kind: str):
    """float32 code at a C1 point of 0 (D(h) = g + a h: x |x|, relu(x)**2)."""
    if kind == "x|x|":
        return lambda z: np.float32(z[0]) * abs(np.float32(z[0]))
    return lambda z: np.maximum(np.float32(z[0]), np.float32(0)) ** 2


@pytest.mark.parametrize("kind", ["x|x|", "relu**2"])
def test_float32_code_at_a_c1_point_passes_its_zero_and_fails_a_wrong_claim(kind):
    from gradcheck_cli import check_gradient

    f = _c1_point32(kind)
    # a first-order first look goes to the ladder's all-powers tableau, as float64's does
    # (it was taken for a feature spanned by float32's long steps: unresolved)
    ok = check_gradient(lambda z: (f(z), np.zeros(1, dtype=np.float32)), np.array([0.0]))
    assert ok.status is Status.PASS, ok.checks
    for wrong in (1e-3, -1e-2):
        bad = check_gradient(lambda z, w=wrong: (f(z), np.array([w], dtype=np.float32)), np.array([0.0]))
        assert bad.status is Status.FAIL, bad.checks


@pytest.mark.parametrize("text, x0, dtype, truth", [
    ("x|x|", 1e-9, np.float32, 2e-9),     # f 1e-18 at x, 2e-3 on the first look's steps
    ("x**3", 1e-100, np.float64, 3e-200),  # f 1e-300 at x, 2e-16 on the first look's steps
])
def test_the_zero_rule_scale_is_f_on_the_steps_of_the_evidence(text, x0, dtype, truth):
    # a sign error of a tiny derivative is not round-off of the first look's far values
    from gradcheck_cli import check_gradient

    def f(z):
        v = dtype(z[0])
        return v * abs(v) if text == "x|x|" else v ** 3

    right = check_gradient(lambda z: (f(z), np.array([truth], dtype=dtype)), np.array([x0]))
    assert right.status is Status.PASS, right.checks
    for k in (-1.0, 2.0):
        wrong = check_gradient(lambda z, k=k: (f(z), np.array([k * truth], dtype=dtype)), np.array([x0]))
        assert wrong.status is not Status.PASS, (k, wrong.checks)


def _batchnorm_column_cost():
    """The layer check's L = sum(out * dout) of CS231n's batchnorm (train) at the
    check's 64x100 inputs (seed 0), as a function of x, and its exact gradient in
    ``np.longdouble`` (backward's formula evaluated in extended precision)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent / "layers"))
    import layers

    from gradcheck_cli.inputs import make_inputs

    x, gamma, beta = (i.value for i in make_inputs(["x=64,100", "gamma=100", "beta=100"]))
    dout = np.random.default_rng((0, 1, 0)).standard_normal((64, 100))

    def cost(z, dtype=float):
        out, _ = layers.batchnorm_forward(np.asarray(z, dtype), gamma.astype(dtype), beta.astype(dtype),
                                          {"mode": "train"})
        return np.sum(out * dout.astype(dtype))

    _, cache = layers.batchnorm_forward(x.astype(np.longdouble), gamma.astype(np.longdouble),
                                        beta.astype(np.longdouble), {"mode": "train"})
    exact = layers.batchnorm_backward(dout.astype(np.longdouble), cache)[0]
    return x, cost, exact


def test_first_look_bound_holds_where_two_rungs_agree_by_chance():
    """batchnorm's x[21, 49]: D(h) == D(h/4) exactly (the rungs agree on the ulp grid of
    f ~ 74, whose full recomputation is off by about an ulp), both 2.6e-11 off the truth;
    the first look's bound must cover that (half an ulp of round-off per value did not)."""
    from gradcheck_cli.blackbox.stencils import central_three_rungs
    from gradcheck_cli.finite_diff import value_eps

    x, cost, exact = _batchnorm_column_cost()
    j = (21, 49)
    f0 = float(cost(x))
    eps = value_eps(np.asarray(f0), np.asarray([f0]))
    h = eps ** 0.2 * max(abs(x[j]), 1.0)
    vals = np.empty((6, 1))
    for row, d in enumerate((4 * h, -4 * h, h, -h, h / 4, -h / 4)):
        z = x.copy()
        z[j] += d
        vals[row, 0] = cost(z)
    assert (vals[2, 0] - vals[3, 0]) / (2 * h) == (vals[4, 0] - vals[5, 0]) * 2 / h  # the chance agreement
    value, bound = central_three_rungs(vals, f0, np.array([h]), eps)
    truth = float(exact[j])
    assert abs(value[0] - truth) > 2e-11  # the estimate is that far off ...
    assert abs(value[0] - truth) <= bound[0]  # ... and its bound says so


def test_correct_batchnorm_passes_in_adaptive_mode():
    """No warn on correct code: the re-estimate of x[21, 49] rested on the first look above."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent / "layers"))
    import layers

    from gradcheck_cli.checks.layer import check_layer
    from gradcheck_cli.inputs import make_inputs

    rep = check_layer(layers.batchnorm_forward, layers.batchnorm_backward,
                      make_inputs(["x=64,100", "gamma=100", "beta=100"]), {"bn_param": {"mode": "train"}},
                      mode="adaptive")
    assert rep.status == Status.PASS
    assert rep.counts["pass"] == rep.counts["checks"] == 6600


def test_exact_zeros_of_x_abs_x_pass_by_the_ladder_candidate_that_removes_h():
    """f = sum x |x| over 3000 entries, 300 of them exactly 0: the central difference there
    is D(h) = h (first order), which the all-powers column 2 D(h/2) - D(h) removes exactly;
    what is left is round-off amplified by its weights (2.5 times a plain difference's), and
    the zero rule's resolution is that of the value taken, not of a plain difference."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(3000)
    zeros = rng.choice(3000, 300, replace=False)
    x[zeros] = 0.0

    def cost(z):
        return float(np.sum(z * np.abs(z)))

    idx = np.sort(zeros)[:24]
    claim = np.zeros(len(idx))
    est = blackbox_gradient(cost, x, indices=idx, claimed=claim)
    assert np.all(np.abs(est.value) <= est.noise)  # the evidence holds the truth, 0 ...
    error, zs = evidence(claim, est.value, est.noise, est.eps, est.resolution)
    verdict = assess(claim, est.value, error, Thresholds(), zero_scale=zs)
    assert np.all(verdict.code == 0)  # ... and the claim 0 passes (all unresolved before)
    # a wrong claim there still fails
    wrong = np.full(len(idx), 1e-3)
    est = blackbox_gradient(cost, x, indices=idx, claimed=wrong)
    error, zs = evidence(wrong, est.value, est.noise, est.eps, est.resolution)
    assert np.all(assess(wrong, est.value, error, Thresholds(), zero_scale=zs).code == 2)
