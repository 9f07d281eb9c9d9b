"""Expressions: text -> sympy, partial derivatives, vectorised numpy functions, kinks.

The only package that imports sympy (each module below does):

- ``functions``: the allowed functions and constants, their sympy and numpy definitions;
- ``parse``: the safe parser (allow-listed AST walk, limits, ParseError with columns);
- ``calculus``: derivatives within a time budget, kinks, derivations, display and LaTeX;
- ``evaluate``: sympy trees as vectorised numpy functions (complex-step safe), kink_mask;
- ``precise``: sympy trees evaluated in extended precision with mpmath (the referee's
  arithmetic), with the digits each value lost to cancellation.

Imports point one way: functions <- parse, evaluate <- calculus.
"""

from ._deferred import install as _defer_tensors

_defer_tensors()  # sympy's first Add need not import sympy.tensor and sympy.combinatorics

from .calculus import (  # noqa: E402
    bounded_simplify,
    constant_value,
    derivation,
    derivations,
    derivatives,
    display,
    kinks,
    local_derivatives,
    node_children,
    node_kind,
    node_name,
    partial,
    why_not_finite,
)
from .evaluate import compile_many, compile_one, kink_mask  # noqa: E402
from .parse import Expression, parse, parse_constant, split_vector, symbol  # noqa: E402
from .precise import compile_precise, compile_switches, exact_value, has_kinks  # noqa: E402

__all__ = [
    "Expression", "bounded_simplify", "compile_many", "compile_precise", "compile_switches", "exact_value", "has_kinks", "compile_one", "constant_value", "derivation",
    "derivations", "derivatives", "display", "kink_mask", "kinks", "local_derivatives", "node_children",
    "node_kind", "node_name", "parse", "parse_constant", "partial", "split_vector", "symbol", "why_not_finite",
]
