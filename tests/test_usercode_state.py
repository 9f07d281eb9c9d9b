"""Tests of gradcheck_cli.usercode.state and what UserFunction guarantees around every call:
users' output goes to our stderr (Python and fd level), our state is put back, whatever
their code raises is theirs, every call is counted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from gradcheck_cli.cli import ExitCode
from gradcheck_cli.usercode import UserFunction, load_seeded

from usercode_helpers import write  # noqa: F401

GRADCHECK = [sys.executable, "-m", "gradcheck_cli"]

BAD = """
import os
import sys
import numpy as np

def quad(x):
    return float(np.sum(x ** 2)), 2 * x

def prints(x):
    print("hello from the user", x.shape)
    sys.stdout.flush()
    os.write(1, b"fd-level hello\\n")
    return float(np.sum(x ** 2)), 2 * x

def wrong_prints(x):
    print("wrong and chatty")
    return float(np.sum(x ** 2)), 3 * x

def meddles(x):
    np.seterr(all="raise")
    sys.setrecursionlimit(60)
    sys.stdout = open(os.devnull, "w")
    os.chdir(os.path.dirname(os.getcwd()) or "/")
    return float(np.sum(x ** 2)), 2 * x

def closes_stdout(x):
    sys.stdout.close()
    return float(np.sum(x ** 2)), 2 * x

def generator_exit(x):
    raise GeneratorExit

def exits(x):
    sys.exit(0)

def interrupted(x):
    raise KeyboardInterrupt

def tiny(x):
    # underflows: with np.seterr(all="raise") left in place our own arithmetic would raise
    return float(np.sum((1e-200 * x) ** 2)), 2e-400 * x
"""


def gradcheck(*args: str, cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "120"}
    return subprocess.run([*GRADCHECK, *args], cwd=cwd, capture_output=True, text=True, env=env, **kwargs)


@pytest.fixture
def user_dir(tmp_path, monkeypatch):
    write(tmp_path / "bad.py", BAD)
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --------------------------------------------------------------------------- their output


def test_their_output_goes_to_our_stderr_and_json_stays_one_document(user_dir):
    r = gradcheck("func", "bad.py:prints", "--format", "json", cwd=user_dir)
    assert r.returncode == ExitCode.OK, r.stderr
    doc = json.loads(r.stdout)  # one JSON document, nothing else
    assert doc["status"] == "pass"
    assert "hello from the user (3, 4)" in r.stderr
    assert "fd-level hello" in r.stderr  # written to fd 1 by os.write
    assert "hello" not in r.stdout


@pytest.mark.parametrize("target, verdict", [("bad.py:prints", ExitCode.OK), ("bad.py:wrong_prints", ExitCode.CHECK_FAILED)])
def test_a_closed_stdout_keeps_the_verdicts_exit_code(user_dir, target, verdict):
    """`gradcheck func bad.py:prints -q | head -0`: their prints never meet the closed pipe."""
    proc = subprocess.Popen([*GRADCHECK, "func", target, "-q"], cwd=user_dir, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader left before anything was written
    err = proc.stderr.read().decode()
    assert proc.wait() == verdict, err
    assert "BrokenPipe" not in err and "error:" not in err


def test_their_code_cannot_close_our_stdout(user_dir):
    r = gradcheck("func", "bad.py:closes_stdout", "-q", cwd=user_dir)
    assert r.returncode == ExitCode.OK, r.stderr
    assert "12 checks: 12 pass" in r.stdout


# --------------------------------------------------------------------------- our state


def test_our_state_is_restored_after_their_calls(user_dir):
    before = (np.geterr(), sys.getrecursionlimit(), sys.stdout, os.getcwd())
    (fu,) = load_seeded([("bad.py:meddles", "function")], 0)
    x = np.arange(3.0)
    with fu.session():
        fu.cost_and_grad(x, grad_shape=x.shape)
        # inside a session too, after every call
        assert np.geterr() == before[0]
        assert sys.getrecursionlimit() == before[1]
        assert os.getcwd() == before[3]
    fu.call(x)
    assert (np.geterr(), sys.getrecursionlimit(), sys.stdout, os.getcwd()) == before


def test_meddling_code_is_checked_and_the_junit_lands_where_asked(user_dir):
    r = gradcheck("func", "bad.py:meddles", "--junit", "out.xml", cwd=user_dir)
    assert r.returncode == ExitCode.OK, r.stderr
    assert "12 checks: 12 pass" in r.stdout
    assert (user_dir / "out.xml").is_file()


def test_errstate_raise_in_their_code_does_not_break_our_arithmetic(cli, user_dir):
    write(user_dir / "raiser.py", """
        import numpy as np
        np.seterr(all="raise")
        def tiny(x):
            return float(np.sum((1e-170 * x) ** 2)), 2e-340 * x
        """)
    r = cli("func", "raiser.py:tiny", "-q")
    assert r.code in (ExitCode.OK, ExitCode.CHECK_FAILED), r.err
    assert "internal error" not in r.err


# --------------------------------------------------------------------------- whatever they raise is theirs


@pytest.mark.parametrize("target, line", [
    ("bad.py:generator_exit", "error: bad.py:generator_exit raised GeneratorExit"),
    ("bad.py:exits", "error: bad.py:exits raised SystemExit: 0"),
])
def test_a_base_exception_from_their_code_is_theirs(cli, user_dir, target, line):
    r = cli("func", target)
    assert r.code == ExitCode.BAD_INPUT
    assert r.out == ""
    assert r.err.splitlines()[0] == line
    assert "gradcheck_cli" not in r.err  # their traceback only


def test_keyboard_interrupt_in_their_code_is_130(cli, user_dir):
    assert cli("func", "bad.py:interrupted").code == ExitCode.INTERRUPTED


def test_a_thread_they_leave_running_does_not_hang_the_exit(user_dir):
    write(user_dir / "threads.py", """
        import threading, time
        import numpy as np
        def f(x):
            threading.Thread(target=time.sleep, args=(3600,)).start()
            return float(np.sum(x ** 2)), 2 * x
        """)
    r = gradcheck("func", "threads.py:f", "-q", cwd=user_dir, timeout=60)
    assert r.returncode == ExitCode.OK, r.stderr
    assert "12 checks: 12 pass" in r.stdout


# --------------------------------------------------------------------------- every call counted


def _counted(grad_bug):
    calls = [0]

    def f(x):
        calls[0] += 1
        g = 2 * x
        grad_bug(g)
        return float(np.sum(x ** 2)), g

    return f, calls


def _wrong_entries(g):
    g.flat[3] *= 1.5
    g.flat[7] += 1e-6  # warn-sized: re-estimated


@pytest.mark.parametrize("mode", ["adaptive", "full"])
@pytest.mark.parametrize("bug", [lambda g: None, _wrong_entries])
def test_effort_calls_equal_a_counter_inside_the_function(mode, bug):
    from gradcheck_cli.checks.func import check_gradient

    f, calls = _counted(bug)
    report = check_gradient(f, np.random.default_rng(0).standard_normal((20, 15)), mode=mode)
    assert report.effort.calls == calls[0] > 0


def test_second_opinions_are_counted_too():
    from gradcheck_cli.checks.func import check_gradient

    f, calls = _counted(lambda g: None)
    report = check_gradient(f, np.random.default_rng(0).standard_normal((4, 3)), hvp=2, taylor=True)
    assert report.effort.calls == calls[0] > 0


def test_effort_calls_of_net_impl_equal_a_counter_inside_it():
    from gradcheck_cli.network import model as models
    from gradcheck_cli.checks.net import check_network

    calls = [0]

    def forward_backward_prop(data, labels, params, dimensions):
        calls[0] += 1
        spec = models.NetworkSpec(tuple(dimensions))
        cost, grad = models.cost_and_grad(spec, data, labels, params)
        grad = grad.copy()
        grad[:7] *= 1.5  # W1's first entries wrong: searched and re-estimated
        return cost, grad

    report = check_network((10, 5, 10), impl=forward_backward_prop)
    assert report.status.value == "fail"
    assert report.effort.calls == calls[0] > 0
    calls[0] = 0
    report = check_network((10, 5, 10), impl=forward_backward_prop, hvp=2, taylor=True)
    assert report.effort.calls == calls[0] > 0


def test_effort_calls_of_a_layer_equal_counters_inside_it():
    from gradcheck_cli.checks.layer import check_layer

    calls = {"forward": 0, "backward": 0}

    def forward(x, w):
        calls["forward"] += 1
        return x @ w, (x, w)

    def backward(dout, cache):
        calls["backward"] += 1
        x, w = cache
        return dout @ w.T, 1.5 * (x.T @ dout)

    rng = np.random.default_rng(0)
    report = check_layer(forward, backward, {"x": rng.standard_normal((4, 5)), "w": rng.standard_normal((5, 3))})
    assert report.status.value == "fail"
    assert report.effort.calls == calls["forward"] + calls["backward"]


def test_the_wrapper_times_its_calls():
    import time

    fu = UserFunction(lambda x: time.sleep(0.01) or 0.0, "sleepy")
    fu.call(np.zeros(2))
    assert fu.calls == 1 and 0.01 <= fu.seconds < 1.0


# --------------------------------------------------------------------------- glibc's malloc thresholds


@pytest.mark.parametrize("confstr", [
    lambda name: (_ for _ in ()).throw(OSError(22, "Invalid argument")),  # musl refuses the name
    lambda name: (_ for _ in ()).throw(ValueError("unrecognized configuration name")),  # no such name
    lambda name: None,
])
def test_malloc_thresholds_are_left_alone_without_glibc(monkeypatch, confstr):
    import ctypes

    from gradcheck_cli.usercode import state

    monkeypatch.setattr(state, "_malloc_tuned", None)
    monkeypatch.setattr(os, "confstr", confstr)
    monkeypatch.setattr(ctypes, "CDLL", lambda *a, **k: pytest.fail("mallopt looked up without glibc"))
    assert state.keep_freed_memory() is False
    assert state.keep_freed_memory() is False  # once per process: the second call looks nothing up


def test_malloc_thresholds_are_raised_with_glibc(monkeypatch):
    from gradcheck_cli.usercode import state

    if not state._glibc():
        pytest.skip("glibc only")
    monkeypatch.setattr(state, "_malloc_tuned", None)
    assert state.keep_freed_memory() is True
