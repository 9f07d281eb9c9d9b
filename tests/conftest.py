"""Shared test helpers: the CLI run in-process (``cli`` fixture, ``run``), the one-error-line
rule (``assert_one_error_line``), the seeded network problem (``network``) and a correct
CS224n network with a tanh hidden layer (``tanh_net``)."""

from __future__ import annotations

from dataclasses import dataclass

import os

import numpy as np
import pytest
from hypothesis import settings

from gradcheck_cli.cli import ExitCode
from gradcheck_cli.cli import main

# Property tests draw the same examples on every run, so a CI verdict is reproducible;
# HYPOTHESIS_PROFILE=explore draws new ones (what to run when hunting for bugs).
settings.register_profile("default", derandomize=True, deadline=None)
settings.register_profile("explore", derandomize=False, deadline=None, max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


class Counted:
    """A function with its calls counted."""

    def __init__(self, fn):
        self.fn, self.calls = fn, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.fn(*args, **kwargs)


@dataclass
class Run:
    code: int
    out: str
    err: str


def run(args, capsys) -> tuple[int, str, str]:
    """Run ``gradcheck ARGS`` in-process; (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def timeless(doc: dict) -> dict:
    """A JSON report without ``effort.seconds``, the one figure of a seeded run that varies
    (which must be there, a number of seconds)."""
    effort = dict(doc["effort"])
    assert effort.pop("seconds") >= 0
    return {**doc, "effort": effort}


def assert_one_error_line(result, *fragments: str) -> None:
    """Bad input: one ``error: ...`` line (plus the expression and a caret), never a traceback.

    ``result`` is stderr, or a ``Run`` (then also exit 2 and nothing on stdout); each
    fragment must be in the error line.
    """
    err = result
    if isinstance(result, Run):
        assert result.code == ExitCode.BAD_INPUT, (result.code, result.out, result.err)
        assert result.out == ""
        err = result.err
    lines = err.splitlines()
    assert lines and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    assert len(lines) == 1 or (len(lines) == 3 and lines[2].strip() == "^"), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def network(dims=(10, 5, 10), samples: int = 20, seed: int = 0, **spec_options):
    """The seeded built-in problem: (spec, data, labels, params) of ``network.model``."""
    from gradcheck_cli.network import model

    spec = model.NetworkSpec(tuple(dims), **spec_options)
    return (spec, *model.make_problem(spec, samples=samples, seed=seed))


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


def tanh_net(data, labels, params, dimensions):
    """The CS224n two-layer network with a tanh hidden layer (a correct hand gradient)."""
    dx, hd, dy = dimensions
    sizes = np.cumsum([dx * hd, hd, hd * dy])
    w1, b1, w2, b2 = np.split(params, sizes)
    w1, w2 = w1.reshape(dx, hd), w2.reshape(hd, dy)
    h = np.tanh(data @ w1 + b1)
    z = h @ w2 + b2
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    d2 = p - labels
    d1 = (d2 @ w2.T) * (1 - h * h)
    grad = np.concatenate([(data.T @ d1).ravel(), d1.sum(0), (h.T @ d2).ravel(), d2.sum(0)])
    return -np.sum(labels * np.log(p)), grad
