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


# --------------------------------------------------------------------------- large inputs: read-only, not copied

#: entries of a "large" input (160 KB: over the 64 KiB that are copied; passed read-only)
LARGE = 20_000


def large_x() -> np.ndarray:
    return np.linspace(-1.0, 1.0, LARGE)


def calls_in_a_session(uf, x, n, perturb=True):
    """``n`` calls as a check makes them: one entry changed before each, put back after."""
    out = []
    with uf.session():
        for k in range(n):
            i = k % x.size
            old = x.flat[i]
            if perturb:
                x.flat[i] = old + 0.5
            try:
                out.append(uf.call(x))
            finally:
                x.flat[i] = old
    return out


def test_a_large_input_changed_and_left_is_caught_at_any_call():
    # the change happens only at one x (no "first calls are copied" luck): the entry
    # changed is named, the input is restored and writeable again
    def f(x):
        if x[2] > 0.0:  # only at the third call, the first one not copied
            x[1234] = 7.0
        return float(x @ x)

    x = large_x()
    x[:3] = -0.25  # calls 1, 2 raise x[0], x[1]; call 3 raises x[2] to 0.25
    original = x.copy()
    uf = UserFunction(f, "m.py:f")
    with pytest.raises(UserCodeError) as info:
        calls_in_a_session(uf, x, 5)
    assert str(info.value) == f"m.py:f modified its input in place: x[1234] changed from {float(original[1234])!r} to 7.0"
    np.testing.assert_array_equal(x, original)
    assert x.flags.writeable


def test_a_large_input_changed_and_changed_back_is_not_a_mutation():
    counter = [0]

    def f(x):
        counter[0] += 1
        x[5] += 1.0  # a course-style probe inside the user's code, undone before returning
        value = float(np.sum(x**2))
        x[5] -= 1.0
        return value

    x = large_x()
    original = x.copy()
    results = calls_in_a_session(UserFunction(f, "p.py:f"), x, 6, perturb=False)
    probed = original.copy()
    probed[5] += 1.0
    assert results == [float(np.sum(probed**2))] * 6
    np.testing.assert_array_equal(x, original)
    assert counter[0] == 7  # the first call was refused read-only and made again, writable and copied


def test_every_call_of_the_function_is_counted_and_its_error_is_its_own():
    counter = [0]

    def f(x):
        counter[0] += 1
        raise ArithmeticError("their bug")

    uf = UserFunction(f, "b.py:f")
    x = large_x()
    err = user_error(uf.call, x)
    assert str(err) == "b.py:f raised ArithmeticError: their bug"
    assert "their bug" in err.user_traceback
    assert uf.calls == counter[0] == 2  # read-only, then once more writable
    assert x.flags.writeable


def test_large_inputs_are_read_only_during_the_call_and_what_it_returns_is_writeable():
    seen = []

    def forward(x, w):
        seen.append((x.flags.writeable, w.flags.writeable))
        out = x.reshape(-1, 100)  # a view of x (read-only while the call runs)
        return out, {"cache": (x.T, w[:10])}

    x, w = large_x(), np.arange(5.0)
    caller_read_only = large_x()
    caller_read_only.flags.writeable = False
    uf = UserFunction(forward, "l.py:forward")
    with uf.session():
        for _ in range(3):
            out, cache = uf.call(x, w)
            out[0, 0] += 1.0  # the checker may use the output as its own array
            out[0, 0] -= 1.0
            assert cache["cache"][0].flags.writeable and cache["cache"][1].flags.writeable
            uf.call(caller_read_only, w)
    assert seen[-2:] == [(False, True), (False, True)]  # small inputs are copied instead
    assert x.flags.writeable and not caller_read_only.flags.writeable


def test_a_view_passed_read_only_with_the_array_it_views():
    def f(x):
        return float(x.base.flags.writeable) + float(x.flags.writeable)

    owner = large_x()
    uf = UserFunction(f, "v.py:f")
    with uf.session():
        assert [uf.call(owner.reshape(200, 100)) for _ in range(3)] == [0.0] * 3
    assert owner.flags.writeable


HOSTILE = """
import ctypes
import numpy as np

def flips(x):
    if x[0, 2] > 0:  # at the 3rd call (calls 1, 2, 4, 8... are copied)
        x.base.flags.writeable = True
        x.flags.writeable = True
        x[0, 0] = 42.0
    return float(np.sum(x))

def flips_at_once(x):
    x.base.flags.writeable = True
    x.flags.writeable = True
    x[0, 1] = 42.0
    return float(np.sum(x))

def raw_write(x):
    ctypes.c_double.from_address(x.ctypes.data + 8 * 7).value = -1.0
    return float(np.sum(x))
"""


def test_hostile_changes_of_a_large_input_are_caught(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "hostile.py", HOSTILE)
    for name, message in [
        ("flips_at_once", r"modified its input in place: x\[0, 1\] changed from -0.25 to 42.0$"),
        ("raw_write", rf"modified its input in place: x\[0, 7\] changed from {float(large_x()[7])!r} to -1.0$"),
        ("flips", r"made its input x writeable \(x.flags.writeable = True\), so gradcheck cannot tell whether "
                  r"it changed it .*: copy it first \(x = x.copy\(\)\)"),
    ]:
        uf = UserFunction(load_callable(f"hostile.py:{name}"), f"hostile.py:{name}")
        owner = large_x()
        owner[:4] = -0.25
        x = owner.reshape(200, 100)
        with pytest.raises(UserCodeError, match=message):
            with uf.session():
                for k in range(4):
                    owner[k] += 0.5
                    uf.call(x)
                    owner[k] -= 0.5
        if name != "flips":  # copied calls are restored; a flip at another call cannot be undone
            np.testing.assert_array_equal(owner[4:], large_x()[4:])
        assert owner.flags.writeable and x.flags.writeable


def test_a_function_that_flips_the_flag_harmlessly_is_copied_from_then_on():
    def f(x):
        x.flags.writeable = True  # x owns its memory: allowed
        return float(x[0])

    x = large_x()
    uf = UserFunction(f, "h.py:f")
    assert calls_in_a_session(uf, x, 5) == [x[0] + 0.5] + [x[0]] * 4
    assert uf._writes_inputs


def test_shape_change_of_a_large_input_is_reported_and_undone():
    def reshape(x):
        x.shape = (100, 200)
        return 0.0

    x = large_x().reshape(200, 100)
    uf = UserFunction(reshape, "r.py:reshape")
    with uf.session():
        err = user_error(uf.call, x)
    assert str(err) == "r.py:reshape modified its input in place: the shape of x changed from (200, 100) to (100, 200)"
    assert x.shape == (200, 100)


def _at_call_3(action):
    """A function of a large x (owning its memory) that does ``action(x)`` from its 3rd call
    on: the first call that does not copy x (calls 1, 2, 4, 8, ... copy)."""
    calls = [0]

    def f(x):
        calls[0] += 1
        if calls[0] >= 3:
            return action(x)
        return float(x[0]), x + 1.0

    return f


def _reshaped(x):
    x.shape = (100, LARGE // 100)
    return 0.0


def _flipped(x):
    x.flags.writeable = True
    x[3] = 9.0
    return 0.0


def _raises(x):
    raise ValueError("at the third call")


@pytest.mark.parametrize("action, message", [
    (_reshaped, f"f modified its input in place: the shape of x changed from ({LARGE},) to (100, {LARGE // 100})"),
    (_flipped, "f made its input x writeable (x.flags.writeable = True), so gradcheck cannot tell"),
    (_raises, "f raised ValueError: at the third call"),
])
def test_the_common_call_of_a_large_input_keeps_every_guard(action, message):
    # calls that copy nothing (3, 5, 6, 7, 9...) take the short path of the wrapper: a shape
    # changed in place, the flag set back, an exception are caught there too
    x = large_x().copy()  # owning its memory (linspace's result is a view)
    original = x.copy()
    uf = UserFunction(_at_call_3(action), "f")
    with uf.session():
        for _ in range(2):
            uf.call(x)
        err = user_error(uf.call, x)
    assert str(err).startswith(message)
    assert x.shape == original.shape and x.flags.writeable
    if action is not _flipped:  # a flip at a call that copied nothing cannot be undone (the message says so)
        np.testing.assert_array_equal(x, original)


def test_a_view_returned_by_the_common_call_is_writeable_then_read_only_at_later_calls():
    seen = []

    def f(x):
        seen.append(x.flags.writeable)
        return 0.0, x[::2]  # a view of the read-only input

    x = large_x().copy()  # owning its memory (linspace's result is a view)
    uf = UserFunction(f, "f")
    with uf.session():
        kept = [uf.call(x)[1] for _ in range(3)]
        assert all(v.flags.writeable for v in kept)  # the caller may use them
        uf.call(x)
        assert kept[2].flags.writeable
    assert seen == [False] * 4 and x.flags.writeable


def test_the_common_call_counts_and_times_every_call():
    uf = UserFunction(lambda x: (float(x[0]), x.copy()), "f")
    x = large_x().copy()  # owning its memory (linspace's result is a view)
    with uf.session():
        for _ in range(10):
            uf.call(x)
    assert uf.calls == 10 and uf.seconds > 0 and x.flags.writeable


def test_cost_of_goes_through_a_subclass_call():
    # an isolated function (usercode.isolate) overrides call to run in its child: the short
    # path of cost_of must not run fn here instead
    seen = []

    class Elsewhere(UserFunction):
        def call(self, *args):
            seen.append(args[0].shape)
            return super().call(*args)

    uf = Elsewhere(lambda x: (float(x @ x), 2 * x), "e")
    x = large_x().copy()
    with uf.session():
        cost = uf.cost_of(x.shape)
        values = [cost(x) for _ in range(6)]
    assert values == [float(x @ x)] * 6
    assert len(seen) == uf.calls == 7  # the first call made twice (repeatability), then one each


TORCH_LIKE = "The given NumPy array is not writable, and PyTorch does not support non-writable tensors."


def test_torch_read_only_warning_is_not_shown_for_our_inputs(capsys):
    def f(x):  # what torch.from_numpy does with a read-only array
        if not x.flags.writeable:
            import warnings

            warnings.warn(TORCH_LIKE, UserWarning)
        return float(x[0])

    x = large_x()
    assert calls_in_a_session(UserFunction(f, "t.py:f"), x, 3) == [x[0] + 0.5, x[0], x[0]]
    assert TORCH_LIKE not in capsys.readouterr().err
    mine = large_x()
    mine.flags.writeable = False  # the user's own read-only array: torch's warning as before
    with pytest.warns(UserWarning, match="not writable"):
        assert UserFunction(f, "t.py:f").call(mine[:10]) == -1.0


def test_a_writeable_view_of_a_read_only_array_is_copied_and_stays_writeable():
    def f(x):
        x[0] = 5.0  # left changed: caught
        return 0.0

    owner = large_x()
    view = owner.reshape(100, 200)
    owner.flags.writeable = False  # the view keeps its own flag
    uf = UserFunction(lambda x: float(x[0, 0]), "w.py:f")
    with uf.session():
        assert [uf.call(view) for _ in range(3)] == [-1.0] * 3
    assert view.flags.writeable and not owner.flags.writeable
    err = user_error(UserFunction(f, "w.py:f").call, view)
    assert str(err) == "w.py:f modified its input in place: x[0, 0] changed from -1.0 to 5.0"
    assert view[0, 0] == -1.0


def test_two_views_of_one_array_are_both_passed_read_only():
    seen = []

    def f(a, b):
        seen.append((a.flags.writeable, b.flags.writeable))
        return float(a[0] + b[0])

    flat = np.linspace(0.0, 1.0, 2 * LARGE)
    uf = UserFunction(f, "t.py:f")
    with uf.session():
        for _ in range(3):
            uf.call(flat[:LARGE], flat[LARGE:])
    assert seen == [(False, False)] * 3 and flat.flags.writeable


KEEPS_A_VIEW = """
import numpy as np

kept = []

def f(x):
    if kept and x[0] > 0:  # a later call writes through the view an earlier one returned
        kept[0][0, 3] = 99.0
    view = x.reshape(100, -1)
    kept[:] = [view]
    return float(np.sum(x)), view
"""


def test_a_returned_view_kept_by_the_code_is_read_only_at_later_calls(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "keeps.py", KEEPS_A_VIEW)
    uf = UserFunction(load_callable("keeps.py:f"), "keeps.py:f")
    x = large_x()
    x[0] = -0.25
    original = x.copy()
    with uf.session():
        _, view = uf.call(x)
        assert view.flags.writeable  # returned: usable as the caller's own array
        uf.call(x)
        x[0] = 0.25  # the third call (not one that copies) takes the branch that writes
        err = user_error(uf.call, x)
    assert str(err) == f"keeps.py:f modified its input in place: x[3] changed from {float(original[3])!r} to 99.0"
    x[0] = -0.25
    np.testing.assert_array_equal(x, original)
