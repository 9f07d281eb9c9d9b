"""Full mode (``--mode full``) at about two calls per entry, still verified.

Every entry gets its own two-call central difference; the entries those cannot verify (a
small entry of a large summed cost) are verified together by precise directions, and only
what is still unsettled is estimated again one by one.  Calls are counted by a wrapper
around the user's function, as a user would count them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from gradcheck_cli.checks.func import check_gradient
from gradcheck_cli.checks.layer import check_layer
from gradcheck_cli.verdict import Status
from gradcheck_cli.views.table import effort_lines

sys.path.insert(0, str(Path(__file__).parent / "layers"))
import layers  # noqa: E402
from conftest import Counted  # noqa: E402


def rosen(x):
    """Rosenbrock's cost and gradient (scipy's ``rosen`` / ``rosen_der``), float64 only."""
    x = np.asarray(x, dtype=float)
    d = x[1:] - x[:-1] ** 2
    g = np.zeros_like(x)
    g[:-1] = -400.0 * x[:-1] * d - 2 * (1 - x[:-1])
    g[1:] += 200.0 * d
    return float(np.sum(100.0 * d**2 + (1 - x[:-1]) ** 2)), g


def quad_at(scale):
    def f(x):
        return scale * float(np.sum(x**2)), 2 * scale * x

    return f


def test_large_summed_cost_passes_at_about_two_calls_per_entry():
    # the cost is ~1e6: two calls verify only the largest entries, the rest need more evidence
    f = Counted(rosen)
    x = np.random.default_rng(0).standard_normal(2000)
    rep = check_gradient(f, x, mode="full")
    assert rep.status is Status.PASS
    assert rep.counts["pass"] == 2000 and rep.counts.get("unresolved", 0) == 0
    assert rep.effort.calls == f.calls  # the effort line counts every call
    assert f.calls <= 2.2 * x.size
    settled = rep.effort.settled
    assert settled.first_look + settled.directions + settled.re_estimated == 2000
    assert settled.directions > 1000  # most entries could not be verified by their own two calls
    assert "verified together by precise directions" in effort_lines(rep.effort)[0]
    assert rep.to_dict()["effort"]["settled"]["directions"] == settled.directions


@pytest.mark.parametrize("scale", [1e-8, 1e8])
def test_full_mode_passes_a_correct_gradient_at_any_cost_scale(scale):
    f = Counted(quad_at(scale))
    x = np.random.default_rng(1).standard_normal((40, 50))
    rep = check_gradient(f, x, mode="full")
    assert rep.status is Status.PASS and rep.counts["pass"] == x.size
    assert rep.effort.calls == f.calls <= 2.2 * x.size


@pytest.mark.parametrize("rel", [1e-5, 1e-3])
def test_a_wrong_entry_is_still_named_in_full_mode(rel):
    x = np.random.default_rng(2).standard_normal(2000)

    def f(z):
        cost, g = rosen(z)
        g[1234] *= 1 + rel
        return cost, g

    rep = check_gradient(f, x, mode="full")
    assert rep.status in (Status.WARN, Status.FAIL)
    bad = [c for c in rep.checks if c.status in (Status.WARN, Status.FAIL)]
    assert [c.index for c in bad] == [(1234,)]
    assert rep.counts["pass"] == 1999


def test_many_small_errors_are_not_verified_by_directions():
    # every entry off by 1e-5 relative: the directions through them disagree, nothing passes by them
    x = np.random.default_rng(3).standard_normal(500)

    def f(z):
        cost, g = rosen(z)
        return cost, g * (1 + 1e-5)

    rep = check_gradient(f, x, mode="full")
    assert rep.status is not Status.PASS
    assert rep.effort.settled.directions == 0
    assert rep.counts["pass"] < 50


def test_max_seconds_still_stops_full_mode():
    f = Counted(rosen)
    x = np.random.default_rng(4).standard_normal(200_000)
    rep = check_gradient(f, x, mode="full", max_seconds=0.5)
    assert rep.counts["unchecked"] > 0 and rep.effort.stopped == rep.counts["unchecked"]
    assert rep.effort.calls == f.calls
    # what was not reached is never pass (the few entries reached may be unresolved on a slow machine)
    assert rep.status in (Status.UNCHECKED, Status.UNRESOLVED)


def test_layer_full_mode_verifies_its_small_entries_together():
    fwd, bwd = Counted(layers.batchnorm_forward), Counted(layers.batchnorm_backward)
    r = np.random.default_rng(5)
    inputs = {"x": r.standard_normal((32, 40)), "gamma": r.standard_normal(40), "beta": r.standard_normal(40)}
    rep = check_layer(fwd, bwd, inputs, {"bn_param": {"mode": "train"}}, mode="full")
    assert rep.status is Status.PASS and rep.counts["pass"] == 32 * 40 + 80
    assert rep.effort.calls == fwd.calls + bwd.calls <= 2.5 * (32 * 40 + 80)
