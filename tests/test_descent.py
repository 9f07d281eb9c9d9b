"""Gradient descent (`descent.py`, `gradcheck descend`)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gradcheck_cli.checks.descend import run_descent
from gradcheck_cli.descent import RISE_STREAK, Outcome, descend
from gradcheck_cli.errors import DomainError, OptionError
from gradcheck_cli.cli import ExitCode


def course_loop(x_new=6.0, gamma=0.01, precision=0.00001):
    """The course's loop, verbatim."""
    x_old = 0
    while abs(x_new - x_old) > precision:
        x_old = x_new
        x_new += -gamma * (4 * x_old**3 - 9 * x_old**2)
    return x_new


def test_the_course_example_reaches_9_over_4():
    result = run_descent("x**4 - 3*x**3", x0="6", lr=0.01, tol=1e-5)
    assert result.outcome is Outcome.CONVERGED
    assert f"{result.x[0]:f}" == "2.250000"
    assert abs(result.grads[-1][0]) < 1e-5 <= abs(result.grads[-2][0])  # stops on |f'| < tol
    # the course loop stops on |step| < tol, i.e. |f'| < tol / lr, earlier:
    assert f"{course_loop():f}" == "2.249965"
    assert result.iterations > 70


def test_a_tighter_tolerance_gets_closer():
    result = run_descent("x**4 - 3*x**3", x0="6", lr=0.01, tol=1e-9)
    assert result.x[0] == pytest.approx(2.25, abs=1e-10)


def test_two_variables():
    result = run_descent("(x - 1)**2 + 2*(y + 2)**2 + x*y/10", x0="x=0,y=0", lr=0.05, tol=1e-10)
    assert result.converged and result.names == ("x", "y")
    # the minimum solves 2(x-1) + y/10 = 0, 4(y+2) + x/10 = 0
    want = np.linalg.solve([[2, 0.1], [0.1, 4]], [2, -8])
    assert result.x == pytest.approx(want, abs=1e-8)


def test_divergence_with_a_learning_rate_too_large():
    result = run_descent("x**2", x0="1", lr=1.5)
    assert result.outcome is Outcome.DIVERGED
    assert result.iterations == RISE_STREAK + 1
    assert "--lr 1.5 is too large" in result.message


def test_divergence_by_overflow_and_by_leaving_the_domain():
    over = run_descent("exp(x**2)", x0="3", lr=1.0)
    assert over.outcome is Outcome.DIVERGED and "not finite" in over.message
    left = run_descent("log(x) + x**2", x0="1", lr=1.0)
    assert left.outcome is Outcome.DIVERGED and "left the domain" in left.message and left.iterations == 1


def test_divergence_when_f_is_unbounded_below():
    result = run_descent("-x**2", x0="1", lr=0.1)
    assert result.outcome is Outcome.DIVERGED and "unbounded below" in result.message


def test_max_iter():
    result = run_descent("x", x0="0", lr=0.1, max_iter=50)
    assert result.outcome is Outcome.MAX_ITER and result.iterations == 50
    assert result.x[0] == pytest.approx(-5.0)
    assert "--max-iter 50" in result.message


def test_descend_core_and_progress():
    seen = []
    result = descend(lambda x: (float(x @ x), 2 * x), np.array([3.0, -4.0]), lr=0.5,
                     progress=lambda k, f, step: seen.append((k, f, step)))
    assert result.converged and result.x == pytest.approx([0.0, 0.0]) and result.iterations == 1
    assert [k for k, _, _ in seen] == [1] and seen[0][2] == pytest.approx(5.0)
    assert result.names == ("x0", "x1")


def test_descend_validation():
    fg = lambda x: (float(x @ x), 2 * x)  # noqa: E731
    with pytest.raises(OptionError, match="--lr"):
        descend(fg, np.ones(1), lr=0)
    with pytest.raises(OptionError, match="--tol"):
        descend(fg, np.ones(1), tol=float("nan"))
    with pytest.raises(OptionError, match="--max-iter"):
        descend(fg, np.ones(1), max_iter=0)
    with pytest.raises(DomainError):
        descend(lambda x: (float(np.log(x[0])), 1 / x), np.array([-1.0]))


def test_shown_iterations_and_json():
    result = run_descent("x**4 - 3*x**3", x0="6")
    n = result.iterations
    assert n > 15 and result.shown_iterations() == list(range(10)) + list(range(n - 4, n + 1))
    doc = result.to_dict()
    json.dumps(doc, allow_nan=False)
    assert doc["status"] == "converged" and doc["iterations"] == 89
    assert doc["x"] == {"x": pytest.approx(2.25, abs=1e-6)} and doc["x0"] == {"x": 6.0}
    assert doc["history"][0] == {"iteration": 0, "x": {"x": 6.0}, "f": 648.0, "step": None}
    assert doc["history"][1]["x"]["x"] == pytest.approx(0.6)


# ------------------------------------------------------------------ CLI
def test_cli_course_example(cli):
    run = cli("descend", "x**4 - 3*x**3", "--x0", "6", "--lr", "0.01", "--tol", "1e-5")
    assert run.code == ExitCode.OK, run.err
    lines = run.out.strip().splitlines()
    assert lines[-1] == "The local minimum occurs at 2.250000"
    assert "converged after" in run.out and "|grad f| = " in run.out
    assert "…" in run.out and "648" in run.out


def test_cli_tighter_tolerance_prints_2_25(cli):
    run = cli("descend", "x**4 - 3*x**3", "--x0", "6", "--tol", "1e-7", "--quiet")
    assert run.code == ExitCode.OK
    assert run.out.strip().splitlines()[-1] == "The local minimum occurs at 2.250000"
    assert len(run.out.strip().splitlines()) == 2


def test_cli_two_variables(cli):
    run = cli("descend", "(x-1)**2 + 2*(y+2)**2", "--x0", "x=0,y=0", "--lr", "0.1", "--tol", "1e-9")
    assert run.code == ExitCode.OK
    assert run.out.strip().splitlines()[-1] == "The local minimum occurs at x=1.000000, y=-2.000000"


def test_cli_divergence_exits_1_with_a_message(cli):
    run = cli("descend", "x**2", "--x0", "1", "--lr", "1.5")
    assert run.code == ExitCode.CHECK_FAILED
    assert "diverged at iteration 11" in run.out and "too large" in run.out
    assert "local minimum" not in run.out and run.err == ""


def test_cli_max_iter_exits_1(cli):
    run = cli("descend", "x**2", "--x0", "1", "--max-iter", "3", "--format", "json")
    assert run.code == ExitCode.CHECK_FAILED
    doc = json.loads(run.out)
    assert doc["status"] == "max_iter" and doc["iterations"] == 3 and doc["command"] == "descend"


def test_cli_json_converged(cli):
    run = cli("descend", "x**4 - 3*x**3", "--x0", "6", "--format", "json")
    assert run.code == ExitCode.OK
    doc = json.loads(run.out)
    assert doc["status"] == "converged" and doc["x"]["x"] == pytest.approx(2.25, abs=1e-6)


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["x**2", "--x0", "1", "--lr", "0"], "--lr must be a positive number"),
        (["x**2", "--x0", "1", "--tol", "-1"], "--tol must be a positive number"),
        (["x**2", "--x0", "1", "--max-iter", "0"], "--max-iter"),
        (["x**2"], "--x0"),
        (["log(x)", "--x0", "-1"], "outside the domain"),
        (["x*y", "--x0", "1"], "write name=value"),
        (["x**2", "--x0", "q=1"], "unknown variable 'q'"),
        (["x**", "--x0", "1"], "syntax error"),
        (["3", "--x0", "1"], "no variables"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(cli, args, fragment):
    run = cli("descend", *args)
    assert run.code == ExitCode.BAD_INPUT, run.out
    assert run.err.startswith("error: ") and fragment in run.err
    assert "Traceback" not in run.err and run.out == ""
