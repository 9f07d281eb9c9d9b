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
    Status, Thresholds, classify, floor_from_noise, is_failure, relative_error, worst,
)


def statuses(report):
    return [c.status for c in report.checks]


def test_relative_error_formula():
    assert relative_error(2.0, 1.0, 0.0) == 0.5
    assert relative_error(1.0, 1.0, 0.0) == 0.0
    assert relative_error(0.0, 0.0, 0.0) == 0.0
    assert relative_error(1e-3, 2e-3, 1.0) == pytest.approx(1e-3)  # floor in the denominator
    assert relative_error(np.nan, 1.0, 1.0) == np.inf
    assert relative_error(np.inf, 1.0, 1.0) == np.inf


def test_floor_is_noise_over_pass_tol_or_fixed():
    t = Thresholds()
    assert floor_from_noise(np.array([1e-12]), t)[0] == pytest.approx(1e-5)
    assert floor_from_noise(np.array([1e-12]), Thresholds(floor=1.0))[0] == 1.0


def test_classify_boundaries_and_kink():
    t = Thresholds(pass_tol=1e-7, fail_tol=1e-2)
    got = classify(np.array([0.0, 1e-7, 2e-7, 1e-2, 1.1e-2, np.nan, 5.0]), t, kink=[0, 0, 0, 0, 0, 0, 1])
    assert [s.value for s in got] == ["pass", "pass", "warn", "warn", "fail", "fail", "kink"]


def test_worst_and_strict():
    assert worst([Status.PASS, Status.KINK]) is Status.PASS
    assert worst([Status.PASS, Status.WARN, Status.KINK]) is Status.WARN
    assert worst([Status.WARN, Status.FAIL]) is Status.FAIL
    assert worst([]) is Status.PASS
    assert not is_failure(Status.WARN, strict=False) and is_failure(Status.WARN, strict=True)
    assert is_failure(Status.FAIL, strict=False) and not is_failure(Status.KINK, strict=True)


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
