"""expression.py: the safe parser, derivatives, kinks and vectorised functions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from gradcheck_cli import expression as ex
from gradcheck_cli.errors import InputError, ParseError, UnknownNameError


def value(text: str, **point: float) -> float:
    e = ex.parse(text)
    f = ex.compile_one(e.expr, e.variables)
    return float(f(np.array([[point[n]] for n in e.variables]) if e.variables else np.zeros((0, 1)))[0])


@pytest.mark.parametrize(
    "text, point, expected",
    [
        ("x^2+1", {"x": 3}, 10.0),  # ^ is power and binds tighter than +
        ("2^x^2", {"x": 2}, 16.0),  # right-associative, like **
        ("-x**2", {"x": 3}, -9.0),
        ("log(x)", {"x": math.e}, 1.0),
        ("ln(x)", {"x": math.e}, 1.0),
        ("log(x, 2)", {"x": 8}, 3.0),
        ("log2(x) + log10(y)", {"x": 8, "y": 100}, 5.0),
        ("e**x", {"x": 1}, math.e),
        ("pi*x", {"x": 2}, 2 * math.pi),
        ("sigmoid(x)", {"x": 0}, 0.5),
        ("softplus(x)", {"x": 0}, math.log(2)),
        ("relu(x) + relu(y)", {"x": -1, "y": 2}, 2.0),
        ("max(x, y, 0) + min(x, y)", {"x": -1, "y": 2}, 1.0),
        ("cbrt(x)", {"x": -8}, -2.0),
        ("abs(x) * sign(y)", {"x": -3, "y": -2}, -3.0),
        ("erf(x)", {"x": 0.5}, math.erf(0.5)),
        ("atan2(y, x)", {"x": -1, "y": 0.5}, math.atan2(0.5, -1)),
        ("sec(x) + csc(x) + cot(x)", {"x": 0.7}, 1 / math.cos(0.7) + 1 / math.sin(0.7) + 1 / math.tan(0.7)),
        ("asinh(x) + acosh(y) + atanh(z)", {"x": 0.3, "y": 1.5, "z": 0.2}, math.asinh(0.3) + math.acosh(1.5) + math.atanh(0.2)),
    ],
)
def test_functions_and_operators_evaluate(text, point, expected):
    assert value(text, **point) == pytest.approx(expected, rel=1e-14)


def test_sympy_special_names_are_plain_variables():
    e = ex.parse("beta*gamma + E + I + N + S + Q + lambda_")
    assert e.variables == ("E", "I", "N", "Q", "S", "beta", "gamma", "lambda_")
    assert all(s.is_real for s in e.expr.free_symbols)
    assert value("gamma * N", gamma=2, N=3) == 6.0


def test_derivatives_read_like_paper():
    assert ex.display(ex.partial(ex.parse("sigmoid(x)").expr, "x")) == "(1 - sigmoid(x))*sigmoid(x)"
    assert ex.display(ex.partial(ex.parse("sin(x)-cos(x)").expr, "x")) == "sin(x) + cos(x)"
    assert ex.partial(ex.parse("x**2").expr, "y") == 0
    assert ex.display(ex.partial(ex.parse("softplus(x)").expr, "x")) == "sigmoid(x)"


@pytest.mark.parametrize(
    "text, message, column",
    [
        ("foo(x)", "unknown function 'foo'", 1),
        ("x + foo(x)", "unknown function 'foo'", 5),
        ("__import__('os')", "unknown function '__import__'", 1),
        ("x.real", "attribute access not allowed", 1),
        ("(lambda: 1)()", "only calls of named functions", 1),
        ("x[0]", "subscripts not allowed", 1),
        ("'abc'", "strings not allowed", 1),
        ("1j", "complex numbers not allowed", 1),
        ("True", "not allowed", 1),
        ("x % 2", "operator '%' is not allowed", 3),
        ("x // 2", "operator '//' is not allowed", 3),
        ("sin", "'sin' is a function", 1),
        ("sin(x, y)", "sin takes 1 argument, got 2", 1),
        ("log(x, 2, 3)", "log takes 1 to 2 arguments, got 3", 1),
        ("sin(x=1)", "keyword arguments not allowed", 7),
        ("x if y else z", "conditional expressions not allowed", 1),
        ("x +", "syntax error", None),
        ("9**9**9**9", "number too large", None),
        ("x**9**9**9", "number too large", None),
        ("10**400", "number too large", 1),
        ("x**(10**7)", "exponent too large", 1),
        ("1/0", "undefined", None),
        ("", "empty expression", None),
        ("x\n+1", "one line", None),
        ("x" * 100_001, "too long", None),
        ("(" * 5000 + "x" + ")" * 5000, "too long", None),
        ("(" * 1000 + "x" + ")" * 1000, "too many nested parentheses", None),
        ("-" * 4000 + "x", "nested too deeply", None),
        ("sin(" * 150 + "x" + ")" * 150, "nested too deeply", None),
    ],
)
def test_hostile_and_bad_input_is_a_parse_error(text, message, column):
    with pytest.raises(ParseError) as info:
        ex.parse(text)
    assert message in str(info.value)
    if column is not None:
        assert info.value.column == column
        assert info.value.detail().splitlines()[1] == "  " + " " * (column - 1) + "^"


def test_unknown_variable_when_names_are_restricted():
    with pytest.raises(UnknownNameError, match=r"unknown variable 'z' \(known: x, y\) at column 5"):
        ex.parse("x + z", allowed=["x", "y"])


def test_parse_constant():
    assert ex.parse_constant("pi/4") == pytest.approx(math.pi / 4)
    assert ex.parse_constant("-2") == -2.0
    with pytest.raises(UnknownNameError):
        ex.parse_constant("x + 1")
    with pytest.raises(ParseError, match="not a finite real"):
        ex.parse_constant("sqrt(-1)")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="xyz0123456789.+-*/^()e, sinlogpqrtab_[]'\"", max_size=40))
def test_parser_never_crashes_on_random_text(text):
    try:
        e = ex.parse(text)
    except InputError:
        return
    assert isinstance(e.expr, sp.Basic)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=60))
def test_parser_never_crashes_on_arbitrary_unicode(text):
    try:
        ex.parse(text)
    except InputError:
        pass


def test_kinks_are_found_and_located():
    e = ex.parse("abs(x) + relu(y) + max(x, z)")
    kinds = sorted(k.kind for k in ex.kinks(e.expr))
    assert kinds == ["max", "max", "sign"]
    names = e.variables
    pts = np.array([[0.0, 1.0, 2.0], [1.0, 0.0, 1.0], [1.0, 1.0, 2.0]])
    mask = ex.kink_mask(ex.kinks(e.expr), names, pts, np.full(pts.shape, 1e-6))
    assert mask.tolist() == [[True, False, False], [True, True, True], [False, False, False]]


def test_complex_step_versions_carry_the_derivative():
    e = ex.parse("abs(x) + erf(x) + cbrt(x) + atan2(x, 2) + sign(x) + max(x, 0.1)")
    f = ex.compile_one(e.expr, e.variables, complex_step=True)
    h = 1e-20
    d = f(np.array([[-0.7 + 1j * h]])).imag[0] / h
    exact = -1 + 2 / math.sqrt(math.pi) * math.exp(-0.49) + 1 / (3 * np.cbrt(0.7) ** 2) + 2 / (4 + 0.49) + 0 + 0
    assert d == pytest.approx(exact, rel=1e-13)


def test_a_long_sum_is_wide_not_deep():
    text = "+".join(f"sin({i}*x)*exp(y/{i + 1})" for i in range(200))
    e = ex.parse(text)
    assert len(e.expr.args) == 199  # sin(0*x) is 0
    assert ex.parse("x - y + 2*x - 3/y*x").expr == ex.parse("3*x - y - 3*x/y").expr


def test_deep_lambda_is_refused_without_crashing():
    with pytest.raises(ParseError):
        ex.parse("lambda: " * 120 + "x")


def test_derivatives_that_take_too_long_are_refused(monkeypatch):
    deep = ex.parse("sin(" * 60 + "x" + ")" * 60)
    with pytest.raises(ParseError, match="too complex: its derivatives took sympy more than 0.05 s"):
        ex.derivatives(deep.expr, [("x", "x")], deep.text, seconds=0.05)
    assert ex.derivatives(ex.parse("x**3").expr, ["x", ("x", "x")], "x**3") == (3 * ex.symbol("x") ** 2, 6 * ex.symbol("x"))
