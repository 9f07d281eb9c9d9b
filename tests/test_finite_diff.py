"""finite_diff.py: estimates and their error estimates."""

from __future__ import annotations

import numpy as np
import pytest

from gradcheck_cli.finite_diff import (
    EPS, Method, central_from_values, default_step, estimate_gradient, measured_noise,
)

CASES = [  # f, f', points
    (lambda X: np.exp(5 * X[0]), lambda p: 5 * np.exp(5 * p[:, 0]), [[2.0], [-1.0]]),
    (lambda X: np.sin(50 * X[0]), lambda p: 50 * np.cos(50 * p[:, 0]), [[0.3], [1.7]]),
    (lambda X: X[0] ** 10, lambda p: 10 * p[:, 0] ** 9, [[3.0]]),
    (lambda X: np.log(X[0]), lambda p: 1 / p[:, 0], [[1e-3], [1e-8]]),
    (lambda X: np.exp(X[0]), lambda p: np.exp(p[:, 0]), [[1e-12], [0.0]]),
]


@pytest.mark.parametrize("method", list(Method))
@pytest.mark.parametrize("f, df, pts", CASES)
def test_error_estimate_bounds_the_actual_error(method, f, df, pts):
    pts = np.array(pts)
    est = estimate_gradient(f, pts, method)
    err = np.abs(est.value[:, 0] - df(pts))
    assert np.all(err <= est.noise[:, 0])
    # and the estimate is accurate: central ~1e-9, richardson and complex much better
    tol = {Method.CENTRAL: 1e-8, Method.RICHARDSON: 1e-10, Method.COMPLEX: 1e-14}[method]
    assert np.all(err <= tol * np.abs(df(pts)))


def test_steps_stay_inside_the_domain_of_log():
    est = estimate_gradient(lambda X: np.log(X[0]), np.array([[1e-3]]), Method.CENTRAL)
    assert est.step[0, 0] < 1e-3


def test_all_partials_in_one_vectorised_call():
    calls = []

    def f(X):
        calls.append(X.shape)
        return X[0] ** 2 * X[1] + np.sin(X[2])

    pts = np.array([[1.0, 2.0, 0.5], [-1.0, 0.5, 2.0], [0.3, 0.3, 0.3]])
    est = estimate_gradient(f, pts)
    assert len(calls) == 1 and calls[0][0] == 3
    exact = np.stack([2 * pts[:, 0] * pts[:, 1], pts[:, 0] ** 2, np.cos(pts[:, 2])], axis=1)
    np.testing.assert_allclose(est.value, exact, rtol=1e-9)


def test_fixed_step_is_used_as_given():
    est = estimate_gradient(lambda X: X[0] ** 3, np.array([[1.0]]), Method.CENTRAL, step=1e-3)
    assert est.step[0, 0] == 1e-3
    assert est.value[0, 0] == pytest.approx(3 + 1e-6, rel=1e-9)  # D(h) = 3x^2 + h^2
    assert est.noise[0, 0] >= 1e-6  # the truncation error h^2 is inside the estimate


def test_zero_derivative_is_exact_and_cheap():
    est = estimate_gradient(lambda X: np.cos(X[0]) + 0 * X[1], np.array([[0.0, 3.0]]))
    assert est.value[0, 0] == 0.0 and est.value[0, 1] == 0.0


def test_non_finite_everywhere_gives_nan_and_infinite_noise():
    est = estimate_gradient(lambda X: np.full(X.shape[1], np.nan), np.array([[1.0]]))
    assert np.isnan(est.value[0, 0]) and np.isinf(est.noise[0, 0])


def test_central_from_values_and_default_step():
    h = default_step(np.array([0.5, 200.0]))
    assert h[0] == pytest.approx(EPS ** (1 / 3)) and h[1] == pytest.approx(200 * EPS ** (1 / 3))
    x, hh = 1.0, 1e-4
    f = np.exp
    d, noise = central_from_values(f(x + hh), f(x - hh), f(x + 4 * hh), f(x - 4 * hh), hh)
    assert abs(d - np.e) <= noise < 1e-7



def test_measured_noise_sees_round_off_not_smooth_change():
    grid = 1.0 + 1e-7 * np.arange(10)
    assert measured_noise(np.exp(grid)) < 1e-15
    rng = np.random.default_rng(0)
    noisy = np.exp(grid) + 1e-10 * rng.standard_normal(10)
    assert 2e-11 < measured_noise(noisy) < 5e-10


# ---------------------------------------------------------------- issue 9: estimates that do not lie
import math  # noqa: E402
import warnings  # noqa: E402

import mpmath as mp  # noqa: E402

from gradcheck_cli.finite_diff import EPS32, value_eps, zero_scale  # noqa: E402

HOSTILE = [  # name, numpy f, mpmath f', x
    ("sin at 1e6", np.sin, mp.cos, 1e6),
    ("sin at 1e7", np.sin, mp.cos, 1e7),
    ("pole", lambda x: 1 / (x - 1), lambda x: -1 / (x - 1) ** 2, 1.000001),
    ("expm1 - x at 1e-10", lambda x: np.exp(x) - 1 - x, lambda x: mp.exp(x) - 1, 1e-10),
    ("log1p at 1e-16", lambda x: np.log(1 + x), lambda x: 1 / (1 + x), 1e-16),
    ("x**3 at 0", lambda x: x**3, lambda x: 3 * x**2, 0.0),
    ("sqrt at 1e-20", np.sqrt, lambda x: 1 / (2 * mp.sqrt(x)), 1e-20),
    ("exp at 709", np.exp, mp.exp, 709.0),
    ("log at 1e-300", np.log, lambda x: 1 / x, 1e-300),
    ("tanh at 18", np.tanh, lambda x: 1 - mp.tanh(x) ** 2, 18.0),
    ("x + 1e20", lambda x: x + 1e20, lambda x: mp.mpf(1), 1.0),
]
# the complex step of a function that cancels internally (exp(x) - 1 - x) is exact only
# to the size of the intermediates, which no black box shows; expressions are refereed
COMPLEX_CANCELS = {"expm1 - x at 1e-10"}


@pytest.mark.parametrize("method", list(Method))
@pytest.mark.parametrize("name, f, df, x", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_the_error_bound_covers_the_truth_at_hostile_points(method, name, f, df, x):
    if method is Method.COMPLEX and name in COMPLEX_CANCELS:
        pytest.skip("cancellation inside f is invisible to the complex step")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # our own RuntimeWarnings never escape
        est = estimate_gradient(lambda X: f(X[0]), np.array([[x]]), method)
    mp.mp.dps = 50
    truth = float(df(mp.mpf(x)))
    n, e = est.value[0, 0], est.noise[0, 0]
    assert e > 0 or n == truth
    assert not np.isfinite(n) or abs(n - truth) <= e, (n, e, truth)


def test_the_log_ladder_reaches_tiny_x_and_richardson_does_not_overflow():
    est = estimate_gradient(lambda X: np.log(X[0]), np.array([[1e-300]]))
    assert est.value[0, 0] == pytest.approx(1e300, rel=1e-6)
    est = estimate_gradient(lambda X: np.exp(X[0]), np.array([[709.0]]), Method.RICHARDSON)
    assert est.value[0, 0] == pytest.approx(math.exp(709.0), rel=1e-8)


def test_complex_step_is_scaled_for_tiny_x_and_counts_its_h2_term():
    est = estimate_gradient(lambda X: np.sqrt(X[0]), np.array([[1e-20]]), Method.COMPLEX)
    assert est.value[0, 0] == pytest.approx(5e9, rel=1e-12)
    est = estimate_gradient(lambda X: X[0] ** 3, np.array([[0.0]]), Method.COMPLEX)
    assert abs(est.value[0, 0]) <= est.noise[0, 0]  # -h**2, and the error says so


def test_value_eps_sees_float32_results():
    x = np.linspace(0.1, 1, 7)
    assert value_eps(np.float32(x) ** 2) == EPS32
    assert value_eps([float(v) for v in np.float32(x) ** 2]) == EPS32  # converted to Python floats
    assert value_eps(x**2) == np.finfo(float).eps
    assert value_eps([1.0, 2.0, 3.0]) == np.finfo(float).eps  # integers say nothing


def test_value_eps_reads_float32_numbers_beyond_2_24_as_float32():
    # every float32 number beyond 2**24 is whole: there a 24-bit significand is the evidence
    big = np.float32(np.e) * np.float32(1e10)
    assert value_eps([float(big)]) == EPS32
    assert value_eps([float(big), float(big) + 2048.0]) == EPS32  # a table of float32 values
    assert value_eps([float(np.float32(1e20))]) == EPS32
    assert value_eps([2.0**60, 3.0 * 2.0**40]) == np.finfo(float).eps  # round numbers float64 gives too
    assert value_eps([float(2**25 + 1)]) == np.finfo(float).eps  # not a float32 number


def test_zero_scale_is_round_off_of_f_per_unit_x():
    assert zero_scale(2.0, 10.0) == pytest.approx(4 * np.finfo(float).eps * 2.0 / 10.0)
    assert zero_scale(2.0, 0.1, EPS32) == pytest.approx(4 * EPS32 * 2.0)
