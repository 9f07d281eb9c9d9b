"""Every command is documented: a README heading `gradcheck <command>` and `--help` with an example."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer.main

from gradcheck_cli.cli import app, main

README = Path(__file__).resolve().parents[1] / "README.md"
COMMANDS = sorted(typer.main.get_command(app).commands)


def test_there_are_commands():
    assert {"expr", "func", "sanity"} <= set(COMMANDS)


def readme_headings() -> list[str]:
    if not README.is_file():
        pytest.fail(f"{README} does not exist: every command must be documented there")
    return [line for line in README.read_text(encoding="utf-8").splitlines() if re.match(r"#{1,6}\s", line)]


@pytest.mark.parametrize("command", COMMANDS)
def test_command_has_a_readme_heading(command):
    pattern = re.compile(rf"\bgradcheck {re.escape(command)}(?![\w-])")
    assert any(pattern.search(h) for h in readme_headings()), f"README.md has no heading with 'gradcheck {command}'"


@pytest.mark.parametrize("command", COMMANDS)
def test_command_help_has_an_example(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    out, err = capsys.readouterr()
    assert exc.value.code == 0, err
    assert "Example" in out, f"'gradcheck {command} --help' shows no example"
