"""verdict.py: relative error with its floor, statuses, and the contract's properties.

The properties are checked end to end through ``check_expression`` (sympy's derivative
or a claimed one against the finite-difference estimate), since that is what users run.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradcheck_cli.checks.expr import check_expression
from gradcheck_cli.errors import OptionError
from gradcheck_cli.finite_diff import Method
from gradcheck_cli.verdict import (
    Reason, Status, Thresholds, assess, is_failure, radius, relative_range, worst,
)


def statuses(report):
    return [c.status for c in report.checks]


def _rel(a, t, floor):
    """The relative error, the test's own oracle: |a - t| / max(|a|, |t|, floor), 0 when equal."""
    a, t = np.asarray(a, dtype=float), np.asarray(t, dtype=float)
    d = np.abs(a - t)
    den = np.maximum(np.maximum(np.abs(a), np.abs(t)), floor)
    return np.where(d == 0, 0.0, d / np.where(den > 0, den, 1.0))


def test_displayed_relative_error_formula():
    t = Thresholds()
    assert assess(2.0, 1.0, 0.0, t).rel == 0.5
    assert assess(1.0, 1.0, 0.0, t).rel == 0.0
    assert assess(0.0, 0.0, 0.0, t).rel == 0.0
    assert assess(1e-3, 2e-3, 0.0, Thresholds(floor=1.0)).rel == pytest.approx(1e-3)  # floor in the denominator
    assert assess(np.nan, 1.0, 0.0, t).rel == np.inf
    assert assess(np.inf, 1.0, 0.0, t).rel == np.inf


def test_exact_evidence_boundaries_and_kink():
    t = Thresholds(pass_tol=1e-7, fail_tol=1e-2)
    n = np.array([1.0, 1 - 0.9e-7, 1 - 2e-7, 1 - 0.9e-2, 1 - 1.1e-2, 1.0, 1.0])
    a = np.array([1.0, 1.0, 1.0, 1.0, 1.0, np.nan, 5.0])
    got = assess(a, n, 0.0, t, kink=[0, 0, 0, 0, 0, 0, 1]).statuses
    assert [s.value for s in got] == ["pass", "pass", "warn", "warn", "fail", "fail", "kink"]


def test_radii_are_where_assess_turns():
    """``radius``: a bound just inside passes (or does not fail), just outside does not."""
    t = Thresholds()
    a = np.array([3.0, -2e-9, 1e9])
    for tol, limit in ((t.pass_tol, "rel_max_pass"), (t.fail_tol, "rel_max_fail")):
        r = radius(a, tol, t)
        inside, outside = assess(a, a, 0.999 * r, t), assess(a, a, 1.001 * r, t)
        assert np.all(inside.rel_max <= tol) and np.all(outside.rel_max > tol), limit
    assert radius(0.5, 1e-2, Thresholds(floor=1.0)) == pytest.approx(1e-2)  # the floor


def test_worst_and_strict():
    assert worst([Status.PASS, Status.KINK]) is Status.PASS
    assert worst([Status.PASS, Status.WARN, Status.KINK]) is Status.WARN
    assert worst([Status.WARN, Status.FAIL]) is Status.FAIL
    assert worst([Status.PASS, Status.UNRESOLVED]) is Status.UNRESOLVED
    assert worst([Status.UNRESOLVED, Status.WARN]) is Status.WARN
    assert worst([]) is Status.PASS
    assert not is_failure(Status.WARN, strict=False) and is_failure(Status.WARN, strict=True)
    assert not is_failure(Status.UNRESOLVED, strict=False) and is_failure(Status.UNRESOLVED, strict=True)
    assert is_failure(Status.FAIL, strict=False) and not is_failure(Status.KINK, strict=True)


# ---------------------------------------------------------------- assess: the rule itself
T = Thresholds()


def one(a, n, e, z=0.0, t=T, kink=None):
    res = assess(np.array([a]), np.array([n]), np.array([e]), t, zero_scale=z, kink=kink)
    return res.statuses[0], res.reasons[0]


def test_assess_statuses_and_reasons():
    assert one(1.0, 1.0, 1e-12) == (Status.PASS, Reason.NONE)
    assert one(2.0, 1.0, 1e-12) == (Status.FAIL, Reason.NONE)
    assert one(1.001, 1.0, 1e-9) == (Status.WARN, Reason.NONE)
    # the error bound is too wide to tell pass from warn, or pass from fail
    assert one(1.0, 1.0 + 1e-9, 1e-3) == (Status.UNRESOLVED, Reason.NOISE)
    assert one(-1e-8, 1e-8, 1e-6) == (Status.UNRESOLVED, Reason.NOISE)  # the sign error on a tiny partial
    assert one(1.0, np.nan, np.inf) == (Status.UNRESOLVED, Reason.NUMERIC_NONFINITE)
    assert one(np.inf, 1.0, 1e-12) == (Status.FAIL, Reason.ANALYTIC_NONFINITE)
    assert one(np.nan, 1.0, 1e-12, kink=[True]) == (Status.FAIL, Reason.ANALYTIC_NONFINITE)
    assert one(3.0, 1.0, 1e-12, kink=[True]) == (Status.KINK, Reason.NONE)
    # zero rule: both the claim and every possible truth are within round-off z of zero
    assert one(0.0, 1e-20, 1e-19, z=1e-18) == (Status.PASS, Reason.NONE)
    assert one(0.0, 1e-20, 1e-19, z=0.0) == (Status.UNRESOLVED, Reason.NOISE)
    assert one(1e-17, 1e-20, 1e-17, z=1e-18)[0] is Status.UNRESOLVED  # the claim is not round-off


def test_the_examples_of_issue_9_at_the_rule_level():
    # sin(x) --grad 0 at 1e6: the estimate 0.9367 +- 8e-4 is far from 0
    assert one(0.0, 0.936655, 7.6e-4, z=1e-21)[0] is Status.FAIL
    # x + 1e20 --grad 2 --method complex: numeric 1 but its error is 1e6
    assert one(2.0, 1.0, 1.4e6)[0] is Status.UNRESOLVED
    # a tighter --pass-tol is a stricter check, never a looser one
    assert one(0.8414709848078965, 0.8414709848, 1e-10, t=Thresholds(pass_tol=1e-20))[0] is Status.UNRESOLVED
    assert one(0.8414709848078965, 0.8414709848, 1e-10, t=Thresholds(pass_tol=1e-16, fail_tol=1e-15))[0] is Status.UNRESOLVED


def test_floor_one_is_the_cs224n_denominator():
    t = Thresholds(floor=1.0)
    res = assess(np.array([1e-3]), np.array([2e-3]), np.array([0.0]), t)
    assert res.rel[0] == pytest.approx(1e-3) and res.statuses[0] is Status.WARN
    assert one(1e-9, 2e-9, 1e-15, t=t)[0] is Status.PASS  # |a - t| / max(1, ...) = 1e-9 <= 1e-7


@settings(max_examples=300, deadline=None)
@given(a=st.floats(-1e3, 1e3), n=st.floats(-1e3, 1e3), e=st.floats(0, 1e3), floor=st.sampled_from([0.0, 0.5, 1.0]))
def test_relative_range_is_the_exact_range_over_the_interval(a, n, e, floor):
    lo, hi = relative_range(a, n, e, floor)
    ts = np.concatenate([np.linspace(n - e, n + e, 2001), np.clip([a, -a, 0.0, floor, -floor], n - e, n + e)])
    r = _rel(np.full(ts.shape, a), ts, floor)
    assert lo <= r.min() + 1e-12 and r.max() <= hi + 1e-12
    # the extremes are attained (up to the sampling of a continuous function)
    assert r.min() <= lo + 1e-2 * max(1.0, lo) or e == 0
    assert r.max() >= hi - 1e-2 or e == 0


_tol = st.floats(1e-12, 1e-1)
_val = st.floats(-1e6, 1e6, allow_subnormal=False)


@settings(max_examples=400, deadline=None)
@given(a=_val, n=_val, e=st.floats(0, 1e6), z=st.floats(0, 1e-3), p1=_tol, p2=_tol, f=st.floats(1e-1, 1.0))
def test_a_smaller_pass_tol_never_turns_a_non_pass_into_pass(a, n, e, z, p1, p2, f):
    small, big = sorted((p1, p2))
    s_small = one(a, n, e, z, Thresholds(pass_tol=small, fail_tol=f))[0]
    s_big = one(a, n, e, z, Thresholds(pass_tol=big, fail_tol=f))[0]
    if s_small is Status.PASS:
        assert s_big is Status.PASS


@settings(max_examples=400, deadline=None)
@given(a=_val, n=_val, e=st.floats(0, 1e6), z=st.floats(0, 1e-3), f1=_tol, f2=_tol)
def test_a_smaller_fail_tol_never_turns_a_fail_into_anything_else(a, n, e, z, f1, f2):
    small, big = sorted((f1, f2))
    p = small / 10
    if one(a, n, e, z, Thresholds(pass_tol=p, fail_tol=big))[0] is Status.FAIL:
        assert one(a, n, e, z, Thresholds(pass_tol=p, fail_tol=small))[0] is Status.FAIL


def _near_a_threshold(a, n, e, t: Thresholds) -> bool:
    lo, hi = relative_range(a, n, e)
    return any(abs(r - tol) <= 1e-9 * tol for r in (float(lo), float(hi)) for tol in (t.pass_tol, t.fail_tol))


@settings(max_examples=400, deadline=None)
@given(a=st.floats(-10, 10), n=st.floats(-10, 10), e=st.floats(0, 10), z=st.floats(0, 1e-6), k=st.integers(-8, 8))
def test_multiplying_everything_by_ten_to_the_k_never_changes_a_verdict(a, n, e, z, k):
    if _near_a_threshold(a, n, e, T) or abs(abs(a) - z) <= 1e-9 * z or abs(abs(n) + e - z) <= 1e-9 * z:
        return
    s = 10.0**k
    assert one(a, n, e, z) == one(a * s, n * s, e * s, z * s)


@settings(max_examples=400, deadline=None)
@given(t=st.floats(1e-300, 1e300) | st.floats(-1e300, -1e-300), kind=st.sampled_from(["sign", "2x", "1e-3"]),
       frac=st.floats(-1, 1), rel_e=st.floats(0, 1e-4), z_rel=st.floats(0, 1e-6))
def test_a_wrong_derivative_never_passes_with_honest_evidence(t, kind, frac, rel_e, z_rel):
    a = {"sign": -t, "2x": 2 * t, "1e-3": t * (1 + 1e-3)}[kind]
    e = rel_e * abs(t)
    n = t + frac * e  # the truth is inside [n - e, n + e]
    z = z_rel * abs(t)  # round-off of the function's own scale, below the true value
    status = one(a, n, e, z)[0]
    assert status is not Status.PASS
    if kind != "1e-3":  # sign and factor 2 are far past fail_tol: the evidence decides
        assert status is Status.FAIL


@settings(max_examples=200, deadline=None)
@given(z=st.floats(1e-300, 1e300), frac=st.floats(-0.4, 0.4), claim=st.floats(-0.5, 0.5))
def test_a_zero_partial_at_a_stationary_point_passes(z, frac, claim):
    # the truth is 0; the estimate and the claim are zero to within the round-off z
    assert one(claim * z, frac * z, 0.5 * z, z)[0] is Status.PASS


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"pass_tol": 0.0}, "--pass-tol must be a positive number"),
        ({"fail_tol": -1.0}, "--fail-tol must be a positive number"),
        ({"pass_tol": 0.1, "fail_tol": 0.01}, "must not exceed --fail-tol"),
        ({"floor": -1.0}, "--floor must be a finite number >= 0"),
        ({"floor": float("nan")}, "--floor must be"),
    ],
)
def test_bad_thresholds(kwargs, message):
    with pytest.raises(OptionError, match=message):
        Thresholds(**kwargs)


# ---------------------------------------------------------------- the contract's properties
HARD = [
    ("exp(5*x)", "x=2"),
    ("sin(50*x)", "x=0.3"),
    ("sin(50*x)", "x=1.234"),
    ("x**10", "x=3"),
    ("1e-6*x**2", "x=0.7"),
    ("log(x)", "x=1e-3"),
    ("log(exp(x) + exp(y) + exp(z))", "x=0.5,y=-1,z=2"),
    ("log(exp(x) + exp(y) + exp(z))", "x=30,y=-20,z=0.1"),
    ("sigmoid(x)*tanh(y)", "x=3,y=-0.2"),
    ("sqrt(x**2 + y**2)", "x=3,y=4"),
]


@pytest.mark.parametrize("method", list(Method))
@pytest.mark.parametrize("text, at", HARD)
def test_every_correct_derivative_passes(text, at, method):
    report = check_expression(text, at=[at], method=method)
    assert set(statuses(report)) == {Status.PASS}, [(c.name, c.rel_error) for c in report.checks]


@pytest.mark.parametrize("text", ["sin(x)-cos(x)", "log(exp(x) + exp(y) + exp(z))", "x*exp(-y**2)*cos(z)", "atan2(y, x)"])
def test_correct_derivatives_pass_at_random_points(text):
    report = check_expression(text, points=30, seed=3)
    assert report.counts["pass"] == report.counts["checks"]


@pytest.mark.parametrize(
    "text, at, claimed",
    [
        ("cos(x)", "x=0", "-sin(x)"),  # stationary point
        ("x**2", "x=0", "2*x"),
        ("x**3 - 3*x", "x=1", "3*x**2 - 3"),
        ("x**2 + 0*y", "x=1,y=2", None),  # a variable that does not appear
        ("exp(x) * 1e8 + y**2", "x=1,y=0", None),  # zero partial beside a huge value
    ],
)
def test_zero_partials_and_stationary_points_pass(text, at, claimed):
    wrt = None if claimed else "x,y"
    report = check_expression(text, at=[at], grads=[claimed] if claimed else (), wrt=wrt)
    assert set(statuses(report)) == {Status.PASS}


@pytest.mark.parametrize(
    "text, at",
    [("abs(x)", "x=0"), ("relu(x)", "x=0"), ("max(x, y)", "x=1,y=1"), ("min(x, 2)", "x=2"), ("abs(x - 1) * y", "x=1,y=3")],
)
@pytest.mark.parametrize("method", list(Method))
def test_kinks_are_reported_never_failed(text, at, method):
    report = check_expression(text, at=[at], method=method)
    assert Status.FAIL not in statuses(report)
    assert Status.KINK in statuses(report)
    assert report.passed


MISTAKES = [  # (f, correct f', wrong claim)
    ("sin(x)*x", "cos(x)*x + sin(x)", "2*(cos(x)*x + sin(x))"),  # factor 2
    ("sigmoid(x)", "sigmoid(x)*(1-sigmoid(x))", "-sigmoid(x)*(1-sigmoid(x))"),  # sign
    ("exp(3*x)", "3*exp(3*x)", "exp(3*x)"),  # missing chain factor
    ("log(1 + x**2)", "2*x/(1+x**2)", "x/(1+x**2)"),  # missing inner factor 2
]


@settings(max_examples=60, deadline=None)
@given(k=st.integers(-9, 9), case=st.sampled_from(MISTAKES), x=st.floats(0.2, 2.0))
def test_a_wrong_derivative_fails_at_any_magnitude(k, case, x):
    f, _, wrong = case
    report = check_expression(f"1e{k}*({f})", at=[f"x={x!r}"], grads=[f"1e{k}*({wrong})"])
    assert statuses(report) == [Status.FAIL]


@settings(max_examples=60, deadline=None)
@given(k=st.integers(-8, 8), case=st.sampled_from(MISTAKES), x=st.floats(0.2, 2.0), right=st.booleans(),
       method=st.sampled_from(list(Method)))
def test_scaling_f_and_its_gradient_never_changes_a_verdict(k, case, x, right, method):
    f, good, wrong = case
    g = good if right else wrong
    base = check_expression(f, at=[f"x={x!r}"], grads=[g], method=method)
    scaled = check_expression(f"1e{k}*({f})", at=[f"x={x!r}"], grads=[f"1e{k}*({g})"], method=method)
    assert statuses(scaled) == statuses(base)
    assert statuses(base) == [Status.PASS if right else Status.FAIL]


def test_cs224n_floor_one_and_tolerance_options():
    # with --floor 1 a tiny wrong component is judged against 1, as in CS224n
    report = check_expression("1e-9*x**2", at=["x=1"], grads=["4e-9*x"], thresholds=Thresholds(floor=1.0))
    assert statuses(report) == [Status.PASS] or statuses(report) == [Status.WARN]
    assert check_expression("1e-9*x**2", at=["x=1"], grads=["4e-9*x"]).status is Status.FAIL
    loose = check_expression("x**2", at=["x=1"], grads=["2.001*x"], thresholds=Thresholds(fail_tol=0.1))
    assert loose.status is Status.WARN and loose.passed
    strict = check_expression("x**2", at=["x=1"], grads=["2.001*x"], thresholds=Thresholds(fail_tol=0.1, strict=True))
    assert strict.status is Status.WARN and not strict.passed


def test_judge_direction_agrees_within_the_error_and_disagrees_beyond_it():
    from gradcheck_cli.verdict import Agreement, judge_direction

    assert judge_direction(1.0, 1.0 + 1e-9, 1e-8) is Agreement.AGREE
    assert judge_direction(1.0, 1.0 + 1e-7, 1e-8) is Agreement.DISAGREE
    assert judge_direction(float("nan"), 1.0, 1e-8) is Agreement.DISAGREE  # a NaN in the gradient
    assert judge_direction(1.0, float("nan"), 1e-8) is Agreement.UNDECIDED  # the cost is not finite
    assert judge_direction(1.0, 1.0, float("inf")) is Agreement.UNDECIDED


def test_zero_rule_for_users_code_is_agreement_within_round_off_of_the_scale():
    # finding M: a saturated sigmoid entry, claim -7.653e-16, truth -7.268e-16 (mpmath),
    # lifted estimate -7.265e-16 +- 2.8e-18, the block's gradient scale G = 0.105
    z = 16 * np.finfo(float).eps * 0.105
    assert one(-7.65333e-16, -7.26541e-16, 2.8e-18, z=z)[0] is Status.PASS
    # without the scale (z = 0) the same numbers fail: stronger evidence turned pass into fail
    assert one(-7.65333e-16, -7.26541e-16, 2.8e-18, z=0.0)[0] is Status.FAIL
    # a claim off by more than z is judged by the relative rule: a factor 2 fails
    assert one(-1.5e-15, -7.26541e-16, 2.8e-18, z=z)[0] is Status.FAIL
    # an interval wider than z does not agree to within z
    assert one(-7.65333e-16, -7.26541e-16, 1e-15, z=z)[0] is Status.UNRESOLVED
    # exact evidence (expr's referee): only the both-zero form applies
    res = assess(np.array([-7.65333e-16]), np.array([-7.26541e-16]), np.array([2.8e-18]), T,
                 zero_scale=z, agreement=False)
    assert res.statuses[0] is Status.FAIL


@settings(max_examples=60, deadline=None)
@given(a=st.floats(-1e3, 1e3), rel=st.floats(-1.0, 1.0), e=st.floats(0, 1e-3), z=st.floats(0, 1e-3),
       tol=st.floats(1e-16, 1e-2))
def test_zero_rule_is_free_of_the_tolerances(a, rel, e, z, tol):
    n = a * (1 + rel)
    code = assess(np.array([a]), np.array([n]), np.array([e]), Thresholds(pass_tol=tol, fail_tol=tol),
                  zero_scale=z).code[0]
    if abs(a - n) + e <= z:  # agrees to within round-off: a pass at every tolerance
        assert code == 0
    tighter = assess(np.array([a]), np.array([n]), np.array([e]), Thresholds(pass_tol=tol / 10, fail_tol=tol),
                     zero_scale=z).code[0]
    assert tighter != 0 or code == 0  # a smaller pass tolerance never makes a pass
