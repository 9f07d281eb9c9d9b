"""Every command is documented: a README heading `gradcheck <command>`, a tested example in
README.md, and `--help` with an example; every link between the pages resolves."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer.main

from gradcheck_cli.cli import ExitCode
from gradcheck_cli.cli import app, main

from test_readme import README, console_blocks, doc_pages, page_name, parse_blocks, strip_comment

COMMANDS = sorted(typer.main.get_command(app).commands)


def test_there_are_commands():
    assert {"expr", "func", "sanity"} <= set(COMMANDS)


def readme_headings() -> list[str]:
    if not README.is_file():
        pytest.fail(f"{README} does not exist: every command must be documented there")
    return [line for line in README.read_text(encoding="utf-8").splitlines() if re.match(r"#{1,6}\s", line)]


def readme_examples() -> set[str]:
    """The commands that README.md runs in a tested console block (``$ gradcheck CMD ...``)."""
    shown = set()
    for block in console_blocks(parse_blocks(README.read_text(encoding="utf-8").splitlines())):
        if block.skip:
            continue
        for cmd in block.commands:
            words = shlex.split(strip_comment(cmd.text))
            if words[:1] == ["gradcheck"] and len(words) > 1:
                shown.add(words[1])
    return shown


@pytest.mark.parametrize("command", COMMANDS)
def test_command_has_a_readme_heading(command):
    pattern = re.compile(rf"\bgradcheck {re.escape(command)}(?![\w-])")
    assert any(pattern.search(h) for h in readme_headings()), f"README.md has no heading with 'gradcheck {command}'"


@pytest.mark.parametrize("command", COMMANDS)
def test_command_has_a_tested_readme_example(command):
    assert command in readme_examples(), f"README.md runs no `$ gradcheck {command} ...` in a tested console block"


@pytest.mark.parametrize("command", COMMANDS)
def test_command_help_has_an_example(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    out, err = capsys.readouterr()
    assert exc.value.code == ExitCode.OK, err
    assert "Example" in out, f"'gradcheck {command} --help' shows no example"


# links between the pages

LINK = re.compile(r"\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.lstrip("#").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    lines, inside = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            inside = not inside
        elif not inside and re.match(r"#{1,6}\s", line):
            lines.append(slug(line))
    return set(lines)


def test_slug_is_githubs():
    assert slug("## `gradcheck expr --order 2` and `--hessian`") == "gradcheck-expr---order-2-and---hessian"
    assert slug("## Modes for your code: adaptive, full") == "modes-for-your-code-adaptive-full"


@pytest.mark.parametrize("path", doc_pages(), ids=page_name)
def test_links_resolve(path):
    broken = []
    for target in LINK.findall(path.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):
            continue  # http:, mailto:
        file, _, anchor = target.partition("#")
        dest = (path.parent / file).resolve() if file else path
        if not dest.exists():
            broken.append(target)
        elif anchor and dest.is_file() and anchor not in anchors(dest):
            broken.append(target)
    assert not broken, f"{page_name(path)}: broken links {broken}"


def test_the_reference_is_in_docs():
    pages = [page_name(p) for p in doc_pages()]
    assert {"docs/verdicts.md", "docs/json.md", "docs/api.md"} <= set(pages)
    # one example per command and per course feature (issue 18), the reference in docs/
    assert len(README.read_text(encoding="utf-8").splitlines()) < 420, "README.md: keep it short; the reference goes to docs/"


PACKAGE_PATH = re.compile(r"\b((?:gradcheck_cli|benchmarks|tests)/[\w/.-]*\w)")


@pytest.mark.parametrize("path", doc_pages(), ids=page_name)
def test_files_named_in_the_pages_exist(path):
    """A page that names ``gradcheck_cli/fast_mode.py`` goes stale when the module moves."""
    root = README.parent
    missing = sorted({p for p in PACKAGE_PATH.findall(path.read_text(encoding="utf-8")) if not (root / p).exists()})
    assert not missing, f"{page_name(path)} names files that do not exist: {missing}"
