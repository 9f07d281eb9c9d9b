"""A report in Jupyter: the same coloured table as the terminal, as HTML.

``to_html(report)`` renders the table view (``views.table.render``) on a recording
console and exports it with inline styles (``rich``'s ``Console.export_html``), so a
notebook shows the header, the blocks, the worst entries, the hints and the summary
with the terminal's colours.  Importing this module installs it as
``results.html_renderer``, which ``Report._repr_html_`` calls; the package's API
names (``gradcheck_cli.check_model`` ...) import it, so ``report`` as the last line of a
cell shows the table.  Nothing is printed.
"""

from __future__ import annotations

import io

from rich.console import Console

from .. import results
from ..results import Report
from .table import render

#: columns of the HTML table (a notebook cell is about this wide)
NOTEBOOK_WIDTH = 110


def to_html(report: Report, width: int = NOTEBOOK_WIDTH) -> str:
    """The report's table view as an HTML fragment with inline colours (no ``<html>`` page)."""
    console = Console(file=io.StringIO(), record=True, width=width, force_terminal=True, color_system="truecolor",
                      highlight=False, soft_wrap=False, emoji=False)
    render(report, console)
    return console.export_html(inline_styles=True, code_format=_FRAGMENT)


_FRAGMENT = ('<pre style="font-family: Menlo, \'DejaVu Sans Mono\', consolas, \'Courier New\', monospace; '
             'line-height: 1.2; white-space: pre">{code}</pre>')

results.html_renderer = to_html
