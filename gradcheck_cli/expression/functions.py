"""The functions and constants an expression may use, in sympy and in numpy.

``FUNCTIONS`` maps each allowed name to its sympy builder and arity, ``CONSTANTS``
the constant names; ``NUMPY`` maps each sympy function class to a numpy
implementation valid for real input and for the complex step.  The custom functions
(sigmoid, softplus, cbrt) carry their derivatives (``fdiff``).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import sympy as sp


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
NUMPY = {
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
