"""Views of ``gradcheck descend``: the iterations, how it stopped, the course's final line."""

from __future__ import annotations

import json

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .table import fmt_error, fmt_value, formula_line


def render_descent(result, console: Console, quiet: bool = False) -> None:
    """Iterations (first and last few), how it stopped, and the course's final line."""
    ok = result.converged
    final = ("The local minimum occurs at " + (
        f"{result.x[0]:f}" if len(result.names) == 1 else
        ", ".join(f"{n}={v:f}" for n, v in zip(result.names, result.x))))
    if not quiet:
        for f in result.formulas:
            console.print(Text(formula_line(f)))
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, header_style="bold", pad_edge=False)
        for col in ("iter", *result.names, "f(x)", "|step|"):
            table.add_column(col, justify="right", no_wrap=True)
        previous = -1
        for k in result.shown_iterations():
            if k != previous + 1:
                table.add_row("…", *([""] * (len(result.names) + 2)))
            r = result.row(k)
            table.add_row(str(k), *(fmt_value(v) for v in result.xs[r]), fmt_value(float(result.fs[r])),
                          fmt_error(result.step(k)) if k else "")
            previous = k
        console.print(table)
        console.print(Text(f"lr {result.lr:g}, tol {result.tol:g}, max-iter {result.max_iter}: "
                           "x <- x - lr * grad f(x) until |grad f| < tol", style="dim"))
    console.print(Text(result.message, style="bold green" if ok else "bold red"))
    if ok:
        console.print(Text(final))


def descent_json(result) -> str:
    return json.dumps(result.to_dict(), indent=2, allow_nan=False)
