"""Float32 code: the least-squares fit over many steps (``blackbox.lowprec``) contains the
truth, and with it correct float32 code passes while a x1.001 or x2 bug does not."""

from __future__ import annotations

import numpy as np
import pytest

from gradcheck_cli import check_gradient
from gradcheck_cli.blackbox.lowprec import combine, fit_derivative, FitResult
from gradcheck_cli.verdict import FLOAT32_PASS_TOL, Status

EPS32 = float(np.finfo(np.float32).eps)
_R = np.random.default_rng(5)
_X = _R.standard_normal((30, 8))
_Y = _R.integers(0, 5, 30)
_XL = _R.standard_normal((50, 10))
_YL = (_R.random(50) < 0.5).astype(float)


def softmax_ce(W, dt):
    X = _X.astype(dt)
    s = X @ W
    s = s - s.max(1, keepdims=True)
    e = np.exp(s)
    p = e / e.sum(1, keepdims=True)
    c = -np.log(p[np.arange(30), _Y]).sum()
    p[np.arange(30), _Y] -= 1
    return c, X.T @ p


def logsumexp(x, dt):
    m = x.max()
    e = np.exp(x - m)
    return m + np.log(e.sum()), e / e.sum()


def logreg(w, dt):
    X, y = _XL.astype(dt), _YL.astype(dt)
    z = X @ w
    p = 1 / (1 + np.exp(-z))
    return np.mean(np.log1p(np.exp(z)) - y * z), X.T @ (p - y) / dt(50)


def cubic(x, dt):
    return (x * x).sum() * dt(0.5) + (x ** 3).sum(), x + 3 * x * x


def rosen(x, dt):
    c = (dt(100) * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()
    g = np.zeros_like(x)
    g[:-1] = -400 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
    g[1:] += 200 * (x[1:] - x[:-1] ** 2)
    return c, g


def sin20(x, dt):
    """A feature (period 0.31) narrower than float32's first steps (0.04 max(|x|, 1), 4 times that)."""
    return np.sin(dt(20) * x).sum(), dt(20) * np.cos(dt(20) * x)


FUNCS = [(softmax_ce, (8, 5)), (logsumexp, (20,)), (logreg, (10,)), (cubic, (12,)), (rosen, (10,))]
#: ... and for the verdicts, code whose features are narrower than the fit's widths
VERDICT_FUNCS = FUNCS + [(sin20, (12,))]


def in_float32(F, shape, factor=1.0):
    """F computed in float32 throughout (its gradient times ``factor``: a planted bug)."""
    def f(x):
        c, g = F(np.asarray(x, dtype=np.float32).reshape(shape), np.float32)
        return np.float32(c), (g * np.float32(factor)).astype(np.float32)
    return f


@pytest.mark.parametrize("F,shape", FUNCS, ids=[F.__name__ for F, _ in FUNCS])
def test_fit_contains_the_truth(F, shape):
    # truth: the float64 formula at the float32 point the code sees
    rng = np.random.default_rng(11)
    f = in_float32(F, shape)
    tight = 0
    for _ in range(3):
        x0 = rng.standard_normal(shape)
        truth = F(x0.astype(np.float32).astype(float), np.float64)[1].ravel()
        w = x0.ravel().copy()
        f0 = float(f(w)[0])
        for j in range(w.size):
            r = fit_derivative(lambda z: float(f(z)[0]), w, j, f0=f0, eps=EPS32)
            assert r.calls == 128  # 2 FIT_POINTS
            assert abs(r.value - truth[j]) <= r.error, (j, truth[j], r.value, r.error)
            tight += r.error <= FLOAT32_PASS_TOL * abs(truth[j]) / 2
        np.testing.assert_array_equal(w, x0.ravel())  # restored
    assert tight >= 0.9 * 3 * np.prod(shape)  # and it is evidence float32 can verify with


def test_staircase_is_no_evidence():
    # values that barely move between neighbouring steps (a slope far below f's quantum)
    f0 = 1000.0
    cost = lambda z: float(np.float32(1000.0 + 1e-9 * z[0]))  # noqa: E731
    r = fit_derivative(cost, np.zeros(3), 0, f0=f0, eps=EPS32)
    assert not np.isfinite(r.error)


def test_combine_keeps_the_ladder_where_it_proves_nothing_and_unions_disagreement():
    assert combine(1.0, np.inf, FitResult(2.0, 0.1, 1.0, 128)) == (1.0, np.inf)
    assert combine(1.0, 0.5, FitResult(1.2, 0.1, 1.0, 128)) == (1.2, 0.1)
    v, e = combine(1.0, 0.1, FitResult(2.0, 0.1, 1.0, 128))
    assert v - e <= 0.9 and v + e >= 2.1  # apart: the union


@pytest.mark.parametrize("F,shape", VERDICT_FUNCS, ids=[F.__name__ for F, _ in VERDICT_FUNCS])
@pytest.mark.parametrize("mode", ["adaptive", "full"])
def test_correct_float32_code_passes(F, shape, mode):
    x = np.random.default_rng(3).standard_normal(shape)
    rep = check_gradient(in_float32(F, shape), x, mode=mode)
    assert rep.thresholds.pass_tol == FLOAT32_PASS_TOL
    assert rep.status is Status.PASS, [(c.label, c.status, c.numeric, c.error) for c in rep.checks if c.status != "pass"]


@pytest.mark.parametrize("F,shape", VERDICT_FUNCS, ids=[F.__name__ for F, _ in VERDICT_FUNCS])
@pytest.mark.parametrize("factor", [1.001, 1.0015, 2.0])
def test_float32_bugs_never_pass(F, shape, factor):
    # a x1.001 bug (rel 1e-3, twice the float32 default) has no entry pass, in either mode
    x = np.random.default_rng(3).standard_normal(shape)
    for mode in ("adaptive", "full"):
        rep = check_gradient(in_float32(F, shape, factor), x, mode=mode)
        assert rep.status is not Status.PASS
        assert rep.counts["pass"] == 0, (mode, [(c.label, c.status) for c in rep.checks])
        if factor == 2.0:
            assert rep.status is Status.FAIL


def test_float32_unit_roundoff_forgives_only_claims_within_it():
    # an entry of 0.0204 off by 1e-3, its interval tight, next to a cost whose round-off per
    # unit x is 3e-5: not zero to round-off (the claim is not within it), so no zero rule
    from gradcheck_cli.finite_diff import evidence
    from gradcheck_cli.verdict import Thresholds, assess

    a, n, e, u = np.array([0.020435, 2e-5]), np.array([0.0204127, 1e-5]), np.array([6e-6, 6e-6]), 3e-5
    t = Thresholds().for_precision(EPS32)
    error, zs = evidence(a, n, e, EPS32, unit_roundoff=np.full(2, u))
    codes = assess(a, n, error, t, zero_scale=zs).code
    assert codes[0] != 0  # the 1e-3 bug on the small entry: not a pass
    assert codes[1] == 0  # a claim at round-off level, its truth too: zero to round-off


def test_fit_budget_is_a_count_that_shrinks_with_the_size_of_x():
    from gradcheck_cli.blackbox.lowprec import FIT_CALLS_MAX, FIT_CALLS_MIN, FIT_POINTS, fit_budget

    assert fit_budget(24) == FIT_CALLS_MAX
    assert fit_budget(79510) == FIT_CALLS_MIN >= 2 * FIT_POINTS  # a 784-100-10 net: a few fits
    assert fit_budget(1000) >= fit_budget(10**4) >= fit_budget(10**6)


# ---------------------------------------------------------------- relu kinks inside the width
_RA = np.random.default_rng(21).standard_normal((30, 12))
_RC = np.random.default_rng(22).standard_normal(30)


def relu_layer(x, dt, b):
    """``c . relu(A x + b) + |x|^2 / 2``: kinks ``|z_i| / |A_ij|`` from x along x_j."""
    A, c = _RA.astype(dt), _RC.astype(dt)
    z = A @ x + b.astype(dt)
    return c @ np.maximum(z, 0) + dt(0.5) * (x @ x), A.T @ (c * (z > 0)) + x


def relu_case(seed: int):
    """``(x, truth, f)``: a point of ``relu_layer`` (bias scale 0.01, 0.1 or 1 by seed, so its
    kinks sit 0.01 .. 1 from x), the float64 truth of the float32 code's gradient there, and
    the float32 code's cost."""
    r = np.random.default_rng(seed)
    b = r.standard_normal(30) * (0.01, 0.1, 1.0)[seed % 3]
    x = r.standard_normal(12)
    truth = relu_layer(x.astype(np.float32).astype(float), np.float64, b)[1]
    return x, truth, lambda z: float(relu_layer(np.asarray(z, dtype=np.float32), np.float32, b)[0])


@pytest.mark.parametrize("seed", range(6))
def test_fit_never_claims_across_a_relu_kink(seed):
    # the fit's widths (up to max(|x_j|, 1)) cross kinks at 0.01 .. 1 from x: its interval
    # contains the float64 truth or proves nothing (before: 101 of 480 intervals missed it)
    x, truth, f = relu_case(seed)
    w = x.copy()
    f0 = f(w)
    for j in range(12):
        res = fit_derivative(f, w, j, f0=f0, eps=EPS32)
        assert not abs(res.value - truth[j]) > res.error, (j, truth[j], res.value, res.error)


def test_kink_distance_finds_a_change_of_slope_and_no_other():
    from gradcheck_cli.blackbox.lowprec import kink_distance

    u = np.sort(np.concatenate([-np.linspace(0.01, 1, 64), [0.0], np.linspace(0.013, 1, 64)]))
    f32 = lambda y: y.astype(np.float32).astype(float)  # noqa: E731  (values of float32 code)
    assert kink_distance(u, f32(1 + np.maximum(u - 0.3, 0) + np.sin(u)), EPS32) <= 0.3
    assert kink_distance(u, f32(1 + np.sin(3 * u) + u ** 4), EPS32) == np.inf


def _relu_f32(factor):
    b = np.random.default_rng(23).standard_normal(30) * 0.1

    def f(x):
        c, g = relu_layer(np.asarray(x, dtype=np.float32), np.float32, b)
        return np.float32(c), (g * np.float32(factor)).astype(np.float32)
    return f


def test_correct_float32_relu_code_never_fails():
    x = np.random.default_rng(24).standard_normal(12)
    rep = check_gradient(_relu_f32(1.0), x)
    assert rep.counts["fail"] == 0 and rep.status is not Status.FAIL, [
        (c.label, c.status, c.numeric, c.error) for c in rep.checks if c.status == "fail"]


def test_float32_relu_bug_fails():
    x = np.random.default_rng(24).standard_normal(12)
    rep = check_gradient(_relu_f32(2.0), x)
    assert rep.status is Status.FAIL and rep.counts["pass"] == 0


def test_float32_relu_net_never_fails():
    # a 10-5-10 relu net computing in float32 (its hand gradient right): fits across the
    # hidden units' kinks read 'fail' on it before their premise was checked
    from gradcheck_cli import check_network

    impl = _relu_net32()
    rep = check_network((10, 5, 10), impl=impl, activation="relu", cost_check=False)
    assert rep.counts["fail"] == 0, [(c.label, c.numeric, c.error) for c in rep.checks if c.status == "fail"]
    assert rep.counts["pass"] > 0


# ---------------------------------------------------------------- the kink-aware fit
def test_kink_free_sides_bound_the_kinks_on_each_side():
    from gradcheck_cli.blackbox.lowprec import kink_free_sides

    u = np.sort(np.concatenate([-np.linspace(0.01, 1, 64), [0.0], np.linspace(0.013, 1, 64)]))
    y = (1 + np.sin(u) + 3 * np.maximum(u - 0.4, 0) + 2 * np.maximum(-0.6 - u, 0)).astype(np.float32).astype(float)
    a, b = kink_free_sides(u, y, EPS32)
    assert 0.3 < a <= 0.6 and 0.2 < b <= 0.4  # each side ends before its own kink, not the other's
    assert kink_free_sides(u, (1 + np.sin(u)).astype(np.float32).astype(float), EPS32) == (u[-1] * 0 - u[0], u[-1])


def test_kink_aware_fit_contains_the_truth_and_settles():
    # where a kink near x leaves the symmetric fit without evidence, the fit on the side
    # without it: its interval contains the float64 truth, and it is evidence float32 can
    # verify with (a sweep of 60 points of this layer: 0 of 699 intervals missed the truth)
    from gradcheck_cli.blackbox.lowprec import kink_aware_fit

    tried = tight = 0
    for seed in range(6):
        x, truth, f = relu_case(seed)
        w = x.copy()
        f0 = f(w)
        for j, ab in _kink_free_sides(f, w, f0):
            res = kink_aware_fit(f, w, j, f0=f0, eps=EPS32, **ab)
            assert res.calls <= 256
            assert not abs(res.value - truth[j]) > res.error, (seed, j, truth[j], res.value, res.error)
            tried += 1
            tight += res.error <= FLOAT32_PASS_TOL * abs(truth[j]) / 2
        np.testing.assert_array_equal(w, x)  # restored
    assert tried >= 40 and tight >= tried / 2, (tried, tight)


def _kink_free_sides(f, w, f0, entries=12):
    """``(j, {"a": .., "b": ..})`` for the first ``entries`` entries whose first fit found a
    kink-free span: the kink-aware fit's sides, ``KINK_MARGIN`` inside it."""
    from gradcheck_cli.blackbox.lowprec import KINK_MARGIN

    for j in range(entries):
        first = fit_derivative(f, w, j, f0=f0, eps=EPS32)
        if first.free is not None:
            yield j, {"a": KINK_MARGIN * first.free[0], "b": KINK_MARGIN * first.free[1]}


def test_kink_aware_fit_in_two_stages():
    # staged: every other point first; where that half's fit is accepted the other half is
    # never evaluated (half the calls, its interval still contains the truth), and where it
    # is not the result is the whole fit's, value, bound and calls alike
    from gradcheck_cli.blackbox.lowprec import kink_aware_fit

    halves = 0
    for seed in range(3):
        x, truth, layer = relu_case(seed)
        calls = [0]

        def f(z, layer=layer):
            calls[0] += 1
            return layer(z)

        w = x.copy()
        f0 = f(w)
        for j, ab in _kink_free_sides(f, w, f0):
            whole = kink_aware_fit(f, w, j, f0=f0, eps=EPS32, **ab)
            seen = []
            calls[0] = 0
            again = kink_aware_fit(f, w, j, f0=f0, eps=EPS32, **ab, enough=lambda h: seen.append(h) or False)
            assert len(seen) == 1 and seen[0].calls == whole.calls // 2 and calls[0] == whole.calls
            assert (again.value, again.error, again.calls) == (whole.value, whole.error, whole.calls) or (
                np.isnan(again.value) and np.isnan(whole.value) and again.calls == whole.calls)
            calls[0] = 0
            half = kink_aware_fit(f, w, j, f0=f0, eps=EPS32, **ab, enough=lambda h: True)
            assert half.calls == calls[0] == whole.calls // 2
            assert not abs(half.value - truth[j]) > half.error, (seed, j, truth[j], half.value, half.error)
            halves += np.isfinite(half.error)
        np.testing.assert_array_equal(w, x)  # restored
    assert halves >= 10, halves


def test_staged_symmetric_fit_locates_near_kinks_for_fewer_calls():
    # staged: where every other pair shows a kink too near x for any width, the fit stops
    # after them and the inner pairs (fewer calls), its kink-free sides lead to a kink-aware
    # fit whose interval contains the truth; elsewhere (smooth code) it is the whole fit
    from gradcheck_cli.blackbox.lowprec import KINK_MARGIN, kink_aware_fit

    stopped = 0
    for seed in range(3):
        x, truth, f = relu_case(seed)
        w = x.copy()
        f0 = f(w)
        for j in range(12):
            res = fit_derivative(f, w, j, f0=f0, eps=EPS32, staged=True)
            if res.calls == 2 * 64:
                whole = fit_derivative(f, w, j, f0=f0, eps=EPS32)
                assert (res.value, res.error) == (whole.value, whole.error) or (
                    np.isnan(res.value) and np.isnan(whole.value))
                continue
            assert res.calls < 2 * 64 and not np.isfinite(res.error) and res.free is not None
            stopped += 1
            if min(res.free) > 0:
                fit = kink_aware_fit(f, w, j, f0=f0, eps=EPS32, a=KINK_MARGIN * res.free[0],
                                     b=KINK_MARGIN * res.free[1])
                assert not abs(fit.value - truth[j]) > fit.error, (seed, j, truth[j], fit.value, fit.error)
        np.testing.assert_array_equal(w, x)  # restored
    assert stopped >= 5, stopped
    g = lambda z: float(np.float32(np.sum(np.sin(np.asarray(z, dtype=np.float32)))))  # noqa: E731
    z = np.linspace(0.1, 1.2, 6)
    for j in range(6):
        one = fit_derivative(g, z, j, f0=g(z), eps=EPS32, staged=True)
        two = fit_derivative(g, z, j, f0=g(z), eps=EPS32)
        assert (one.value, one.error, one.calls) == (two.value, two.error, two.calls)


def _relu_net32(factor=1.0, entry=None):
    """A 10-5-10 relu net computing in float32; ``factor`` times its gradient at ``entry``."""
    def impl(X, Y, p, dims):
        f = np.float32
        X, Y, p = X.astype(f), Y.astype(f), np.asarray(p).astype(f)
        W1, b1 = p[:50].reshape(10, 5), p[50:55]
        W2, b2 = p[55:105].reshape(5, 10), p[105:115]
        z = X @ W1 + b1
        h = np.maximum(z, 0)
        s = h @ W2 + b2
        s = s - s.max(1, keepdims=True)
        e = np.exp(s)
        P = e / e.sum(1, keepdims=True)
        cost = -np.sum(Y * np.log(P))
        ds = P * Y.sum(1, keepdims=True) - Y
        dh = ds @ W2.T * (z > 0)
        g = np.concatenate([(X.T @ dh).ravel(), dh.sum(0), (h.T @ ds).ravel(), ds.sum(0)]).astype(np.float64)
        if entry is not None:
            g[entry] *= factor
        return float(cost), g
    return impl


def test_float32_relu_net_w1_entries_near_kinks_pass():
    # seed 0's W1 entries whose lines cross relu kinks within 0.01 .. 0.05 of x: before the
    # kink-aware fit 22 of the 55 W1 and b1 entries read unresolved, now 8 do
    from gradcheck_cli import check_network

    rep = check_network((10, 5, 10), impl=_relu_net32(), activation="relu", cost_check=False, top=200)
    assert rep.counts["fail"] == 0 and rep.counts["warn"] == 0
    first_layer = [c for c in rep.checks if c.name in ("W1", "b1")]
    assert len(first_layer) == 55
    assert sum(c.status != Status.PASS for c in first_layer) <= 8


@pytest.mark.parametrize("entry", [12, 19, 22, 29])  # W1 entries the kink-aware fit settles
@pytest.mark.parametrize("factor", [1.001, 2.0, -1.0])
def test_float32_relu_net_bug_near_a_kink_never_passes(entry, factor):
    from gradcheck_cli import check_network

    rep = check_network((10, 5, 10), impl=_relu_net32(factor, entry), activation="relu", cost_check=False, top=200)
    row = next(c for c in rep.checks if c.name == "W1" and np.ravel_multi_index(c.index, (10, 5)) == entry)
    assert row.status != Status.PASS
    if factor != 1.001:
        assert row.status == Status.FAIL


def test_a_warn_across_relu_kinks_gets_the_fits_second_opinion():
    # float32 relu code, correct: x[9]'s line crosses kinks 0.011, 0.024 and 0.04 from x with
    # jumps of slope ~1.1, inside the ladder's stencil, which read -0.30751 +- 2.8e-4 against
    # the true -0.30698: a warn on correct code.  The fits cannot verify it there, so its
    # evidence is no proof: unresolved, never warn
    from gradcheck_cli.inputs import func_x

    r = np.random.default_rng(0)
    A, b, c = r.standard_normal((40, 12)), r.standard_normal(40), r.standard_normal(40)

    def layer(x):
        A32, b32, c32, x = (v.astype(np.float32) for v in (A, b, c, x))
        z = A32 @ x + b32
        return c32 @ np.maximum(z, 0) + np.float32(0.5) * (x @ x), A32.T @ (c32 * (z > 0)) + x

    x0, _ = func_x("12", None, 4, None)
    rep = check_gradient(layer, x0, top=12)
    assert rep.counts["warn"] == 0 and rep.counts["fail"] == 0, [(c.label, c.status) for c in rep.checks]
    row = next(c for c in rep.checks if c.index == (9,))
    assert row.status == Status.UNRESOLVED
    # ... and bugs there never pass: a x1.001 one whose evidence crossed the same kinks reads
    # unresolved (warn before: the ladder happened to be right there), a factor 2 fails
    for j, factor, worst in ((3, 1.001, Status.UNRESOLVED), (9, 2.0, Status.FAIL)):
        def bug(x, j=j, factor=factor):
            cost, g = layer(x)
            g = g.copy()
            g[j] *= np.float32(factor)
            return cost, g
        rep = check_gradient(bug, x0, top=12)
        row = next(c for c in rep.checks if c.index == (j,))
        assert row.status in (worst, Status.WARN, Status.FAIL) and row.status != Status.PASS, (j, row.status)
