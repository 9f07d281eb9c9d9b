"""Verdicts against mpmath ground truth over a randomized hostile family (issue 9).

``expr``: zero false alarms and zero misses, for every method.  Black-box code
(``blackbox.stencils.blackbox_gradient`` + ``verdict.assess``, what ``func`` runs): never a
wrong pass, never a correct fail; the same through the product (``check_gradient``, what
``gradcheck func`` runs), float64 and float32 code.  ``benchmarks/audit_verdicts.py`` prints
the full tally.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradcheck_cli.finite_diff import Method
from gradcheck_cli.verdict import Status

_spec = importlib.util.spec_from_file_location("audit_verdicts", Path(__file__).parents[1] / "benchmarks" / "audit_verdicts.py")
audit = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(audit)


def _expr_ok(text, point, kind, method):
    for label, want, got in audit.expr_outcomes(text, point, kind, method):
        assert got is want, (text, point, method.value, label, got)


def _func_ok(text, point, kind):
    for label, category, got in audit.func_outcomes(text, point, kind):
        if category == "correct":
            assert got not in (Status.FAIL, Status.WARN), (text, point, label, got)
        elif category == "wrong":
            assert got is not Status.PASS, (text, point, label, got)
        if label == "kink":
            assert got is Status.KINK, (text, point, got)


# a third of the audit family, every method (the benchmark runs all of it)
SUBSET = audit.FAMILY[::3]


@pytest.mark.parametrize("method", list(Method))
@pytest.mark.parametrize("text, point, kind", SUBSET, ids=[f"{t}@{p}" for t, p, _ in SUBSET])
def test_expr_family_right_for_every_method(text, point, kind, method):
    _expr_ok(text, point, kind, method)


@pytest.mark.parametrize("text, point, kind", audit.FAMILY, ids=[f"{t}@{p}" for t, p, _ in audit.FAMILY])
def test_black_box_never_wrong_pass_never_correct_fail(text, point, kind):
    _func_ok(text, point, kind)


TEMPLATES = [  # f(x) built around a hostile feature; {c} is a scale 10**k, {s} a shift
    "{c}*sin(x)", "{c}*(exp(x) - 1 - x)", "{c}*log(1 + x)", "{c}/(x - {s})", "{c}*x*abs(x)",
    "{c}*relu(x)**2", "{c}*tanh(x)", "{c}*(1 - cos(x))/x**2", "{c}*exp(-x)", "{c}*sqrt(x)",
]


@settings(max_examples=40, deadline=None)
@given(template=st.sampled_from(TEMPLATES), k=st.integers(-8, 8), e=st.integers(-12, 12),
       sign=st.sampled_from([1.0, -1.0]), mantissa=st.floats(1.0, 9.9), method=st.sampled_from(list(Method)))
def test_randomized_family_against_ground_truth(template, k, e, sign, mantissa, method):
    x = sign * mantissa * 10.0**e
    s = 1.0
    if "sqrt" in template or "log" in template:
        x = abs(x)
    if "/(x - {s})" in template:
        x = s + abs(x) * 1e-3  # next to the pole, on its right
    if "exp(-x)" in template and x < -700:
        return
    text = template.format(c=f"1e{k}", s=s)
    point = {"x": x}
    if not math.isfinite(float(audit.ground_truth(text, point, "x"))):
        return
    _expr_ok(text, point, "", method)


@settings(max_examples=30, deadline=None)
@given(k=st.integers(-8, 8), x=st.floats(0.1, 3.0), y=st.floats(0.1, 3.0), big=st.integers(4, 12))
def test_tiny_partial_next_to_a_huge_one(k, x, y, big):
    text = f"1e{k}*(x*1e{big} + y*1e-{big})"
    _expr_ok(text, {"x": x, "y": y}, "", Method.CENTRAL)


@pytest.mark.parametrize("text, point, kind", audit.FAMILY[::2], ids=[f"{t}@{p}" for t, p, _ in audit.FAMILY[::2]])
def test_float32_code_never_wrong_pass_never_false_alarm(text, point, kind):
    for label, category, got in audit.float32_outcomes(text, point, kind):
        if category == "correct":
            assert got not in (Status.FAIL, Status.WARN), (text, point, label, got)
        elif category == "wrong":
            assert got is not Status.PASS, (text, point, label, got)


#: the product's known wrong verdicts on the family (the audit lists them): (text, dtype)
PRODUCT_KNOWN: dict = {}


def _product_cases(dtype):
    for text, point, kind in audit.FAMILY:
        known = PRODUCT_KNOWN.get((text, dtype.__name__))
        if known:
            yield pytest.param(text, point, kind, dtype, marks=pytest.mark.xfail(strict=True, reason=known))
        else:
            yield pytest.param(text, point, kind, dtype)


@pytest.mark.parametrize("text, point, kind, dtype",
                         [c for d in (np.float64, np.float32) for c in _product_cases(d)],
                         ids=[f"{d.__name__}:{t}@{p}" for d in (np.float64, np.float32) for t, p, _ in audit.FAMILY])
def test_the_product_never_fails_correct_code_never_passes_wrong_code(text, point, kind, dtype):
    # what ``gradcheck func`` runs (check_gradient: recheck, lifting, confirmation)
    for label, category, _, got in audit.outcomes(text, point, kind, dtype):
        if label == "kink":
            assert got is Status.KINK, (text, point, got)
        elif category == "correct":
            assert got not in (Status.FAIL, Status.WARN), (text, point, label, got)
        elif category == "wrong":
            assert got is not Status.PASS, (text, point, label, got)
