"""Expressions: text -> sympy, partial derivatives, vectorised numpy functions, kinks.

The only module that imports sympy.  Parsing walks ``ast.parse(text, mode="eval")``
against an allow-list and builds sympy objects itself: user text is never given to
``eval``, ``sympify`` or ``parse_expr``.  Allowed: int and float literals, names, the
binary operators ``+ - * / **`` (``^`` is read as ``**``), unary ``+``/``-``,
parentheses and calls of the functions in ``FUNCTIONS``; ``pi`` and ``e`` are the
constants.  Every other name is a real variable (``beta``, ``gamma``, ``E``, ``I``,
``N`` ... included).

Limits keep parsing and differentiation bounded: ``MAX_LENGTH`` characters,
``MAX_DEPTH`` levels of nesting, ``MAX_NODES`` syntax nodes, and constants (after
folding, e.g. ``9**9**9**9``) no larger than ``1e300`` in magnitude, checked from
logarithms before sympy computes them.
"""

from __future__ import annotations

import ast
import contextlib
import math
import warnings
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import sympy as sp

from .errors import ParseError, UnknownNameError

MAX_LENGTH = 5000
MAX_DEPTH = 100
MAX_NODES = 4000
MAX_LOG10 = 300.0


# ---------------------------------------------------------------- custom functions
class sigmoid(sp.Function):
    """Logistic sigmoid 1 / (1 + exp(-x)); derivative sigmoid(x) (1 - sigmoid(x))."""

    nargs = 1

    def fdiff(self, argindex=1):
        s = sigmoid(self.args[0])
        return s * (1 - s)

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_rewrite_as_exp(self, arg, **kwargs):
        return 1 / (1 + sp.exp(-arg))


class softplus(sp.Function):
    """log(1 + exp(x)); derivative sigmoid(x)."""

    nargs = 1

    def fdiff(self, argindex=1):
        return sigmoid(self.args[0])

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_rewrite_as_exp(self, arg, **kwargs):
        return sp.log(1 + sp.exp(arg))


class cbrt(sp.Function):
    """Real cube root (negative for negative x); derivative 1 / (3 cbrt(x)**2)."""

    nargs = 1

    def fdiff(self, argindex=1):
        return 1 / (3 * cbrt(self.args[0]) ** 2)

    def _eval_is_real(self):
        return self.args[0].is_real


def _np_sigmoid(x):
    x = np.asarray(x)
    if np.iscomplexobj(x):
        return 1 / (1 + np.exp(-x))
    with np.errstate(over="ignore"):
        e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _np_softplus(x):
    x = np.asarray(x)
    if np.iscomplexobj(x):
        return _dual(_np_softplus, _np_sigmoid)(x)
    return np.logaddexp(0.0, x)


_vec_erf = np.frompyfunc(math.erf, 1, 1)


def _dual(f, df):
    """Extend a real function to the complex step: f(a + ib) = f(a) + i b f'(a).

    Exact to round-off for the tiny imaginary parts the complex-step method uses.
    """

    def g(z):
        z = np.asarray(z)
        if not np.iscomplexobj(z):
            return f(z)
        a, b = z.real, z.imag
        return f(a) + 1j * b * df(a)

    return g


def _np_erf(x):
    x = np.asarray(x)
    if np.iscomplexobj(x):
        return _dual(_np_erf, lambda a: 2 / math.sqrt(math.pi) * np.exp(-a * a))(x)
    return _vec_erf(x).astype(float) if np.ndim(x) else math.erf(float(x))


def _np_cbrt(x):
    x = np.asarray(x)
    if np.iscomplexobj(x):
        return _dual(np.cbrt, lambda a: 1 / (3 * np.cbrt(a) ** 2))(x)
    return np.cbrt(x)


def _arctan2(y, x):
    y, x = np.asarray(y), np.asarray(x)
    if not (np.iscomplexobj(y) or np.iscomplexobj(x)):
        return np.arctan2(y, x)
    yr, xr = np.real(y), np.real(x)
    im = (xr * np.imag(y) - yr * np.imag(x)) / (xr * xr + yr * yr)
    return np.arctan2(yr, xr) + 1j * im


def _abs(z):
    z = np.asarray(z)
    return np.where(np.real(z) < 0, -z, z) if np.iscomplexobj(z) else np.abs(z)


def _sign(z):
    return np.sign(np.real(z))


def _heaviside(z, h0=0.5):
    return np.heaviside(np.real(z), np.real(h0))


def _extreme(pick_first):
    def f(*args):
        out = args[0]
        for a in args[1:]:
            out = np.where(pick_first(np.real(out), np.real(a)), out, a)
        return out

    return f


def _log_real(x):
    return np.log(x) if np.iscomplexobj(x) else np.log(np.asarray(x, dtype=float))


#: sympy function class -> numpy implementation, valid for real input and for the
#: complex step (non-analytic pieces carry the imaginary part as a perturbation).
_NUMPY = {
    sp.sin: np.sin, sp.cos: np.cos, sp.tan: np.tan,
    sp.sec: lambda x: 1 / np.cos(x), sp.csc: lambda x: 1 / np.sin(x), sp.cot: lambda x: 1 / np.tan(x),
    sp.asin: np.arcsin, sp.acos: np.arccos, sp.atan: np.arctan, sp.atan2: _arctan2,
    sp.sinh: np.sinh, sp.cosh: np.cosh, sp.tanh: np.tanh,
    sp.asinh: np.arcsinh, sp.acosh: np.arccosh, sp.atanh: np.arctanh,
    sp.exp: np.exp, sp.log: _log_real, sp.Abs: _abs, sp.sign: _sign, sp.Heaviside: _heaviside,
    sp.Max: _extreme(np.greater_equal), sp.Min: _extreme(np.less_equal), sp.erf: _np_erf,
    sigmoid: _np_sigmoid, softplus: _np_softplus, cbrt: _np_cbrt,
}


def _log(x, base=None):
    return sp.log(x) if base is None else sp.log(x) / sp.log(base)


def _relu(x):
    return sp.Max(sp.Integer(0), x)


#: name -> (sympy builder, min args, max args)
FUNCTIONS: dict[str, tuple[Callable, int, int]] = {
    "sin": (sp.sin, 1, 1), "cos": (sp.cos, 1, 1), "tan": (sp.tan, 1, 1),
    "sec": (sp.sec, 1, 1), "csc": (sp.csc, 1, 1), "cot": (sp.cot, 1, 1),
    "asin": (sp.asin, 1, 1), "acos": (sp.acos, 1, 1), "atan": (sp.atan, 1, 1),
    "atan2": (sp.atan2, 2, 2),
    "sinh": (sp.sinh, 1, 1), "cosh": (sp.cosh, 1, 1), "tanh": (sp.tanh, 1, 1),
    "asinh": (sp.asinh, 1, 1), "acosh": (sp.acosh, 1, 1), "atanh": (sp.atanh, 1, 1),
    "exp": (sp.exp, 1, 1), "log": (_log, 1, 2), "ln": (sp.log, 1, 1),
    "log2": (lambda x: sp.log(x) / sp.log(2), 1, 1),
    "log10": (lambda x: sp.log(x) / sp.log(10), 1, 1),
    "sqrt": (sp.sqrt, 1, 1), "cbrt": (cbrt, 1, 1), "abs": (sp.Abs, 1, 1),
    "sign": (sp.sign, 1, 1), "min": (sp.Min, 1, 64), "max": (sp.Max, 1, 64),
    "relu": (_relu, 1, 1), "sigmoid": (sigmoid, 1, 1), "softplus": (softplus, 1, 1),
    "erf": (sp.erf, 1, 1),
}
CONSTANTS = {"pi": sp.pi, "e": sp.E}

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


def display(expr: sp.Expr) -> str:
    """How an expression is shown to users (sympy's plain string form)."""
    return str(expr)


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

    def __init__(self, text: str, source: str, cols: list[int], allowed: set[str] | None):
        self.text, self.source, self.cols, self.allowed = text, source, cols, allowed

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
        if isinstance(v, float) and not math.isfinite(v) or abs(v) > 10.0**MAX_LOG10:
            self.fail("number too large (limit 1e300)", node)
        return sp.Integer(v) if isinstance(v, int) else sp.Float(repr(v), 17)

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
        if result.is_Number and _log10_abs(result) > MAX_LOG10:
            self.fail("number too large (limit 1e300)", node)
        return result

    def power(self, base: sp.Expr, exp: sp.Expr, node: ast.AST) -> sp.Expr:
        if base.is_Number and exp.is_Number:
            lb, e = _log10_abs(base), float(exp)
            if lb == -math.inf:
                if e < 0:
                    self.fail("division by zero (0 to a negative power)", node)
            elif abs(e * lb) > MAX_LOG10 or abs(e) > 1e6:
                self.fail("number too large (limit 1e300)", node)
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
        return fn(*[self.build(a) for a in node.args])


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


def parse(text: str, allowed: Sequence[str] | None = None) -> Expression:
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
    builder = _Builder(text, source, cols, set(allowed) if allowed is not None else None)
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
    e = parse(text, allowed=()).expr
    try:
        value = complex(e.evalf(20))
    except (TypeError, ValueError):
        raise ParseError("not a number", text) from None
    if value.imag != 0 or not math.isfinite(value.real):
        raise ParseError("value is not a finite real number", text)
    return value.real


# ---------------------------------------------------------------- derivatives and kinks
#: wall-clock budget for forming the symbolic derivatives of one command, in seconds
DIFF_SECONDS = 20.0


class TimeLimit(BaseException):
    """Raised by :func:`time_limit` (a BaseException so that sympy cannot swallow it)."""


def _can_time() -> bool:
    import signal
    import threading

    return (hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
            and signal.getitimer(signal.ITIMER_REAL)[0] == 0)


@contextlib.contextmanager
def time_limit(seconds: float):
    """Raise :class:`TimeLimit` in the block after ``seconds`` of wall time.

    Uses ``SIGALRM``, so it applies in the main thread on POSIX when no other interval
    timer runs; elsewhere the block runs unbounded (sympy offers no cancellation).
    """
    import signal

    if not _can_time():
        yield
        return

    def on_alarm(signum, frame):
        raise TimeLimit

    previous = signal.signal(signal.SIGALRM, on_alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, seconds)
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def derivatives(expr: sp.Expr, wrt: Sequence, text: str, seconds: float = DIFF_SECONDS) -> tuple:
    """Partials ``d expr / d name`` (a name) or ``d2 expr / (d a d b)`` (a pair), within ``seconds``.

    Symbolic derivatives of deeply nested expressions can take sympy minutes; past the
    budget this raises ParseError, as for any expression too large to check.
    """
    try:
        with time_limit(seconds):
            return tuple(partial(expr, w) if isinstance(w, str) else second_partial(expr, *w) for w in wrt)
    except TimeLimit:
        raise ParseError(f"expression too complex: its derivatives took sympy more than {seconds:g} s "
                         "(split it, or check it numerically with gradcheck func)", text) from None


def _clean(expr: sp.Expr) -> sp.Expr:
    """Drop DiracDelta terms (zero away from the kink, where the verdict says ``kink``)."""
    return expr.replace(sp.DiracDelta, lambda *a: sp.Integer(0)) if expr.has(sp.DiracDelta) else expr


def partial(expr: sp.Expr, name: str) -> sp.Expr:
    """d expr / d name (0 for a name that does not appear)."""
    return _clean(sp.diff(expr, symbol(name)))


def second_partial(expr: sp.Expr, a: str, b: str) -> sp.Expr:
    """d2 expr / (d a d b)."""
    return _clean(sp.diff(expr, symbol(a), symbol(b)))


@dataclass(frozen=True)
class Kink:
    """A non-differentiable atom: ``kind`` is ``sign`` (of args[0]), ``max`` or ``min``."""

    kind: str
    args: tuple[sp.Expr, ...]


def kinks(expr: sp.Expr) -> tuple[Kink, ...]:
    """The non-differentiable atoms of ``expr`` (abs, sign, Heaviside, max/min, relu)."""
    found: list[Kink] = []
    for node in sp.preorder_traversal(expr):
        if isinstance(node, (sp.Abs, sp.sign, sp.Heaviside)):
            found.append(Kink("sign", (node.args[0],)))
        elif isinstance(node, (sp.Max, sp.Min)):
            found.append(Kink("max" if isinstance(node, sp.Max) else "min", tuple(node.args)))
    return tuple(dict.fromkeys(found))


# ---------------------------------------------------------------- numeric functions
def _evaluate(expr: sp.Basic, env: dict, cache: dict):
    """Evaluate a sympy tree on numpy arrays, node by node (no code generation)."""
    hit = cache.get(expr)
    if hit is not None:
        return hit
    if expr.is_Symbol:
        out = env[expr.name]
    elif expr.is_Number or expr.is_NumberSymbol:
        out = float(expr) if expr.is_real else complex(expr)
    elif expr.is_Add:
        args = [_evaluate(a, env, cache) for a in expr.args]
        out = args[0]
        for a in args[1:]:
            out = out + a
    elif expr.is_Mul:
        args = [_evaluate(a, env, cache) for a in expr.args]
        out = args[0]
        for a in args[1:]:
            out = out * a
    elif expr.is_Pow:
        base, exp = expr.args
        b = _evaluate(base, env, cache)
        if exp.is_Integer:
            n = int(exp)
            out = b**n if n >= 0 else 1 / b ** (-n)
        elif exp == sp.Rational(1, 2):
            out = np.sqrt(b) if np.iscomplexobj(b) else np.sqrt(np.asarray(b, dtype=float))
        else:
            e = _evaluate(exp, env, cache)
            if not (np.iscomplexobj(b) or np.iscomplexobj(e)):
                b = np.asarray(b, dtype=float)
            out = np.power(b, e)
    elif isinstance(expr, sp.DiracDelta):
        out = 0.0
    elif type(expr) in _NUMPY:
        out = _NUMPY[type(expr)](*[_evaluate(a, env, cache) for a in expr.args])
    else:  # zoo, nan and anything sympy produced that has no numeric meaning here
        out = np.nan
    cache[expr] = out
    return out


def compile_many(exprs: Sequence[sp.Expr], names: Sequence[str], complex_step: bool = False):
    """Vectorised ``F(X) -> (len(exprs), K)`` for ``X`` of shape ``(len(names), K)``.

    Evaluation walks the sympy tree with numpy (``_NUMPY``); nothing is generated or
    executed.  For ``complex_step`` the non-analytic pieces (abs, sign, atan2, erf,
    cbrt ...) carry the imaginary part as a first-order perturbation.  In real mode a
    complex or undefined value becomes NaN.
    """
    exprs = list(exprs)
    m = len(exprs)
    dtype = complex if complex_step else float

    def F(X: np.ndarray) -> np.ndarray:
        X = np.asarray(X)
        K = X.shape[1] if X.ndim == 2 else 1
        env = {n: X[i] for i, n in enumerate(names)}
        cache: dict = {}
        res = np.empty((m, K), dtype=dtype)
        with np.errstate(all="ignore"):
            for i, e in enumerate(exprs):
                v = np.asarray(_evaluate(e, env, cache))
                if not complex_step and np.iscomplexobj(v):
                    v = np.where(v.imag == 0, v.real, np.nan)
                res[i] = np.broadcast_to(v, (K,))
        return res

    return F


def compile_one(expr: sp.Expr, names: Sequence[str], complex_step: bool = False):
    """Vectorised ``f(X) -> (K,)`` for ``X`` of shape ``(len(names), K)``."""
    F = compile_many([expr], names, complex_step)
    return lambda X: F(X)[0]


def kink_mask(found: Sequence[Kink], names: Sequence[str], points: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """Which (point, component) stencils ``x ± step e_i`` cross a kink.

    A kink is crossed when the branch of an atom (the sign of its argument, or which
    argument of max/min is largest) differs between ``x - h``, ``x`` and ``x + h``.
    """
    P, n = points.shape
    mask = np.zeros((P, n), dtype=bool)
    if not found:
        return mask
    exprs = [a for k in found for a in k.args]
    F = compile_many(exprs, names)
    eye = np.eye(n)[None]
    shift = steps[..., None] * eye  # (P, n, n)
    base = np.broadcast_to(points[:, None, :], (P, n, n))
    cols = np.concatenate([(base - shift).reshape(-1, n), base.reshape(-1, n), (base + shift).reshape(-1, n)]).T
    vals = F(cols).reshape(len(exprs), 3, P, n)
    i = 0
    for k in found:
        v = vals[i : i + len(k.args)]
        i += len(k.args)
        if k.kind == "sign":
            branch = np.sign(v[0])
        else:
            branch = np.argmax(v, axis=0) if k.kind == "max" else np.argmin(v, axis=0)
        mask |= (branch[0] != branch[1]) | (branch[1] != branch[2])
    return mask


# ------------------------------------------------------------------ graph and derivation helpers
# Small helpers so that graph.py and the --show-steps / --latex views never touch sympy.

#: derivatives with more operations than this are not simplified (simplify can take
#: minutes on a few dozen operations)
SIMPLIFY_MAX_OPS = 60
#: wall-clock budget for simplifying all derivatives of one command (SIGALRM: main
#: thread on POSIX only)
SIMPLIFY_SECONDS = 2.0
#: size bound used instead when no timer is available (simplify time is erratic:
#: 0.3 s at 27 operations, 46 s at 40 for one derivative we tried)
UNTIMED_MAX_OPS = 20


def node_children(node: sp.Expr) -> tuple[sp.Expr, ...]:
    """The operands of a graph node; a constant subexpression (``sqrt(2)``) is a leaf."""
    return tuple(node.args) if node.free_symbols and not node.is_Atom else ()


def node_kind(node: sp.Expr) -> str:
    """``var``, ``const``, ``add``, ``mul``, ``pow`` or the function's name (``sin``)."""
    if node.is_Symbol:
        return "var"
    if not node_children(node):
        return "const"
    for cls, name in ((sp.Add, "add"), (sp.Mul, "mul"), (sp.Pow, "pow")):
        if isinstance(node, cls):
            return name
    return type(node).__name__.lower()


def node_name(node: sp.Expr) -> str:
    """A variable's name (only for ``node_kind(node) == "var"``)."""
    return node.name


def constant_value(node: sp.Expr) -> float:
    """A constant subexpression as a float (nan when it is not real)."""
    value = complex(node.evalf(17))
    return value.real if value.imag == 0 else math.nan


_LOCAL_CACHE: dict = {}


def local_derivatives(node: sp.Expr, values: Sequence[float]) -> tuple[float, np.ndarray]:
    """The node's value and its partials d node / d operand_k at operand values ``values``.

    The node's operator is applied to fresh symbols ``a_k``; its value and ``d/da_k``
    are compiled once per (operator, arity) and evaluated at ``a = values``.
    """
    key = (node.func, len(node.args))
    fn = _LOCAL_CACHE.get(key)
    if fn is None:
        names = [f"__a{k}" for k in range(len(node.args))]
        local = node.func(*[symbol(n) for n in names])
        fn = compile_many([local] + [_clean(sp.diff(local, symbol(n))) for n in names], names)
        _LOCAL_CACHE[key] = fn
    out = fn(np.asarray(values, dtype=float).reshape(-1, 1))[:, 0]
    return float(out[0]), out[1:]


def latex(expr: sp.Expr) -> str:
    """LaTeX of an expression (sympy's ``latex``)."""
    return sp.latex(expr)


@dataclass(frozen=True)
class Derivation:
    """The derivative ``d f / d wrt`` shown step by step (strings, ready to print).

    ``raw`` is the derivative of ``f`` with the custom functions (sigmoid, softplus)
    written out in elementary functions, before any simplification; ``derivative`` is
    sympy's derivative in the user's vocabulary (the one gradcheck checks);
    ``simplified`` is ``simplify(derivative)``, or ``None`` when it was skipped
    (``note`` says why); ``latex`` is the LaTeX of the final form.
    """

    wrt: str
    raw: str
    derivative: str
    simplified: str | None
    latex: str
    note: str = ""


def bounded_simplify(expr: sp.Expr, max_ops: int = SIMPLIFY_MAX_OPS, seconds: float = SIMPLIFY_SECONDS):
    """``(simplify(expr), "")``, or ``(None, reason)`` when too large or too slow.

    The size bound (``count_ops``) always applies; the time bound uses ``SIGALRM`` and
    so only applies in the main thread on POSIX when no other interval timer runs
    (elsewhere the tighter size bound ``UNTIMED_MAX_OPS`` stands in for it).
    """
    ops, limit = int(sp.count_ops(expr)), max_ops if _can_time() else min(max_ops, UNTIMED_MAX_OPS)
    if ops > limit:
        return None, f"not simplified: {ops} operations (limit {limit})"
    if seconds <= 0:
        return None, "not simplified: the time budget for simplification is spent"
    try:
        with time_limit(seconds):
            return sp.simplify(expr), ""
    except TimeLimit:
        return None, f"not simplified: simplify took more than {seconds:.2g} s"


def derivations(expr: sp.Expr, names: Sequence[str], seconds: float = SIMPLIFY_SECONDS) -> list[Derivation]:
    """:func:`derivation` for each name, sharing one time budget for simplification
    (smallest derivatives first, so that one slow simplification cannot starve the rest)."""
    import time

    deadline = time.monotonic() + seconds
    sizes = {n: sp.count_ops(partial(expr, n)) for n in names}
    done = {n: derivation(expr, n, seconds=deadline - time.monotonic()) for n in sorted(names, key=sizes.get)}
    return [done[n] for n in names]


def derivation(expr: sp.Expr, name: str, seconds: float = SIMPLIFY_SECONDS) -> Derivation:
    """The steps of ``d expr / d name``: raw, as checked, simplified (bounded), LaTeX."""
    elementary = expr.rewrite([sigmoid, softplus], sp.exp)
    raw = _clean(sp.diff(elementary, symbol(name)))
    derivative = partial(expr, name)
    simplified, note = bounded_simplify(derivative, seconds=seconds)
    if simplified is not None and sp.count_ops(simplified) > sp.count_ops(derivative):
        simplified = derivative  # simplify may lengthen; keep the shorter form
    final = derivative if simplified is None else simplified
    return Derivation(
        wrt=name, raw=display(raw), derivative=display(derivative),
        simplified=None if simplified is None else display(simplified),
        latex=sp.latex(final), note=note,
    )
