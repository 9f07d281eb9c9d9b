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

import math
from typing import Callable, Sequence

import mpmath as mp
import sympy as sp

from .functions import cbrt, sigmoid, softplus

NAN = mp.mpf("nan")
#: a value that lost ``digits - LOSS_MARGIN`` digits to cancellation has none left
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


#: beyond this argument exp is treated as infinite (or 0): mpmath cannot hold exp(2**50)'s digits
_EXP_LIMIT = 2**50


def _exp(x):
    if x > _EXP_LIMIT:
        _SATURATED.append(True)
        return mp.mpf("inf")
    if x < -_EXP_LIMIT:
        return mp.mpf(0)
    return mp.exp(x)


#: set when ``_exp`` or a periodic function saturated (too large for any precision, not a pole)
_SATURATED: list = []

#: a periodic function of an argument beyond 2**MAX_TRIG_MAG needs that many bits to reduce
#: it modulo 2 pi; past it the value is treated as unknown (nan) rather than computed for hours
MAX_TRIG_MAG = 2**14


def _periodic(fn):
    def f(x):
        if mp.mag(x) > MAX_TRIG_MAG:
            _SATURATED.append(True)
            return NAN
        return fn(x)

    return f


_MP: dict = {
    sp.sin: _periodic(mp.sin), sp.cos: _periodic(mp.cos), sp.tan: _periodic(mp.tan),
    sp.sec: _periodic(mp.sec), sp.csc: _periodic(mp.csc), sp.cot: _periodic(mp.cot),
    sp.asin: mp.asin, sp.acos: mp.acos, sp.atan: mp.atan, sp.atan2: mp.atan2,
    sp.sinh: mp.sinh, sp.cosh: mp.cosh, sp.tanh: mp.tanh,
    sp.asinh: mp.asinh, sp.acosh: mp.acosh, sp.atanh: mp.atanh,
    sp.exp: _exp, sp.log: _log, sp.Abs: abs, sp.sign: _sign, sp.Heaviside: _heaviside,
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
            return mp.mpf("inf")  # a pole
        return b**n
    if b < 0:
        return NAN  # a real power of a negative base is complex (cbrt is its own function)
    if b == 0:
        return mp.mpf(0) if e > 0 else NAN
    return _real(mp.power(b, e))


_LOG10_2 = 0.30102999566398120


def _evaluate(expr: sp.Basic, env: dict, cache: dict, loss: dict):
    """Value of ``expr``; ``loss[node]`` gets the decimal digits lost to cancellation on
    the way to ``node`` (its own sum's loss plus the largest loss among its operands)."""
    hit = cache.get(expr)
    if hit is not None:
        return hit
    args = expr.args
    if expr.is_Symbol:
        out = env[expr.name]
    elif expr.is_Number or expr.is_NumberSymbol:
        out = _number(expr)
    elif expr.is_Add:
        terms = [_evaluate(a, env, cache, loss) for a in args]
        out = mp.fsum(terms)
        big = max((abs(t) for t in terms if not mp.isnan(t)), default=mp.mpf(0))
        if big > 0 and not mp.isinf(big) and not mp.isnan(out):
            # a sum that cancels loses log10(|largest term| / |sum|) digits; a complete
            # cancellation may look the same at twice the digits (1 - tanh(100)**2)
            own = math.inf if out == 0 else max(0.0, (mp.mag(big) - mp.mag(out)) * _LOG10_2)
            if own > 1:
                loss[expr] = own
    elif expr.is_Mul:
        out = mp.mpf(1)
        for a in args:
            out = out * _evaluate(a, env, cache, loss)
    elif expr.is_Pow:
        base, exp = args
        out = _pow(_evaluate(base, env, cache, loss), _evaluate(exp, env, cache, loss), exp)
    elif isinstance(expr, sp.DiracDelta):
        out = mp.mpf(0)
    elif type(expr) in _MP:
        out = _MP[type(expr)](*[_evaluate(a, env, cache, loss) for a in args])
    else:
        out = NAN
    if args and loss:
        inherited = max((loss.get(a, 0.0) for a in args), default=0.0)
        if inherited:
            loss[expr] = loss.get(expr, 0.0) + inherited
    out = _real(out) if not isinstance(out, mp.mpf) else out
    cache[expr] = out
    return out


def compile_precise(exprs: Sequence[sp.Expr], names: Sequence[str]) -> Callable:
    """``F(point, dps) -> list[mpf]``: each of ``exprs`` at ``point`` with ``dps`` digits.

    ``point`` holds one number per name (floats are read exactly, mpf values as given).
    Evaluation walks the sympy tree; nothing is generated or executed.
    ``F(point, dps, flags=True) -> (values, lost)``: ``lost[j]`` estimates the decimal
    digits expression j lost to cancellation (sums whose result is far smaller than their
    largest term; the losses along a path add up; ``inf`` for a sum that cancelled to 0).
    A value that lost ``dps - LOSS_MARGIN`` digits or more has no correct digit left,
    even if it looks the same at twice the digits (``1 - tanh(x)**2`` at ``x = 100`` is 0
    below 87 digits).
    """
    exprs = list(exprs)
    names = list(names)

    def F(point: Sequence, dps: int, flags: bool = False):
        with mp.workdps(int(dps)):
            env = {n: mp.mpf(v) for n, v in zip(names, point)}
            cache: dict = {}
            loss: dict = {}
            out = []
            for e in exprs:
                try:
                    v = _evaluate(e, env, cache, loss)
                except (ValueError, ZeroDivisionError, OverflowError, TypeError):
                    v = NAN
                out.append(+v if isinstance(v, mp.mpf) else NAN)
            if not flags:
                return out
            return out, [loss.get(e, 0.0) for e in exprs]

    return F


def has_kinks(expr: sp.Expr) -> bool:
    """Whether ``expr`` contains a non-differentiable atom (abs, sign, Heaviside, max, min)."""
    return any(isinstance(n, (sp.Abs, sp.sign, sp.Heaviside, sp.Max, sp.Min)) for n in sp.preorder_traversal(expr))


_ATOMS = (sp.Abs, sp.sign, sp.Heaviside, sp.Max, sp.Min)


def compile_switches(expr: sp.Expr, names: Sequence[str]) -> Callable | None:
    """``S(point, dps) -> tuple``: the branch of every non-smooth atom of ``expr`` at
    ``point``, exactly (``dps`` digits): the sign of the argument of abs/sign/Heaviside,
    the index of the largest (smallest) argument of max (min); ``None`` for an atom at
    its switch (argument exactly 0, or arguments tied).  An argument that lost every
    digit to cancellation counts as 0.  ``None`` when ``expr`` has no such atom.
    """
    atoms = list(dict.fromkeys(n for n in sp.preorder_traversal(expr) if isinstance(n, _ATOMS)))
    if not atoms:
        return None
    args, layout = [], []
    for atom in atoms:
        own = atom.args[:1] if isinstance(atom, (sp.Abs, sp.sign, sp.Heaviside)) else atom.args
        layout.append((type(atom), list(range(len(args), len(args) + len(own)))))
        args.extend(own)
    G = compile_precise(args, names)

    def S(point: Sequence, dps: int) -> tuple:
        vals, lost = G(point, dps, flags=True)
        with mp.workdps(int(dps)):
            tiny = mp.mpf(10) ** (LOSS_MARGIN - int(dps))
            out = []
            for kind, idx in layout:
                vs = [vals[k] for k in idx]
                if any(mp.isnan(v) for v in vs):
                    out.append(None)
                elif kind in (sp.Max, sp.Min):
                    best = max(vs) if kind is sp.Max else min(vs)
                    ties = [k for k, v in enumerate(vs) if abs(v - best) <= tiny * abs(best)]
                    out.append(ties[0] if len(ties) == 1 else None)
                else:
                    v, gone = vs[0], lost[idx[0]]
                    out.append(None if v == 0 or gone >= dps - LOSS_MARGIN else (1 if v > 0 else -1))
        return tuple(out)

    return S


#: precisions tried by ``exact_value`` while a cancelled sum leaves a value non-finite
EXACT_DIGITS = (40, 160, 640, 2560)


def exact_value(expr: sp.Expr, names: Sequence[str], point: Sequence) -> tuple[str, str]:
    """Whether the mathematics defines ``expr`` at ``point`` (read exactly), whatever float64 does.

    Returns ``("finite", value)`` (a real number, however large or small: ``exp(710)``,
    ``1/x`` at 3e-320), ``("infinite", "")`` (a pole, ``log(0)``), ``("too large", "")``
    (beyond any precision: ``exp(exp(1e300))``, ``sin(x**1000)`` at 1e300) or ``("undefined", "")`` (complex: ``log(-1)``).
    A non-finite value reached through a sum that cancelled completely (``log(1 - cos(x))``
    at 1e-300) is tried again with more digits (``EXACT_DIGITS``).
    """
    F = compile_precise([expr], names)
    kind = "undefined"
    _SATURATED.clear()
    for dps in EXACT_DIGITS:
        (v,), (gone,) = F(list(point), dps, flags=True)
        if mp.isfinite(v):
            with mp.workdps(dps):
                return "finite", mp.nstr(v, 3)
        kind = "infinite" if mp.isinf(v) else "undefined"
        if _SATURATED:
            return "too large", ""
        if gone < dps - LOSS_MARGIN:
            break
    return kind, ""
