"""expression/diagnose.py and expression/prove.py: what is wrong with a claim, and proofs."""

from __future__ import annotations

import json

import pytest

from gradcheck_cli import expression as ex
from gradcheck_cli.expression.diagnose import diagnose
from gradcheck_cli.expression.prove import prove
from gradcheck_cli.cli import ExitCode

# (f, wrong claim of d/dx (d/dy when f has y), the kind the diagnosis must name)
STUDENT_MISTAKES = [
    ("sin(x**2)", "cos(x**2)", "chain_rule"),
    ("exp(x**2)", "exp(x**2)", "chain_rule"),  # exp of a composite
    ("exp(3*x)", "exp(3*x)", "chain_rule"),
    ("log(1 + x**2)", "1/(1 + x**2)", "chain_rule"),
    ("sqrt(1 + x**2)", "1/(2*sqrt(1 + x**2))", "chain_rule"),
    ("x**2*sin(x)", "2*x*cos(x)", "product_rule"),  # product of the derivatives
    ("x**2*sin(x)", "2*x*sin(x)", "product_rule"),  # a missing term
    ("x*exp(x)", "exp(x)", "product_rule"),
    ("sin(x)/x", "(x*cos(x) + sin(x))/x**2", "quotient_rule"),  # the sign of the u*v' term
    ("sin(x)/x", "x*cos(x) - sin(x)", "quotient_rule"),  # the denominator forgotten
    ("x**3", "3*x**3", "power_rule"),  # exponent not lowered
    ("x**3", "2*x**2", "power_rule"),
    ("x**5", "5*x**6", "power_rule"),
    ("x**3", "6*x**2", "factor"),  # factor 2
    ("exp(x)", "exp(x)/2", "factor"),  # factor 1/2
    ("x**2 + sin(x)", "-2*x - cos(x)", "sign"),
    ("cos(x)", "sin(x)", "trig_sign"),
    ("sin(x)", "-cos(x)", "trig_sign"),
    ("log(x, 10)", "1/x", "factor"),  # the log base: a factor log(10)
    ("2**x", "2**x", "exponential"),  # missing log(2)
    ("2**x", "x*2**(x - 1)", "exponential"),  # the power rule on an exponential
    ("x**2*y**2", "2*x*y", "factor"),  # the issue's example: d/dy off by the factor 1/x
    ("sin(x)", "cos(x) + x", "no_pattern"),
    ("sigmoid(x)", "sigmoid(x)", "no_pattern"),
    ("exp(x)*sin(x)", "exp(x)*cos(x) + x", "no_pattern"),
]


@pytest.mark.parametrize("f, claim, kind", STUDENT_MISTAKES, ids=[f"{f} : {c}" for f, c, _ in STUDENT_MISTAKES])
def test_student_mistakes_are_classified(f, claim, kind):
    fe = ex.parse(f).expr
    names = sorted(s.name for s in fe.free_symbols)
    wrt = "y" if "y" in names else "x"
    d = diagnose(fe, wrt, ex.parse(claim, allowed=names).expr, claim, names, {n: 0.7 for n in names})
    assert d.kind == kind, d.message
    assert d.claim == claim and d.truth == ex.display(ex.partial(fe, wrt))


def test_the_issue_example_shows_truth_difference_and_kind(cli):
    r = cli("expr", "x**2*y**2", "--grad", "2*x*y**2", "--grad", "2*x*y", "--at", "x=2,y=3")
    assert r.code == ExitCode.CHECK_FAILED
    assert "diagnosis d/dy: your claim is 1/x times the derivative" in r.out
    assert "the derivative:     2*x**2*y" in r.out
    assert "claim - derivative: 2*x*y*(1 - x)" in r.out
    assert "diagnosis d/dx" not in r.out  # d/dx is right


def test_diagnosis_in_json_and_only_on_failure(cli):
    doc = json.loads(cli("expr", "sin(x**2)", "--grad", "cos(x**2)", "--format", "json").out)
    for check in doc["checks"]:  # every failing row carries it
        d = check["diagnosis"]
        assert d["wrt"] == "x" and d["kind"] == "chain_rule" and "2*x" in d["message"]
        assert d["truth"] == "2*x*cos(x**2)" and d["difference"] == "(1 - 2*x)*cos(x**2)"
    doc = json.loads(cli("expr", "sin(x**2)", "--grad", "2*x*cos(x**2)", "--format", "json").out)
    assert not any("diagnosis" in c for c in doc["checks"]) and "proof" not in doc


@pytest.mark.parametrize("f, claim", [
    ("sigmoid(x)", "sigmoid(x)*(1-sigmoid(x))"),
    ("sigmoid(x)", "exp(-x)/(1+exp(-x))**2"),
    ("tanh(x)", "1 - tanh(x)**2"),
    ("log(1+exp(x))", "sigmoid(x)"),
    ("softplus(x)", "1/(1 + exp(-x))"),
    ("sin(x)**2", "sin(2*x)"),
    ("x**2*y**2", "2*x*y**2"),
])
def test_equivalent_forms_are_proved(f, claim):
    fe = ex.parse(f).expr
    names = sorted(s.name for s in fe.free_symbols)
    p = prove(ex.parse(claim, allowed=names).expr, ex.partial(fe, "x"), "x", names)
    assert p.status == "proved", p


def test_wrong_claim_is_disproved_with_a_counterexample(cli):
    import math

    r = cli("expr", "sigmoid(x)", "--grad", "sigmoid(x)*(1+sigmoid(x))", "--prove", "--format", "json")
    assert r.code == ExitCode.CHECK_FAILED
    (p,) = json.loads(r.out)["proof"]
    assert p["status"] == "disproved"
    x = p["counterexample"]["x"]
    s = 1 / (1 + math.exp(-x))
    assert abs(s * (1 + s) - s * (1 - s)) > 1e-3  # really a counterexample


def test_prove_is_beside_the_verdict(cli):
    r = cli("expr", "sigmoid(x)", "--grad", "exp(-x)/(1+exp(-x))**2", "--prove", "--at", "1")
    assert r.code == ExitCode.OK
    assert "proof d/dx: proved" in r.out and "1 pass" in r.out
    r = cli("expr", "sigmoid(x)", "--prove")
    assert r.code == ExitCode.BAD_INPUT and "--grad" in r.err


def test_an_added_constant_and_exact_decimals_in_the_diagnosis(cli):
    r = cli("expr", "x - sin(x)", "--at", "1e-15", "--grad", "1 - cos(x) + 1e-31", "--format", "json")
    (check,) = json.loads(r.out)["checks"]
    d = check["diagnosis"]
    assert check["status"] == "fail" and d["kind"] == "constant"
    assert d["difference"] == "1e-31" and d["claim"] == "1 - cos(x) + 1e-31"
