"""Sympy trees evaluated in extended precision with mpmath (the referee's arithmetic).

``compile_precise(exprs, names)`` returns ``F(point, dps) -> [mpf, ...]``: every
expression evaluated at ``point`` (a sequence of numbers, read exactly: a float64 is
the binary number it is) with ``dps`` significant decimal digits in every operation.
mpmath numbers have an unbounded exponent, so nothing overflows or underflows
(``exp(709.5)``, ``1e-300 ** 2``).  A value that is complex (``log`` of a negative
number) or undefined (a pole, ``zoo``) is ``nan``.  Conventions match the float64
evaluator of ``expression``: ``sign(0) = 0``, ``Heaviside(0) = 1/2``, ``Max``/``Min``
of their arguments, ``relu = Max(0, x)``, ``cbrt`` the real cube root.
"""

from __future__ import annotations

from typing import Callable, Sequence

import mpmath as mp
import sympy as sp

from .expression import cbrt, sigmoid, softplus

NAN = mp.mpf("nan")
#: a sum within 10**(LOSS_MARGIN - digits) of cancelling completely is flagged as lost
LOSS_MARGIN = 5


def _real(v):
    """A real mpf, or nan for a genuinely complex value."""
    if isinstance(v, mp.mpc):
        if v.imag == 0:
            return v.real
        return NAN
    return v


def _guard(fn):
    def g(*args):
        if any(mp.isnan(a) for a in args):
            return NAN
        try:
            return _real(fn(*args))
        except (ValueError, ZeroDivisionError, OverflowError):
            return NAN

    return g


def _sign(x):
    return mp.mpf(0) if x == 0 else mp.mpf(1 if x > 0 else -1)


def _heaviside(x, h0=None):
    if x == 0:
        return mp.mpf(0.5) if h0 is None else h0
    return mp.mpf(1 if x > 0 else 0)


def _cbrt(x):
    return -mp.cbrt(-x) if x < 0 else mp.cbrt(x)


def _sigmoid(x):
    return 1 / (1 + mp.exp(-x))


def _softplus(x):
    return mp.log1p(mp.exp(x)) if x < 0 else x + mp.log1p(mp.exp(-x))


def _log(x):
    if x < 0:
        return NAN
    if x == 0:
        return mp.mpf("-inf")
    return mp.log(x)


def _sqrt_like(x):
    return NAN if x < 0 else mp.sqrt(x)


_MP: dict = {
    sp.sin: mp.sin, sp.cos: mp.cos, sp.tan: mp.tan, sp.sec: mp.sec, sp.csc: mp.csc, sp.cot: mp.cot,
    sp.asin: mp.asin, sp.acos: mp.acos, sp.atan: mp.atan, sp.atan2: mp.atan2,
    sp.sinh: mp.sinh, sp.cosh: mp.cosh, sp.tanh: mp.tanh,
    sp.asinh: mp.asinh, sp.acosh: mp.acosh, sp.atanh: mp.atanh,
    sp.exp: mp.exp, sp.log: _log, sp.Abs: abs, sp.sign: _sign, sp.Heaviside: _heaviside,
    sp.Max: lambda *a: max(a), sp.Min: lambda *a: min(a), sp.erf: mp.erf,
    sigmoid: _sigmoid, softplus: _softplus, cbrt: _cbrt,
}
_MP = {k: _guard(v) for k, v in _MP.items()}


def _number(expr: sp.Basic):
    if expr.is_Rational:
        return mp.mpf(int(expr.p)) / int(expr.q)
    if expr.is_Float:
        return mp.mpf(expr._mpf_)
    if expr is sp.pi:
        return +mp.pi
    if expr is sp.E:
        return +mp.e
    if expr.is_real:
        return mp.mpf(sp.N(expr, mp.mp.dps + 5))
    return NAN


def _pow(b, e, exp_expr):
    if mp.isnan(b) or mp.isnan(e):
        return NAN
    if exp_expr.is_Integer:
        n = int(exp_expr)
        if b == 0 and n < 0:
            return NAN
        return b**n
    if b < 0:
        return NAN  # a real power of a negative base is complex (cbrt is its own function)
    if b == 0:
        return mp.mpf(0) if e > 0 else NAN
    return _real(mp.power(b, e))


def _evaluate(expr: sp.Basic, env: dict, cache: dict, lost: set):
    hit = cache.get(expr)
    if hit is not None:
        return hit
    if expr.is_Symbol:
        out = env[expr.name]
    elif expr.is_Number or expr.is_NumberSymbol:
        out = _number(expr)
    elif expr.is_Add:
        terms = [_evaluate(a, env, cache, lost) for a in expr.args]
        out = mp.fsum(terms)
        big = max((abs(t) for t in terms if not mp.isnan(t)), default=mp.mpf(0))
        # a sum that cancels (nearly) completely has no correct digits left at this
        # precision, and may well look the same at twice the digits (1 - tanh(100)**2)
        if big > 0 and not mp.isinf(big) and abs(out) <= big * mp.mpf(10) ** (LOSS_MARGIN - mp.mp.dps):
            lost.add(expr)
    elif expr.is_Mul:
        out = mp.mpf(1)
        for a in expr.args:
            out = out * _evaluate(a, env, cache, lost)
    elif expr.is_Pow:
        base, exp = expr.args
        out = _pow(_evaluate(base, env, cache, lost), _evaluate(exp, env, cache, lost), exp)
    elif isinstance(expr, sp.DiracDelta):
        out = mp.mpf(0)
    elif type(expr) in _MP:
        out = _MP[type(expr)](*[_evaluate(a, env, cache, lost) for a in expr.args])
    else:
        out = NAN
    out = _real(out) if not isinstance(out, mp.mpf) else out
    cache[expr] = out
    return out


def compile_precise(exprs: Sequence[sp.Expr], names: Sequence[str]) -> Callable:
    """``F(point, dps) -> list[mpf]``: each of ``exprs`` at ``point`` with ``dps`` digits.

    ``point`` holds one number per name (floats are read exactly, mpf values as given).
    Evaluation walks the sympy tree; nothing is generated or executed.
    ``F(point, dps, flags=True) -> (values, lost)``: ``lost[j]`` says that a sum inside
    expression j cancelled to within ``10**(LOSS_MARGIN - dps)`` of its largest term, so
    its value has (almost) no correct digit at this precision, even if it looks the same
    at twice the digits (``1 - tanh(x)**2`` at ``x = 100`` is 0 below 87 digits).
    """
    exprs = list(exprs)
    names = list(names)

    subexprs = [set(sp.preorder_traversal(e)) for e in exprs]

    def F(point: Sequence, dps: int, flags: bool = False):
        with mp.workdps(int(dps)):
            env = {n: mp.mpf(v) for n, v in zip(names, point)}
            cache: dict = {}
            lost: set = set()
            out = []
            for e in exprs:
                try:
                    v = _evaluate(e, env, cache, lost)
                except (ValueError, ZeroDivisionError, OverflowError, TypeError):
                    v = NAN
                out.append(+v if isinstance(v, mp.mpf) else NAN)
            if not flags:
                return out
            return out, [bool(lost & sub) for sub in subexprs]

    return F


def has_kinks(expr: sp.Expr) -> bool:
    """Whether ``expr`` contains a non-differentiable atom (abs, sign, Heaviside, max, min)."""
    return any(isinstance(n, (sp.Abs, sp.sign, sp.Heaviside, sp.Max, sp.Min)) for n in sp.preorder_traversal(expr))
