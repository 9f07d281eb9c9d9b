"""report.py: rendering keeps user text literal and follows the colour rules."""

from __future__ import annotations

import io

from gradcheck_cli.checks.expr import check_expression
from gradcheck_cli.results import Formula
from gradcheck_cli.views.table import make_console, render, to_text
from gradcheck_cli.results import Report


def test_markup_in_user_text_is_printed_literally():
    r = check_expression("x**2", at=["1"])
    hostile = Report(**{**r.__dict__, "formulas": (Formula("d/dx", "[red]2*x[/red] [link=http://x]y[/link]"),)})
    out = to_text(hostile)
    assert "[red]2*x[/red] [link=http://x]y[/link]" in out


def test_colour_only_on_a_terminal_and_never_with_no_colour(monkeypatch):
    r = check_expression("x**2", at=["1"])
    buf = io.StringIO()
    render(r, make_console(file=buf, width=100))
    assert "\x1b[" not in buf.getvalue()
    from rich.console import Console

    buf = io.StringIO()
    render(r, Console(file=buf, force_terminal=True, width=100, color_system="standard"))
    assert "\x1b[" in buf.getvalue()
    monkeypatch.setenv("NO_COLOR", "1")
    buf = io.StringIO()
    render(r, Console(file=buf, force_terminal=True, width=100, color_system="standard"))
    assert "\x1b[3" not in buf.getvalue()  # no foreground colours (bold may remain)


def test_plain_text_has_the_table_and_summary():
    out = to_text(check_expression("sin(x)", at=["0.5"], grads=["2*cos(x)"]))
    assert "d/dx = 2*cos(x)  (claimed)" in out and "FAIL" in out
    assert out.rstrip().endswith("1 check: 0 pass, 0 warn, 1 fail")
