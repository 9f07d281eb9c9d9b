"""Second order: Hessian entries of expressions (`expr --order 2`, `--hessian`) and the
Hessian-vector symmetry test for gradient functions (`second_order.hvp_symmetry`)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gradcheck_cli.checks.expr import check_expression
from gradcheck_cli.errors import DomainError, OptionError, UserCodeError
from gradcheck_cli.second_order import hessian_pairs, hvp_checks, hvp_symmetry, parse_hessian_claim
from gradcheck_cli.verdict import Status, Thresholds
from gradcheck_cli.views.table import header_lines
from gradcheck_cli.cli import ExitCode


def check_hessian(text, **kwargs):
    """``gradcheck expr --order 2``."""
    return check_expression(text, order=2, **kwargs)


def by_name(report):
    return {c.name: c for c in report.checks}


# ------------------------------------------------------------------ Hessian of expressions
def test_hessian_of_a_polynomial_matches_the_known_entries():
    # f = x^3 y + 2 x y^2: f_xx = 6xy = 12, f_xy = 3x^2 + 4y = 11, f_yy = 4x = 4 at (1, 2)
    report = check_hessian("x**3*y + 2*x*y**2", at=["x=1,y=2"])
    checks = by_name(report)
    assert list(checks) == ["x,x", "x,y", "y,y"]
    for name, want in {"x,x": 12.0, "x,y": 11.0, "y,y": 4.0}.items():
        assert checks[name].analytic == pytest.approx(want, abs=1e-12)
        assert checks[name].numeric == pytest.approx(want, rel=1e-8)
        assert checks[name].status is Status.PASS
    assert report.to_dict()["order"] == 2
    assert "d2/dxdy = 3*x**2 + 4*y" in tuple(header_lines(report))


def test_hessian_of_a_cubic_in_three_variables_at_random_points():
    report = check_hessian("x*y*z + x**2*z - y**3", points=4, seed=3)
    assert report.counts == {"checks": 24, "pass": 24, "warn": 0, "fail": 0, "kink": 0, "unresolved": 0}
    for c in report.checks:
        x, y, z = c.point["x"], c.point["y"], c.point["z"]
        want = {"x,x": 2 * z, "x,y": z, "x,z": y + 2 * x, "y,y": -6 * y, "y,z": x, "z,z": 0.0}[c.name]
        assert c.analytic == pytest.approx(want, abs=1e-9 * max(1.0, abs(want)))


def test_a_wrong_claimed_entry_fails_and_only_claimed_entries_are_checked():
    report = check_hessian("x**3*y + 2*x*y**2", at=["x=1,y=2"], hessian=["x,y=3*x**2", "x=6*x*y"])
    checks = by_name(report)
    assert list(checks) == ["x,y", "x,x"]
    assert checks["x,y"].status is Status.FAIL  # the 4y term is missing: 3 against 11
    assert checks["x,y"].analytic == pytest.approx(3.0)
    assert checks["x,y"].numeric == pytest.approx(11.0, rel=1e-8)
    assert checks["x,x"].status is Status.PASS
    assert report.status is Status.FAIL and not report.passed
    assert "d2/dxdy = 3*x**2  (claimed)" in tuple(header_lines(report))


@pytest.mark.parametrize("scale", [1e-8, 1e-3, 1.0, 1e5, 1e8])
def test_hessian_verdicts_do_not_depend_on_the_scale_of_f(scale):
    good = check_hessian(f"{scale!r}*(sin(x)*y**2)", at=["x=0.7,y=-1.3"])
    assert good.status is Status.PASS
    bad = check_hessian(f"{scale!r}*(sin(x)*y**2)", at=["x=0.7,y=-1.3"],
                        hessian=[f"x,y={2 * scale!r}*(2*y*cos(x))"])
    assert bad.status is Status.FAIL


def test_hessian_methods_agree():
    for method in ("central", "complex", "richardson"):
        report = check_hessian("exp(x*y) + atan2(y, x)", at=["x=0.4,y=1.1"], method=method)
        assert report.status is Status.PASS, method
        assert report.method.value == method


def test_a_kink_inside_the_stencil_is_reported_not_failed():
    report = check_hessian("relu(x)*y + x**2", at=["x=0,y=1"])
    assert by_name(report)["x,x"].status is Status.KINK
    assert report.passed


def test_second_partials_outside_the_domain_are_bad_input():
    with pytest.raises(DomainError, match=r"d2/dx2 = .* is not real and finite"):
        check_hessian("x**1.5", at=["x=0"])


@pytest.mark.parametrize(
    "claim, message",
    [("x,y", "write"), ("x,y,z=1", "write"), ("1,y=2", "write"), ("x,q=1", "unknown variable 'q'")],
)
def test_malformed_hessian_claims(claim, message):
    with pytest.raises(OptionError, match=message):
        check_hessian("x*y", at=["x=1,y=1"], hessian=[claim])


def test_an_entry_claimed_twice_is_bad_input():
    with pytest.raises(OptionError, match="given twice"):
        check_hessian("x*y", at=["x=1,y=1"], hessian=["x,y=1", "x,y=2"])


def test_parse_hessian_claim_and_pairs():
    assert parse_hessian_claim(" x , y = 2*x ") == ("x", "y", "2*x")
    assert parse_hessian_claim("x=6*x") == ("x", "x", "6*x")
    assert hessian_pairs(["x", "y", "z"]) == [("x", "x"), ("x", "y"), ("x", "z"), ("y", "y"), ("y", "z"), ("z", "z")]


def test_grad_claims_do_not_mix_with_order_two():
    with pytest.raises(OptionError, match="--hessian"):
        check_expression("x*y", order=2, grads=["x=y", "y=x"], at=["x=1,y=2"])


# ------------------------------------------------------------------ CLI
def test_cli_order_two_json(cli):
    run = cli("expr", "x**3*y + 2*x*y**2", "--at", "x=1,y=2", "--order", "2", "--format", "json")
    assert run.code == ExitCode.OK, run.err
    doc = json.loads(run.out)
    assert doc["status"] == "pass" and doc["order"] == 2
    assert [c["name"] for c in doc["checks"]] == ["x,x", "x,y", "y,y"]
    assert doc["checks"][1]["analytic"] == pytest.approx(11.0)


def test_cli_wrong_hessian_exits_1(cli):
    run = cli("expr", "x**3*y + 2*x*y**2", "--at", "x=1,y=2", "--hessian", "x,y=3*x**2")
    assert run.code == ExitCode.CHECK_FAILED
    assert "FAIL" in run.out and "d2/dxdy = 3*x**2  (claimed)" in run.out


def test_cli_right_hessian_exits_0(cli):
    run = cli("expr", "x**3*y + 2*x*y**2", "--at", "x=1,y=2", "--hessian", "x,y=3*x**2+4*y", "--hessian", "y,y=4*x")
    assert run.code == ExitCode.OK, run.out
    assert "2 checks: 2 pass" in run.out


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--order", "3"], "--order"),
        (["--hessian", "x,y"], 'write "x,y=EXPR"'),
        (["--hessian", "x,y=2*q"], "unknown variable 'q'"),
        (["--order", "2", "--grad", "x=y", "--grad", "y=x"], "--hessian"),
    ],
)
def test_cli_bad_second_order_input_is_one_line_exit_2(cli, args, fragment):
    run = cli("expr", "x*y", "--at", "x=1,y=2", *args)
    assert run.code == ExitCode.BAD_INPUT
    assert fragment in run.err
    assert run.err.startswith("error: ") and "Traceback" not in run.err
    assert run.out == ""


# ------------------------------------------------------------------ Hessian-vector symmetry
def rosenbrock_grad(x):
    x = np.asarray(x, dtype=float)
    g = np.zeros_like(x)
    g[:-1] = -400 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
    g[1:] += 200 * (x[1:] - x[:-1] ** 2)
    return g


def test_a_true_gradient_field_passes():
    x = np.array([-1.2, 1.0, 0.3, 0.8, -0.5])
    results = hvp_symmetry(rosenbrock_grad, x, k=5, seed=1)
    assert len(results) == 5
    assert all(r.status is Status.PASS for r in results)
    for r in results:
        assert r.u_hv == pytest.approx(r.v_hu, rel=1e-6)
        assert r.noise > 0 and r.floor == 0.0  # issue 9: no floor, the noise is the error bound


def test_a_symmetric_linear_field_passes_and_a_non_symmetric_one_fails():
    rng = np.random.default_rng(0)
    B = rng.standard_normal((6, 6))
    S = B + B.T
    x = rng.standard_normal(6)
    assert all(r.status is Status.PASS for r in hvp_symmetry(lambda z: S @ z, x, 4))
    bad = hvp_symmetry(lambda z: B @ z, x, 4)
    assert all(r.status is Status.FAIL for r in bad)
    # for a linear field the products are exact: u^T B v against v^T B u = u^T B^T v
    u_hv, v_hu = bad[0].u_hv, bad[0].v_hu
    assert abs(u_hv - v_hu) > 0.1 * max(abs(u_hv), abs(v_hu))


def test_a_transposed_jacobian_bug_in_a_matrix_gradient_fails():
    # f(W) = sum(tanh(W @ a)) for W (2 x 3); a gradient written with an index swapped
    a = np.array([0.5, -1.0, 2.0])

    def good(w):
        W = w.reshape(2, 3)
        return ((1 - np.tanh(W @ a) ** 2)[:, None] * a[None, :]).ravel()

    def swapped(w):
        W = w.reshape(2, 3)
        return ((1 - np.tanh(W @ a) ** 2)[:, None] * a[None, ::-1]).ravel()

    w = np.random.default_rng(4).standard_normal(6) * 0.3
    assert all(r.status is Status.PASS for r in hvp_symmetry(good, w, 3))
    assert any(r.status is Status.FAIL for r in hvp_symmetry(swapped, w, 3))


def test_symmetry_is_necessary_not_sufficient():
    # twice the true gradient is still a gradient field (of 2f): the test cannot see it
    x = np.array([0.3, -0.7, 1.1])
    assert all(r.status is Status.PASS for r in hvp_symmetry(lambda z: 2 * rosenbrock_grad(z), x, 3))


def test_hvp_is_reproducible_and_accepts_any_shape():
    x = np.arange(6.0).reshape(2, 3) / 10
    a = hvp_symmetry(lambda z: 2 * z + np.sin(z), x, 2, seed=7)
    b = hvp_symmetry(lambda z: 2 * z + np.sin(z), x.ravel(), 2, seed=7)
    assert [(r.u_hv, r.v_hu) for r in a] == [(r.u_hv, r.v_hu) for r in b]
    c = hvp_symmetry(lambda z: 2 * z + np.sin(z), x, 2, seed=8)
    assert a[0].u_hv != c[0].u_hv


def test_a_non_finite_gradient_fails():
    results = hvp_symmetry(lambda z: np.full_like(z, np.nan), np.ones(3), 1)
    assert results[0].status is Status.FAIL


def test_hvp_input_validation():
    with pytest.raises(OptionError, match="--hvp"):
        hvp_symmetry(lambda z: z, np.ones(3), 0)
    with pytest.raises(OptionError, match="non-finite"):
        hvp_symmetry(lambda z: z, np.array([1.0, np.inf]), 1)
    with pytest.raises(UserCodeError, match="expected 3"):
        hvp_symmetry(lambda z: z[:2], np.ones(3), 1)


def test_hvp_checks_rows():
    B = np.array([[1.0, 2.0], [0.0, 1.0]])
    results = hvp_symmetry(lambda z: B @ z, np.ones(2), 3, thresholds=Thresholds())
    rows = hvp_checks(results)
    assert [r.name for r in rows] == ["hvp"] * 3
    assert [r.index for r in rows] == [(0,), (1,), (2,)]
    assert rows[0].analytic == results[0].u_hv and rows[0].numeric == results[0].v_hu
    assert rows[0].status is results[0].status
    assert rows[0].to_dict()["index"] == [0]
