"""Tests of diagnosis.py: every injected bug gets its hint, a correct network none."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from gradcheck_cli import diagnosis as dg
from gradcheck_cli.network import model as m
from gradcheck_cli.network import differences as nf
from conftest import network
from gradcheck_cli.errors import OptionError
from gradcheck_cli.verdict import STATUS_BY_CODE, Status, Thresholds, worst

T = Thresholds()


def check(spec, bug=None, samples=20, seed=0):
    """The per-block input of ``diagnose`` for the built-in network (with a bug)."""
    _, data, labels, params = network(spec.dims, samples=samples, seed=seed, activation=spec.activation,
                                      loss=spec.loss, mean=spec.mean)
    _, grad = m.cost_and_grad(spec, data, labels, params, bug=bug)
    numeric, noise, kink = nf.numeric_gradient(m.cost_spec(spec, bug), data, labels, params)
    # network_fd's full check states its figures with the floor noise / pass_tol (the
    # command's verdict is ``assess``): the per-block worst status the hints read
    with np.errstate(all="ignore"):
        d = np.abs(grad - numeric)
        rel = np.where(d == 0, 0.0, d / np.maximum(np.maximum(np.abs(grad), np.abs(numeric)), noise / T.pass_tol))
    code = np.where(np.isfinite(rel) & (rel <= T.pass_tol), 0, np.where(np.isfinite(rel) & (rel <= T.fail_tol), 1, 2))
    status = STATUS_BY_CODE[np.where(kink, 3, code)]
    return [(b.name, b.take(grad), b.take(numeric), worst(status[b.slice])) for b in spec.blocks]


NETS = [
    dict(dims=(10, 5, 10)),
    dict(dims=(50, 30, 10)),
    dict(dims=(784, 100, 10)),
    dict(dims=(10, 8, 6, 4), activation="tanh"),
    dict(dims=(20, 10, 10), activation="relu"),
    dict(dims=(10, 6, 10), loss="mse", mean=True),
]


@pytest.mark.parametrize("kw", NETS, ids=lambda kw: "-".join(map(str, kw.values())))
@pytest.mark.parametrize("bug", list(m.BUGS))
def test_each_bug_gets_its_hint(kw, bug):
    spec = m.NetworkSpec(**kw)
    try:
        m.validate_bug(spec, bug)
    except OptionError:
        pytest.skip(f"{bug} does not apply to this network")
    hints = dg.diagnose(check(spec, bug), samples=20, activation=spec.activation)
    assert any(dg.expected_hint(bug) in h for h in hints), hints


@pytest.mark.parametrize("kw", NETS, ids=lambda kw: "-".join(map(str, kw.values())))
def test_a_correct_network_gets_no_hint(kw):
    spec = m.NetworkSpec(**kw)
    assert dg.diagnose(check(spec), samples=20, activation=spec.activation) == []


def test_hint_texts_for_the_cs224n_network():
    spec = m.NetworkSpec((10, 5, 10))
    hints = lambda bug: dg.diagnose(check(spec, bug), samples=20)
    assert hints("mean-cost-summed-grad") == [
        "W1, b1, W2, b2: every entry is 20.0x the numeric value: "
        "a mean cost with a summed gradient (or the reverse)?"
    ]
    assert "0.05x the numeric value (1/20)" in hints("summed-cost-mean-grad")[0]
    assert hints("sign-flip") == ["W1, b1, W2, b2: sign flipped (yhat - y vs y - yhat?)"]
    assert hints("missing-sigmoid-grad") == [
        "W1 and b1 wrong, W2 and b2 right: check the derivative of the hidden activation "
        "(sigmoid' = s(1-s))"
    ]
    assert hints("b1-zero") == ["b1: gradient is all zero (never assigned, or overwritten?)"]
    assert hints("w2-transposed")[0].startswith("W2 looks transposed")
    assert len(hints("b1-first-sample")) == 1


def test_deeper_network_names_every_hidden_block():
    spec = m.NetworkSpec((10, 8, 6, 4))
    (hint,) = dg.diagnose(check(spec, "one-minus-h"), samples=20)
    assert hint.startswith("W1, b1, W2 and b2 wrong, W3 and b3 right")


def test_tanh_hint_quotes_the_tanh_derivative():
    spec = m.NetworkSpec((10, 5, 10), activation="tanh")
    (hint,) = dg.diagnose(check(spec, "missing-sigmoid-grad"), activation="tanh")
    assert "tanh' = 1 - t^2" in hint


# ---------------------------------------------------------------- patterns on synthetic blocks

RNG = np.random.default_rng(0)
N = RNG.standard_normal((6, 4))


def test_factor_is_found_despite_round_off_in_tiny_entries():
    n = N.copy()
    n[0, 0] = 1e-12  # tiny entries carry only round-off and are ignored by the fit
    a = 20 * n
    a[0, 0] = 3e-10
    assert dg.block_pattern(a, n) == ("factor", pytest.approx(20.0))


def test_patterns():
    assert dg.block_pattern(np.zeros((6, 4)), N) == ("zero",)
    assert dg.block_pattern(-N, N) == ("factor", pytest.approx(-1.0))
    assert dg.block_pattern(N.T.reshape(6, 4), N) == ("transposed",)
    square = RNG.standard_normal((5, 5))
    assert dg.block_pattern(square.T, square) == ("transposed",)
    wrong = N.copy()
    wrong[2, 1] += 1.0  # one wrong entry: no block-wide pattern
    assert dg.block_pattern(wrong, N) is None
    assert dg.block_pattern(N * np.linspace(1, 3, 4), N) is None  # column-dependent: no factor


def test_no_factor_claim_from_a_single_entry():
    n = np.array([[1.0]])
    assert dg.block_pattern(3 * n, n) is None


def test_bias_only_structural_hint():
    blocks = [
        ("W1", N, N, Status.PASS),
        ("b1", N[:1] + 1, N[:1] * np.array([1, 5, -2, 3]), Status.FAIL),
        ("W2", N, N, Status.PASS),
        ("b2", N[:1], N[:1], Status.PASS),
    ]
    hints = dg.diagnose(blocks)
    assert hints == [
        "b1 wrong while W1 is right: check the bias gradient is summed over the batch "
        "(sum over the rows of delta1, not one row)"
    ]


def test_every_block_wrong_without_pattern():
    blocks = [(name, N + 1, N, Status.FAIL) for name in ("W1", "b1", "W2", "b2")]
    (hint,) = dg.diagnose(blocks)
    assert hint.startswith("every block is wrong")


def test_warn_blocks_get_no_hint():
    assert dg.diagnose([("W1", N * 1.000001, N, "warn"), ("b1", N, N, "pass")]) == []


@settings(max_examples=60, deadline=None)
@given(
    c=st.sampled_from([-1.0, 2.0, 0.5, 3.0, -7.5, 20.0, 0.05, 1e3, 1e-3]),
    scale=st.floats(1e-9, 1e9),
    seed=st.integers(0, 1000),
)
def test_a_constant_factor_is_always_reported(c, scale, seed):
    n = np.random.default_rng(seed).standard_normal((4, 3)) * scale
    (hint,) = dg.diagnose([("W1", c * n, n, Status.FAIL)], samples=20)
    if c == -1.0:
        assert "sign flipped" in hint
    else:
        assert f"every entry is {dg._fmt(c)}x the numeric value" in hint
    if c in (20.0, 0.05):
        assert "mean cost with a summed gradient" in hint
    if c in (2.0, 0.5):
        assert "factor of 2" in hint


def test_expected_hint_covers_every_bug():
    assert set(dg.HINT_FOR_BUG) == set(m.BUGS)
