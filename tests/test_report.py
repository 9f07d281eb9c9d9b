"""report.py: rendering keeps user text literal and follows the colour rules."""

from __future__ import annotations

import io

from gradcheck_cli.checks.expr import check_expression
from gradcheck_cli.results import ExpressionSubject, Formula
from gradcheck_cli.views.table import make_console, render, to_json, to_text
from gradcheck_cli.results import Report


def test_markup_in_user_text_is_printed_literally():
    r = check_expression("x**2", at=["1"])
    hostile = Report(**{**r.__dict__, "subject": ExpressionSubject((Formula("d/dx", "[red]2*x[/red] [link=http://x]y[/link]"),))})
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


def test_a_new_subject_brings_its_own_header_notes_and_json():
    """A new command needs only a Subject subclass: the views ask it and know no kinds."""
    import json
    from dataclasses import dataclass, replace

    from gradcheck_cli.results import Subject

    @dataclass(frozen=True)
    class ModelSubject(Subject):
        name: str = "TwoLayerNet"
        cost: float = 2.5

        def header_lines(self, report):
            return [f"model {self.name}"]

        def note_lines(self, report):
            return ["params restored after every call"]

        def json_fields(self, report):
            return {"model": self.name}

    r = replace(check_expression("x**2", at=["1"]), subject=ModelSubject())
    out = to_text(r)
    assert out.splitlines()[0] == "model TwoLayerNet"
    assert "params restored after every call" in out and "d/dx" not in out
    doc = json.loads(to_json(r))
    assert doc["model"] == "TwoLayerNet" and doc["command"] == "expr" and r.cost == 2.5
