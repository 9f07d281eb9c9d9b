"""JUnit XML view of a :class:`~gradcheck_cli.results.Report`, for CI test reporters.

The layout that Jenkins, GitLab, Azure Pipelines and the GitHub Actions reporters read::

    <testsuites name="gradcheck" tests= failures= errors="0" skipped=>
      <testsuite name="gradcheck func" tests= failures= errors="0" skipped=>
        <properties>status, method, thresholds, floor</properties>
        <testcase classname="gradcheck.func" name="x">...</testcase>
      </testsuite>
    </testsuites>

One ``<testcase>`` per parameter block (``net``, ``func``, ``sanity``: ``W1``, ``x``...) or,
for reports without blocks (``expr``), per checked component (``d/dx at x=1.5``).
Outcomes:

========  ===========================================================================
pass      an empty test case
warn      a passing test case whose ``<system-out>`` gives the numbers; a
          ``<failure type="warn">`` under ``--strict``
fail      ``<failure type="fail" message=...>``: analytic, numeric, relative error and
          floor of the worst entry in the message, every failing entry in the text
kink      ``<skipped>`` (a block is skipped only when every entry is at a kink)
========  ===========================================================================
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from os import PathLike
from typing import Sequence

from ..results import Check, Report
from ..verdict import Status


def _num(x: float) -> str:
    return f"{x:.10g}"


def _err(x: float) -> str:
    return f"{x:.2e}"



def _numbers(check: Check) -> str:
    """``analytic 2, numeric 4, rel error 5.00e-01, floor 1.30e-02``."""
    return (
        f"analytic {_num(check.analytic)}, numeric {_num(check.numeric)}, "
        f"rel error {_err(check.rel_error)}, floor {_err(check.floor)}"
    )


def _summary(check: Check, status: Status, report: Report) -> str:
    """``analytic 2, numeric 4, rel error 5.00e-01 > fail tol 0.01, floor 1.30e-02``."""
    return (
        f"analytic {_num(check.analytic)}, numeric {_num(check.numeric)}, "
        f"{_verdict_text(status, check.rel_error, report)}, floor {_err(check.floor)}"
    )


def _verdict_text(status: Status, rel: float, report: Report) -> str:
    t = report.thresholds
    if status is Status.FAIL:
        return f"rel error {_err(rel)} > fail tol {t.fail_tol:g}"
    if status is Status.WARN:
        return f"rel error {_err(rel)} > pass tol {t.pass_tol:g}" + (" (--strict)" if t.strict else "")
    if status is Status.UNRESOLVED:
        return f"rel error {_err(rel)}, unresolved: the evidence cannot decide" + (" (--strict)" if t.strict else "")
    return f"rel error {_err(rel)} <= pass tol {t.pass_tol:g}"


def _add_outcome(case: ET.Element, status: Status, message: str, text: str, report: Report) -> str:
    """Attach the element of ``status`` to ``case``; return the outcome it counts as."""
    if status is Status.FAIL or (status in (Status.WARN, Status.UNRESOLVED, Status.UNCHECKED) and report.thresholds.strict):
        el = ET.SubElement(case, "failure", message=message, type=status.value)
        el.text = text
        return "failure"
    if status is Status.KINK:
        ET.SubElement(case, "skipped", message=message)
        return "skipped"
    if status in (Status.WARN, Status.UNRESOLVED, Status.UNCHECKED):
        ET.SubElement(case, "system-out").text = f"{status.value}: {message}\n{text}".rstrip("\n")
    return "pass"


def _check_case(suite: ET.Element, report: Report, check: Check) -> str:
    case = ET.SubElement(suite, "testcase", classname=f"gradcheck.{report.command}", name=check.label)
    if check.status is Status.KINK:
        message = f"kink: a non-differentiable point lies inside the stencil ({_numbers(check)})"
    else:
        message = f"{check.label}: {_summary(check, check.status, report)}"
    return _add_outcome(case, check.status, message, message, report)


def _block_case(suite: ET.Element, report: Report, block, checks: Sequence[Check]) -> str:
    case = ET.SubElement(suite, "testcase", classname=f"gradcheck.{report.command}", name=block.name)
    counts = block.counts or {}
    if block.checked and counts.get("kink", 0) == block.checked:
        return _add_outcome(case, Status.KINK, f"{block.name}: every entry is at a kink", "", report)
    mine = [c for c in checks if c.name == block.name]
    worst = next((c for c in mine if tuple(c.index or ()) == tuple(block.worst_index or ())), None)
    where = f"{block.name}[{', '.join(map(str, block.worst_index))}]" if block.worst_index else block.name
    if worst is not None:
        message = f"worst entry {where}: {_summary(worst, block.status, report)}"
    else:
        message = f"worst entry {where}: {_verdict_text(block.status, block.max_rel_error, report)}"
    shown = [c for c in mine if c.status in (Status.FAIL, Status.WARN, Status.UNRESOLVED)]
    lines = [f"{block.checked} entries checked: {counts.get('pass', 0)} pass, {counts.get('warn', 0)} warn, "
             f"{counts.get('fail', 0)} fail, {counts.get('kink', 0)} kink, {counts.get('unresolved', 0)} unresolved"]
    lines += [f"{c.label}: {c.status.value}, {_numbers(c)}" for c in shown]
    return _add_outcome(case, block.status, message, "\n".join(lines), report)


def _cost_case(suite: ET.Element, report: Report, cc) -> str:
    """``net --impl``'s cost check as its own test case, ``cost``."""
    case = ET.SubElement(suite, "testcase", classname=f"gradcheck.{report.command}", name="cost")
    message = (f"cost: yours {_num(cc.yours)}, reference {_num(cc.reference)}, "
               f"{_verdict_text(cc.status, cc.rel_error, report)}")
    if cc.l2 is not None:
        message += f" (yours = reference + {cc.l2_formula}, an L2 penalty)"
    return _add_outcome(case, cc.status, message, message, report)


def to_junit_xml(report: Report) -> str:
    """The report as a JUnit XML document (a string, with its XML declaration).

    >>> from gradcheck_cli import check_expression
    >>> '<testsuite name="gradcheck expr"' in to_junit_xml(check_expression("x**2", at=["1"]))
    True
    """
    outcomes: list[str] = []
    suite = ET.Element("testsuite", name=f"gradcheck {report.command}")
    props = ET.SubElement(suite, "properties")
    t = report.thresholds
    for key, value in (
        ("status", report.status.value),
        ("method", report.method.value),
        ("pass_tol", f"{t.pass_tol:g}"),
        ("fail_tol", f"{t.fail_tol:g}"),
        ("strict", str(t.strict).lower()),
        ("floor", report.floor_text),
        ("summary", report.summary_line()),
    ):
        ET.SubElement(props, "property", name=key, value=value)
    if report.cost_check is not None:
        outcomes.append(_cost_case(suite, report, report.cost_check))
    if report.blocks:
        for block in report.blocks:
            outcomes.append(_block_case(suite, report, block, report.checks))
    else:
        for check in report.checks:
            outcomes.append(_check_case(suite, report, check))
    if report.hints:
        ET.SubElement(suite, "system-out").text = "\n".join(f"hint: {h}" for h in report.hints)
    counts = {
        "tests": str(len(outcomes)),
        "failures": str(outcomes.count("failure")),
        "errors": "0",
        "skipped": str(outcomes.count("skipped")),
    }
    suite.attrib.update(counts)
    root = ET.Element("testsuites", name="gradcheck", **counts)
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def validate_path(path: str | PathLike[str]) -> None:
    """Raise OptionError unless ``path`` can be a file to write: not a directory, a FIFO or
    other special file, not Python source (``--junit quad.py`` would overwrite the code being
    checked), and in an existing directory.  Checked before any work, so bad input writes
    nothing."""
    import os
    import stat

    from ..errors import OptionError

    text = os.fspath(path)
    if not text:
        raise OptionError("--junit needs a file name")
    if os.path.isdir(text):
        raise OptionError(f"--junit: '{text}' is a directory, expected a file name")
    suffix = os.path.splitext(text)[1].lower()  # QUAD.PY is quad.py on a case-insensitive disk
    if suffix in (".py", ".pyw", ".pyi", ".ipynb"):
        raise OptionError(f"--junit: '{text}' is a source file, not a report (use e.g. report.xml)")
    if suffix in (".npy", ".npz"):
        raise OptionError(f"--junit: '{text}' is a data file, not a report (use e.g. report.xml)")
    try:
        mode = os.stat(text).st_mode
    except OSError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        raise OptionError(f"--junit: '{text}' is not a regular file (a FIFO, socket or device)")
    parent = os.path.dirname(os.path.abspath(text))
    if not os.path.isdir(parent):
        raise OptionError(f"--junit: directory '{os.path.dirname(text)}' does not exist")


def write_junit(report: Report, path: str | PathLike[str]) -> None:
    """Write :func:`to_junit_xml` to ``path`` (UTF-8) atomically: into a temporary file in
    the same folder, then renamed over ``path``, so a reader sees the old file or the whole
    new one, never a prefix.  OSError propagates (the temporary file is removed)."""
    import os
    import tempfile

    validate_path(path)  # again: the file may have changed while the check ran
    text = to_junit_xml(report)
    target = os.path.abspath(os.fspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".gradcheck-", suffix=".xml.tmp", dir=os.path.dirname(target))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _umask() -> int:
    """The process umask (read by setting and restoring it), for the report's permissions."""
    import os

    mask = os.umask(0o022)
    os.umask(mask)
    return mask
