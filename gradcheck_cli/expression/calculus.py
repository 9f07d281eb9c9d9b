"""Symbolic calculus on parsed expressions: partial derivatives (within a time
budget), kinks, graph-node helpers, step-by-step derivations and display/LaTeX text.

Small helpers here let graph.py and the --show-steps / --latex views work without
touching sympy themselves.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import sympy as sp

from ..errors import ParseError
from .evaluate import Kink, compile_many
from .functions import sigmoid, softplus
from .parse import symbol


def why_not_finite(expr: sp.Expr, names: Sequence[str], point: Sequence[float], seconds: float = 2.0) -> tuple[str, str]:
    """Why float64 gives no finite real value of ``expr`` at ``point``, from an exact look.

    Evaluates with sympy (30 digits) at the exact binary values of the point; returns
    (kind, value as text):

    - ``"singular"``: the true value is infinite (``log(0)``, ``1/0``);
    - ``"too large"``: a finite real number beyond float64's 1.8e308 (``exp(1000)``);
    - ``"overflow"``: a finite real number within range, but an intermediate result
      overflows float64 (``-log(exp(a)/(exp(a)+1))`` at a=1001);
    - ``"undefined"``: complex, NaN, or undecided within ``seconds``.
    """
    import mpmath

    subs = {symbol(n): sp.Rational(float(v)) for n, v in zip(names, point)}
    try:
        with time_limit(seconds):
            value = expr.xreplace(subs)
            if value.has(sp.nan):
                return "undefined", ""
            if value.has(sp.zoo, sp.oo, -sp.oo):
                return "singular", ""
            number = value.evalf(30)
            if number.is_infinite:
                return "singular", ""
            if number.is_Number and number.is_extended_real and number.is_finite:
                text = mpmath.nstr(mpmath.mpf(number), 3)
                return ("too large" if abs(number) > sp.Float(np.finfo(float).max) else "overflow"), text
    except (TimeLimit, TypeError, ValueError, ZeroDivisionError, OverflowError):
        pass
    return "undefined", ""


class _Printer(sp.printing.str.StrPrinter):
    """sympy's plain strings, with long terminating decimals written as decimals."""

    def _print_Rational(self, expr):
        return _decimal(expr) or super()._print_Rational(expr)

    def _print_Integer(self, expr):
        return _decimal(expr) or super()._print_Integer(expr)


def _decimal(r: sp.Rational) -> str | None:
    """``1e-31`` for 1/10**31, ``1.0000000000000000000000000000001`` for 1 + 10**-31: a
    rational with a long numerator or denominator that is a terminating decimal, written
    exactly as one; None otherwise (``1/3``, ``3/4`` keep sympy's form)."""
    import decimal

    p, q = int(r.p), int(r.q)
    if max(abs(p), q) < 10**6 or q == 1 and (abs(p) < 10**21 or str(p).rstrip("0") == str(p)):
        return None
    k = q
    for f in (2, 5):
        while k % f == 0:
            k //= f
    if k != 1:
        return None
    with decimal.localcontext() as ctx:
        ctx.prec = len(str(abs(p))) + len(str(q)) + 5
        text = str((decimal.Decimal(p) / decimal.Decimal(q)).normalize())
    return text.lower().replace("e+", "e")


def display(expr: sp.Expr) -> str:
    """How an expression is shown to users (sympy's plain string form; exact decimals
    such as ``1e-31`` written as decimals, not as 1/10000000000000000000000000000000)."""
    return _Printer().doprint(expr)


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


def _in_finalizer(frame) -> bool:
    """Whether ``frame`` runs inside a gc callback or a ``__del__``,
    where an exception cannot propagate to the code being timed."""
    import gc

    callbacks = {getattr(cb, "__code__", None) for cb in gc.callbacks}
    while frame is not None:
        code = frame.f_code
        if code in callbacks or code.co_name == "__del__":
            return True
        frame = frame.f_back
    return False


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
        if not _in_finalizer(frame):
            raise TimeLimit
        # an exception raised inside a gc callback or a __del__ is swallowed by Python and
        # printed as "Exception ignored" (an unraisable warning under pytest): wait for the
        # next alarm instead

    previous = signal.signal(signal.SIGALRM, on_alarm)
    try:
        # after the budget, the alarm repeats every 50 ms until it lands in ordinary code
        signal.setitimer(signal.ITIMER_REAL, seconds, 0.05)
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


def kinks(expr: sp.Expr) -> tuple[Kink, ...]:
    """The non-differentiable atoms of ``expr`` (abs, sign, Heaviside, max/min, relu)."""
    found: list[Kink] = []
    for node in sp.preorder_traversal(expr):
        if isinstance(node, (sp.Abs, sp.sign, sp.Heaviside)):
            found.append(Kink("sign", (node.args[0],)))
        elif isinstance(node, (sp.Max, sp.Min)):
            found.append(Kink("max" if isinstance(node, sp.Max) else "min", tuple(node.args)))
    return tuple(dict.fromkeys(found))

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
