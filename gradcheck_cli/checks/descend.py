"""``gradcheck descend``: gradient descent on an expression with sympy's gradient."""

from __future__ import annotations

import numpy as np

from .. import expression as ex
from ..descent import descend, validate_descent
from ..problem import expression_points, prepare_expression
from ..results import Formula


def run_descent(text: str, *, x0: str, lr: float = 0.01, tol: float = 1e-5, max_iter: int = 10_000,
                progress=None):
    """``gradcheck descend``: gradient descent on the expression with sympy's gradient.

    ``x0`` is written like ``--at`` (``"6"`` or ``"x=1,y=2"``).  Returns a
    ``descent.DescentResult``; a start outside the domain raises DomainError.

    >>> run_descent("x**4 - 3*x**3", x0="6").outcome.value
    'converged'
    """
    validate_descent(lr, tol, max_iter)
    problem = prepare_expression(text, [x0])
    start = expression_points(problem, option="--x0")[0]
    F = ex.compile_many((problem.expression.expr,) + problem.derivatives, problem.names)

    def cost_and_grad(x: np.ndarray):
        out = F(x[:, None])[:, 0]
        return out[0], out[1:]

    formulas = (Formula("f", ex.display(problem.expression.expr)),) + tuple(
        Formula(f"d/d{v}", ex.display(d)) for v, d in zip(problem.wrt, problem.derivatives))
    return descend(cost_and_grad, start, lr, tol, max_iter, progress, names=problem.names, formulas=formulas)
