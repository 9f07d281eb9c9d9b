"""Tests of gradcheck_cli.usercode.protocols: what users' code must return, validated in one place."""

from __future__ import annotations

import numpy as np
import pytest

from gradcheck_cli.errors import NonFiniteCostError, UserCodeError
from gradcheck_cli.usercode import protocols

PARAMS = {"W1": np.zeros((3, 2)), "b1": np.zeros(2)}


def test_model_loss_accepts_grads_keyed_like_params():
    loss, grads = protocols.model_loss((np.float64(1.5), {"W1": np.ones((3, 2)), "b1": [1, 2]}), "m.loss", PARAMS)
    assert loss == 1.5
    assert list(grads) == ["W1", "b1"] and grads["b1"].dtype == np.float64 and grads["b1"].tolist() == [1.0, 2.0]


@pytest.mark.parametrize("result, message", [
    (1.0, "m.loss returned a single number (1.0), expected a pair (loss, grads)"),
    ((1.0, [1, 2]), "m.loss returned a list of 2 items as grads, expected a dict keyed like params"),
    ((1.0, {"W1": np.ones((3, 2))}), "m.loss returned grads without the key 'b1' (params has 'W1', 'b1')"),
    ((1.0, {**PARAMS, "W2": np.ones(1)}), "m.loss returned grads with the key 'W2', which params does not have"),
    ((1.0, {"W1": np.ones((2, 3)), "b1": np.ones(2)}),
     "m.loss returned a gradient of shape (2, 3), expected (3, 2) (the shape of params['W1'])"),
])
def test_model_loss_names_what_is_wrong(result, message):
    with pytest.raises(UserCodeError) as info:
        protocols.model_loss(result, "m.loss", PARAMS)
    assert str(info.value) == message


def test_model_loss_must_be_finite():
    with pytest.raises(NonFiniteCostError, match="returned a non-finite cost"):
        protocols.model_loss((float("nan"), dict(PARAMS)), "m.loss", PARAMS)
