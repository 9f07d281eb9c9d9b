"""The CLI's streams: a closed or broken stdout keeps the verdict's exit code, an unusable
terminal width or encoding never costs the report (``cli.main``, ``views.table.make_console``)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from gradcheck_cli.cli import ExitCode

GRADCHECK = [sys.executable, "-m", "gradcheck_cli"]


def sh(command: str, **env: str) -> subprocess.CompletedProcess:
    """Run a shell line in which ``GC`` is the gradcheck command."""
    full = {**os.environ, "GC": " ".join(GRADCHECK), **env}
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=full)


@pytest.mark.parametrize("args, verdict", [('expr "sin(x)"', ExitCode.OK),
                                           ('expr "sin(x)" --at 1 --grad "2*cos(x)"', ExitCode.CHECK_FAILED),
                                           ('expr "sin(x" ', ExitCode.BAD_INPUT)])
def test_a_closed_stdout_changes_nothing(args, verdict):
    r = sh(f"$GC {args} >&-")
    assert r.returncode == verdict, r.stderr
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("args", ["--help", "--version", "expr --help", "net --inject-bug list"])
def test_a_reader_that_leaves_early_keeps_exit_0(args):
    r = sh(f"(sleep 0.5; $GC {args}) | true; exit ${{PIPESTATUS[0]}}")
    assert r.returncode == ExitCode.OK, r.stderr
    assert r.stderr == ""


def test_columns_0_still_prints_the_report():
    r = sh('$GC expr "sin(x)" --at 1', COLUMNS="0")
    assert r.returncode == ExitCode.OK
    assert "1 check: 1 pass" in r.stdout


def test_format_json_on_exit_2_is_one_error_document(cli):
    import json

    r = cli("expr", "sin(x", "--format", "json")
    assert r.code == ExitCode.BAD_INPUT
    assert json.loads(r.out) == {"command": "expr", "status": "error",
                                 "error": "syntax error: '(' was never closed at column 4"}
    assert r.err.splitlines()[0] == "error: syntax error: '(' was never closed at column 4"
    r = cli("func", "nothere.py:f", "--format=json")
    assert json.loads(r.out)["error"] == "cannot load 'nothere.py:f': no file 'nothere.py'"
    r = cli("expr", "x", "--points", "0", "--format", "json")  # a usage error found by the option parser
    assert r.code == ExitCode.BAD_INPUT and json.loads(r.out)["status"] == "error"
    assert cli("expr", "sin(x", "--format", "table").out == ""
