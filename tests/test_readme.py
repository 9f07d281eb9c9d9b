"""The README's and docs' examples are tests: every ``$ gradcheck ...`` shown in README.md
and docs/*.md is run and its output compared with the page, character for character
(outputs are seeded); every JSON example is checked.

How a ```` ```console ```` block is read:

* a line ``$ COMMAND`` starts a command; the lines up to the next ``$`` line are its
  output (trailing blank lines and trailing spaces ignored);
* ``$ gradcheck ARGS`` runs the CLI in-process (``cli.main``), in a temporary directory
  (one per page, shared by the page's blocks, as a reader following the page would have),
  with ``COLUMNS=80`` (``README_COLUMNS``: what a default terminal shows) and no colour;
  stdout then stderr are compared with the output shown;
* ``$ cat FILE`` shows a file the following commands of the page use: the harness writes
  the shown text to FILE (so ``mycode.py`` on a page is the ``mycode.py`` that is checked);
* ``$ echo $?`` shows the exit code of the previous command;
* a line ``...`` in an output stands for any number of lines (to show only part);
* timings vary from run to run: the value of JSON ``"seconds"`` and the seconds of an
  effort line (``12 calls, 0.06 s``) are compared as "some number" (``TIMINGS``);
* a block preceded by the line ``<!-- readme-test: cwd FOLDER -->`` runs in that folder
  of the repository (``tests/layers``: examples that use the repository's own files;
  ``$ cat`` is refused there, so a page never writes into the repository);
* a block preceded by the line ``<!-- readme-test: skip -->`` is not run (commands
  that need files the page does not show); blocks without ``$`` lines are prose;
* a block preceded by ``<!-- readme-test: needs MODULE -->`` runs only where MODULE can
  be imported (an optional extra such as torch); elsewhere it is skipped, and its output
  is left as it is when the pages are regenerated.  Marks combine with ``;``:
  ``<!-- readme-test: cwd tests/torch_code; needs torch -->``.

How a ```` ```json ```` block is read:

* right after a console block (nothing but blank lines between them) whose last command
  has ``--format json`` and shows no output, it IS that command's output: compared like
  any output (``...`` lines included) and rewritten with it; shown whole (no ``...``),
  it must also keep to the contract below;
* otherwise it is a standalone example: it must parse and be a report with the keys
  SPEC.md fixes (``command``, ``status``, ``thresholds``, ``summary`` with every status,
  ``checks`` with a ``name`` and a ``status`` each) or an error document
  (``command``, ``status: "error"``, ``error``).

A ```` ```python ```` block (not skip-marked) is run in the page's directory, with that
directory on ``sys.path`` (so it imports the files the page shows), and every ``test_*``
function it defines is called, as pytest would.

The indented ``AssertionError: ...`` example (README.md's Python API section, or any page
that shows one) is checked too: its first line must be what
``assert_gradient(quad_wrong, x)`` raises for the page's ``mycode.py`` at the x of
``gradcheck func`` (N(0, 1), seed 0, shape 3 x 4).

Regenerating the pages after a change of output (keeps every command, every ``...``
and every ``cat``; rewrites only the outputs)::

    python tests/test_readme.py             # rewrite README.md and docs/*.md, list what changed
    python tests/test_readme.py docs/net.md # only these pages
    GRADCHECK_UPDATE_README=1 pytest tests/test_readme.py   # the same from pytest

then review ``git diff README.md docs``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
README_COLUMNS = 80
SKIP_MARK = "<!-- readme-test: skip -->"
MARK = re.compile(r"<!-- readme-test: (.+?) -->")
CWD_MARK = re.compile(r"cwd ([\w./-]+)")
NEEDS_MARK = re.compile(r"needs ([\w.]+)")
ELLIPSIS = "..."
UPDATE_ENV = "GRADCHECK_UPDATE_README"


# --------------------------------------------------------------------------- parsing


def doc_pages() -> list[Path]:
    """The pages whose examples are tests: README.md, then docs/*.md in name order."""
    return [README] + sorted(DOCS.glob("*.md"))


def page_name(path: Path) -> str:
    """``README.md``, ``docs/net.md``: how messages name a page."""
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return path.name


@dataclass
class Command:
    line: int  # 0-based line number of the "$ ..." line in the page
    text: str  # the command after "$ "
    output: list[str]  # the lines shown (trailing blank lines removed)
    gap: int  # blank lines between the output and the next command (kept on rewrite)
    out_start: int = -1  # line number of the first output line (a ```json block's body if linked)

    def __post_init__(self):
        if self.out_start < 0:
            self.out_start = self.line + 1


@dataclass
class Block:
    start: int  # line number of the opening fence
    end: int  # line number of the closing fence
    commands: list[Command] = field(default_factory=list)
    skip: bool = False
    kind: str = "console"  # or "json", "python"
    body: list[str] = field(default_factory=list)  # a json or python block's lines
    linked: bool = False  # a json block that is the output of the console block before it
    cwd: str = ""  # run in this folder of the repository (a cwd mark), not the page's directory
    needs: tuple[str, ...] = ()  # modules the block needs (a needs mark): skipped where one is missing

    def missing(self) -> list[str]:
        """The modules of ``needs`` that cannot be imported here."""
        import importlib.util

        return [m for m in self.needs if importlib.util.find_spec(m) is None]


def _fences(lines: list[str]) -> list[tuple[str, int, int]]:
    """(language, opening line, closing line) of every fenced block."""
    found, i = [], 0
    while i < len(lines):
        text = lines[i].strip()
        if not text.startswith("```") or text == "```":
            i += 1
            continue
        j = i + 1
        while j < len(lines) and lines[j].strip() != "```":
            j += 1
        found.append((text[3:].strip(), i, j))
        i = j + 1
    return found


def parse_blocks(lines: list[str]) -> list[Block]:
    """Every ```console, ```json and ```python block of a page, with commands and outputs.

    A ```json block right after a console block whose last command has ``--format json``
    and shows no output becomes that command's output (``linked``).
    """
    blocks: list[Block] = []
    for lang, i, j in _fences(lines):
        if lang not in ("console", "json", "python"):
            continue
        before = next((lines[k].strip() for k in range(i - 1, -1, -1) if lines[k].strip()), "")
        mark = MARK.fullmatch(before)
        marks = [m.strip() for m in mark.group(1).split(";")] if mark else []
        cwd = next((c.group(1) for c in map(CWD_MARK.fullmatch, marks) if c), "")
        needs = tuple(n.group(1) for n in map(NEEDS_MARK.fullmatch, marks) if n)
        block = Block(i, j, skip="skip" in marks, kind=lang, body=lines[i + 1 : j], cwd=cwd, needs=needs)
        if lang == "python":
            blocks.append(block)
            continue
        if lang == "json":
            prev = blocks[-1] if blocks else None
            if (
                prev is not None
                and prev.kind == "console"
                and prev.commands
                and all(not lines[k].strip() for k in range(prev.end + 1, i))
                and "--format json" in " ".join(prev.commands[-1].text.split())
                and not prev.commands[-1].output
            ):
                cmd = prev.commands[-1]
                shown = [text.rstrip() for text in block.body]
                while shown and not shown[-1]:
                    shown.pop()
                cmd.output, cmd.out_start, cmd.gap = shown, i + 1, 0
                block.linked = True
            blocks.append(block)
            continue
        body = block.body
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
    return blocks


def console_blocks(blocks: list[Block]) -> list[Block]:
    return [b for b in blocks if b.kind == "console"]


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
    lines: list[str]  # stdout then stderr, as shown on a page
    stdout: str = ""


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
    return Result(code, lines, out.getvalue())


def run_block(block: Block, directory: Path, page: str = "README.md") -> list[Result]:
    """Run a block's commands in ``directory`` (which keeps the files of earlier blocks),
    or in the repository's folder that the block's cwd mark names."""
    results: list[Result] = []
    previous = 0
    if block.cwd:
        directory = ROOT / block.cwd
        if not directory.is_dir() or ROOT.resolve() not in directory.resolve().parents:
            raise ValueError(f"{page}:{block.start}: no folder {block.cwd!r} in the repository")
    with chdir(directory):
        for cmd in block.commands:
            words = shlex.split(strip_comment(cmd.text))
            if words[:1] == ["gradcheck"]:
                result = run_gradcheck(words[1:])
                previous = result.code
            elif words[:1] == ["cat"] and len(words) == 2 and not block.cwd:
                Path(words[1]).write_text("\n".join(cmd.output) + "\n", encoding="utf-8")
                result = Result(0, list(cmd.output))
            elif words == ["echo", "$?"]:
                result = Result(0, [str(previous)])
            else:
                raise ValueError(
                    f"{page}:{cmd.line + 1}: the docs test cannot run '$ {cmd.text}' "
                    f"(only gradcheck, cat FILE outside a cwd block, and echo $?); "
                    f"mark the block with {SKIP_MARK}"
                )
            results.append(result)
    return results


def write_shown_files(blocks: list[Block], directory: Path) -> None:
    """Write the files that the ``$ cat FILE`` commands of ``blocks`` show."""
    for block in blocks:
        cats = [c for c in block.commands if c.text.startswith("cat ")]
        if cats and not block.skip and not block.cwd:
            run_block(Block(block.start, block.end, cats), directory)


# --------------------------------------------------------------------------- comparing


#: the timing figures of an output, compared as "some number": JSON ``"seconds": 0.12``
#: and an effort line's ``35 calls, 0.06 s``
TIMINGS = (
    (re.compile(r'("seconds": )(-?[0-9][0-9.eE+-]*|null)'), r"\1<seconds>"),
    (re.compile(r"(\b\d+ calls?, )\d+(\.\d+)? s\b"), r"\1<seconds> s"),
)


def masked(line: str) -> str:
    """``line`` with its timing figures replaced by a placeholder (``TIMINGS``)."""
    for pattern, placeholder in TIMINGS:
        line = pattern.sub(placeholder, line)
    return line


def matches(shown: list[str], actual: list[str]) -> bool:
    """Whether ``actual`` is ``shown`` with each ``...`` line standing for any lines
    (timing figures compared as "some number": ``masked``)."""
    shown, actual = [masked(line) for line in shown], [masked(line) for line in actual]
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


# --------------------------------------------------------------------------- JSON examples

STATUSES = {"pass", "warn", "fail", "kink", "unresolved"}


def contract_problems(doc) -> list[str]:
    """What a JSON report (or error document) lacks of SPEC.md's contract; [] if nothing."""
    if not isinstance(doc, dict):
        return ["not a JSON object"]
    if doc.get("status") == "error":
        return [f"an error document has no '{k}'" for k in ("command", "error") if k not in doc]
    problems = [f"no '{k}'" for k in ("command", "status", "thresholds", "summary", "checks") if k not in doc]
    if problems:
        return problems
    if doc["status"] not in STATUSES | {"unchecked"}:  # unchecked: --max-seconds stopped the check
        problems.append(f"status {doc['status']!r} is none of {sorted(STATUSES)}")
    if not isinstance(doc["thresholds"], dict) or not {"pass", "fail"} <= set(doc["thresholds"]):
        problems.append("'thresholds' has no 'pass' and 'fail'")
    summary = doc["summary"]
    missing = ({"checks"} | STATUSES) - set(summary) if isinstance(summary, dict) else {"checks"}
    if missing:
        problems.append(f"'summary' has no {sorted(missing)}")
    for n, item in enumerate(doc["checks"] if isinstance(doc["checks"], list) else [None]):
        if not isinstance(item, dict) or not {"name", "status"} <= set(item):
            problems.append(f"checks[{n}] has no 'name' and 'status'")
        elif item["status"] not in STATUSES:
            problems.append(f"checks[{n}] has status {item['status']!r}")
    return problems


def json_block_problems(block: Block) -> list[str]:
    """A ```json example: it parses and keeps to the contract.

    One that shows a command's output with ``...`` lines is checked by running the command.
    """
    if block.linked and any(line.strip() == ELLIPSIS for line in block.body):
        return []
    try:
        doc = json.loads("\n".join(block.body))
    except json.JSONDecodeError as exc:
        return [f"does not parse: {exc}"]
    return contract_problems(doc)


# --------------------------------------------------------------------------- the AssertionError example

ASSERT_PREFIX = "    AssertionError: "


def assertion_example(lines: list[str]) -> int | None:
    """Line number of the page's indented ``AssertionError:`` example, if any."""
    return next((k for k, line in enumerate(lines) if line.startswith(ASSERT_PREFIX)), None)


def actual_assertion(directory: Path) -> str:
    """The first line of ``assert_gradient(quad_wrong, x)`` for the page's mycode.py."""
    import importlib.util

    import numpy as np

    from gradcheck_cli.testing import assert_gradient

    spec = importlib.util.spec_from_file_location("_docs_mycode", directory / "mycode.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    x = np.random.default_rng(0).standard_normal((3, 4))
    try:
        assert_gradient(module.quad_wrong, x)
    except AssertionError as exc:
        return "AssertionError: " + str(exc).splitlines()[0]
    return "(no AssertionError)"


# --------------------------------------------------------------------------- a whole page


@dataclass
class Mismatch:
    command: Command
    actual: list[str]


def check_page(lines: list[str], page: str = "README.md") -> tuple[list[Mismatch], list[Block], Path]:
    """Run every console block of a page in one temporary directory.

    Returns the mismatches, the blocks and the directory (which holds the page's files).
    """
    directory = Path(tempfile.mkdtemp(prefix="gradcheck-docs-"))
    blocks = parse_blocks(lines)
    mismatches = []
    for block in console_blocks(blocks):
        if block.skip or not block.commands or block.missing():
            continue
        for cmd, result in zip(block.commands, run_block(block, directory, page)):
            if not matches(cmd.output, result.lines):
                mismatches.append(Mismatch(cmd, result.lines))
    return mismatches, blocks, directory


def update_page(path: Path = README) -> list[str]:
    """Rewrite the outputs of the page ``path`` in place; the commands whose output changed."""
    page = page_name(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    mismatches, _, directory = check_page(lines, page)
    changed = [f"{page}:{m.command.line + 1}: $ {m.command.text}" for m in mismatches]
    for m in sorted(mismatches, key=lambda m: -m.command.out_start):
        start = m.command.out_start
        lines[start : start + len(m.command.output)] = refreshed(m.command.output, m.actual)
    k = assertion_example(lines)
    if k is not None and (directory / "mycode.py").is_file():
        new = "    " + actual_assertion(directory)
        if lines[k] != new:
            lines[k] = new
            changed.append(f"{page}:{k + 1}: the AssertionError example")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return changed


def update_pages(paths: list[Path] | None = None) -> list[str]:
    """``update_page`` on every page (README.md and docs/*.md); what changed."""
    return [line for path in (paths or doc_pages()) for line in update_page(path)]


# keep the old names for scripts that call them
check_readme = check_page
update_readme = update_page


# --------------------------------------------------------------------------- tests


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _page_params(kind: str) -> list:
    params = []
    for path in doc_pages():
        for n, b in enumerate(parse_blocks(_lines(path))):
            if b.kind != kind or b.skip or (kind == "console" and not b.commands):
                continue
            params.append(pytest.param(path, n, id=f"{page_name(path)}:L{b.start + 1}"))
    return params


@pytest.fixture(scope="module")
def page_dirs(tmp_path_factory):
    """One directory per page, as a reader following that page would have."""
    made: dict[Path, Path] = {}

    def directory(path: Path) -> Path:
        if path not in made:
            made[path] = tmp_path_factory.mktemp(path.stem)
        return made[path]

    return directory


@pytest.fixture(scope="module", autouse=True)
def _maybe_update():
    if os.environ.get(UPDATE_ENV):
        changed = update_pages()
        print("\n".join(["pages updated:"] + changed) if changed else "pages unchanged")


@pytest.mark.slow
@pytest.mark.parametrize(("path", "index"), _page_params("console"))
def test_console_block(path, index, page_dirs):
    page, directory = page_name(path), page_dirs(path)
    blocks = parse_blocks(_lines(path))
    write_shown_files(blocks[:index], directory)  # so that one block can run alone (-k)
    block = blocks[index]
    if block.missing():
        pytest.skip(f"{page}:{block.start + 1} needs {', '.join(block.missing())} (not installed)")
    for cmd, result in zip(block.commands, run_block(block, directory, page)):
        assert matches(cmd.output, result.lines), (
            f"{page}:{cmd.line + 1}: `$ {cmd.text}` now prints:\n"
            + "\n".join(result.lines)
            + "\n(run `python tests/test_readme.py` to rewrite the pages' outputs)"
        )
        words = shlex.split(strip_comment(cmd.text))
        if words[:1] == ["gradcheck"] and "--format" in words and "json" in words and result.stdout:
            doc = json.loads(result.stdout)
            assert not contract_problems(doc), (page, cmd.line + 1, contract_problems(doc))


@pytest.mark.parametrize(("path", "index"), _page_params("json"))
def test_json_example(path, index):
    block = parse_blocks(_lines(path))[index]
    problems = json_block_problems(block)
    assert not problems, f"{page_name(path)}:{block.start + 1}: the JSON example " + "; ".join(problems)


def run_python_block(block: Block, directory: Path) -> list[str]:
    """Run a ```python block in ``directory``; the names of the ``test_*`` functions it ran."""
    namespace: dict = {"__name__": "docs_example"}
    saved_path = list(sys.path)
    sys.path.insert(0, str(directory))
    try:
        with chdir(directory):
            exec(compile("\n".join(block.body) + "\n", f"<{block.start + 1}>", "exec"), namespace)
            ran = []
            for name, value in list(namespace.items()):
                if name.startswith("test_") and callable(value):
                    value()
                    ran.append(name)
    finally:
        sys.path[:] = saved_path
    return ran


@pytest.mark.slow
@pytest.mark.parametrize(("path", "index"), _page_params("python"))
def test_python_example(path, index, page_dirs):
    directory = page_dirs(path)
    blocks = parse_blocks(_lines(path))
    write_shown_files(blocks[:index], directory)
    if blocks[index].missing():
        pytest.skip(f"{page_name(path)}:{blocks[index].start + 1} needs {', '.join(blocks[index].missing())}")
    run_python_block(blocks[index], directory)


@pytest.mark.slow
@pytest.mark.parametrize("path", [p for p in doc_pages() if assertion_example(_lines(p)) is not None],
                         ids=page_name)
def test_assertion_example(path, page_dirs):
    lines = _lines(path)
    k = assertion_example(lines)
    directory = page_dirs(path)
    write_shown_files(parse_blocks(lines), directory)
    assert (directory / "mycode.py").is_file(), f"{page_name(path)}: the example needs the page's `$ cat mycode.py`"
    assert lines[k].strip() == actual_assertion(directory)


def test_readme_has_the_assertion_example():
    assert assertion_example(_lines(README)) is not None


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
    assert matches(['  "seconds": 0.0123', "8 calls, 0.06 s (full mode)"],
                   ['  "seconds": 1.5e-05', "8 calls, 12.30 s (full mode)"])
    assert not matches(['  "seconds": 0.0123'], ['  "calls": 0.0123'])
    assert not matches(["8 calls, 0.06 s"], ["9 calls, 0.06 s"])
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


def test_a_json_block_after_a_format_json_command_is_its_output(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "```console\n$ gradcheck expr \"x**2\" --at 3 --format json\n```\n\n"
        "```json\n{\n  \"command\": \"expr\",\n  \"status\": \"fail\",\n...\n}\n```\n"
        "```json\n{\"command\": \"expr\", \"status\": \"error\", \"error\": \"error: x\"}\n```\n",
        encoding="utf-8",
    )
    console, linked, alone = parse_blocks(_lines(page))
    assert linked.linked and not alone.linked
    assert console.commands[0].output == ['{', '  "command": "expr",', '  "status": "fail",', "...", "}"]
    assert console.commands[0].out_start == 5
    assert json_block_problems(alone) == []
    assert update_page(page) == ["page.md:2: $ gradcheck expr \"x**2\" --at 3 --format json"]
    text = page.read_text(encoding="utf-8")
    assert '  "status": "pass",\n...\n}\n```\n' in text and text.count("```json") == 2
    assert update_page(page) == []


def test_standalone_json_examples_must_keep_to_the_contract():
    def problems(text):
        return json_block_problems(Block(0, 0, kind="json", body=text.splitlines()))

    good = {"command": "expr", "status": "pass", "thresholds": {"pass": 1e-7, "fail": 0.01},
            "summary": {"checks": 1, "pass": 1, "warn": 0, "fail": 0, "kink": 0, "unresolved": 0},
            "checks": [{"name": "x", "status": "pass"}]}
    assert problems(json.dumps(good)) == []
    assert problems('{"command": "expr",}')[0].startswith("does not parse")
    stale = dict(good, summary={"checks": 1, "pass": 1, "warn": 0, "fail": 0, "kink": 0})
    assert problems(json.dumps(stale)) == ["'summary' has no ['unresolved']"]
    assert problems(json.dumps(dict(good, status="ok"))) != []
    assert problems(json.dumps(dict(good, checks=[{"name": "x"}]))) != []
    assert problems('{"status": "error", "command": "expr"}') == ["an error document has no 'error'"]


def test_a_python_example_runs_its_tests(tmp_path):
    (tmp_path / "helper.py").write_text("def two():\n    return 2\n", encoding="utf-8")
    good = Block(0, 0, kind="python", body=["from helper import two", "def test_two():", "    assert two() == 2"])
    assert run_python_block(good, tmp_path) == ["test_two"]
    bad = Block(0, 0, kind="python", body=["def test_three():", "    assert 1 + 1 == 3"])
    with pytest.raises(AssertionError):
        run_python_block(bad, tmp_path)


def test_a_cwd_block_runs_in_the_repository_and_never_writes_there():
    text = ["<!-- readme-test: cwd tests/layers -->", "```console",
            "$ gradcheck layer layers.py:relu -i x=4,5 --quiet", "20 checks: 20 pass, 0 warn, 0 fail", "```",
            "<!-- readme-test: cwd tests/layers -->", "```console", "$ cat layers.py", "oops", "```"]
    run, cat = parse_blocks(text)
    assert run.cwd == "tests/layers" and not run.skip
    (result,) = run_block(run, Path(tempfile.gettempdir()))
    assert matches(run.commands[0].output, result.lines), result.lines
    with pytest.raises(ValueError, match="cannot run"):
        run_block(cat, Path(tempfile.gettempdir()))
    with pytest.raises(ValueError, match="no folder"):
        run_block(Block(0, 0, run.commands, cwd="../.."), Path(tempfile.gettempdir()))


def test_a_needs_mark_skips_a_block_where_the_module_is_missing(tmp_path):
    text = ["<!-- readme-test: cwd tests/layers; needs no_such_module_here -->", "```console",
            "$ gradcheck layer layers.py:relu -i x=4,5 --quiet", "not what it prints", "```",
            "<!-- readme-test: needs numpy -->", "```console", "$ gradcheck expr x --at 1 --quiet", "stale", "```"]
    absent, present = parse_blocks(text)
    assert (absent.cwd, absent.needs, absent.missing()) == ("tests/layers", ("no_such_module_here",),
                                                             ["no_such_module_here"])
    assert present.needs == ("numpy",) and present.missing() == [] and not present.skip
    page = tmp_path / "page.md"
    page.write_text("\n".join(text) + "\n", encoding="utf-8")
    assert update_page(page) == ["page.md:8: $ gradcheck expr x --at 1 --quiet"]  # only the runnable one
    assert "not what it prints" in page.read_text(encoding="utf-8")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    done = update_pages([Path(arg).resolve() for arg in sys.argv[1:]] or None)
    print("\n".join(["pages updated:"] + done) if done else "pages unchanged")
