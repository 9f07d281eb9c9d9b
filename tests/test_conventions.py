"""``--convention cs224n|cs231n``: a course's tolerances, with the rule printed; ours stays the default."""

from __future__ import annotations

import json

import pytest

from gradcheck_cli.choices import Convention
from gradcheck_cli.conventions import preset, rule_text

from conftest import assert_one_error_line
from gradcheck_cli.cli import ExitCode

OFF = "import numpy as np\ndef f(x):\n    return np.sum(x**2), 2 * x * (1 + {rel})\n"


@pytest.fixture
def code(tmp_path):
    def write(rel: float) -> str:
        path = tmp_path / f"off_{str(rel).replace('.', '_').replace('-', '_')}.py"
        path.write_text(OFF.format(rel=rel))
        return f"{path}:f"
    return write


def test_presets():
    assert preset("cs224n") == (1e-5, 1e-5, 1.0)
    assert preset(Convention.CS231N) == (2e-7, 2e-2, 1e-8)
    assert "max(1, |a|, |n|)" in rule_text("cs224n") and "1e-5" in rule_text("cs224n")
    assert "|a| + |n|" in rule_text("cs231n")


def test_cs224n_fails_what_its_handout_fails_and_says_so(cli, code):
    target = code(1e-4)  # off by 1e-4 relative: our rule warns, gradcheck_naive's 1e-5 fails
    ours = cli("func", target, "--mode", "full", "-q")
    assert ours.code == ExitCode.OK and "warn" in ours.out and "0 fail" in ours.out
    r = cli("func", target, "--mode", "full", "--convention", "cs224n")
    assert r.code == ExitCode.CHECK_FAILED
    assert rule_text("cs224n") in " ".join(r.out.split())
    assert "pass <= 1e-05, fail > 1e-05" in r.out and "floor = fixed 1" in r.out


def test_cs231n_json_records_the_convention(cli, code):
    r = cli("func", code(1e-9), "--convention", "cs231n", "--format", "json")
    doc = json.loads(r.out)
    assert r.code == ExitCode.OK and doc["status"] == "pass"
    assert doc["thresholds"] == {"pass": 2e-7, "fail": 2e-2} and doc["floor"] == 1e-8
    assert doc["convention"] == "cs231n"
    assert "convention" not in json.loads(cli("func", code(1e-9), "--format", "json").out)


def test_a_convention_and_explicit_tolerances_are_exit_2(cli, code):
    assert_one_error_line(cli("func", code(0), "--convention", "cs231n", "--pass-tol", "1e-3"), "--convention cs231n")
    assert_one_error_line(cli("func", code(0), "--convention", "cs999"), "--convention")
