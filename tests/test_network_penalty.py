"""network/penalty.py: an L2 penalty is recognised from the cost AND the gradient."""

from __future__ import annotations

import numpy as np
import pytest

from gradcheck_cli.network import model as m
from gradcheck_cli.network.penalty import coefficient_text, find_l2

SPEC = m.NetworkSpec((10, 5, 10))


def problem(seed=0):
    data, labels, params = m.make_problem(SPEC, 20, seed)
    cost, grad = m.cost_and_grad(SPEC, data, labels, params)
    weights = np.zeros(params.size, bool)
    for b in SPEC.blocks:
        weights[b.slice] = not b.is_bias
    return params, float(cost), np.asarray(grad, dtype=float).ravel(), weights


@pytest.mark.parametrize("c", [1e-6, 5e-4, 0.3])
@pytest.mark.parametrize("biases", [False, True])
def test_a_penalty_and_its_gradient_are_found(c, biases):
    params, cost, grad, weights = problem()
    on = np.ones(params.size, bool) if biases else weights
    yours = cost + c * float(np.sum(params[on] ** 2))
    g = grad + 2 * c * np.where(on, params, 0.0)
    l2 = find_l2(SPEC, params, yours, cost, 1e-13, g, grad)
    assert l2 is not None and l2.c == pytest.approx(c, rel=1e-8)
    assert l2.blocks == (("W1", "b1", "W2", "b2") if biases else ("W1", "W2"))


@pytest.mark.parametrize("factor", [0.0, 0.5, 2.0, -1.0])
def test_a_penalty_whose_gradient_is_wrong_is_not(factor):
    params, cost, grad, weights = problem(1)
    c = 5e-4
    yours = cost + c * float(np.sum(params[weights] ** 2))
    g = grad + factor * 2 * c * np.where(weights, params, 0.0)
    assert find_l2(SPEC, params, yours, cost, 1e-13, g, grad) is None


def test_other_cost_differences_are_not_a_penalty():
    params, cost, grad, weights = problem(2)
    # a mean for a sum: smaller cost; twice the cost: its gradient is the reference's, not 2 c W
    assert find_l2(SPEC, params, cost / 20, cost, 1e-13, grad / 20, grad) is None
    assert find_l2(SPEC, params, 2 * cost, cost, 1e-13, 2 * grad, grad) is None
    # a difference within the cost's round-off is no penalty (nothing to explain)
    assert find_l2(SPEC, params, cost + 1e-14, cost, 1e-13, grad, grad) is None
    # the penalty's gradient on a bias block that the cost does not penalise
    c = 1e-3
    g = grad + 2 * c * params
    assert find_l2(SPEC, params, cost + c * float(np.sum(params[weights] ** 2)), cost, 1e-13, g, grad) is None


def test_coefficient_text():
    assert coefficient_text(5e-4) == "5e-4"
    assert coefficient_text(1.25e-3) == "1.25e-3"
    assert coefficient_text(0.05) == "0.05"
    assert coefficient_text(2.0) == "2"
    assert coefficient_text(5.0000000001e-4) == "5e-4"
