"""What a newcomer trips over (issue 10): the command line's sharp edges, each a test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import assert_one_error_line
from gradcheck_cli.cli import ExitCode

GRADCHECK = [sys.executable, "-m", "gradcheck_cli"]


def gradcheck(*args: str, cwd=None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "COLUMNS")}
    return subprocess.run([*GRADCHECK, *args], capture_output=True, text=True, cwd=cwd, env=env)


# ------------------------------------------------------------------ 1. leading minus


@pytest.mark.parametrize(
    "args, analytic",
    [
        (["expr", "-log(x)", "--at", "2"], -0.5),
        (["expr", "-(y*log(a)+(1-y)*log(1-a))", "--at", "a=0.25,y=1", "--wrt", "a"], -4.0),
        (["expr", "x**2", "--at", "-2"], -4.0),
        (["expr", "x**2", "--at", "-2", "--grad", "-(-2*x)"], -4.0),
        (["expr", "--at", "1", "-x**3"], -3.0),
        (["expr", "-x", "--at=-1"], -1.0),
    ],
)
def test_values_that_start_with_a_minus_need_no_double_dash(cli, args, analytic):
    r = cli(*args, "--format", "json")
    assert r.code == ExitCode.OK, r.err
    doc = json.loads(r.out)
    assert doc["checks"][0]["analytic"] == pytest.approx(analytic)


def test_a_misspelt_option_is_still_an_error(cli):
    assert_one_error_line(cli("expr", "x", "--pionts", "3"), "No such option: --pionts")


def test_double_dash_still_works(cli):
    r = cli("expr", "--at", "2", "--", "-log(x)")
    assert r.code == ExitCode.OK, r.err


# ------------------------------------------------------------------ 2. help and version


def test_no_arguments_prints_the_normal_help(cli):
    r = cli()
    assert r.code == ExitCode.OK and r.err == ""
    assert r.out.startswith("Usage: gradcheck [OPTIONS] COMMAND [ARGS]...")
    assert "expr" in r.out and "net" in r.out and "error:" not in r.out


@pytest.mark.parametrize("args", [["-h"], ["expr", "-h"], ["net", "-h"]])
def test_dash_h_is_help(cli, args):
    r = cli(*args)
    assert r.code == ExitCode.OK and r.out.startswith("Usage: gradcheck") and r.err == ""


def test_version(cli):
    from gradcheck_cli import __version__

    r = cli("--version")
    assert (r.code, r.out, r.err) == (ExitCode.OK, f"gradcheck {__version__}\n", "")


# ------------------------------------------------------------------ 3. closed stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, code",
    [
        (["net", "--dims", "100", "50", "10"], 0),
        (["expr", "sin(x)", "--at", "1"], 0),
        (["expr", "sin(x)", "--at", "1", "--format", "json"], 0),
        (["net", "--dims", "10", "5", "10", "--inject-bug", "missing-sigmoid-grad"], 1),
    ],
)
def test_a_closed_stdout_keeps_the_verdicts_exit_code_silently(args, code, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "COLUMNS")}
    proc = subprocess.Popen([*GRADCHECK, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            cwd=tmp_path)
    proc.stdout.close()  # like `| true`: the reader is gone before the report is written
    err = proc.stderr.read().decode()
    assert proc.wait() == code
    assert err == ""


# ------------------------------------------------------------------ 5. malformed sizes


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["func", "mycode.py:f", "--shape", "3,x"], ["--shape", "'x' is not a whole number"]),
        (["net", "--dims", "10", "x", "10"], ["--dims must be whole numbers", "10 x 10"]),
        (["net", "--dims", "10", "5.5", "10"], ["--dims must be whole numbers", "5.5"]),
        (["net", "--dims", "a"], ["--dims must be whole numbers"]),
        (["sweep", "--dims", "10", "x", "10"], ["--dims must be whole numbers"]),
    ],
)
def test_every_malformed_size_names_its_option(cli, args, fragments):
    assert_one_error_line(cli(*args), *fragments)


# ------------------------------------------------------------------ 7. files


def test_a_text_file_given_as_npy_is_not_a_npy_file(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mycode.py").write_text("import numpy as np\ndef f(x):\n    return np.sum(x**2), 2*x\n")
    (tmp_path / "x.npy").write_text("1 2 3\n")
    r = cli("func", "mycode.py:f", "--x", "x.npy")
    assert_one_error_line(r, "--x: 'x.npy' is not a .npy file")
    assert "allow_pickle" not in r.err
    np.save(tmp_path / "good.npy", np.arange(3.0))
    assert cli("func", "mycode.py:f", "--x", "good.npy").code == ExitCode.OK


# ------------------------------------------------------------------ 12. inject-bug list


def test_inject_bug_list_as_json(cli):
    from gradcheck_cli.network.model import BUGS

    r = cli("net", "--inject-bug", "list", "--format", "json")
    assert r.code == ExitCode.OK and r.err == ""
    doc = json.loads(r.out)
    assert [b["name"] for b in doc["bugs"]] == list(BUGS)
    assert all(b["description"] == BUGS[b["name"]] for b in doc["bugs"])
    text = cli("net", "--inject-bug", "list")
    assert text.out.splitlines()[0].startswith(next(iter(BUGS)))


# ------------------------------------------------------------------ 4. no warnings of ours


@pytest.mark.slow
def test_no_runtime_warning_of_ours_reaches_stderr(tmp_path):
    (tmp_path / "e.py").write_text("import numpy as np\ndef f(x):\n    return float(np.sum(np.exp(x))), np.exp(x)\n")
    for args in (["expr", "x", "--at", "x=1e300"], ["func", "e.py:f", "--x", "709"],
                 ["expr", "x*y", "--at", "x=1e150,y=1e150"]):
        r = gradcheck(*args, cwd=tmp_path)
        assert "Warning" not in r.stderr, (args, r.stderr)
        assert r.returncode in (ExitCode.OK, ExitCode.CHECK_FAILED) or r.stderr.count("\n") == 1, (args, r.stderr)


def test_extreme_points_compute_without_warnings():
    import warnings

    from gradcheck_cli.checks.expr import check_expression
    from gradcheck_cli.verdict import Thresholds, assess

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_expression("x", at=["x=1e300"])
        assess(np.array([1e305]), np.array([-1e305]), np.array([1e305]), Thresholds())


# ------------------------------------------------------------------ 11. point labels


@pytest.mark.parametrize("value, label", [("1.000001", "x=1.000001"), ("-2", "x=-2"), ("1e-5", "x=1e-05"),
                                          ("pi/4", "x=0.7853981633974483")])
def test_point_labels_are_the_shortest_text_that_round_trips(cli, value, label):
    r = cli("expr", "x**2", "--at", value)
    assert r.code == ExitCode.OK, r.err
    assert r.out.splitlines()[3].startswith(label + " ")


# ------------------------------------------------------------------ 6. errors blame the right thing


@pytest.mark.parametrize(
    "args, message",
    [
        (["descend", "x**2", "--x0", "y=1"], "error: --x0 'y=1': unknown variable 'y'"),
        (["expr", "x**2", "--at", "x=abc"], "error: --at 'x=abc': the value of 'x' is not a number or a constant expression"),
        (["expr", "log(x)", "--at", "0"], "error: point x=0 is a singularity: f = log(x) is infinite there"),
        (["expr", "1/x", "--at", "0"], "error: point x=0 is a singularity: f = 1/x is infinite there"),
        (["expr", "exp(exp(x))", "--at", "1e300"],
         "error: at x=1e+300, f = exp(exp(x)) is too large for any arithmetic"),
        (["expr", "log(x)", "--at", "-1"], "error: point x=-1 is outside the domain: f = log(x) is not real and finite there"),
        (["expr", "log(x)", "--points", "20481"], "error: --points 20481: at most 20480 random points"),
    ],
)
def test_error_lines_blame_the_right_thing(cli, args, message):
    r = cli(*args)
    assert_one_error_line(r)
    assert r.err.startswith(message), r.err
    assert "overflows float64)" not in r.err and "unknown variable 'abc'" not in r.err


# ------------------------------------------------------------------ 10. narrow terminals


def _run_at(cli, monkeypatch, width: int, *args: str):
    monkeypatch.setenv("COLUMNS", str(width))
    return cli(*args)


@pytest.mark.parametrize("width", [80, 60])
def test_expression_tables_never_cut_what_a_user_needs(cli, monkeypatch, width):
    r = _run_at(cli, monkeypatch, width, "expr", "sin(x)*y+cos(x)", "--points", "3", "--format", "json")
    doc = json.loads(r.out)
    r = _run_at(cli, monkeypatch, width, "expr", "sin(x)*y+cos(x)", "--points", "3")
    lines = r.out.splitlines()
    assert all(len(line.rstrip()) <= width for line in lines), r.out
    assert "…" not in r.out
    from gradcheck_cli.results import point_label

    for c in doc["checks"]:
        assert point_label(c["point"]) in r.out  # every point whole
        for v in (c["analytic"], c["numeric"]):
            assert f"{v:.10g}" in r.out or f"{v:.7g}" in r.out  # whole, 10 or 7 digits
        assert f"{c['rel_error']:.1e}" in r.out or c["rel_error"] == 0
    assert r.out.count("PASS") == len(doc["checks"])


@pytest.mark.parametrize("width", [80, 60])
def test_network_tables_never_cut_entries_at_narrow_widths(cli, monkeypatch, width):
    r = _run_at(cli, monkeypatch, width, "net", "--dims", "10", "5", "10", "--inject-bug", "missing-sigmoid-grad",
                "--top", "3")
    assert "…" not in r.out
    assert all(len(line.rstrip()) <= width for line in r.out.splitlines()), r.out
    for entry in ("W1[4, 3]", "W1[2, 3]", "W1[7, 0]"):
        assert entry in r.out
    assert r.out.count("FAIL") >= 5


def test_the_quick_start_table_fits_80_columns(cli, monkeypatch):
    r = _run_at(cli, monkeypatch, 80, "expr", "sin(x)-cos(x)")
    assert "x=-0.00804226 " in r.out and "…" not in r.out
    assert max(len(line.rstrip()) for line in r.out.splitlines()) <= 80


@pytest.mark.parametrize("width", [80, 60])
def test_the_sweep_chart_is_never_wrapped(cli, monkeypatch, width):
    r = _run_at(cli, monkeypatch, width, "sweep", "sin(x)*y", "--at", "x=1,y=2")
    chart = r.out.split("relative error\n", 1)[1].split("V shape", 1)[0]
    assert all(len(line.rstrip()) <= width for line in chart.splitlines()), chart
    for line in chart.splitlines():  # every line is a whole chart line: nothing wrapped onto the next
        assert ("┤" in line and line.lstrip().startswith("1e")) or line.startswith("       └") \
            or line.strip().startswith(("1e", "step h")) or line[:3] in (" • ", " ◆ ", " × ", " ┈ ", " ■ "), line


# ------------------------------------------------------------------ 19. sweep symbols


def test_truncation_and_round_off_have_distinct_symbols(cli):
    r = cli("sweep", "sin(x)*y", "--at", "x=1,y=2")
    assert "• truncation" in r.out and "× round-off" in r.out and "◆ best step" in r.out
    rows = [line for line in r.out.splitlines() if "┤" in line]
    assert any("×" in row for row in rows) and any("•" in row for row in rows)


def test_sweep_symbols_are_coloured_on_a_terminal():
    from rich.console import Console

    from gradcheck_cli.views.sweep import sweep_chart

    sweep = {"steps": [1e-1, 1e-2, 1e-3], "rel_errors": [1e-3, 1e-9, 1e-6],
             "regimes": ["truncation", "best", "round-off"], "best_step": 1e-2, "best_rel_error": 1e-9}
    console = Console(force_terminal=True, color_system="standard", width=80)
    with console.capture() as cap:
        console.print(sweep_chart(sweep, 1e-7, width=80))
    out = cap.get()
    assert ";33m • " in out and ";35m × " in out  # yellow truncation, magenta round-off


# ------------------------------------------------------------------ 17. softmax over one class


@pytest.mark.parametrize("extra", [[], ["--inject-bug", "missing-sigmoid-grad"], ["--mean"]])
def test_softmax_over_one_output_is_refused(cli, extra):
    r = cli("net", "--dims", "3", "3", "1", *extra)
    assert_one_error_line(r, "--dims 3 3 1", "softmax over 1 output", "Dy >= 2", "--loss mse")


def test_one_output_with_mse_is_checked_and_bugs_show(cli):
    assert cli("net", "--dims", "3", "3", "1", "--loss", "mse").code == ExitCode.OK
    assert cli("net", "--dims", "3", "3", "1", "--loss", "mse", "--inject-bug", "missing-sigmoid-grad").code == ExitCode.CHECK_FAILED


# ------------------------------------------------------------------ 18. func's x distribution


LOG = "import numpy as np\ndef f(x):\n    return float(np.sum(np.log(x))), 1 / x\n"


def test_range_draws_x_from_an_interval(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ln.py").write_text(LOG)
    r = cli("func", "ln.py:f", "--range", "0.5,2", "--format", "json")
    assert r.code == ExitCode.OK, r.err
    r = cli("func", "ln.py:f", "--range", "0.5,2")
    assert "x ~ U(0.5, 2), seed 0, shape 3 x 4" in r.out
    assert_one_error_line(cli("func", "ln.py:f", "--range", "2,1"), "--range")
    assert_one_error_line(cli("func", "ln.py:f", "--range", "a"), "--range must be two numbers")
    assert_one_error_line(cli("func", "ln.py:f", "--range", "0.5,2", "--x", "1,2"), "--range or --x")


def test_a_nan_cost_at_the_drawn_x_says_how_to_draw_another(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ln.py").write_text(LOG)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = cli("func", "ln.py:f")
    assert r.code == ExitCode.BAD_INPUT and r.out == ""
    line = r.err.strip().splitlines()[-1]
    assert line.startswith("error: ln.py:f returned a non-finite cost (nan) (x ~ N(0, 1), negative entries included")
    assert "--range LO,HI" in line


def test_uniform_x_is_seeded():
    from gradcheck_cli.inputs import func_x

    a, _ = func_x("4", None, 3, "0.5,2")
    b, source = func_x("4", None, 3, "0.5,2")
    assert (a == b).all() and (a >= 0.5).all() and (a < 2).all() and source.kind == "uniform"


# ------------------------------------------------------------------ 13. NaN in the user's gradient


NAN_IMPL = textwrap.dedent("""
    import numpy as np
    from gradcheck_cli.network import model

    def fbp(data, labels, params, dims):
        c, g = model.cost_and_grad(model.NetworkSpec(tuple(dims)), data, labels, params)
        g = g.copy()
        g[2 * dims[1] + 3] = np.nan          # W1[2, 3]
        return c, g

    def one_wrong(data, labels, params, dims):
        c, g = model.cost_and_grad(model.NetworkSpec(tuple(dims)), data, labels, params)
        g = g.copy()
        g[4 * dims[1] + 2] *= 1.5            # W1[4, 2]
        return c, g

    def fx(x):
        g = 2 * x
        g[1, 2] = np.nan
        return float(np.sum(x ** 2)), g
""")


def test_a_nan_in_the_gradient_has_one_representation_and_a_hint(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "impl.py").write_text(NAN_IMPL)
    r = cli("net", "--dims", "10", "5", "10", "--impl", "impl.py:fbp", "--format", "json")
    assert r.code == ExitCode.CHECK_FAILED
    doc = json.loads(r.out)
    w1 = next(b for b in doc["blocks"] if b["name"] == "W1")
    assert w1["max_rel_error"] is None and w1["worst_index"] == [2, 3] and w1["status"] == "fail"
    entry = next(c for c in doc["checks"] if c["name"] == "W1" and c["index"] == [2, 3])
    assert entry["analytic"] is None and entry["rel_error"] is None and entry["status"] == "fail"
    assert "your gradient has NaN at W1[2, 3]" in doc["hints"][0]
    text = cli("net", "--dims", "10", "5", "10", "--impl", "impl.py:fbp").out
    assert "1.8e+308" not in text and " inf " not in text
    w1_row = next(line for line in text.splitlines() if line.startswith("W1 "))
    assert " nan " in w1_row
    entry_row = next(line for line in text.splitlines() if line.startswith("W1[2, 3]"))
    assert entry_row.split()[2] == "nan" and entry_row.split()[4] == "nan"
    assert "hint: your gradient has NaN at W1[2, 3]" in text
    assert "derivative of the hidden activation" not in text


def test_a_nan_in_funcs_gradient(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "impl.py").write_text(NAN_IMPL)
    doc = json.loads(cli("func", "impl.py:fx", "--format", "json").out)
    assert doc["blocks"][0]["max_rel_error"] is None
    assert doc["hints"] == ["your gradient has NaN at x[1, 2] (a division by zero, log(0) or overflow?)"]


# ------------------------------------------------------------------ 16. hints


def test_a_single_wrong_entry_is_called_an_indexing_mistake(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "impl.py").write_text(NAN_IMPL)
    doc = json.loads(cli("net", "--dims", "10", "5", "10", "--impl", "impl.py:one_wrong", "--format", "json").out)
    assert len(doc["hints"]) == 1
    assert doc["hints"][0].startswith("W1: only W1[4, 2] is wrong (analytic")
    assert "1.5x" in doc["hints"][0] and "indexing" in doc["hints"][0]


def test_a_hint_names_every_block_it_concerns(cli):
    r = cli("net", "--dims", "3", "3", "1", "--loss", "mse", "--mean", "--inject-bug", "mean-cost-summed-grad",
            "--format", "json")
    doc = json.loads(r.out)
    assert [b["status"] for b in doc["blocks"]] == ["fail"] * 4
    assert doc["hints"] == ["W1, b1, W2, b2: every entry is 20.0x the numeric value: "
                            "a mean cost with a summed gradient (or the reverse)?"]


# ------------------------------------------------------------------ 14. fast mode says what it checked


def test_fast_mode_says_what_was_checked(cli):
    r = cli("net", "--dims", "10", "5", "10", "--mode", "fast")
    rows = [line for line in r.out.splitlines() if line.split()[:1] in (["W1"], ["b1"], ["W2"], ["b2"])]
    assert len(rows) == 4 and all(row.split()[-1] == "PASS" for row in rows), r.out
    assert "(0 entries checked)" not in r.out and "agreed along all 8 directions" in r.out
    # the directions agreed, then every entry was verified in extended precision (issue 16)
    assert "then every entry was verified against its extended-precision derivative" in " ".join(r.out.split())
    doc = json.loads(cli("net", "--dims", "10", "5", "10", "--mode", "fast", "--format", "json").out)
    assert [b["checked"] for b in doc["blocks"]] == [50, 5, 50, 10]
    assert all(b["directions"] == 8 and b["status"] == "pass" for b in doc["blocks"])
    doc = json.loads(cli("net", "--dims", "10", "5", "10", "--mode", "fast", "--inject-bug", "b1-zero",
                         "--format", "json").out)
    b1 = next(b for b in doc["blocks"] if b["name"] == "b1")
    assert b1["checked"] == 5 and "directions" not in b1


# ------------------------------------------------------------------ 15. the cost check


HALF = textwrap.dedent("""
    from gradcheck_cli.network import model

    def fbp(data, labels, params, dims):   # a minibatch-style cost: half the reference
        c, g = model.cost_and_grad(model.NetworkSpec(tuple(dims)), data, labels, params)
        return c / 2, g / 2
""")


def test_the_cost_comparison_is_the_contracts_cost_check(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "half.py").write_text(HALF)
    r = cli("net", "--dims", "10", "5", "10", "--impl", "half.py:fbp", "--format", "json")
    assert r.code == ExitCode.CHECK_FAILED
    doc = json.loads(r.out)
    assert all(c["name"] in ("W1", "b1", "W2", "b2") and c["index"] for c in doc["checks"])
    cc = doc["cost_check"]
    assert cc["status"] == "fail" and cc["yours"] == pytest.approx(cc["reference"] / 2) and cc["rel_error"] == 0.5
    # cost_check is separate from summary (115 parameters, none failing), yet decides status
    assert doc["summary"]["checks"] == 115 and doc["summary"]["fail"] == 0 and doc["status"] == "fail"
    text = cli("net", "--dims", "10", "5", "10", "--impl", "half.py:fbp").out
    assert "cost check FAIL (rel error 5.0e-01)" in text.splitlines()[2]
    assert not any(line.startswith("cost ") for line in text.splitlines())


def test_no_cost_check_for_minibatch_or_dropout_implementations(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "half.py").write_text(HALF)
    r = cli("net", "--dims", "10", "5", "10", "--impl", "half.py:fbp", "--no-cost-check", "--format", "json")
    assert r.code == ExitCode.OK
    doc = json.loads(r.out)
    assert "cost_check" not in doc and doc["summary"]["checks"] == 115
    text = cli("net", "--dims", "10", "5", "10", "--impl", "half.py:fbp", "--no-cost-check").out
    assert "not compared with the reference cost: --no-cost-check" in text


# ------------------------------------------------------------------ 21. start-up


@pytest.mark.slow
def test_an_expression_check_does_not_import_sympys_tensors():
    code = ("import sys\nfrom gradcheck_cli.cli import main\n"
            "try:\n    main(['expr', 'sin(x)-cos(x)', '-q'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('sympy.combinatorics', 'rich._emoji_codes') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/").stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_deferred_tensors_still_work_when_used():
    code = textwrap.dedent("""
        import gradcheck_cli.expression as ex
        import sympy
        x = sympy.Symbol("x")
        assert str(x + 1) == "x + 1"
        from sympy.tensor.tensor import TensAdd, TensorHead, TensorIndexType, tensor_indices
        L = TensorIndexType("L"); i = tensor_indices("i", L)
        e = TensorHead("A", [L])(i) + TensorHead("B", [L])(i)
        assert isinstance(e, TensAdd)
        import sympy.tensor.tensor as T
        assert T.TensAdd is TensAdd
        print("ok")
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.stdout.strip() == "ok", r.stderr


def test_only_the_invoked_command_is_built():
    from gradcheck_cli.cli import _command_app, app

    assert [c.name for c in _command_app(["expr", "x"]).registered_commands] == ["expr"]
    assert _command_app([]) is app and _command_app(["--help"]) is app and _command_app(["nosuch"]) is app


def test_the_cost_check_is_a_junit_test_case(cli, tmp_path, monkeypatch):
    import xml.etree.ElementTree as ET

    monkeypatch.chdir(tmp_path)
    (tmp_path / "half.py").write_text(HALF)
    cli("net", "--dims", "10", "5", "10", "--impl", "half.py:fbp", "--junit", "out.xml")
    cases = {c.get("name"): c for c in ET.parse(tmp_path / "out.xml").getroot().iter("testcase")}
    assert cases["cost"].find("failure") is not None and "reference" in cases["cost"].find("failure").get("message")
    assert cases["W1"].find("failure") is None
