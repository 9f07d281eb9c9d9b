"""Shared fixtures: run the CLI in-process and capture exit code, stdout and stderr."""

from __future__ import annotations

from dataclasses import dataclass

import os

import pytest
from hypothesis import settings

from gradcheck_cli.cli import main

# Property tests draw the same examples on every run, so a CI verdict is reproducible;
# HYPOTHESIS_PROFILE=explore draws new ones (what to run when hunting for bugs).
settings.register_profile("default", derandomize=True, deadline=None)
settings.register_profile("explore", derandomize=False, deadline=None, max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys, monkeypatch):
    """``cli("expr", "x**2", "--at", "1")`` -> Run(code, out, err), via the real entry point."""
    monkeypatch.setenv("COLUMNS", "160")
    monkeypatch.delenv("FORCE_COLOR", raising=False)

    def run(*args: str) -> Run:
        with pytest.raises(SystemExit) as info:
            main(list(args))
        captured = capsys.readouterr()
        return Run(int(info.value.code or 0), captured.out, captured.err)

    return run
