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


# --------------------------------------------------------------------- the price on smooth code


def _counted(f):
    calls = [0]

    def g(z):
        calls[0] += 1
        return f(z)

    return g, calls


def test_a_smooth_suspect_costs_two_calls_and_reads_no_kink():
    from gradcheck_cli.blackbox.ladder import shrinking_kink

    # f = 1000 x^2 / 2 + 0.003 x at x = 0: slopes 0.003 +- 1000 h, a gap far above 1e-3 of them
    f = lambda z: float(500 * z[0] ** 2 + 0.003 * z[0])  # noqa: E731
    cost, calls = _counted(f)
    x, h = np.array([0.0]), 6e-6
    f0, fp, fm = f(x), f(x + h), f(x - h)
    assert bool(jump_suspects(f0, fp, fm, h, 1e-30))
    first = ((fp - f0) / h, (f0 - fm) / h, h)
    assert shrinking_kink(cost, x, 0, f0, first=first) is None
    assert calls[0] == 2  # one rung at h / 16; curvature explains the gap


def test_the_first_look_is_the_first_rung_and_a_kink_still_takes_the_whole_ladder():
    from gradcheck_cli.blackbox.ladder import SUSPECT_RUNGS, shrinking_kink

    f = lambda z: float(np.abs(z[0]))  # noqa: E731
    cost, calls = _counted(f)
    x, h = np.array([0.0]), 6e-6
    gap = shrinking_kink(cost, x, 0, 0.0, first=(1.0, -1.0, h))
    assert gap == pytest.approx(2.0)
    assert calls[0] == 2 * (SUSPECT_RUNGS - 1)  # rung 0 came free


def test_curvature_explains_a_shrinking_gap_not_a_steady_one():
    from gradcheck_cli.blackbox.ladder import curvature_explains

    h = np.array([6e-6, 6e-6 / 16])
    c = 2e4  # f'' : gap c h
    smooth = curvature_explains(0.0, c * h**2 / 2, c * h**2 / 2, h, 1e-30)
    kinked = curvature_explains(0.0, h + c * h**2 / 2, h + c * h**2 / 2, h, 1e-30)  # |x| + c x^2 / 2
    assert smooth and not kinked


@pytest.mark.parametrize("mode", MODES)
def test_a_kink_under_a_large_curvature_still_reads_kink(mode):
    # 1e4 x^2 + 1e-3 |x| at 0: the first look's gap is mostly curvature (0.12 of it), the
    # jump 2e-3 stays as the steps shrink; the claim 0 is the midpoint
    def f(x):
        return float(np.sum(1e4 * x**2 + 1e-3 * np.abs(x))), 2e4 * x + 1e-3 * np.sign(x)

    rep = check_gradient(f, X * 1e-3, mode=mode)
    assert rep.status is Status.PASS and statuses(rep)[2] is Status.KINK and kinks(rep) == 1


@pytest.mark.parametrize("mode", MODES)
def test_near_stationary_smooth_entries_cost_two_calls_each_in_the_kink_test(mode, monkeypatch):
    # a smooth sum whose entries sit near their minima: small slopes, large curvature, so
    # the first look's one-sided slopes differ by far more than 1e-3 of them (suspects)
    from gradcheck_cli.blackbox import pipeline

    made = {"suspects": 0, "calls": 0}
    real = pipeline.shrinking_kink

    def counting(cost, *args, **kw):
        cost2, calls = _counted(cost)
        out = real(cost2, *args, **kw)
        made["suspects"] += 1
        made["calls"] += calls[0]
        return out

    monkeypatch.setattr(pipeline, "shrinking_kink", counting)
    rng = np.random.default_rng(3)
    m = rng.standard_normal(40)
    x = m + 1e-7 * rng.standard_normal(40)

    def f(z):
        return float(np.sum(50 * (z - m) ** 2)), 100 * (z - m)

    rep = check_gradient(f, x, mode=mode)
    assert rep.status is Status.PASS and kinks(rep) == 0
    if mode == "full":
        assert made["suspects"] > 10
    assert made["calls"] == 2 * made["suspects"]


def test_a_layers_smooth_suspects_are_completed_by_their_4h_pair_and_pass():
    # an elementwise layer near its minima: every entry's one-sided slopes differ by far more
    # than 1e-3 of them; the 4h pair (2 calls) shows curvature and the first look's pass stands
    from gradcheck_cli.checks.layer import check_layer
    from gradcheck_cli.inputs import make_inputs

    rng = np.random.default_rng(3)
    m = rng.standard_normal((4, 10))
    inputs = make_inputs(["x=4,10"])
    inputs[0].value[...] = m + 1e-7 * rng.standard_normal(m.shape)

    def forward(x):
        return 50 * (x - m) ** 2, x

    def backward(dout, cache):
        return dout * 100 * (cache - m)

    for max_seconds in (None, 600):  # a deadline runs the looks in chunks: the same calls
        rep = check_layer(forward, backward, inputs, {}, mode="full", max_seconds=max_seconds)
        assert rep.status is Status.PASS and rep.counts["pass"] == 40 and kinks(rep) == 0
        # 2 calls of the look and 2 of the 4h pair per entry, plus the setup (a few calls,
        # the noise probe): not the 4-call estimate again, nor a ladder
        assert rep.effort.calls <= 4 * 40 + 20

    def wrong_backward(dout, cache):
        g = dout * 100 * (cache - m)
        g[1, 3] *= 1.5
        return g

    bad = check_layer(forward, wrong_backward, inputs, {}, mode="full")
    assert bad.status is Status.FAIL and [c.index for c in bad.checks if c.status is Status.FAIL] == [(1, 3)]


def _full_ladder_says_kink(cost, x, j, f0):
    """The shrinking test without its early stop: every rung, then ``ladder_kink``."""
    from gradcheck_cli.blackbox.ladder import EPS, ROUNDOFF_ULPS, SUSPECT_RATIO, SUSPECT_RUNGS, ladder_kink

    w = x.copy()
    h0 = EPS ** (1 / 3) * max(abs(x[j]), 1.0)
    fps, fms, hs = [], [], []
    for k in range(SUSPECT_RUNGS):
        w[j] = x[j] + h0 / SUSPECT_RATIO**k
        h = float(w[j] - x[j])
        fps.append(cost(w))
        w[j] = x[j] - h
        fms.append(cost(w))
        hs.append(h)
        w[j] = x[j]
    fp, fm = np.array(fps), np.array(fms)
    scale = max(abs(f0), np.max(np.abs(fp)), np.max(np.abs(fm)))
    return ladder_kink(f0, fp, fm, np.array(hs), ROUNDOFF_ULPS * EPS * scale)


@settings(max_examples=150, deadline=None)
@given(s=st.sampled_from([1e-8, 1.0, 1e8]), a=st.floats(-10, 10), logc=st.floats(-3, 8), sc=st.sampled_from([-1, 1]),
       jump=st.one_of(st.just(0.0), st.floats(-12, 2).map(lambda e: 10**e)), d=st.floats(-1e3, 1e3),
       x0=st.sampled_from([0.0, 1.5, -3.0, 1e3]), offset=st.sampled_from([0.0, 1.0, 1e6]))
def test_the_early_stop_and_the_free_first_rung_decide_as_the_whole_ladder(s, a, logc, sc, jump, d, x0, offset):
    # slope a, curvature c, a cubic term, maybe a jump of the slope at x0, on a cost offset
    # far above its changes: the test stopped where curvature explains two rungs, its first
    # rung the first look's, calls a kink exactly where all its rungs would
    from gradcheck_cli.blackbox.ladder import shrinking_kink

    c = sc * 10**logc

    def cost(w):
        t = float(w[0]) - x0
        return s * (offset + a * t + c * t * t / 2 + jump * max(t, 0.0) + d * t**3)

    x = np.array([x0])
    f0 = cost(x)
    h = np.finfo(float).eps ** (1 / 3) * max(abs(x0), 1.0)
    plus, minus = x0 + h, x0 - h
    first = ((cost([plus]) - f0) / (plus - x0), (f0 - cost([minus])) / (x0 - minus), (plus - minus) / 2)
    assert (shrinking_kink(cost, x, 0, f0, first=first) is not None) == _full_ladder_says_kink(cost, x, 0, f0)


def _abs_beside_a_fast_sine(claim_at=None, wrong=None):
    """|x| over block x (160 entries, three exact zeros claimed sign(0) = 0) beside sin(100 b)
    over block b (20 entries): the coarse directions through both blocks agree, and their
    error (sin's curvature) leaves the zeros' claims too small to clear, so the joint pool
    checks them directly, where they pass by symmetry."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal(180)
    x[[23, 107, 120]] = 0.0
    g = np.concatenate([np.sign(x[:160]), 100 * np.cos(100 * x[160:])])
    if wrong is not None:
        g[wrong] *= 3.0

    def cost(z):
        return float(np.sum(np.abs(z[:160])) + np.sum(np.sin(100 * z[160:])))

    return cost, x, g


@pytest.mark.parametrize("mode", ["adaptive", "full"])
@pytest.mark.parametrize("split", [True, False])
def test_kinks_checked_in_a_joint_pool_get_the_kink_test(mode, split):
    # the same kinks read kink whether their block was searched with its neighbour (one
    # set of directions through x and b), alone, or entry by entry
    from gradcheck_cli.blackbox.pipeline import check_blackbox
    from gradcheck_cli.choices import Mode

    cost, x, g = _abs_beside_a_fast_sine()
    blocks = [("x", (160,), 0), ("b", (20,), 160)] if split else None
    res = check_blackbox(cost, x, g, blocks, mode=Mode(mode))
    if split and mode == "adaptive":
        # one joint search (its calls counted in the first block), the zeros checked in it
        assert res.search.blocks[1].calls == 0 and res.search.blocks[0].calls > 0
        assert np.flatnonzero(res.search.blocks[0].jumpy).tolist() == [23, 107, 120]
    assert res.verdict.counts["kink"] == 3 and res.verdict.counts["fail"] == 0
    assert res.verdict.blocks[0].counts["kink"] == 3
    kinks = sorted(c.index for c in res.verdict.checks if c.status is Status.KINK)
    assert kinks == [(23,), (107,), (120,)]


@pytest.mark.parametrize("wrong", [40, 107])
def test_a_wrong_entry_in_a_joint_pool_still_fails(wrong):
    # a wrong entry away from the kinks, or a claim outside a kink's one-sided slopes
    from gradcheck_cli.blackbox.pipeline import check_blackbox

    cost, x, g = _abs_beside_a_fast_sine(wrong=wrong)
    if wrong == 107:
        g[wrong] = 3.0  # the slopes there are -1 and 1
    res = check_blackbox(cost, x, g, [("x", (160,), 0), ("b", (20,), 160)])
    assert [c.index for c in res.verdict.checks if c.status is Status.FAIL] == [(wrong,)]
    assert res.verdict.counts["fail"] == 1


# ------------------------------------------------- a layer's kinks: confirmed by the shrinking test


def _max_pool():
    from pathlib import Path

    from gradcheck_cli.usercode import load_callable

    good = f"{Path(__file__).parent / 'layers' / 'layers.py'}:"
    return load_callable(good + "max_pool_naive_forward"), load_callable(good + "max_pool_naive_backward")


POOL = {"pool_param": {"pool_height": 2, "pool_width": 2, "stride": 2}}


@pytest.mark.parametrize("mode", MODES)
def test_a_layers_kinks_are_confirmed_by_the_shrinking_test_not_the_ladder(mode):
    # every entry of a max-pool over ones is a tie: 32 kinks.  The four-point test finds
    # the jump (4 calls), the shrinking one-sided test confirms it (SUSPECT_RUNGS rungs of
    # 2 calls); the re-estimate's ladder (about 118 calls an entry) is not run again
    from gradcheck_cli.blackbox.ladder import SUSPECT_RUNGS
    from gradcheck_cli.checks.layer import check_layer

    fwd, bwd = _max_pool()
    rep = check_layer(fwd, bwd, {"x": np.ones((1, 2, 4, 4))}, POOL, mode=mode)
    assert rep.status is Status.PASS and kinks(rep) == 32 and rep.counts["fail"] == 0
    # the look, the 4h pair and the rungs per entry; the setup, the noise probe and the
    # adaptive search's directions besides (was 3,921 calls in full mode, 4,117 adaptive)
    assert rep.effort.calls <= 32 * (4 + 2 * SUSPECT_RUNGS) + 250


@pytest.mark.parametrize("mode", MODES)
def test_a_wrong_value_at_a_tie_is_still_no_kink(mode):
    # 2 dout lies outside the one-sided slopes [0, dout]: the four-point test does not call
    # it a kink and the re-estimate fails it; the 0 claimed at the other tied entries stays a kink
    from gradcheck_cli.checks.layer import check_layer

    fwd, bwd = _max_pool()
    rep = check_layer(fwd, lambda dout, cache: 2 * bwd(dout, cache), {"x": np.ones((1, 2, 4, 4))}, POOL, mode=mode)
    assert rep.status is Status.FAIL and rep.counts["fail"] == 8 and kinks(rep) == 24


@pytest.mark.parametrize("mode", MODES)
def test_a_layers_smooth_zone_narrower_than_the_first_steps_is_no_kink(mode, monkeypatch):
    # smooth-L1 with beta = 1e-7 at 0: the four-point steps (6e-6, 2.4e-5) see the two
    # straight pieces (a jump: kink), the shrinking test's finer rungs the quadratic zone:
    # not confirmed, and the re-estimate decides as before: pass
    from gradcheck_cli.blackbox import pipeline
    from gradcheck_cli.checks.layer import check_layer

    unconfirmed = []
    real = pipeline.shrinking_kink

    def watched(*args, **kw):
        gap = real(*args, **kw)
        if "claim" in kw and gap is None:
            unconfirmed.append(args[2])
        return gap

    monkeypatch.setattr(pipeline, "shrinking_kink", watched)
    beta = 1e-7
    x = np.random.default_rng(2).standard_normal((4, 5))
    x[1, 2] = x[3, 0] = 0.0

    def forward(x):
        a = np.abs(x)
        return np.where(a < beta, 0.5 * x**2 / beta, a - 0.5 * beta), x

    def backward(dout, x):
        return dout * np.where(np.abs(x) < beta, x / beta, np.sign(x))

    rep = check_layer(forward, backward, {"x": x}, mode=mode)
    assert rep.status is Status.PASS and kinks(rep) == 0 and rep.counts["pass"] == 20
    if mode == "full":
        assert sorted(unconfirmed) == [7, 15]


def test_the_shrinking_test_with_a_claim_outside_the_slopes_is_no_kink():
    from gradcheck_cli.blackbox.ladder import shrinking_kink

    f = lambda z: float(np.abs(z[0]) + 0.5 * z[0])  # noqa: E731  (slopes -0.5 and 1.5)
    x = np.array([0.0])
    for claim, kink in [(None, True), (0.5, True), (-0.5, True), (1.5, True), (1.6, False), (-2.0, False)]:
        cost, calls = _counted(f)
        gap = shrinking_kink(cost, x, 0, 0.0, claim=claim)
        assert (gap is not None) is kink
        if kink:
            assert gap == pytest.approx(2.0)
        assert calls[0] <= 2 * 8


@pytest.mark.parametrize("c", [0.0, 0.5, 10.0])
def test_a_layers_kink_claimed_at_the_midpoint_of_its_slopes_reads_kink_in_full_mode(c):
    # |x| + c x at 0 claimed sign(0) + c: the midpoint of the slopes c - 1 and c + 1, which
    # the central difference equals; the 4h pair shows the jump, the shrinking test confirms it
    from gradcheck_cli.checks.layer import check_layer

    x = np.random.default_rng(1).standard_normal((4, 5))
    x[1, 2] = 0.0
    rep = check_layer(lambda x: (np.abs(x) + c * x, x), lambda d, x: d * (np.sign(x) + c), {"x": x}, mode="full")
    assert rep.status is Status.PASS and kinks(rep) == 1 and rep.counts["pass"] == 19
    assert [c.index for c in rep.checks if c.status is Status.KINK] == [(1, 2)]
    # a claim outside the slopes there still fails
    wrong = check_layer(lambda x: (np.abs(x) + c * x, x), lambda d, x: d * (np.sign(x) + c + 3 * (x == 0)),
                        {"x": x}, mode="full")
    assert wrong.status is Status.FAIL and [c.index for c in wrong.checks if c.status is Status.FAIL] == [(1, 2)]


@pytest.mark.parametrize("mode", MODES)
def test_a_float32_kink_away_from_zero_reads_kink_and_smooth_float32_code_does_not(mode):
    # max(x, 2) at 2 in float32, claimed as the midpoint 0.5: the values on the flat side are
    # all 2.0 (whole: no precision told), the code's float32 return says the precision, and the
    # shrinking test's rungs (4-fold for float32) stay above its round-off long enough to show it
    def kinked(x):
        z = x.astype(np.float32)
        return np.sum(np.maximum(z, np.float32(2))), np.where(z > 2, 1, np.where(z == 2, 0.5, 0)).astype(np.float32)

    rep = check_gradient(kinked, np.array([2.0]), mode=mode)  # one entry: the probe may see the flat side only
    assert statuses(rep)[0] is Status.KINK and rep.counts.get("fail", 0) == 0

    def smooth(x):
        z = x.astype(np.float32)
        return np.sum(np.log1p(np.exp(z)) * np.float32(3)), (np.float32(3) / (1 + np.exp(-z))).astype(np.float32)

    rep = check_gradient(smooth, np.array([2.0, 3.5, 0.5]), mode=mode)
    assert kinks(rep) == 0 and rep.counts.get("fail", 0) == 0
