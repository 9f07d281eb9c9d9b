"""finite_diff.py: estimates and their error estimates."""

from __future__ import annotations

import numpy as np
import pytest

from gradcheck_cli.finite_diff import (
    EPS, Method, blackbox_gradient, central_from_values, default_step, estimate_gradient, measured_noise,
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


def test_blackbox_matches_vectorised_and_restores_x():
    x = np.array([[0.5, -1.0], [2.0, 0.25]])
    seen = []

    def cost(z):
        seen.append(z.copy())
        return float(np.sum(np.sin(z) * z))

    est = blackbox_gradient(cost, x)
    np.testing.assert_allclose(est.value, (np.cos(x) * x + np.sin(x)).ravel(), rtol=1e-9)
    assert len(seen) == 4 * x.size + 1  # four per entry, and f(x) once for the kink test
    assert np.count_nonzero(seen[0] != x) == 0
    assert all(np.count_nonzero(s != x) == 1 for s in seen[1:])  # one entry perturbed at a time


def test_measured_noise_sees_round_off_not_smooth_change():
    grid = 1.0 + 1e-7 * np.arange(10)
    assert measured_noise(np.exp(grid)) < 1e-15
    rng = np.random.default_rng(0)
    noisy = np.exp(grid) + 1e-10 * rng.standard_normal(10)
    assert 2e-11 < measured_noise(noisy) < 5e-10
