"""The built-in sanity suite of ``gradcheck sanity``: its items and reference values.

numpy only; nothing here runs a check (``check_func.check_sanity`` does) or prints.

The suite follows the sanity checks of CS224n assignment 1, in order:

=================  ======================================================================
``sigmoid``        ``sigmoid([[1, 2], [-1, -2]])`` against the course's printed values
``sigmoid_grad``   ``sigmoid_grad(sigmoid(...))`` on the same input, against its values
``softmax``        row-wise softmax of ``[[1001, 1002], [3, 4], [-1001, -1002]]`` (the
                   course's overflow tests) against its values
``quad_scalar``    gradient check of ``sum(x**2)`` at the scalar ``x = 123.456``
``quad_1d``        ... at x ~ N(0, 1) of shape (3,)
``quad_2d``        ... at x ~ N(0, 1) of shape (4, 5)
``ln``             gradient check of ``sum(ln(x))`` at x ~ U(0.5, 3) of shape (5,)
``sin_minus_cos``  gradient check of ``sum(sin(x) - cos(x))`` at x ~ N(0, 1) of shape (5,)
``exp``            gradient check of ``sum(exp(x))`` at x ~ N(0, 1) of shape (5,)
``network``        gradient check of the two-layer network at dims 10 5 10
                   (``check_net.check_network``)
=================  ======================================================================

Value items pass when every value matches the printed reference to its 8 decimals
(``|computed - reference| <= VALUE_TOL``, half a unit in the 8th decimal); gradient
items get the usual verdict (``verdict``).  Random inputs come from
``numpy.random.default_rng(seed)``, drawn item after item in suite order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Union

import numpy as np

from .network.model import sigmoid, sigmoid_grad, softmax

#: a printed reference value has 8 decimals: it is within half a unit of the 8th decimal
VALUE_TOL = 0.5e-8 + 1e-15

SIGMOID_INPUT = np.array([[1.0, 2.0], [-1.0, -2.0]])
SOFTMAX_INPUT = np.array([[1001.0, 1002.0], [3.0, 4.0], [-1001.0, -1002.0]])


@dataclass(frozen=True)
class ValueItem:
    """Values computed by ``compute()`` compared with a printed reference (``expected``)."""

    name: str
    title: str
    compute: Callable[[], np.ndarray]
    expected: np.ndarray


@dataclass(frozen=True)
class GradientItem:
    """A gradient check of ``f(x) -> (cost, grad)`` at ``x = make_x(rng)``."""

    name: str
    title: str
    f: Callable[[np.ndarray], tuple]
    make_x: Callable[[np.random.Generator], np.ndarray]


@dataclass(frozen=True)
class NetworkItem:
    """A gradient check of the built-in network at ``dims`` (``check_net.check_network``)."""

    name: str
    title: str
    dims: tuple[int, ...]


SanityItem = Union[ValueItem, GradientItem, NetworkItem]


def quad(x):
    """``sum(x**2)`` and its gradient ``2 x`` (the course's ``quad``)."""
    return np.sum(x**2), 2 * x


def log_sum(x):
    """``sum(ln(x))`` and its gradient ``1 / x``."""
    return np.sum(np.log(x)), 1 / x


def sin_minus_cos(x):
    """``sum(sin(x) - cos(x))`` and its gradient ``cos(x) + sin(x)``."""
    return np.sum(np.sin(x) - np.cos(x)), np.cos(x) + np.sin(x)


def exp_sum(x):
    """``sum(exp(x))`` and its gradient ``exp(x)``."""
    return np.sum(np.exp(x)), np.exp(x)


SUITE: tuple[SanityItem, ...] = (
    ValueItem(
        "sigmoid",
        "sigmoid([[1, 2], [-1, -2]])",
        lambda: sigmoid(SIGMOID_INPUT),
        np.array([[0.73105858, 0.88079708], [0.26894142, 0.11920292]]),
    ),
    ValueItem(
        "sigmoid_grad",
        "sigmoid_grad(sigmoid([[1, 2], [-1, -2]]))",
        lambda: sigmoid_grad(sigmoid(SIGMOID_INPUT)),
        np.array([[0.19661193, 0.10499359], [0.19661193, 0.10499359]]),
    ),
    ValueItem(
        "softmax",
        "softmax([[1001, 1002], [3, 4], [-1001, -1002]])",
        lambda: softmax(SOFTMAX_INPUT),
        np.array([[0.26894142, 0.73105858], [0.26894142, 0.73105858], [0.73105858, 0.26894142]]),
    ),
    GradientItem("quad_scalar", "sum(x**2), scalar x", quad, lambda rng: np.array(123.456)),
    GradientItem("quad_1d", "sum(x**2), x of shape (3,)", quad, lambda rng: rng.standard_normal(3)),
    GradientItem("quad_2d", "sum(x**2), x of shape (4, 5)", quad, lambda rng: rng.standard_normal((4, 5))),
    GradientItem("ln", "sum(ln(x))", log_sum, lambda rng: rng.uniform(0.5, 3.0, 5)),
    GradientItem("sin_minus_cos", "sum(sin(x) - cos(x))", sin_minus_cos, lambda rng: rng.standard_normal(5)),
    GradientItem("exp", "sum(exp(x))", exp_sum, lambda rng: rng.standard_normal(5)),
    NetworkItem("network", "two-layer network, dims 10 5 10", (10, 5, 10)),
)


def item_names() -> tuple[str, ...]:
    """Names of the suite's items, in order."""
    return tuple(item.name for item in SUITE)
