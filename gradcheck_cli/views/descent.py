"""Views of ``gradcheck descend``: the iterations, how it stopped, the course's final line."""

from __future__ import annotations

import json

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .table import fits, fmt_error, fmt_value, formula_line


def render_descent(result, console: Console, quiet: bool = False) -> None:
    """Iterations (first and last few), how it stopped, and the course's final line."""
    ok = result.converged
    final = ("The local minimum occurs at " + (
        f"{result.x[0]:f}" if len(result.names) == 1 else
        ", ".join(f"{n}={v:f}" for n, v in zip(result.names, result.x))))
    if not quiet:
        for f in result.formulas:
            console.print(Text(formula_line(f)))
        for digits, stacked in ((10, False), (7, False), (7, True)):
            table = _iterations_table(result, digits, stacked)
            if stacked or fits(console, table):
                break
        console.print(table)
        console.print(Text(f"lr {result.lr:g}, tol {result.tol:g}, max-iter {result.max_iter}: "
                           "x <- x - lr * grad f(x) until |grad f| < tol", style="dim"))
    console.print(Text(result.message, style="bold green" if ok else "bold red"))
    if ok:
        console.print(Text(final))


def _iterations_table(result, digits: int, stacked: bool) -> Table:
    """The iterations; ``stacked`` (a narrow terminal): the coordinates and f(x) one per
    line in one column, so that no number is cut."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, header_style="bold", pad_edge=False)
    cols = ("iter", "x, f(x)", "|step|") if stacked else ("iter", *result.names, "f(x)", "|step|")
    for col in cols:
        table.add_column(col, justify="left" if col == "x, f(x)" else "right", no_wrap=True)
    previous = -1
    for k in result.shown_iterations():
        if k != previous + 1:
            table.add_row("…", *([""] * (len(cols) - 1)))
        r = result.row(k)
        values = [fmt_value(v, digits) for v in result.xs[r]] + [fmt_value(float(result.fs[r]), digits)]
        if stacked:
            values = ["\n".join(f"{n}={v}" for n, v in zip((*result.names, "f"), values))]
        table.add_row(str(k), *values, fmt_error(result.step(k)) if k else "")
        previous = k
    return table


def descent_json(result) -> str:
    return json.dumps(result.to_dict(), indent=2, allow_nan=False)
