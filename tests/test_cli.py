"""cli.py: exit codes, one-line errors, output formats (expr; other commands have their own files)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import assert_one_error_line
from gradcheck_cli.cli import ExitCode, app




def test_correct_gradient_exits_0_with_table(cli):
    r = cli("expr", "sin(x)-cos(x)")
    assert r.code == ExitCode.OK and r.err == ""
    assert "d/dx = sin(x) + cos(x)" in r.out
    assert r.out.count("PASS") == 3
    assert r.out.rstrip().endswith("3 checks: 3 pass, 0 warn, 0 fail")


def test_sign_error_exits_1_and_names_the_variable(cli):
    r = cli("expr", "sigmoid(x)", "--grad", "-sigmoid(x)*(1-sigmoid(x))", "--at", "0.5")
    assert r.code == ExitCode.CHECK_FAILED
    assert "FAIL" in r.out and "1 check: 0 pass, 0 warn, 1 fail" in r.out
    row = next(line for line in r.out.splitlines() if "FAIL" in line)
    assert "x=0.5" in row and "-0.2350037122" in row and "2.0e+00" in row


def test_hand_derived_sigmoid_passes(cli):
    r = cli("expr", "sigmoid(x)", "--grad", "sigmoid(x)*(1-sigmoid(x))")
    assert r.code == ExitCode.OK and "d/dx = sigmoid(x)*(1-sigmoid(x))  (claimed)" in r.out


HOSTILE = [
    "__import__('os').system('echo pwned')",
    "x.__class__",
    "(lambda: 1)()",
    "x[0]",
    "'a' + x",
    "x" * 100_000,
    "(" * 5000 + "x" + ")" * 5000,
    "sin(" * 199 + "x" + ")" * 199,
    "9**9**9**9",
    "2**2**2**2**2**2**2",
    "x**9**9**9",
    "-" * 4900 + "x",
    "foo(x)",
    "exec('1')",
    "sin(x); import os",
    "x if x else x",
    "{x}",
    "[x for x in y]",
    "x @ x",
    "",
]


@pytest.mark.parametrize("text", HOSTILE, ids=lambda t: t[:25])
def test_hostile_expressions_exit_2_with_one_line(cli, text):
    r = cli("expr", text)
    assert r.code == ExitCode.BAD_INPUT
    assert r.out == ""
    assert_one_error_line(r.err)


def test_error_line_points_at_the_column(cli):
    r = cli("expr", "x + foo(x)")
    assert r.err.splitlines() == ["error: unknown function 'foo' at column 5", "  x + foo(x)", "      ^"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["expr", "log(x)", "--at", "x=-1"], "error: point x=-1 is outside the domain: f = log(x) is not real and finite there"),
        (["expr", "x*y", "--grad", "y"], "error: --grad given 1 time but there are 2 variables to differentiate (x, y)"),
        (["expr", "x", "--points", "abc"], "error: Invalid value for '--points'"),
        (["expr", "x", "--points", "0"], "error: Invalid value for '--points'"),
        (["expr", "x", "--method", "forward"], "error: Invalid value for '--method'"),
        (["expr", "x", "--pass-tol", "0.1"], "error: --pass-tol (0.1) must not exceed --fail-tol (0.01)"),
        (["expr", "x", "--eps", "0"], "error: --eps must be a positive number"),
        (["expr", "x", "--at", "y=1"], "error: --at 'y=1': unknown variable 'y'"),
        (["expr", "x", "--wrt", "q"], "error: --wrt: unknown variable 'q'"),
        (["expr"], "error: Missing argument"),
        (["nosuch"], "error: No such command 'nosuch'"),
        (["expr", "sqrt(x - 1000)"], "error: found 0 of 3 random points where f and its derivatives are real and finite"),
    ],
)
def test_bad_input_exits_2_with_one_clear_line(cli, args, message):
    r = cli(*args)
    assert r.code == ExitCode.BAD_INPUT
    assert r.err.startswith(message), r.err
    assert_one_error_line(r.err)
    assert r.out == ""


def test_json_is_the_only_thing_on_stdout(cli):
    r = cli("expr", "x**2+y", "--at", "x=1,y=2", "--format", "json")
    doc = json.loads(r.out)
    assert r.code == ExitCode.OK and doc["status"] == "pass" and doc["summary"]["checks"] == 2
    r = cli("expr", "x**2", "--grad", "x", "--at", "1", "--format", "json")
    assert r.code == ExitCode.CHECK_FAILED and json.loads(r.out)["status"] == "fail"


def test_strict_turns_warn_into_exit_1(cli):
    args = ["expr", "x**2", "--at", "1", "--grad", "2.0001*x"]
    assert cli(*args).code == ExitCode.OK
    assert cli(*args, "--strict").code == ExitCode.CHECK_FAILED


def test_kink_is_not_a_failure(cli):
    r = cli("expr", "abs(x) + relu(y)", "--at", "x=0,y=0")
    assert r.code == ExitCode.OK and r.out.count("KINK") == 2 and "2 kink" in r.out


def test_quiet_prints_only_the_summary(cli):
    r = cli("expr", "sin(x)", "--quiet")
    assert r.out.strip() == "3 checks: 3 pass, 0 warn, 0 fail"


def test_no_colour_when_not_a_terminal(cli):
    assert "\x1b[" not in cli("expr", "sin(x)", "--grad", "2*cos(x)").out


def test_floor_is_shown(cli):
    assert "floor = none" in cli("expr", "sin(x)").out
    assert "floor = fixed 1" in cli("expr", "sin(x)", "--floor", "1").out


def test_every_command_has_help_and_an_example():
    from typer.main import get_command

    group = get_command(app)
    for name, command in group.commands.items():
        assert command.help and "Example" in command.help, name


@pytest.mark.slow
def test_console_script_and_module_run_without_traceback(tmp_path):
    env = {**os.environ, "NO_COLOR": "1"}
    ok = subprocess.run([sys.executable, "-m", "gradcheck_cli", "expr", "sin(x)-cos(x)"], capture_output=True, text=True, env=env)
    assert ok.returncode == ExitCode.OK and "3 pass" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "gradcheck_cli", "expr", "__import__('os').system('touch pwned')"],
                         capture_output=True, text=True, env=env, cwd=tmp_path)
    assert bad.returncode == ExitCode.BAD_INPUT and "Traceback" not in bad.stderr and bad.stdout == ""
    assert not (tmp_path / "pwned").exists()
