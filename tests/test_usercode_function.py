"""Tests of gradcheck_cli.usercode.function (UserFunction) and protocols: calling users' code safely, validating what it returns."""

from __future__ import annotations

import random
import textwrap
from pathlib import Path

import numpy as np
import pytest

from gradcheck_cli.errors import LoadError, UserCodeError
from gradcheck_cli.usercode import UserFunction, load_callable
from gradcheck_cli.cli import ExitCode

from usercode_helpers import load_error, user_error, write  # noqa: F401


# --------------------------------------------------------------------------- random state


RANDOM_USER = """
import random
import numpy as np

def f(x):
    noise = np.random.randn()
    return float(np.sum(x ** 2) + noise), 2 * x + noise

def py(x):
    return random.random() + np.random.rand()
"""


def test_every_call_sees_the_same_random_numbers(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "rnd.py", RANDOM_USER)
    np.random.seed(123)
    random.seed(5)
    uf = UserFunction(load_callable("rnd.py:f"), "rnd.py:f")
    x = np.arange(3.0)

    np.random.seed(999)  # the caller moves on; the function must not notice
    state_before = np.random.get_state()
    cost1, grad1 = uf.cost_and_grad(x, grad_shape=(3,))
    cost2, grad2 = uf.cost_and_grad(x, grad_shape=(3,))
    assert cost1 == cost2
    np.testing.assert_array_equal(grad1, grad2)

    state_after = np.random.get_state()
    assert state_after[0] == state_before[0]
    np.testing.assert_array_equal(state_after[1], state_before[1])
    assert state_after[2:] == state_before[2:]

    np.random.seed(123)  # the state the UserFunction captured when it was made
    noise = np.random.randn()
    assert cost1 == 5.0 + noise
    np.testing.assert_array_equal(grad1, 2 * x + noise)


def test_caller_rng_state_is_untouched(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "rnd.py", RANDOM_USER)
    uf = UserFunction(load_callable("rnd.py:py"), "rnd.py:py")
    np.random.seed(7)
    random.seed(8)
    np_before, py_before = np.random.get_state(), random.getstate()
    a = uf.call(np.zeros(1))
    b = uf.call(np.zeros(1))
    assert a == b
    np_after = np.random.get_state()
    assert np_after[0] == np_before[0]
    np.testing.assert_array_equal(np_after[1], np_before[1])
    assert np_after[2:] == np_before[2:]
    assert random.getstate() == py_before


def test_rng_restored_even_when_the_function_raises():
    def bad(x):
        np.random.randn(5)
        random.random()
        raise ValueError("boom")

    uf = UserFunction(bad, "m.py:bad")
    np.random.seed(1)
    random.seed(2)
    expected_np, expected_py = np.random.rand(), random.random()
    np.random.seed(1)
    random.seed(2)
    user_error(uf.call, 1.0)
    assert (np.random.rand(), random.random()) == (expected_np, expected_py)


# --------------------------------------------------------------------------- mutation


def test_mutation_detected_restored_and_reported():
    def quad(x):
        x[0, 1] = 0.0
        return float(np.sum(x**2)), 2 * x

    uf = UserFunction(quad, "mycode.py:quad")
    x = np.array([[1.0, 0.5], [2.0, 3.0]])
    original = x.copy()
    err = user_error(uf.cost_and_grad, x, grad_shape=(2, 2))
    assert str(err) == "mycode.py:quad modified its input in place: x[0, 1] changed from 0.5 to 0.0"
    assert err.user_traceback == ""
    np.testing.assert_array_equal(x, original)


def test_mutation_of_a_later_argument_and_unnamed_arguments():
    def net(data, labels, params, dims):
        params[3] += 1.0
        return 0.0, np.zeros_like(params)

    params = np.zeros(5)
    err = user_error(UserFunction(net, "n.py:net").call, np.ones((2, 2)), np.ones(2), params, [1])
    assert str(err) == "n.py:net modified its input in place: params[3] changed from 0.0 to 1.0"
    assert params[3] == 0.0

    def star(*args):
        args[0][...] = 2.0

    scalar = np.array(1.0)
    err = user_error(UserFunction(star, "s.py:star").call, scalar)
    assert str(err) == "s.py:star modified its input in place: argument 1 changed from 1.0 to 2.0"
    assert scalar == 1.0


def test_nan_inputs_are_not_a_mutation():
    uf = UserFunction(lambda x: float(np.nansum(x)), "n.py:f")
    assert uf.cost_only(np.array([np.nan, 1.0])) == 1.0


def test_shape_change_in_place_is_reported():
    def reshape(x):
        x.shape = (4,)
        return 0.0

    x = np.zeros((2, 2))
    err = user_error(UserFunction(reshape, "r.py:reshape").call, x)
    assert str(err) == (
        "r.py:reshape modified its input in place: the shape of x changed from (2, 2) to (4,)"
    )
    assert x.shape == (2, 2)


def test_input_restored_when_function_mutates_then_raises():
    def f(x):
        x[:] = 9.0
        raise RuntimeError("late")

    x = np.ones(3)
    err = user_error(UserFunction(f, "m.py:f").call, x)
    assert str(err) == "m.py:f raised RuntimeError: late"
    np.testing.assert_array_equal(x, np.ones(3))


# --------------------------------------------------------------------------- exceptions


def test_user_exception_message_and_traceback(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path / "mycode.py",
        "def helper(x):\n    return x / 0\n\ndef quad(x):\n    return helper(x)\n",
    )
    uf = UserFunction(load_callable("mycode.py:quad"), "mycode.py:quad")
    err = user_error(uf.call, 1)
    assert str(err) == "mycode.py:quad raised ZeroDivisionError: division by zero"
    tb = err.user_traceback
    files = [line.strip() for line in tb.splitlines() if line.strip().startswith("File")]
    assert files == [
        f'File "{tmp_path / "mycode.py"}", line 5, in quad',
        f'File "{tmp_path / "mycode.py"}", line 2, in helper',
    ]
    assert "usercode" not in tb
    assert tb.rstrip().endswith("ZeroDivisionError: division by zero")


def test_exception_without_message_and_system_exit():
    def f(x):
        raise ValueError

    def g(x):
        raise SystemExit(4)

    assert str(user_error(UserFunction(f, "a.py:f").call, 1)) == "a.py:f raised ValueError"
    assert str(user_error(UserFunction(g, "a.py:g").call, 1)) == "a.py:g raised SystemExit: 4"


def test_keyboard_interrupt_propagates_untouched():
    def f(x):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        UserFunction(f, "k.py:f").call(1)


# --------------------------------------------------------------------------- results


def test_cost_and_grad_returns_float_and_float64_copy():
    grad = np.arange(6, dtype=np.float32).reshape(2, 3)
    uf = UserFunction(lambda x: (np.float32(1.5), grad), "q.py:f")
    cost, g = uf.cost_and_grad(np.zeros((2, 3)), grad_shape=(2, 3))
    assert type(cost) is float and cost == 1.5
    assert g.dtype == np.float64 and g.shape == (2, 3)
    assert g is not grad and not np.shares_memory(g, grad)
    np.testing.assert_array_equal(g, grad)


@pytest.mark.parametrize(
    "cost",
    [2.0, 2, np.float64(2.0), np.array(2.0), np.array([2.0]), np.array([[2]]), True * 2],
)
def test_accepted_costs(cost):
    uf = UserFunction(lambda x: (cost, [1.0, 2.0]), "q.py:f")
    c, g = uf.cost_and_grad(np.zeros(2), grad_shape=(2,))
    assert c == 2.0
    np.testing.assert_array_equal(g, [1.0, 2.0])


@pytest.mark.parametrize(
    "result, message",
    [
        (1.0, "q.py:f returned a single number (1.0), expected a pair (cost, grad)"),
        ((1.0, 2.0, 3.0), "q.py:f returned a tuple of 3 items, expected a pair (cost, grad)"),
        (None, "q.py:f returned None, expected a pair (cost, grad)"),
        ((np.ones(3), np.zeros((3, 4))), "q.py:f returned a cost of shape (3,), expected a scalar"),
        ((np.nan, np.zeros((3, 4))), "q.py:f returned a non-finite cost (nan)"),
        ((-np.inf, np.zeros((3, 4))), "q.py:f returned a non-finite cost (-inf)"),
        (("1.0", np.zeros((3, 4))), "q.py:f returned a cost of type str, expected a real scalar"),
        ((1 + 2j, np.zeros((3, 4))), "q.py:f returned a complex cost, expected a real scalar"),
        ((None, np.zeros((3, 4))), "q.py:f returned None as the cost, expected a real scalar"),
        (
            (1.0, np.zeros(12)),
            "q.py:f returned a gradient of shape (12,), expected (3, 4) (the shape of x)",
        ),
        (
            (1.0, np.zeros((4, 3))),
            "q.py:f returned a gradient of shape (4, 3), expected (3, 4) (the shape of x)",
        ),
        (
            (1.0, None),
            "q.py:f returned None as the gradient, expected a real array of shape (3, 4)",
        ),
        (
            (1.0, "abc"),
            "q.py:f returned a gradient of type str, expected a real array of shape (3, 4)",
        ),
        (
            (1.0, np.zeros((3, 4), dtype=complex)),
            "q.py:f returned a complex gradient, expected a real array of shape (3, 4)",
        ),
    ],
)
def test_bad_results(result, message):
    def f(x):
        return result

    err = user_error(UserFunction(f, "q.py:f").cost_and_grad, np.zeros((3, 4)), grad_shape=(3, 4))
    assert str(err) == message


def test_shape_message_without_a_matching_argument():
    uf = UserFunction(lambda d, p: (0.0, np.zeros(3)), "n.py:net")
    err = user_error(uf.cost_and_grad, np.zeros(2), [1, 2], grad_shape=(5,))
    assert str(err) == "n.py:net returned a gradient of shape (3,), expected (5,)"


def test_non_finite_gradient_entries_are_allowed():
    uf = UserFunction(lambda x: (1.0, np.array([np.nan, np.inf])), "q.py:f")
    cost, grad = uf.cost_and_grad(np.zeros(2), grad_shape=(2,))
    assert cost == 1.0
    assert np.isnan(grad[0]) and np.isinf(grad[1])


def test_cost_only():
    assert UserFunction(lambda x: np.array([[3.0]]), "c.py:f").cost_only(np.zeros(2)) == 3.0
    err = user_error(UserFunction(lambda x: (1.0, x), "c.py:f").cost_only, np.zeros(2))
    assert str(err) == "c.py:f returned a tuple of 2 items, expected a scalar cost"
    err = user_error(UserFunction(lambda x: np.inf, "c.py:f").cost_only, np.zeros(2))
    assert str(err) == "c.py:f returned a non-finite cost (inf)"
    err = user_error(UserFunction(lambda x: x, "c.py:f").cost_only, np.zeros(2))
    assert str(err) == "c.py:f returned a cost of shape (2,), expected a scalar"


UNSEEDED = """
import numpy as np
KEPT = np.random.default_rng(0)
def fresh(x):
    return float(np.sum(x**2) + 1e-3 * np.random.default_rng().normal()), 2 * x
def kept(x):
    return float(np.sum(x**2)), 2 * x + KEPT.normal(size=x.shape)
def legacy(x):
    mask = np.random.rand(*x.shape) > 0.5
    return float(np.sum(mask * x**2)), 2 * mask * x
def cost_only(x):
    return float(np.sum(x**2) + np.random.default_rng().normal())
"""


def test_randomness_that_cannot_be_reset_is_detected(tmp_path, monkeypatch):
    """issue 10 item 9: two calls at the same x that disagree are refused, with the reason."""
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "rnd.py", UNSEEDED)
    x = np.arange(3.0)
    for name, what in [("fresh", "different costs ("), ("kept", "different gradients")]:
        uf = UserFunction(load_callable(f"rnd.py:{name}"), f"rnd.py:{name}")
        err = user_error(uf.cost_and_grad, x, grad_shape=(3,))
        assert f"rnd.py:{name} returned {what}" in str(err)
        assert "np.random.default_rng()" in str(err)
    uf = UserFunction(load_callable("rnd.py:cost_only"), "rnd.py:cost_only")
    assert "different costs" in str(user_error(uf.cost_only, x))
    # numpy.random's legacy state is reset before every call: that randomness is fine
    uf = UserFunction(load_callable("rnd.py:legacy"), "rnd.py:legacy")
    assert uf.cost_and_grad(x, grad_shape=(3,))[0] == uf.cost_and_grad(x, grad_shape=(3,))[0]


def test_unseeded_randomness_exits_2_on_the_command_line(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "rnd.py", UNSEEDED)
    r = cli("func", "rnd.py:fresh", "--shape", "3")
    assert r.code == ExitCode.BAD_INPUT and r.out == ""
    assert r.err.startswith("error: rnd.py:fresh returned different costs (") and r.err.count("\n") == 1
    assert cli("func", "rnd.py:legacy", "--shape", "3").code == ExitCode.OK


def test_repeatability_allows_a_few_ulps_but_not_more():
    from gradcheck_cli.usercode.function import REPEAT_ULPS, _agree

    a = np.array([1.0, -2.0, np.nan])
    assert _agree(a, a.copy())
    assert _agree(a, a + np.array([8 * np.finfo(float).eps, 0, 0]))
    assert not _agree(a, a + np.array([0, 4 * REPEAT_ULPS * np.finfo(float).eps, 0]))
    assert not _agree(a, np.array([1.0, -2.0, 0.0]))
    assert not _agree(np.array(1.0), np.array(np.inf))
