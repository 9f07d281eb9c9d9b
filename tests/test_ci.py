"""CI-grade output and hostile input (issue 17): closed and broken stdout, narrow and
odd terminals, the JSON error document, ``-q``'s worst entry, bad option values, users'
code returning NaN, bounded work, progress off a terminal, JUnit written safely.

Streams a shell controls (a closed descriptor, ``/dev/full``, a pipe whose reader left)
are tested in subprocesses; the rest in-process with the ``cli`` fixture.  stdout and
stderr are always checked separately.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from gradcheck_cli.cli import ExitCode

from conftest import assert_one_error_line

LAYERS = Path(__file__).resolve().parent / "layers" / "layers.py"
PASSING = ["expr", "sin(x)", "--at", "1"]
FAILING = ["expr", "sin(x)", "--at", "1", "--grad", "x=2*cos(x)"]
BAD = ["expr", "sin("]


def gradcheck(args, stdout=subprocess.PIPE, env=None, close_stdout=False, timeout=120):
    """Run ``python -m gradcheck_cli ARGS`` in a subprocess; (code, stdout, stderr)."""
    environ = dict(os.environ, **(env or {}))
    environ.pop("GRADCHECK_DEBUG", None)
    command = [sys.executable, "-m", "gradcheck_cli", *args]
    if close_stdout:  # `gradcheck ... >&-`: the process starts with descriptor 1 closed
        command = ["sh", "-c", 'exec "$@" >&-', "sh", *command]
    proc = subprocess.run(command, stdout=stdout, stderr=subprocess.PIPE, env=environ, timeout=timeout)
    out = proc.stdout.decode() if isinstance(proc.stdout, bytes) else ""
    return proc.returncode, out, proc.stderr.decode()


# ------------------------------------------------------------------ a closed or failing stdout
@pytest.mark.parametrize("args, code", [(PASSING, ExitCode.OK), (FAILING, ExitCode.CHECK_FAILED)])
def test_a_closed_stdout_keeps_the_verdict_and_stderr_empty(args, code):
    got, _, err = gradcheck(args, close_stdout=True)
    assert got == code and err == ""


def test_a_closed_stdout_with_bad_input_is_still_one_error_line():
    code, _, err = gradcheck(BAD, close_stdout=True)
    assert code == ExitCode.BAD_INPUT
    assert_one_error_line(err, "syntax error")


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["net", "--inject-bug", "list"], ["expr", "--help"]])
def test_output_into_a_pipe_whose_reader_left_exits_0(args):
    """``gradcheck --help | true``: the reader is gone before we write."""
    proc = subprocess.Popen([sys.executable, "-m", "gradcheck_cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == ExitCode.OK and err == ""


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("args, code", [(PASSING, ExitCode.OK), (FAILING, ExitCode.CHECK_FAILED)])
def test_a_full_device_keeps_the_verdict_and_says_the_report_is_lost(args, code):
    with open("/dev/full", "w") as full:
        got, _, err = gradcheck(args, stdout=full)
    assert got == code
    assert err.splitlines() == [
        "error: cannot write the report to stdout: No space left on device (the exit code is still the verdict's)"]


def test_columns_0_still_prints_the_table():
    code, out, err = gradcheck(PASSING, env={"COLUMNS": "0"})
    assert code == ExitCode.OK and err == ""
    assert "0.5403023059" in out and "1 check: 1 pass, 0 warn, 0 fail" in out


def test_an_ascii_stdout_gets_ascii_stand_ins():
    code, out, err = gradcheck(PASSING, env={"PYTHONIOENCODING": "ascii", "COLUMNS": "100"})
    assert code == ExitCode.OK and err == ""
    assert "±" not in out and "+-error" in out and "numeric +/- error" in out
    # the stand-in keeps the table's columns aligned: header and row end at the same column
    header = next(line for line in out.splitlines() if line.startswith("point"))
    row = next(line for line in out.splitlines() if line.startswith("x=1"))
    assert len(header.rstrip()) <= len(row)


def test_guarded_stdout_in_process(cli, monkeypatch):
    """In-process, ``sys.stdout is None`` keeps the verdict and prints nothing (the ``>&-``
    case without a subprocess); the caller's stdout is restored afterwards."""
    monkeypatch.setattr(sys, "stdout", None)
    r = cli(*FAILING)
    assert r.code == ExitCode.CHECK_FAILED and r.err == ""
    assert sys.stdout is None


# ------------------------------------------------------------------ the JSON error document
@pytest.mark.parametrize("args, fragment", [
    (["expr", "sin("], "syntax error"),
    (["expr", "sin(x)", "--seed", "-1"], "--seed"),
    (["net"], "--dims"),
    (["net", "--dims", "10", "5", "10", "--hvp", "99999999999999999999"], "--hvp"),
    (["func", "nosuchfile.py:f"], "nosuchfile.py"),
    (["layer", f"{LAYERS}:relu", "-i", "x=int:99999999999999999999:3"], "--input x"),
    (["sweep", "sin(x)", "--at", "x=1", "--wrt", "y"], "y"),
    (["descend", "x**2", "--x0", "1", "--max-iter", "10000000000000000000"], "--max-iter"),
    (["sanity", "--seed", "-1"], "--seed"),
    (["expr", "sin(x)", "--junit", "a.xml", "--junit", "b.xml"], "--junit"),
])
def test_format_json_on_exit_2_prints_an_error_document(cli, args, fragment):
    r = cli(*args, "--format", "json")
    assert r.code == ExitCode.BAD_INPUT
    doc = json.loads(r.out)
    assert doc == {"command": args[0], "status": "error", "error": doc["error"]}
    assert fragment in doc["error"]
    assert r.err.splitlines()[0] == f"error: {doc['error']}"  # the line still goes to stderr


def test_format_table_on_exit_2_prints_nothing_on_stdout(cli):
    r = cli("expr", "sin(")
    assert r.code == ExitCode.BAD_INPUT and r.out == ""


def test_format_json_error_document_for_an_unknown_command(cli):
    r = cli("nosuchcommand", "--format", "json")
    assert r.code == ExitCode.BAD_INPUT
    assert json.loads(r.out)["command"] is None


# ------------------------------------------------------------------ -q: the worst entry
def test_quiet_names_the_worst_entry_when_something_fails(cli):
    r = cli(*FAILING, "-q")
    assert r.code == ExitCode.CHECK_FAILED and r.err == ""
    assert r.out.splitlines() == [
        "worst: d/dx at x=1 FAIL, analytic 1.080605, numeric 0.5403023, rel error 5.0e-01",
        "1 check: 0 pass, 0 warn, 1 fail",
    ]


# ------------------------------------------------------------------ bad option values: exit 2 naming the option
@pytest.mark.parametrize("args, option", [
    (["expr", "sin(x)", "--seed", "-1"], "--seed"),
    (["net", "--dims", "2", "2", "2", "--seed", "-1"], "--seed"),
    (["func", "f.py:quad", "--seed", "-1"], "--seed"),
    (["sweep", "sin(x)", "--seed", "-1"], "--seed"),
    (["net", "--dims", "2", "2", "2", "--hvp", "99999999999999999999"], "--hvp"),
    (["func", "f.py:quad", "--hvp", "1001"], "--hvp"),
    (["func", "f.py:quad", "--range", "-1e308,1e308"], "--range"),
    (["layer", "layers.py:relu", "-i", "x=int:99999999999999999999:3"], "--input x"),
    (["layer", "layers.py:relu", "-i", "x=int:-99999999999999999999..5:3"], "--input x"),
    (["layer", "layers.py:relu", "-i", "x=uniform:-1e308..1e308:3"], "--input x"),
    (["layer", "layers.py:affine", "-i", "x=2,3", "-i", "w=3,2", "-i", "b=2",
      "-p", "a=" + "[" * 600 + "]" * 600], "--param a"),
    (["descend", "x**2", "--x0", "1", "--max-iter", "10000000000000000000"], "--max-iter"),
    (["func", "f.py:quad", "--junit", "a.xml", "--junit", "b.xml"], "--junit"),
    (["net", "--dims", "2", "2", "2", "--dims", "3", "3", "3"], "--dims"),
])
def test_bad_option_values_exit_2_naming_the_option(cli, tmp_path, monkeypatch, args, option):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "f.py").write_text("import numpy as np\ndef quad(x):\n    return float(np.sum(x**2)), 2*x\n")
    (tmp_path / "layers.py").write_text(LAYERS.read_text())
    r = cli(*args)
    assert_one_error_line(r, option)
    assert not list(tmp_path.glob("*.xml"))


# ------------------------------------------------------------------ users' code returning NaN
LOG_LAYER = textwrap.dedent("""
    import numpy as np

    def log_forward(x):
        return np.log(x), x

    def log_backward(dout, cache):
        return dout / cache

    def logloss(x):
        return float(np.sum(np.log(x))), 1 / x
""")


@pytest.mark.parametrize("name, what", [("log", "out["), ("logloss", "loss")])
def test_a_nan_output_or_loss_is_exit_2_with_advice(cli, tmp_path, monkeypatch, name, what):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mylayers.py").write_text(LOG_LAYER)
    with np.errstate(all="ignore"):
        r = cli("layer", f"mylayers.py:{name}", "-i", "x=4")
    assert r.code == ExitCode.BAD_INPUT and r.out == ""
    line = [x for x in r.err.splitlines() if x.startswith("error: ")]
    assert len(line) == 1 and "Traceback" not in r.err
    assert f"returned a non-finite {what}" in line[0] and "(nan)" in line[0]
    assert "x ~ N(0, 1), seed 0, negative entries included" in line[0] and "uniform:LO..HI" in line[0]
    with np.errstate(all="ignore"):
        ok = cli("layer", f"mylayers.py:{name}", "-i", "x=uniform:0.5..2:4")
    assert ok.code == ExitCode.OK, ok.out + ok.err


# ------------------------------------------------------------------ JUnit written safely
def test_junit_is_written_whole_and_leaves_no_temporary_file(cli, tmp_path):
    path = tmp_path / "report.xml"
    path.write_text("old")
    r = cli(*PASSING, "--junit", str(path))
    assert r.code == ExitCode.OK
    assert path.read_text().startswith("<?xml") and path.read_text().rstrip().endswith("</testsuites>")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.xml"]


def test_junit_never_overwrites_python_source(cli, tmp_path):
    source = tmp_path / "quad.py"
    source.write_text("x = 1\n")
    r = cli(*PASSING, "--junit", str(source))
    assert_one_error_line(r, "--junit", "source file")
    assert source.read_text() == "x = 1\n"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_junit_to_a_fifo_is_exit_2_without_blocking(tmp_path):
    fifo = tmp_path / "report.xml"
    os.mkfifo(fifo)
    code, out, err = gradcheck([*PASSING, "--junit", str(fifo)], timeout=60)
    assert code == ExitCode.BAD_INPUT and out == ""
    assert_one_error_line(err, "--junit", "not a regular file")


# ------------------------------------------------------------------ narrow terminals: no number cut
@pytest.mark.parametrize("columns", [40, 60])
@pytest.mark.parametrize("args", [
    ["net", "--dims", "10", "5", "10", "--inject-bug", "sign-flip", "--top", "3"],
    ["descend", "x**2 + y**2 + z**2", "--x0", "x=1,y=2,z=3"],
])
def test_narrow_terminals_never_cut_a_number(cli, monkeypatch, args, columns):
    monkeypatch.setenv("COLUMNS", str(columns))
    r = cli(*args)
    lines = r.out.splitlines()
    assert all(len(line) <= columns for line in lines), [line for line in lines if len(line) > columns]
    assert not [line for line in lines if "…" in line and line.strip() != "…"]  # a lone … marks skipped rows
    if args[0] == "net":
        assert "-1.860806" in r.out and "1.860806" in r.out  # W2[3, 5]: both values, whole


def test_sweep_wraps_to_the_terminal(cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    r = cli("sweep", "sin(x)*y", "--at", "x=1,y=2", "--grad", "x=2*cos(x)*y")
    assert r.code == ExitCode.CHECK_FAILED
    assert max(len(line) for line in r.out.splitlines()) <= 80
    assert "the analytic derivative is wrong" in " ".join(r.out.split())


# ------------------------------------------------------------------ bounded work
def test_descend_keeps_only_the_iterations_it_shows():
    from gradcheck_cli.descent import HEAD_ROWS, TAIL_ROWS, descend

    result = descend(lambda x: (float(x @ x), 2 * x), np.array([1.0, 2.0]), lr=1e-6, tol=1e-12, max_iter=20_000)
    assert result.iterations == 20_000 and result.outcome.value == "max_iter"
    assert len(result.xs) == HEAD_ROWS + TAIL_ROWS  # not 20,001 rows
    assert result.kept[-1] == 20_000 and result.x == pytest.approx(np.array([1.0, 2.0]) * (1 - 2e-6) ** 20_000)
    doc = result.to_dict()
    assert [h["iteration"] for h in doc["history"]][-2:] == [19_999, 20_000]


def test_sweep_func_on_a_large_x_searches_instead_of_estimating_every_entry(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    calls = tmp_path / "calls.txt"
    (tmp_path / "big.py").write_text(textwrap.dedent(f"""
        import numpy as np

        def one_wrong(x):
            with open({str(calls)!r}, "a") as fh:
                fh.write(".")
            g = 2 * x
            g.reshape(-1)[777] *= 3
            return float(np.sum(x ** 2)), g
    """))
    r = cli("sweep", "--func", "big.py:one_wrong", "--shape", "5000")
    assert r.code == ExitCode.CHECK_FAILED
    assert "sweep of df/dx[777]" in r.out
    assert len(calls.read_text()) < 5000  # estimating every entry alone would take 2 x 5000 calls


# ------------------------------------------------------------------ progress off a terminal
def test_progress_off_a_terminal_only_when_asked_or_long():
    import io

    from rich.console import Console

    from gradcheck_cli.views.progress import DelayedProgress

    buf = io.StringIO()
    asked = DelayedProgress("checking x", console=Console(file=buf, force_terminal=False), show=True)
    with asked as p:
        p(3, 10)
    assert buf.getvalue() == "progress: checking x 3/10 (30%), 0 s\n"
    buf = io.StringIO()
    never = DelayedProgress("checking x", console=Console(file=buf, force_terminal=False), show=False)
    with never as p:
        p(3, 10)
    buf2 = io.StringIO()
    auto = DelayedProgress("checking x", console=Console(file=buf2, force_terminal=False))
    with auto as p:
        p(3, 10)  # a quick run: nothing
    assert buf.getvalue() == "" and buf2.getvalue() == ""


def test_progress_option_writes_lines_on_stderr(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "f.py").write_text("import numpy as np\ndef quad(x):\n    return float(np.sum(x**2)), 2*x\n")
    r = cli("func", "f.py:quad", "--mode", "full", "--progress", "-q")
    assert r.code == ExitCode.OK and r.err.startswith("progress: checking x ")
    quiet = cli("func", "f.py:quad", "--mode", "full", "-q")
    assert quiet.code == ExitCode.OK and quiet.err == ""


def test_sweep_progress_follows_the_search_for_the_worst_entry(cli, tmp_path, monkeypatch):
    """``sweep --func`` on a large x searches for the worst entry first: ``--progress``
    shows that search on stderr; without it a quick run leaves stderr empty (issue 17 item 7)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "f.py").write_text("import numpy as np\ndef quad(x):\n    return float(np.sum(x**2)), 2*x\n")
    r = cli("sweep", "--func", "f.py:quad", "--shape", "3000", "--progress", "-q")
    assert r.code == ExitCode.OK and r.err.startswith("progress: finding the worst entry ")
    quiet = cli("sweep", "--func", "f.py:quad", "--shape", "3000", "-q")
    assert quiet.code == ExitCode.OK and quiet.err == ""


# ------------------------------------------------------------------ the time limit and gc callbacks
def test_the_time_limit_never_fires_inside_a_gc_callback(monkeypatch):
    """An exception raised in a gc callback is lost ("Exception ignored ..."): the alarm
    waits for ordinary code (issue 17 item 4)."""
    import signal
    import time

    from gradcheck_cli.expression.calculus import TimeLimit, time_limit

    if not hasattr(signal, "setitimer"):
        pytest.skip("needs setitimer")
    lost = []
    monkeypatch.setattr(sys, "unraisablehook", lost.append)

    def slow_callback(phase, info):
        if phase == "start":
            end = time.monotonic() + 0.3
            while time.monotonic() < end:
                pass

    gc.callbacks.append(slow_callback)
    try:
        with pytest.raises(TimeLimit):
            with time_limit(0.05):
                gc.collect()
                while True:
                    pass
    finally:
        gc.callbacks.remove(slow_callback)
    assert lost == []


def test_a_large_correct_layer_costs_far_fewer_calls_than_entries(cli):
    """relu at 40,000 N(0, 1) entries: the re-verified union of cleared sets reached a kink
    its parts did not, so every entry fell to a direct check (4 calls each of an O(n)
    layer: quadratic work).  Each cleared set is now re-verified on its own."""
    r = cli("layer", f"{LAYERS}:relu", "-i", "x=40000", "--format", "json")
    assert r.code == ExitCode.OK, r.err
    doc = json.loads(r.out)
    assert doc["summary"]["fail"] == 0 and doc["summary"]["checks"] == 40_000
    assert doc["effort"]["calls"] < 4_000  # a direct check of every entry: 160,000 calls


@pytest.mark.parametrize("mean", [False, True])
def test_the_network_numeric_gradient_in_sample_chunks_equals_the_whole(monkeypatch, mean):
    """``net --samples 100000 --dims 2 500 2`` allocated one (12, M, 500) block (4.47 GiB):
    past SERIES_BYTES the samples are taken in chunks, whose stencil values add up."""
    from gradcheck_cli.network import differences, model

    spec = model.NetworkSpec((5, 7, 3), mean=mean)
    data, labels, params = model.make_problem(spec, samples=50, seed=0)
    whole = differences.numeric_gradient(spec, data, labels, params)
    monkeypatch.setattr(differences, "SERIES_BYTES", differences.MAX_ORDER * 7 * 8 * 8)  # 8 samples a chunk
    assert len(differences._sample_chunks(spec, 50)) == 7
    chunked = differences.numeric_gradient(spec, data, labels, params)
    assert np.allclose(chunked.numeric, whole.numeric, rtol=1e-12, atol=0)
    assert np.allclose(chunked.noise, whole.noise, rtol=1e-2)
    _, grad = model.cost_and_grad(spec, data, labels, params)
    assert np.all(np.abs(chunked.numeric - grad) <= chunked.noise)  # still within its own error bound
