"""The safe parser: text -> :class:`Expression` (sympy), with 1-based error columns.

Parsing walks ``ast.parse(text, mode="eval")`` against an allow-list and builds sympy
objects itself: user text is never given to ``eval``, ``sympify`` or ``parse_expr``.
Allowed: int and float literals, names, the binary operators ``+ - * / **`` (``^`` is
read as ``**``), unary ``+``/``-``, parentheses and calls of the functions in
``FUNCTIONS``; ``pi`` and ``e`` are the constants.  Every other name is a real variable
(``beta``, ``gamma``, ``E``, ``I``, ``N`` ... included).

Limits keep parsing and differentiation bounded: ``MAX_LENGTH`` characters,
``MAX_DEPTH`` levels of nesting, ``MAX_NODES`` syntax nodes, and constants (after
folding, e.g. ``9**9**9**9``) no larger than ``1e300`` in magnitude, checked from
logarithms before sympy computes them (``--at`` values: float64's range, 1.8e308).

Numbers are exact: a decimal literal is the rational it writes (``0.1`` is 1/10,
``1e-31`` is 10**-31, ``1 + 1e-31`` folds to 10000...0001/10**31, not to 1.0), and
constant folding is sympy's exact arithmetic; ``pi`` and ``e`` are the exact constants.
"""

from __future__ import annotations

import ast
import math
import warnings
from dataclasses import dataclass
from typing import Sequence

import mpmath as mp
import sympy as sp

from ..errors import ParseError, UnknownNameError
from .functions import CONSTANTS, FUNCTIONS

MAX_LENGTH = 5000
MAX_DEPTH = 100
MAX_NODES = 4000
MAX_LOG10 = 300.0
#: decimal literals below 10**-MIN_LOG10 in magnitude are refused (their exact rational is huge)
MIN_LOG10 = 4000
#: ``--at`` values may use float64's whole range
FLOAT_LOG10 = math.log10(1.7976931348623157e308)

_BINOPS = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
}
#: operators that chain into one sum or product (depth does not grow along a chain)
_GROUP = {ast.Add: "add", ast.Sub: "add", ast.Mult: "mul", ast.Div: "mul"}
_UNSUPPORTED = {
    ast.Attribute: "attribute access", ast.Subscript: "subscripts",
    ast.Lambda: "lambda", ast.Compare: "comparisons", ast.BoolOp: "boolean operators",
    ast.IfExp: "conditional expressions", ast.List: "lists", ast.Tuple: "tuples",
    ast.Dict: "dicts", ast.Set: "sets", ast.ListComp: "comprehensions",
    ast.GeneratorExp: "comprehensions", ast.DictComp: "comprehensions",
    ast.SetComp: "comprehensions", ast.JoinedStr: "strings", ast.NamedExpr: "assignment",
    ast.Starred: "starred arguments", ast.Await: "await", ast.Slice: "slices",
}


@dataclass(frozen=True)
class Expression:
    """A parsed expression: its text, its sympy form and its variables (sorted names)."""

    text: str
    expr: sp.Expr
    variables: tuple[str, ...]

    @property
    def symbols(self) -> dict[str, sp.Symbol]:
        return {s.name: s for s in self.expr.free_symbols}


def symbol(name: str) -> sp.Symbol:
    """The real symbol a variable name maps to."""
    return sp.Symbol(name, real=True)



# ---------------------------------------------------------------- parsing
def _caret_text(text: str) -> tuple[str, list[int]]:
    """Replace ``^`` by ``**``; return the new text and new-index -> original column map."""
    out, cols = [], []
    for i, ch in enumerate(text):
        if ch == "^":
            out.append("**")
            cols += [i + 1, i + 1]
        else:
            out.append(ch)
            cols.append(i + 1)
    cols.append(len(text) + 1)
    return "".join(out), cols


class _Builder:
    """Walks an allow-listed AST and builds the sympy expression."""

    def __init__(self, text: str, source: str, cols: list[int], allowed: set[str] | None,
                 limit: float = MAX_LOG10):
        self.text, self.source, self.cols, self.allowed = text, source, cols, allowed
        self.limit = limit
        self.limit_text = "1e300" if limit == MAX_LOG10 else "1.8e308"

    def column(self, node: ast.AST) -> int | None:
        """1-based column of ``node`` in the user's text (None for nodes without one)."""
        offset = getattr(node, "col_offset", None)
        if offset is None:
            return None
        line = self.source.encode("utf-8")
        char = len(line[:offset].decode("utf-8", errors="ignore"))
        return self.cols[min(char, len(self.cols) - 1)]

    def fail(self, message: str, node: ast.AST, cls=ParseError):
        raise cls(message, self.text, self.column(node))

    def fail_at_operator(self, message: str, node: ast.BinOp):
        """Point at the operator of a binary operation, not at its left operand."""
        gap = self.source.encode("utf-8")[node.left.end_col_offset : node.right.col_offset]
        skip = len(gap) - len(gap.lstrip(b" ()"))
        marker = ast.AST()
        marker.col_offset = node.left.end_col_offset + skip
        self.fail(message, marker)

    def build(self, node: ast.AST) -> sp.Expr:
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return -self.build(node.operand)
            if isinstance(node.op, ast.UAdd):
                return self.build(node.operand)
            self.fail(f"operator '{_op_text(node.op)}' is not allowed", node)
        if isinstance(node, ast.BinOp):
            return self.binop(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        what = _UNSUPPORTED.get(type(node), f"'{type(node).__name__}' syntax")
        self.fail(f"{what} not allowed in an expression", node)

    def constant(self, node: ast.Constant) -> sp.Expr:
        v = node.value
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            kind = {str: "strings", bytes: "strings", complex: "complex numbers"}.get(type(v), repr(v))
            self.fail(f"{kind} not allowed in an expression", node)
        if isinstance(v, int):
            if v and math.log10(abs(v)) > self.limit:
                self.fail(f"number too large (limit {self.limit_text})", node)
            return sp.Integer(v)
        return self.decimal(node)

    def decimal(self, node: ast.Constant) -> sp.Expr:
        """A decimal literal as the exact rational it writes (``0.1`` is 1/10, ``1e-31`` stays 1e-31)."""
        text = (ast.get_source_segment(self.source, node) or repr(node.value)).replace("_", "").lower()
        mantissa, _, exponent = text.partition("e")
        whole, _, frac = mantissa.partition(".")
        digits = (whole + frac).lstrip("0")
        # floor(log10 |value|): from the position of the first nonzero digit
        lead = len(whole.lstrip("0")) - 1 if whole.lstrip("0") else -(len(frac) - len(frac.lstrip("0")) + 1)
        try:
            size = int(exponent or 0) + lead
        except ValueError:
            self.fail(f"not a number: {text!r}", node)
        if digits and size > self.limit:
            self.fail(f"number too large (limit {self.limit_text})", node)
        if not digits:
            return sp.Integer(0)
        if size < -MIN_LOG10:
            self.fail(f"number too small (limit 1e-{MIN_LOG10})", node)
        return sp.Rational(mantissa + ("e" + exponent if exponent else ""))

    def name(self, node: ast.Name) -> sp.Expr:
        n = node.id
        if n in CONSTANTS:
            return CONSTANTS[n]
        if n in FUNCTIONS:
            self.fail(f"'{n}' is a function: call it as {n}(...)", node)
        if n.startswith("__"):
            self.fail(f"name '{n}' not allowed", node)
        if self.allowed is not None and n not in self.allowed:
            known = ", ".join(sorted(self.allowed)) or "none"
            self.fail(f"unknown variable '{n}' (known: {known})", node, UnknownNameError)
        return symbol(n)

    def binop(self, node: ast.BinOp) -> sp.Expr:
        if isinstance(node.op, ast.Pow):
            return self.power(self.build(node.left), self.build(node.right), node)
        if type(node.op) not in _BINOPS:
            self.fail_at_operator(f"operator '{_op_text(node.op)}' is not allowed", node)
        # a chain a + b - c + ... (or a * b / c ...) is built as one sum (product), without
        # recursing once per term: a long sum is wide, not deep
        group = _GROUP[type(node.op)]
        chain, left = [], node
        while isinstance(left, ast.BinOp) and _GROUP.get(type(left.op)) == group:
            chain.append(left)
            left = left.left
        terms = [self.build(left)]
        for link in reversed(chain):
            if type(link.op) not in _BINOPS:
                self.fail_at_operator(f"operator '{_op_text(link.op)}' is not allowed", link)
            term = self.build(link.right)
            if isinstance(link.op, ast.Sub):
                term = -term
            elif isinstance(link.op, ast.Div):
                term = sp.Pow(term, -1)
            terms.append(term)
        result = sp.Add(*terms) if group == "add" else sp.Mul(*terms)
        if result.is_Number and _log10_abs(result) > self.limit:
            self.fail(f"number too large (limit {self.limit_text})", node)
        return result

    def power(self, base: sp.Expr, exp: sp.Expr, node: ast.AST) -> sp.Expr:
        if base.is_Number and exp.is_Number:
            lb, e = _log10_abs(base), float(exp)
            if lb == -math.inf:
                if e < 0:
                    self.fail("division by zero (0 to a negative power)", node)
            elif abs(e * lb) > self.limit or abs(e) > 1e6:
                self.fail(f"number too large (limit {self.limit_text})", node)
            elif base.is_Rational and not base.is_Integer and abs(e) * (_log10_abs(sp.Integer(base.q)) + 1) > 1000:
                # 1.0000001**1000000: the exact rational has millions of digits; keep the power
                return sp.Pow(base, exp, evaluate=False)
        elif exp.is_Number and abs(float(exp)) > 1e6:
            self.fail("exponent too large (limit 1e6)", node)
        return sp.Pow(base, exp)

    def call(self, node: ast.Call) -> sp.Expr:
        if not isinstance(node.func, ast.Name):
            self.fail("only calls of named functions are allowed", node)
        name = node.func.id
        if name not in FUNCTIONS:
            self.fail(f"unknown function '{name}'", node, UnknownNameError)
        if node.keywords:
            self.fail(f"keyword arguments not allowed in {name}(...)", node.keywords[0].value)
        fn, lo, hi = FUNCTIONS[name]
        if not lo <= len(node.args) <= hi:
            want = f"{lo}" if lo == hi else f"{lo} to {hi}"
            self.fail(f"{name} takes {want} argument{'s' if hi > 1 else ''}, got {len(node.args)}", node)
        args = [self.build(a) for a in node.args]
        if name == "log" and len(args) == 2 and not args[1].free_symbols and (
                args[1].is_positive is not True or args[1] == 1):  # log(x, 0) would be 0: no x left
            self.fail(f"the base of log(x, base) must be a positive number other than 1, got {args[1]}", node.args[1])
        result = fn(*args)
        if not result.free_symbols and not result.is_Number:
            self.check_size(result, node)
        return result

    def check_size(self, value: sp.Expr, node: ast.AST) -> None:
        """A constant call (``exp(exp(exp(100)))``) no larger than the limit, from a cheap
        extended-precision value (nothing is computed to its full size)."""
        from .precise import compile_precise

        v = compile_precise([value], [])([], 15)[0]
        if mp.isinf(v) or (not mp.isnan(v) and v != 0 and mp.log10(abs(v)) > self.limit):
            self.fail(f"number too large (limit {self.limit_text})", node)


def _op_text(op: ast.AST) -> str:
    return {ast.BitXor: "^", ast.BitAnd: "&", ast.BitOr: "|", ast.LShift: "<<",
            ast.RShift: ">>", ast.Mod: "%", ast.FloorDiv: "//", ast.MatMult: "@",
            ast.Invert: "~", ast.Not: "not"}.get(type(op), type(op).__name__)


def _log10_abs(n: sp.Expr) -> float:
    """log10 |n| of a sympy number without computing huge powers."""
    if n == 0:
        return -math.inf
    if n.is_Integer:
        return (len(str(abs(int(n)))) - 1) if abs(int(n)) > 10**20 else math.log10(abs(int(n)))
    if n.is_Rational:
        return _log10_abs(sp.Integer(n.p)) - _log10_abs(sp.Integer(n.q))
    try:
        return float(sp.log(abs(n), 10).evalf(8))
    except (TypeError, ValueError):
        return math.inf


def _check_shape(tree: ast.AST, text: str, cols: list[int], source: str) -> None:
    """Reject over-deep or over-large syntax trees before building anything."""
    stack, count = [(tree, 0)], 0
    while stack:
        node, depth = stack.pop()
        count += 1
        if depth > MAX_DEPTH:
            b = _Builder(text, source, cols, None)
            raise ParseError(f"expression nested too deeply (limit {MAX_DEPTH} levels)", text, b.column(node))
        if count > MAX_NODES:
            raise ParseError(f"expression too large (limit {MAX_NODES} terms)", text)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr_context):
                continue
            same_chain = (
                isinstance(node, ast.BinOp) and child is node.left and isinstance(child, ast.BinOp)
                and _GROUP.get(type(node.op)) is not None and _GROUP.get(type(node.op)) == _GROUP.get(type(child.op))
            )
            stack.append((child, depth if same_chain else depth + 1))


def parse(text: str, allowed: Sequence[str] | None = None, limit: float = MAX_LOG10) -> Expression:
    """Parse ``text`` safely into an :class:`Expression`.

    ``allowed`` restricts the variable names (used for claimed derivatives and point
    values); an unknown name then raises :class:`UnknownNameError`.
    Raises :class:`ParseError` with a 1-based column for anything not allowed.
    """
    if not isinstance(text, str) or not text.strip():
        raise ParseError("empty expression", text or "")
    if len(text) > MAX_LENGTH:
        raise ParseError(f"expression too long ({len(text)} characters, limit {MAX_LENGTH})", text)
    if "\n" in text or "\r" in text:
        raise ParseError("expression must be on one line", text)
    lead = len(text) - len(text.lstrip())
    source, cols = _caret_text(text.strip())
    cols = [c + lead for c in cols]
    try:
        with warnings.catch_warnings():  # e.g. SyntaxWarning "invalid decimal literal"
            warnings.simplefilter("ignore")
            tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        col = cols[min(max((exc.offset or 1) - 1, 0), len(cols) - 1)]
        msg = (exc.msg or "invalid syntax").split(" (")[0]
        raise ParseError(f"syntax error: {msg}", text, col) from None
    except (RecursionError, MemoryError, ValueError):
        raise ParseError(f"expression nested too deeply (limit {MAX_DEPTH} levels)", text) from None
    _check_shape(tree, text, cols, source)
    builder = _Builder(text, source, cols, set(allowed) if allowed is not None else None, limit)
    try:
        expr = builder.build(tree.body)
    except RecursionError:
        raise ParseError(f"expression nested too deeply (limit {MAX_DEPTH} levels)", text) from None
    if expr.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        raise ParseError("expression is undefined (division by zero or infinity)", text)
    variables = tuple(sorted(s.name for s in expr.free_symbols))
    return Expression(text=text, expr=expr, variables=variables)


def parse_constant(text: str) -> float:
    """A constant expression (``pi/4``, ``-2``, ``exp(1)``) as a float."""
    e = parse(text, allowed=(), limit=FLOAT_LOG10).expr
    try:
        value = complex(e.evalf(20))
    except (TypeError, ValueError):
        raise ParseError("not a number", text) from None
    if value.imag != 0 or not math.isfinite(value.real):
        raise ParseError("value is not a finite real number", text)
    return value.real



def split_vector(text: str, nested: bool = False) -> list | None:
    """``"[f1, f2]"`` -> ``["f1", "f2"]`` (``nested``: ``"[[a, b], [c, d]]"`` -> rows);
    None when ``text`` is not a bracketed list.  Only ``ast.parse`` reads the text; the
    items are parsed later, one by one, by :func:`parse`.
    """
    if not isinstance(text, str) or not text.strip().startswith("["):
        return None
    if len(text) > 4 * MAX_LENGTH:
        raise ParseError(f"list too long ({len(text)} characters, limit {4 * MAX_LENGTH})", text)
    source, _ = _caret_text(text.strip())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(source, mode="eval")
    except (SyntaxError, RecursionError, MemoryError, ValueError):
        raise ParseError("syntax error in a bracketed list", text) from None
    if not isinstance(tree.body, ast.List):
        return None
    if not tree.body.elts:
        raise ParseError("empty list: a vector expression is [f1, f2, ...]", text)
    if nested:
        if not all(isinstance(row, ast.List) and row.elts for row in tree.body.elts):
            raise ParseError("a matrix of derivatives is [[df1/dx, df1/dy], [df2/dx, df2/dy], ...]", text)
        return [[ast.get_source_segment(source, e) for e in row.elts] for row in tree.body.elts]
    if any(isinstance(e, ast.List) for e in tree.body.elts):
        raise ParseError("nested list: a vector expression is [f1, f2, ...]", text)
    return [ast.get_source_segment(source, e) for e in tree.body.elts]
