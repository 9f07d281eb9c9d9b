"""Tests of gradcheck_cli.usercode: loading users' functions and calling them safely."""

from __future__ import annotations

import os
import py_compile
import random
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from gradcheck_cli.errors import LoadError, UserCodeError
from gradcheck_cli.usercode import UserFunction, load_callable


def write(path: Path, source: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return path


def load_error(spec: str, **kwargs) -> str:
    with pytest.raises(LoadError) as info:
        load_callable(spec, **kwargs)
    return str(info.value)


def user_error(fn, *args, **kwargs) -> UserCodeError:
    with pytest.raises(UserCodeError) as info:
        fn(*args, **kwargs)
    return info.value


# --------------------------------------------------------------------------- loading files


def test_loads_a_function_from_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "mycode.py", "def quad(x):\n    return x * x\n")
    assert load_callable("mycode.py:quad")(3) == 9
    assert load_callable(f"{tmp_path / 'mycode.py'}:quad")(4) == 16


def test_dotted_name_inside_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path / "m.py",
        """
        class Model:
            @staticmethod
            def loss(x):
                return 2 * x
        """,
    )
    assert load_callable("m.py:Model.loss")(5) == 10
    assert load_error("m.py:Model.nope") == (
        "cannot load 'm.py:Model.nope': 'Model' in 'm.py' has no attribute 'nope'"
    )


def test_sibling_import_and_full_cleanup(tmp_path, monkeypatch):
    """A CS224n q2_neural.py imports q1_softmax and a package from beside it."""
    monkeypatch.chdir(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    write(elsewhere / "gc_test_extlib.py", "VALUE = 7\n")
    monkeypatch.syspath_prepend(str(elsewhere))
    write(tmp_path / "a1" / "q1_softmax.py", "def softmax(x):\n    return x + 1\n")
    write(tmp_path / "a1" / "gc_helpers" / "__init__.py", "")
    write(tmp_path / "a1" / "gc_helpers" / "sub.py", "def twice(x):\n    return 2 * x\n")
    write(
        tmp_path / "a1" / "q2_neural.py",
        """
        import sys
        import q1_softmax
        import gc_helpers.sub
        import gc_test_extlib
        sys.path.append("/nonexistent/added/by/user")
        def forward(x):
            return gc_helpers.sub.twice(q1_softmax.softmax(x)) + gc_test_extlib.VALUE
        """,
    )
    path_before = list(sys.path)
    path_object = sys.path
    modules_before = set(sys.modules)
    try:
        forward = load_callable("a1/q2_neural.py:forward")
        assert forward(1) == 11
        assert sys.path == path_before
        assert sys.path is path_object
        new = set(sys.modules) - modules_before
        assert new == {"gc_test_extlib"}, new
        assert not any("q2_neural" in name for name in sys.modules)
        assert forward(2) == 13  # the function still works after cleanup
    finally:
        sys.modules.pop("gc_test_extlib", None)


def test_cleanup_also_after_an_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "gc_sib_err.py", "X = 1\n")
    write(tmp_path / "bad.py", "import gc_sib_err\nraise RuntimeError('nope')\n")
    path_before = list(sys.path)
    modules_before = set(sys.modules)
    user_error(load_callable, "bad.py:f")
    assert sys.path == path_before
    assert set(sys.modules) == modules_before


def test_reload_after_same_second_edit_sees_new_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    main = write(tmp_path / "code.py", "import gc_sib_v\ndef f():\n    return 1 + gc_sib_v.V\n")
    sibling = write(tmp_path / "gc_sib_v.py", "V = 10\n")
    # A stale bytecode cache for the sibling, as a normal import would have left it.
    py_compile.compile(str(sibling), doraise=True)
    stamps = {p: os.stat(p) for p in (main, sibling)}
    assert load_callable("code.py:f")() == 11

    main.write_text("import gc_sib_v\ndef f():\n    return 2 + gc_sib_v.V\n")
    sibling.write_text("V = 20\n")  # same size and, below, same mtime as before
    for p, st in stamps.items():
        os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert load_callable("code.py:f")() == 22


def test_loading_writes_no_bytecode(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "gc_sib_nb.py", "V = 1\n")
    write(tmp_path / "nb.py", "import gc_sib_nb\ndef f():\n    return gc_sib_nb.V\n")
    assert load_callable("nb.py:f")() == 1
    assert not (tmp_path / "__pycache__").exists()


def test_dataclasses_work_and_main_block_does_not_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path / "dc.py",
        """
        from __future__ import annotations
        from dataclasses import dataclass

        @dataclass
        class Point:
            x: float

        def f(v):
            return Point(v).x

        if __name__ == "__main__":
            raise SystemExit("the sanity checks must not run")
        """,
    )
    assert load_callable("dc.py:f")(2.5) == 2.5


def test_error_while_loading_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "foo.py", "import math\n\nx = 1 / 0\n")
    err = user_error(load_callable, "foo.py:bar")
    assert str(err) == "error in 'foo.py' while loading it: ZeroDivisionError: division by zero"
    tb = err.user_traceback
    assert tb.startswith("Traceback (most recent call last):\n")
    assert f'File "{tmp_path / "foo.py"}", line 3, in <module>' in tb
    assert "x = 1 / 0" in tb
    assert tb.rstrip().endswith("ZeroDivisionError: division by zero")
    assert "importlib" not in tb
    assert "usercode" not in tb
    assert "gradcheck_cli" not in tb


def test_error_in_a_sibling_while_loading(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "gc_sib_bad.py", "def g():\n    return {}['k']\nY = g()\n")
    write(tmp_path / "top.py", "import gc_sib_bad\n")
    err = user_error(load_callable, "top.py:f")
    assert str(err) == "error in 'top.py' while loading it: KeyError: 'k'"
    tb = err.user_traceback
    lines = [line.strip() for line in tb.splitlines() if line.strip().startswith("File")]
    assert lines == [
        f'File "{tmp_path / "top.py"}", line 1, in <module>',
        f'File "{tmp_path / "gc_sib_bad.py"}", line 3, in <module>',
        f'File "{tmp_path / "gc_sib_bad.py"}", line 2, in g',
    ]


def test_syntax_error_gives_file_and_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "syn.py", "def f(x):\n    return x +\n")
    err = user_error(load_callable, "syn.py:f")
    assert str(err) == (
        "error in 'syn.py' while loading it: SyntaxError: invalid syntax (syn.py, line 2)"
    )
    assert f'File "{tmp_path / "syn.py"}", line 2' in err.user_traceback
    assert "return x +" in err.user_traceback
    assert "importlib" not in err.user_traceback


def test_system_exit_while_loading_is_user_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "ex.py", "import sys\nsys.exit(3)\n")
    err = user_error(load_callable, "ex.py:f")
    assert str(err) == "error in 'ex.py' while loading it: SystemExit: 3"


# --------------------------------------------------------------------------- load errors


def test_load_error_messages(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "foo.py", "import math\nfrom math import sqrt\nLIMIT = 3\n_hidden = 1\n"
          "def quad(x):\n    return x\ndef main():\n    pass\n")
    write(tmp_path / "empty.py", "X = 1\n")
    (tmp_path / "adir").mkdir()

    assert load_error("foo.py") == "cannot load 'foo.py': expected FILE.py:NAME or module:NAME"
    assert load_error("foo.py:") == "cannot load 'foo.py:': no function name after ':'"
    assert load_error(":quad") == "cannot load ':quad': no file or module before ':'"
    assert load_error("foo.py:1x") == "cannot load 'foo.py:1x': '1x' is not a valid Python name"
    assert load_error("nothere.py:bar") == "cannot load 'nothere.py:bar': no file 'nothere.py'"
    assert load_error("sub/nothere:bar") == "cannot load 'sub/nothere:bar': no file 'sub/nothere'"
    assert load_error("adir/:f") == (
        "cannot load 'adir/:f': 'adir/' is a directory, not a Python file"
    )
    assert load_error("foo.py:bar") == (
        "cannot load 'foo.py:bar': 'foo.py' has no function 'bar' (it defines: quad, main)"
    )
    assert load_error("empty.py:bar") == (
        "cannot load 'empty.py:bar': 'empty.py' has no function 'bar' (it defines no functions)"
    )
    assert load_error("foo.py:LIMIT") == (
        "cannot load 'foo.py:LIMIT': 'LIMIT' in 'foo.py' is of type int, not a function"
    )
    assert load_error("foo.py:bar", what="network function") == (
        "cannot load 'foo.py:bar': 'foo.py' has no network function 'bar' (it defines: quad, main)"
    )
    assert load_error("gc_no_such_module:f") == (
        "cannot load 'gc_no_such_module:f': no module 'gc_no_such_module'"
    )
    assert load_error("os.gc_no_such:f") == (
        "cannot load 'os.gc_no_such:f': no module 'os.gc_no_such'"
    )
    assert load_error("a-b:f") == (
        "cannot load 'a-b:f': 'a-b' is neither an existing file nor a module name"
    )
    assert load_error("math:pi") == (
        "cannot load 'math:pi': 'pi' in 'math' is of type float, not a function"
    )


# --------------------------------------------------------------------------- module:NAME


def test_module_spec_resolves_against_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "gc_cwd_mod.py", "import gc_cwd_sib\ndef f(x):\n    return gc_cwd_sib.K * x\n")
    write(tmp_path / "gc_cwd_sib.py", "K = 3\n")
    write(tmp_path / "gc_cwd_pkg" / "__init__.py", "")
    write(tmp_path / "gc_cwd_pkg" / "inner.py", "def g():\n    return 'inner'\n")
    path_before = list(sys.path)
    modules_before = set(sys.modules)
    assert load_callable("gc_cwd_mod:f")(2) == 6
    assert load_callable("gc_cwd_pkg.inner:g")() == "inner"
    assert sys.path == path_before
    assert set(sys.modules) == modules_before

    write(tmp_path / "gc_cwd_sib.py", "K = 4\n")
    assert load_callable("gc_cwd_mod:f")(2) == 8


def test_module_spec_for_installed_modules():
    assert load_callable("math:sqrt")(9.0) == 3.0
    assert load_callable("os.path:join")("a", "b") == os.path.join("a", "b")


def test_module_spec_with_a_broken_import_is_user_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "gc_broken_mod.py", "import gc_definitely_missing\n")
    err = user_error(load_callable, "gc_broken_mod:f")
    assert str(err) == (
        "error in 'gc_broken_mod' while loading it: "
        "ModuleNotFoundError: No module named 'gc_definitely_missing'"
    )
    assert "gc_broken_mod.py\", line 1" in err.user_traceback
    assert "importlib" not in err.user_traceback
    assert "gc_broken_mod" not in sys.modules


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


# --------------------------------------------------------------------------- issue 10: sharp edges


def test_only_python_files_are_loaded_and_never_echoed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    secret = "root:x:0:0:TOPSECRET:/root:/bin/bash\n"
    write(tmp_path / "passwd", secret)
    write(tmp_path / "notes.txt", secret)
    for spec, source in [(f"{tmp_path / 'passwd'}:root", str(tmp_path / "passwd")),
                         ("notes.txt:root", "notes.txt"), ("passwd:root", "passwd")]:
        message = load_error(spec)
        assert message == (
            f"cannot load '{spec}': '{source}' is not a Python file (expected FILE.py:NAME or module:NAME)"
        )
        assert "TOPSECRET" not in message


def test_etc_passwd_is_refused_on_the_command_line(cli):
    if not os.path.isfile("/etc/passwd"):
        pytest.skip("no /etc/passwd here")
    r = cli("func", "/etc/passwd:root")
    assert r.code == 2 and r.out == ""
    assert r.err == ("error: cannot load '/etc/passwd:root': '/etc/passwd' is not a Python file "
                     "(expected FILE.py:NAME or module:NAME)\n")


def test_load_npy_refuses_what_is_not_a_npy_file(tmp_path):
    from gradcheck_cli.usercode import load_npy

    (tmp_path / "text.npy").write_text("1 2 3\n")
    np.savez(tmp_path / "arch.npz", a=np.ones(2))
    np.save(tmp_path / "obj.npy", np.array([1, "a"], dtype=object), allow_pickle=True)
    np.save(tmp_path / "ok.npy", np.arange(3.0))
    cases = {
        "text.npy": "is not a .npy file (write one with np.save)",
        "arch.npz": "is a .npz archive, not a .npy file",
        "obj.npy": "holds Python objects, expected an array of real numbers",
        "missing.npy": "--x: no file",
    }
    for name, message in cases.items():
        with pytest.raises(LoadError) as info:
            load_npy(str(tmp_path / name), "--x")
        assert message in str(info.value) and "allow_pickle" not in str(info.value)
    assert load_npy(str(tmp_path / "ok.npy"), "--x").tolist() == [0.0, 1.0, 2.0]


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
    assert r.code == 2 and r.out == ""
    assert r.err.startswith("error: rnd.py:fresh returned different costs (") and r.err.count("\n") == 1
    assert cli("func", "rnd.py:legacy", "--shape", "3").code == 0


def test_repeatability_allows_a_few_ulps_but_not_more():
    from gradcheck_cli.usercode.function import REPEAT_ULPS, _agree

    a = np.array([1.0, -2.0, np.nan])
    assert _agree(a, a.copy())
    assert _agree(a, a + np.array([8 * np.finfo(float).eps, 0, 0]))
    assert not _agree(a, a + np.array([0, 4 * REPEAT_ULPS * np.finfo(float).eps, 0]))
    assert not _agree(a, np.array([1.0, -2.0, 0.0]))
    assert not _agree(np.array(1.0), np.array(np.inf))
