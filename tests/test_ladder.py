"""The stencil ladder: the bound contains the truth (mpmath), verifies to 1e-7 where
float64 allows, follows |x| for tiny x, and the one-sided kink test on shrinking steps."""

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradcheck_cli.blackbox.ladder import derivative_along, ladder_estimate, measured_noise, tableau


def _ladder(f, x, truth, h0, **kw):
    def pair(h):
        xp, xm = x + h, x - h
        return f(xp), f(xm), float(truth) * ((xp - xm) / (2 * h) - 1)

    d = 1e-6 * h0
    sigma = measured_noise([f(x + k * d) for k in range(8)])
    # the direct check's short-step difference and its error (truncation from 4h)
    hs = 6e-5 * h0
    (p1, m1, _), (p4, m4, _) = pair(hs), pair(4 * hs)
    d1, d4 = (p1 - m1) / (2 * hs), (p4 - m4) / (8 * hs)
    F = max(abs(p1), abs(m1), abs(p4), abs(m4))
    ref = (d1, 2 * (abs(d4 - d1) / 15 + 4 * 2.2e-16 * F / hs + 3 * sigma / hs))
    return derivative_along(pair, h0, f(x), noise=sigma, reference=ref, **kw)


def test_tableau_is_sixth_order_on_a_polynomial():
    # D(h) of x**7 at 1 has an h**6 term: the order-6 column removes h**2 and h**4 exactly
    h = 0.1 / 2.0 ** np.arange(4)
    d = ((1 + h) ** 5 - (1 - h) ** 5) / (2 * h)  # x**5: D = 5 + 10 h**2 + h**4
    T, _ = tableau(d)
    assert np.allclose(T[2:, 2], 5.0, rtol=1e-13, atol=0)
    assert not np.allclose(T[1:, 0], 5.0, rtol=1e-6)


CASES = [
    ("sin", lambda t: np.sin(t), lambda t: mp.cos(t), 1.0),
    ("exp", lambda t: np.exp(t), lambda t: mp.exp(t), 2.0),
    ("offset quad", lambda t: t * t + 1e4, lambda t: 2 * t, 0.7),
    ("cube tiny", lambda t: t**3, lambda t: 3 * t**2, 1e-8),
    ("log small", lambda t: np.log(t), lambda t: 1 / t, 1e-3),
    ("tanh saturating", lambda t: np.tanh(t), lambda t: 1 / mp.cosh(t) ** 2, 5.0),
    ("quad huge", lambda t: 1e8 * t * t, lambda t: 2e8 * t, 1e8),
]


@pytest.mark.parametrize("name,f,df,x", CASES, ids=[c[0] for c in CASES])
def test_bound_contains_the_truth_and_verifies(name, f, df, x):
    truth = df(mp.mpf(x))
    h0 = 0.1 * (abs(x) if abs(x) < 1 else max(abs(x), 1.0))
    r = _ladder(f, x, float(truth), h0, target=1e-8 * abs(float(truth)))
    assert abs(mp.mpf(r.value) - truth) <= r.error
    assert r.error <= 1e-8 * abs(float(truth)), (r.value, r.error)


@settings(max_examples=40, deadline=None)
@given(scale=st.integers(-8, 8), at=st.floats(-3, 3), k=st.integers(-8, 2))
def test_bound_is_sound_at_every_scale(scale, at, k):
    """c sin(x) + c x**2 / 2 at x * 10**k for c = 10**scale: the bound holds the truth.
    (Past |x| ~ 1e3 a step that follows |x| is longer than sin's period: no black-box
    difference sees a feature finer than its steps; functions that vary on the scale of
    |x| are tested up to 1e8 below.)"""
    c = 10.0**scale
    x = at * 10.0**k
    f = lambda t: c * np.sin(t) + c * t * t / 2  # noqa: E731
    truth = c * mp.cos(mp.mpf(x)) + c * mp.mpf(x)
    h0 = 0.1 * max(abs(x), 1.0)
    r = _ladder(f, x, float(truth), h0)
    assert abs(mp.mpf(r.value) - truth) <= r.error


def test_flat_cost_gets_a_sound_bound():
    """sigmoid at 36.2 is 1 to float64's resolution: 0 ± at least its true 1.9e-16."""
    f = lambda t: 1 / (1 + np.exp(-t))  # noqa: E731
    r = _ladder(f, 36.2, 0.0, 1.0)
    assert r.value == 0 and r.error >= float(mp.exp(-36.2))


def test_kink_only_where_the_one_sided_slopes_stay_apart():
    beta = 1e-3
    smooth_l1 = lambda t: np.where(abs(t) < beta, 0.5 * t * t / beta, abs(t) - 0.5 * beta)  # noqa: E731
    assert _ladder(np.abs, 0.0, 0.0, 0.1, kink_test=True).kink
    r = _ladder(smooth_l1, 3e-4, 0.3, 0.1, kink_test=True, target=3e-8)
    assert not r.kink and abs(r.value - 0.3) <= r.error <= 3e-8
    assert not _ladder(lambda t: t * abs(t), 0.0, 0.0, 0.1, kink_test=True).kink
    assert not _ladder(np.exp, 0.3, float(np.exp(0.3)), 0.1, kink_test=True).kink


def test_out_of_asymptotic_regime_proves_nothing():
    # D(h) = x / h (a kink inside every stencil): no candidate may claim precision
    d = 3e-4 / (0.1 / 2.0 ** np.arange(5))
    value, error, _, _ = ladder_estimate(d, 0.1 / 2.0 ** np.arange(5), 1e-20)
    assert not (abs(value - 0.3) <= error < 0.1)


def test_first_order_term_of_a_c1_point_is_removed_soundly():
    # x |x| at 0 (C1, not a kink): D(h) = g + h, so the even-power stencils do not remove
    # the error; the all-powers tableau does, and its bound holds the true slope g
    h = 0.1 / 2.0 ** np.arange(6)
    for g in (0.0, 1e-3, -1e-6, 0.5):
        value, error, _, _ = ladder_estimate(g + h, h, 1e-17)
        assert abs(value - g) <= error <= 1e-12, (g, value, error)
        value, error, _, _ = ladder_estimate(g + h + 0.3 * h**2, h, 1e-17)
        assert abs(value - g) <= error <= 1e-5, (g, value, error)
    for g in (1e-3, 1e-6):  # a claim of 0 is outside the bound of a slope of 1e-3, 1e-6
        phi = lambda t, g=g: 1.5 + t * abs(t) + g * t  # noqa: E731
        r = derivative_along(lambda t: (phi(t), phi(-t), 0.0), 0.1, phi(0.0), noise=1e-16)
        assert abs(r.value - g) <= r.error < g / 10, (g, r.value, r.error)


@settings(max_examples=30, deadline=None)
@given(scale=st.integers(-8, 8), at=st.floats(0.1, 3), k=st.integers(-8, 8))
def test_scale_of_x_functions_verify_at_every_magnitude(scale, at, k):
    """c (x**2 + log x) at x = at 10**k: sound, and verified to 1e-7."""
    c = 10.0**scale
    x = at * 10.0**k
    f = lambda t: c * (t * t + np.log(t))  # noqa: E731
    truth = c * (2 * mp.mpf(x) + 1 / mp.mpf(x))
    h0 = 0.1 * (x if x < 1 else x)
    r = _ladder(f, x, float(truth), h0, target=2e-8 * abs(float(truth)))
    assert abs(mp.mpf(r.value) - truth) <= r.error <= 5e-8 * abs(float(truth))


# ---- issue 16: float32 values, values beyond float64's range, counts not seconds
def _lse32(x):
    x = np.asarray(x, dtype=np.float32)
    e = np.exp(x - x.max())
    return np.float32(x.max() + np.log(e.sum())), (e / e.sum()).astype(np.float32)


def test_float32_values_get_a_longer_ladder_that_verifies_to_float32s_tolerance():
    # a float32 logsumexp: the float64 start (h0 = 0.1) is round-off bound at ~3e-5; the
    # longer ladder's 6th-order stencil reaches a few 1e-6, and its bound holds the truth
    from gradcheck_cli.blackbox.ladder import entry_derivative

    x = np.random.default_rng(0).standard_normal(20)
    x32 = x.astype(np.float32).astype(float)
    _, g = _lse32(x)
    cost = lambda z: float(_lse32(z)[0])  # noqa: E731
    with mp.workdps(40):
        xs = [mp.mpf(float(v)) for v in x32]
        s = mp.fsum(mp.exp(v) for v in xs)
        truth = [float(mp.exp(v) / s) for v in xs]
    for j in range(20):
        r = entry_derivative(cost, x.copy(), j, f0=cost(x), eps=float(np.finfo(np.float32).eps),
                             claimed=float(g[j]), target=1e-3 * abs(float(g[j])) / 4)
        assert abs(r.value - truth[j]) <= r.error, j
        # verified to float32's 1e-3 (was 1e-5 .. 3.6e-5 from the float64 start alone)
        assert r.error <= max(1e-5, 1e-3 * abs(float(g[j])) / 4), j


def test_extended_precision_ladder_runs_on_values_beyond_float64s_range():
    # x**2 at 1e-200 is 1e-400: not a float64, a longdouble; the ladder scales phi and t by
    # powers of 2, so the derivative 2e-200 is verified (the float64 check sees f == 0)
    from gradcheck_cli.blackbox.ladder import entry_derivative

    if np.finfo(np.longdouble).eps >= np.finfo(float).eps:
        pytest.skip("no extended precision on this platform")
    x = np.array([1e-200, 1e-201]).astype(np.longdouble)
    f = lambda z: np.sum(z**2)  # noqa: E731
    for j, truth in ((0, 2e-200), (1, 2e-201)):
        r = entry_derivative(f, x, j, f0=f(x), eps=float(np.finfo(np.longdouble).eps), claimed=truth,
                             target=1e-7 * truth / 4)
        assert abs(r.value - truth) <= r.error <= 1e-8 * truth, j
    assert x[0] == np.longdouble(1e-200)  # restored


def test_lifted_budget_is_counted_in_calls_that_follow_the_size_of_x():
    from gradcheck_cli.blackbox.ladder import LIFT_RECHECK_CALLS, LIFT_RECHECK_MAX, recheck_budget

    assert recheck_budget(79510) == LIFT_RECHECK_CALLS
    assert recheck_budget(10) == LIFT_RECHECK_MAX
    sizes = [1, 10, 100, 1360, 10_000, 79510, 10**6]
    budgets = [recheck_budget(n) for n in sizes]
    assert budgets == sorted(budgets, reverse=True)  # more entries, dearer calls: fewer of them


# ---- audit findings L and B: features at the scale of a tiny x, steps leaving the domain
@pytest.mark.parametrize("name", ["tanh(x / 1e-10)", "x^2 / (x^2 + 1e-20)", "pseudo-Huber 1e-6"])
def test_a_feature_at_the_scale_of_a_tiny_x_is_seen_by_the_ladder_relative_to_x(name):
    # steps of 0.1 .. 0.006 agree on the plateaus beyond the feature (a bound that looks
    # tight and is wrong: a false fail); the ladder at 0.1 |x| sees it, and wins
    from gradcheck_cli import check_gradient

    s = 1e-10
    cases = {
        "tanh(x / 1e-10)": (lambda x: (np.sum(np.tanh(x / s)), (1 - np.tanh(x / s) ** 2) / s), 1e-10, 22),
        "x^2 / (x^2 + 1e-20)": (lambda x: (np.sum(x**2 / (x**2 + s**2)), 2 * x * s**2 / (x**2 + s**2) ** 2), 1e-10, 22),
        "pseudo-Huber 1e-6": (lambda x: (np.sum(np.sqrt(x**2 + 1e-12)), x / np.sqrt(x**2 + 1e-12)), 1e-6, 5),
    }
    f, scale, seed = cases[name]
    x = scale * np.random.default_rng(seed).standard_normal(6)
    assert check_gradient(f, x).status.value == "pass"
    wrong = lambda z: (f(z)[0], 2 * f(z)[1])  # noqa: E731
    assert check_gradient(wrong, x).counts["fail"] == 6


def test_a_ladder_whose_steps_leave_the_domain_shrinks_until_f_is_finite():
    # log-barrier at slacks 1e-6 .. 1: steps of 0.1 make b - A x negative (log -> NaN); the
    # ladder starts again below the slack, so the right gradient is verified and a 100% bug
    # fails (it read unresolved, exit 0, like the right one)
    from gradcheck_cli import check_gradient

    A = np.random.default_rng(13).standard_normal((6, 5))
    x0 = np.random.default_rng(0).standard_normal(5)
    b = A @ x0 + np.array([1e-6, 3e-6, 1e-5, 1e-3, 1e-1, 1.0])

    def barrier(x):
        s = b - A @ x
        return -np.sum(np.log(s)), A.T @ (1 / s)

    def no_transpose(x):
        s = b - A @ x
        return -np.sum(np.log(s)), np.sum(A, axis=0) * np.sum(1 / s) / 6

    right = check_gradient(barrier, x0)
    # every entry verified: the slack's own cancellation (b - A x, noise 2e-10 relative)
    # leaves float64 short, the lifted ladder shrinks into the domain too
    assert right.status.value == "pass" and right.counts["pass"] == 5, right.summary_line()
    assert check_gradient(no_transpose, x0).counts["fail"] == 5


def test_a_lifted_ladder_leaving_the_domain_shrinks_even_with_a_reference_and_contains_the_truth():
    # the float64 estimate given as the reference used to stand in for a lifted ladder
    # whose every step left the domain (finite, so the shrink never ran): 0.016 of 28802
    from gradcheck_cli.blackbox.ladder import entry_derivative

    if np.finfo(np.longdouble).eps >= np.finfo(float).eps:
        pytest.skip("no extended precision on this platform")
    A = np.random.default_rng(13).standard_normal((6, 5))
    x0 = np.random.default_rng(0).standard_normal(5)
    b = A @ x0 + np.array([1e-6, 3e-6, 1e-5, 1e-3, 1e-1, 1.0])
    mp.mp.dps = 40
    s = [mp.mpf(float(bi)) - mp.fsum(mp.mpf(float(a)) * mp.mpf(float(v)) for a, v in zip(row, x0))
         for bi, row in zip(b, A)]
    def f(z):  # outside the domain: NaN, as the user's code gives it (the ladder steps back)
        with np.errstate(invalid="ignore"):
            return -np.sum(np.log(b - A @ z))

    lw = x0.astype(np.longdouble)
    for j in range(5):
        truth = mp.fsum(mp.mpf(float(A[i, j])) / s[i] for i in range(6))
        ref = (float(truth) * (1 + 3e-8), 0.02 * abs(float(truth)) * 1e-6 + 0.1)
        r = entry_derivative(f, lw, j, f0=f(lw), eps=float(np.finfo(np.longdouble).eps), claimed=float(truth),
                             target=1e-7 * abs(float(truth)) / 4, reference=ref)
        assert abs(mp.mpf(r.value) - truth) <= r.error <= 1e-7 * abs(float(truth)) / 4, (j, r.value, r.error)


def test_float32_long_steps_settling_at_a_ratio_above_one_half_are_smooth_but_a_kink_crossed_is_not():
    from gradcheck_cli.blackbox.ladder import SETTLE_LOW, smooth_rungs

    h = 1.6 / 2.0 ** np.arange(5)
    # softmax-CE in float32 along one entry: the even part's moves 0.011, 0.0059 (0.53),
    # 0.0017, 0.00043 -- before the asymptotic regime, no kink
    S = np.array([0.6466195, 0.63558519, 0.62968731, 0.62794685, 0.6275177])
    even = S * h * h
    assert not smooth_rungs(even, h, 1e-9).all()  # float64's threshold 1/2 flags it
    assert smooth_rungs(even, h, 1e-9, SETTLE_LOW).all()
    # relu(t - d) + 0.3 t^2 crossed at d = 0.05 by the same steps: moves that do not settle
    d = 0.05
    phi = lambda t: np.maximum(t - d, 0) + 0.3 * t * t  # noqa: E731
    even = phi(h) + phi(-h) - 2 * phi(0.0)
    assert not smooth_rungs(even, h, 1e-9, SETTLE_LOW)[2:].all()


# ---- issue 16: entries far below their cost's scale (the growing-step rung)
def _phi_pair(phi):
    return lambda t: (phi(t), phi(-t), 0.0)


@settings(max_examples=25, deadline=None)
@given(ulps=st.floats(2.0, 1e3), F=st.floats(1.0, 1e3), s=st.floats(0.5, 2.0))
def test_a_probability_of_e_minus_40_is_bounded_by_longer_steps_in_extended_precision(ulps, F, s):
    # phi(t) = F + c (e**(s t) - 1)/s (a softmax loss along a score 40 below its row's max,
    # c a few ulps of F): at the first steps f moves by an ulp of F or not at all; rungs
    # twice as long go on top, and the bound holds the truth c, far inside the zero rule's eps F
    if np.finfo(np.longdouble).eps >= np.finfo(float).eps:
        pytest.skip("no extended precision on this platform")
    eps = float(np.finfo(np.longdouble).eps)
    c = ulps * eps * F
    ld = np.longdouble

    def phi(t):
        return ld(F) + ld(c) * np.expm1(ld(s) * ld(t)) / ld(s)

    h0 = 2 * eps * F / c  # the longest first step moves f by about 2 ulps, the next ones less
    r = derivative_along(_phi_pair(phi), h0, phi(np.longdouble(0)), noise=0.0, eps=eps, target=1e-7 * c / 4)
    assert abs(r.value - c) <= r.error, (r.value, r.error)
    # a bound of a few ulps of F per unit t: 100 times inside the zero rule's 8 eps F of
    # float64 (the first steps alone prove nothing: fewer than three of them move f)
    assert r.error <= 0.08 * np.finfo(float).eps * F, (r.error, r.steps)


@settings(max_examples=25, deadline=None)
@given(ulps=st.floats(4.0, 1e3), F=st.floats(10.0, 1e4), curv=st.floats(-1e-2, 1e-2), sign=st.sampled_from([-1, 1]))
def test_round_off_bound_ladder_grows_its_steps_and_stays_sound(ulps, F, curv, sign):
    # phi(t) = F + g t + curv g t**3 (an entry far below its cost's scale, nearly linear over
    # steps far beyond the first; g moves f by a few ulps at the first step): float64's
    # round-off eps F / h limits the first ladder; longer steps shrink it while the orders
    # agree, and both bounds hold the truth
    g = sign * ulps * np.finfo(float).eps * F / 0.1
    phi = lambda t: F + g * t + curv * g * t**3  # noqa: E731
    first = derivative_along(_phi_pair(phi), 0.1, phi(0.0), noise=0.0, target=0.0)
    r = derivative_along(_phi_pair(phi), 0.1, phi(0.0), noise=0.0, target=1e-7 * abs(g) / 4)
    assert abs(first.value - g) <= first.error and abs(r.value - g) <= r.error
    assert r.error < first.error / 2 and r.step > first.step, (first.error, r.error, r.step)


@pytest.mark.parametrize("K", [3e-11, -3e-11, 3e-9])
def test_longer_steps_across_a_feature_beyond_the_first_do_not_move_the_estimate(K):
    # phi = F + g t + K t w(t), w = 1 - exp(-(t / 0.3)**8): flat near 0 (phi'(0) = g), a
    # slope g + K beyond 0.3, where the longer rungs would agree with each other on a
    # wrong value: the bound holds the truth g
    g, F = 3e-11, 100.0
    phi = lambda t: F + g * t + K * t * (1 - np.exp(-((t / 0.3) ** 8)))  # noqa: E731
    r = derivative_along(_phi_pair(phi), 0.1, phi(0.0), noise=0.0, target=1e-7 * g / 4)
    assert abs(r.value - g) <= r.error, (r.value, r.error, r.step)


@pytest.mark.parametrize("x, h0", [(1.0, 0.1), (1000.0, 100.0)])
def test_a_reference_widened_only_where_the_ladder_parts_from_it_decides_as_the_wide_one(x, h0):
    # issue 20: the reference's truncation (its 4 hs pair) is measured only when the ladder
    # is apart from it at round-off; every decision is then the one the wide reference
    # makes from the start (sin at 1000 with steps of 100: apart; at 1 with 0.1: never)
    f, truth = np.sin, float(mp.cos(x))

    def pair(h):
        xp, xm = x + h, x - h
        return f(xp), f(xm), truth * ((xp - xm) / (2 * h) - 1)

    hs = 6e-5 * h0
    p1, m1, _ = pair(hs)
    d1 = (p1 - m1) / (2 * hs)
    narrow = (d1, 2 * 4 * 2.2e-16 * max(abs(p1), abs(m1), 1.0) / hs)
    asked = []

    def wide():
        asked.append(1)
        p4, m4, _ = pair(4 * hs)
        d4 = (p4 - m4) / (8 * hs)
        return d1, 2 * (abs(d4 - d1) / 15 + 4 * 2.2e-16 * max(abs(p1), abs(m1), abs(p4), abs(m4), 1.0) / hs)

    eager = derivative_along(pair, h0, f(x), noise=0.0, reference=wide())
    asked.clear()
    lazy = derivative_along(pair, h0, f(x), noise=0.0, reference=narrow, widen=wide)
    assert (lazy.value, lazy.error, lazy.steps.tolist()) == (eager.value, eager.error, eager.steps.tolist())
    assert abs(lazy.value - truth) <= lazy.error
    assert len(asked) == (1 if x == 1000.0 else 0)


def test_deferred_finest_rungs_are_measured_unless_longer_ones_go_on_top():
    # issue 20: a ladder whose first rungs do not call for longer ones is the full ladder
    # (same rungs, same estimate); one limited by round-off grows on top of its first three
    # rungs without the two finest, and still holds the truth
    phi = lambda t: np.exp(t)  # noqa: E731
    full = derivative_along(_phi_pair(phi), 0.1, phi(0.0), noise=1e-16, target=0.0)
    lazy = derivative_along(_phi_pair(phi), 0.1, phi(0.0), noise=1e-16, target=0.0, defer=2)
    assert (lazy.value, lazy.error, lazy.steps.tolist(), lazy.calls) == (full.value, full.error, full.steps.tolist(),
                                                                         full.calls)
    F, g = 100.0, 64 * np.finfo(float).eps * 100.0 / 0.1
    line = lambda t: F + g * t + 1e-3 * g * t**3  # noqa: E731
    grown = derivative_along(_phi_pair(line), 0.1, line(0.0), noise=0.0, target=1e-7 * g / 4, patience=2)
    short = derivative_along(_phi_pair(line), 0.1, line(0.0), noise=0.0, target=1e-7 * g / 4, patience=2, defer=2)
    assert grown.steps.max() > 0.1 and short.steps.max() > 0.1  # longer rungs went on top
    assert short.calls <= grown.calls - 4 and short.steps.min() >= 0.1 / 4
    assert abs(short.value - g) <= short.error and abs(grown.value - g) <= grown.error


@pytest.mark.parametrize("off", [0.0, 1e-5, 0.1])
def test_a_barrier_written_log1p_of_minus_x_squared_at_a_slack_of_1e6(off):
    # float64's shortest steps see the rounding of x*x (a slope off by 1e-6 below steps of
    # 1e-10), not f; extended precision's ladder shrinks into the domain and settles it
    from gradcheck_cli import check_gradient

    x = np.array([1 - 1e-9, -(1 - 1e-6), 1 - 1e-3, 0.5, -0.2])
    res = check_gradient(lambda z: (-np.sum(np.log1p(-z * z)), 2 * z / (1 - z * z) * (1 + off)), x)
    if off == 0:
        assert res.status.value == "pass" and res.counts["pass"] == 5, res.counts
        mp.mp.dps = 40
        for c in res.checks:
            v = mp.mpf(float(x[c.index[0]]))
            assert abs(c.numeric - float(2 * v / (1 - v * v))) <= c.error, c
    else:  # the entry at a slack of 1e-6 warns or fails with its claim
        want = "warn" if off < 1e-2 else "fail"
        assert res.status.value == want, res.counts
        assert [c.status.value for c in res.checks if c.index == (1,)] == [want]
