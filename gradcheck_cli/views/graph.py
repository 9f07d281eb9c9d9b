"""Views of ``expr --graph`` (the computation graph as a tree) and ``--show-steps``/``--latex``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from rich.console import Console
from rich.text import Text

from ..results import Report, point_label
from .table import fmt_value, header_lines, render

if TYPE_CHECKING:  # rich.tree is imported only when a graph is drawn
    from rich.tree import Tree


def derivation_lines(steps: Sequence, show_steps: bool, latex: bool) -> list[Text]:
    """``--show-steps`` (derivative before and after simplification) and ``--latex`` lines."""
    return [line for line, _ in derivation_items(steps, show_steps, latex)]


def derivation_items(steps: Sequence, show_steps: bool, latex: bool) -> list[tuple[Text, bool]]:
    """``derivation_lines`` with, for each line, whether it is prose (wrapped to the
    terminal) rather than a formula or LaTeX (kept on one line, to be pasted)."""
    lines: list[tuple[Text, bool]] = []
    for d in steps:
        v = d["wrt"]
        if show_steps:
            written_out = "  (sigmoid and softplus written out with exp)" if d["raw"] != d["derivative"] else ""
            lines.append((Text(f"derivation of d/d{v}:", style="bold") + Text(written_out, style="dim"), True))
            lines.append((Text("  before simplification: ", style="dim") + Text(d["raw"]), False))
            if d["simplified"] is not None:
                lines.append((Text("  after simplification:  ", style="dim") + Text(d["simplified"]), False))
            else:
                lines.append((Text(f"  after simplification:  ({d['note']})", style="dim"), True))
        if latex:
            lines.append((Text(f"\\frac{{\\partial f}}{{\\partial {v}}} = {d['latex']}"), False))
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
    """The ``expr`` table with the derivation and computation graphs (typed fields) first."""
    from dataclasses import asdict

    for line in header_lines(report):
        console.print(Text(line))
    for line, prose in derivation_items([asdict(d) for d in report.derivations], show_steps, latex):
        console.print(line, soft_wrap=not prose)  # formulas and LaTeX stay on one line, to be pasted
    for graph in report.graphs:
        g = graph.to_dict()
        console.print(Text(f"computation graph at {point_label(g['point'])}", style="bold"))
        console.print(graph_tree(g))
        console.print(Text("value: forward pass; grad: d f / d node, by reverse-mode accumulation "
                           "(grads add where a node is used twice)", style="dim"))
    render(report, console, header=False)
