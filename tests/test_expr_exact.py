"""``expr`` exact to the last constant (issue 19, items 0 and 3), every verdict against an
independent mpmath truth: a centred difference of ``f`` at 2000 digits with a relative
step 1e-50 (error ~1e-100), the claim evaluated by mpmath.
"""

from __future__ import annotations

import json

import mpmath as mp
import pytest

from gradcheck_cli import expression as ex
from gradcheck_cli.checks.expr import check_expression
from gradcheck_cli.verdict import Thresholds
from gradcheck_cli.cli import ExitCode

T = Thresholds()
#: enough digits for every case ((1 - cos(x))/x**2 at 1e-300 needs 1300)
DPS = 2000


def _sign(v):
    return mp.mpf((v > 0) - (v < 0))


def _relu(v):
    return max(mp.mpf(0), v)


def _sigmoid(x):
    return 1 / (1 + mp.exp(-x))


def mp_truth(f, point: dict, name: str):
    """d f / d name at ``point`` by a 2000-digit centred difference (relative step 1e-50)."""
    with mp.workdps(DPS):
        x = {k: mp.mpf(v) for k, v in point.items()}
        h = mp.mpf("1e-50") * (abs(x[name]) if x[name] != 0 else 1)
        up, down = dict(x), dict(x)
        up[name] += h
        down[name] -= h
        return (f(**up) - f(**down)) / (2 * h)


def mp_verdict(claim, truth) -> str:
    """pass / fail by the verdict's tolerances on exact values (no warn case is in the table)."""
    with mp.workdps(DPS):
        big = max(abs(claim), abs(truth))
        if big == 0 or abs(claim - truth) <= T.pass_tol * big:
            return "pass"
        assert abs(claim - truth) > T.fail_tol * big, "the table holds only clear cases"
        return "fail"


D = mp.mpf
# (expression, --at, claims {var: text} or {}, f in mpmath, claims in mpmath {var: fn}, point)
CASES = [
    # decimal constants are exact rationals, constant folding is exact
    ("x - sin(x)", "1e-15", {"x": "1 - cos(x) + 1e-31"}, lambda x: x - mp.sin(x),
     {"x": lambda x: 1 - mp.cos(x) + D("1e-31")}),
    ("x - sin(x)", "1e-15", {"x": "1 - cos(x)"}, lambda x: x - mp.sin(x), {"x": lambda x: 1 - mp.cos(x)}),
    ("sin(0.1*x)", "1e15", {"x": "cos(x/10)/10"}, lambda x: mp.sin(x / 10), {"x": lambda x: mp.cos(x / 10) / 10}),
    ("x*((1 + 1e-30) - 1) + y", "x=1,y=2", {"x": "1e-30", "y": "1"}, lambda x, y: x * D("1e-30") + y,
     {"x": lambda x, y: D("1e-30"), "y": lambda x, y: D(1)}),
    ("x*((1 + 1e-30) - 1) + y", "x=1,y=2", {"x": "0", "y": "1"}, lambda x, y: x * D("1e-30") + y,
     {"x": lambda x, y: D(0), "y": lambda x, y: D(1)}),
    # a kink 1e-40 away from the point is not at the point
    ("relu(x - 1e-40)", "0", {}, lambda x: _relu(x - D("1e-40")), {"x": lambda x: D(0)}),
    ("relu(x - 1e-40)", "0", {"x": "1"}, lambda x: _relu(x - D("1e-40")), {"x": lambda x: D(1)}),
    ("max(x, 1e-40)", "0", {}, lambda x: max(x, D("1e-40")), {"x": lambda x: D(0)}),
    ("abs(x - 1e-40)", "0", {}, lambda x: abs(x - D("1e-40")), {"x": lambda x: D(-1)}),
    ("abs(x - 1e-40)", "0", {"x": "1"}, lambda x: abs(x - D("1e-40")), {"x": lambda x: D(1)}),
    # differentiable at the switch: the difference quotient decides, not sympy's convention
    ("x*sign(x)**2", "0", {}, lambda x: x * _sign(x) ** 2, {"x": lambda x: D(0)}),  # sympy says 0
    ("x*sign(x)**2", "0", {"x": "1"}, lambda x: x * _sign(x) ** 2, {"x": lambda x: D(1)}),
    ("abs(x)*sign(x)", "0", {}, lambda x: abs(x) * _sign(x), {"x": lambda x: D(0)}),  # sympy says 0
    ("abs(x)*sign(x)", "0", {"x": "1"}, lambda x: abs(x) * _sign(x), {"x": lambda x: D(1)}),
    # valid points where float64 over- or underflows on the way
    ("x/(x+y)", "x=1e-310,y=1e-310", {}, lambda x, y: x / (x + y),
     {"x": lambda x, y: y / (x + y) ** 2, "y": lambda x, y: -x / (x + y) ** 2}),
    ("log(exp(x)+exp(y)+exp(z))", "x=-740,y=-741,z=-742", {},
     lambda x, y, z: mp.log(mp.exp(x) + mp.exp(y) + mp.exp(z)),
     {v: (lambda v: lambda x, y, z: mp.exp(dict(x=x, y=y, z=z)[v]) / (mp.exp(x) + mp.exp(y) + mp.exp(z)))(v)
      for v in "xyz"}),
    ("log(exp(x)+exp(y)+exp(z))", "x=-740,y=-741,z=-742", {"x": "exp(x)", "y": "exp(y)", "z": "exp(z)"},
     lambda x, y, z: mp.log(mp.exp(x) + mp.exp(y) + mp.exp(z)),
     {v: (lambda v: lambda x, y, z: mp.exp(dict(x=x, y=y, z=z)[v]))(v) for v in "xyz"}),
    ("exp(x)/(exp(x)+exp(y))", "x=-745,y=-746", {}, lambda x, y: mp.exp(x) / (mp.exp(x) + mp.exp(y)),
     {"x": lambda x, y: mp.exp(x + y) / (mp.exp(x) + mp.exp(y)) ** 2,
      "y": lambda x, y: -mp.exp(x + y) / (mp.exp(x) + mp.exp(y)) ** 2}),
    ("log(3*x)", "3e-320", {}, lambda x: mp.log(3 * x), {"x": lambda x: 1 / x}),
    ("log(3*x)", "3e-320", {"x": "3/x"}, lambda x: mp.log(3 * x), {"x": lambda x: 3 / x}),
    ("sqrt(x**2+y**2)", "x=1e200,y=1e200", {}, lambda x, y: mp.sqrt(x**2 + y**2),
     {"x": lambda x, y: x / mp.sqrt(x**2 + y**2), "y": lambda x, y: y / mp.sqrt(x**2 + y**2)}),
    ("x**2", "1e301", {}, lambda x: x**2, {"x": lambda x: 2 * x}),
    ("x**2", "1.7e308", {"x": "x"}, lambda x: x**2, {"x": lambda x: x}),
    ("(1-cos(x))/x**2", "1e-300", {}, lambda x: (1 - mp.cos(x)) / x**2,
     {"x": lambda x: mp.sin(x) / x**2 - 2 * (1 - mp.cos(x)) / x**3}),
    # item 3: float64 overflow points are checked in extended precision
    ("exp(x)", "710", {}, mp.exp, {"x": mp.exp}),
    ("exp(x)", "710", {"x": "2*exp(x)"}, mp.exp, {"x": lambda x: 2 * mp.exp(x)}),
    ("log(1+exp(x))", "800", {}, lambda x: mp.log(1 + mp.exp(x)), {"x": _sigmoid}),
    ("log(1+exp(x))", "800", {"x": "exp(x)"}, lambda x: mp.log(1 + mp.exp(x)), {"x": mp.exp}),
    ("x*exp(-x)", "800", {}, lambda x: x * mp.exp(-x), {"x": lambda x: (1 - x) * mp.exp(-x)}),
    ("x*exp(-x)", "800", {"x": "exp(-x)"}, lambda x: x * mp.exp(-x), {"x": lambda x: mp.exp(-x)}),
    ("sigmoid(x)", "-800", {}, _sigmoid, {"x": lambda x: _sigmoid(x) * (1 - _sigmoid(x))}),
    ("sigmoid(x)", "-800", {"x": "2*sigmoid(x)"}, _sigmoid, {"x": lambda x: 2 * _sigmoid(x)}),
]


def _point(at: str) -> dict:
    if "=" not in at:
        return {"x": float(at)}
    return {k: float(v) for k, v in (item.split("=") for item in at.split(","))}


@pytest.mark.parametrize("text, at, claims, f, mp_claims", CASES,
                         ids=[f"{c[0]} at {c[1]} {c[2]}" for c in CASES])
def test_verdict_matches_mpmath_truth(text, at, claims, f, mp_claims):
    point = _point(at)
    report = check_expression(text, at=[at], grads=[f"{v}={c}" for v, c in claims.items()],
                              wrt=list(mp_claims))
    got = {c.name: c.status.value for c in report.checks}
    with mp.workdps(DPS):
        want = {v: mp_verdict(mp_claims[v](**{k: mp.mpf(x) for k, x in point.items()}), mp_truth(f, point, v))
                for v in mp_claims}
    assert got == want


def test_decimal_literals_are_exact_rationals():
    assert ex.parse("0.1").expr == ex.parse("1/10").expr
    assert ex.parse("1 + 1e-31").expr - 1 == ex.parse("10**-31").expr
    assert ex.parse("x*((1 + 1e-30) - 1)").expr == ex.parse("x/10**30").expr
    assert ex.parse("1.5e-3").expr == ex.parse("3/2000").expr


def test_at_accepts_float64_range_and_refuses_beyond(cli):
    assert cli("expr", "x**2", "--at", "1e301").code == ExitCode.OK
    r = cli("expr", "x**2", "--at", "1e309")
    assert r.code == ExitCode.BAD_INPUT and r.err.startswith("error: --at '1e309'") and "1.8e308" in r.err


@pytest.mark.parametrize("args, message", [
    (["log(x)", "--at", "-1"], "error: point x=-1 is outside the domain"),
    (["log(x)", "--at", "0"], "error: point x=0 is a singularity"),
    (["log(x) + log(-x)", "--at", "1"], "error: point x=1 is outside the domain"),
    (["x+exp(exp(exp(100)))", "--at", "1"], "error: number too large (limit 1e300)"),
    (["exp(exp(x))", "--at", "1e300"], "error: at x=1e+300, f = exp(exp(x)) is too large for any arithmetic"),
])
def test_undefined_mathematics_stays_exit_2(cli, args, message):
    r = cli("expr", *args)
    assert r.code == ExitCode.BAD_INPUT, r.out + r.err
    assert r.err.startswith(message) and "Traceback" not in r.err


class FakeClock:
    """``time.monotonic`` for the referee, advanced by the test (no real timing)."""

    def __init__(self):
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now


def test_referee_budget_is_shared_fairly(monkeypatch):
    """Ten rows: a greedy first row may use only its share (the time left / the rows
    left), so the nine others still get about a tenth of the cap each."""
    from types import SimpleNamespace

    import numpy as np

    from gradcheck_cli import referee

    clock = FakeClock()
    monkeypatch.setattr(referee, "time", SimpleNamespace(monotonic=clock.monotonic))
    shares = []

    def greedy(F, point, i, thresholds, *, until, **kw):
        shares.append(until - clock.now)
        clock.now = until  # uses all it is given
        return referee.RefereeResult(1.0, 1.0, 1.0, 0.0, 0.0, 0.0, referee.Status.PASS, referee.Reason.NONE, 64)

    monkeypatch.setattr(referee, "referee", greedy)
    names = [f"x{i}" for i in range(10)]
    f = ex.parse("+".join(f"(sin({v})**2 + cos({v})**2)" for v in names)).expr
    claims = [ex.parse(f"sin(2*{v}) - 2*sin({v})*cos({v})").expr for v in names]
    truth = [ex.partial(f, v) for v in names]
    pts = np.array([[i + 1.5 for i in range(10)]])
    est = SimpleNamespace(value=np.zeros((1, 10)), noise=np.zeros((1, 10)), f_scale=None, eps=1e-16)
    referee.judge_expression(f, claims, truth, names, list(range(10)), pts, np.zeros((1, 10)), est, T,
                             budget=referee.Budget(seconds=10.0), precise=lambda e: ex.compile_precise(e, names))
    assert shares == pytest.approx([1.0] * 10)


def test_referee_starts_no_doubling_past_its_deadline(monkeypatch):
    """Evaluation at d digits costs (d/64)**2 ms of the fake clock; every row stops at the
    step whose successor would pass the deadline, never after it."""
    from types import SimpleNamespace

    from gradcheck_cli import referee

    clock = FakeClock()
    monkeypatch.setattr(referee, "time", SimpleNamespace(monotonic=clock.monotonic))
    f = ex.parse("sin(x)**2 + cos(x)**2").expr
    G = ex.compile_precise([f, ex.parse("sin(2*x) - 2*sin(x)*cos(x)").expr, ex.partial(f, "x")], ["x"])

    def slow(point, digits, flags=False):
        clock.now += 1e-3 * (digits / 64) ** 2
        return G(point, digits, flags=flags)

    for until in (0.02, 0.1, 0.5, 3.0, 100.0):
        clock.now = 0.0
        r = referee.referee(slow, [1.5], 0, T, until=until, budget=referee.Budget(seconds=100.0, start=0.0))
        assert clock.now <= until and r.status.value == "pass", (until, clock.now, r)
    assert r.digits == 4096  # with time enough, the precision cap


def test_json_of_an_overflow_point(cli):
    doc = json.loads(cli("expr", "log(1+exp(x))", "--at", "800", "--format", "json").out)
    (check,) = doc["checks"]
    assert check["status"] == "pass" and check["analytic"] == pytest.approx(1.0)


@pytest.mark.parametrize("method", ["central", "complex", "richardson"])
@pytest.mark.parametrize("args", [["exp(x)", "--at", "710"], ["x/(x+y)", "--at", "x=1e-310,y=1e-310"],
                                  ["log(3*x)", "--at", "3e-320"], ["sigmoid(x)", "--at", "-800"],
                                  ["x**2", "--at", "1.7e308"]])
def test_overflow_points_pass_quietly_with_every_method(cli, args, method):
    r = cli("expr", *args, "--method", method, "--format", "json")
    assert r.code == ExitCode.OK and r.err == "", r.err
    assert {c["status"] for c in json.loads(r.out)["checks"]} == {"pass"}


@pytest.mark.parametrize("text, shown", [("x - 1e-40", "x - 1e-40"), ("1 + 1e-31", "1.0000000000000000000000000000001"),
                                         ("1e25*x", "1e25*x"), ("0.1*x", "x/10"), ("x/3", "x/3"),
                                         ("2**70", "1180591620717411303424")])
def test_exact_decimals_are_shown_as_decimals(text, shown):
    assert ex.display(ex.parse(text).expr) == shown


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_FORMS = [  # (f, its derivative) with a decimal coefficient c, and f in mpmath
    ("{c}*x**3", "3*{c}*x**2", lambda c, x: c * x**3),
    ("exp({c}*x)", "{c}*exp({c}*x)", lambda c, x: mp.exp(c * x)),
    ("log({c}*x)", "1/x", lambda c, x: mp.log(c * x)),
    ("sin({c}*x)", "{c}*cos({c}*x)", lambda c, x: mp.sin(c * x)),
    ("sqrt({c}*x**2 + 1)", "{c}*x/sqrt({c}*x**2 + 1)", lambda c, x: mp.sqrt(c * x**2 + 1)),
    ("x/({c} + x)", "{c}/({c} + x)**2", lambda c, x: x / (c + x)),
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(form=st.sampled_from(_FORMS), mantissa=st.integers(1, 999), exponent=st.integers(-30, 30),
       x_exp=st.integers(-300, 300), wrong=st.sampled_from(["1", "2", "-1", "(1 + 1e-30)"]))
def test_right_passes_and_factor_2_or_sign_fails_at_any_scale(form, mantissa, exponent, x_exp, wrong):
    """A correct claim passes and one off by 2 or by a sign fails, whatever the scale of
    the constant and of the point; a claim off by 1e-30 (relative) passes.  A point is
    refused (exit 2) only where f is beyond any range (exp of 1e300)."""
    from gradcheck_cli.errors import DomainError

    c = f"{mantissa}e{exponent}"
    f, d, f_mp = form[0].format(c=c), form[1].format(c=c), form[2]
    try:
        report = check_expression(f, at=[f"1e{x_exp}"], grads=[f"{wrong}*({d})"])
    except DomainError:
        with mp.workdps(60):
            value = f_mp(mp.mpf(c), mp.mpf(float(f"1e{x_exp}")))
            assert abs(value) > mp.mpf("1e100000"), (f, x_exp, value)
        return
    (check,) = report.checks
    want = "pass" if wrong in ("1", "(1 + 1e-30)") else "fail"
    assert check.status.value == want, (f, c, x_exp, wrong, check)


def test_values_beyond_float64_are_shown_exactly(cli):
    r = cli("expr", "exp(x)", "--at", "710")
    assert "2.233994766e+308" in r.out and "inf" not in r.out
    (check,) = json.loads(cli("expr", "exp(x)", "--at", "710", "--format", "json").out)["checks"]
    assert check["analytic"] is None and abs(mp.mpf(check["analytic_exact"]) / mp.exp(710) - 1) < 1e-9
    r = cli("expr", "x*exp(-x)", "--at", "800")
    assert "-2.930631793e-345" in r.out
