"""``blackbox.confirm``: no fail or warn rests on long steps that a shorter step
contradicts; a real bug's fail is confirmed in two calls; wrong claims still fail.
Truth from mpmath."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest

from gradcheck_cli import check_gradient
from gradcheck_cli.blackbox.confirm import SAMPLE, confirm_block, confirm_entry
from gradcheck_cli.blocks import BlockData
from gradcheck_cli.verdict import Thresholds, assess

mp.mp.dps = 40


def _sin_point(scale: float) -> np.ndarray:
    return scale * (1 + np.random.default_rng(0).random(6))


def _cos_truth(x: np.ndarray) -> np.ndarray:
    return np.array([float(mp.cos(mp.mpf(float(v)))) for v in x])


@pytest.mark.parametrize("scale", [1e6, 1e8])
@pytest.mark.parametrize("mode", ["adaptive", "full"])
def test_sin_at_large_x_with_the_exact_cosine_neither_fails_nor_warns(scale, mode):
    # steps of 0.1 |x| span thousands of periods: their rungs agree on ~0 with a tiny bound
    x = _sin_point(scale)
    res = check_gradient(lambda z: (np.sum(np.sin(z)), np.cos(z)), x, mode=mode)
    assert res.counts["fail"] == 0 and res.counts["warn"] == 0, res.counts
    assert res.status.value in ("pass", "unresolved")
    # the entries whose long-step evidence the short steps contradicted are verified
    assert res.counts["pass"] >= 2
    truth = _cos_truth(x)
    for c in res.checks:  # every bound shown contains the truth
        assert abs(c.numeric - truth[c.index[0]]) <= c.error, c


@pytest.mark.parametrize("scale", [1e6, 1e8])
@pytest.mark.parametrize("wrong", [lambda z: np.zeros_like(z), lambda z: 0.5 * np.cos(z),
                                   lambda z: -np.cos(z), lambda z: np.cos(z) * (1 + 1e-3)],
                         ids=["zero", "half", "sign", "1e-3"])
def test_sin_at_large_x_with_a_wrong_claim_does_not_pass(scale, wrong):
    x = _sin_point(scale)
    res = check_gradient(lambda z: (np.sum(np.sin(z)), wrong(z)), x)
    assert res.status.value in ("fail", "warn"), res.counts
    assert res.counts["pass"] == 0, res.counts


def test_a_real_bug_is_confirmed_with_two_calls():
    calls = []

    def f(z):
        calls.append(1)
        return float(np.sum(z**3))

    x = np.array([0.3, 1.7, -2.0])
    out = confirm_entry(f, x.copy(), x.shape, 1, f0=f(x), analytic=2 * 1.7**2, numeric=3 * 1.7**2, error=1e-9)
    assert not out.contradicted and out.calls == 2


def test_a_block_wide_bug_costs_a_sample_of_confirmations():
    calls = []

    def f(z):
        calls.append(1)
        return float(np.sum(z * z))

    x = np.linspace(0.5, 2.0, 3000)
    truth, claim = 2 * x, 3 * x  # every entry wrong
    d = BlockData("x", x.shape, claim, truth, np.full(x.size, 1e-10))
    calls.clear()
    out, changed = confirm_block(d, 0, f, x, Thresholds())
    assert len(changed) == 0 and len(calls) <= 2 * SAMPLE + 1
    assert np.array_equal(out.numeric, truth)


def test_contradicted_evidence_past_the_budget_is_unresolved_not_fail(monkeypatch):
    import gradcheck_cli.blackbox.confirm as confirm

    monkeypatch.setattr(confirm, "CONFIRM_MAX", 20)
    x = _sin_point(1e6)
    x = np.concatenate([x] * 10)  # 60 entries, all with the aliased evidence (about 0)
    d = BlockData("x", x.shape, np.cos(x), np.zeros(x.size), np.full(x.size, 1e-12))
    out, changed = confirm_block(d, 0, lambda z: float(np.sum(np.sin(z))), x, Thresholds())
    codes = assess(out.analytic, out.numeric, out.noise, Thresholds()).code
    assert len(changed) == x.size
    assert not np.any((codes == 1) | (codes == 2)), codes  # no warn, no fail
    assert np.sum(codes == 0) >= 20 - 2  # those confirmed pass (cos is exact)


def _two_layer(std=1e-4, seed=0):
    """CS231n's TwoLayerNet (12-10-4, relu, b1 = 0) at assignment 1's init: W1's loss and
    gradient, and an mpmath loss of W1."""
    r = np.random.RandomState(seed)
    W1, W2 = std * r.randn(12, 10), std * r.randn(10, 4)
    g = np.random.default_rng(500)
    X, y = g.standard_normal((8, 12)), g.integers(0, 4, 8)

    def loss(w1):
        h = np.maximum(0, X @ w1.reshape(12, 10))
        s = h @ W2
        s = s - s.max(axis=1, keepdims=True)
        p = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
        return float(-np.mean(np.log(p[np.arange(8), y])))

    def grad(w1):
        h = np.maximum(0, X @ w1.reshape(12, 10))
        s = h @ W2
        p = np.exp(s - s.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        p[np.arange(8), y] -= 1
        return (X.T @ ((p / 8) @ W2.T * (h > 0))).ravel()

    def mp_loss(j, t):
        w = [mp.mpf(float(v)) for v in W1.ravel()]
        w[j] += t
        total = mp.mpf(0)
        for n in range(8):
            h = [max(mp.mpf(0), mp.fsum(mp.mpf(float(X[n, i])) * w[i * 10 + k] for i in range(12))) for k in range(10)]
            s = [mp.fsum(h[k] * mp.mpf(float(W2[k, c])) for k in range(10)) for c in range(4)]
            total -= s[y[n]] - mp.log(mp.fsum(mp.exp(v) for v in s))
        return total / 8

    return W1.ravel().copy(), loss, grad, mp_loss


def test_relu_kinks_near_the_point_do_not_make_a_correct_entry_fail():
    # the audit's W1[2, 0] (flat 20): ladder evidence 1.12388e-05 +- 1.2e-05 grown past a
    # relu kink 2.3e-5 away; the claim -3.57478e-06 is exact
    w, loss, grad, mp_loss = _two_layer()
    j = 20
    a = grad(w)[j]
    truth = float(mp.diff(lambda t: mp_loss(j, t), 0))
    assert abs(a - truth) <= 1e-12 * abs(truth)
    out = confirm_entry(loss, w.copy(), w.shape, j, f0=loss(w), analytic=a, numeric=1.12388e-05, error=1.2e-05)
    assert out.contradicted
    assert abs(out.value - truth) <= out.error
    assert abs(out.value - a) <= out.error + 1e-7 * abs(a)  # no longer evidence of a fail


@pytest.mark.parametrize("scale", [1e3, 1e6, 1e8])
def test_sin_at_large_x_with_a_soft_bug_is_never_settled_into_a_pass(scale):
    # the settling ladder takes only evidence that verifies the claim: 1e-6 off never does
    x = _sin_point(scale)
    res = check_gradient(lambda z: (np.sum(np.sin(z)), np.cos(z) * (1 + 1e-6)), x)
    assert res.counts["pass"] == 0 and res.status.value == "warn", res.counts


def _relu_near_kinks():
    """sum relu(A w) + 1e-4 |w|^2 with ten pre-activations 1e-7..1e-5 from their kink."""
    rng = np.random.default_rng(3)
    A, w = rng.standard_normal((20, 6)), rng.standard_normal(6)
    z = A @ w
    A[:10, 0] -= (z[:10] - rng.choice([-1, 1], 10) * 10 ** rng.uniform(-7, -5, 10)) / w[0]
    return A, w


@pytest.mark.parametrize("mode", ["adaptive", "full"])
def test_a_tiny_term_missing_next_to_relu_kinks_still_warns(mode):
    A, w = _relu_near_kinks()
    assert np.min(np.abs(A @ w)) < 1e-6
    f = lambda v: float(np.sum(np.maximum(A @ v, 0)) + 1e-4 * np.sum(v * v))  # noqa: E731
    right = lambda v: A.T @ (A @ v > 0) + 2e-4 * v  # noqa: E731
    wrong = lambda v: A.T @ (A @ v > 0)  # noqa: E731  (the L2 term left out: ~1e-4 relative)
    ok = check_gradient(lambda v: (f(v), right(v)), w, mode=mode)
    assert ok.counts["fail"] == 0 and ok.counts["warn"] == 0, ok.counts
    bad = check_gradient(lambda v: (f(v), wrong(v)), w, mode=mode)
    assert bad.status.value in ("warn", "fail") and bad.counts["pass"] == 0, bad.counts


@pytest.mark.parametrize("f, g, scale", [(np.sin, np.cos, 1e3),
                                         (lambda z: np.sin(z / 1000), lambda z: np.cos(z / 1000) / 1000, 1e6)],
                         ids=["sin at 1e3", "sin(x/1000) at 1e6"])
@pytest.mark.parametrize("mode", ["adaptive", "full"])
def test_a_function_varying_on_a_finer_scale_than_x_reads_pass(f, g, scale, mode):
    # steps relative to |x| leave bounds of ~1e-7: the ladder from short steps verifies
    x = _sin_point(scale)
    res = check_gradient(lambda z: (float(np.sum(f(z))), g(z)), x, mode=mode)
    assert res.status.value == "pass" and res.counts["pass"] == x.size, res.counts
    inner = 1 if scale == 1e3 else mp.mpf(1) / 1000
    truth = [float(inner * mp.cos(inner * mp.mpf(float(v)))) for v in x]
    for c in res.checks:
        t = truth[c.index[0]]
        if scale == 1e3:  # every bound shown contains the truth
            assert abs(c.numeric - t) <= c.error, c
        else:  # the rounding of z / 1000 is a sawtooth that no noise table of a few ulps sees
            assert abs(c.numeric - t) <= 1e-7 * abs(t), c


@pytest.mark.parametrize("off", [1e-6, 1e-5])
def test_a_soft_bug_on_a_slowly_varying_sin_is_never_settled_into_a_pass(off):
    x = _sin_point(1e6)
    res = check_gradient(lambda z: (float(np.sum(np.sin(z / 1000))), np.cos(z / 1000) / 1000 * (1 + off)), x)
    assert res.counts["pass"] == 0 and res.status.value in ("warn", "fail"), res.counts


@pytest.mark.parametrize("pays", [False, True])
def test_settling_goes_on_while_it_pays_and_stops_after_a_round_that_does_not(monkeypatch, pays):
    import gradcheck_cli.blackbox.confirm as confirm

    tried = []

    def fake(cost, work, shape, j, *, analytic, settle=False, **kw):
        tried.append(j)
        return confirm.Outcome(True, analytic, 1e-20) if settle and pays else confirm.Outcome(False)

    monkeypatch.setattr(confirm, "confirm_entry", fake)
    x = np.linspace(1.0, 2.0, 40)
    # unresolved: the estimate near the claim, its bound too wide to verify it
    d = BlockData("x", x.shape, 2 * x, 2 * x * (1 + 1e-8), np.full(x.size, 1e-6))
    out, changed = confirm_block(d, 0, lambda z: float(np.sum(z * z)), x, Thresholds())
    if pays:
        assert len(tried) == x.size and len(changed) == x.size
        assert np.all(assess(out.analytic, out.numeric, out.noise, Thresholds()).code == 0)
    else:
        assert len(tried) == confirm.SETTLE_MAX and len(changed) == 0


@pytest.mark.parametrize("dtype", [np.float64, np.longdouble])
def test_the_one_sided_ladder_is_sound_with_a_kink_on_one_side(dtype):
    from gradcheck_cli.blackbox.ladder import one_sided

    x0 = 0.3
    f = lambda w: np.sin(w[0]) + 5 * np.maximum(0, (x0 - 1e-4) - w[0])  # noqa: E731  (a kink 1e-4 below x0)
    truth = float(mp.cos(mp.mpf(x0)))
    w = np.array([x0], dtype=dtype)
    eps = float(np.finfo(dtype).eps)
    free = one_sided(f, w, 0, f(w), 1.0, 1e-2, noise=eps, eps=eps, claimed=truth)
    assert abs(free.value - truth) <= free.error < 1e-9  # the kink-free side: long steps
    across = one_sided(f, w, 0, f(w), -1.0, 1e-2, noise=eps, eps=eps, claimed=truth)
    assert not np.isfinite(across.error) or abs(across.value - truth) <= across.error
    assert w[0] == dtype(x0)


def _softplus_tail(z):
    # numpy code as written: 1 + exp(-35) is 1 + 3 ulps, so f is a staircase of 2e-16 steps
    # (f's own ulp is 1e-31); float64 only (the cost is converted), so nothing is lifted
    return float(np.log(1 + np.exp(-z[0]))), None


@pytest.mark.parametrize("x0", [35.0, 36.5])
@pytest.mark.parametrize("mode", ["adaptive", "full"])
def test_a_staircase_flat_at_every_step_is_not_a_fail_of_the_exact_derivative(x0, mode):
    x = np.array([x0])
    truth = -float(mp.exp(-mp.mpf(x0)) / (1 + mp.exp(-mp.mpf(x0))))
    res = check_gradient(lambda z: (_softplus_tail(z)[0], np.array([truth])), x, mode=mode)
    assert res.status.value == "unresolved", res.checks
    (c,) = res.checks
    assert abs(c.numeric - truth) <= c.error  # the quantum's bound contains the truth
    # a wrong claim of that size is not resolvable either, and never passes
    wrong = check_gradient(lambda z: (_softplus_tail(z)[0], np.array([-truth])), x, mode=mode)
    assert wrong.status.value == "unresolved"
    # a claim the steps can resolve still fails
    bug = check_gradient(lambda z: (_softplus_tail(z)[0], np.array([1e-6])), x, mode=mode)
    assert bug.status.value == "fail"


@pytest.mark.parametrize("mode", ["adaptive", "full"])
def test_code_flat_on_one_side_or_constant_still_fails_a_nonzero_claim(mode):
    # relu below 0 (flat at every step on the left, moving only beyond 1 on the right) and a
    # constant: the flatness is f's own, the claim of 1e-9 is wrong
    for f in (lambda z: float(max(z[0], 0.0)), lambda z: 1.0 + 0.0 * float(z[0])):
        res = check_gradient(lambda z, f=f: (f(z), np.array([1e-9])), np.array([-1.0]), mode=mode)
        assert res.status.value == "fail", res.checks


def test_a_blind_short_step_never_replaces_the_evidence_with_a_bound_below_the_quantum():
    # float32 x - sin(x) at 1e-4: sin(x) rounds to x, f is 0 for |x| < 6e-4, so the short
    # step sees nothing; the ladder from there read 0 +- 5e-304 (f's ulp at 0), which
    # excluded the truth 5e-9: a blind step now contradicts only by its quantum's bound
    f = lambda z: float(np.float32(z[0]) - np.sin(np.float32(z[0])))  # noqa: E731
    truth = float(mp.mpf("1e-4") ** 2 / 2)
    out = confirm_entry(f, np.array([1e-4]), (1,), 0, f0=0.0, analytic=5e-9, numeric=1.24e-8, error=6.9e-9,
                        eps=float(np.finfo(np.float32).eps), pass_tol=5e-4)
    assert not out.contradicted or abs(out.value - truth) <= out.error, out
    # where the quantum's bound excludes the evidence, it replaces it (and contains the truth)
    out = confirm_entry(f, np.array([1e-4]), (1,), 0, f0=0.0, analytic=5e-9, numeric=1.0, error=1e-3,
                        eps=float(np.finfo(np.float32).eps), pass_tol=5e-4)
    assert out.contradicted and out.value == 0.0 and truth <= out.error < 1e-3, out


@pytest.mark.parametrize("x0", [1e6, 1.5e6, -1.2e6])
def test_float32_sin_at_1e6_is_settled_on_its_grid_and_a_soft_bug_is_not(x0):
    # float32's grid at 1e6 is 1/16: MIN_ULPS ulps (1.0) span a sixth of a period, so the
    # noise table one grid step apart (it read sin's own variation at 1.0: sigma 0.07, and
    # the ladder started at 4e4, unresolved)
    f = lambda z: np.sin(np.float32(z[0]))  # noqa: E731
    claim = np.cos(np.array([x0], dtype=np.float32))
    ok = check_gradient(lambda z: (f(z), claim), np.array([x0]))
    assert ok.status.value == "pass", ok.checks
    truth = float(mp.cos(mp.mpf(float(np.float32(x0)))))
    (c,) = ok.checks
    assert abs(c.numeric - truth) <= c.error
    for k in (-1.0, 1.002):
        bad = check_gradient(lambda z, k=k: (f(z), (k * claim).astype(np.float32)), np.array([x0]))
        assert bad.status.value != "pass", (k, bad.checks)


@pytest.mark.parametrize("x0", [3195454.5454545454, 4e6])
def test_float32_sin_where_its_grid_is_as_coarse_as_a_period_never_fails_the_exact_cosine(x0):
    # a grid of 1/4: the steps that followed the noise table ran to 2048 and their ladder
    # agreed on ~0 +- 2e-7, which failed the exact cosine; the ladder from MIN_ULPS grid
    # steps (it resolves cos to 7e-6) now stands against it
    f = lambda z: np.sin(np.float32(z[0]))  # noqa: E731
    claim = np.cos(np.array([x0], dtype=np.float32))
    ok = check_gradient(lambda z: (f(z), claim), np.array([x0]))
    assert ok.status.value in ("pass", "unresolved"), ok.checks
    for k in (-1.0, 1.002):
        bad = check_gradient(lambda z, k=k: (f(z), (k * claim).astype(np.float32)), np.array([x0]))
        assert bad.status.value != "pass", (k, bad.checks)


def _softplus_tail32(z):
    # float32 code: 1 + exp(-x) is 1 from x = 16.6 on, so f is exactly 0 there and moves only
    # below (one side), by at least one quantum (log(1 + 2**-24) = 6e-8): a staircase, not a relu
    z = np.asarray(z, dtype=np.float32)
    return np.sum(np.log(np.float32(1) + np.exp(-z)))


@pytest.mark.parametrize("mode", ["adaptive", "full"])
def test_a_float32_staircase_flat_for_good_on_one_side_is_not_a_fail_of_a_claim_below_its_quantum(mode):
    x = np.array([35.0])
    truth = -float(mp.exp(-mp.mpf(35)) / (1 + mp.exp(-mp.mpf(35))))
    for claim in (truth, -truth):  # the code cannot tell either: unresolved, never pass nor fail
        res = check_gradient(lambda z, c=claim: (_softplus_tail32(z), np.array([c], np.float32)), x, mode=mode)
        assert res.status.value == "unresolved", res.checks
    (c,) = check_gradient(lambda z: (_softplus_tail32(z), np.array([truth], np.float32)), x, mode=mode).checks
    assert abs(c.numeric - truth) <= c.error  # the quantum's bound contains the truth
    # a claim the quantum over the flat width resolves still fails
    bug = check_gradient(lambda z: (_softplus_tail32(z), np.array([1e-6], np.float32)), x, mode=mode)
    assert bug.status.value == "fail", bug.checks


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("x0, claim", [(-1.0, 0.5), (-1.0, 1e-3), (-20.0, 0.5)])
def test_a_relus_flat_side_moving_on_one_side_only_still_fails(dtype, x0, claim):
    # f moves beyond the kink by ever less as the step nears it (continuous): no quantum, the
    # flatness is f's own and the fail stands
    def f(z):
        z = np.asarray(z).astype(dtype)
        return np.sum(np.maximum(z, dtype(0))), np.full(z.shape, claim, dtype)

    res = check_gradient(f, np.array([x0]))
    assert res.status.value == "fail", res.checks


def test_the_settling_noise_table_sees_an_intermediate_rounded_on_its_own_lattice():
    # sin(x / 1000) at x = 1.35e6: x / 1000 holds 1.024 of its ulps per ulp of x, so a noise
    # table spaced by a near multiple of that period sees the same rounding at every point
    # (fourth differences 2e-17 where the rounding is 3e-14); the ladder settling x[0] then
    # gave a bound of 1.6e-12 on an estimate 1.3e-11 from the truth.  The bound must hold
    x = np.array([1345584.192, 1821618.144, 1330437.076, -303157.232])
    rep = check_gradient(lambda z: (np.sum(np.sin(z / 1000)), np.cos(z / 1000) / 1000), x, mode="full")
    (c,) = [c for c in rep.checks if c.index == (0,)]
    truth = mp.cos(mp.mpf(x[0]) / 1000) / 1000
    assert abs(float(truth - mp.mpf(c.numeric))) <= c.error
    assert rep.counts["fail"] == rep.counts["warn"] == 0
