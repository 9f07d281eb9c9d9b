"""The README's console blocks are tests: every ``$ gradcheck ...`` shown is run and its
output compared with the README, character for character (outputs are seeded).

How a ```` ```console ```` block is read:

* a line ``$ COMMAND`` starts a command; the lines up to the next ``$`` line are its
  output (trailing blank lines and trailing spaces ignored);
* ``$ gradcheck ARGS`` runs the CLI in-process (``cli.main``), in a fresh temporary
  directory, with ``COLUMNS=80`` (``README_COLUMNS``: what a default terminal shows) and
  no colour; stdout then stderr are compared with the output shown;
* ``$ cat FILE`` shows a file the following commands use: the harness writes the shown
  text to FILE (so ``mycode.py`` in the README is the ``mycode.py`` that is checked);
* ``$ echo $?`` shows the exit code of the previous command;
* a line ``...`` in an output stands for any number of lines (to show only part);
* a block preceded by the line ``<!-- readme-test: skip -->`` is not run (commands
  that need files the README does not show); blocks without ``$`` lines are prose.

The indented ``AssertionError: ...`` example of the Python API section is checked too:
its first line must be what ``assert_gradient(quad_wrong, x)`` raises for the README's
``mycode.py`` at the x of ``gradcheck func`` (N(0, 1), seed 0, shape 3 x 4).

Regenerating the README after a change of output (keeps every command, every ``...``
and every ``cat``; rewrites only the outputs)::

    python tests/test_readme.py             # rewrite README.md in place, list what changed
    GRADCHECK_UPDATE_README=1 pytest tests/test_readme.py   # the same from pytest

then review ``git diff README.md``.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
README_COLUMNS = 80
SKIP_MARK = "<!-- readme-test: skip -->"
ELLIPSIS = "..."
UPDATE_ENV = "GRADCHECK_UPDATE_README"


# --------------------------------------------------------------------------- parsing


@dataclass
class Command:
    line: int  # 0-based line number of the "$ ..." line in README.md
    text: str  # the command after "$ "
    output: list[str]  # the lines shown (trailing blank lines removed)
    gap: int  # blank lines between the output and the next command (kept on rewrite)


@dataclass
class Block:
    start: int  # line number of the opening fence
    end: int  # line number of the closing fence
    commands: list[Command] = field(default_factory=list)
    skip: bool = False


def parse_blocks(lines: list[str]) -> list[Block]:
    """Every ```console block of the README with its commands and shown outputs."""
    blocks, i = [], 0
    while i < len(lines):
        if lines[i].strip() != "```console":
            i += 1
            continue
        j = i + 1
        while j < len(lines) and lines[j].strip() != "```":
            j += 1
        before = next((lines[k].strip() for k in range(i - 1, -1, -1) if lines[k].strip()), "")
        block = Block(i, j, skip=before == SKIP_MARK)
        body = lines[i + 1 : j]
        starts = [k for k, text in enumerate(body) if text.startswith("$ ")]
        for n, k in enumerate(starts):
            stop = starts[n + 1] if n + 1 < len(starts) else len(body)
            shown = [text.rstrip() for text in body[k + 1 : stop]]
            gap = 0
            while shown and not shown[-1]:
                shown.pop()
                gap += 1
            block.commands.append(Command(i + 1 + k, body[k][2:].strip(), shown, gap))
        blocks.append(block)
        i = j + 1
    return blocks


def strip_comment(command: str) -> str:
    """``gradcheck expr "x"   # a remark`` -> ``gradcheck expr "x"``."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=False)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    return shlex.join(list(lexer))


# --------------------------------------------------------------------------- running


@contextlib.contextmanager
def chdir(directory: Path):
    """``contextlib.chdir`` (Python 3.11+) for Python 3.10."""
    saved = os.getcwd()
    os.chdir(directory)
    try:
        yield
    finally:
        os.chdir(saved)


@dataclass
class Result:
    code: int
    lines: list[str]


def run_gradcheck(args: list[str]) -> Result:
    """``gradcheck ARGS`` in-process in the current directory: exit code, stdout + stderr."""
    from gradcheck_cli.cli import main

    out, err = io.StringIO(), io.StringIO()
    saved = {k: os.environ.get(k) for k in ("COLUMNS", "LINES", "FORCE_COLOR", "NO_COLOR", "TERM")}
    os.environ.update(COLUMNS=str(README_COLUMNS), NO_COLOR="1", TERM="dumb")
    for key in ("LINES", "FORCE_COLOR"):
        os.environ.pop(key, None)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(args)
                code = 0
            except SystemExit as exc:
                code = int(exc.code or 0)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    text = out.getvalue() + err.getvalue()
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return Result(code, lines)


def run_block(block: Block, directory: Path) -> list[Result]:
    """Run a block's commands in ``directory`` (which keeps the files of earlier blocks)."""
    results: list[Result] = []
    previous = 0
    with chdir(directory):
        for cmd in block.commands:
            words = shlex.split(strip_comment(cmd.text))
            if words[:1] == ["gradcheck"]:
                result = run_gradcheck(words[1:])
                previous = result.code
            elif words[:1] == ["cat"] and len(words) == 2:
                Path(words[1]).write_text("\n".join(cmd.output) + "\n", encoding="utf-8")
                result = Result(0, list(cmd.output))
            elif words == ["echo", "$?"]:
                result = Result(0, [str(previous)])
            else:
                raise ValueError(
                    f"README.md:{cmd.line + 1}: the README test cannot run '$ {cmd.text}' "
                    f"(only gradcheck, cat FILE and echo $?); mark the block with {SKIP_MARK}"
                )
            results.append(result)
    return results


def write_shown_files(blocks: list[Block], directory: Path) -> None:
    """Write the files that the ``$ cat FILE`` commands of ``blocks`` show."""
    for block in blocks:
        cats = [c for c in block.commands if c.text.startswith("cat ")]
        if cats and not block.skip:
            run_block(Block(block.start, block.end, cats), directory)


# --------------------------------------------------------------------------- comparing


def matches(shown: list[str], actual: list[str]) -> bool:
    """Whether ``actual`` is ``shown`` with each ``...`` line standing for any lines."""
    parts: list[list[str]] = [[]]
    for line in shown:
        if line.strip() == ELLIPSIS:
            parts.append([])
        else:
            parts[-1].append(line)
    if len(parts) == 1:
        return shown == actual
    head, *middle, tail = parts
    if actual[: len(head)] != head or len(actual) < len(head) + len(tail):
        return False
    if tail and actual[len(actual) - len(tail) :] != tail:
        return False
    pos, stop = len(head), len(actual) - len(tail)
    for part in middle:
        found = next(
            (k for k in range(pos, stop - len(part) + 1) if actual[k : k + len(part)] == part), None
        )
        if found is None:
            return False
        pos = found + len(part)
    return True


def refreshed(shown: list[str], actual: list[str]) -> list[str]:
    """The output to show after a change: ``actual``, cut where ``shown`` had ``...``.

    Each run of lines that ``shown`` kept between ``...`` lines is looked for in
    ``actual`` by its first line's opening words (``Taylor test``, ``computation graph``)
    and kept with as many lines as before; a run at the very start or end of ``shown``
    stays at the start or end.  ``...`` marks whatever is left out.
    """
    if not any(line.strip() == ELLIPSIS for line in shown):
        return list(actual)
    runs: list[list[str]] = [[]]
    for line in shown:
        if line.strip() == ELLIPSIS:
            runs.append([])
        else:
            runs[-1].append(line)
    kept: list[tuple[int, int]] = []  # (start, length) in actual
    pos = 0
    for n, run in enumerate(runs):
        if not run:
            continue
        if n == 0:
            start = 0
        elif n == len(runs) - 1:
            start = max(pos, len(actual) - len(run))
            key = _opening(run[0])
            found = [k for k in range(pos, len(actual)) if _opening(actual[k]) == key]
            if found:
                best = max(found, key=lambda k: _common_prefix(actual[k], run[0]))
                if best + len(run) < len(actual):
                    start = best
        else:
            key = _opening(run[0])
            found = [k for k in range(pos, len(actual)) if _opening(actual[k]) == key]
            start = max(found, key=lambda k: _common_prefix(actual[k], run[0])) if found else pos
        length = min(len(run), len(actual) - start)
        kept.append((start, length))
        pos = start + length
    out: list[str] = []
    pos = 0
    for start, length in kept:
        if start > pos or (not out and start > 0):
            out.append(ELLIPSIS)
        out.extend(actual[start : start + length])
        pos = start + length
    if pos < len(actual):
        out.append(ELLIPSIS)
    return out


def _common_prefix(a: str, b: str) -> int:
    return len(os.path.commonprefix([a, b]))


def _opening(line: str) -> str:
    """The first two words of a line, the key by which a kept line is found again."""
    return " ".join(re.findall(r"[A-Za-z][\w-]*", line)[:2])


# --------------------------------------------------------------------------- the AssertionError example

ASSERT_PREFIX = "    AssertionError: "


def assertion_example(lines: list[str]) -> int | None:
    """Line number of the README's indented ``AssertionError:`` example, if any."""
    return next((k for k, line in enumerate(lines) if line.startswith(ASSERT_PREFIX)), None)


def actual_assertion(directory: Path) -> str:
    """The first line of ``assert_gradient(quad_wrong, x)`` for the README's mycode.py."""
    import numpy as np

    from gradcheck_cli.usercode import load_callable
    from gradcheck_cli.testing import assert_gradient

    with chdir(directory):
        quad_wrong = load_callable("mycode.py:quad_wrong")
    x = np.random.default_rng(0).standard_normal((3, 4))
    try:
        assert_gradient(quad_wrong, x)
    except AssertionError as exc:
        return "AssertionError: " + str(exc).splitlines()[0]
    return "(no AssertionError)"


# --------------------------------------------------------------------------- the whole README


@dataclass
class Mismatch:
    command: Command
    actual: list[str]


def check_readme(lines: list[str]) -> tuple[list[Mismatch], list[Block], Path]:
    """Run every block in one temporary directory; the mismatches, blocks and directory."""
    directory = Path(tempfile.mkdtemp(prefix="gradcheck-readme-"))
    blocks = parse_blocks(lines)
    mismatches = []
    for block in blocks:
        if block.skip or not block.commands:
            continue
        for cmd, result in zip(block.commands, run_block(block, directory)):
            if not matches(cmd.output, result.lines):
                mismatches.append(Mismatch(cmd, result.lines))
    return mismatches, blocks, directory


def update_readme(path: Path = README) -> list[str]:
    """Rewrite the outputs of ``path`` in place; the commands whose output changed."""
    lines = path.read_text(encoding="utf-8").splitlines()
    mismatches, _, directory = check_readme(lines)
    changed = [f"README.md:{m.command.line + 1}: $ {m.command.text}" for m in mismatches]
    for m in sorted(mismatches, key=lambda m: -m.command.line):
        start = m.command.line + 1
        lines[start : start + len(m.command.output)] = refreshed(m.command.output, m.actual)
    k = assertion_example(lines)
    if k is not None and (directory / "mycode.py").is_file():
        new = "    " + actual_assertion(directory)
        if lines[k] != new:
            lines[k] = new
            changed.append(f"README.md:{k + 1}: the AssertionError example")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return changed


# --------------------------------------------------------------------------- tests


def _lines() -> list[str]:
    return README.read_text(encoding="utf-8").splitlines()


def _readme_commands() -> list:
    lines = _lines()
    return [
        pytest.param(n, id=f"L{b.commands[0].line + 1}")
        for n, b in enumerate(parse_blocks(lines))
        if b.commands and not b.skip
    ]


@pytest.fixture(scope="module")
def readme_dir(tmp_path_factory):
    """One directory for the whole README, as a reader following it would have."""
    return tmp_path_factory.mktemp("readme")


@pytest.fixture(scope="module", autouse=True)
def _maybe_update():
    if os.environ.get(UPDATE_ENV):
        changed = update_readme()
        print("\n".join(["README.md updated:"] + changed) if changed else "README.md unchanged")


@pytest.mark.slow
@pytest.mark.parametrize("index", _readme_commands())
def test_readme_console_block(index, readme_dir):
    blocks = parse_blocks(_lines())
    write_shown_files(blocks[:index], readme_dir)  # so that one block can run alone (-k)
    block = blocks[index]
    for cmd, result in zip(block.commands, run_block(block, readme_dir)):
        assert matches(cmd.output, result.lines), (
            f"README.md:{cmd.line + 1}: `$ {cmd.text}` now prints:\n"
            + "\n".join(result.lines)
            + "\n(run `python tests/test_readme.py` to rewrite the README's outputs)"
        )


@pytest.mark.slow
def test_readme_assertion_example(readme_dir):
    lines = _lines()
    k = assertion_example(lines)
    if k is None:
        pytest.skip("the README shows no AssertionError example")
    write_shown_files(parse_blocks(lines), readme_dir)
    assert (readme_dir / "mycode.py").is_file(), "the example needs the README's `$ cat mycode.py`"
    assert lines[k].strip() == actual_assertion(readme_dir)


# the harness itself


def test_parse_blocks_reads_commands_outputs_and_skip_marks():
    text = [
        "<!-- readme-test: skip -->",
        "```console",
        "$ gradcheck net --impl q2.py:f",
        "```",
        "prose",
        "```console",
        "$ gradcheck expr x --at 1   # a remark",
        "a",
        "  b  ",
        "",
        "$ echo $?",
        "0",
        "```",
        "```console",
        "pip install .",
        "```",
    ]
    skipped, block, prose = parse_blocks(text)
    assert skipped.skip and not block.skip and prose.commands == []
    first, second = block.commands
    assert (first.line, first.text, first.output, first.gap) == (6, "gradcheck expr x --at 1   # a remark", ["a", "  b"], 1)
    assert (second.text, second.output, second.gap) == ("echo $?", ["0"], 0)
    assert strip_comment(first.text) == "gradcheck expr x --at 1"
    assert strip_comment('gradcheck expr "a # b"') == "gradcheck expr 'a # b'"


def test_ellipsis_matching_and_refreshing():
    actual = ["h1", "h2", "m1", "m2", "t1"]
    assert matches(["h1", "...", "t1"], actual)
    assert matches(["...", "m2", "t1"], actual) and matches(["h1", "h2", "..."], actual)
    assert matches(["h1", "...", "m1", "...", "t1"], actual)
    assert not matches(["h1", "...", "t2"], actual) and not matches(["h1", "h2"], actual)
    assert not matches(["h1", "...", "h1"], ["h1"])
    assert refreshed(["x", "...", "y"], ["n1", "n2", "n3", "n4"]) == ["n1", "...", "n4"]
    assert refreshed(["...", "y", "z"], ["n1", "n2", "n3", "n4"]) == ["...", "n3", "n4"]
    assert refreshed(["a", "b"], ["n1"]) == ["n1"]
    new = ["d/dx = z", "computation graph at x=1", "z  var  value 2", "x  var", "table", "summary"]
    assert refreshed(["...", "computation graph at x=0", "z  var  value 1"], new) == [
        "...", "computation graph at x=1", "z  var  value 2", "..."]
    new = ["head", "table", "Taylor test at x=1: order 1.00", "summary"]
    assert refreshed(["...", "Taylor test at x=0: order 2.00", "summary"], new) == [
        "...", "Taylor test at x=1: order 1.00", "summary"]
    assert refreshed(["h", "...", "Taylor test", "..."], new) == ["head", "...", new[2], "..."]
    new = ["chart", "Taylor test along v:", "table", "Taylor test: order 2.00", "table", "summary"]
    assert refreshed(["chart", "...", "Taylor test: order 1.99", "..."], new) == [
        "chart", "...", "Taylor test: order 2.00", "..."]


def test_update_rewrites_only_outputs(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(
        "text\n```console\n$ gradcheck expr \"x**2\" --at 3 --quiet\nstale\n\n$ echo $?\n7\n```\n",
        encoding="utf-8",
    )
    changed = update_readme(readme)
    assert readme.read_text(encoding="utf-8") == (
        "text\n```console\n$ gradcheck expr \"x**2\" --at 3 --quiet\n"
        "1 check: 1 pass, 0 warn, 0 fail\n\n$ echo $?\n0\n```\n"
    )
    assert len(changed) == 2
    assert update_readme(readme) == []


if __name__ == "__main__":
    sys.path.insert(0, str(README.parent))
    done = update_readme()
    print("\n".join(["README.md updated:"] + done) if done else "README.md unchanged")
