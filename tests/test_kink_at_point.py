"""A kink AT the point, claimed as the symmetric subgradient (``sign(0) = 0``): the central
difference is exactly that by symmetry, so only the first look's one-sided slopes show it
(``stencils.jump_suspects``), and the shrinking one-sided test decides
(``pipeline._test_suspects``).  Smooth code keeps its clean ``pass`` at every scale."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradcheck_cli.blackbox.stencils import jump_suspects
from gradcheck_cli.checks.func import check_gradient
from gradcheck_cli.verdict import Status

MODES = ["adaptive", "full"]
X = np.array([0.3, -1.2, 0.0, 0.7, 2.1, -0.5])


def statuses(rep) -> dict:
    return {int(c.index[0]): c.status for c in rep.checks} if rep.checks else {}


def kinks(rep) -> int:
    return rep.counts.get("kink", 0)


def abs_sum(x):
    return float(np.sum(np.abs(x))), np.sign(x)


@pytest.mark.parametrize("mode", MODES)
def test_abs_at_zero_claimed_as_sign_zero_is_a_kink(mode):
    rep = check_gradient(abs_sum, X, mode=mode)
    assert rep.status is Status.PASS  # a kink is reported, never a failure
    assert kinks(rep) == 1 and rep.counts["pass"] == 5
    assert statuses(rep)[2] is Status.KINK


@pytest.mark.parametrize("mode", MODES)
def test_kink_with_both_slopes_of_one_sign(mode):
    # 10 x + |x| at 0: slopes 11 and 9, the claim 10 is their midpoint
    def f(x):
        return float(np.sum(10 * x + np.abs(x))), 10 + np.sign(x)

    rep = check_gradient(f, X, mode=mode)
    assert kinks(rep) == 1 and statuses(rep)[2] is Status.KINK


@pytest.mark.parametrize("mode", MODES)
def test_a_wrong_entry_beside_the_kink_still_fails(mode):
    def f(x):
        g = np.sign(x)
        g[1] = -g[1]
        return float(np.sum(np.abs(x))), g

    rep = check_gradient(f, X, mode=mode)
    assert rep.status is Status.FAIL and statuses(rep)[1] is Status.FAIL


@pytest.mark.parametrize("mode", MODES)
def test_x_abs_x_at_zero_is_smooth(mode):
    def f(x):
        return float(np.sum(x * np.abs(x))), 2 * np.abs(x)

    rep = check_gradient(f, np.array([0.0, 1.3, -0.4, 0.0]), mode=mode)
    assert rep.status is Status.PASS and kinks(rep) == 0 and rep.counts["pass"] == 4


@pytest.mark.parametrize("mode", MODES)
def test_smooth_l1_with_a_small_beta_at_zero_is_smooth(mode):
    # quadratic on |x| < beta: its zone is wider than the finer steps of the shrinking test
    beta = 1e-3

    def f(x):
        a = np.abs(x)
        c = np.where(a < beta, 0.5 * x**2 / beta, a - 0.5 * beta)
        return float(np.sum(c)), np.where(a < beta, x / beta, np.sign(x))

    rep = check_gradient(f, np.array([0.0, 1e-9, -2e-6, 0.5, -1.5]), mode=mode)
    assert kinks(rep) == 0 and rep.counts.get("fail", 0) == 0


def test_the_screen_spares_smooth_and_odd_power_points():
    h = 6e-6
    # |x| at 0: slopes +1 and -1
    assert bool(jump_suspects(0.0, h, h, h, 1e-16))
    # x|x| at 0: f(+h) = h^2, f(-h) = -h^2, no gap
    assert not bool(jump_suspects(0.0, h * h, -h * h, h, 1e-30))
    # a smooth slope 1 with f'' = 1: gap h f'' = 6e-6 of the slopes' 2
    assert not bool(jump_suspects(0.0, h + h * h / 2, -h + h * h / 2, h, 1e-30))
    # a gap within round-off is no suspect
    assert not bool(jump_suspects(1.0, 1.0 + 1e-16, 1.0 + 1e-16, h, 1e-16))


@settings(max_examples=25, deadline=None)
@given(scale=st.sampled_from([1e-8, 1e-4, 1.0, 1e4, 1e8]),
       xscale=st.sampled_from([1e-8, 1e-3, 1.0, 20.0]),
       kind=st.sampled_from(["quad", "cos", "exp", "softplus", "cubic"]),
       seed=st.integers(0, 2**16), mode=st.sampled_from(MODES))
def test_smooth_code_never_reads_kink(scale, xscale, kind, seed, mode):
    # smooth functions with entries at 0 and at stationary points: no kink, no failure
    rng = np.random.default_rng(seed)
    x = xscale * rng.standard_normal(8)
    x[[1, 5]] = 0.0

    def f(z):
        if kind == "quad":
            return scale * float(np.sum(z**2)), 2 * scale * z
        if kind == "cos":
            return scale * float(np.sum(np.cos(z))), -scale * np.sin(z)
        if kind == "exp":
            return scale * float(np.sum(np.exp(z))), scale * np.exp(z)
        if kind == "softplus":
            return scale * float(np.sum(np.logaddexp(0, z))), scale / (1 + np.exp(-z))
        return scale * float(np.sum(z**3 - z)), scale * (3 * z**2 - 1)

    rep = check_gradient(f, x, mode=mode)
    assert kinks(rep) == 0
    assert rep.counts.get("fail", 0) == 0


@pytest.mark.parametrize("mode", MODES)
def test_a_smooth_zone_far_narrower_than_the_first_steps_is_no_kink(mode):
    """Logistic loss of w . x with features 1e8 and w ~ 1e-8: phi varies on a scale of 1e-8,
    so the first steps see two straight asymptotes (their one-sided slopes apart); the
    shrinking test reaches inside the smooth zone and finds the gap shrinking."""
    rng = np.random.default_rng(7)
    feats = 1e8 * rng.standard_normal((5, 4))
    labels = np.array([1, -1, 1, 1, -1], dtype=float)
    w0 = 1e-8 * rng.standard_normal(4)

    def loss(w):
        m = labels * (feats @ w)
        return float(np.sum(np.logaddexp(0, -m))), -(feats.T @ (labels / (1 + np.exp(m))))

    rep = check_gradient(loss, w0, mode=mode)
    assert kinks(rep) == 0 and rep.counts["fail"] == 0 and rep.counts["warn"] == 0
