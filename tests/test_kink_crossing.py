"""A correct gradient never fails where the stencil crosses a relu kink near the point
(pre-activations within a step of 0); a wrong one still fails there."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from gradcheck_cli.checks.layer import check_layer
from gradcheck_cli.checks.model import check_model_command
from gradcheck_cli.verdict import Status

MODELS = Path(__file__).parent / "models"


def affine_relu_forward(x, w, b):
    z = x @ w + b
    return np.maximum(z, 0), (x, w, z)


def affine_relu_backward(dout, cache):
    x, w, z = cache
    dz = dout * (z > 0)
    return dz @ w.T, x.T @ dz, dz.sum(axis=0)


def near_kink_inputs(seed=0):
    """x ~ N(0, 1), w ~ 1e-6 N(0, 1): every pre-activation within ~1e-5 of 0."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((4, 5))
    w = 1e-6 * rng.standard_normal((5, 6))
    b = 1e-6 * rng.standard_normal(6)
    z = x @ w + b
    assert np.all(np.abs(z) < 1e-5) and np.all(z != 0)
    return {"x": x, "w": w, "b": b}


def test_two_layer_net_with_hidden_units_near_relu_kinks_reads_no_fail():
    # weight_scale 1e-3: hidden pre-activations 1e-5 .. 1e-3, the first look's steps cross them
    report = check_model_command(f"{MODELS / 'fc_net.py'}:TwoLayerNet",
                                 init=json.dumps({"input_dim": 5, "hidden_dim": 4, "num_classes": 3}),
                                 inputs=["X=4,5", "y=int:3:4"], seed=0)
    assert report.counts["fail"] == 0 and report.status is not Status.FAIL
    # the entries the old estimate failed are verified now
    by_label = {c.label: c.status for c in report.checks}
    assert by_label.get("W1[0, 1]", Status.PASS) is not Status.FAIL
    assert report.counts["pass"] >= 30


def test_correct_relu_layer_with_pre_activations_within_1e5_of_zero_reads_no_fail():
    report = check_layer(affine_relu_forward, affine_relu_backward, near_kink_inputs(), mode="full")
    assert report.counts["fail"] == 0 and report.status is not Status.FAIL
    elementwise = check_layer(lambda x: (np.maximum(x, 0), x), lambda dout, x: dout * (x > 0),
                              {"x": 1e-5 * np.random.default_rng(1).standard_normal((4, 5))}, mode="full")
    assert elementwise.counts["fail"] == 0 and elementwise.status is not Status.FAIL


def test_relu_layer_with_a_real_bug_near_kinks_still_fails():
    inputs = near_kink_inputs()

    def no_mask(dout, cache):  # the relu mask is missing: wrong wherever z < 0
        x, w, z = cache
        return dout @ w.T, x.T @ dout, dout.sum(axis=0)

    report = check_layer(affine_relu_forward, no_mask, inputs, mode="full")
    assert report.status is Status.FAIL
    failing = {c.label.split("[")[0] for c in report.checks if c.status is Status.FAIL}
    assert {"w", "b"} <= failing

    def scaled_dw(dout, cache):  # dw 10% too large, right mask
        dx, dw, db = affine_relu_backward(dout, cache)
        return dx, 1.1 * dw, db

    report = check_layer(affine_relu_forward, scaled_dw, inputs, mode="full")
    assert report.status is Status.FAIL
    assert {c.label.split("[")[0] for c in report.checks if c.status is Status.FAIL} == {"w"}


def test_ladder_descends_below_a_kink_near_the_point_and_its_bound_holds_the_truth():
    from gradcheck_cli.blackbox.ladder import derivative_along

    # phi(t) = sin(t) + 3 relu(t - d): smooth at 0 with phi'(0) = 1 + 3 [d < 0], a kink at d
    for d in (1e-3, 1e-5, -2e-6):
        phi = lambda t, d=d: np.sin(t) + 3 * max(t - d, 0.0)  # noqa: E731
        r = derivative_along(lambda h: (phi(h), phi(-h), 0.0), 0.1, phi(0.0), noise=0.0)
        assert abs(r.value - (1.0 + 3.0 * (d < 0))) <= r.error < 1e-6 and not r.kink
        assert r.step < abs(d)
    # a kink at the point itself stays a kink, and no estimate claims a derivative there
    phi = lambda t: np.sin(t) + 3 * max(t, 0.0)  # noqa: E731
    r = derivative_along(lambda h: (phi(h), phi(-h), 0.0), 0.1, phi(0.0), noise=0.0, kink_test=True)
    assert r.kink and not r.error < 1.0


def test_first_look_across_a_kink_is_no_evidence():
    from gradcheck_cli.blackbox.stencils import blackbox_gradient

    # f(x) = x + 5 relu(x - 2e-5) at x = 0: the first look's steps (~7e-4) cross the kink
    est = blackbox_gradient(lambda z: float(z[0] + 5 * max(z[0] - 2e-5, 0.0)), np.array([0.0]), claimed=np.ones(1))
    assert abs(est.value[0] - 1.0) <= est.noise[0] < 1e-6 and not est.kink[0]


def test_a_first_look_across_a_relu_kink_7e5_away_is_no_kink_at_the_point():
    # CS231n's two-layer net as f(params) at std 1e-4: W1[7, 5] and W1[8, 3] have their
    # nearest relu kinks 7.5e-5 and 1.2e-4 away, inside the first look's steps (7e-4); the
    # one-sided test of that first look alone called them kinks (numeric of the wrong sign)
    from gradcheck_cli.blackbox.stencils import blackbox_gradient

    rng = np.random.RandomState(0)
    X, y = np.random.default_rng(50).standard_normal((8, 12)), np.random.default_rng(51).integers(0, 4, 8)
    p = np.concatenate([1e-4 * rng.randn(120), np.zeros(10), 1e-4 * rng.randn(40), np.zeros(4)])

    def loss_grad(q):
        W1, b1, W2, b2 = q[:120].reshape(12, 10), q[120:130], q[130:170].reshape(10, 4), q[170:]
        z = X @ W1 + b1
        h = np.maximum(0, z)
        s = h @ W2 + b2
        s = s - s.max(axis=1, keepdims=True)
        pr = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
        loss = -np.sum(np.log(pr[np.arange(8), y])) / 8
        ds = pr.copy()
        ds[np.arange(8), y] -= 1
        ds /= 8
        dz = ds @ W2.T * (z > 0)
        return loss, X.T @ dz

    g = loss_grad(p)[1].ravel()
    idx = np.array([75, 83])
    z = X @ p[:120].reshape(12, 10)
    for j in idx:  # a kink near, not at, the point
        d = np.min(np.abs(z[:, j % 10] / X[:, j // 10]))
        assert 5e-5 < d < 2e-4
    est = blackbox_gradient(lambda q: loss_grad(q)[0], p, indices=idx, claimed=g[idx])
    assert not est.kink.any()
    assert np.all(np.abs(est.value - g[idx]) <= est.noise + 1e-7 * np.abs(g[idx])), (est.value, g[idx], est.noise)
