"""CS231n's names found on their own (``layer_names``), and losses of several arrays bound by
name (CS224n's word2vec) through ``gradcheck layer``."""

from __future__ import annotations

from pathlib import Path

import pytest

from gradcheck_cli.checks.layer import check_layer_command
from gradcheck_cli.errors import OptionError, UserCodeError
from gradcheck_cli.layer_names import defined_names, find_pair, partner
from gradcheck_cli.verdict import Status

from conftest import assert_one_error_line
from gradcheck_cli.cli import ExitCode

LAYERS = Path(__file__).parent / "layers"
NAMES = f"{LAYERS / 'cs231n_names.py'}"
W2V = f"{LAYERS / 'word2vec.py'}"
CONV = ["--input", "x=2,3,6,6", "--input", "w=4,3,3,3", "--input", "b=4", "--param", 'conv_param={"stride": 1, "pad": 1}']
POOL = ["--input", "x=2,3,4,4", "--param", 'pool_param={"pool_height": 2, "pool_width": 2, "stride": 2}']
CS231N = {"conv_forward_naive", "conv_backward_naive", "max_pool_forward_naive", "max_pool_backward_naive",
          "affine_forward", "affine_backward", "affine_relu_forward", "affine_relu_backward", "softmax_loss"}


@pytest.mark.parametrize("label, pair", [
    ("conv_naive", ("conv_forward_naive", "conv_backward_naive")),
    ("max_pool_naive", ("max_pool_forward_naive", "max_pool_backward_naive")),
    ("conv_forward_naive", ("conv_forward_naive", "conv_backward_naive")),
    ("max_pool_backward_naive", ("max_pool_forward_naive", "max_pool_backward_naive")),
    ("affine", ("affine_forward", "affine_backward")),
    ("affine_relu", ("affine_relu_forward", "affine_relu_backward")),
    ("softmax_loss", None),
    ("conv", None),
])
def test_find_pair(label, pair):
    assert find_pair(CS231N, label) == pair


def test_our_convention_comes_first_and_partners():
    names = {"conv_naive_forward", "conv_naive_backward", "conv_forward_naive", "conv_backward_naive"}
    assert find_pair(names, "conv_naive") == ("conv_naive_forward", "conv_naive_backward")
    assert partner(CS231N, "conv_forward_naive") == "conv_backward_naive"
    assert partner(CS231N, "max_pool_backward_naive") == "max_pool_forward_naive"
    assert partner(CS231N, "softmax_loss") is None


def test_defined_names_reads_the_text_without_running_it():
    names, complete = defined_names("import numpy as np\nfrom m import a as b\ndef f(): pass\nclass C: pass\n"
                                    "X = 1\nraise SystemExit('never run')\n")
    assert names == {"np", "b", "f", "C", "X"} and complete
    assert defined_names("from layers import *\n")[1] is False
    assert defined_names("def (:\n") == (set(), False)


@pytest.mark.parametrize("args", [
    [f"{NAMES}:conv_naive", *CONV],
    [f"{NAMES}:conv_forward_naive", *CONV],
    ["--forward", f"{NAMES}:conv_forward_naive", "--backward", f"{NAMES}:conv_backward_naive", *CONV],
    [NAMES, "--forward", "conv_forward_naive", "--backward", "conv_backward_naive", *CONV],
    ["--forward", f"{NAMES}:max_pool_forward_naive", *POOL],
    [f"{NAMES}:max_pool_naive", *POOL],
])
def test_cs231n_names_from_the_command_line(cli, args):
    r = cli("layer", *args, "-q")
    assert r.code == ExitCode.OK and r.err == "", r.err
    assert "0 fail" in r.out


def test_the_forward_and_backward_are_named_in_the_report():
    report = check_layer_command(f"{NAMES}:conv_naive", inputs=["x=2,3,6,6", "w=4,3,3,3", "b=4"],
                                 params=['conv_param={"stride": 1, "pad": 1}'])
    assert report.subject.forward.endswith(":conv_forward_naive")
    assert report.subject.backward.endswith(":conv_backward_naive")
    assert report.status is Status.PASS


def test_a_forward_pass_given_as_a_loss_says_so(tmp_path, cli):
    code = tmp_path / "only_forward.py"
    code.write_text("def conv_forward_naive(x, w):\n    return x @ w, (x, w)\n")
    r = cli("layer", f"{code}:conv_forward_naive", "--input", "x=3,4", "--input", "w=4,2")
    assert_one_error_line(r, "returned an array of shape (3, 2) as the loss: this is a forward pass", "--backward")


def test_no_label_and_no_pair_is_bad_input(cli):
    assert_one_error_line(cli("layer", "--input", "x=3"), "name the layer")
    assert_one_error_line(cli("layer", "--forward", f"{W2V}:softmax", "--input", "x=3"), "--backward is needed too")


def test_word2vec_is_one_command_with_named_blocks():
    args = dict(inputs=["centerWordVec=3", "outsideVectors=5,3"], params=["outsideWordIdx=2", "dataset=null"])
    report = check_layer_command(f"{W2V}:naiveSoftmaxLossAndGradient", **args)
    assert report.status is Status.PASS
    assert [b.name for b in report.blocks] == ["centerWordVec", "outsideVectors"]
    bad = check_layer_command(f"{W2V}:naiveSoftmaxForgetsSoftmax", **args)
    assert {b.name: b.status for b in bad.blocks} == {"centerWordVec": Status.PASS, "outsideVectors": Status.FAIL}


def test_word2vec_index_as_an_integer_input_is_passed_through():
    report = check_layer_command(f"{W2V}:naiveSoftmaxLossAndGradient",
                                 inputs=["outsideVectors=5,3", "outsideWordIdx=int:5:scalar", "centerWordVec=3"],
                                 params=["dataset=null"])
    assert report.passed and report.counts["fail"] == 0
    assert [b.name for b in report.blocks] == ["centerWordVec", "outsideVectors"]  # the function's order


def test_a_parameter_left_unbound_is_named():
    with pytest.raises(OptionError, match="parameter 'outsideWordIdx' is neither an --input nor a --param"):
        check_layer_command(f"{W2V}:naiveSoftmaxLossAndGradient", inputs=["centerWordVec=3", "outsideVectors=5,3"])


def test_a_missing_gradient_is_named():
    with pytest.raises(UserCodeError, match="returned 2 gradients, expected 3"):
        check_layer_command(f"{W2V}:naiveSoftmaxLossAndGradient",
                            inputs=["centerWordVec=3", "outsideVectors=5,3", "dataset=2"],
                            params=["outsideWordIdx=2"])


def test_a_parameter_left_to_its_default_keeps_its_place(tmp_path):
    code = tmp_path / "scaled.py"
    code.write_text("import numpy as np\n"
                    "def scaled_loss(x, scale=2.0, w=None):\n"
                    "    return scale * np.sum(x * w), scale * w, scale * x\n")
    report = check_layer_command(f"{code}:scaled_loss", inputs=["w=3", "x=3"])
    assert report.status is Status.PASS and [b.name for b in report.blocks] == ["x", "w"]
    assert report.subject.arguments == ("x", "scale", "w")
