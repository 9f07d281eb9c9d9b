"""Gradient descent with a given gradient (``gradcheck descend``).

numpy only: ``f`` and its gradient arrive as callables of a flat point.

Iteration (fixed learning rate ``lr``)::

    x_{k+1} = x_k - lr * grad f(x_k),      step_k = x_{k+1} - x_k

Outcomes (``Outcome``), checked after every step in this order:

=========  ================================================================================
diverged   ``x``, ``f(x)`` or the gradient is not finite (overflow, or a step left the
           domain of f); or ``max|x| > X_LIMIT max(1, max|x_0|)`` (f looks unbounded
           below); or f rose in each of the last ``RISE_STREAK`` steps while ``|step|``
           grew (the classic sign of a learning rate above ``2 / L``)
converged  ``|grad f(x_{k+1})| < tol`` (Euclidean norm): the first-order condition of a
           minimum, independent of ``lr``
max_iter   ``max_iter`` steps without either
=========  ================================================================================

The result is the last iterate: for ``converged`` a point where ``|grad f| < tol``, a
local minimum when f is convex nearby (the iteration cannot tell a saddle point from a
minimum if it starts exactly on a ridge).  Example (course notes): ``f = x**4 - 3 x**3``
from ``x_0 = 6`` with ``lr = 0.01`` and ``tol = 1e-5`` converges to ``x = 2.250000`` (9/4).
The course loop stops on ``|step| < tol`` instead, i.e. on ``|grad f| < tol / lr``, which
here stops early at 2.249965; a gradient test does not depend on the learning rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable, Sequence

import numpy as np

from .errors import DomainError, OptionError
from .results import json_number

#: |x| beyond this many times max(1, |x_0|) counts as growing without bound
X_LIMIT = 1e15
#: f rising with growing steps this many times in a row counts as divergence
RISE_STREAK = 10
#: iterations listed by views (and kept in memory): the first HEAD_ROWS and the last TAIL_ROWS
HEAD_ROWS, TAIL_ROWS = 10, 5
#: the most iterations ``--max-iter`` allows (tens of microseconds each: a run of seconds)
MAX_ITER = 100_000


class Outcome(str, Enum):
    """How a descent ended; the value is what JSON shows."""

    CONVERGED = "converged"
    DIVERGED = "diverged"
    MAX_ITER = "max_iter"


@dataclass(frozen=True)
class DescentResult:
    """The trajectory (its first and last iterations) and how it ended.

    Row ``r`` of ``xs`` (shape ``(rows, n)``) is the point after iteration ``kept[r]``
    (``kept[0] = 0``: ``xs[0] = x0``); ``fs`` and ``grads`` are the values there, ``steps[r]``
    the Euclidean norm of the step that led to it (NaN for x0).  Only the first
    ``HEAD_ROWS`` and the last ``TAIL_ROWS`` iterations are kept, so memory does not grow
    with ``max_iter``.  ``message`` says why it stopped.
    """

    outcome: Outcome
    xs: np.ndarray
    fs: np.ndarray
    grads: np.ndarray
    steps: np.ndarray
    message: str
    lr: float
    tol: float
    max_iter: int
    names: tuple[str, ...] = ()
    formulas: tuple = ()  # results.Formula: f and its partials, for the views
    kept: tuple[int, ...] = ()  # iteration number of each row (default: every one)
    total: int | None = None  # iterations run (default: rows - 1)

    @property
    def iterations(self) -> int:
        return self.total if self.total is not None else len(self.xs) - 1

    def row(self, k: int) -> int:
        """The row of iteration ``k`` (negative: from the end, as for ``xs[k]``)."""
        if k < 0 or not self.kept:
            return k
        return self.kept.index(k)

    def step(self, k: int) -> float:
        """``|step|`` that led to iteration ``k`` (k >= 1)."""
        if not self.kept:
            return float(self.steps[k - 1])
        return float(self.steps[self.row(k)])

    @property
    def x(self) -> np.ndarray:
        return self.xs[-1]

    @property
    def f(self) -> float:
        return float(self.fs[-1])

    @property
    def converged(self) -> bool:
        return self.outcome is Outcome.CONVERGED

    @property
    def passed(self) -> bool:
        """The command's verdict: True (exit 0) when it converged."""
        return self.converged

    def shown_iterations(self, head: int = HEAD_ROWS, tail: int = TAIL_ROWS) -> list[int]:
        """The iterations views list: the first ``head`` and the last ``tail`` (0 is x0)."""
        n = self.iterations + 1
        if n <= head + tail:
            return list(range(n))
        return list(range(head)) + list(range(n - tail, n))

    def point(self, k: int) -> dict[str, float | None]:
        return {name: json_number(v) for name, v in zip(self.names, self.xs[self.row(k)])}

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``gradcheck descend`` (``history``: the listed iterations)."""
        return {
            "command": "descend",
            "status": self.outcome.value,
            "message": self.message,
            "lr": self.lr, "tol": self.tol, "max_iter": self.max_iter,
            "iterations": self.iterations,
            "x0": self.point(0), "f0": json_number(self.fs[0]),
            "x": self.point(-1), "f": json_number(self.fs[-1]),
            "gradient": {name: json_number(v) for name, v in zip(self.names, self.grads[-1])},
            "history": [
                {"iteration": k, "x": self.point(k), "f": json_number(self.fs[self.row(k)]),
                 "step": json_number(self.step(k)) if k else None}
                for k in self.shown_iterations()
            ],
        }


def validate_descent(lr: float, tol: float, max_iter: int) -> None:
    """Raise OptionError unless lr > 0, tol > 0 (finite) and 1 <= max_iter <= MAX_ITER."""
    for name, value in (("--lr", lr), ("--tol", tol)):
        if not (np.isfinite(value) and value > 0):
            raise OptionError(f"{name} must be a positive number, got {value!r}")
    if not 1 <= max_iter <= MAX_ITER:
        raise OptionError(f"--max-iter must be between 1 and {MAX_ITER}, got {max_iter}")


def descend(
    cost_and_grad: Callable[[np.ndarray], tuple[float, np.ndarray]],
    x0: np.ndarray,
    lr: float = 0.01,
    tol: float = 1e-5,
    max_iter: int = 10_000,
    progress: Callable[[int, float, float], None] | None = None,
    names: Sequence[str] | None = None,
    formulas: Sequence = (),
) -> DescentResult:
    """Run gradient descent from ``x0`` (see the module docstring for the rules).

    ``cost_and_grad(x) -> (f(x), grad f(x))`` takes a flat float array (the
    ``gradcheck_naive`` convention).  ``progress(k, f_k, |step_k|)`` is called after
    every step.  ``names`` label the coordinates (default ``x0, x1, ...``) and
    ``formulas`` (``results.Formula``) are carried to the views.  Raises DomainError when f or its gradient is
    not finite at ``x0``.

    >>> r = descend(lambda x: (float(x[0] ** 2), 2 * x), np.array([3.0]), lr=0.5)
    >>> r.outcome.value, float(r.x[0])
    ('converged', 0.0)
    """
    validate_descent(lr, tol, max_iter)
    x = np.array(x0, dtype=float).ravel()
    names = tuple(names) if names is not None else tuple(f"x{i}" for i in range(x.size))
    if len(names) != x.size:
        raise OptionError(f"{len(names)} names for {x.size} coordinates")

    def evaluate(z: np.ndarray) -> tuple[float, np.ndarray]:
        with np.errstate(all="ignore"):
            c, g = cost_and_grad(z)
        return float(c), np.asarray(g, dtype=float).ravel()

    fx, gx = evaluate(x)
    if not (np.all(np.isfinite(x)) and np.isfinite(fx) and np.all(np.isfinite(gx))):
        raise DomainError("x0 is outside the domain: f or its gradient is not real and finite there")
    limit = X_LIMIT * max(1.0, float(np.max(np.abs(x))))
    from collections import deque

    # rows kept: (iteration, x, f, grad, |step|); the first HEAD_ROWS, then the last TAIL_ROWS
    head: list = [(0, x, fx, gx, float("nan"))]
    tail: deque = deque(maxlen=max(TAIL_ROWS, 2))
    last_step = None
    rises, outcome, message, k = 0, Outcome.MAX_ITER, "", 0
    for k in range(1, max_iter + 1):
        x_new = x - lr * gx
        step = float(np.linalg.norm(x_new - x))
        f_new, g_new = evaluate(x_new)
        rises = rises + 1 if last_step is not None and f_new > fx and step > last_step else 0
        last_step = step
        (head if k < HEAD_ROWS else tail).append((k, x_new, f_new, g_new, step))
        if not (np.all(np.isfinite(x_new)) and np.isfinite(f_new) and np.all(np.isfinite(g_new))):
            outcome = Outcome.DIVERGED
            message = (f"diverged at iteration {k}: f or its gradient is not finite (overflow, "
                       "or the step left the domain of f); try a smaller --lr")
        elif float(np.max(np.abs(x_new))) > limit:
            outcome = Outcome.DIVERGED
            message = (f"diverged at iteration {k}: |x| exceeded {X_LIMIT:.0e} x max(1, |x0|); "
                       "f looks unbounded below along the path")
        elif rises >= RISE_STREAK:
            outcome = Outcome.DIVERGED
            message = (f"diverged at iteration {k}: f rose in {RISE_STREAK} consecutive steps while "
                       f"the steps grew (|step| = {step:.3g}); --lr {lr:g} is too large")
        elif float(np.linalg.norm(g_new)) < tol:
            outcome = Outcome.CONVERGED
            message = (f"converged after {k} iteration{'s' if k != 1 else ''}: "
                       f"|grad f| = {np.linalg.norm(g_new):.3g} < tol = {tol:g}")
        if progress is not None:
            progress(k, f_new, step)
        x, fx, gx = x_new, f_new, g_new
        if outcome is not Outcome.MAX_ITER:
            break
    else:
        message = (f"stopped after --max-iter {max_iter} iterations without converging "
                   f"(|grad f| = {np.linalg.norm(gx):.3g} >= tol = {tol:g})")
    rows = head + list(tail)
    return DescentResult(
        outcome=outcome, xs=np.array([r[1] for r in rows]), fs=np.array([r[2] for r in rows]),
        grads=np.array([r[3] for r in rows]), steps=np.array([r[4] for r in rows]), message=message,
        lr=float(lr), tol=float(tol), max_iter=int(max_iter), names=names, formulas=tuple(formulas),
        kept=tuple(r[0] for r in rows), total=k,
    )
