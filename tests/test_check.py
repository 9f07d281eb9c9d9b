"""check.py: the expr orchestration and the per-block verdicts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gradcheck_cli.blocks import BlockData, judge_blocks
from gradcheck_cli.checks.expr import check_expression
from gradcheck_cli.errors import DomainError, OptionError, UnknownNameError
from gradcheck_cli.views.table import header_lines, to_json
from gradcheck_cli.verdict import Status, Thresholds


def test_default_is_three_random_points_seeded():
    a = check_expression("sin(x)-cos(x)")
    assert len(a.checks) == 3 and a.status is Status.PASS
    assert tuple(header_lines(a)) == ("d/dx = sin(x) + cos(x)",)
    b = check_expression("sin(x)-cos(x)", seed=0)
    assert [c.point for c in a.checks] == [c.point for c in b.checks]
    assert [c.point for c in a.checks] != [c.point for c in check_expression("sin(x)-cos(x)", seed=1).checks]


def test_random_points_avoid_the_outside_of_the_domain():
    report = check_expression("ln(x) + sqrt(y)", points=20)
    assert all(c.point["x"] > 0 and c.point["y"] > 0 for c in report.checks)
    assert report.status is Status.PASS


def test_claimed_gradients_positional_and_named():
    r = check_expression("x**2*y", at=["x=1,y=2"], grads=["2*x*y", "x**2"])
    assert [c.status for c in r.checks] == [Status.PASS, Status.PASS]
    assert tuple(header_lines(r)) == ("d/dx = 2*x*y  (claimed)", "d/dy = x**2  (claimed)")
    r = check_expression("x**2*y", at=["x=1,y=2"], grads=["y=2*x"])
    assert [(c.name, c.status) for c in r.checks] == [("x", Status.PASS), ("y", Status.FAIL)]
    assert tuple(header_lines(r))[0] == "d/dx = 2*x*y"


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"grads": ["1", "2"]}, OptionError, "--grad given 2 times but there is 1 variable"),
        ({"grads": ["z=1"]}, OptionError, "'z' is not differentiated"),
        ({"grads": ["x=1", "2"]}, OptionError, "give either one derivative per --wrt variable"),
        ({"grads": ["cos(q)"]}, UnknownNameError, "unknown variable 'q'"),
        ({"wrt": "q"}, OptionError, "--wrt: unknown variable 'q'"),
        ({"at": ["x=-1"]}, DomainError, "point x=-1 is outside the domain: f = log(x) is not real and finite there"),
        ({"at": ["x=0"]}, DomainError, "point x=0 is a singularity: f = log(x) is infinite there"),
        ({"points": 0}, OptionError, "--points must be at least 1"),
        ({"method": "forward"}, OptionError, "--method must be one of"),
        ({"eps": -1.0}, OptionError, "--eps must be a positive number"),
    ],
)
def test_bad_requests(kwargs, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_expression("log(x)", **kwargs)


def test_wrt_may_name_a_variable_given_only_in_at():
    r = check_expression("x**2", at=["x=1,y=5"], wrt="x,y")
    assert [(c.name, c.analytic, c.status) for c in r.checks] == [("x", 2.0, Status.PASS), ("y", 0.0, Status.PASS)]


def test_at_and_points_together():
    r = check_expression("x**3", at=["x=1"], points=2)
    assert len(r.checks) == 3 and r.checks[0].point == {"x": 1.0}


def test_at_constant_expressions():
    r = check_expression("sin(x)", at=["pi/4"])
    assert r.checks[0].point["x"] == pytest.approx(np.pi / 4)
    assert r.checks[0].analytic == pytest.approx(np.sqrt(0.5))


def test_json_document_matches_the_contract():
    r = check_expression("x**2 + y", at=["x=1.5,y=-2"])
    doc = json.loads(to_json(r))
    assert doc["command"] == "expr" and doc["status"] == "pass" and doc["method"] == "central"
    assert doc["thresholds"] == {"pass": 1e-07, "fail": 0.01}
    assert doc["summary"] == {"checks": 2, "pass": 2, "warn": 0, "fail": 0, "kink": 0, "unresolved": 0}
    first = doc["checks"][0]
    assert first["name"] == "x" and first["point"] == {"x": 1.5, "y": -2.0}
    assert first["analytic"] == 3.0 and first["numeric"] == pytest.approx(3.0, rel=1e-9)
    assert first["rel_error"] < 1e-9 and first["status"] == "pass" and first["error"] > 0


def test_non_finite_claim_fails_and_is_valid_json():
    r = check_expression("x**2", at=["x=0"], grads=["1/x"])
    assert r.checks[0].status is Status.FAIL
    assert json.loads(to_json(r))["checks"][0]["analytic"] is None


def test_judge_blocks_names_the_wrong_entry_and_keeps_all_failures():
    a = np.arange(1.0, 13.0)
    n = a.copy()
    n[[5, 7]] *= 2
    v = judge_blocks(
        [BlockData("W1", (3, 4), a, n, np.full(12, 1e-12)), BlockData("b1", (4,), np.ones(4), np.ones(4), np.full(4, 1e-12))],
        Thresholds(), top=1,
    )
    w1, b1 = v.blocks
    assert w1.status is Status.FAIL and w1.worst_index == (1, 1) and w1.max_rel_error == pytest.approx(0.5)
    assert b1.status is Status.PASS and b1.checked == 4
    assert [(c.name, c.index) for c in v.checks] == [("W1", (1, 1)), ("W1", (1, 3))]
    assert v.counts == {"checks": 16, "pass": 14, "warn": 0, "fail": 2, "kink": 0, "unresolved": 0}


def test_judge_blocks_with_sampled_indices_and_kinks():
    v = judge_blocks([BlockData("x", (2, 3), np.array([1.0, 5.0]), np.array([1.0, 9.0]), np.full(2, 1e-12),
                                kink=np.array([False, True]), indices=np.array([4, 5]))], Thresholds())
    assert v.blocks[0].status is Status.PASS and v.counts["kink"] == 1
    # rows by status: a kink before a pass (issue 16 item 7); a kink is never the block's figure
    assert [c.index for c in v.checks] == [(1, 2), (1, 1)]
    assert v.blocks[0].worst_index == (1, 2) and v.blocks[0].max_rel_error == 0.0


def test_wrt_a_variable_that_cancels_is_drawn_like_the_others():
    """issue 10 item 8: "x**2 + 0*y" --wrt x,y with random points; y's partial is 0."""
    r = check_expression("x**2 + 0*y", wrt="x,y", points=3)
    assert [c.name for c in r.checks] == ["x", "y"] * 3
    assert all(set(c.point) == {"x", "y"} for c in r.checks)
    assert len({c.point["y"] for c in r.checks}) == 3  # drawn, not fixed
    assert all(c.analytic == 0.0 and c.status is Status.PASS for c in r.checks if c.name == "y")
    with pytest.raises(OptionError, match="--wrt: unknown variable 'sin'"):
        check_expression("sin(x)", wrt="x,sin")
