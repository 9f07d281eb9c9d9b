"""``expr "[f1, f2, ...]"``: Jacobians, one block per output, checked against mpmath truth."""

from __future__ import annotations

import json

import mpmath as mp
import pytest

from gradcheck_cli.checks.expr import check_expression
from gradcheck_cli.cli import ExitCode

S = "(exp(x)+exp(y)+exp(z))"
SOFTMAX = f"[exp(x)/{S}, exp(y)/{S}, exp(z)/{S}]"
s = [f"exp({v})/{S}" for v in "xyz"]
# diag(s) - s s^T
SOFTMAX_JACOBIAN = "[" + ", ".join(
    "[" + ", ".join(f"{s[i]}*(1 - {s[j]})" if i == j else f"-{s[i]}*{s[j]}" for j in range(3)) + "]"
    for i in range(3)) + "]"


def mp_softmax(x, y, z):
    e = [mp.exp(v) for v in (x, y, z)]
    return [v / sum(e) for v in e]


def mp_jacobian(f, point):
    """d f_k / d x_j by mpmath's numerical differentiation at 50 digits."""
    with mp.workdps(50):
        m = len(f(*point))
        return [[mp.diff(lambda *p: f(*p)[k], point, tuple(int(i == j) for i in range(len(point))))
                 for j in range(len(point))] for k in range(m)]


@pytest.mark.parametrize("at", ["x=1,y=2,z=-0.5", "x=-740,y=-741,z=-742", "x=0,y=0,z=0"])
def test_softmax_jacobian_diag_s_minus_s_s_t(at):
    report = check_expression(SOFTMAX, at=[at], grads=[SOFTMAX_JACOBIAN])
    point = [mp.mpf(v.split("=")[1]) for v in at.split(",")]
    truth = mp_jacobian(mp_softmax, point)
    assert [(c.output, c.name) for c in report.checks] == [(k, v) for k in (1, 2, 3) for v in "xyz"]
    for c in report.checks:
        t = truth[c.output - 1]["xyz".index(c.name)]
        assert c.status.value == "pass"
        assert abs(c.analytic - float(t)) <= 1e-9 * max(abs(float(t)), 1e-300)


def test_wrong_entry_fails_alone_with_its_diagnosis(cli):
    wrong = SOFTMAX_JACOBIAN.replace(f"-{s[1]}*{s[0]}", f"{s[1]}*{s[0]}", 1)  # d f2/dx, sign flipped
    r = cli("expr", SOFTMAX, "--grad", wrong, "--at", "x=1,y=2,z=-0.5", "--format", "json")
    assert r.code == ExitCode.CHECK_FAILED
    doc = json.loads(r.out)
    failing = [(c["output"], c["name"]) for c in doc["checks"] if c["status"] == "fail"]
    assert failing == [(2, "x")]
    (bad,) = [c for c in doc["checks"] if c["status"] == "fail"]
    # the sign of d(1/S): the quotient rule's minus
    assert bad["diagnosis"]["kind"] == "quotient_rule" and bad["diagnosis"]["output"] == 2
    assert doc["outputs"] == [f"exp(x)/{S}", f"exp(y)/{S}", f"exp(z)/{S}"]


def test_one_block_per_output_in_the_table(cli):
    r = cli("expr", "[exp(x)*y, sin(x*y)]", "--at", "x=0.5,y=2")
    assert r.code == ExitCode.OK
    assert "f1 = exp(x)*y" in r.out and "f2 = sin(x*y)" in r.out
    assert "df1/dx = y*exp(x)" in r.out and "df2/dy = x*cos(x*y)" in r.out
    assert r.out.index("f1 = exp(x)*y") < r.out.index("f2 = sin(x*y)")
    assert "4 checks: 4 pass" in r.out


def test_outputs_with_different_variables_share_the_points():
    report = check_expression("[x**2, y**3]", points=2, seed=1)
    assert {(c.output, c.name) for c in report.checks} == {(1, "x"), (1, "y"), (2, "x"), (2, "y")}
    assert all(c.status.value == "pass" for c in report.checks)
    zero = [c for c in report.checks if (c.output, c.name) in {(1, "y"), (2, "x")}]
    assert all(c.analytic == 0 for c in zero)


@pytest.mark.parametrize("args, message", [
    (["[x, y]", "--grad", "[[1, 0]]"], "error: --grad: 1 row of derivatives for 2 outputs"),
    (["[x, y]", "--grad", "[[1], [0]]"], "error: --grad: row 1 has 1 derivative"),
    (["[x, y]", "--grad", "1"], "error: --grad for a vector expression is a matrix"),
    (["[x, [y]]"], "error: nested list"),
    (["[]"], "error: empty list"),
    (["[x, y]", "--order", "2"], "error: a vector expression [f1, f2, ...] is checked as a Jacobian"),
    (["[log(x), x]", "--at", "-1"], "error: point x=-1 is outside the domain"),
])
def test_bad_vector_input_exits_2(cli, args, message):
    r = cli("expr", *args)
    assert r.code == ExitCode.BAD_INPUT and r.err.startswith(message), r.err


@pytest.mark.parametrize("text, at", [("[x, log(x)]", "-1"), ("[x, y*log(x)]", "x=-1,y=1"), ("[log(x), x]", "-1")])
def test_every_output_must_be_defined_at_the_point(cli, text, at):
    r = cli("expr", text, "--at", at)
    assert r.code == ExitCode.BAD_INPUT and "outside the domain" in r.err and "log(x)" in r.err, r.err
