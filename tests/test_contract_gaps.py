"""The contract gaps of the audit: every report's effort, inputs bound by name, a log's
base, a bool cost, the quiet line's width."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gradcheck_cli.cli import ExitCode
from gradcheck_cli.errors import UserCodeError
from gradcheck_cli.usercode import protocols

from conftest import assert_one_error_line


# --------------------------------------------------------------------------- effort in every report


@pytest.mark.parametrize("args", [
    ("expr", "x**2", "--at", "3"),
    ("net", "--dims", "3", "2", "3", "--samples", "4"),
    ("sanity",),
    ("sweep", "sin(x)", "--at", "x=1"),
])
def test_every_built_in_check_reports_its_effort(cli, args):
    r = cli(*args, "--format", "json")
    doc = json.loads(r.out)
    assert r.code == ExitCode.OK, r.err
    assert doc["effort"]["calls"] == 0  # no users' code ran
    assert isinstance(doc["effort"]["seconds"], float) and doc["effort"]["seconds"] >= 0


QUAD = "import numpy as np\ndef quad(x):\n    return float(np.sum(x**2)), 2*x\n"


def test_users_code_effort_has_calls_and_seconds(cli, tmp_path, monkeypatch):
    (tmp_path / "mycode.py").write_text(QUAD)
    monkeypatch.chdir(tmp_path)
    for args in (("func", "mycode.py:quad", "--shape", "3"), ("sweep", "--func", "mycode.py:quad", "--shape", "3")):
        r = cli(*args, "--format", "json")
        effort = json.loads(r.out)["effort"]
        assert r.code == ExitCode.OK, r.err
        assert effort["calls"] > 1 and effort["seconds"] >= 0


# --------------------------------------------------------------------------- a bool is not a cost


@pytest.mark.parametrize("value", [True, False, np.bool_(True), np.array(True)])
def test_a_bool_cost_is_refused(value):
    with pytest.raises(UserCodeError, match="returned a bool"):
        protocols.scalar_cost(value, "f.py:f")
    with pytest.raises(UserCodeError, match="returned a bool"):
        protocols.loss_value(value, "f.py:f")
    assert protocols.scalar_cost(1, "f.py:f") == 1.0 and protocols.scalar_cost(np.int64(2), "f.py:f") == 2.0


def test_func_refuses_a_bool_cost(cli, tmp_path, monkeypatch):
    (tmp_path / "mycode.py").write_text("def f(x):\n    return bool(x.sum() > 0), 2*x\n")
    monkeypatch.chdir(tmp_path)
    assert_one_error_line(cli("func", "mycode.py:f", "--shape", "3"), "mycode.py:f", "bool", "cost")


# --------------------------------------------------------------------------- inputs bind by name


@pytest.fixture
def layers_dir(monkeypatch):
    from pathlib import Path

    monkeypatch.chdir(Path(__file__).parent / "layers")


def test_an_input_named_after_no_parameter_is_refused(cli, layers_dir):
    r = cli("layer", "layers.py:affine", "-i", "x=2,3", "-i", "w=3,4", "-i", "q=5")
    assert_one_error_line(r, "--input q", "affine_forward", "x, w, b")
    ok = cli("layer", "layers.py:affine", "-i", "x=2,3", "-i", "w=3,4", "-i", "b=4", "-q")
    assert ok.code == ExitCode.OK, ok.err


def test_a_param_named_after_no_parameter_is_refused(cli, layers_dir):
    r = cli("layer", "layers.py:affine", "-i", "x=2,3", "-i", "w=3,4", "-i", "b=4", "-p", "momentum=0.9")
    assert_one_error_line(r, "--param momentum", "x, w, b")


def test_star_args_bind_inputs_by_position(cli, tmp_path, monkeypatch):
    (tmp_path / "star.py").write_text(
        "import numpy as np\n"
        "def scale_forward(*arrays):\n    x, w = arrays\n    return x * w, (x, w)\n"
        "def scale_backward(dout, cache):\n    x, w = cache\n    return dout * w, dout * x\n")
    monkeypatch.chdir(tmp_path)
    r = cli("layer", "star.py:scale", "-i", "a=3", "-i", "b=3", "-q")
    assert r.code == ExitCode.OK, r.err
    assert r.out.startswith("6 checks: 6 pass")


# --------------------------------------------------------------------------- a log's base


@pytest.mark.parametrize(("text", "base"), [("log(x, 0)", "0"), ("log(x, 1)", "1"), ("log(x, -2)", "-2"),
                                            ("log(x, 1 - 1)", "0")])
def test_an_invalid_log_base_is_named_with_a_caret(cli, text, base):
    r = cli("expr", text, "--at", "2")
    assert_one_error_line(r, "base of log", f"got {base}")
    assert r.err.splitlines()[1].strip() == text and r.err.splitlines()[2].index("^") == 2 + text.index(",") + 2


def test_a_valid_log_base_still_checks(cli):
    r = cli("expr", "log(x, 2) + log(x, e)", "--at", "2", "-q")
    assert r.code == ExitCode.OK and r.out.startswith("1 check: 1 pass"), r.err


# --------------------------------------------------------------------------- lines fit the terminal


@pytest.mark.parametrize("columns", [60, 80])
def test_the_quiet_worst_line_fits_the_terminal(cli, monkeypatch, columns):
    monkeypatch.setenv("COLUMNS", str(columns))
    r = cli("net", "--dims", "10", "5", "10", "--inject-bug", "missing-sigmoid-grad", "-q")
    lines = r.out.splitlines()
    assert r.code == ExitCode.CHECK_FAILED
    assert all(len(line) <= columns for line in lines), lines
    assert lines[0].startswith("worst: W1[4, 3] FAIL, ") and "rel error 1.5e+00" in lines[0]
    assert "analytic -0.2003997, numeric 0.425977" in r.out  # nothing is lost
    assert lines[-1] == "115 checks: 60 pass, 0 warn, 55 fail"


@pytest.mark.parametrize("columns", [40, 60, 80])
def test_the_bug_list_wraps_its_prose(cli, monkeypatch, columns):
    from gradcheck_cli.network.model import BUGS

    monkeypatch.setenv("COLUMNS", str(columns))
    r = cli("net", "--inject-bug", "list")
    assert r.code == ExitCode.OK
    assert all(len(line) <= columns for line in r.out.splitlines()), r.out
    assert r.out.split() == [w for name, text in BUGS.items() for w in [name, *text.split()]]


def test_latex_stays_on_one_line_and_prose_wraps(cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    r = cli("expr", "sigmoid(x)*y**2", "--at", "x=1,y=2", "--latex", "--show-steps")
    lines = r.out.splitlines()
    latex = [line for line in lines if line.startswith("\\frac")]
    assert len(latex) == 2 and latex[0].endswith("\\operatorname{sigmoid}{\\left(x \\right)}") and len(latex[0]) > 60
    prose = [line for line in lines if line.startswith("derivation of")]
    assert prose and all(len(line.rstrip()) <= 60 for line in prose)
