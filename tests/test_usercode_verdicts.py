"""Issue 16: a correct gradient of users' code reads pass, a wrong one does not, at any
scale; the three wrong passes and the false fail of the audit are right; float32 code is
judged at what float32 can verify."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradcheck_cli import Thresholds, check_gradient, check_layer, check_network
from gradcheck_cli.errors import UserCodeError
from gradcheck_cli.verdict import FLOAT32_PASS_TOL, Status

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import mynet  # noqa: E402


def _scaled(c):
    def f(x):  # c (sum x log x + x**2 / 2): varies on the scale of |x|; analytic gradient
        return c * np.sum(x * np.log(x) + x * x / 2), c * (np.log(x) + 1 + x)
    return f


@settings(max_examples=12, deadline=None)
@given(scale=st.integers(-8, 8), k=st.integers(-8, 8), seed=st.integers(0, 3))
def test_correct_code_passes_and_a_factor_two_fails_at_every_scale(scale, k, seed):
    c = 10.0**scale
    x = 10.0**k * (1 + np.random.default_rng(seed).random(6))
    good = check_gradient(_scaled(c), x)
    assert good.status is Status.PASS, good.counts

    def wrong(z):
        cost, g = _scaled(c)(z)
        g = g.copy()
        g[2] *= 2
        return cost, g

    bad = check_gradient(wrong, x)
    assert bad.status is Status.FAIL and bad.counts["fail"] == 1


def test_x_near_1e_minus_8_with_a_67_percent_error_fails():
    """The step follows |x|: an absolute step 600 times |x| read unresolved, exit 0."""
    x = 1e-8 * np.random.default_rng(1).standard_normal(12)

    def f(z, k=1.0):
        return np.sum(z**3 + z**2), k * (3 * z**2 + 2 * z)

    assert check_gradient(f, x).status is Status.PASS
    bad = check_gradient(lambda z: f(z, 1.67), x)
    assert bad.status is Status.FAIL and bad.counts["fail"] == 12


BETA = 1e-3


def smooth_l1(x, flip=False):
    small = np.abs(x) < BETA
    loss = np.sum(np.where(small, 0.5 * x * x / BETA, np.abs(x) - 0.5 * BETA))
    dx = np.where(small, x / BETA, np.sign(x))
    return loss, np.where(small & flip, -dx, dx)


def test_smooth_l1_sign_flipped_in_its_quadratic_zone_fails_not_kink():
    x = 1e-3 * np.random.default_rng(3).standard_normal((4, 5))
    x[0] = 3 * np.random.default_rng(4).standard_normal(5)
    assert check_layer(smooth_l1, None, {"x": x}).status is Status.PASS
    bad = check_layer(lambda z: smooth_l1(z, flip=True), None, {"x": x})
    small = int(np.sum(np.abs(x) < BETA))
    assert bad.status is Status.FAIL and bad.counts["fail"] == small and bad.counts["kink"] == 0


def test_a_genuine_kink_is_still_a_kink():
    x = np.array([[0.0, 1.0, -2.0]])
    rep = check_layer(lambda z: (np.sum(np.abs(z)), np.sign(z)), None, {"x": x})
    assert rep.counts["kink"] == 1 and rep.counts["fail"] == 0


def test_sigmoid_at_36_is_not_a_false_fail():
    """Its output is 1 to float64's resolution: '0 ± 7.7e-33' against a true 3.7e-18 was a
    fail; the bound is now sound (the entry is left unresolved, never failed)."""
    x = np.random.default_rng(3).standard_normal((4, 5))
    x[1, 2] = 36.2
    fwd = lambda z: (1 / (1 + np.exp(-z)),) * 2  # noqa: E731
    bwd = lambda dout, s: dout * s * (1 - s)  # noqa: E731
    rep = check_layer(fwd, bwd, {"x": x})
    assert rep.counts["fail"] == 0 and rep.counts["pass"] >= 19


def test_dropout_drawing_a_new_mask_in_backward_is_an_error():
    def fwd(x):
        mask = (np.random.rand(*x.shape) < 0.8) / 0.8
        return x * mask, mask

    def bwd(dout, mask):
        return dout * ((np.random.rand(*dout.shape) < 0.8) / 0.8)

    assert check_layer(fwd, lambda dout, mask: dout * mask, {"x": np.ones((4, 5))}).status is Status.PASS
    with pytest.raises(UserCodeError, match="draws random numbers"):
        check_layer(fwd, bwd, {"x": np.ones((4, 5))})


def _f32(k=1.0):
    def f(x):
        x = np.asarray(x, dtype=np.float32)
        return np.float32(np.sum(x**2)), (2 * x * np.float32(k)).astype(np.float32)
    return f


def test_float32_code_is_judged_at_what_float32_can_verify():
    x = np.random.default_rng(0).standard_normal((3, 4))
    rep = check_gradient(_f32(), x)
    assert rep.status is Status.PASS and rep.thresholds.pass_tol == FLOAT32_PASS_TOL
    assert rep.to_dict()["thresholds"]["pass"] == FLOAT32_PASS_TOL
    # an explicit pass tolerance wins (and float32 cannot verify 1e-7)
    strict = check_gradient(_f32(), x, thresholds=Thresholds(pass_tol=1e-7, pass_tol_given=True))
    assert strict.thresholds.pass_tol == 1e-7 and strict.counts["pass"] < 12
    # a 1e-3 bug inside float32 code does not pass; a factor 2 fails
    assert check_gradient(_f32(1.002), x).counts["pass"] == 0
    assert check_gradient(_f32(2.0), x).status is Status.FAIL


def test_float32_header_states_the_default(tmp_path, capsys, monkeypatch):
    from gradcheck_cli.cli import main

    (tmp_path / "f32.py").write_text("import numpy as np\ndef quad(x):\n    x = x.astype(np.float32)\n"
                                     "    return np.float32(np.sum(x ** 2)), 2 * x\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(["func", "f32.py:quad"])
    out = capsys.readouterr().out
    assert exc.value.code == 0 and "pass <= 0.0005 (float32 code" in " ".join(out.split())


def test_correct_784_100_10_impl_passes():
    rep = check_network((784, 100, 10), impl=mynet.forward_backward_prop)
    assert rep.status is not Status.FAIL
    assert rep.counts["pass"] >= 0.999 * rep.counts["checks"]


@pytest.mark.parametrize("dims", [(10, 5, 10), (50, 30, 10)])
def test_correct_small_impl_passes_every_entry(dims):
    rep = check_network(dims, impl=mynet.forward_backward_prop)
    assert rep.status is Status.PASS and rep.counts["unresolved"] == 0
    assert check_network(dims, impl=mynet.one_wrong).status is Status.FAIL


def test_sigmoid_at_36_reads_pass_by_the_zero_rule_with_the_truth_inside():
    """At 36.2 sigmoid' = 1.9e-16: the layer's entry is ~4e-19, far below the objective's
    round-off per unit x (8 eps |f| / 36.2).  Extended precision bounds the truth (mpmath)
    within it and the claim is within it too: zero to round-off, a pass; a claim far
    above it still fails."""
    import mpmath as mp

    x = np.random.default_rng(3).standard_normal((4, 5))
    x[1, 2] = 36.2
    fwd = lambda z: (1 / (1 + np.exp(-z)),) * 2  # noqa: E731
    bwd = lambda dout, s: dout * s * (1 - s)  # noqa: E731
    rep = check_layer(fwd, bwd, {"x": x}, top=20)  # a pass by the zero rule ranks last
    assert rep.status is Status.PASS and rep.counts["pass"] == 20
    (c,) = [c for c in rep.checks if c.index == (1, 2)]
    s = 1 / (1 + np.exp(-36.2))
    dout = c.analytic / (s * (1 - s))  # the objective's weight of this output
    with mp.workdps(40):
        true = float(dout * mp.exp(-mp.mpf("36.2")) / (1 + mp.exp(-mp.mpf("36.2"))) ** 2)
    assert c.numeric - c.error <= true <= c.numeric + c.error
    wrong = check_layer(fwd, lambda dout, s: dout * s * (1 - s) + 1e-6 * (s > 0.9999), {"x": x})
    assert wrong.status is Status.FAIL


def _affine32_forward(x, w, b):
    x, w, b = (np.asarray(a, dtype=np.float32) for a in (x, w, b))
    return x @ w + b, (x, w)


def _affine32_backward(dout, cache):
    x, w = cache
    dout = np.asarray(dout, dtype=np.float32)
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


@pytest.mark.parametrize("seed", [0, 1, 3, 5])
@pytest.mark.parametrize("mode", ["full", "adaptive"])
def test_float32_layer_bounds_contain_the_truth_and_correct_code_never_fails(seed, mode):
    # the layer's L = sum(out * dout) is summed in float64 but its terms are float32
    # outputs: the bounds carry float32's round-off (they once carried float64's: a
    # correct float32 affine layer read fail, and bounds missed the truth by 20x)
    from gradcheck_cli import check_layer

    g = np.random.default_rng(200 + seed)
    (n, d), m = [((4, 6), 5), ((16, 30), 20), ((3, 4), 7)][seed % 3]
    inp = {"x": g.standard_normal((n, d)), "w": g.standard_normal((d, m)), "b": g.standard_normal(m)}
    rep = check_layer(_affine32_forward, _affine32_backward, inp, {}, mode=mode)
    assert rep.counts["fail"] == rep.counts["warn"] == 0, rep.counts
    assert rep.counts["pass"] >= 0.95 * rep.counts["checks"], rep.counts
    x32, w32 = (inp[k].astype(np.float32).astype(float) for k in ("x", "w"))
    dout = np.random.default_rng((0, 1, 0)).standard_normal((n, m))  # the check's dout (seed 0)
    truth = {"x": dout @ w32.T, "w": x32.T @ dout, "b": dout.sum(0)}
    for c in rep.checks:
        if c.error is not None and np.isfinite(c.error):
            assert abs(c.numeric - truth[c.name][c.index]) <= c.error, (c.name, c.index, c.numeric, c.error)
