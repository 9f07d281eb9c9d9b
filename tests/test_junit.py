"""JUnit XML reports (`junit.py`) and `--junit FILE` on the checking commands."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest

from gradcheck_cli.checks.expr import check_expression
from gradcheck_cli.checks.func import check_gradient
from gradcheck_cli.cli import ExitCode, main
from gradcheck_cli.views.junit import to_junit_xml, write_junit
from gradcheck_cli.verdict import Thresholds
from conftest import run


def parse(text: str) -> ET.Element:
    root = ET.fromstring(text.encode("utf-8"))
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 1
    return suites[0]


def assert_counts_match(suite: ET.Element) -> None:
    cases = suite.findall("testcase")
    assert suite.get("tests") == str(len(cases))
    assert suite.get("failures") == str(sum(c.find("failure") is not None for c in cases))
    assert suite.get("skipped") == str(sum(c.find("skipped") is not None for c in cases))
    assert suite.get("errors") == "0"




def test_expr_one_case_per_point_and_variable():
    report = check_expression("x**2 + y", at=["x=1,y=2", "x=3,y=0"], grads=["x=3*x", "y=1"])
    suite = parse(to_junit_xml(report))
    assert suite.get("name") == "gradcheck expr"
    assert_counts_match(suite)
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["d/dx at x=1, y=2", "d/dy at x=1, y=2", "d/dx at x=3, y=0", "d/dy at x=3, y=0"]
    assert {c.get("classname") for c in cases} == {"gradcheck.expr"}
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "2", "0")
    failure = cases[0].find("failure")
    assert failure.get("type") == "fail"
    message = failure.get("message")
    assert message.startswith("d/dx at x=1, y=2: analytic 3, numeric 2, rel error 3.33e-01 > fail tol 0.01, floor ")
    assert cases[1].find("failure") is None and cases[1].find("system-out") is None


def test_kink_is_skipped():
    suite = parse(to_junit_xml(check_expression("abs(x)", at=["0", "1"])))
    assert_counts_match(suite)
    cases = suite.findall("testcase")
    assert cases[0].find("skipped") is not None
    assert cases[0].find("skipped").get("message").startswith("kink: ")
    assert cases[1].find("skipped") is None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("2", "0", "1")


def test_warn_passes_with_output_unless_strict():
    loose = parse(to_junit_xml(check_expression("x**2", at=["1"], grads=["2*x*(1+1e-5)"])))
    (case,) = loose.findall("testcase")
    assert case.find("failure") is None
    assert case.find("system-out").text.startswith("warn: d/dx at x=1: analytic 2.00002, numeric 2, rel error 1.00e-05 > pass tol 1e-07, floor")
    assert loose.get("failures") == "0"
    strict = parse(to_junit_xml(check_expression("x**2", at=["1"], grads=["2*x*(1+1e-5)"],
                                                 thresholds=Thresholds(strict=True))))
    (case,) = strict.findall("testcase")
    assert case.find("failure").get("type") == "warn"
    assert strict.get("failures") == "1"


def test_func_one_case_per_block_with_the_numbers():
    def f(x):
        g = 2 * x
        g[1, 2] *= 1.5
        return np.sum(x**2), g

    x = np.arange(1.0, 13.0).reshape(3, 4)
    report = check_gradient(f, x)
    suite = parse(to_junit_xml(report))
    assert suite.get("name") == "gradcheck func"
    assert_counts_match(suite)
    (case,) = suite.findall("testcase")
    assert (case.get("classname"), case.get("name")) == ("gradcheck.func", "x")
    failure = case.find("failure")
    assert failure.get("message").startswith(
        "worst entry x[1, 2]: analytic 21, numeric 14, rel error 3.33e-01 > fail tol 0.01, floor "
    )
    assert "x[1, 2]: fail, analytic 21, numeric 14" in failure.text
    assert failure.text.startswith("12 entries checked: 11 pass, 0 warn, 1 fail, 0 kink")
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert props["status"] == "fail" and props["summary"] == "12 checks: 11 pass, 0 warn, 1 fail"


def test_passing_func_report():
    suite = parse(to_junit_xml(check_gradient(lambda x: (np.sum(x**2), 2 * x), np.ones(4))))
    assert_counts_match(suite)
    (case,) = suite.findall("testcase")
    assert list(case) == []
    assert (suite.get("tests"), suite.get("failures")) == ("1", "0")


def test_write_junit_round_trip(tmp_path):
    report = check_expression("sin(x)", at=["0.5"])
    path = tmp_path / "r.xml"
    write_junit(report, path)
    assert path.read_text(encoding="utf-8").startswith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites')
    suite = ET.parse(path).getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures")) == ("1", "0")


# ------------------------------------------------------------------ --junit on the CLI
def test_cli_expr_junit_keeps_the_exit_code(tmp_path, capsys):
    path = tmp_path / "expr.xml"
    code, out, _ = run(["expr", "x**2", "--at", "1", "--grad", "3*x", "--junit", str(path)], capsys)
    assert code == ExitCode.CHECK_FAILED
    assert "FAIL" in out
    suite = ET.parse(path).getroot().find("testsuite")
    assert (suite.get("name"), suite.get("tests"), suite.get("failures")) == ("gradcheck expr", "1", "1")


def test_cli_func_junit_with_json(tmp_path, capsys, monkeypatch):
    (tmp_path / "m.py").write_text("import numpy as np\ndef q(x):\n    return np.sum(x**2), 2*x\n")
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(["func", "m.py:q", "--format", "json", "--junit", "out.xml"], capsys)
    assert code == ExitCode.OK
    assert out.lstrip().startswith("{")  # stdout is still only the JSON
    suite = ET.parse(tmp_path / "out.xml").getroot().find("testsuite")
    assert (suite.get("name"), suite.get("tests"), suite.get("failures")) == ("gradcheck func", "1", "0")


@pytest.mark.parametrize(
    "args",
    [
        ["expr", "sin(x", "--at", "1"],  # bad expression
        ["expr", "log(x)", "--at", "-1"],  # outside the domain
        ["func", "nofile.py:f"],  # nothing to load
        ["func", "m.py:boom"],  # user code raised
    ],
)
def test_bad_input_writes_no_junit(tmp_path, capsys, monkeypatch, args):
    (tmp_path / "m.py").write_text("def boom(x):\n    raise RuntimeError('no')\n")
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(args + ["--junit", "out.xml"], capsys)
    assert code == ExitCode.BAD_INPUT
    assert out == ""
    assert not (tmp_path / "out.xml").exists()


def test_bad_junit_path_is_bad_input(tmp_path, capsys):
    code, out, err = run(["expr", "x**2", "--at", "1", "--junit", str(tmp_path / "no" / "r.xml")], capsys)
    assert code == ExitCode.BAD_INPUT and out == ""
    assert "--junit: directory" in err and "does not exist" in err
    code, out, err = run(["expr", "x**2", "--at", "1", "--junit", str(tmp_path)], capsys)
    assert code == ExitCode.BAD_INPUT and out == ""
    assert "is a directory, expected a file name" in err


def test_junit_never_over_python_code_or_into_a_pipe(tmp_path, capsys, monkeypatch):
    """--junit quad.py would overwrite the code being checked; a FIFO would block forever."""
    import os

    monkeypatch.chdir(tmp_path)
    (tmp_path / "quad.py").write_text("def f(x):\n    return (x ** 2).sum(), 2 * x\n")
    code, out, err = run(["expr", "x**2", "--junit", "quad.py"], capsys)
    assert code == ExitCode.BAD_INPUT and out == ""
    assert err.startswith("error: --junit: 'quad.py' is a source file")
    assert (tmp_path / "quad.py").read_text().startswith("def f(x)")
    os.mkfifo(tmp_path / "fifo")
    code, out, err = run(["expr", "x**2", "--junit", "fifo"], capsys)
    assert code == ExitCode.BAD_INPUT and "is not a regular file" in err


def test_junit_is_written_whole_or_not_at_all(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "r.xml").write_text("old")
    code, _, _ = run(["expr", "x**2", "--at", "1", "--junit", "r.xml"], capsys)
    assert code == ExitCode.OK
    assert (tmp_path / "r.xml").read_text().startswith("<?xml")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.xml"]  # no temporary file left
