"""Every command's --help reads the conventional way: a usage line without braces, metavars
that name what goes there, examples kept as written, one definition per shared option."""

from __future__ import annotations

import ast
import os
import re
from collections import Counter
from pathlib import Path

import pytest

from gradcheck_cli.cli import ExitCode, app

COMMANDS = [c.name for c in app.registered_commands]
CLI = Path(__file__).resolve().parents[1] / "gradcheck_cli" / "cli.py"


@pytest.fixture
def help_of(cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")

    def run(*args: str) -> str:
        r = cli(*args, "--help")
        assert r.code == ExitCode.OK and r.err == "", r.err
        return r.out

    return run


@pytest.mark.parametrize("command, usage", [
    ("expr", "Usage: gradcheck expr [OPTIONS] EXPRESSION"),
    ("func", "Usage: gradcheck func [OPTIONS] FILE.py:NAME"),
    ("layer", "Usage: gradcheck layer [OPTIONS] [FILE.py:NAME]"),
    ("model", "Usage: gradcheck model [OPTIONS] FILE.py:CLASS"),
    ("sweep", "Usage: gradcheck sweep [OPTIONS] [EXPRESSION]"),
    ("descend", "Usage: gradcheck descend [OPTIONS] EXPRESSION"),
    ("net", "Usage: gradcheck net [OPTIONS]"),
    ("sanity", "Usage: gradcheck sanity [OPTIONS]"),
])
def test_usage_lines_are_conventional(help_of, command, usage):
    assert help_of(command).splitlines()[0] == usage


@pytest.mark.parametrize("command", COMMANDS)
def test_help_fits_80_columns_and_names_every_value(help_of, command):
    text = help_of(command)
    assert not [line for line in text.splitlines() if len(line) > 80]
    # a value is named for what it is (N, TOL, POINT), not by its Python type
    assert not re.search(r"<(str|float|int range|int|text)>", text), text
    assert "{" not in text.splitlines()[0]


def test_examples_are_kept_line_by_line(help_of):
    text = help_of("layer")
    assert "  Examples:\n    gradcheck layer layers.py:affine --input x=4,2,3 --input w=6,5 --input b=5\n" in text
    assert "    gradcheck layer word2vec.py:naiveSoftmaxLossAndGradient \\\n" in text
    model = help_of("model")
    assert "  Example:\n    gradcheck model fc_net.py:FullyConnectedNet --input X=2,15 \\\n" in model


def test_the_command_list_shows_whole_descriptions(help_of):
    listing = help_of().split("Commands:")[1]
    assert len([line for line in listing.splitlines() if line.strip()]) == len(COMMANDS)
    assert "..." not in listing


def test_each_option_is_declared_once():
    """``typer.Option("--seed", ...)`` appears once in cli.py: commands share the definition."""
    tree = ast.parse(CLI.read_text())
    flags = Counter()
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "Option"
                and node.args and isinstance(node.args[0], ast.Constant)):
            flags[node.args[0].value] += 1
    assert flags["--seed"] == 1 and flags["--mode"] == 1 and flags["--wrt"] == 1
    # --grad of func names a gradient *function*, --grad of expr/sweep an expression: two options
    twice = {flag: n for flag, n in flags.items() if n > 1 and flag != "--grad"}
    assert not twice, twice
    assert flags["--grad"] == 2


def test_model_help_has_an_example_that_runs(help_of, cli, tmp_path, monkeypatch):
    text = help_of("model")
    assert "gradcheck model fc_net.py:FullyConnectedNet" in text and '"hidden_dims": [20, 30]' in text
    # the example as shown, on the course's model (tests/models/fc_net.py)
    monkeypatch.chdir(Path(__file__).parent / "models")
    r = cli("model", "fc_net.py:FullyConnectedNet", "--input", "X=2,15", "--input", "y=int:10:2", "--init",
            '{"hidden_dims": [20, 30], "input_dim": 15,\n    "num_classes": 10, "reg": 0.1, "dtype": "float64"}', "-q")
    assert r.code == ExitCode.OK, r.out + r.err
    assert r.out.endswith("0 fail\n")
