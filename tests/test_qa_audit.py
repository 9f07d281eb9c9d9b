"""Defects found by an audit of main against the contract, each pinned by a test that
failed before its fix: GRADCHECK_DEBUG keeps exit 3, a JSON document on exit 3, empty
option values are bad input (not a silent default), os._exit in users' code in-process."""

from __future__ import annotations

import json
import textwrap

import pytest

from gradcheck_cli.cli import ExitCode

from conftest import assert_one_error_line


@pytest.fixture
def internal_bug(monkeypatch):
    """A bug of ours: the expression check raises a RuntimeError."""
    import gradcheck_cli.checks.expr as checks_expr

    def boom(*args, **kwargs):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(checks_expr, "check_expression", boom)


def test_internal_error_is_one_line_and_exit_3(cli, internal_bug, monkeypatch):
    monkeypatch.delenv("GRADCHECK_DEBUG", raising=False)
    r = cli("expr", "sin(x)", "--at", "1")
    assert r.code == ExitCode.INTERNAL_ERROR and r.out == ""
    assert r.err.splitlines() == [
        "error: internal error: RuntimeError: simulated bug (set GRADCHECK_DEBUG=1 for a traceback)"]


def test_gradcheck_debug_shows_the_traceback_and_still_exits_3(cli, internal_bug, monkeypatch):
    monkeypatch.setenv("GRADCHECK_DEBUG", "1")
    r = cli("expr", "sin(x)", "--at", "1")
    assert r.code == ExitCode.INTERNAL_ERROR and r.out == ""
    lines = r.err.splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert "RuntimeError: simulated bug" in lines[-2]
    assert lines[-1] == "error: internal error: RuntimeError: simulated bug"


@pytest.mark.parametrize("value", ["0", "", "false"])
def test_gradcheck_debug_off_values_keep_one_line(cli, internal_bug, monkeypatch, value):
    monkeypatch.setenv("GRADCHECK_DEBUG", value)
    r = cli("expr", "sin(x)", "--at", "1")
    assert r.code == ExitCode.INTERNAL_ERROR
    assert len(r.err.splitlines()) == 1 and "Traceback" not in r.err


def test_internal_error_under_format_json_is_one_error_document(cli, internal_bug, monkeypatch):
    monkeypatch.delenv("GRADCHECK_DEBUG", raising=False)
    r = cli("expr", "sin(x)", "--at", "1", "--format", "json")
    assert r.code == ExitCode.INTERNAL_ERROR
    doc = json.loads(r.out)
    assert doc["command"] == "expr" and doc["status"] == "error"
    assert doc["error"].startswith("internal error: RuntimeError: simulated bug")
    assert r.err.splitlines() == [f"error: {doc['error']}"]


@pytest.mark.parametrize("args, option", [
    (["expr", "sin(x)*y", "--wrt", "", "--at", "x=1,y=2"], "--wrt"),
    (["sweep", "sin(x)", "--wrt", "", "--at", "1"], "--wrt"),
])
def test_an_empty_wrt_is_bad_input_not_every_variable(cli, args, option):
    assert_one_error_line(cli(*args), option)


@pytest.fixture
def user_dir(tmp_path, monkeypatch):
    (tmp_path / "code.py").write_text(textwrap.dedent("""
        import os
        import numpy as np

        def quad(x):
            return float(np.sum(x ** 2)), 2 * x

        def exits(x):
            os._exit(0)

        def exits_at_call_2(x, calls=[]):
            calls.append(1)
            if len(calls) == 2:
                os._exit(0)
            return float(np.sum(x ** 2)), 2 * x
        """))
    (tmp_path / "layer.py").write_text(textwrap.dedent("""
        import numpy as np

        def relu_forward(x):
            return np.maximum(x, 0), x

        def relu_backward(dout, cache):
            return dout * (cache > 0)
        """))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_an_empty_shape_is_bad_input_not_a_scalar(cli, user_dir):
    assert_one_error_line(cli("func", "code.py:quad", "--shape", ""), "--shape")
    assert cli("func", "code.py:quad", "--shape", "scalar", "-q").out == "1 check: 1 pass, 0 warn, 0 fail\n"


def test_an_empty_input_shape_is_bad_input_not_a_scalar(cli, user_dir):
    assert_one_error_line(cli("layer", "layer.py:relu", "-i", "x=int:3:"), "--input x")


@pytest.mark.parametrize("name", ["exits", "exits_at_call_2"])
def test_os_exit_in_their_code_in_process_is_their_error_not_a_silent_exit_0(cli, user_dir, name):
    """In-process (no --isolate) os._exit(0) used to end gradcheck with exit 0 and
    nothing printed: a CI gate green on no check."""
    import os

    real_exit = os._exit
    r = cli("func", f"code.py:{name}")
    assert r.code == ExitCode.BAD_INPUT and r.out == ""
    assert r.err.startswith(f"error: code.py:{name} raised ProcessExit: os._exit(0)")
    assert "code.py" in r.err.splitlines()[2]  # their traceback: the line that called os._exit
    assert os._exit is real_exit  # put back after their code ran


def test_a_relative_import_names_the_module_form_that_works_from_another_folder(cli, tmp_path, monkeypatch):
    """``sib/pkg/mod.py`` (sib itself no package) used to be named 'sib.pkg.mod:f', which
    fails; the package starts at the topmost folder with an ``__init__.py``."""
    pkg = tmp_path / "sib" / "pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "helper.py").write_text("def sq(x):\n    return x ** 2\n")
    (pkg / "mod.py").write_text("import numpy as np\nfrom .helper import sq\n"
                                "def f(x):\n    return float(np.sum(sq(x))), 2 * x\n")
    monkeypatch.chdir(tmp_path)
    r = cli("func", "sib/pkg/mod.py:f")
    assert r.code == ExitCode.BAD_INPUT
    assert "load it as 'pkg.mod:f' from the folder above the package ('sib')" in r.err.splitlines()[0]
    monkeypatch.chdir(tmp_path / "sib")
    assert cli("func", "pkg.mod:f", "-q").code == ExitCode.OK  # the form it names works


@pytest.mark.parametrize("name, what", [("QUAD.PY", "source file"), ("Model.Py", "source file"),
                                        ("x.npy", "data file"), ("inputs.NPZ", "data file")])
def test_junit_never_over_code_or_data_whatever_the_case(cli, user_dir, name, what):
    """On a case-insensitive disk (macOS, Windows) QUAD.PY is quad.py; --x x.npy is the data."""
    r = cli("func", "code.py:quad", "--junit", name)
    assert_one_error_line(r, "--junit", what)
    assert not (user_dir / name).exists()


NET = """
import numpy as np

def fbp(data, labels, params, dimensions):
    Dx, H, Dy = dimensions
    W1 = params[:Dx * H].reshape(Dx, H); o = Dx * H
    b1 = params[o:o + H].reshape(1, H); o += H
    W2 = params[o:o + H * Dy].reshape(H, Dy); o += H * Dy
    b2 = params[o:o + Dy].reshape(1, Dy)
    h = 1 / (1 + np.exp(-(data @ W1 + b1)))
    z = h @ W2 + b2
    e = np.exp(z - z.max(1, keepdims=True))
    yhat = e / e.sum(1, keepdims=True)
    cost = -np.sum(labels * np.log(yhat))
    d2 = yhat - labels
    dz1 = (d2 @ W2.T) * h * (1 - h)
    grad = np.concatenate([(data.T @ dz1).ravel(), dz1.sum(0).ravel(), (h.T @ d2).ravel(), d2.sum(0).ravel()])
    return SCALE * cost, SCALE * grad
"""


@pytest.mark.parametrize("quiet", [True, False])
def test_a_failing_cost_check_is_named_in_the_summary_line(cli, tmp_path, monkeypatch, quiet):
    """Gradients consistent with a doubled cost: every entry passes, the cost check fails,
    exit 1; the summary line used to read '23 pass, 0 fail' with no reason for the 1."""
    (tmp_path / "mine.py").write_text(NET.replace("SCALE", "2") + "\n")
    (tmp_path / "ok.py").write_text(NET.replace("SCALE", "1") + "\n")
    monkeypatch.chdir(tmp_path)
    flags = ["-q"] if quiet else []
    r = cli("net", "--dims", "4", "3", "2", "--impl", "mine.py:fbp", *flags)
    assert r.code == ExitCode.CHECK_FAILED
    last = r.out.splitlines()[-1]
    assert last.startswith("23 checks: 23 pass, 0 warn, 0 fail; cost check FAIL (yours ")
    assert "rel error 5.0e-01" in last
    ok = cli("net", "--dims", "4", "3", "2", "--impl", "ok.py:fbp", *flags)
    assert ok.code == ExitCode.OK and ok.out.splitlines()[-1] == "23 checks: 23 pass, 0 warn, 0 fail"
