"""referee.py: expressions judged in extended precision (exact maths, not float64 arithmetic)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gradcheck_cli import expression as ex
from gradcheck_cli.expression.precise import compile_precise, has_kinks
from gradcheck_cli.referee import Budget, needs_referee, referee, screen
from gradcheck_cli.verdict import Reason, Status, Thresholds


def judge(f_text, x, claim=None, thresholds=Thresholds(), **kw):
    f = ex.parse(f_text).expr
    t = ex.derivatives(f, ["x"], f_text)[0]
    a = ex.parse(claim).expr if claim is not None else t
    a64 = float(ex.compile_one(a, ["x"])(np.array([[x]]))[0])
    return referee(compile_precise([f, a, t], ["x"]), [x], 0, thresholds, analytic64=a64, kinks=has_kinks(f), **kw)


# every expression example of issue 9, judged by the referee alone
@pytest.mark.parametrize(
    "f, x, claim, want",
    [
        ("sin(x)", 1e6, "0", Status.FAIL),
        ("x + 1e20", 1.0, "2", Status.FAIL),
        ("tanh(x)", 18.0, "1 - tanh(x)", Status.FAIL),
        ("sin(x)", math.pi / 2 + 1e-9, "-cos(x)", Status.FAIL),
        ("exp(x) - 1 - x", 1e-5, "2*(exp(x) - 1)", Status.FAIL),
        ("sin(x)", 1e7, None, Status.PASS),
        ("1/(x - 1)", 1.000001, None, Status.PASS),
        ("exp(x) - 1 - x", 1e-10, None, Status.PASS),
        ("log(1 + x)", 1e-16, None, Status.PASS),
        ("x**3", 0.0, None, Status.PASS),
        ("sqrt(x)", 1e-20, None, Status.PASS),
        ("exp(x)", 709.0, None, Status.PASS),
        ("log(x)", 1e-300, None, Status.PASS),
        ("(1 - cos(x))/x**2", 1e-6, None, Status.PASS),
        ("(1 - cos(x))/x**2", 1e-300, None, Status.PASS),  # 1 - cos(x) needs 1200 digits here
        ("relu(x)**2", 0.0, "5", Status.FAIL),
        ("x*abs(x)", 0.0, "7", Status.FAIL),
        ("relu(x)**2", 0.0, None, Status.PASS),
        ("x*abs(x)", 0.0, None, Status.PASS),
        ("abs(x)", 0.0, None, Status.KINK),
        ("relu(x)", 0.0, "1", Status.KINK),
        ("max(x, 2) + x", 2.0, None, Status.KINK),
        ("cos(x)", math.pi, "-sin(x)", Status.PASS),  # a stationary point: -sin(pi) = -1.2e-16 exactly
        ("sin(x)**2 + cos(x)**2", 0.3, None, Status.PASS),  # exactly zero
        ("sin(x)**2 + cos(x)**2", 0.3, "1e-12", Status.FAIL),
        ("tanh(x)", 100.0, "-(1 - tanh(x)**2)", Status.FAIL),  # 1 - tanh**2 is 0 below 87 digits
        ("tanh(x)", 100.0, None, Status.PASS),
        ("x**2 - 2*x", 1.0, None, Status.PASS),  # an exact zero that cancels at every precision
        ("exp(-x)", 1000.0, "exp(-x)", Status.FAIL),  # 5e-435: below float64, not below the referee
    ],
)
def test_referee_judges_the_mathematics(f, x, claim, want):
    r = judge(f, x, claim)
    assert r.status is want, r
    if want in (Status.PASS, Status.FAIL):
        assert r.digits >= 64 and math.isfinite(r.error)


def test_lossy_formula_is_noted_but_the_maths_is_judged():
    r = judge("(1 - cos(x))/x**2", 1e-6)
    assert r.status is Status.PASS and r.lossy_formula
    assert r.analytic == pytest.approx(-1e-6 / 12, rel=1e-9)  # float64 of the same formula: -88.9
    assert not judge("sin(x)", 0.5).lossy_formula


def test_referee_numeric_column_is_a_high_precision_difference():
    r = judge("exp(x)", 709.0)
    assert r.numeric == pytest.approx(math.exp(709.0), rel=1e-14)
    assert r.truth == pytest.approx(math.exp(709.0), rel=1e-15)


def test_precision_cap_and_time_cap_give_unresolved_with_a_reason():
    capped = judge("(1 - cos(x))/x**2", 1e-300, max_digits=128)
    assert capped.status is Status.UNRESOLVED and capped.reason is Reason.PRECISION_CAP
    expired = Budget(seconds=-1.0)
    timed = judge("(1 - cos(x))/x**2", 1e-300, budget=expired)
    assert timed.status is Status.UNRESOLVED and timed.reason is Reason.TIME_CAP


def test_screen_flags_values_that_lose_digits():
    f = ex.parse("(1 - cos(x))/x**2").expr
    d = ex.derivatives(f, ["x"], "")[0]
    G = compile_precise([d, ex.parse("cos(x)").expr], ["x"])
    values, settled = screen(G, np.array([[1e-6], [0.5]]))
    assert not settled[0, 0] and settled[1, 0] and settled[0, 1]
    assert values[1, 1] == pytest.approx(math.cos(0.5), rel=1e-15)


def test_needs_referee_triggers():
    t = Thresholds()
    base = dict(code=[0], analytic64=[1.0], numeric=[1.0], noise=[1e-12], analytic_hp=[1.0], truth_hp=[1.0],
                settled=[True], thresholds=t)
    assert not needs_referee(**base)[0]
    for change in (dict(code=[4]), dict(numeric=[np.nan]), dict(settled=[False]), dict(analytic64=[1.0 + 1e-6]),
                   dict(numeric=[1.0 + 1e-9]), dict(truth_hp=[1.01], numeric=[1.01]), dict(kink_stencil=[True])):
        assert needs_referee(**(base | change))[0], change


def test_values_beyond_float64_do_not_overflow():
    f = ex.parse("exp(x)").expr
    F = compile_precise([f], ["x"])
    import mpmath

    assert F([800.0], 30)[0] > mpmath.mpf("1e347")
    G = compile_precise([ex.parse("log(x)").expr, ex.parse("sqrt(x)").expr, ex.parse("1/x").expr], ["x"])
    log_neg, sqrt_neg, pole = G([-1.0], 30)[0], G([-1.0], 30)[1], G([0.0], 30)[2]
    assert all(v != v for v in (log_neg, sqrt_neg))  # nan: not real
    assert mpmath.isinf(pole)  # a pole is infinite


# ---------------------------------------------------------------- the table of issue 9, through the CLI
ISSUE_9 = [  # argv after "expr", the statuses of the rows, exit code
    (["sin(x)", "--grad", "0", "--at", "1e6"], {"fail"}, 1),
    (["x + 1e20", "--at", "1", "--grad", "2", "--method", "complex"], {"fail"}, 1),
    (["x*1e8 + y*1e-8", "--at", "x=1,y=1", "--grad", "x=1e8", "--grad", "y=-1e-8"], {"pass", "fail"}, 1),
    (["tanh(x)", "--at", "18", "--grad", "1-tanh(x)"], {"fail"}, 1),
    (["sin(x)", "--at", "1", "--pass-tol", "1e-20"], {"pass"}, 0),
    (["sin(x)", "--at", "1", "--pass-tol", "1e-16", "--fail-tol", "1e-15"], {"pass"}, 0),
    (["sin(x)", "--at", "pi/2+1e-9", "--grad", "-cos(x)"], {"fail"}, 1),
    (["exp(x)-1-x", "--at", "1e-5", "--grad", "2*(exp(x)-1)"], {"fail"}, 1),
    (["sin(x)", "--at", "1e7"], {"pass"}, 0),
    (["1/(x-1)", "--at", "1.000001"], {"pass"}, 0),
    (["exp(x)-1-x", "--at", "1e-10"], {"pass"}, 0),
    (["log(1+x)", "--at", "1e-16"], {"pass"}, 0),
    (["log(1+exp(-x))", "--points", "100"], {"pass"}, 0),
    (["x**3", "--at", "0", "--method", "complex"], {"pass"}, 0),
    (["sqrt(x)", "--at", "1e-20", "--method", "complex"], {"pass"}, 0),
    (["exp(x)", "--at", "709", "--method", "richardson"], {"pass"}, 0),
    (["log(x)", "--at", "1e-300"], {"pass"}, 0),
    (["(1-cos(x))/x**2", "--at", "1e-6"], {"pass"}, 0),
    (["relu(x)**2", "--at", "0", "--grad", "5"], {"fail"}, 1),
    (["x*abs(x)", "--at", "0", "--grad", "7"], {"fail"}, 1),
    (["abs(x)", "--at", "0"], {"kink"}, 0),
]


@pytest.mark.parametrize("method", ["central", "complex", "richardson"])
@pytest.mark.parametrize("argv, statuses, code", ISSUE_9, ids=[" ".join(a) for a, _, _ in ISSUE_9])
def test_every_example_of_issue_9_through_the_cli(cli, argv, statuses, code, method):
    import json

    if "--method" not in argv:
        argv = argv + ["--method", method]
    elif method != "central":
        pytest.skip("the example names its method")
    run = cli("expr", *argv, "--format", "json")
    assert run.code == code, run.out + run.err
    doc = json.loads(run.out)
    assert {c["status"] for c in doc["checks"]} == statuses
    assert doc["summary"]["unresolved"] == 0
    assert run.err == ""  # no RuntimeWarning or other noise on stderr


def test_formula_that_loses_digits_is_noted_in_json(cli):
    import json

    doc = json.loads(cli("expr", "(1-cos(x))/x**2", "--at", "1e-6", "--format", "json").out)
    (check,) = doc["checks"]
    assert check["status"] == "pass" and check["lossy_formula"] is True and check["digits"] >= 40
    assert check["analytic"] == pytest.approx(-1e-6 / 12, rel=1e-9)
