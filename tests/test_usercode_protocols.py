"""Tests of gradcheck_cli.usercode.protocols: what users' code must return, validated in one place."""

from __future__ import annotations

import numpy as np
import pytest

from gradcheck_cli.cli import ExitCode
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


def test_finite_outputs():
    protocols.finite_outputs((np.ones(3),), "f", False)
    with pytest.raises(NonFiniteCostError) as info:
        protocols.finite_outputs((np.array([1.0, np.nan]),), "f", False, "x ~ N(0, 1)")
    assert str(info.value).startswith("f returned non-finite values in out (out[1] = nan) at the inputs drawn "
                                      "(x ~ N(0, 1)): if the layer is defined only for some inputs")


def test_a_layer_that_is_nan_at_the_drawn_inputs_is_exit_2_with_advice(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "logs.py").write_text(
        "import numpy as np\n"
        "def log_forward(x):\n    with np.errstate(all='ignore'):\n        return np.log(x), x\n"
        "def log_backward(dout, x):\n    return dout / x\n"
        "def logloss(x):\n    with np.errstate(all='ignore'):\n        return float(np.sum(np.log(x))), 1 / x\n")
    for target in ("logs.py:log", "logs.py:logloss"):
        r = cli("layer", target, "-i", "x=4")
        assert r.code == ExitCode.BAD_INPUT and r.out == "", r.err
        assert "non-finite" in r.err and "--input x=uniform:0.5..2:SHAPE" in r.err
        assert r.err.count("\n") == 1
    assert cli("layer", "logs.py:log", "-i", "x=uniform:0.5..2:4", "-q").code == ExitCode.OK
