"""Numbers from sympy trees: vectorised numpy functions (real or complex step) and
the mask of finite-difference stencils that cross a kink.

Nothing is generated or executed: the sympy tree is walked node by node with the
numpy implementations of ``functions.NUMPY``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import sympy as sp

from .functions import NUMPY


@dataclass(frozen=True)
class Kink:
    """A non-differentiable atom: ``kind`` is ``sign`` (of args[0]), ``max`` or ``min``."""

    kind: str
    args: tuple[sp.Expr, ...]


# ---------------------------------------------------------------- numeric functions
def _evaluate(expr: sp.Basic, env: dict, cache: dict, real=float):
    """Evaluate a sympy tree on numpy arrays, node by node (no code generation); real
    intermediate values in ``real`` (None: the dtype of the arrays, as numpy code keeps it)."""
    hit = cache.get(expr)
    if hit is not None:
        return hit
    if expr.is_Symbol:
        out = env[expr.name]
    elif expr.is_Number or expr.is_NumberSymbol:
        out = float(expr) if expr.is_real else complex(expr)
    elif expr.is_Add:
        args = [_evaluate(a, env, cache, real) for a in expr.args]
        out = args[0]
        for a in args[1:]:
            out = out + a
    elif expr.is_Mul:
        # division is division: a/b is a * b**-1 to sympy, but 1/b overflows where a/b
        # does not (x/(x+y) at 1e-310), so negative integer powers form a denominator
        num = [a for a in expr.args if not _is_reciprocal(a)]
        den = [a.args[0] ** -a.args[1] for a in expr.args if _is_reciprocal(a)]
        out = _product([_evaluate(a, env, cache, real) for a in num]) if num else 1.0
        if den:
            out = out / _product([_evaluate(a, env, cache, real) for a in den])
    elif expr.is_Pow:
        base, exp = expr.args
        b = _evaluate(base, env, cache, real)
        if exp.is_Integer:
            n = int(exp)
            out = b**n if n >= 0 else 1 / b ** (-n)
        elif exp == sp.Rational(1, 2):
            out = np.sqrt(b) if np.iscomplexobj(b) else np.sqrt(_as_real(b, real))
        else:
            e = _evaluate(exp, env, cache, real)
            if not (np.iscomplexobj(b) or np.iscomplexobj(e)):
                b = _as_real(b, real)
            out = np.power(b, e)
    elif isinstance(expr, sp.DiracDelta):
        out = 0.0
    elif real is None and isinstance(expr, sp.log) and not np.iscomplexobj(_evaluate(expr.args[0], env, cache, real)):
        out = np.log(_as_real(_evaluate(expr.args[0], env, cache, real), real))
    elif type(expr) in NUMPY:
        out = NUMPY[type(expr)](*[_evaluate(a, env, cache, real) for a in expr.args])
    else:  # zoo, nan and anything sympy produced that has no numeric meaning here
        out = np.nan
    cache[expr] = out
    return out


def _as_real(v, real):
    """``v`` as a real array of dtype ``real`` (None: its own floating dtype, else float64)."""
    v = np.asarray(v)
    return v.astype(real if real is not None else (v.dtype if v.dtype.kind == "f" else float), copy=False)


def _is_reciprocal(e: sp.Basic) -> bool:
    return e.is_Pow and e.args[1].is_Integer and e.args[1] < 0


def _product(values: list):
    out = values[0]
    for v in values[1:]:
        out = out * v
    return out


def compile_many(exprs: Sequence[sp.Expr], names: Sequence[str], complex_step: bool = False,
                 keep_dtype: bool = False):
    """Vectorised ``F(X) -> (len(exprs), K)`` for ``X`` of shape ``(len(names), K)``.

    Evaluation walks the sympy tree with numpy (``functions.NUMPY``); nothing is generated or
    executed.  For ``complex_step`` the non-analytic pieces (abs, sign, atan2, erf,
    cbrt ...) carry the imaginary part as a first-order perturbation.  In real mode a
    complex or undefined value becomes NaN.  ``keep_dtype``: real X is computed in its own
    floating dtype (float32 stays float32, np.longdouble longdouble; constants are float64
    numbers, erf a float64 library call), as numpy code given such arrays computes.
    """
    exprs = list(exprs)
    m = len(exprs)
    dtype = complex if complex_step else float

    def F(X: np.ndarray) -> np.ndarray:
        X = np.asarray(X)
        K = X.shape[1] if X.ndim == 2 else 1
        env = {n: X[i] for i, n in enumerate(names)}
        cache: dict = {}
        own = keep_dtype and not complex_step and X.dtype.kind == "f"
        res = np.empty((m, K), dtype=X.dtype if own else dtype)
        with np.errstate(all="ignore"):
            for i, e in enumerate(exprs):
                v = np.asarray(_evaluate(e, env, cache, None if own else float))
                if not complex_step and np.iscomplexobj(v):
                    v = np.where(v.imag == 0, v.real, np.nan)
                res[i] = np.broadcast_to(v, (K,))
        return res

    return F


def compile_one(expr: sp.Expr, names: Sequence[str], complex_step: bool = False, keep_dtype: bool = False):
    """Vectorised ``f(X) -> (K,)`` for ``X`` of shape ``(len(names), K)`` (``compile_many``)."""
    F = compile_many([expr], names, complex_step, keep_dtype)
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

