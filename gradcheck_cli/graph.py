"""The computation graph of an expression, with forward and backward values.

sympy stays in ``expression.py``: this module walks the expression through its
helpers (``node_children``, ``node_kind``, ``local_derivatives``) and treats nodes as
opaque hashable keys.

Graph
    Nodes are the distinct subexpressions of sympy's tree (``x - y`` is
    ``x + (-1)*y``, ``x / y`` is ``x * y**-1``); equal subexpressions are one node, so
    the graph is a DAG.  Variables and constant subexpressions are leaves.

Forward pass
    Leaves take the point's values; an operation ``n = op(c_1, ..., c_k)`` takes
    ``op`` of its operands' values (children before parents).

Backward pass (reverse-mode accumulation)
    The backward value of a node is ``df/dn``, the derivative of the output with
    respect to the node's value.  ``df/df = 1`` at the root, and in reverse
    topological order every node passes to each operand ``c_k`` its share::

        df/dc_k  +=  df/dn * dn/dc_k

    where ``dn/dc_k`` is the local derivative of ``op`` at the forward values (so
    shares add up where a value is used twice, as at the branches of a circuit).
    For a variable the result is ``df/dx``, which equals sympy's partial.  Constants
    get no backward value.  Example, ``(x + y) * z`` at ``x=-2, y=5, z=-4``:
    ``q = x + y = 3``, ``f = q z = -12``, ``df/dz = q = 3``, ``df/dq = z = -4``,
    ``df/dx = df/dy = df/dq * 1 = -4`` (Stanford CS231n notes, "Backpropagation,
    Intuitions").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from .errors import DomainError, OptionError
from .results import json_number

#: graphs with more nodes than this are refused (the tree would not be readable)
MAX_GRAPH_NODES = 400
#: labels longer than this are shortened with an ellipsis
MAX_LABEL = 60


@dataclass(frozen=True)
class Node:
    """One operation or leaf: ``kind`` (``add``, ``sin``, ``var``, ``const`` ...),
    ``label`` (the subexpression), forward ``value``, backward ``grad`` = df/dnode
    (``None`` for constants), and the ids of its operands."""

    id: int
    kind: str
    label: str
    value: float
    grad: float | None
    children: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "op": self.kind, "expr": self.label,
            "value": json_number(self.value),
            "grad": None if self.grad is None else json_number(self.grad),
            "children": list(self.children),
        }


@dataclass(frozen=True)
class Graph:
    """A computation graph at one point; ``nodes[root]`` is the output f."""

    nodes: tuple[Node, ...]
    root: int
    point: Mapping[str, float]

    @property
    def variable_grads(self) -> dict[str, float]:
        """``{name: df/dname}`` from the backward pass."""
        return {n.label: n.grad for n in self.nodes if n.kind == "var"}

    def to_dict(self) -> dict[str, Any]:
        return {
            "point": {k: json_number(v) for k, v in self.point.items()},
            "root": self.root,
            "nodes": [n.to_dict() for n in self.nodes],
        }


def _label(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def _topological(expr) -> list:
    """Distinct subexpressions, operands before the nodes that use them (iterative DFS)."""
    from . import expression as ex

    order, seen, stack = [], set(), [(expr, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if node in seen:
            continue
        seen.add(node)
        if len(seen) > MAX_GRAPH_NODES:
            raise OptionError(f"--graph: the expression has more than {MAX_GRAPH_NODES} distinct subexpressions")
        stack.append((node, True))
        stack.extend((c, False) for c in reversed(ex.node_children(node)) if c not in seen)
    return order


def build_graph(expr, names: Sequence[str], point: Sequence[float]) -> Graph:
    """Forward and backward values of every node of ``expr`` at ``point`` (ordered like
    ``names``).  Raises DomainError when f is not real and finite there."""
    from . import expression as ex

    values_at = dict(zip(names, (float(v) for v in point)))
    order = _topological(expr)
    ids = {node: i for i, node in enumerate(order)}
    value: list[float] = [math.nan] * len(order)
    local: list[np.ndarray] = [np.empty(0)] * len(order)
    kinds = [ex.node_kind(node) for node in order]
    children = [ex.node_children(node) for node in order]
    for i, node in enumerate(order):
        if kinds[i] == "var":
            value[i] = values_at[ex.node_name(node)]
        elif kinds[i] == "const":
            value[i] = ex.constant_value(node)
        else:
            value[i], local[i] = ex.local_derivatives(node, [value[ids[c]] for c in children[i]])
    root = ids[expr]
    if not np.isfinite(value[root]):
        where = ", ".join(f"{k}={v:.6g}" for k, v in values_at.items())
        raise DomainError(f"point {where} is outside the domain: f = {ex.display(expr)} is not real and finite there")
    grad: list[float | None] = [None if k == "const" else 0.0 for k in kinds]
    grad[root] = 1.0
    for i in reversed(range(len(order))):
        if grad[i] is None or not children[i]:
            continue
        for c, d in zip(children[i], local[i]):
            j = ids[c]
            if grad[j] is not None:
                grad[j] += grad[i] * float(d)
    nodes = tuple(
        Node(id=i, kind=kinds[i], label=_label(ex.node_name(n) if kinds[i] == "var" else ex.display(n)),
             value=float(value[i]), grad=grad[i], children=tuple(ids[c] for c in children[i]))
        for i, n in enumerate(order)
    )
    return Graph(nodes=nodes, root=root, point=values_at)
