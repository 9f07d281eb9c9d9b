"""Per-block verdicts (``blocks.judge_blocks``): the zero rule at the block's gradient
scale (issue 16, finding M) and the rows a report shows (issue 16 item 7)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradcheck_cli import check_gradient, check_layer
from gradcheck_cli.blackbox.stencils import fitted_noise, scale_noise
from gradcheck_cli.blocks import BlockData, judge_blocks
from gradcheck_cli.finite_diff import ANALYTIC_ULPS, EPS, SATURATION, SCALE_ULPS, evidence, gradient_scale
from gradcheck_cli.verdict import Status, Thresholds, assess
from conftest import tanh_net


# ---------------------------------------------------------------- the block's scale G
def test_gradient_scale_is_the_smaller_of_claim_and_proved_truth():
    a = np.array([0.5, -0.1, 1e-16])
    n = np.array([0.5, -0.1, 0.0])
    assert gradient_scale(a, n, np.full(3, 1e-12)) == pytest.approx(0.5)
    # a bug that blows up one claim does not raise G (the numeric caps it)
    assert gradient_scale(np.array([1e6, -0.1, 1e-16]), n, np.full(3, 1e-12)) == pytest.approx(0.5)
    # noise does not raise it either: |n| - e is what the truth surely reaches
    assert gradient_scale(a, np.array([5.0, -0.1, 0.0]), np.array([4.9, 1e-12, 1e-12])) == pytest.approx(0.1)
    # a claim scaled down with the whole block lowers G with it
    assert gradient_scale(a * 1e-9, n, np.full(3, 1e-12)) == pytest.approx(0.5e-9)
    # entries with no estimate do not count; nothing estimated: 0
    assert gradient_scale(a, np.array([np.nan, -0.1, 0.0]), np.array([np.inf, 1e-12, 1e-12])) == pytest.approx(0.1)
    assert gradient_scale(a, np.full(3, np.nan), np.full(3, np.inf)) == 0.0


def test_evidence_zero_scale_is_at_least_ulps_of_the_block_scale():
    a = np.array([0.5, -7.65e-16])
    n = np.array([0.5, -7.27e-16])
    _, zs = evidence(a, n, np.array([1e-12, 2.8e-18]))
    assert zs == pytest.approx(SCALE_ULPS * EPS * 0.5)
    # float32 code: float64's epsilon still (float32's would forgive a 1e-3 bug at 1% of G)
    _, zs32 = evidence(a, n, np.array([1e-6, 1e-9]), eps=float(np.finfo(np.float32).eps))
    assert zs32[1] == pytest.approx(SCALE_ULPS * EPS * 0.5, rel=1e-5)
    # a part of a block never gets a larger scale than the block
    _, part = evidence(a[1:], n[1:], np.array([2.8e-18]))
    assert part[0] <= zs[1]


# ---------------------------------------------------------------- saturated layers (finding M)
def _sigmoid_forward(x):
    s = 1 / (1 + np.exp(-x))
    return s, s


def _sigmoid_backward(dout, s):
    return dout * s * (1 - s)


def _tanh_forward(x):
    t = np.tanh(x)
    return t, t


def _tanh_backward(dout, t):
    return dout * (1 - t * t)


def _softmax_loss(x, y):
    shifted = x - np.max(x, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    n = x.shape[0]
    dx = np.exp(log_probs)
    dx[np.arange(n), y] -= 1
    return -np.sum(log_probs[np.arange(n), y]) / n, dx / n


def _saturated(shape=(5, 6), seed=9):
    return 30 * np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("forward, backward, seed", [(_sigmoid_forward, _sigmoid_backward, 9),
                                                     (_tanh_forward, _tanh_backward, 9),
                                                     (_tanh_forward, _tanh_backward, 10)])
def test_textbook_activation_at_saturation_passes(forward, backward, seed):
    # the hand formulas hold 1 - s (1 - t t) to an ulp of 1: their saturated entries are off
    # by ~eps |dout| (5% of a 7e-16 entry, 31% for tanh), round-off of the layer's scale
    # (seed 10, tanh: every input saturated, G = 0.036, the error 26 eps G)
    rep = check_layer(forward, backward, {"x": _saturated(seed=seed)})
    assert rep.status is Status.PASS, rep.counts
    assert rep.counts["pass"] == rep.counts["checks"] == 30


def test_softmax_loss_at_saturation_does_not_fail():
    rng = np.random.default_rng(9)
    x, y = 30 * rng.standard_normal((6, 10)), rng.integers(0, 10, 6)
    rep = check_layer(_softmax_loss, None, {"x": x, "y": y})
    assert rep.counts["fail"] == 0 and rep.counts["warn"] == 0


def test_a_factor_two_on_a_saturated_entry_at_1e_12_of_the_block_still_fails():
    x = np.random.default_rng(3).standard_normal((4, 5))
    x[2, 3] = 27.6  # sigmoid' = 1e-12: the entry is ~1e-12 of the block's scale

    def backward(dout, s):
        g = dout * s * (1 - s)
        g[2, 3] *= 2
        return g

    assert check_layer(_sigmoid_forward, _sigmoid_backward, {"x": x}).status is Status.PASS
    rep = check_layer(_sigmoid_forward, backward, {"x": x})
    assert rep.status is Status.FAIL and rep.counts["fail"] == 1
    assert [c.index for c in rep.checks if c.status is Status.FAIL] == [(2, 3)]


def test_a_factor_two_on_a_whole_saturated_block_fails():
    # every input saturated: the block's own scale is ~1e-13, so nothing is round-off of it
    x = 30 + np.abs(np.random.default_rng(4).standard_normal((3, 4)))
    rep = check_layer(_sigmoid_forward, lambda dout, s: 2 * dout * s * (1 - s), {"x": x})
    assert rep.status is Status.FAIL


def test_sigmoid_at_36_still_passes():
    x = np.random.default_rng(3).standard_normal((4, 5))
    x[1, 2] = 36.2
    rep = check_layer(_sigmoid_forward, _sigmoid_backward, {"x": x})
    assert rep.status is Status.PASS and rep.counts["pass"] == 20


def test_expr_is_unaffected_a_small_partial_next_to_a_large_one_keeps_its_verdict():
    # expr's evidence is exact: a claim off by 1e-10 (1e-6 relative) next to a partial of
    # 1e6 is within round-off of |f| but reads what it is, a warn
    from gradcheck_cli.checks.expr import check_expression

    rep = check_expression("1e6*x + 1e-4*y", at=["x=1,y=1"], grads=["1e6", "1.000001e-4"])
    assert [c.status for c in rep.checks] == [Status.PASS, Status.WARN]


# ---------------------------------------------------------------- rows: worst first by status
def _block():
    a = np.array([1.0, 0.5, 0.3, 0.2, 1e-17, 0.7, 1.0])
    n = np.array([1.0, 0.5 * (1 + 1e-3), 0.3 * (1 + 1e-9), 0.4, 2e-17, 0.7 * (1 + 1e-8), 3.0])
    noise = np.array([1e-12, 1e-12, 1e-6, 1e-12, 1e-18, 1e-12, 1e-12])
    kink = np.array([False] * 6 + [True])
    return BlockData("W", (7,), a, n, noise, kink)


def test_rows_are_ranked_by_status_then_by_how_wrong():
    v = judge_blocks([_block()], Thresholds(), top=7)
    got = [(c.index, c.status) for c in v.checks]
    # fail, warn, unresolved, kink, then the passes: relative ones before the zero rule's
    assert got == [((3,), Status.FAIL), ((1,), Status.WARN), ((2,), Status.UNRESOLVED), ((6,), Status.KINK),
                   ((5,), Status.PASS), ((0,), Status.PASS), ((4,), Status.PASS)]
    assert v.checks[2].reason == "noise"
    (b,) = v.blocks
    assert b.status is Status.FAIL and b.worst_index == (3,) and b.max_rel_error == pytest.approx(0.5)


def test_an_unresolved_block_shows_its_unresolved_entries_not_round_off_passes():
    # finding N: passes by the zero rule (displayed rel 0.5..1.0) used to fill the rows and
    # hide the block's one unresolved entry
    a = np.array([1e-17, -3e-17, 2e-18, 0.25, 0.3])
    n = np.array([2e-17, -1e-17, 1e-18, 0.25, 0.3 * (1 + 1e-9)])
    noise = np.array([1e-18, 1e-18, 1e-18, 1e-12, 1e-6])
    v = judge_blocks([BlockData("x", (5,), a, n, noise)], Thresholds(), top=1)
    assert [(c.index, c.status, c.reason) for c in v.checks] == [((4,), Status.UNRESOLVED, "noise")]
    (b,) = v.blocks
    assert b.status is Status.UNRESOLVED and b.worst_index == (4,)
    assert b.max_rel_error == pytest.approx(1e-9, rel=1e-3)


def test_every_failing_entry_is_kept_past_top_and_strict_keeps_the_non_passes():
    v = judge_blocks([_block(), _block()], Thresholds(), top=0)
    assert [c.status for c in v.checks] == [Status.FAIL, Status.FAIL]
    strict = judge_blocks([_block()], Thresholds(strict=True), top=0)
    assert [c.status for c in strict.checks] == [Status.FAIL, Status.WARN, Status.UNRESOLVED]
    # across blocks: a warn of one block outranks a larger relative error that passes
    ok = BlockData("b", (2,), np.array([1e-17, 2.0]), np.array([3e-17, 2.0]), np.array([1e-18, 1e-12]))
    mixed = judge_blocks([ok, _block()], Thresholds(), top=3)
    assert [(c.name, c.status) for c in mixed.checks] == [("W", Status.FAIL), ("W", Status.WARN),
                                                         ("W", Status.UNRESOLVED)]


def test_softmax_loss_at_saturation_shows_its_unresolved_entries_as_rows():
    rng = np.random.default_rng(9)
    x, y = 30 * rng.standard_normal((6, 10)), rng.integers(0, 10, 6)
    rep = check_layer(_softmax_loss, None, {"x": x, "y": y})
    unresolved = rep.counts["unresolved"]
    rows = [c for c in rep.checks if c.status is Status.UNRESOLVED]
    assert len(rows) == min(unresolved, 5) and all(c.reason for c in rows)
    if unresolved:
        (b,) = rep.blocks
        assert (b.worst_index in [c.index for c in rows]) and rep.checks[0].status is Status.UNRESOLVED


def test_entries_cleared_by_exclusion_but_unverified_are_rows_of_the_report():
    # finding J: a correct tanh 784-100-10 --impl read W1, b1, W2 "max rel error 0, worst
    # entry -, UNRESOLVED" with no row saying which entries; under --strict every one of
    # them is a failing entry, so JSON's checks must list each (SPEC), with its reason
    from gradcheck_cli import check_network

    rep = check_network((784, 100, 10), impl=tanh_net, activation="tanh", thresholds=Thresholds(strict=True))
    assert rep.counts["fail"] == 0
    rows = [c for c in rep.checks if c.status is Status.UNRESOLVED]
    assert len(rows) == rep.counts["unresolved"] and all(c.reason for c in rows)
    for b in rep.blocks:
        if b.status is Status.UNRESOLVED:
            assert b.worst_index is not None
            assert any(c.name == b.name and c.index == b.worst_index for c in rows)


@settings(max_examples=10, deadline=None)
@given(m=st.integers(0, 12), k=st.integers(-6, 6), seed=st.integers(0, 3))
def test_a_factor_two_fails_on_an_entry_at_any_size_relative_to_its_block(m, k, seed):
    # the entry (2, 3) at 10**-m of the block's scale (sigmoid' = 10**-m), the layer's
    # output scaled by 10**k: the zero rule's 64 eps G never hides a factor 2
    x = np.random.default_rng(seed).standard_normal((3, 4))
    x[2, 3] = 0.0 if m == 0 else float(np.log(10.0**m))  # s (1 - s) ~ 10**-m
    c = 10.0**k

    def forward(z):
        s = 1 / (1 + np.exp(-z))
        return c * s, s

    def backward(dout, s):
        g = c * dout * s * (1 - s)
        g[2, 3] *= 2
        return g

    rep = check_layer(forward, backward, {"x": x})
    assert rep.status is Status.FAIL
    assert (2, 3) in [c.index for c in rep.checks if c.status is Status.FAIL]


def test_a_block_of_round_off_zeros_shows_no_relative_error_of_one():
    # the bias before a batchnorm: true gradient 0, computed as ~1e-16; every entry passes by
    # round-off, and the block's figure is not the meaningless rel error 1 of 1e-16 vs 0
    v = judge_blocks([BlockData("b", (3,), np.array([6.7e-16, -4.4e-16, -1.3e-15]), np.zeros(3),
                                np.full(3, 1e-17), unit_roundoff=np.full(3, 1e-14))], Thresholds())
    (b,) = v.blocks
    assert b.status is Status.PASS and b.max_rel_error == 0.0
    # a block with an entry judged relatively keeps that entry's figure
    v = judge_blocks([BlockData("b", (2,), np.array([0.5, 6.7e-16]), np.array([0.5 + 1e-9, 1e-17]),
                                np.full(2, 1e-16))], Thresholds())
    assert v.blocks[0].status is Status.PASS and v.blocks[0].max_rel_error == pytest.approx(2e-9, rel=1e-3)


# ---------------------------------------------------------------- the scale per entry (G_j = min(G, F_j))
def _barrier_point():
    x = 0.77 + 0.05 * np.random.default_rng(0).standard_normal(6)
    x[2] = 1e-9  # a log-barrier slack of 1e-9: df/dx_2 = -1e9, the others ~ -1.3
    return x


def _barrier(off=0.0):
    def cost(x):
        g = -1 / x
        return -np.sum(np.log(x)), np.where(x > 1e-6, g * (1 + off), g)

    return cost


def test_the_zero_rules_scale_is_capped_by_the_functions_own_scale_per_unit_x():
    # one entry of 1e9 made G = 1e9, and 64 eps G = 1.4e-5 forgave a 1e-5 bug on every entry
    # of ~1.3; F_j = 36 |f| / max(|x_j|, 1) = 756 caps it: the bug is judged relatively
    a = np.array([-1e9, -1.3 * (1 + 1e-5), 6.7e-16])
    n = np.array([-1e9, -1.3, 1e-17])
    noise = np.array([4e-3, 2.5e-10, 1e-17])
    u = ANALYTIC_ULPS * EPS * 21.0 / np.array([1.0, 1.0, 1.0])
    error, zs = evidence(a, n, noise, unit_roundoff=u)
    assert zs[1] == pytest.approx(SCALE_ULPS * EPS * SATURATION * 21.0)
    assert [str(s.value) for s in assess(a, n, error, Thresholds(), zero_scale=zs).statuses] == ["pass", "warn",
                                                                                                  "pass"]
    # without F (a caller that does not know f) the block's G stands, as before
    assert evidence(a, n, noise)[1][1] == pytest.approx(SCALE_ULPS * EPS * 1e9, rel=1e-6)
    # the cap never raises the scale: F above G leaves G (a saturated entry of a block whose
    # G is 0.1, in a function of size 0.5)
    a, n = np.array([0.1, -7.65e-16]), np.array([0.1, -7.27e-16])
    _, zs = evidence(a, n, np.array([1e-12, 2.8e-18]), unit_roundoff=np.full(2, ANALYTIC_ULPS * EPS * 0.5))
    assert zs[1] == pytest.approx(SCALE_ULPS * EPS * 0.1)


@pytest.mark.parametrize("mode", ["adaptive", "full"])
@pytest.mark.parametrize("off", [1e-5, 1e-3])
def test_a_soft_bug_on_the_small_entries_of_a_log_barrier_warns(mode, off):
    x = _barrier_point()
    assert check_gradient(_barrier(), x, mode=mode).status is Status.PASS
    rep = check_gradient(_barrier(off), x, mode=mode)
    assert rep.status is Status.WARN
    status = {c.index: c.status for c in rep.checks}
    assert all(status[(k,)] is Status.WARN for k in (0, 1, 3, 4, 5))


def test_a_soft_bug_on_the_small_entries_of_a_log_barrier_warns_on_the_command_line(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "barrier.py").write_text(
        "import numpy as np\n\n"
        "def barrier(x):\n"
        "    g = -1 / x\n"
        "    return -np.sum(np.log(x)), np.where(x > 1e-6, g * (1 + 1e-5), g)\n")
    np.save(tmp_path / "x.npy", _barrier_point())
    for mode in ("adaptive", "full"):
        run = cli("func", "barrier.py:barrier", "--x", "x.npy", "--mode", mode, "--format", "json")
        doc = json.loads(run.out)
        assert run.code == 0 and doc["status"] == "warn"
        assert doc["summary"]["warn"] == 5 and doc["summary"]["pass"] == 1


@pytest.mark.parametrize("mode", ["adaptive", "full"])
@pytest.mark.parametrize("pos", [1, 2])
def test_a_noise_probe_that_crosses_the_barriers_pole_leaves_the_cap(mode, pos):
    # the probe moves the slack of 1e-9 by up to 8e-7: -log's curvature there gives sigma
    # = 0.64 (sigma / eps = 3e15), no noise of f's terms (its fourth differences share one
    # sign, ``stencils.scale_noise``); it lifted the cap and the 1e-5 bugs passed
    x = np.array([0.77, 0.8, 0.75, 0.79, 0.76, 0.78])
    x[pos] = 1e-9
    for seed in range(10):
        assert check_gradient(_barrier(), x, mode=mode, seed=seed).status is Status.PASS
        rep = check_gradient(_barrier(1e-5), x, mode=mode, seed=seed)
        status = {c.index: c.status for c in rep.checks}
        assert rep.status is Status.WARN, seed
        assert all(status.get((k,)) is Status.WARN for k in range(6) if k != pos), seed


def test_the_caps_noise_is_noise_only():
    # alternating fourth differences (round-off of cancelling terms) keep the probe's sigma;
    # one sign throughout (a smooth f unresolved at the probe's spacing) gives none
    rng = np.random.default_rng(3)
    noisy = 7.0 + 1e-15 * rng.standard_normal(9)
    assert scale_noise(noisy) == fitted_noise(noisy) > 0
    pole = np.array([-np.sum(np.log([1e-9 + t * 1e-7, 0.77])) for t in range(9)])
    assert fitted_noise(pole) > 0.1 and scale_noise(pole) == 0.0
