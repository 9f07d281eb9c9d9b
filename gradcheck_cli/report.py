"""Views of a :class:`~gradcheck_cli.results.Report`: a rich table, JSON, plain text.

The only module that imports rich.  Text that comes from outside (expressions, user
names, hints) is always wrapped in ``rich.text.Text`` so that markup in it (``[red]``)
is printed literally.  Colour follows rich's detection: none when the output is not a
terminal or ``NO_COLOR`` is set.
"""

from __future__ import annotations

import io
import json
import math
import os
from typing import IO, Sequence

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .results import Check, Report
from .verdict import Status

STATUS_STYLE = {
    Status.PASS: "bold green",
    Status.WARN: "bold yellow",
    Status.FAIL: "bold red",
    Status.KINK: "bold cyan",
}


def make_console(file: IO[str] | None = None, width: int | None = None, stderr: bool = False) -> Console:
    """A console for reports: no automatic highlighting, no markup surprises.

    Output that is not a terminal (a CI log, a file) gets 120 columns unless ``COLUMNS``
    says otherwise, so that rows are not cut to rich's default of 80.
    """
    console = Console(file=file, width=width, highlight=False, stderr=stderr, soft_wrap=False)
    if width is None and not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = 120
    return console


def fmt_value(x: float) -> str:
    """A derivative value: 10 significant digits."""
    return "nan" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.10g}"


def fmt_error(x: float) -> str:
    """A relative error or floor: 2 significant digits in exponent form."""
    if x is None or math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf"
    return "0" if x == 0 else f"{x:.1e}"


def status_text(status: Status) -> Text:
    return Text(status.value.upper(), style=STATUS_STYLE[status])


def index_text(check: Check) -> str:
    """``W1[3, 2]``, ``x[0]``, or just the variable name."""
    if not check.index:  # None, or () for a scalar x
        return check.name
    return f"{check.name}[{', '.join(str(i) for i in check.index)}]"


def _point_text(point) -> str:
    return ", ".join(f"{k}={v:.6g}" for k, v in point.items())


def _expression_table(report: Report) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, header_style="bold", pad_edge=False)
    for col, justify in (("point", "left"), ("d/d", "left"), ("analytic", "right"), ("numeric", "right"),
                         ("rel error", "right"), ("floor", "right"), ("status", "left")):
        table.add_column(col, justify=justify, no_wrap=col != "point")
    previous = None
    for c in report.checks:
        point = _point_text(c.point or {})
        table.add_row(
            Text(point if point != previous else ""), Text(c.name), fmt_value(c.analytic), fmt_value(c.numeric),
            fmt_error(c.rel_error), fmt_error(c.floor), status_text(c.status),
        )
        previous = point
    return table


def _block_table(report: Report) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, header_style="bold", pad_edge=False)
    for col, justify in (("block", "left"), ("shape", "left"), ("checked", "right"),
                         ("max rel error", "right"), ("worst entry", "left"), ("status", "left")):
        table.add_column(col, justify=justify, no_wrap=True)
    for b in report.blocks:
        worst = "-" if b.worst_index is None else f"{b.name}[{', '.join(map(str, b.worst_index))}]" if b.worst_index else b.name
        table.add_row(
            Text(b.name), " x ".join(map(str, b.shape)) or "scalar", str(b.checked),
            fmt_error(b.max_rel_error), Text(worst), status_text(b.status),
        )
    return table


def _entry_table(checks: Sequence[Check]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, header_style="bold", pad_edge=False)
    for col, justify in (("entry", "left"), ("analytic", "right"), ("numeric", "right"),
                         ("rel error", "right"), ("floor", "right"), ("status", "left")):
        table.add_column(col, justify=justify, no_wrap=True)
    for c in checks:
        table.add_row(Text(index_text(c)), fmt_value(c.analytic), fmt_value(c.numeric),
                      fmt_error(c.rel_error), fmt_error(c.floor), status_text(c.status))
    return table


def summary_text(report: Report) -> Text:
    """The one-line summary, coloured by the overall status."""
    text = Text(report.summary_line(), style=STATUS_STYLE[report.status])
    if report.thresholds.strict and report.status is Status.WARN:
        text.append(" (warn fails under --strict)")
    return text


def render(report: Report, console: Console, quiet: bool = False) -> None:
    """Print the report: header, table(s), hints, summary (only the summary if ``quiet``)."""
    if quiet:
        console.print(summary_text(report))
        return
    for line in report.header:
        console.print(Text(line))
    if report.blocks:
        console.print(_block_table(report))
        if report.checks:
            console.print(Text("worst entries", style="bold"))
            console.print(_entry_table(report.checks))
    elif report.checks:
        console.print(_expression_table(report))
    for hint in report.hints:
        console.print(Text("hint: ", style="bold yellow") + Text(hint))
    for note in report.notes:
        console.print(Text(note, style="dim"))
    t = report.thresholds
    console.print(Text(
        f"method {report.method.value}; pass <= {t.pass_tol:g}, fail > {t.fail_tol:g}; "
        f"rel error = |a - n| / max(|a|, |n|, floor), floor = {report.floor_text}",
        style="dim",
    ))
    console.print(summary_text(report))


def to_json(report: Report) -> str:
    """The contract's JSON document (NaN and infinities as ``null``)."""
    return json.dumps(report.to_dict(), indent=2, allow_nan=False)


def to_text(report: Report, width: int = 100) -> str:
    """The table as plain text (no colour), e.g. for an AssertionError message."""
    buf = io.StringIO()
    render(report, Console(file=buf, width=width, highlight=False, no_color=True, force_terminal=False))
    return buf.getvalue()


# ==== func and sanity (issue 4) =========================================================
class DelayedProgress:
    """A progress bar on stderr for a long check, as a ``progress(done, total)`` callback.

    It appears only when stderr is a terminal and the work has run for ``delay``
    seconds, and it disappears when done, so short checks and logs stay clean.
    """

    def __init__(self, description: str, delay: float = 1.0, console: Console | None = None) -> None:
        self.description = description
        self.delay = delay
        self.console = console if console is not None else make_console(stderr=True)
        self.enabled = self.console.is_terminal
        self._start = 0.0
        self._progress = None
        self._task = None

    def __enter__(self) -> "DelayedProgress":
        import time

        self._start = time.monotonic()
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    @property
    def shown(self) -> bool:
        return self._progress is not None

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self._progress is None:
            import time

            if time.monotonic() - self._start < self.delay:
                return
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                console=self.console, transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(self.description, total=total)
        self._progress.update(self._task, completed=done)



# ==== second order, sweep, Taylor, graph, descent (issue 5) ============================
