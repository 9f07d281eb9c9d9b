"""Views of ``gradcheck sweep``: the log-log chart of relative error against the step, the
Taylor table, and ``--plot`` (matplotlib, optional)."""

from __future__ import annotations

import math
from dataclasses import replace

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..results import Report
from .table import fmt_error, header_lines, render

_REGIME_STYLE = {"truncation": "yellow", "best": "bold green", "round-off": "magenta", "flat": "red"}
#: one symbol per regime, distinct without colour (a CI log, a pipe); coloured on a terminal
_REGIME_MARK = {"truncation": "•", "best": "◆", "round-off": "×", "flat": "■"}
PLOT_HINT = "pip install 'gradcheck-cli[plot]'"


def _log10(values):
    import numpy as np

    a = np.array([np.nan if v is None else v for v in values], dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(a > 0, np.log10(np.where(a > 0, a, 1.0)), np.where(a == 0, -np.inf, np.nan))


def sweep_chart(sweep, pass_tol: float = 1e-7, width: int = 120) -> Text:
    """A log-log chart of relative error against step h (h grows to the right), one row
    per decade, one symbol per regime (• truncation, × round-off, ◆ best step, ■ flat;
    coloured on a terminal) and the pass tolerance as a dotted line.

    Every line fits in ``width`` columns (3 columns per step, 2 when narrow; the
    'pass tol' label and the legend entries move to lines of their own), so the chart
    is never wrapped.
    """
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
    cell = 3 if 8 + 3 * len(le) + 14 <= width else 2
    tol_label = 8 + cell * len(le) + 10 <= width
    text = Text("relative error\n", style="dim")
    for r in rows + (["0"] if has_zero else []):
        y = f"1e{r}" if r != "0" else "0"
        text.append(f"{y:>6} ┤", style="dim")
        for j, v in enumerate(le):
            hit = (r == "0" and v == -np.inf) or (r != "0" and np.isfinite(v) and int(np.clip(round(v), lo, hi)) == r)
            if hit:
                mark = _REGIME_MARK[regimes[j]]
                text.append(f" {mark} " if cell == 3 else f"{mark} ", style=_REGIME_STYLE[regimes[j]])
            elif r == tol_row:
                text.append("┈" * cell, style="dim green")
            else:
                text.append(" " * cell)
        text.append("  pass tol\n" if r == tol_row and tol_label else "\n", style="dim green")
    text.append(" " * 7 + "└" + "─" * (cell * len(le)) + "\n", style="dim")
    ticks = [" "] * (cell * len(le) + 6)
    last_end = -1
    for j, h in enumerate(steps[order]):
        e = math.log10(h)
        if abs(e - round(e)) > 1e-9 or round(e) % 2:
            continue
        lab = f"1e{int(round(e))}"
        start = max(j * cell + (1 if cell == 3 else 0) - len(lab) // 2, 0)
        if start > last_end:
            ticks[start:start + len(lab)] = list(lab)
            last_end = start + len(lab)
    axis = " " * 8 + "".join(ticks).rstrip()
    text.append(axis + ("   step h\n" if len(axis) + 9 <= width else "\n" + " " * 8 + "step h\n"), style="dim")
    present = set(regimes)
    legend = {
        "flat": "flat: the error does not shrink with h",
        "truncation": "truncation (error ~ h^2)",
        "best": f"best step h* = {sweep['best_step']:.0e} (rel error {fmt_error(sweep['best_rel_error'])})",
        "round-off": "round-off (error ~ 1/h)",
    }
    entries = [(regime, words) for regime, words in legend.items() if regime in present]
    if not tol_label:
        entries.append((None, f"pass tol {pass_tol:g}"))
    one_line = sum(len(words) + 5 for _, words in entries) <= width
    for k, (regime, words) in enumerate(entries):
        if regime is None:
            text.append(" ┈ ", style="dim green")
        else:
            text.append(f" {_REGIME_MARK[regime]} ", style=_REGIME_STYLE[regime])
        text.append(words + ("  " if one_line else ""))
        if not one_line and k < len(entries) - 1:
            text.append("\n")
    if has_bad:
        text.append("\n   (steps with a non-finite estimate are not drawn)", style="dim")
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


def sweep_title(report: Report) -> str:
    """``sweep of d/dx at x=1, y=2`` (the chart's title)."""
    return header_lines(report)[-1]


def render_sweep(report: Report, console: Console) -> None:
    """Header, the chart and its reading, the Taylor test, then the one-row verdict."""
    sweep, taylor = report.sweep.to_dict(), report.taylor.to_dict()
    for line in header_lines(report):
        console.print(Text(line))
    console.print(sweep_chart(sweep, report.thresholds.pass_tol, width=console.width), no_wrap=True, crop=False)
    # prose wraps at the terminal's width (the chart itself is drawn to fit it)
    console.print(Text(sweep["diagnosis"], style="bold red" if sweep["shape"] == "flat" else "bold"))
    console.print(Text("Taylor test along a random unit direction v:", style="bold"))
    console.print(taylor_table(taylor))
    console.print(Text(f"Taylor test: {taylor['verdict']}", style="bold" if taylor["consistent"] else "bold red"))
    shown = tuple(replace(c, name=c.label, index=None) for c in report.checks)  # x[1, 2] for --func
    render(replace(report, checks=shown), console, header=False, notes=False)  # the Taylor line is above


def require_matplotlib() -> None:
    """OptionError (exit 2) when matplotlib, needed by ``--plot``, is not installed."""
    import importlib

    from ..errors import OptionError

    try:
        importlib.import_module("matplotlib")
    except ImportError:
        raise OptionError(f"--plot needs matplotlib, which is not installed: {PLOT_HINT}") from None


def write_sweep_plot(sweep, path: str, title: str = "", pass_tol: float = 1e-7) -> None:
    """The sweep chart as an image (format from the file name, e.g. ``.png``)."""
    from ..errors import OptionError

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
