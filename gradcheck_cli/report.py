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
from dataclasses import replace
from typing import IO, TYPE_CHECKING, Sequence

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .results import Check, Report
from .verdict import Reason, Status

if TYPE_CHECKING:  # rich.tree is imported only when a graph is drawn
    from rich.tree import Tree

STATUS_STYLE = {
    Status.PASS: "bold green",
    Status.WARN: "bold yellow",
    Status.FAIL: "bold red",
    Status.KINK: "bold cyan",
    Status.UNRESOLVED: "bold yellow",
}


def reason_text(check: Check) -> str:
    """Why a row is unresolved, e.g. ``finite-difference error 6e-05 is too large for
    |value| 1e-08`` (from the typed ``reason`` and the row's numbers)."""
    reason = Reason(check.reason or "")
    err = "inf" if check.error is None or math.isinf(check.error) else f"{check.error:.2g}"
    if reason is Reason.NOISE:
        return f"finite-difference error {err} is too large for |value| {abs(check.numeric):.2g}"
    if reason is Reason.NUMERIC_NONFINITE:
        return "the finite-difference estimate is not finite"
    if reason is Reason.ANALYTIC_NONFINITE:
        return "the analytic value is not finite"
    if reason is Reason.PRECISION_CAP:
        return f"undecided at the extended-precision cap ({check.digits} digits)"
    if reason is Reason.TIME_CAP:
        return "undecided within the time cap of the extended-precision referee"
    return ""


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


def status_text(status: Status, precise: bool = False) -> Text:
    """``PASS`` in its colour; ``PASS*`` when decided in extended precision."""
    return Text(status.value.upper() + ("*" if precise else ""), style=STATUS_STYLE[status])


def _row_notes(checks: Sequence[Check]) -> list[Text]:
    """Lines under a table: why rows are unresolved, which were decided exactly."""
    lines = []
    for c in checks:
        if c.status is Status.UNRESOLVED and c.reason:
            lines.append(Text(f"unresolved {c.label}: ", style="yellow") + Text(reason_text(c)))
        if c.lossy_formula:
            lines.append(Text(f"note {c.label}: the analytic formula loses digits in float64 here; "
                              "judged by its exact value", style="dim"))
    digits = [c.digits for c in checks if c.digits]
    if digits:
        lines.append(Text(f"* decided in extended precision (mpmath, up to {max(digits)} digits)", style="dim"))
    return lines


def _point_text(point) -> str:
    return ", ".join(f"{k}={v:.6g}" for k, v in point.items())


def _expression_table(report: Report) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, header_style="bold", pad_edge=False)
    for col, justify in (("point", "left"), ("d/d", "left"), ("analytic", "right"), ("numeric", "right"),
                         ("± error", "right"), ("rel error", "right"), ("status", "left")):
        table.add_column(col, justify=justify, no_wrap=col != "point")
    previous = None
    for c in report.checks:
        point = _point_text(c.point or {})
        table.add_row(
            Text(point if point != previous else ""), Text(c.name), fmt_value(c.analytic), fmt_value(c.numeric),
            fmt_error(c.error), fmt_error(c.rel_error), status_text(c.status, bool(c.digits)),
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
                         ("± error", "right"), ("rel error", "right"), ("status", "left")):
        table.add_column(col, justify=justify, no_wrap=True)
    for c in checks:
        table.add_row(Text(c.label), fmt_value(c.analytic), fmt_value(c.numeric),
                      fmt_error(c.error), fmt_error(c.rel_error), status_text(c.status, bool(c.digits)))
    return table


def summary_text(report: Report) -> Text:
    """The one-line summary, coloured by the overall status."""
    text = Text(report.summary_line(), style=STATUS_STYLE[report.status])
    if report.thresholds.strict and report.status in (Status.WARN, Status.UNRESOLVED):
        text.append(f" ({report.status.value} fails under --strict)")
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
        names = {b.name for b in report.blocks}
        entries = [c for c in report.checks if c.name in names]
        shown = entries if report.shown is None else entries[: report.shown]
        rows = [c for c in report.checks if c.name not in names] + shown
        if rows:
            console.print(Text("worst entries", style="bold"))
            console.print(_entry_table(rows))
            for line in _row_notes(rows):
                console.print(line)
        hidden = len(entries) - len(shown)
        if hidden:
            console.print(Text(f"... and {hidden} more failing entries (--top K shows more; "
                               "--format json lists them all)", style="dim"))
    elif report.checks:
        console.print(_expression_table(report))
        for line in _row_notes(report.checks):
            console.print(line)
    for hint in report.hints:
        console.print(Text("hint: ", style="bold yellow") + Text(hint))
    for note in report.notes:
        console.print(Text(note, style="dim"))
    t = report.thresholds
    console.print(Text(
        f"method {report.method.value}; pass <= {t.pass_tol:g}, fail > {t.fail_tol:g} for every value within "
        f"numeric ± error; floor = {report.floor_text}",
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


# ------------------------------------------------------------------ func and sanity
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


# ------------------------------------------------------------------ second order, sweep, Taylor, graph, descent
# Views of `expr --graph / --show-steps / --latex`, `sweep` (terminal chart, --plot) and
# `descend`.  They read the JSON-ready parts the check functions put in ``Report.extra``.


_REGIME_STYLE = {"truncation": "yellow", "best": "bold green", "round-off": "magenta", "flat": "red"}
_REGIME_MARK = {"truncation": "•", "best": "◆", "round-off": "•", "flat": "•"}
PLOT_HINT = "pip install 'gradcheck-cli[plot]'"


def _without_header(report: Report) -> Report:
    return replace(report, header=())


def _header(report: Report, console: Console) -> None:
    for line in report.header:
        console.print(Text(line))


def derivation_lines(steps: Sequence, show_steps: bool, latex: bool) -> list[Text]:
    """``--show-steps`` (derivative before and after simplification) and ``--latex`` lines."""
    lines: list[Text] = []
    for d in steps:
        v = d["wrt"]
        if show_steps:
            written_out = "  (sigmoid and softplus written out with exp)" if d["raw"] != d["derivative"] else ""
            lines.append(Text(f"derivation of d/d{v}:", style="bold") + Text(written_out, style="dim"))
            lines.append(Text("  before simplification: ", style="dim") + Text(d["raw"]))
            if d["simplified"] is not None:
                lines.append(Text("  after simplification:  ", style="dim") + Text(d["simplified"]))
            else:
                lines.append(Text(f"  after simplification:  ({d['note']})", style="dim"))
        if latex:
            lines.append(Text(f"\\frac{{\\partial f}}{{\\partial {v}}} = {d['latex']}"))
    return lines


def graph_tree(graph) -> "Tree":
    """A rich Tree of a computation graph (``graph.Graph.to_dict()``): every node with
    its forward value and its backward value df/dnode; a node used twice is expanded once."""
    from rich.tree import Tree

    nodes = {n["id"]: n for n in graph["nodes"]}

    def label(n, again: bool = False) -> Text:
        t = Text(n["expr"], style="bold") + Text(f"  {n['op']}", style="dim")
        t += Text(f"  value {fmt_value(n['value'])}")
        if n["grad"] is not None or n["op"] != "const":
            t += Text("  grad ") + Text(fmt_value(n["grad"]), style="cyan")
        if again:
            t += Text("  (used again: see above)", style="dim")
        return t

    root = nodes[graph["root"]]
    tree = Tree(label(root))
    seen = {root["id"]}
    stack = [(tree, root)]
    while stack:
        branch, node = stack.pop()
        for c in node["children"]:
            child = nodes[c]
            again = c in seen and bool(child["children"])
            sub = branch.add(label(child, again))
            if not again:
                seen.add(c)
                stack.append((sub, child))
    return tree


def render_expression_plus(report: Report, console: Console, show_steps: bool = False, latex: bool = False) -> None:
    """The ``expr`` table with the derivation and computation graphs (``report.extra``) first."""
    _header(report, console)
    for line in derivation_lines(report.extra.get("derivation", ()), show_steps, latex):
        console.print(line, soft_wrap=True)  # LaTeX must stay on one line to be pasted
    for g in report.extra.get("graph", ()):
        console.print(Text(f"computation graph at {_point_text(g['point'])}", style="bold"))
        console.print(graph_tree(g))
        console.print(Text("value: forward pass; grad: d f / d node, by reverse-mode accumulation "
                           "(grads add where a node is used twice)", style="dim"))
    render(_without_header(report), console)


def _log10(values):
    import numpy as np

    a = np.array([np.nan if v is None else v for v in values], dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(a > 0, np.log10(np.where(a > 0, a, 1.0)), np.where(a == 0, -np.inf, np.nan))


def sweep_chart(sweep, pass_tol: float = 1e-7) -> Text:
    """A log-log chart of relative error against step h (h grows to the right), one row
    per decade, points coloured by regime, the best step as a diamond and the pass
    tolerance as a dotted line."""
    import numpy as np

    steps = np.asarray(sweep["steps"], dtype=float)
    order = np.argsort(steps)
    le = _log10(sweep["rel_errors"])[order]
    regimes = [sweep["regimes"][i] for i in order]
    finite = le[np.isfinite(le)]
    lo = int(np.floor(finite.min())) if finite.size else -16
    hi = int(np.ceil(finite.max())) if finite.size else 0
    lo, hi = max(lo, -17), max(min(hi, 2), max(lo, -17))
    tol_row = int(round(math.log10(pass_tol)))
    rows = list(range(max(hi, tol_row), min(lo, tol_row) - 1, -1))
    has_zero, has_bad = bool(np.any(le == -np.inf)), bool(np.any(np.isnan(le)))
    cell = 3
    text = Text("relative error\n", style="dim")
    for r in rows + (["0"] if has_zero else []):
        y = f"1e{r}" if r != "0" else "0"
        text.append(f"{y:>6} ┤", style="dim")
        for j, v in enumerate(le):
            hit = (r == "0" and v == -np.inf) or (r != "0" and np.isfinite(v) and int(np.clip(round(v), lo, hi)) == r)
            if hit:
                text.append(f" {_REGIME_MARK[regimes[j]]} ", style=_REGIME_STYLE[regimes[j]])
            elif r == tol_row:
                text.append("┈" * cell, style="dim green")
            else:
                text.append(" " * cell)
        text.append("  pass tol\n" if r == tol_row else "\n", style="dim green")
    text.append(" " * 7 + "└" + "─" * (cell * len(le)) + "\n", style="dim")
    ticks = [" "] * (cell * len(le) + 6)
    last_end = -1
    for j, h in enumerate(steps[order]):
        e = math.log10(h)
        if abs(e - round(e)) > 1e-9 or round(e) % 2:
            continue
        lab = f"1e{int(round(e))}"
        start = max(j * cell + 1 - len(lab) // 2, 0)
        if start > last_end:
            ticks[start:start + len(lab)] = list(lab)
            last_end = start + len(lab)
    text.append(" " * 8 + "".join(ticks).rstrip() + "   step h\n", style="dim")
    present = set(regimes)
    legend = {
        "flat": ("flat: the error does not shrink with h", "•"),
        "truncation": ("truncation (error ~ h^2)", "•"),
        "best": (f"best step h* = {sweep['best_step']:.0e} (rel error {fmt_error(sweep['best_rel_error'])})", "◆"),
        "round-off": ("round-off (error ~ 1/h)", "•"),
    }
    for regime, (words, mark) in legend.items():
        if regime in present:
            text.append(f" {mark} ", style=_REGIME_STYLE[regime])
            text.append(words + "  ")
    if has_bad:
        text.append("   (steps with a non-finite estimate are not drawn)", style="dim")
    return text


def taylor_table(taylor) -> Table:
    """Taylor remainders with the rate between consecutive counted steps."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, header_style="bold", pad_edge=False)
    for col in ("h", "|f(x+hv) - f(x) - h g.v|", "rate", ""):
        table.add_column(col, justify="right" if col else "left", no_wrap=True)
    prev = None
    for h, r, used in zip(taylor["steps"], taylor["remainders"], taylor["counted"]):
        rate = ""
        if used and prev is not None:
            rate = f"{math.log(r / prev[1]) / math.log(h / prev[0]):.2f}"
        table.add_row(f"{h:.0e}", fmt_error(r), rate, "" if used else Text("round-off", style="dim"))
        if used:
            prev = (h, r)
    return table


def render_sweep(report: Report, console: Console) -> None:
    """Header, the chart and its reading, the Taylor test, then the one-row verdict."""
    sweep, taylor = report.extra["sweep"], report.extra["taylor"]
    _header(report, console)
    console.print(sweep_chart(sweep, report.thresholds.pass_tol))
    console.print(Text(sweep["diagnosis"], style="bold red" if sweep["shape"] == "flat" else "bold"), soft_wrap=True)
    console.print(Text("Taylor test along a random unit direction v:", style="bold"))
    console.print(taylor_table(taylor))
    console.print(Text(f"Taylor test: {taylor['verdict']}", style="bold" if taylor["consistent"] else "bold red"),
                  soft_wrap=True)
    shown = tuple(replace(c, name=c.label, index=None) for c in report.checks)  # x[1, 2] for --func
    render(replace(report, header=(), notes=(), checks=shown), console)  # the notes' Taylor line is above


def require_matplotlib() -> None:
    """OptionError (exit 2) when matplotlib, needed by ``--plot``, is not installed."""
    import importlib

    from .errors import OptionError

    try:
        importlib.import_module("matplotlib")
    except ImportError:
        raise OptionError(f"--plot needs matplotlib, which is not installed: {PLOT_HINT}") from None


def write_sweep_plot(sweep, path: str, title: str = "", pass_tol: float = 1e-7) -> None:
    """The sweep chart as an image (format from the file name, e.g. ``.png``)."""
    from .errors import OptionError

    require_matplotlib()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    steps = np.asarray(sweep["steps"], dtype=float)
    errs = np.array([np.nan if v is None or v <= 0 else v for v in sweep["rel_errors"]], dtype=float)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.loglog(steps, errs, color="0.6", lw=1)
    colours = {"truncation": "tab:orange", "best": "tab:green", "round-off": "tab:purple", "flat": "tab:red"}
    for regime, colour in colours.items():
        pick = np.array([r == regime for r in sweep["regimes"]])
        if pick.any():
            ax.loglog(steps[pick], errs[pick], "D" if regime == "best" else "o", color=colour, label=regime)
    ax.axhline(pass_tol, ls=":", color="tab:green", lw=1, label=f"pass tol {pass_tol:g}")
    ax.set_xlabel("step h")
    ax.set_ylabel("relative error")
    ax.set_title(title or sweep["diagnosis"].split(":")[0])
    ax.legend(loc="best", fontsize=8)
    ax.grid(True, which="major", alpha=0.3)
    try:
        fig.savefig(path, dpi=120, bbox_inches="tight")
    except (OSError, ValueError) as exc:
        raise OptionError(f"--plot: cannot write '{path}': {getattr(exc, 'strerror', None) or exc}") from None
    finally:
        plt.close(fig)


def render_descent(result, console: Console, quiet: bool = False) -> None:
    """Iterations (first and last few), how it stopped, and the course's final line."""
    ok = result.converged
    final = ("The local minimum occurs at " + (
        f"{result.x[0]:f}" if len(result.names) == 1 else
        ", ".join(f"{n}={v:f}" for n, v in zip(result.names, result.x))))
    if not quiet:
        for line in result.header:
            console.print(Text(line))
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, header_style="bold", pad_edge=False)
        for col in ("iter", *result.names, "f(x)", "|step|"):
            table.add_column(col, justify="right", no_wrap=True)
        previous = -1
        for k in result.shown_iterations():
            if k != previous + 1:
                table.add_row("…", *([""] * (len(result.names) + 2)))
            table.add_row(str(k), *(fmt_value(v) for v in result.xs[k]), fmt_value(float(result.fs[k])),
                          fmt_error(float(result.steps[k - 1])) if k else "")
            previous = k
        console.print(table)
        console.print(Text(f"lr {result.lr:g}, tol {result.tol:g}, max-iter {result.max_iter}: "
                           "x <- x - lr * grad f(x) until |grad f| < tol", style="dim"))
    console.print(Text(result.message, style="bold green" if ok else "bold red"))
    if ok:
        console.print(Text(final))


def descent_json(result) -> str:
    return json.dumps(result.to_dict(), indent=2, allow_nan=False)
