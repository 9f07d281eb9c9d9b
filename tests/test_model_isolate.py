"""`gradcheck model --isolate`: the model is made and called in a child process (the one
mechanism of usercode/isolate.py), the check computed here; what the model does cannot end
our run or forge a pass."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

from conftest import assert_one_error_line, timeless
from gradcheck_cli.cli import ExitCode
from gradcheck_cli.usercode.isolate import _decode, _encode

MODELS = Path(__file__).parent / "models"
SMALL = ["--init", json.dumps({"input_dim": 5, "hidden_dim": 6, "num_classes": 4, "weight_scale": 0.5, "reg": 0.1}),
         "--input", "X=3,5", "--input", "y=int:4:3"]

CODE = '''
import os
import numpy as np
from collections import OrderedDict


class Softmax:
    """Softmax regression with L2 regularisation; mistakes switched on by name."""

    def __init__(self, dim=4, classes=3, reg=0.1, mistake=None):
        self.params = {"W": np.random.randn(dim, classes), "b": np.zeros(classes)}
        self.reg, self.mistake = reg, mistake

    def loss(self, X, y):
        W, b = self.params["W"], self.params["b"]
        s = X @ W + b
        p = np.exp(s - s.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        n = len(y)
        loss = -np.log(p[np.arange(n), y]).mean() + 0.5 * self.reg * np.sum(W * W)
        d = p.copy()
        d[np.arange(n), y] -= 1
        d /= n
        grads = OrderedDict(W=X.T @ d + self.reg * W, b=d.sum(axis=0))
        if self.mistake == "exit":
            os._exit(0)
        if self.mistake == "forge":  # a wrong gradient, and numpy's abs made to return zeros
            grads["W"] = grads["W"] * 3
            np.abs = lambda a, *args, **kw: 0.0 * np.fabs(a)
        if self.mistake == "keys":
            grads["gamma"] = grads.pop("b")
        return loss, grads
'''


@pytest.fixture
def user_dir(tmp_path, monkeypatch):
    (tmp_path / "softmax.py").write_text(textwrap.dedent(CODE))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_json(cli, *args):
    r = cli(*args, "--format", "json")
    return r, (json.loads(r.out) if r.out else None)


def test_an_isolated_check_reports_what_the_in_process_one_does(cli):
    target = f"{MODELS / 'fc_net.py'}:TwoLayerNet"
    here, doc = run_json(cli, "model", target, *SMALL)
    there, iso = run_json(cli, "model", target, *SMALL, "--isolate")
    assert here.code == there.code == ExitCode.OK, there.err
    # the same numbers, block by block and entry by entry; the same number of calls
    assert timeless(iso) == timeless(doc)
    assert [b["name"] for b in iso["blocks"]] == ["W1", "b1", "W2", "b2"]


def test_an_isolated_buggy_model_fails_with_the_reg_hint(cli):
    r = cli("model", f"{MODELS / 'buggy_nets.py'}:MissingReg", "--init",
            json.dumps({"hidden_dims": [6], "input_dim": 5, "num_classes": 4, "weight_scale": 0.5, "reg": 0.1,
                        "dtype": "float64"}), "--input", "X=3,5", "--input", "y=int:4:3", "--isolate")
    assert r.code == ExitCode.CHECK_FAILED, r.err
    assert "hint: W1: analytic - numeric = -reg * W1 (reg = 0.1)" in r.out


def test_os_exit_in_the_models_loss_is_exit_2(cli, user_dir):
    r = cli("model", "softmax.py:Softmax", "--init", '{"mistake": "exit"}', "--input", "X=5,4",
            "--input", "y=int:3:5", "--isolate")
    assert_one_error_line(r, "ended the isolated process running it (exit code 0")


def test_monkeypatched_numpy_in_the_model_cannot_forge_a_pass(cli, user_dir):
    r = cli("model", "softmax.py:Softmax", "--init", '{"mistake": "forge"}', "--input", "X=5,4",
            "--input", "y=int:3:5", "--isolate", "-q")
    assert r.code == ExitCode.CHECK_FAILED and "12 fail" in r.out


def test_a_correct_model_with_an_ordered_dict_of_grads_passes(cli, user_dir):
    r = cli("model", "softmax.py:Softmax", "--input", "X=5,4", "--input", "y=int:3:5", "--isolate", "-q")
    assert (r.code, r.out) == (ExitCode.OK, "15 checks: 15 pass, 0 warn, 0 fail\n"), r.err


def test_isolated_bad_models_are_exit_2_naming_what(cli, user_dir):
    data = ["--input", "X=5,4", "--input", "y=int:3:5", "--isolate"]
    assert_one_error_line(cli("model", "softmax.py:Softmax", "--init", '{"mistake": "keys"}', *data),
                          "without the key 'b'")
    assert_one_error_line(cli("model", "softmax.py:Nothere", *data), "Nothere")
    # the constructor raised: its error as in-process (the line, then the user's traceback)
    here = cli("model", "softmax.py:Softmax", "--init", '{"depth": 3}', *data[:-1])
    there = cli("model", "softmax.py:Softmax", "--init", '{"depth": 3}', *data)
    assert here.code == there.code == ExitCode.BAD_INPUT and there.out == ""
    assert there.err.splitlines()[0] == here.err.splitlines()[0] == (
        "error: softmax.py:Softmax raised TypeError: Softmax.__init__() got an unexpected keyword argument 'depth'")


def test_numbers_cross_the_pipe_as_raw_bytes_checked_against_their_shape():
    blobs: list[bytes] = []
    value = {"W": np.arange(6.0).reshape(2, 3).T, "n": np.arange(3, dtype=np.int32), "s": np.float32(2.5),
             "z": np.array(1.5, dtype=np.longdouble), "l": np.longdouble(2) / 3}
    back = _decode(_encode(value, blobs), blobs)
    assert back["W"].tolist() == value["W"].tolist() and back["W"].flags.writeable
    assert back["n"].dtype == np.int32 and back["z"].dtype == np.longdouble and back["z"].shape == ()
    assert back["l"] == np.longdouble(2) / 3  # a lifted cost keeps its digits
    node = _encode(np.arange(4.0), blobs := [])
    for bad in ([node["b"][0], "<f8", [5]], [node["b"][0], "|O", [4]], [node["b"][0], "<f8", [-4]]):
        with pytest.raises((ValueError, TypeError)):
            _decode({"b": bad}, blobs)
