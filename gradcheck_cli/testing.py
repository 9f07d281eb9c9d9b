"""Assertions for pytest: ``assert_*`` run a check and raise ``AssertionError`` on failure.

The message is a one-line verdict naming the worst entry, then the same table the
command line prints (``report.to_text``), so a failing test shows which entries are
wrong and by how much.  They return None; use ``check_*`` to get the report itself
(``check_*`` return, ``assert_*`` raise, never both).  Bad input (an unknown
variable, a function that raises) raises :class:`~gradcheck_cli.errors.InputError`,
not ``AssertionError``: a broken test is not a wrong gradient.

    >>> import numpy as np
    >>> assert_gradient(lambda x: (np.sum(x**2), 2 * x), np.ones((3, 4)))
    >>> assert_expression("sin(x) - cos(x)", at=["x=0.5"])
"""

from __future__ import annotations

from typing import Any, Callable

from .results import Report
from .verdict import Status, Thresholds


__all__ = ["assert_gradient", "assert_expression", "assert_network", "assert_layer", "assert_model", "failure_message"]



def failure_message(report: Report) -> str:
    """``gradient check failed: 1 of 12 entries fail; worst x[1, 2]: analytic ...`` + table."""
    from .views.table import to_text

    c = report.counts
    bad = [ch for ch in report.checks if ch.status in (Status.FAIL, Status.WARN)]
    bad.sort(key=lambda ch: (ch.status is not Status.FAIL, -(ch.rel_error if ch.rel_error == ch.rel_error else float("inf"))))
    first = f"gradient check failed ({report.command}): {report.summary_line()}"
    if bad:
        w = bad[0]
        first += (
            f"; worst {w.label}: analytic {w.analytic:.10g}, numeric {w.numeric:.10g}, "
            f"rel error {w.rel_error:.1e}"
        )
    if report.thresholds.strict and c.get("warn") and not c.get("fail"):
        first += " (warn fails under strict)"
    return f"{first}\n{to_text(report, width=120)}"


def _raise_if_failed(report: Report) -> None:
    __tracebackhide__ = True
    if not report.passed:
        raise AssertionError(failure_message(report))


def assert_gradient(
    f: Callable[..., Any],
    x: Any,
    *,
    grad: Callable[..., Any] | None = None,
    sample: int | None = None,
    seed: int = 0,
    eps: float | None = None,
    thresholds: Thresholds = Thresholds(),
    top: int = 5,
) -> None:
    """Assert that ``f(x) -> (cost, grad)`` (or ``f(x) -> cost`` with ``grad``) is right at x.

    Arguments as for :func:`gradcheck_cli.checks.func.check_gradient`; ``thresholds=
    Thresholds(strict=True)`` makes a warn fail too.

    >>> import numpy as np
    >>> def quad(x):
    ...     return np.sum(x**2), 2 * x
    >>> assert_gradient(quad, np.random.default_rng(0).standard_normal((3, 4)))
    """
    __tracebackhide__ = True
    from .checks.func import check_gradient

    _raise_if_failed(check_gradient(f, x, grad=grad, sample=sample, seed=seed, eps=eps,
                                    thresholds=thresholds, top=top))


def assert_expression(text: str, **kwargs: Any) -> None:
    """Assert every partial derivative of the expression ``text`` checks out.

    Keyword arguments as for :func:`gradcheck_cli.checks.expr.check_expression` (``at``,
    ``points``, ``seed``, ``grads``, ``wrt``, ``method``, ``eps``, ``thresholds``).

    >>> assert_expression("x**3", at=["2"], grads=["3*x**2"])
    """
    __tracebackhide__ = True
    from .checks.expr import check_expression

    _raise_if_failed(check_expression(text, **kwargs))


def assert_network(dims: Any = (10, 5, 10), **kwargs: Any) -> None:
    """Assert the network check at ``dims`` passes (``checks.net.check_network``'s arguments).

    >>> assert_network((10, 5, 10))
    """
    __tracebackhide__ = True
    from .checks.net import check_network

    _raise_if_failed(check_network(dims=dims, **kwargs))


def assert_layer(forward: Callable[..., Any], backward: Callable[..., Any] | None = None,
                 inputs: Any = (), params: Any = None, **kwargs: Any) -> None:
    """Assert a layer's backward pass matches the numeric vector-Jacobian product.

    Arguments as for :func:`gradcheck_cli.checks.layer.check_layer`: ``forward(*inputs,
    **params) -> (out, cache)``, ``backward(dout, cache) -> grads`` (or no backward for a
    loss layer ``forward(...) -> (loss, dx)``), ``inputs`` a mapping of names to arrays.

    >>> import numpy as np
    >>> def relu_forward(x):
    ...     return np.maximum(0, x), x
    >>> def relu_backward(dout, x):
    ...     return dout * (x > 0)
    >>> assert_layer(relu_forward, relu_backward, {"x": np.linspace(-1, 1, 6).reshape(2, 3)})
    """
    __tracebackhide__ = True
    from .checks.layer import check_layer

    _raise_if_failed(check_layer(forward, backward, inputs, params, **kwargs))


def assert_model(model: Any, X: Any, y: Any = None, **kwargs: Any) -> None:
    """Assert a CS231n-style model's ``loss(X, y) -> (loss, grads)`` is right for every key
    of ``model.params`` (arguments as for :func:`gradcheck_cli.checks.model.check_model`).

    >>> import numpy as np
    >>> class Linear:
    ...     def __init__(self):
    ...         self.params = {"W": np.ones((3, 2))}
    ...     def loss(self, X, y):
    ...         r = X @ self.params["W"] - y
    ...         return 0.5 * np.sum(r**2), {"W": X.T @ r}
    >>> assert_model(Linear(), np.eye(3), np.zeros((3, 2)))
    """
    __tracebackhide__ = True
    from .checks.model import check_model

    _raise_if_failed(check_model(model, X, y, **kwargs))
