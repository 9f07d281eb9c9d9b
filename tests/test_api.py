"""The Python API: `gradcheck_cli.check_*` return reports, `assert_*` raise (`testing.py`)."""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import gradcheck_cli
from gradcheck_cli import (
    InputError,
    Report,
    Status,
    Thresholds,
    UserCodeError,
    assert_expression,
    assert_gradient,
    check_expression,
    check_gradient,
)


def quad(x):
    return np.sum(x**2), 2 * x


def quad_wrong_at_1_2(x):
    g = 2 * x
    g[1, 2] = 5.0
    return np.sum(x**2), g


X = np.arange(12.0).reshape(3, 4) / 4 - 1


@pytest.mark.slow
def test_import_is_light():
    code = "import sys, gradcheck_cli; print(sorted(m for m in ('numpy', 'sympy', 'rich', 'typer') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_public_names_resolve():
    for name in gradcheck_cli.__all__:
        if name in ("check_network",):
            continue
        assert getattr(gradcheck_cli, name) is not None, name
    from gradcheck_cli.checks import expr

    assert gradcheck_cli.check_expression is expr.check_expression
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        gradcheck_cli.nope  # noqa: B018


def test_check_network_is_reexported_lazily():
    from gradcheck_cli.checks import net

    assert gradcheck_cli.check_network is net.check_network
    report = gradcheck_cli.check_network(dims=(4, 3, 2))
    assert isinstance(report, Report) and report.passed


def test_check_gradient_returns_a_frozen_report():
    report = check_gradient(quad, X)
    assert isinstance(report, Report)
    assert report.passed is True and report.status is Status.PASS
    assert report.counts["checks"] == 12
    assert all(c.status is Status.PASS for c in report.checks)
    d = report.to_dict()
    assert d["command"] == "func" and d["blocks"][0]["name"] == "x"
    with pytest.raises(AttributeError):
        report.command = "x"  # frozen


def test_check_gradient_with_separate_grad():
    report = check_gradient(lambda x: float(np.sum(np.exp(x))), X, grad=np.exp)
    assert report.passed
    bad = check_gradient(lambda x: float(np.sum(np.exp(x))), X, grad=lambda x: np.exp(x) * 1.02)
    assert not bad.passed and bad.counts["fail"] == 12


def test_check_gradient_reports_the_wrong_entry():
    report = check_gradient(quad_wrong_at_1_2, X)
    assert report.status is Status.FAIL and not report.passed
    worst = report.checks[0]
    assert (worst.name, worst.index, worst.status) == ("x", (1, 2), Status.FAIL)
    assert worst.analytic == 5.0
    assert worst.numeric == pytest.approx(2 * X[1, 2], rel=1e-8)


def test_assert_gradient_passes_silently():
    assert assert_gradient(quad, X) is None


def test_assert_gradient_message_is_the_table_naming_the_entry():
    with pytest.raises(AssertionError) as exc:
        assert_gradient(quad_wrong_at_1_2, X)
    message = str(exc.value)
    first, rest = message.split("\n", 1)
    assert first == (
        "gradient check failed (func): 12 checks: 11 pass, 0 warn, 1 fail; "
        "worst x[1, 2]: analytic 5, numeric 1, rel error 8.0e-01"
    )
    assert "worst entries" in rest
    row = next(line for line in rest.splitlines() if line.startswith("x[1, 2]"))
    assert row.split()[-1] == "FAIL"
    assert rest.rstrip().endswith("12 checks: 11 pass, 0 warn, 1 fail")
    assert "\x1b[" not in message  # no colour codes in a test log


def test_assert_gradient_strict_and_thresholds():
    def slightly_off(x):
        return np.sum(x**2), 2 * x * (1 + 1e-5)

    assert_gradient(slightly_off, X)  # warn passes
    with pytest.raises(AssertionError, match=r"11 warn, 0 fail; worst .*\(warn fails under strict\)"):
        assert_gradient(slightly_off, X, thresholds=Thresholds(strict=True))


def test_assert_expression():
    assert_expression("sin(x) - cos(x)", at=["x=0.5"])
    with pytest.raises(AssertionError) as exc:
        assert_expression("x**3", at=["2"], grads=["2*x**2"])
    first = str(exc.value).splitlines()[0]
    assert first.startswith("gradient check failed (expr): 1 check: 0 pass, 0 warn, 1 fail; worst d/dx at x=2: analytic 8, numeric 12")


def test_check_expression_reexport():
    report = check_expression("x*y", at=["x=1,y=2"])
    assert report.passed and [c.name for c in report.checks] == ["x", "y"]


def test_user_exception_is_a_user_code_error():
    def broken(x):
        return 1 / 0

    with pytest.raises(UserCodeError) as exc:
        check_gradient(broken, X)
    assert isinstance(exc.value, InputError)
    assert str(exc.value) == "test_api.broken raised ZeroDivisionError: division by zero" or str(exc.value).endswith(
        "broken raised ZeroDivisionError: division by zero"
    )
    assert "return 1 / 0" in exc.value.user_traceback
    with pytest.raises(UserCodeError):  # assert_* does not turn bad input into a failed assertion
        assert_gradient(broken, X)


def test_bad_x_is_input_error():
    with pytest.raises(InputError, match="x is empty"):
        check_gradient(quad, np.zeros((0, 3)))
    with pytest.raises(InputError, match="x must be real"):
        check_gradient(quad, np.ones(2) * 1j)
    with pytest.raises(InputError, match=r"x must be finite, but x\[1\] is inf"):
        check_gradient(quad, [1.0, np.inf])


def test_random_state_is_fixed_per_call_and_restored():
    def noisy(x):
        r = np.random.rand(*x.shape) + random.random()
        return np.sum(r * x**2), 2 * r * x

    np.random.seed(5)
    random.seed(5)
    expected_np, expected_py = np.random.rand(), random.random()
    np.random.seed(5)
    random.seed(5)
    assert_gradient(noisy, X)
    assert (np.random.rand(), random.random()) == (expected_np, expected_py)


@pytest.mark.slow
def test_pytest_failure_shows_the_table(tmp_path):
    test_file = tmp_path / "test_user.py"
    test_file.write_text(textwrap.dedent('''
        import numpy as np
        from gradcheck_cli import assert_gradient

        def f(x):
            g = 2 * x
            g[1, 2] += 1.0
            return np.sum(x ** 2), g

        def test_f():
            assert_gradient(f, np.ones((3, 4)))
    '''))
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
                            capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 1
    out = result.stdout
    assert "AssertionError: gradient check failed (func): 12 checks: 11 pass, 0 warn, 1 fail; worst x[1, 2]" in out
    assert "x[1, 2]" in out and "worst entries" in out
    assert "gradcheck_cli/check.py" not in out  # our frames are hidden
