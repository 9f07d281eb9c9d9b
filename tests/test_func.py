"""`gradcheck func` and the engine under it (`check.check_gradient`, `check.check_func`)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import run, timeless

from gradcheck_cli.blackbox import stencils
from gradcheck_cli.checks.func import check_gradient
from gradcheck_cli.checks.func import check_func
from gradcheck_cli.inputs import parse_shape, parse_x
from gradcheck_cli.views.table import x_text
from gradcheck_cli.cli import ExitCode, main
from gradcheck_cli.errors import OptionError, UserCodeError
from gradcheck_cli.verdict import FLOAT32_PASS_TOL, Status

GRADCHECK = Path(sys.executable).with_name("gradcheck")

USER_CODE = '''
import random
import numpy as np

def quad(x):
    return np.sum(x ** 2), 2 * x

def quad_one_entry(x):
    g = 2 * x
    g[1, 2] = 3 * x[1, 2]
    return np.sum(x ** 2), g

def quad_factor2(x):
    return np.sum(x ** 2), 4 * x

def quad_sign(x):
    return np.sum(x ** 2), -2 * x

def quad_tiny_error(x):
    return np.sum(x ** 2), 2 * x * (1 + 1e-5)

def quad_1e9(x):
    return 1e9 * np.sum(x ** 2), 2e9 * x

def quad_1e9_factor2(x):
    return 1e9 * np.sum(x ** 2), 4e9 * x

def cost_only(x):
    return np.sum(np.sin(x))

def cost_grad(x):
    return np.cos(x)

def softmax_ce(w):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((20, w.shape[0]))
    Y = np.eye(w.shape[1])[rng.integers(0, w.shape[1], 20)]
    z = X @ w
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    return -np.sum(Y * np.log(p)), X.T @ (p - Y)

def mlp(theta):
    rng = np.random.default_rng(4)
    X = rng.standard_normal((15, 4))
    Y = np.eye(3)[rng.integers(0, 3, 15)]
    W1, b1 = theta[:20].reshape(4, 5), theta[20:25]
    W2, b2 = theta[25:40].reshape(5, 3), theta[40:43]
    h = np.tanh(X @ W1 + b1)
    z = h @ W2 + b2
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    d = p - Y
    dh = d @ W2.T * (1 - h ** 2)
    grad = np.concatenate([(X.T @ dh).ravel(), dh.sum(0), (h.T @ d).ravel(), d.sum(0)])
    return -np.sum(Y * np.log(p)), grad

def noisy(x):
    # draws from both global generators: only a fixed random state makes this checkable
    r = np.random.randn(*x.shape) + random.random()
    return np.sum(r * x ** 2), 2 * r * x

def mutating(x):
    x += 1.0
    return np.sum(x ** 2), 2 * x

def wrong_shape(x):
    return np.sum(x ** 2), (2 * x).ravel()

def boom(x):
    return helper(x)

def helper(x):
    raise ValueError("bad things happen")

def not_a_pair(x):
    return np.sum(x ** 2)
'''


@pytest.fixture
def user_dir(tmp_path, monkeypatch):
    (tmp_path / "mycode.py").write_text(USER_CODE)
    monkeypatch.chdir(tmp_path)
    return tmp_path




def run_json(args, capsys):
    code, out, err = run(list(args) + ["--format", "json"], capsys)
    return code, json.loads(out), err


# ------------------------------------------------------------------ verdicts
def test_quad_passes_with_the_course_table(user_dir, capsys):
    code, out, err = run(["func", "mycode.py:quad", "--shape", "3,4"], capsys)
    assert code == ExitCode.OK
    assert err == ""
    assert "f = mycode.py:quad -> (cost, grad)" in out
    assert "x ~ N(0, 1), seed 0, shape 3 x 4" in out
    assert "12 checks: 12 pass, 0 warn, 0 fail" in out
    assert "worst entries" in out


def test_default_shape_is_3_by_4(user_dir, capsys):
    code, doc, _ = run_json(["func", "mycode.py:quad"], capsys)
    assert code == ExitCode.OK
    assert doc["blocks"][0]["shape"] == [3, 4]
    assert doc["blocks"][0]["checked"] == 12


@pytest.mark.parametrize("name", ["quad", "softmax_ce", "mlp", "quad_1e9"])
def test_correct_gradients_pass_without_warnings(user_dir, capsys, name):
    shape = {"softmax_ce": "6,4", "mlp": "43"}.get(name, "3,4")
    code, doc, _ = run_json(["func", f"mycode.py:{name}", "--shape", shape, "--strict"], capsys)
    assert code == ExitCode.OK
    assert doc["status"] == "pass"
    assert doc["summary"]["warn"] == 0 and doc["summary"]["fail"] == 0
    assert doc["blocks"][0]["max_rel_error"] < 1e-7


def test_one_wrong_entry_fails_and_is_named(user_dir, capsys):
    code, out, _ = run(["func", "mycode.py:quad_one_entry"], capsys)
    assert code == ExitCode.CHECK_FAILED
    assert "12 checks: 11 pass, 0 warn, 1 fail" in out
    row = next(line for line in out.splitlines() if line.startswith("x[1, 2]"))
    assert "FAIL" in row
    code, doc, _ = run_json(["func", "mycode.py:quad_one_entry"], capsys)
    assert doc["status"] == "fail"
    assert doc["blocks"][0]["worst_index"] == [1, 2]
    failing = [c for c in doc["checks"] if c["status"] == "fail"]
    assert [c["index"] for c in failing] == [[1, 2]]
    assert failing[0]["analytic"] == pytest.approx(1.5 * failing[0]["numeric"], rel=1e-6)
    assert failing[0]["rel_error"] == pytest.approx(1 / 3, rel=1e-6)


@pytest.mark.parametrize(
    "name, hint",
    [
        ("quad_factor2", "analytic / numeric = 2 on all 12 failing entries: a missing or extra factor 2?"),
        ("quad_sign", "analytic = -numeric on all 12 failing entries: a sign error?"),
        ("quad_1e9_factor2", "analytic / numeric = 2 on all 12 failing entries"),
    ],
)
def test_factor_and_sign_errors_fail_with_a_hint(user_dir, capsys, name, hint):
    code, out, _ = run(["func", f"mycode.py:{name}"], capsys)
    assert code == ExitCode.CHECK_FAILED
    assert "12 checks: 0 pass, 0 warn, 12 fail" in out
    assert hint in out


def test_small_error_warns_and_strict_fails(user_dir, capsys):
    code, out, _ = run(["func", "mycode.py:quad_tiny_error", "-q"], capsys)
    assert code == ExitCode.OK
    worst, summary = out.strip().splitlines()
    assert summary == "12 checks: 0 pass, 12 warn, 0 fail"
    assert worst.startswith("worst: x[") and " WARN, " in worst  # -q names the worst entry
    code, out, _ = run(["func", "mycode.py:quad_tiny_error", "-q", "--strict"], capsys)
    assert code == ExitCode.CHECK_FAILED
    assert "(warn fails under --strict)" in out


def test_verdict_options(user_dir, capsys):
    code, doc, _ = run_json(["func", "mycode.py:quad_tiny_error", "--pass-tol", "1e-4"], capsys)
    assert (code, doc["status"], doc["thresholds"]) == (ExitCode.OK, "pass", {"pass": 1e-4, "fail": 0.01})
    code, doc, _ = run_json(["func", "mycode.py:quad_tiny_error", "--fail-tol", "1e-6", "--pass-tol", "1e-7"], capsys)
    assert (code, doc["status"]) == (ExitCode.CHECK_FAILED, "fail")
    code, doc, _ = run_json(["func", "mycode.py:quad", "--floor", "1"], capsys)
    assert code == ExitCode.OK and doc["floor"] == 1.0
    assert all(c["floor"] == 1.0 for c in doc["checks"])
    code, doc, _ = run_json(["func", "mycode.py:quad", "--eps", "1e-4"], capsys)
    assert code == ExitCode.OK and doc["status"] == "pass"


def test_separate_gradient_function(user_dir, capsys):
    code, out, _ = run(["func", "mycode.py:cost_only", "--grad", "mycode.py:cost_grad", "--x", "1,2,3"], capsys)
    assert code == ExitCode.OK
    assert "f = mycode.py:cost_only -> cost, grad = mycode.py:cost_grad" in out
    assert "x = [1., 2., 3.], shape 3" in out
    # NAME alone means: from the same file
    code, out, _ = run(["func", "mycode.py:cost_only", "--grad", "cost_grad", "-q"], capsys)
    assert (code, out.strip()) == (ExitCode.OK, "12 checks: 12 pass, 0 warn, 0 fail")
    # a pair returned where only the cost is expected
    code, out, err = run(["func", "mycode.py:quad", "--grad", "cost_grad"], capsys)
    assert code == ExitCode.BAD_INPUT
    assert "mycode.py:quad returned a tuple of 2 items, expected a scalar cost" in err


def test_module_form(user_dir, capsys):
    code, out, _ = run(["func", "mycode:quad", "-q"], capsys)
    assert (code, out.strip()) == (ExitCode.OK, "12 checks: 12 pass, 0 warn, 0 fail")


# ------------------------------------------------------------------ x
def test_x_from_numbers_npy_and_scalar(user_dir, capsys):
    np.save(user_dir / "x.npy", np.arange(6.0).reshape(2, 3) - 2.5)
    code, doc, _ = run_json(["func", "mycode.py:quad", "--x", "x.npy"], capsys)
    assert code == ExitCode.OK and doc["blocks"][0]["shape"] == [2, 3]
    assert doc["cost"] == pytest.approx(np.sum((np.arange(6.0) - 2.5) ** 2))
    code, doc, _ = run_json(["func", "mycode.py:quad", "--x", "1.0,2.0,3.0"], capsys)
    assert code == ExitCode.OK and doc["blocks"][0]["shape"] == [3] and doc["cost"] == 14.0
    code, out, _ = run(["func", "mycode.py:quad", "--x", "2.5"], capsys)
    assert code == ExitCode.OK and "x = 2.5, a scalar" in out
    code, doc, _ = run_json(["func", "mycode.py:quad", "--shape", "scalar"], capsys)
    assert code == ExitCode.OK and doc["blocks"][0]["shape"] == [] and doc["blocks"][0]["worst_index"] == []


def test_seed_changes_x_reproducibly(user_dir, capsys):
    _, a, _ = run_json(["func", "mycode.py:quad", "--seed", "1"], capsys)
    _, b, _ = run_json(["func", "mycode.py:quad", "--seed", "1"], capsys)
    _, c, _ = run_json(["func", "mycode.py:quad", "--seed", "2"], capsys)
    assert timeless(a) == timeless(b)  # seconds: the one figure that varies
    assert a["cost"] != c["cost"]
    expected = np.random.default_rng(1).standard_normal((3, 4))
    assert a["cost"] == pytest.approx(np.sum(expected**2))


@pytest.mark.parametrize(
    "args, message",
    [
        (["--shape", "0,3"], "--shape: every size must be at least 1, got '0,3'"),
        (["--shape", "3,a"], "--shape must be whole numbers, e.g. 3,4; 'a' is not a whole number"),
        (["--x", "1,b"], "--x must be a .npy file or numbers separated by commas"),
        (["--x", "missing.npy"], "--x: no file 'missing.npy'"),
        (["--x", "1,nan"], "x must be finite, but x[1] is nan"),
        (["--x", "1,2", "--shape", "2"], "give either --shape or --x, not both"),
        (["--eps", "-1"], "--eps must be a positive number"),
        (["--sample", "0"], "--sample"),
        (["--seed", "-3"], "Invalid value for '--seed'"),
        (["--pass-tol", "0.1"], "--pass-tol (0.1) must not exceed --fail-tol (0.01)"),
    ],
)
def test_bad_options_exit_2_with_one_line(user_dir, capsys, args, message):
    code, out, err = run(["func", "mycode.py:quad", *args], capsys)
    assert code == ExitCode.BAD_INPUT
    assert out == ""
    assert message in err
    assert err.startswith("error: ") and err.count("\n") == 1


def test_sample_checks_k_random_entries(user_dir, capsys):
    code, doc, _ = run_json(["func", "mycode.py:quad", "--shape", "30,40", "--sample", "7"], capsys)
    assert code == ExitCode.OK and doc["blocks"][0]["checked"] == 7 and doc["summary"]["checks"] == 7
    code, out, _ = run(["func", "mycode.py:quad", "--shape", "30,40", "--sample", "7"], capsys)
    assert "checked 7 of 1200 entries of x, chosen at random (seed 0)" in out
    # the sampled entries are the seeded choice, and a wrong one among them is found
    report = check_gradient(lambda x: (np.sum(x**2), 2 * x), np.ones((30, 40)), sample=7, seed=0, top=7)
    chosen = np.sort(np.random.default_rng(0).choice(1200, size=7, replace=False))
    assert sorted(np.ravel_multi_index(c.index, (30, 40)) for c in report.checks) == list(chosen)


def test_top_limits_the_shown_entries(user_dir, capsys):
    _, doc, _ = run_json(["func", "mycode.py:quad", "--top", "0"], capsys)
    assert doc["checks"] == []
    _, doc, _ = run_json(["func", "mycode.py:quad", "--top", "2"], capsys)
    assert len(doc["checks"]) == 2
    _, doc, _ = run_json(["func", "mycode.py:quad_factor2", "--top", "0"], capsys)
    assert len(doc["checks"]) == 12  # failing entries are always listed


def test_json_is_the_only_stdout(user_dir, capsys):
    code, out, err = run(["func", "mycode.py:quad_one_entry", "--format", "json"], capsys)
    doc = json.loads(out)
    assert code == ExitCode.CHECK_FAILED and err == ""
    assert doc["command"] == "func"
    assert doc["method"] == "central"
    assert doc["summary"] == {"checks": 12, "pass": 11, "warn": 0, "fail": 1, "kink": 0, "unresolved": 0}
    assert [b["name"] for b in doc["blocks"]] == ["x"]
    assert set(doc["checks"][0]) >= {"name", "index", "analytic", "numeric", "rel_error", "status"}
    assert doc["checks"][0]["name"] == "x"


# ------------------------------------------------------------------ user code
def test_function_drawing_random_numbers_passes(user_dir, capsys):
    np.random.seed(123)
    random.seed(123)
    before_np, before_py = np.random.get_state(), random.getstate()
    code, out, _ = run(["func", "mycode.py:noisy", "-q"], capsys)
    assert (code, out.strip()) == (ExitCode.OK, "12 checks: 12 pass, 0 warn, 0 fail")
    after_np = np.random.get_state()
    assert random.getstate() == before_py
    assert all(np.array_equal(a, b) for a, b in zip(before_np[1:2], after_np[1:2]))
    assert before_np[2:] == after_np[2:]


def test_mutating_x_exits_2(user_dir, capsys):
    code, out, err = run(["func", "mycode.py:mutating"], capsys)
    assert code == ExitCode.BAD_INPUT
    assert out == ""
    assert "error: mycode.py:mutating modified its input in place: x[0, 0] changed from 0.12573" in err


def test_mutation_is_undone_in_the_api():
    def mutating(x):
        x[0] = 99.0
        return np.sum(x**2), 2 * x

    x = np.array([1.0, 2.0])
    with pytest.raises(UserCodeError, match=r"modified its input in place: x\[0\] changed from 1.0 to 99.0"):
        check_gradient(mutating, x)
    assert x.tolist() == [1.0, 2.0]


def test_gradient_shape_mismatch_names_both_shapes(user_dir, capsys):
    code, out, err = run(["func", "mycode.py:wrong_shape"], capsys)
    assert code == ExitCode.BAD_INPUT
    assert out == ""
    assert "error: mycode.py:wrong_shape returned a gradient of shape (12,), expected (3, 4) (the shape of x)" in err


def test_separate_gradient_shape_mismatch():
    with pytest.raises(UserCodeError, match=r"returned a gradient of shape \(2,\), expected a real array of shape \(2, 2\)"):
        check_gradient(lambda x: np.sum(x), np.ones((2, 2)), grad=lambda x: np.ones(2))


def test_not_a_pair_exits_2(user_dir, capsys):
    code, _, err = run(["func", "mycode.py:not_a_pair"], capsys)
    assert code == ExitCode.BAD_INPUT
    assert "mycode.py:not_a_pair returned a single number" in err
    assert "expected a pair (cost, grad)" in err


def test_raising_user_code_shows_only_their_traceback(user_dir, capsys):
    code, out, err = run(["func", "mycode.py:boom"], capsys)
    assert code == ExitCode.BAD_INPUT
    assert out == ""
    lines = err.splitlines()
    assert lines[0] == "error: mycode.py:boom raised ValueError: bad things happen"
    assert lines[1] == "Traceback (most recent call last):"
    assert ', in boom' in err and ', in helper' in err
    assert 'raise ValueError("bad things happen")' in err
    assert "gradcheck_cli" not in err


def test_missing_function_and_file(user_dir, capsys):
    code, _, err = run(["func", "mycode.py:nope"], capsys)
    assert code == ExitCode.BAD_INPUT and "'mycode.py' has no function 'nope' (it defines: quad," in err
    code, _, err = run(["func", "other.py:quad"], capsys)
    assert code == ExitCode.BAD_INPUT and "error: cannot load 'other.py:quad': no file 'other.py'" in err


def test_loading_leaves_no_trace_and_sees_edits(user_dir, capsys):
    path_before = list(sys.path)
    code, _, _ = run(["func", "mycode.py:quad", "-q"], capsys)
    assert code == ExitCode.OK
    assert sys.path == path_before
    leftovers = [
        name for name, m in list(sys.modules.items())
        if str(getattr(m, "__file__", "") or "").startswith(str(user_dir))
    ]
    assert leftovers == []
    assert "mycode" not in sys.modules
    # a second check after an edit sees the new code
    (user_dir / "mycode.py").write_text(USER_CODE.replace("return np.sum(x ** 2), 2 * x\n", "return np.sum(x ** 2), 3 * x\n", 1))
    code, out, _ = run(["func", "mycode.py:quad", "-q"], capsys)
    assert (code, out.strip().splitlines()[-1]) == (ExitCode.CHECK_FAILED, "12 checks: 0 pass, 0 warn, 12 fail")
    code, out, _ = run(["func", "mycode:quad", "-q"], capsys)
    assert code == ExitCode.CHECK_FAILED
    assert "mycode" not in sys.modules


# ------------------------------------------------------------------ engine
def test_check_gradient_leaves_callers_x_and_rng_alone():
    x = np.arange(6).reshape(2, 3)  # integers: must be checked as floats
    state = np.random.get_state()
    calls = []

    def f(z):
        calls.append(z.dtype)
        return float(np.sum(z**3)), 3 * z**2

    report = check_gradient(f, x)
    assert report.passed and report.status is Status.PASS
    assert x.dtype.kind == "i" and x.tolist() == [[0, 1, 2], [3, 4, 5]]
    # float64 calls, and one in np.longdouble: does the code compute in the dtype it is
    # given (precision lifting)?  z**3 does, so entries float64 cannot settle could be lifted
    assert calls.count(np.dtype(np.longdouble)) == 1 and set(calls) == {np.dtype(float), np.dtype(np.longdouble)}
    # the analytic call (made twice: repeatability), the lifting probe, the noise probe, then
    # each of the six entries directly: two calls, four for an entry the first pair does not
    # verify, and the stencil ladder for one the four do not
    assert 2 + 1 + (stencils.PROBE_POINTS - 1) + 2 * 6 <= len(calls) <= 2 + 1 + (stencils.PROBE_POINTS - 1) + 40 * 6
    assert np.array_equal(np.random.get_state()[1], state[1])


def test_check_func_validates_before_loading(user_dir):
    (user_dir / "loud.py").write_text("raise SystemExit('should not be loaded')\ndef f(x): pass\n")
    with pytest.raises(OptionError):
        check_func("loud.py:f", shape="0")


def test_parsers():
    assert parse_shape("3,4") == (3, 4)
    assert parse_shape("5") == (5,)
    assert parse_shape("(2, 3)") == (2, 3)
    assert parse_shape("scalar") == ()
    assert parse_shape("2x3") == (2, 3)
    x, label = parse_x("1,2,3")
    assert x.shape == (3,) and x_text(label, x.shape) == "x = [1., 2., 3.]"
    assert parse_x("2.5")[0].shape == ()
    assert parse_x("2.5,")[0].shape == (1,)


def test_progress_bar_only_on_a_terminal():
    import io

    from rich.console import Console

    from gradcheck_cli.views.progress import DelayedProgress

    quiet = DelayedProgress("x", delay=0.0, console=Console(file=io.StringIO(), force_terminal=False))
    with quiet as p:
        p(1, 10)
    assert not quiet.shown  # off a terminal: nothing for a quick run
    buf = io.StringIO()
    loud = DelayedProgress("checking x", delay=0.0, console=Console(file=buf, force_terminal=True, width=80))
    with loud as p:
        check_gradient(lambda z: (np.sum(z**2), 2 * z), np.ones(5), progress=p)
        assert loud.shown
    assert "checking x" in buf.getvalue()
    slow = DelayedProgress("x", delay=60.0, console=Console(file=io.StringIO(), force_terminal=True))
    with slow as p:
        p(1, 10)
        assert not slow.shown


# ------------------------------------------------------------------ end to end
@pytest.mark.slow
def test_subprocess_end_to_end(user_dir):
    env = dict(os.environ, COLUMNS="120")
    ok = subprocess.run([str(GRADCHECK), "func", "mycode.py:quad", "--shape", "3,4"],
                        capture_output=True, text=True, env=env, timeout=120)
    assert ok.returncode == ExitCode.OK, ok.stderr
    assert ok.stderr == ""
    assert "12 checks: 12 pass, 0 warn, 0 fail" in ok.stdout
    bad = subprocess.run([str(GRADCHECK), "func", "mycode.py:boom"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == ExitCode.BAD_INPUT
    assert bad.stdout == ""
    assert bad.stderr.startswith("error: mycode.py:boom raised ValueError: bad things happen\n")
    assert "gradcheck_cli" not in bad.stderr and "typer" not in bad.stderr
    mut = subprocess.run([str(GRADCHECK), "func", "mycode.py:mutating"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert mut.returncode == ExitCode.BAD_INPUT and "Traceback" not in mut.stderr


# ---- issue 16 items 2, 3, 7: float32 code, tiny values, unresolved rows that help
def _f32(f):
    def g(x):
        cost, grad = f(np.asarray(x, dtype=np.float32))
        return np.float32(cost), np.asarray(grad, dtype=np.float32)
    return g


def _lse(x):
    e = np.exp(x - x.max())
    return x.max() + np.log(e.sum()), e / e.sum()


def _softmax_ce(W, X=np.random.default_rng(7).standard_normal((10, 6)).astype(np.float32),
                y=np.random.default_rng(8).integers(0, 4, 10)):
    s = X @ W
    p = np.exp(s - s.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    cost = -np.log(p[np.arange(len(y)), y]).sum()
    p[np.arange(len(y)), y] -= 1
    return cost, X.T @ p


FLOAT32_CASES = {
    "logsumexp 20": (_f32(_lse), (20,)),
    "logsumexp 3x4": (_f32(lambda x: _lse(x.ravel())[0:1] + (_lse(x.ravel())[1].reshape(x.shape),)), (3, 4)),
    "softmax-CE 6x4": (_f32(_softmax_ce), (6, 4)),
    "quad at scale 1e4": (_f32(lambda x: (np.float32(1e4) * np.sum(x**2), np.float32(2e4) * x)), (3, 4)),
}


@pytest.mark.parametrize("name", sorted(FLOAT32_CASES))
def test_correct_float32_code_is_never_warned_and_passes_where_float32_resolves_it(name):
    # the float32 default is 5e-4: an entry passes where float32's round-off of f, over the
    # longer ladder's steps, resolves its change to that (a quadratic at scale 1e4: every
    # entry); the others (an entry of 0.01 next to a cost of 3: 3e-7 of the cost, float32's
    # own round-off) are unresolved, saying so, never a warning or a failure
    f, shape = FLOAT32_CASES[name]
    passed = 0
    for seed in range(3):
        report = check_gradient(f, np.random.default_rng(seed).standard_normal(shape))
        assert report.thresholds.pass_tol == FLOAT32_PASS_TOL and report.thresholds.precision == "float32"
        assert report.counts["fail"] == report.counts["warn"] == 0, (name, seed, report.counts)
        passed += report.counts["pass"]
        if name.startswith("quad"):
            assert report.status is Status.PASS, (name, report.counts)
    assert passed > 0, name


def test_a_1e_3_bug_in_float32_code_never_passes_and_warns_where_float32_resolves_it():
    def buggy(x):
        cost, grad = _f32(_lse)(x)
        return cost, grad * np.float32(1.001)

    for n in (20, 100):
        report = check_gradient(buggy, np.random.default_rng(0).standard_normal(n))
        assert report.counts["pass"] == 0, (n, report.counts)
        assert report.counts["warn"] > 0, (n, report.counts)


@pytest.mark.parametrize("x, f, g", [
    (3.0, lambda x: x**10, lambda x: 10 * x**9),  # a whole-number cost (59049) and gradient
    (0.0, lambda x: x**3, lambda x: 3 * x**2),  # a zero cost and gradient
])
def test_float32_code_gets_float32_thresholds_whatever_its_values(x, f, g):
    # the cost and gradient are float32 before check_gradient converts them: whole numbers and
    # zeros (which float64 gives too) do not make float32 code float64's, in the API and the CLI
    def code(z):
        z = z.astype(np.float32)
        return np.sum(f(z)), g(z)

    report = check_gradient(code, np.array([x]))
    assert report.thresholds.pass_tol == FLOAT32_PASS_TOL and report.thresholds.precision == "float32"
    sep = check_gradient(lambda z: np.sum(f(z.astype(np.float32))), np.array([x]),
                         grad=lambda z: g(z.astype(np.float32)))
    assert sep.thresholds.precision == "float32"
    as_float = check_gradient(lambda z: (float(code(z)[0]), code(z)[1].astype(float)), np.array([x]))
    assert as_float.thresholds.pass_tol == 1e-7  # converted by the code itself: whole numbers say nothing


@pytest.mark.parametrize("mode", ["adaptive", "full"])
def test_float32_absorption_flat_at_float64_steps_never_passes_a_zero_claim(mode):
    # x - sin(x) at 1e-4 in float32: sin(x) rounds to x, f is exactly 0 within 6e-4; every
    # value is 0 (no precision told), so steps of float64's size saw nothing and a claim of 0
    # (1 - cos(x) in float32, or its sign flipped) passed by the zero rule (truth 5e-9); the
    # float32 return says the precision, and float32's steps see f move
    def f(z):
        z = np.float32(z[0])
        return z - np.sin(z), np.array([np.float32(1) - np.cos(z)])

    report = check_gradient(f, np.array([1e-4]), mode=mode)
    assert report.checks[0].analytic == 0.0 and report.status is not Status.PASS, report.checks
    assert report.effort.precision == "float32"


def test_tiny_x_underflowing_in_float64_is_verified_in_extended_precision():
    # x**2 at 1e-200 underflows in float64 (f == 0 everywhere near x); in longdouble it
    # does not: the lifted ladder verifies 2e-200 (and 2e-201 next to it)
    if np.finfo(np.longdouble).eps >= np.finfo(float).eps:
        pytest.skip("no extended precision on this platform")
    quad = lambda x: (np.sum(x**2), 2 * x)  # noqa: E731
    assert check_gradient(quad, np.array([1e-200, 1e-201])).status is Status.PASS
    wrong = lambda x: (np.sum(x**2), 4 * x)  # noqa: E731
    assert check_gradient(wrong, np.array([1e-200, 1e-201])).counts["fail"] == 2


def test_unresolved_rows_say_what_was_tried_and_what_would_settle_it():
    from gradcheck_cli.views.table import to_text

    def text(report):
        return " ".join(to_text(report, width=400).split())

    # lifted and still unresolved: 1e-300 next to 1e-200 moves f below longdouble's round-off
    if np.finfo(np.longdouble).eps < np.finfo(float).eps:
        report = check_gradient(lambda x: (np.sum(x**2), 2 * x), np.array([1e-200, 1e-300]))
        assert report.counts["unresolved"] == 1 and report.counts["pass"] == 1
        assert report.effort.lifting == "used"
        assert "np.longdouble (extended precision) was tried too and did not settle it" in text(report)
        assert "extended precision would settle it" not in text(report)
    # float32 code: lifting cannot help, and the row says so
    report = check_gradient(_f32(_lse), np.random.default_rng(0).standard_normal(100))
    assert report.counts["unresolved"] > 0 and report.effort.precision == "float32"
    assert "the code computes in float32 (extended precision cannot help)" in text(report)
    assert "would settle it" in text(report) and "extended precision would settle it" not in text(report)

    # float64 code that does not compute in the dtype it is given: lifting is the step
    def to64(x):
        x = np.asarray(x, dtype=float)
        return float(np.sum(x**2)), 2 * x

    report = check_gradient(to64, np.array([1e-200, 1e-201]))
    assert report.effort.lifting == "none" and report.counts["unresolved"] == 2
    assert "make the code compute in the dtype it is given" in text(report)


def _x_abs_x(slope: float, claim: float):
    """f = sum(x |x|) + slope x[0], claimed gradient 2 |x| + claim (on x[0])."""
    def f(x):
        g = 2 * np.abs(x)
        g[0] += claim
        return np.sum(x * np.abs(x)) + slope * x[0], g
    return f


def test_x_abs_x_at_0_is_checked_like_any_derivative():
    # C1 at 0 (not a kink): the central difference is exactly h there, the ladder's
    # all-powers tableau removes it, and 0 is verified (in extended precision: the code
    # computes in the dtype it is given)
    x = np.array([0.0, 1.3, -0.4, 0.0])
    report = check_gradient(_x_abs_x(0.0, 0.0), x)
    assert report.status is Status.PASS, report.counts
    assert report.counts["kink"] == 0 and report.counts["pass"] == 4
    # sound: a true slope of 1e-3 (or 1e-6) at the C1 point is not 0, and its claim passes
    for slope in (1e-3, 1e-6):
        assert check_gradient(_x_abs_x(slope, 0.0), x).counts["pass"] < 4, slope
        assert check_gradient(_x_abs_x(slope, slope), x).status is Status.PASS, slope
    # a claim of 1 at the C1 point fails
    assert check_gradient(_x_abs_x(0.0, 1.0), x).counts["fail"] == 1


def test_relu_squared_at_0_passes_and_abs_at_0_claimed_1_does_not():
    x = np.array([0.0, 0.7, -0.3])
    relu2 = lambda x: (np.sum(np.maximum(x, 0) ** 2), 2 * np.maximum(x, 0))  # noqa: E731
    report = check_gradient(relu2, x)
    assert report.status is Status.PASS and report.counts["kink"] == 0, report.counts
    wrong = lambda x: (np.sum(np.maximum(x, 0) ** 2), 2 * np.maximum(x, 0) + (x == 0))  # noqa: E731
    assert check_gradient(wrong, x).counts["fail"] == 1
    one = lambda x: (np.sum(np.abs(x)), np.where(x == 0, 1.0, np.sign(x)))  # noqa: E731
    assert check_gradient(one, x).counts["pass"] == 2


def test_x_abs_x_at_0_in_float64_only_code_never_fails_and_a_slope_never_passes():
    # code that returns a Python float cannot be lifted: its zero at the C1 point is
    # verified where float64's round-off allows it, else unresolved, never a failure
    x = np.array([0.0, 1.3, -0.4, 0.0])
    plain = lambda slope, claim: (lambda x: (float(_x_abs_x(slope, claim)(x)[0]), _x_abs_x(slope, claim)(x)[1]))  # noqa: E731
    assert check_gradient(plain(0.0, 0.0), x).status is Status.PASS
    for scale in (1e-6, 1.0, 1e6):
        z = np.array([0.0, 1.3 * scale, -0.4, 0.0])
        report = check_gradient(plain(0.0, 0.0), z)
        assert report.counts["fail"] == report.counts["warn"] == 0, (scale, report.counts)
        for slope in (1e-3, 1e-9):
            assert check_gradient(plain(slope, 0.0), z).counts["pass"] < 4, (scale, slope)
