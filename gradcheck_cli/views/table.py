"""Views of a :class:`~gradcheck_cli.results.Report`: a rich table, JSON, plain text.

``views`` is the only package that imports rich.  The header and note lines are made
here from the report's typed fields (``header_lines``, ``note_lines``).  Text that comes from outside (expressions, user
names, hints) is always wrapped in ``rich.text.Text`` so that markup in it (``[red]``)
is printed literally.  Colour follows rich's detection: none when the output is not a
terminal or ``NO_COLOR`` is set.
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import replace
from typing import IO, Mapping, Sequence

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..results import Check, Report, entry_label, point_label
from ..results import error_text as fmt_error, formula_line, network_line, shape_text, x_text  # noqa: F401  (views' names)
from ..verdict import Reason, Status

STATUS_STYLE = {
    Status.PASS: "bold green",
    Status.WARN: "bold yellow",
    Status.FAIL: "bold red",
    Status.KINK: "bold cyan",
    Status.UNRESOLVED: "bold yellow",
    Status.UNCHECKED: "bold magenta",
}


def reason_text(check: Check, effort=None, float32: bool = False) -> str:
    """Why a row is unresolved, e.g. ``finite-difference error 6e-05 is too large for
    |value| 1e-08`` (from the typed ``reason`` and the row's numbers), and the step that
    would settle it given the evidence tried (``effort``: the precision of the code's
    values and whether its cost was lifted to extended precision; ``float32``: the
    thresholds are float32's)."""
    reason = Reason(check.reason or "")
    err = "inf" if check.error is None or math.isinf(check.error) else f"{check.error:.2g}"
    if reason is Reason.NOISE:
        # what was shown (the agreement, the bound), and what would settle it
        shown = "" if check.rel_error is None or not math.isfinite(check.rel_error) else \
            f"agrees to {check.rel_error:.1g}, but "
        return (f"{shown}finite-difference error {err} is too large for |value| {abs(check.numeric):.2g} "
                f"to verify it here; " + _settle_text(check, effort, float32))
    if reason is Reason.NUMERIC_NONFINITE:
        return "the finite-difference estimate is not finite"
    if reason is Reason.ANALYTIC_NONFINITE:
        return "the analytic value is not finite"
    if reason is Reason.PRECISION_CAP:
        return f"undecided at the extended-precision cap ({check.digits} digits)"
    if reason is Reason.TIME_CAP:
        return "undecided within the time cap of the extended-precision referee"
    return ""


def _settle_text(check: Check, effort, float32: bool) -> str:
    """The one step that would settle an entry the finite differences could not verify."""
    lifting = "" if effort is None else effort.lifting
    if float32 or (effort is not None and effort.precision == "float32"):
        return ("the code computes in float32 (extended precision cannot help), and float32's round-off "
                "of f hides this entry's change: the same code in float64 would settle it")
    if lifting == "used":
        return ("np.longdouble (extended precision) was tried too and did not settle it: this entry moves f by "
                "less than f's round-off even there; a point where it moves f more would settle it")
    if lifting == "exhausted":
        return ("extended precision (np.longdouble) was used until its budget of calls ran out, not on every "
                "entry: a check of fewer entries (--sample, a smaller x) would settle it")
    if lifting == "available":
        return "extended precision (np.longdouble) is available: --mode full would settle it"
    if lifting == "none":
        return ("extended precision would settle it: make the code compute in the dtype it is given "
                "(np.longdouble in, np.longdouble out) and it is lifted to np.longdouble")
    return ("extended precision would settle it (code that computes in the dtype it is given is lifted "
            "to np.longdouble)")


def row_notes(checks: Sequence[Check], effort=None, float32: bool = False) -> list[Text]:
    """Lines under a table: why rows are unresolved, which were decided exactly."""
    lines = []
    for c in checks:
        if c.status is Status.UNRESOLVED and c.reason:
            lines.append(Text(f"unresolved {c.label}: ", style="yellow") + Text(reason_text(c, effort, float32)))
        if c.lossy_formula:
            why = ("its value is beyond float64's range here" if c.exact_text and c.exact_text[0]
                   else "the analytic formula loses digits in float64 here")
            lines.append(Text(f"note {c.label}: {why}; judged by its exact value", style="dim"))
    digits = [c.digits for c in checks if c.digits]
    if digits:
        lines.append(Text(f"* decided in extended precision (mpmath, up to {max(digits)} digits)", style="dim"))
    return lines


def make_console(file: IO[str] | None = None, width: int | None = None, stderr: bool = False) -> Console:
    """A console for reports: no automatic highlighting, no markup surprises.

    Output that is not a terminal (a CI log, a file) gets 120 columns unless ``COLUMNS``
    says otherwise, so that rows are not cut to rich's default of 80.
    """
    console = Console(file=file, width=width, highlight=False, stderr=stderr, soft_wrap=False,
                      emoji=False)
    if width is None and _columns() is None:  # COLUMNS unset, 0 or not a number
        console.width = 120 if not console.is_terminal else max(console.size.width, MIN_WIDTH)
    elif console.width < MIN_WIDTH:
        console.width = MIN_WIDTH
    console.on_broken_pipe = _broken_pipe  # type: ignore[method-assign]
    return console


#: narrowest layout we print: below it numbers would be cut (COLUMNS=5 gets this width)
MIN_WIDTH = 40


def _columns() -> int | None:
    """``COLUMNS`` as a positive number of columns, else None (``COLUMNS=0`` is no width)."""
    try:
        value = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        return None
    return value if value > 0 else None


def _broken_pipe() -> None:
    """rich exits 1 when the reader closes the pipe; the caller keeps the verdict instead."""
    raise BrokenPipeError("stdout was closed")


def fmt_value(x: float, digits: int = 10) -> str:
    """A derivative value: 10 significant digits (7 on a narrow terminal)."""
    return "nan" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}g}"


def status_text(status: Status, precise: bool = False) -> Text:
    """``PASS`` in its colour; ``PASS*`` when decided in extended precision."""
    return Text(status.value.upper() + ("*" if precise else ""), style=STATUS_STYLE[status])


#: layouts tried in turn until a table fits the terminal: (error column, significant digits)
_LAYOUTS = ((True, 10), (False, 10), (False, 7))
FLOOR_LEFT_OUT = "± error column left out to fit the terminal (--format json has it)"


def _new_table(show_header: bool = True) -> Table:
    return Table(box=box.SIMPLE_HEAD, show_edge=False, header_style="bold", pad_edge=False,
                 show_header=show_header)


def fits(console: Console, table: Table) -> bool:
    """Whether ``table`` at its natural width fits the console (no cell would be cut)."""
    natural = console.measure(table, options=console.options.update_width(10_000)).maximum
    return natural <= console.width


def _expression_rows(report: Report, floor: bool, digits: int, point: bool):
    """(header, justify) per column and the rows (cells) of the expression table."""
    cols = [("point", "left")] if point else []
    cols += [("d/d", "left"), ("analytic", "right"), ("numeric", "right"), ("rel error", "right")]
    cols += [("± error", "right")] if floor else []
    cols += [("status", "left")]
    rows, previous = [], None
    for c in report.checks:
        label = point_label(c.point or {})
        cells = [Text(label if label != previous else "")] if point else []
        exact = c.exact_text or (None, None)  # values beyond float64's range, as the referee computed them
        cells += [Text(c.name), exact[0] or fmt_value(c.analytic, digits), exact[1] or fmt_value(c.numeric, digits),
                  fmt_error(c.rel_error)]
        cells += [fmt_error(c.error)] if floor else []
        rows.append((label, cells + [status_text(c.status, bool(c.digits))]))
        previous = label
    return cols, rows


def _expression_table(report: Report, floor: bool = True, digits: int = 10) -> Table:
    cols, rows = _expression_rows(report, floor, digits, point=True)
    table = _new_table()
    for col, justify in cols:
        table.add_column(col, justify=justify, no_wrap=True)
    for _, cells in rows:
        table.add_row(*cells)
    return table


def _print_expression_table(report: Report, console: Console) -> bool:
    """The expression table in the widest layout that fits; whether the floor was left out.

    Nothing a user needs (point, variable, analytic, numeric, rel error, status) is ever
    cut: the ± error column goes first, then values get 7 significant digits, then each
    point gets its own line above its rows.
    """
    for floor, digits in _LAYOUTS:
        table = _expression_table(report, floor, digits)
        if fits(console, table):
            console.print(table)
            return not floor
    cols, rows = _expression_rows(report, False, 7, point=False)
    widths = [max([len(h)] + [Text(cells[k]).cell_len if isinstance(cells[k], str) else cells[k].cell_len
                              for _, cells in rows]) for k, (h, _) in enumerate(cols)]

    def stacked(show_header: bool) -> Table:
        table = _new_table(show_header)
        for (col, justify), width in zip(cols, widths):
            table.add_column(col, justify=justify, no_wrap=True, min_width=width)
        return table

    console.print(stacked(True))
    groups: dict[str, list] = {}
    for label, cells in rows:
        groups.setdefault(label, []).append(cells)
    for label, group in groups.items():
        console.print(Text(label, style="bold"), overflow="fold")
        table = stacked(False)
        for cells in group:
            table.add_row(*cells)
        console.print(table)
    return True


def _block_table(report: Report, shape: bool = True, checked: bool = True) -> Table:
    table = _new_table()
    cols = [("block", "left")] + ([("shape", "left")] if shape else []) + ([("checked", "right")] if checked else [])
    for col, justify in cols + [("max rel error", "right"), ("worst entry", "left"), ("status", "left")]:
        table.add_column(col, justify=justify, no_wrap=True)
    for b in report.blocks:
        worst = "-" if b.worst_index is None else entry_label(b.name, b.worst_index)
        cells = [Text(b.name)] + ([" x ".join(map(str, b.shape)) or "scalar"] if shape else [])
        cells += [f"{b.directions} dirs" if b.directions and not b.checked else str(b.checked)] if checked else []
        table.add_row(*cells, fmt_error(b.max_rel_error), Text(worst), status_text(b.status))
    return table


def _entry_table(checks: Sequence[Check], floor: bool = True, digits: int = 10) -> Table:
    table = _new_table()
    cols = [("entry", "left"), ("analytic", "right"), ("numeric", "right"), ("rel error", "right")]
    for col, justify in cols + ([("± error", "right")] if floor else []) + [("status", "left")]:
        table.add_column(col, justify=justify, no_wrap=True)
    for c in checks:
        cells = [Text(c.label), fmt_value(c.analytic, digits), fmt_value(c.numeric, digits), fmt_error(c.rel_error)]
        table.add_row(*cells, *([fmt_error(c.error)] if floor else []), status_text(c.status, bool(c.digits)))
    return table


def _print_fitting(console: Console, tables: Sequence[Table], stacked: Table | None = None) -> int:
    """Print the first table that fits the console; its position.  When none fits,
    ``stacked`` (two lines per row) is printed if given, else the last table."""
    for k, table in enumerate(tables):
        if fits(console, table) or (k == len(tables) - 1 and stacked is None):
            console.print(table)
            return k
    console.print(stacked)
    return len(tables) - 1


def _stacked_block_table(report: Report) -> Table:
    """The block table for a narrow terminal: block over status, max rel error over the
    worst entry."""
    table = _new_table()
    for col in ("block", "max rel error\nworst entry"):
        table.add_column(col, justify="left", no_wrap=True)
    for b in report.blocks:
        worst = "-" if b.worst_index is None else entry_label(b.name, b.worst_index)
        table.add_row(Text(b.name) + Text("\n") + status_text(b.status), Text(fmt_error(b.max_rel_error) + "\n" + worst))
    return table


def _stacked_entry_table(checks: Sequence[Check], digits: int = 7) -> Table:
    """The entry table for a narrow terminal: two lines per entry (entry over status,
    analytic over numeric), so that no number is cut."""
    table = _new_table()
    for col, justify in (("entry", "left"), ("analytic\nnumeric", "right"), ("rel error", "right")):
        table.add_column(col, justify=justify, no_wrap=True)
    for c in checks:
        who = Text(c.label) + Text("\n") + status_text(c.status, bool(c.digits))
        table.add_row(who, f"{fmt_value(c.analytic, digits)}\n{fmt_value(c.numeric, digits)}", fmt_error(c.rel_error))
    return table


_SEVERITY = {Status.FAIL: 3, Status.UNRESOLVED: 2, Status.WARN: 2, Status.PASS: 0, Status.KINK: 0}


def worst_check(checks: Sequence[Check]) -> Check | None:
    """The worst row: most severe status first (fail, then warn/unresolved), then the
    largest relative error (NaN counts as the largest); None when nothing was checked."""
    def key(c: Check):
        err = c.rel_error
        return (_SEVERITY.get(c.status, 0), math.inf if err is None or math.isnan(err) else err)

    return max(checks, key=key, default=None)


def worst_line(c: Check) -> str:
    """``worst: W1[4, 3] FAIL, analytic -0.2003997, numeric 0.425977, rel error 1.5e+00``."""
    return (f"worst: {c.label} {c.status.value.upper()}, analytic {fmt_value(c.analytic, 7)}, "
            f"numeric {fmt_value(c.numeric, 7)}, rel error {fmt_error(c.rel_error)}")


def worst_lines(c: Check, width: int) -> list[str]:
    """``worst_line`` when it fits ``width`` columns; else ``worst: W1[4, 3] FAIL, rel
    error 1.5e+00`` (the grep-able part) and the two values on an indented line."""
    line = worst_line(c)
    if len(line) <= width:
        return [line]
    return [f"worst: {c.label} {c.status.value.upper()}, rel error {fmt_error(c.rel_error)}",
            f"  analytic {fmt_value(c.analytic, 7)}, numeric {fmt_value(c.numeric, 7)}"]


def bug_list_lines(bugs: Mapping[str, str], width: int) -> list[str]:
    """``net --inject-bug list``: each bug's name and its description, the description
    wrapped to ``width`` columns under itself (or under the name when too narrow)."""
    import textwrap

    name_width = max(map(len, bugs), default=0)
    indent = name_width + 2
    if width - indent < 30:  # too narrow for a column: the description under the name
        indent = 4
    lines: list[str] = []
    for name, text in bugs.items():
        wrapped = textwrap.wrap(text, max(width - indent, 20), break_on_hyphens=False) or [""]
        if indent == name_width + 2:
            lines.append(f"{name:<{name_width}}  {wrapped[0]}")
            lines += [" " * indent + rest for rest in wrapped[1:]]
        else:
            lines.append(name)
            lines += [" " * indent + rest for rest in wrapped]
    return lines


def summary_text(report: Report) -> Text:
    """The one-line summary, coloured by the overall status."""
    text = Text(report.summary_line(), style=STATUS_STYLE[report.status])
    cc = report.cost_check  # not in the counts, but in the status: say so when it decides it
    if cc is not None and cc.status not in (Status.PASS, Status.KINK):
        text.append(f"; cost check {cc.status.value.upper()} (yours {fmt_value(cc.yours, 7)}, "
                    f"reference {fmt_value(cc.reference, 7)}, rel error {fmt_error(cc.rel_error)})")
    if report.thresholds.strict and report.status in (Status.WARN, Status.UNRESOLVED, Status.UNCHECKED):
        text.append(f" ({report.status.value} fails under --strict)")
    return text


def header_lines(report: Report) -> list[str]:
    """What was checked: the subject's own lines (``results.Subject.header_lines``)."""
    return report.subject.header_lines(report)


def effort_lines(e) -> list[str]:
    """``checked N entries, C calls, T s`` and how the entries got their verdicts (``results.Effort``)."""
    how = []
    bound = f", each within {e.max_bound:.1e} relative if alone in its set" if e.max_bound is not None else ""
    if e.excluded and e.verified is None:
        how.append(f"{e.excluded} cleared by exclusion{bound}: proved not to fail; unresolved unless that bound "
                   "is within --pass-tol (--mode full checks each entry)")
    elif e.excluded:
        # what happened to them: verified by the bound the search proved, or checked again
        # directly, or left proved only not to fail (unresolved)
        left = e.excluded - e.verified - e.rechecked
        parts = [f"{e.verified} verified by their proved bound (pass)"] if e.verified else []
        if e.rechecked:
            parts.append(f"{e.rechecked} then checked directly")
        if left:
            parts.append(f"{left} proved only not to fail{bound} (unresolved: --mode full checks each entry)")
        how.append(f"{e.excluded} cleared by exclusion: " + ", ".join(parts))
    if e.checked and (e.excluded or e.unchecked):
        how.append(f"{e.checked} checked directly")
    if e.unchecked:
        how.append(f"{e.unchecked} not checked one by one")
    settled = getattr(e, "settled", None)
    if settled is not None and (settled.directions or settled.re_estimated):
        how.append(f"{settled.first_look} settled by their own two calls")
        if settled.directions:
            how.append(f"{settled.directions} verified together by precise directions")
        if settled.re_estimated:
            how.append(f"{settled.re_estimated} estimated again one by one")
    lines = [f"checked {e.entries} entries, {e.calls} calls, {e.seconds:.2f} s"
             + (f" ({e.mode.value} mode: {', '.join(how)})" if how else f" ({e.mode.value} mode)")]
    if e.directions:
        lines.append(f"{e.directions} random ±1 directional checks; a set is cleared only when its directions agree "
                     "within their noise and no entry that its own check would fail could hide in it")
    for name in e.blockwide:
        lines.append(f"{name}: most of the block is wrong (a block-wide bug): shown with entries sampled at random")
    if e.stopped:
        lines.append(f"stopped by --max-seconds: {e.stopped} entries unchecked (not reached, or not settled, in time); "
                     "the verdict covers the entries checked")
    return lines


def note_lines(report: Report) -> list[str]:
    """The dim lines under the tables, from the report's typed extras."""
    lines: list[str] = list(report.subject.note_lines(report))
    if report.effort is not None:
        lines += effort_lines(report.effort)
    if report.hvp:
        lines.append(f"hvp: {report.hvp} random Hessian-vector products of the gradient, u^T H v against v^T H u "
                     "(a gradient field has a symmetric Jacobian)")
    if report.taylor_test is not None:
        lines.append(f"Taylor test along a random direction (seed {report.seed}): {report.taylor_test.verdict()}")
    for t in report.taylor_points:
        lines.append(f"Taylor test at {point_label(t.point)} (seed {report.seed}): {t.taylor.verdict()}")
    if report.convention is not None:
        from ..conventions import rule_text

        lines.append(rule_text(report.convention))
    return lines


def render(report: Report, console: Console, quiet: bool = False, header: bool = True, notes: bool = True) -> None:
    """Print the report: header, table(s), hints, notes, summary (only the summary if ``quiet``)."""
    if quiet:
        worst = worst_check(report.checks)  # shown when it is what a CI log needs: not a pass
        if worst is not None and worst.status not in (Status.PASS, Status.KINK):
            for line in worst_lines(worst, console.width):
                console.print(Text(line, style=STATUS_STYLE[worst.status]))
        console.print(summary_text(report))
        return
    if header:
        for line in header_lines(report):
            console.print(Text(line))
    floor_left_out = False
    if report.blocks:
        _print_fitting(console, [_block_table(report), _block_table(report, shape=False),
                                 _block_table(report, shape=False, checked=False)],
                       stacked=_stacked_block_table(report))
        names = {b.name for b in report.blocks}
        entries = [c for c in report.checks if c.name in names]
        shown = entries if report.shown is None else entries[: report.shown]
        rows = [c for c in report.checks if c.name not in names] + shown
        if rows:
            console.print(Text("worst entries", style="bold"))
            k = _print_fitting(console, [_entry_table(rows, floor, digits) for floor, digits in _LAYOUTS],
                               stacked=_stacked_entry_table(rows))
            floor_left_out = not _LAYOUTS[k][0]
            for line in row_notes(rows, report.effort, report.thresholds.precision == "float32"):
                console.print(line)
        hidden = len(entries) - len(shown)
        if hidden:
            console.print(Text(f"... and {hidden} more failing entries (--top K shows more; "
                               "--format json lists them all)", style="dim"))
    elif report.checks:
        for title, checks in report.subject.row_groups(report):  # a vector expression: a table per output
            if title is not None:
                console.print(Text(title, style="bold"))
            floor_left_out |= _print_expression_table(replace(report, checks=checks), console)
            for line in row_notes(checks, report.effort, report.thresholds.precision == "float32"):
                console.print(line)
        for label, text in report.subject.detail_lines(report):
            console.print(Text(label, style="bold yellow" if label.startswith("diagnosis") else "bold") + Text(text))
    for hint in report.hints:
        console.print(Text("hint: ", style="bold yellow") + Text(hint))
    for note in (note_lines(report) if notes else ()):
        console.print(Text(note, style="dim"))
    if floor_left_out:
        console.print(Text(FLOOR_LEFT_OUT, style="dim"))
    t = report.thresholds
    console.print(Text(
        f"method {report.method.value}; pass <= {t.pass_tol:g}"
        f"{' (float32 code: what float32 can verify)' if t.precision == 'float32' else ''}, "
        f"fail > {t.fail_tol:g} (over numeric ± error); "
        f"floor = {report.floor_text}",
        style="dim",
    ))
    console.print(summary_text(report))


def to_json(report: Report) -> str:
    """The contract's JSON document (NaN and infinities as ``null``)."""
    import json

    return json.dumps(report.to_dict(), indent=2, allow_nan=False)


def to_text(report: Report, width: int = 100) -> str:
    """The table as plain text (no colour), e.g. for an AssertionError message."""
    buf = io.StringIO()
    render(report, Console(file=buf, width=width, highlight=False, no_color=True, force_terminal=False))
    return buf.getvalue()
