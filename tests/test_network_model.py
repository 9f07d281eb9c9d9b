"""Tests of network/model.py: activations, the reference network, its backward pass and the bug catalogue."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from gradcheck_cli.network import model as m
from gradcheck_cli.errors import OptionError


# ---------------------------------------------------------------- activations

def test_sigmoid_values_of_the_sanity_check():
    x = np.array([[1, 2], [-1, -2]])
    np.testing.assert_allclose(
        m.sigmoid(x), [[0.73105858, 0.88079708], [0.26894142, 0.11920292]], rtol=0, atol=5e-9
    )


def test_sigmoid_grad_values_of_the_sanity_check():
    s = m.sigmoid(np.array([[1, 2], [-1, -2]]))
    np.testing.assert_allclose(
        m.sigmoid_grad(s), [[0.19661193, 0.10499359], [0.19661193, 0.10499359]], rtol=0, atol=5e-9
    )


def test_sigmoid_does_not_overflow_and_keeps_tiny_values():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out = m.sigmoid(np.array([-800.0, -40.0, 0.0, 40.0, 800.0]))
    assert out[0] == 0.0 and out[-1] == 1.0 and out[2] == 0.5
    assert out[1] == pytest.approx(np.exp(-40.0), rel=1e-12)


def test_softmax_known_values_and_1d_input():
    np.testing.assert_allclose(m.softmax(np.array([1.0, 2.0])), [0.26894142, 0.73105858], rtol=1e-8)
    np.testing.assert_allclose(
        m.softmax(np.array([[1001.0, 1002.0], [3.0, 4.0]])),
        [[0.26894142, 0.73105858], [0.26894142, 0.73105858]], rtol=1e-8,
    )
    assert m.softmax(np.array([1.0, 2.0])).shape == (2,)


def test_softmax_of_huge_inputs_is_finite():
    out = m.softmax(np.array([[1e300, -1e300, 0.0], [-1e4, -1e4, -1e4]]))
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    np.testing.assert_allclose(out[1], 1 / 3)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.lists(st.floats(-50, 50), min_size=3, max_size=3), min_size=1, max_size=4),
    st.floats(-1e3, 1e3),
)
def test_softmax_is_invariant_to_row_shifts(rows, shift):
    x = np.array(rows)
    shifts = shift * np.arange(1, x.shape[0] + 1)[:, None]
    np.testing.assert_allclose(m.softmax(x + shifts), m.softmax(x), rtol=1e-9, atol=1e-300)
    np.testing.assert_allclose(m.softmax(x).sum(axis=1), 1.0)


# ---------------------------------------------------------------- spec and blocks

def test_param_count_and_blocks_of_the_cs224n_network():
    spec = m.NetworkSpec((10, 5, 10))
    assert spec.param_count == 115
    assert [(b.name, b.shape, b.offset) for b in spec.blocks] == [
        ("W1", (10, 5), 0), ("b1", (1, 5), 50), ("W2", (5, 10), 55), ("b2", (1, 10), 105),
    ]
    assert sum(b.size for b in spec.blocks) == 115
    assert spec.block("W2").slice == slice(55, 105)
    assert spec.block("W2").unravel(12) == (1, 2)


@pytest.mark.parametrize(
    "dims, count, names",
    [
        ((784, 100, 10), 79510, ["W1", "b1", "W2", "b2"]),
        ((3, 4), 16, ["W1", "b1"]),
        ((10, 8, 6, 4), 88 + 54 + 28, ["W1", "b1", "W2", "b2", "W3", "b3"]),
    ],
)
def test_param_count_for_other_depths(dims, count, names):
    spec = m.NetworkSpec(dims)
    assert spec.param_count == count
    assert [b.name for b in spec.blocks] == names


def test_unpack_is_row_major_with_bias_rows():
    spec = m.NetworkSpec((2, 3, 2))
    params = np.arange(spec.param_count, dtype=float)
    (W1, b1), (W2, b2) = spec.unpack(params)
    np.testing.assert_array_equal(W1, [[0, 1, 2], [3, 4, 5]])
    np.testing.assert_array_equal(b1, [[6, 7, 8]])
    assert W2.shape == (3, 2) and W2[0, 1] == 10 and b2.shape == (1, 2)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(dims=(10,)), "at least 2 sizes"),
        (dict(dims=()), "at least 2 sizes"),
        (dict(dims=(10, 0, 3)), "positive"),
        (dict(dims=(10, -5, 3)), "positive"),
        (dict(dims=(10, 2.5, 3)), "whole numbers"),
        (dict(dims=(10, "a", 3)), "whole numbers"),
        (dict(dims=(10, 5, 10), activation="softplus"), "--activation must be one of"),
        (dict(dims=(10, 5, 10), loss="hinge"), "--loss must be one of"),
        (dict(dims=(100000, 1000, 10)), "at most 10,000,000"),
    ],
)
def test_spec_validation(kwargs, message):
    with pytest.raises(OptionError, match=message):
        m.NetworkSpec(**kwargs)


def test_spec_normalises_values():
    spec = m.NetworkSpec([np.int64(3), 4.0], activation="tanh", loss="mse", mean=1)
    assert spec.dims == (3, 4) and spec.activation == "tanh" and spec.loss == "mse" and spec.mean is True
    assert spec.activation is m.Activation.TANH


def test_make_problem_is_the_cs224n_setup():
    spec = m.NetworkSpec((10, 5, 10))
    data, labels, params = m.make_problem(spec)
    assert data.shape == (20, 10) and labels.shape == (20, 10) and params.shape == (115,)
    np.testing.assert_array_equal(labels.sum(axis=1), 1.0)
    assert set(np.unique(labels)) == {0.0, 1.0}
    again = m.make_problem(spec)
    for a, b in zip((data, labels, params), again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(m.make_problem(spec, seed=1)[2], params)
    assert m.make_problem(spec, samples=3)[0].shape == (3, 10)
    with pytest.raises(OptionError, match="--samples"):
        m.make_problem(spec, samples=0)


# ---------------------------------------------------------------- forward / backward

def _explicit_cost(data, labels, params, dims):
    Dx, H, Dy = dims
    W1 = params[: Dx * H].reshape(Dx, H)
    b1 = params[Dx * H : Dx * H + H]
    W2 = params[Dx * H + H : Dx * H + H + H * Dy].reshape(H, Dy)
    b2 = params[-Dy:]
    h = 1 / (1 + np.exp(-(data @ W1 + b1)))
    e = np.exp(h @ W2 + b2)
    yhat = e / e.sum(axis=1, keepdims=True)
    return -np.sum(labels * np.log(yhat))


def test_cost_is_the_summed_cross_entropy():
    spec = m.NetworkSpec((10, 5, 10))
    data, labels, params = m.make_problem(spec)
    cost, _ = m.cost_and_grad(spec, data, labels, params)
    assert cost == pytest.approx(_explicit_cost(data, labels, params, (10, 5, 10)), rel=1e-12)
    mean_cost, _ = m.cost_and_grad(m.NetworkSpec((10, 5, 10), mean=True), data, labels, params)
    assert mean_cost == pytest.approx(cost / 20, rel=1e-12)


def test_mse_cost_uses_a_sigmoid_output():
    spec = m.NetworkSpec((3, 2), loss="mse")
    data, labels, params = m.make_problem(spec, samples=4)
    (W, b), = spec.unpack(params)
    expected = 0.5 * np.sum((m.sigmoid(data @ W + b) - labels) ** 2)
    assert m.cost(spec, data, labels, params) == pytest.approx(expected, rel=1e-12)


def test_forward_backward_prop_equals_cost_and_grad():
    spec = m.NetworkSpec((10, 5, 10))
    data, labels, params = m.make_problem(spec, seed=3)
    c1, g1 = m.forward_backward_prop(data, labels, params, [10, 5, 10])
    c2, g2 = m.cost_and_grad(spec, data, labels, params)
    assert c1 == c2
    np.testing.assert_array_equal(g1, g2)
    assert g1.shape == params.shape


def test_forward_backward_prop_needs_three_dimensions():
    with pytest.raises(OptionError, match=r"\[Dx, H, Dy\]"):
        m.forward_backward_prop(np.zeros((1, 2)), np.zeros((1, 2)), np.zeros(6), [2, 2])


def test_cost_and_grad_rejects_mismatched_inputs():
    spec = m.NetworkSpec((10, 5, 10))
    data, labels, params = m.make_problem(spec)
    with pytest.raises(OptionError, match="115 parameters"):
        m.cost_and_grad(spec, data, labels, params[:-1])
    with pytest.raises(OptionError, match="data must have shape"):
        m.cost_and_grad(spec, data[:, :-1], labels, params)
    with pytest.raises(OptionError, match="labels must have shape"):
        m.cost_and_grad(spec, data, labels[:-1], params)


def _slow_gradient(spec, data, labels, params, h=1e-5):
    """Plain per-entry Richardson-extrapolated central difference (independent of network.differences)."""
    out = np.empty_like(params)
    for i in range(params.size):
        vals = []
        for step in (h, h / 2):
            p, q = params.copy(), params.copy()
            p[i] += step
            q[i] -= step
            vals.append((m.cost(spec, data, labels, p) - m.cost(spec, data, labels, q)) / (2 * step))
        out[i] = (4 * vals[1] - vals[0]) / 3
    return out


@pytest.mark.parametrize("dims", [(4, 3), (4, 3, 2), (4, 3, 3, 2)])
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("loss", ["ce", "mse"])
@pytest.mark.parametrize("mean", [False, True])
def test_cost_and_grad_matches_a_slow_central_difference(dims, activation, loss, mean):
    spec = m.NetworkSpec(dims, activation=activation, loss=loss, mean=mean)
    data, labels, params = m.make_problem(spec, samples=5, seed=7)
    _, grad = m.cost_and_grad(spec, data, labels, params)
    slow = _slow_gradient(spec, data, labels, params)
    np.testing.assert_allclose(grad, slow, rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------- bug catalogue

REQUIRED_BUGS = [
    "missing-sigmoid-grad", "one-minus-h", "sign-flip", "mean-cost-summed-grad",
    "b1-first-sample", "w2-transposed",
]


def test_bug_catalogue_has_the_classic_mistakes_with_one_line_descriptions():
    for name in REQUIRED_BUGS:
        assert name in m.BUGS
    for name, text in m.BUGS.items():
        assert name == name.lower() and " " not in name and "_" not in name
        assert text and "\n" not in text


@pytest.mark.parametrize("bug", list(m.BUGS))
def test_each_bug_changes_only_its_blocks(bug):
    """Compared with the true gradient of the cost the buggy function returns."""
    spec = m.NetworkSpec((10, 5, 10))
    data, labels, params = m.make_problem(spec)
    _, good = m.cost_and_grad(m.cost_spec(spec, bug), data, labels, params)
    bad_cost, bad = m.cost_and_grad(spec, data, labels, params, bug=bug)
    wrong = m.bug_blocks(spec, bug)
    for block in spec.blocks:
        differs = not np.allclose(block.take(bad), block.take(good), rtol=1e-3, atol=1e-8)
        assert differs == (block.name in wrong), block.name
    expected_cost = m.cost(m.cost_spec(spec, bug), data, labels, params)
    assert bad_cost == pytest.approx(expected_cost, rel=1e-12)


def test_w2_transposed_keeps_the_shape_of_a_non_square_w2():
    spec = m.NetworkSpec((10, 5, 10))
    data, labels, params = m.make_problem(spec)
    _, good = m.cost_and_grad(spec, data, labels, params)
    _, bad = m.cost_and_grad(spec, data, labels, params, bug="w2-transposed")
    W2 = spec.block("W2")
    np.testing.assert_allclose(W2.take(bad), W2.take(good).T.reshape(5, 10))


def test_mean_bugs_return_the_cost_they_claim():
    spec = m.NetworkSpec((10, 5, 10))
    assert m.cost_spec(spec, "mean-cost-summed-grad").mean is True
    assert m.cost_spec(m.NetworkSpec((10, 5, 10), mean=True), "summed-cost-mean-grad").mean is False
    assert m.cost_spec(spec, "sign-flip") == spec


@pytest.mark.parametrize(
    "dims, activation, bug, message",
    [
        ((10, 5, 10), "sigmoid", "no-such-bug", "unknown bug"),
        ((10, 10), "sigmoid", "missing-sigmoid-grad", "needs a hidden layer"),
        ((10, 10), "sigmoid", "w2-transposed", "needs a W2"),
        ((10, 1, 10), "sigmoid", "w2-transposed", "vector"),
        ((10, 5, 10), "relu", "sigmoid-grad-of-z", "changes nothing"),
    ],
)
def test_bug_validation(dims, activation, bug, message):
    spec = m.NetworkSpec(dims, activation=activation)
    data, labels, params = m.make_problem(spec, samples=2)
    with pytest.raises(OptionError, match=message):
        m.cost_and_grad(spec, data, labels, params, bug=bug)
