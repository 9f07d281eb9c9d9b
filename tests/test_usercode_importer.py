"""Tests of gradcheck_cli.usercode.importer: FILE.py:NAME and module:NAME, imported as python FILE.py would."""

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
from gradcheck_cli.usercode import load_callable
from gradcheck_cli.cli import ExitCode

from usercode_helpers import load_error, user_error, write  # noqa: F401


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
    assert r.code == ExitCode.BAD_INPUT and r.out == ""
    assert r.err == ("error: cannot load '/etc/passwd:root': '/etc/passwd' is not a Python file "
                     "(expected FILE.py:NAME or module:NAME)\n")


# --------------------------------------------------------------------------- imports at call time


def test_sibling_imports_work_inside_the_function_at_call_time(tmp_path, monkeypatch):
    """`from utils import softmax` inside the body: their folder is on sys.path during calls."""
    from gradcheck_cli.usercode import load_seeded

    monkeypatch.chdir(tmp_path)
    write(tmp_path / "hw" / "gc_utils_late.py", "def twice(x):\n    return 2 * x\n")
    write(tmp_path / "hw" / "late.py", """
        import numpy as np
        def f(x):
            from gc_utils_late import twice
            return float(np.sum(x ** 2)), twice(x)
        """)
    path_before, modules_before = list(sys.path), set(sys.modules)
    (fu,) = load_seeded([("hw/late.py:f", "function")], 0)
    x = np.arange(3.0)
    with fu.session():
        assert fu.cost_and_grad(x, grad_shape=x.shape)[1].tolist() == [0.0, 2.0, 4.0]
    assert fu.call(x)[1].tolist() == [0.0, 2.0, 4.0]  # outside a session too
    assert sys.path == path_before
    new = {m for m in set(sys.modules) - modules_before if m.partition(".")[0] != "threadpoolctl"}
    assert not new  # their modules kept aside between calls
    assert "gc_utils_late" not in sys.modules


def test_their_random_py_is_theirs_and_ours_stays_ours(tmp_path, monkeypatch):
    """A ./random.py beside their file is the `random` their code imports (as under
    `python FILE.py`), while gradcheck keeps the standard library's."""
    from gradcheck_cli.usercode import load_seeded

    monkeypatch.chdir(tmp_path)
    write(tmp_path / "random.py", "MINE = 'theirs'\n")
    write(tmp_path / "shadow.py", """
        import random
        import numpy as np
        def f(x):
            import random as again
            assert again is random
            return float(np.sum(x ** 2)) + len(random.MINE), 2 * x
        """)
    stdlib_random = sys.modules["random"]
    (fu,) = load_seeded([("shadow.py:f", "function")], 0)
    x = np.arange(3.0)
    with fu.session():
        assert fu.cost_and_grad(x, grad_shape=x.shape)[0] == 5.0 + 6
        # between two calls (our code running) everything is ours again
        assert sys.modules["random"] is stdlib_random
        assert str(tmp_path) not in sys.path
        assert fu.cost_and_grad(x, grad_shape=x.shape)[0] == 5.0 + 6
    assert sys.modules["random"] is stdlib_random
    assert hasattr(random, "getstate")


def test_a_relative_import_names_the_module_form(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "pkg" / "__init__.py", "")
    write(tmp_path / "pkg" / "helpers.py", "def twice(x):\n    return 2 * x\n")
    write(tmp_path / "pkg" / "model.py", "from .helpers import twice\ndef f(x):\n    return twice(x)\n")
    err = user_error(load_callable, "pkg/model.py:f")
    assert str(err).startswith("error in 'pkg/model.py' while loading it: ImportError: attempted relative import")
    assert "load it as 'pkg.model:f' from the folder above the package" in str(err)
    assert load_callable("pkg.model:f")(3) == 6  # and the form it names works
