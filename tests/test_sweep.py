"""Step sweep and Taylor test: numerics (`sweep.py`), `gradcheck sweep`, `expr --taylor`."""

from __future__ import annotations

import json
import sys
import textwrap

import numpy as np
import pytest

from gradcheck_cli.checks.expr import check_expression
from gradcheck_cli.checks.sweep import check_sweep
from gradcheck_cli.errors import OptionError
from gradcheck_cli.sweep import SWEEP_STEPS, TAYLOR_STEPS, fit_order, step_sweep, taylor_test
from gradcheck_cli.verdict import Status
from gradcheck_cli.views.table import note_lines
from gradcheck_cli.cli import ExitCode


# ------------------------------------------------------------------ step sweep
def test_steps_run_from_1e_minus_1_to_1e_minus_12():
    assert SWEEP_STEPS[0] == pytest.approx(1e-1) and SWEEP_STEPS[-1] == pytest.approx(1e-12)
    assert len(SWEEP_STEPS) == 23 and np.all(np.diff(SWEEP_STEPS) < 0)


def test_a_correct_derivative_draws_a_v():
    s = step_sweep(np.sin, 1.0, np.cos(1.0))
    assert s.shape == "v"
    assert s.best_error <= 1e-9
    assert 1e-7 <= s.best_step <= 1e-4
    assert s.truncation_slope == pytest.approx(2.0, abs=0.3)
    assert s.roundoff_slope == pytest.approx(-1.0, abs=0.3)
    regimes = s.regimes()
    assert regimes[0] == "truncation" and regimes[-1] == "round-off" and regimes[s.best] == "best"
    assert s.rel_error[0] > 1e-4 and s.rel_error[-1] > 1e-6  # both arms rise away from the best step


def test_a_wrong_derivative_draws_a_flat_line():
    s = step_sweep(np.sin, 1.0, 2 * np.cos(1.0))
    assert s.shape == "flat"
    assert s.best_error == pytest.approx(0.5, abs=1e-3)
    assert np.all(s.rel_error[:16] == pytest.approx(0.5, abs=1e-2))
    assert set(s.regimes()) == {"flat"}
    assert "analytic derivative is wrong" in s.diagnosis()
    assert "0.54030230" in s.diagnosis()  # what the difference quotient tends to: cos(1)


def test_a_quadratic_has_no_truncation_arm():
    s = step_sweep(lambda t: 3 * t**2 + 1, 0.5, 3.0)
    assert s.shape == "round-off"
    assert s.best_error <= 1e-12


def test_sweep_to_dict_is_json_ready():
    d = step_sweep(np.exp, 0.0, 1.0).to_dict()
    json.dumps(d, allow_nan=False)
    assert d["shape"] == "v" and len(d["rel_errors"]) == 23 and d["steps"][0] == pytest.approx(0.1)


# ------------------------------------------------------------------ Taylor test
def f_and_grad(p):
    x, y = p
    return np.sin(x) * y**2 + np.exp(0.3 * x * y), np.array(
        [np.cos(x) * y**2 + 0.3 * y * np.exp(0.3 * x * y), 2 * y * np.sin(x) + 0.3 * x * np.exp(0.3 * x * y)]
    )


def test_taylor_order_is_about_2_for_a_correct_gradient_and_1_for_a_wrong_one():
    x = np.array([0.7, -1.3])
    f = lambda p: float(f_and_grad(p)[0])  # noqa: E731
    g = f_and_grad(x)[1]
    assert taylor_test(f, x, g).order == pytest.approx(2.0, abs=0.05)
    assert taylor_test(f, x, g * np.array([1.0, 1.01])).order == pytest.approx(1.0, abs=0.05)
    assert taylor_test(f, x, -g).order == pytest.approx(1.0, abs=0.05)


@pytest.mark.parametrize("seed", range(5))
def test_taylor_order_over_directions_and_scales(seed):
    x = np.array([0.4, 1.2, -0.8])
    for scale in (1e-6, 1.0, 1e6):
        f = lambda p: scale * float(np.sum(np.cos(p)) + p[0] * p[1] * p[2])  # noqa: E731
        g = scale * (-np.sin(x) + np.array([x[1] * x[2], x[0] * x[2], x[0] * x[1]]))
        assert taylor_test(f, x, g, seed=seed).order == pytest.approx(2.0, abs=0.1)
        assert taylor_test(f, x, g * 1.5, seed=seed).order == pytest.approx(1.0, abs=0.1)


def test_taylor_of_an_affine_function_has_no_order():
    t = taylor_test(lambda p: float(3 * p[0] - 2 * p[1] + 1), np.array([1.0, 2.0]), np.array([3.0, -2.0]))
    assert t.order is None and t.consistent
    wrong = taylor_test(lambda p: float(3 * p[0] - 2 * p[1] + 1), np.array([1.0, 2.0]), np.array([3.0, -2.1]))
    assert wrong.order == pytest.approx(1.0, abs=1e-3) and not wrong.consistent


def test_fit_order_uses_the_smallest_counted_steps_and_the_median_rate():
    h = TAYLOR_STEPS
    r = 0.5 * h**2 + 1e-6 * h  # wrong by 1e-6: order 2 at large h, 1 at small h
    assert fit_order(h, r, np.ones(len(h), bool)) == pytest.approx(1.0, abs=0.1)
    r = h**2
    r[-3] = 1e-30  # a remainder that passes near zero does not move the median
    assert fit_order(h, r, r > 0) == pytest.approx(2.0, abs=1e-6)
    assert fit_order(h, r, np.zeros(len(h), bool)) is None


# ------------------------------------------------------------------ check_sweep
def test_check_sweep_picks_the_worst_component():
    report = check_sweep("sin(x)*y", at=["x=1,y=2"], grads=["x=cos(x)*y", "y=2*sin(x)"])
    (c,) = report.checks
    assert c.name == "y" and c.status is Status.FAIL
    assert report.to_dict()["component"] == "y"
    assert report.to_dict()["sweep"]["shape"] == "flat"
    assert report.to_dict()["taylor_order"] == pytest.approx(1.0, abs=0.05)
    assert report.command == "sweep"


def test_check_sweep_of_a_correct_expression():
    report = check_sweep("exp(x)*cos(y)", at=["x=0.3,y=-0.4"], wrt="y")
    (c,) = report.checks
    assert c.name == "y" and c.status is Status.PASS
    assert report.to_dict()["sweep"]["shape"] == "v"
    assert report.to_dict()["sweep"]["best_rel_error"] <= 1e-9
    assert report.to_dict()["taylor_order"] == pytest.approx(2.0, abs=0.05)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(text="sin(x)", at=["1", "2"]), "one point"),
        (dict(text="x*y", at=["x=1,y=1"], wrt="x,y"), "one variable"),
        (dict(text=None), "give one of: an expression, --func"),
        (dict(text="x", func="m.py:f"), "give one of: an expression, --func"),
        (dict(dims=(4, 3), at=["1"]), "do not apply to the network"),
        (dict(text="x", at=["1"], bug="sign-flip"), "--inject-bug applies to the network"),
        (dict(dims=(4, 3, 2), wrt="W9[0,0]"), "name a parameter entry"),
        (dict(dims=(4, 3, 2), wrt="W1[4,0]"), "no such entry in W1"),
        (dict(text="x", shape="3"), "go with --func"),
        (dict(func="m.py:f", at=["1"]), "go with an expression"),
    ],
)
def test_check_sweep_bad_input(kwargs, message):
    text = kwargs.pop("text", None)
    with pytest.raises(OptionError, match=message):
        check_sweep(text, **kwargs)


# ------------------------------------------------------------------ CLI
def test_cli_sweep_correct_gradient_draws_the_v(cli):
    run = cli("sweep", "sin(x)*y", "--at", "x=1,y=2")
    assert run.code == ExitCode.OK, run.err
    assert "◆" in run.out and "best step h*" in run.out and "pass tol" in run.out
    assert "V shape" in run.out and "1e-12" in run.out
    assert "Taylor test: order 2.0" in run.out
    assert "1 check: 1 pass" in run.out


def test_cli_sweep_wrong_gradient_is_flat_and_exits_1(cli):
    run = cli("sweep", "sin(x)*y", "--at", "x=1,y=2", "--grad", "x=cos(x)*y", "--grad", "y=2*sin(x)")
    assert run.code == ExitCode.CHECK_FAILED
    flat_text = " ".join(run.out.split())  # prose wraps at the terminal width
    assert "flat" in run.out and "the analytic derivative is wrong" in flat_text
    assert "Taylor test: order 1.0" in run.out


def test_cli_sweep_json(cli):
    run = cli("sweep", "log(x)", "--at", "2", "--format", "json")
    assert run.code == ExitCode.OK, run.err
    doc = json.loads(run.out)
    assert doc["command"] == "sweep" and doc["status"] == "pass"
    assert doc["taylor_order"] == pytest.approx(2.0, abs=0.05)
    assert doc["sweep"]["steps"][0] == pytest.approx(0.1) and doc["sweep"]["steps"][-1] == pytest.approx(1e-12)
    assert doc["sweep"]["best_rel_error"] <= 1e-9
    assert doc["checks"][0]["name"] == "x" and doc["summary"]["checks"] == 1


def write_module(tmp_path, body: str) -> str:
    path = tmp_path / "usercode.py"
    path.write_text(textwrap.dedent(body))
    return str(path)


GOOD_AND_BAD = """
    import numpy as np

    def good(x):
        return np.sum(x**2) + np.sum(np.sin(x)), 2 * x + np.cos(x)

    def bad(x):
        g = 2 * x + np.cos(x)
        g[1, 1] *= 2
        return np.sum(x**2) + np.sum(np.sin(x)), g
"""


def test_cli_sweep_func_finds_the_wrong_entry(cli, tmp_path):
    path = write_module(tmp_path, GOOD_AND_BAD)
    run = cli("sweep", "--func", f"{path}:bad", "--format", "json")
    assert run.code == ExitCode.CHECK_FAILED, run.err
    doc = json.loads(run.out)
    assert doc["checks"][0]["index"] == [1, 1] and doc["component"] == "x[1, 1]"
    assert doc["sweep"]["shape"] == "flat"
    assert doc["taylor_order"] == pytest.approx(1.0, abs=0.1)


def test_cli_sweep_func_chosen_entry(cli, tmp_path):
    path = write_module(tmp_path, GOOD_AND_BAD)
    run = cli("sweep", "--func", f"{path}:good", "--wrt", "2,3", "--shape", "3,4", "--seed", "5")
    assert run.code == ExitCode.OK, run.err
    assert "x[2, 3]" in run.out and "V shape" in run.out
    bad = cli("sweep", "--func", f"{path}:good", "--wrt", "7,7")
    assert bad.code == ExitCode.BAD_INPUT and "no such entry" in bad.err


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["sin(x)", "--at", "1", "--at", "2"], "one point"),
        (["--at", "1"], "give one of: an expression, --func"),
        (["x*y", "--at", "x=1,y=1", "--wrt", "x,y"], "one variable"),
        (["log(x)", "--at", "-1"], "outside the domain"),
        (["sin(x", "--at", "1"], "syntax error"),
        (["--func", "nowhere.py:f"], "nowhere.py"),
    ],
)
def test_cli_sweep_bad_input_is_one_line_exit_2(cli, args, fragment):
    run = cli("sweep", *args)
    assert run.code == ExitCode.BAD_INPUT
    assert run.err.startswith("error: ") and fragment in run.err
    assert "Traceback" not in run.err and run.out == ""


def test_cli_plot_without_matplotlib_is_a_clear_exit_2(cli, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    target = tmp_path / "sweep.png"
    run = cli("sweep", "sin(x)", "--at", "1", "--plot", str(target))
    assert run.code == ExitCode.BAD_INPUT
    assert "--plot needs matplotlib" in run.err and "pip install 'gradcheck-cli[plot]'" in run.err
    assert len(run.err.strip().splitlines()) == 1 and run.out == ""
    assert not target.exists()


def test_cli_plot_writes_a_png(cli, tmp_path):
    pytest.importorskip("matplotlib")
    target = tmp_path / "sweep.png"
    run = cli("sweep", "sin(x)", "--at", "1", "--plot", str(target))
    assert run.code == ExitCode.OK, run.err
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------------ expr --taylor
def test_expr_taylor_order_is_a_second_opinion():
    good = check_expression("sin(x)*y**2", at=["x=0.7,y=-1.3"], taylor=True)
    assert good.to_dict()["taylor_order"] == pytest.approx(2.0, abs=0.05)
    assert any("Taylor test at x=0.7, y=-1.3" in n for n in note_lines(good))
    bad = check_expression("sin(x)*y**2", at=["x=0.7,y=-1.3"], taylor=True,
                                grads=["x=2*cos(x)*y**2", "y=2*y*sin(x)"])
    assert bad.to_dict()["taylor_order"] == pytest.approx(1.0, abs=0.05)
    assert bad.status is Status.FAIL


def test_expr_taylor_takes_the_lowest_order_over_points():
    report = check_expression("exp(x) + x*y", points=3, seed=2, taylor=True)
    orders = [t["order"] for t in report.to_dict()["taylor"]]
    assert len(orders) == 3 and report.to_dict()["taylor_order"] == min(orders)
    assert all(o == pytest.approx(2.0, abs=0.1) for o in orders)


def test_cli_expr_taylor_json(cli):
    run = cli("expr", "sin(x)*y**2", "--at", "x=0.7,y=-1.3", "--taylor", "--format", "json")
    assert run.code == ExitCode.OK, run.err
    doc = json.loads(run.out)
    assert doc["taylor_order"] == pytest.approx(2.0, abs=0.05)
    run = cli("expr", "sin(x)*y**2", "--at", "x=0.7,y=-1.3", "--taylor", "--format", "json",
              "--grad", "x=2*cos(x)*y**2", "--grad", "y=2*y*sin(x)")
    assert run.code == ExitCode.CHECK_FAILED
    assert json.loads(run.out)["taylor_order"] == pytest.approx(1.0, abs=0.05)


def test_cli_expr_taylor_table(cli):
    run = cli("expr", "exp(x)", "--at", "0.5", "--taylor")
    assert run.code == ExitCode.OK
    assert "Taylor test at x=0.5 (seed 0): order 2.0" in run.out


# ------------------------------------------------------------------ the network
def test_sweep_network_finds_the_injected_bug_and_draws_a_flat_line():
    report = check_sweep(dims=(10, 5, 10), bug="missing-sigmoid-grad")
    (check,) = report.checks
    assert check.name in ("W1", "b1") and check.status is Status.FAIL  # the hidden layer
    assert report.to_dict()["sweep"]["shape"] == "flat"
    assert report.to_dict()["taylor_order"] == pytest.approx(1.0, abs=0.1)


def test_sweep_network_chosen_entry_of_a_correct_network():
    report = check_sweep(dims=(10, 5, 10), wrt="W2[1,3]")
    (check,) = report.checks
    assert (check.name, check.index, check.status) == ("W2", (1, 3), Status.PASS)
    assert report.to_dict()["component"] == "W2[1, 3]"
    assert report.to_dict()["sweep"]["shape"] == "v"
    assert report.to_dict()["taylor_order"] == pytest.approx(2.0, abs=0.1)


def test_cli_sweep_network(cli):
    run = cli("sweep", "--dims", "10", "5", "10", "--inject-bug", "sign-flip", "--quiet")
    assert run.code == ExitCode.CHECK_FAILED and run.out.strip().splitlines()[-1] == "1 check: 0 pass, 0 warn, 1 fail"
    assert cli("sweep", "--dims", "10", "5", "10", "--wrt", "b2[0,4]", "--quiet").code == ExitCode.OK


QUADS = """
import numpy as np

def quad(x):
    return np.sum(x**2), 2 * x

def quad_bad(x):
    g = 2 * x
    g.flat[7] *= 2
    return np.sum(x**2), g
"""


def test_sweep_func_judges_the_entry_by_the_black_box_evidence_as_func_does(cli, tmp_path):
    # issue 16 item 6: a correct quad at 3,000 entries reads pass on the swept entry (the
    # expression ladder read it unresolved), the same verdict func gives that entry
    from gradcheck_cli.checks.func import check_func
    from gradcheck_cli.checks.sweep import check_sweep

    path = write_module(tmp_path, QUADS)
    for name, want in (("quad", "pass"), ("quad_bad", "fail")):
        sw = check_sweep(func=f"{path}:{name}", shape="3000")
        (row,) = sw.checks
        assert row.status.value == want, (name, row)
        fn = check_func(f"{path}:{name}", shape="3000")
        assert fn.status.value == want
    assert check_sweep(func=f"{path}:quad_bad", shape="3000").checks[0].index == (7,)
    chosen = check_sweep(func=f"{path}:quad", shape="3000", wrt="1234")
    assert chosen.checks[0].status.value == "pass" and chosen.checks[0].index == (1234,)
