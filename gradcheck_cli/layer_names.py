"""Which forward/backward pair a layer label names: our convention and CS231n's.

Pure functions of names (no import, no file): given the names a module defines and the
label the user typed, find ``(forward, backward)``:

==========================  =====================================================
label                       pair, in this order of preference
==========================  =====================================================
``affine``                  ``affine_forward`` / ``affine_backward`` (``NAME_forward``)
``conv_naive``              ``conv_forward_naive`` / ``conv_backward_naive``
                            (CS231n's ``X_forward_Y``: ``forward`` inserted after
                            each ``_``-separated prefix, shortest prefix first)
``conv_forward_naive``      itself and ``conv_backward_naive`` (the label is a
                            forward pass: its ``forward`` word becomes ``backward``)
``conv_backward_naive``     ``conv_forward_naive`` and itself
==========================  =====================================================

No pair: the label is a loss function ``NAME(*inputs) -> (loss, d1, ...)``.
"""

from __future__ import annotations

import ast
from typing import Collection, Iterator

FORWARD, BACKWARD = "forward", "backward"


def pair_candidates(label: str) -> Iterator[tuple[str, str]]:
    """Every ``(forward, backward)`` pair ``label`` may stand for, most likely first."""
    parts = label.split("_")
    yield f"{label}_{FORWARD}", f"{label}_{BACKWARD}"
    for word, other in ((FORWARD, BACKWARD), (BACKWARD, FORWARD)):
        for i, part in enumerate(parts):
            if part == word:
                swapped = "_".join(parts[:i] + [other] + parts[i + 1:])
                yield (label, swapped) if word == FORWARD else (swapped, label)
    if FORWARD not in parts and BACKWARD not in parts:
        for i in range(1, len(parts)):
            head, tail = parts[:i], parts[i:]
            yield "_".join(head + [FORWARD] + tail), "_".join(head + [BACKWARD] + tail)


def find_pair(names: Collection[str], label: str) -> tuple[str, str] | None:
    """The first candidate pair (``pair_candidates``) whose two names are both in ``names``."""
    return next(((f, b) for f, b in pair_candidates(label) if f in names and b in names), None)


def partner(names: Collection[str], name: str) -> str | None:
    """The other half of the pair ``name`` belongs to (``conv_forward_naive`` ->
    ``conv_backward_naive``, ``affine_forward`` -> ``affine_backward``), if defined."""
    for f, b in pair_candidates(name):
        if name == f and b in names:
            return b
        if name == b and f in names:
            return f
    return None


def defined_names(source_text: str) -> tuple[set[str], bool]:
    """Top-level names a Python file defines, read without running it: functions,
    classes, assignments and imports; and whether that list is complete (False after a
    ``from m import *``, or when the text does not parse)."""
    try:
        tree = ast.parse(source_text)
    except (SyntaxError, ValueError):
        return set(), False
    names, complete = set(), True
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for a in node.names:
                if a.name == "*":
                    complete = False
                else:
                    names.add((a.asname or a.name).split(".")[0])
        else:
            complete = complete and not isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While))
    return names, complete
