"""`gradcheck model` / `check_model`: CS231n-style models (tests/models), correct and with the
mistakes students make, one block per key of model.params."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gradcheck_cli.checks.model import check_model, check_model_command
from gradcheck_cli.errors import OptionError, UserCodeError
from gradcheck_cli.verdict import FLOAT32_PASS_TOL, Status

from conftest import assert_one_error_line
from gradcheck_cli.cli import ExitCode

MODELS = Path(__file__).parent / "models"
NET = f"{MODELS / 'fc_net.py'}:FullyConnectedNet"
BUGGY = f"{MODELS / 'buggy_nets.py'}:"
FC = {"hidden_dims": [20, 30], "input_dim": 15, "num_classes": 10, "weight_scale": 5e-2, "dtype": "float64"}
DATA = ["X=3,15", "y=int:10:3"]


def init(**extra) -> str:
    return json.dumps({**FC, "reg": 0.1, **extra})


def statuses(report) -> dict:
    return {b.name: b.status for b in report.blocks}


def test_fully_connected_net_passes_block_by_block():
    report = check_model_command(NET, init=init(), inputs=DATA, seed=2)
    assert [b.name for b in report.blocks] == ["W1", "b1", "W2", "b2", "W3", "b3"]
    assert report.counts["fail"] == 0 and report.passed
    # every block but the few entries float64 cannot resolve next to a relu kink verifies
    assert report.counts["pass"] >= 0.98 * report.counts["checks"]
    assert isinstance(report.subject.loss, float) and report.subject.loss > 0
    assert report.hints == ()


def test_fully_connected_net_with_batchnorm_and_dropout_passes():
    report = check_model_command(NET, init=init(normalization="batchnorm", dropout_keep_ratio=0.5, seed=123),
                                 inputs=DATA, seed=1)
    assert [b.name for b in report.blocks][:4] == ["W1", "b1", "gamma1", "beta1"]
    assert report.counts["fail"] == 0 and report.passed
    s = statuses(report)
    # gamma, beta and the last layer verify; b1 and b2 are exactly 0 in truth (batchnorm
    # removes a bias), which a claim of 1e-17 cannot be verified to be
    assert all(s[k] is Status.PASS for k in ("gamma1", "beta1", "gamma2", "beta2", "W3", "b3")), s


def test_model_params_are_restored_and_the_model_untouched():
    from gradcheck_cli.checks.model import load_model

    model, _ = load_model(NET, {**FC, "reg": 0.1, "normalization": "batchnorm"}, seed=0)
    before = {k: v.copy() for k, v in model.params.items()}
    objects = dict(model.params)
    X = np.random.default_rng(0).standard_normal((3, 15))
    y = np.array([1, 2, 3])
    report = check_model(model, X, y, wrt="W3,b3")
    assert report.passed and [b.name for b in report.blocks] == ["W3", "b3"]
    assert all(model.params[k] is objects[k] and np.array_equal(model.params[k], before[k]) for k in before)
    assert "running_mean" not in model.bn_params[0]  # the bn_params as they were


@pytest.mark.parametrize("cls, block, hint", [
    ("MissingReg", "W1", "the regularisation gradient reg * W1 is missing"),
    ("RegDoubled", "W2", "counted twice"),
    ("RegHalfDropped", "W3", "without the 0.5"),
])
def test_regularisation_mistakes_fail_with_the_reg_hint(cls, block, hint):
    report = check_model_command(BUGGY + cls, init=init(), inputs=DATA, seed=2)
    s = statuses(report)
    assert not report.passed
    assert all(s[f"W{i}"] is Status.FAIL for i in (1, 2, 3)), s
    assert all(s[f"b{i}"] is not Status.FAIL for i in (1, 2, 3)), s  # no reg on biases
    assert any(h.startswith(f"{block}: analytic - numeric = ") and hint in h for h in report.hints), report.hints


def test_mean_loss_with_summed_gradient_is_a_factor_n():
    report = check_model_command(BUGGY + "MeanLossSummedGrad", init=init(reg=0.0), inputs=DATA, seed=2)
    assert all(b.status is Status.FAIL for b in report.blocks)
    assert any("3.0x the numeric value" in h and "mean cost with a summed gradient" in h for h in report.hints)


def test_dropout_mask_not_reused_fails_below_the_dropout():
    report = check_model_command(BUGGY + "DropoutMaskNotReused", init=init(dropout_keep_ratio=0.5, seed=123),
                                 inputs=DATA, seed=1)
    s = statuses(report)
    assert s["W1"] is Status.FAIL and s["W2"] is Status.FAIL
    assert s["W3"] is not Status.FAIL and s["b3"] is Status.PASS  # above the last dropout: right
    assert any(h.endswith("or a dropout mask that must be the one the forward pass drew") for h in report.hints)


def test_batchnorm_gamma_over_the_wrong_axis():
    # N == D: the shapes agree and gamma1 alone fails
    one = init(normalization="batchnorm", hidden_dims=[20])
    report = check_model_command(BUGGY + "GammaWrongAxis", init=one, inputs=["X=20,15", "y=int:10:20"],
                                 wrt="gamma1,beta1,W2", seed=0)
    s = statuses(report)
    assert s["gamma1"] is Status.FAIL and s["beta1"] is not Status.FAIL and s["W2"] is Status.PASS, s
    # otherwise the shape is wrong: exit 2 naming the key
    with pytest.raises(UserCodeError, match=r"gradient of shape \(3,\), expected \(20,\) \(the shape of params\['gamma1'\]\)"):
        check_model_command(BUGGY + "GammaWrongAxis", init=one, inputs=DATA)


def test_wrong_keys_and_shapes_are_exit_2_naming_the_key(cli):
    r = cli("model", BUGGY + "WrongKeys", "--init", init(), "--input", "X=3,15", "--input", "y=int:10:3")
    assert_one_error_line(r, "without the key 'W1'")
    r = cli("model", BUGGY + "TransposedW2", "--init", init(), "--input", "X=3,15", "--input", "y=int:10:3")
    assert_one_error_line(r, "gradient of shape (30, 20), expected (20, 30) (the shape of params['W2'])")


def test_a_model_that_is_not_repeatable_is_refused():
    with pytest.raises(UserCodeError, match="two different losses"):
        check_model_command(BUGGY + "Unseeded", init=init(), inputs=DATA)


def test_factory_and_cli_json(cli):
    r = cli("model", f"{MODELS / 'fc_net.py'}:make_net", "--input", "X=3,15", "--input", "y=int:10:3",
            "--wrt", "W2,b2", "--format", "json")
    assert r.code == ExitCode.OK, r.err
    doc = json.loads(r.out)
    assert doc["command"] == "model" and doc["status"] == "pass"
    assert [b["name"] for b in doc["blocks"]] == ["W2", "b2"]
    assert {"name", "shape", "checked", "max_rel_error", "worst_index", "status"} <= set(doc["blocks"][0])
    assert doc["param_count"] == 20 * 10 + 10  # W2 20 x 10 and b2 10
    assert doc["summary"]["checks"] == 210 and all("index" in c for c in doc["checks"])
    assert doc["model"]["checked"] == ["W2", "b2"] and doc["effort"]["calls"] > 0


def test_inputs_bind_by_name_and_bad_options_are_exit_2(cli):
    r = cli("model", NET, "--init", init(), "--input", "y=int:10:3", "--input", "X=3,15", "--wrt", "b3", "-q")
    assert r.code == ExitCode.OK, r.err
    assert_one_error_line(cli("model", NET, "--init", "{not json", "--input", "X=3,15"), "--init", "not valid JSON")
    assert_one_error_line(cli("model", NET, "--init", init(), "--input", "X=3,15", "--input", "y=int:10:3",
                              "--wrt", "W9"), "--wrt", "'W9' is not a key of model.params")
    assert_one_error_line(cli("model", NET, "--init", init()), "--input")


def test_check_model_api_and_table():
    from gradcheck_cli import check_model as exported
    from gradcheck_cli.views.table import to_text

    class Linear:
        def __init__(self):
            self.params = {"W": np.arange(6.0).reshape(3, 2) / 10, "b": np.zeros(2)}
            self.reg = 0.5

        def loss(self, X, y):
            r = X @ self.params["W"] + self.params["b"] - y
            return 0.5 * np.sum(r**2), {"W": X.T @ r, "b": r.sum(0)}  # the reg term forgotten

    assert exported is check_model
    X, y = np.random.default_rng(1).standard_normal((4, 3)), np.ones((4, 2))
    assert check_model(Linear(), X, y).passed
    Linear.loss_ok = Linear.loss

    def with_reg(self, X, y):
        loss, grads = Linear.loss_ok(self, X, y)
        return loss + 0.5 * self.reg * np.sum(self.params["W"] ** 2), grads

    Linear.loss = with_reg
    report = check_model(Linear(), X, y)
    assert [b.status for b in report.blocks] == [Status.FAIL, Status.PASS]
    text = to_text(report, width=120)
    assert "model Linear(); loss(X, y) -> (loss, grads)" in text
    assert "W: analytic - numeric = -reg * W (reg = 0.5): the regularisation gradient reg * W is missing" in text
    with pytest.raises(OptionError, match="--wrt"):
        check_model(Linear(), X, y, wrt="V")


def test_assert_model():
    from gradcheck_cli.testing import assert_model

    class Quadratic:
        def __init__(self, factor):
            self.params = {"w": np.array([1.0, -2.0, 3.0])}
            self.factor = factor

        def loss(self, X, y):
            w = self.params["w"]
            return float(np.sum((X @ w - y) ** 2)), {"w": self.factor * X.T @ (X @ w - y)}

    X, y = np.eye(3), np.zeros(3)
    assert_model(Quadratic(2.0), X, y)
    with pytest.raises(AssertionError, match="gradient check failed \\(model\\)"):
        assert_model(Quadratic(1.0), X, y)


def test_cs231n_batchnorm_gradient_check_of_two_samples_does_not_fail():
    # the course notebook's own configuration: N = 2, hidden [20, 30], batchnorm
    report = check_model_command(NET, init=init(normalization="batchnorm"), inputs=["X=2,15", "y=int:10:2"], seed=0)
    assert report.counts["fail"] == 0


def test_float32_params_are_checked_in_float64_and_it_says_so():
    from gradcheck_cli.views.table import to_text

    class Linear32:
        def __init__(self):
            self.params = {"W": np.linspace(-1, 1, 6, dtype=np.float32).reshape(3, 2)}

        def loss(self, X, y):
            r = X @ self.params["W"] - y
            return 0.5 * np.sum(r**2), {"W": X.T @ r}

    model = Linear32()
    report = check_model(model, np.eye(3) + 0.25, np.zeros((3, 2)))
    assert report.status is Status.PASS and report.subject.converted == ("W",)
    assert model.params["W"].dtype == np.float32
    assert "W held in lower precision than float64" in " ".join(to_text(report, width=200).split())


# ---- issue 16's evidence for models: lifting, the zero rule's scale, the float32 default
BRIEF = {"hidden_dims": [20, 30], "input_dim": 15, "num_classes": 10, "reg": 0.1, "dtype": "float64"}


def test_correct_fc_net_with_batchnorm_reads_pass_every_entry():
    # the course's configuration (N = 2): W1/W2 entries float64 cannot verify are settled
    # in extended precision (the model computes in the dtype of its params), and b1/b2,
    # whose true gradient is exactly 0 (batchnorm removes a bias) while the code returns
    # ~1e-17, are zero to within round-off of the loss per unit x
    report = check_model_command(NET, init=json.dumps({**BRIEF, "normalization": "batchnorm"}),
                                 inputs=["X=2,15", "y=int:10:2"], seed=0)
    assert report.status is Status.PASS
    assert report.counts["pass"] == report.counts["checks"] == 1360
    assert report.thresholds.pass_tol == 1e-7


def test_correct_fc_net_without_batchnorm_reads_pass_every_entry():
    report = check_model_command(NET, init=json.dumps(BRIEF), inputs=["X=2,15", "y=int:10:2"], seed=0)
    assert report.counts["fail"] == 0
    assert report.counts["pass"] == report.counts["checks"]


class _CentredBias:
    """loss = 0.5 |(X + b - mean(X + b)) W|^2: b cancels, its true gradient is exactly 0."""

    def __init__(self, db):
        self.params = {"W": np.linspace(-1.0, 1.5, 6).reshape(3, 2), "b": np.array([0.3, -0.2, 0.1])}
        self.db = db

    def loss(self, X, y=None):
        W, b = self.params["W"], self.params["b"]
        Z = X + b
        C = Z - Z.mean(axis=0)
        out = C @ W
        loss = 0.5 * np.sum(out**2)
        dW = C.T @ out
        dC = out @ W.T
        db = (dC - dC.mean(axis=0)).sum(axis=0) + self.db  # mathematically 0
        return loss, {"W": dW, "b": db}


def test_a_claim_that_is_zero_to_round_off_passes_and_a_small_wrong_one_fails():
    X = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75], [-0.5, 1.0, 0.3]])
    right = check_model(_CentredBias(0.0), X)
    assert statuses(right) == {"W": Status.PASS, "b": Status.PASS}
    # z is a few ulps of |loss| per unit x (~1e-14 here): 1e-9 is a wrong derivative
    wrong = check_model(_CentredBias(1e-9), X)
    assert statuses(wrong)["b"] is Status.FAIL


def test_a_model_computing_in_float32_gets_float32s_pass_tolerance():
    class Linear32:
        def __init__(self):
            self.params = {"W": np.linspace(-1, 1, 6).reshape(3, 2)}

        def loss(self, X, y):
            W = self.params["W"].astype(np.float32)
            r = X.astype(np.float32) @ W - y.astype(np.float32)
            return np.float32(0.5) * np.sum(r**2), {"W": X.T.astype(np.float32) @ r}

    report = check_model(Linear32(), np.eye(3) + 0.25, np.zeros((3, 2)))
    assert report.thresholds.pass_tol == FLOAT32_PASS_TOL and report.thresholds.precision == "float32"
    assert report.status is Status.PASS
    # an explicit --pass-tol wins
    from gradcheck_cli.verdict import Thresholds

    chosen = check_model(Linear32(), np.eye(3) + 0.25, np.zeros((3, 2)), thresholds=Thresholds(pass_tol=1e-6))
    assert chosen.thresholds.pass_tol == 1e-6
