"""Wrong or non-differentiable code in a large block, in the default (adaptive) mode: it
must not read ``pass`` nor stay silent, and it must say where.

1. A soft error (1e-5 relative: a ``warn``) in one entry of a cost too large for the
   coarse directions to see it: the precise directions that verify the cleared entries
   contradict their set, which is then halved down to the wrong entry (``_Block._locate``),
   so the entry reads ``warn`` by name and the others ``pass`` (not every entry
   ``unresolved``).
2. A symmetric kink at x_j = 0 claimed as ``sign(0) = 0`` (or an L1 penalty at a zero
   weight): every central difference agrees with it, so exclusion passed it; the entries
   at exactly 0 get the shrinking one-sided test in sets (``_Block.screen_kinks``) and
   read ``kink``, as in the full mode.  Smooth points at 0 (``x |x|``, ``relu(x)**2``,
   softplus) are no kinks and keep their ``pass``.
"""

from __future__ import annotations

import numpy as np
import pytest

from gradcheck_cli.checks.func import check_gradient
from gradcheck_cli.verdict import Status


def _rows(rep) -> dict:
    return {int(c.index[0]): c.status for c in rep.checks}


def _softplus_one_soft(bad: int, offset: float):
    def f(z):
        g = 1 / (1 + np.exp(-z))
        g[bad] *= 1 + 1e-5
        return offset + float(np.sum(np.logaddexp(0, z))), g

    return f


@pytest.mark.parametrize("bad, offset", [(1999, 1e5), (777, 1e5)])
def test_one_soft_entry_under_a_large_cost_is_a_named_warn(bad, offset):
    x = np.random.default_rng(61).standard_normal(2000)
    rep = check_gradient(_softplus_one_soft(bad, offset), x)
    assert rep.status is Status.WARN
    assert rep.counts["warn"] == 1 and rep.counts["pass"] == 1999
    assert rep.counts.get("unresolved", 0) == 0
    assert _rows(rep)[bad] is Status.WARN


def test_the_same_cost_correct_passes_every_entry():
    x = np.random.default_rng(61).standard_normal(2000)

    def f(z):
        return 1e5 + float(np.sum(np.logaddexp(0, z))), 1 / (1 + np.exp(-z))

    rep = check_gradient(f, x)
    assert rep.status is Status.PASS and rep.counts["pass"] == 2000


def _with_zeros(n=3000, zeros=20, seed=0):
    r = np.random.default_rng(seed)
    x = r.standard_normal(n)
    at = np.sort(r.choice(n, zeros, replace=False))
    x[at] = 0.0
    return x, at


def abs_sum(x):
    return float(np.sum(np.abs(x))), np.sign(x)


def sin_plus_l1(x):
    # an L1 penalty at zero weights: the claim cos(0) + 0.1 sign(0) = 1 is the midpoint of 1.1 and 0.9
    return float(np.sum(np.sin(x)) + 0.1 * np.sum(np.abs(x))), np.cos(x) + 0.1 * np.sign(x)


@pytest.mark.parametrize("f", [abs_sum, sin_plus_l1])
@pytest.mark.parametrize("mode", ["adaptive", "full"])
def test_symmetric_kinks_at_zero_in_a_large_block_read_kink(f, mode):
    x, at = _with_zeros()
    rep = check_gradient(f, x, mode=mode, top=40)
    assert rep.status is Status.PASS  # a kink is reported, never a failure
    assert rep.counts["kink"] == len(at) and rep.counts["pass"] == x.size - len(at)
    rows = _rows(rep)
    assert all(rows[int(j)] is Status.KINK for j in at)


def test_one_kink_among_many_zeros_is_found():
    # 400 entries at 0 where f is smooth (softplus) and one |x| among them
    x, at = _with_zeros(n=2000, zeros=400, seed=1)
    k = int(at[123])

    def f(z):
        w = np.ones_like(z)
        w[k] = 0.0
        g = w / (1 + np.exp(-z))
        g[k] = np.sign(z[k])
        return float(np.sum(w * np.logaddexp(0, z)) + np.abs(z[k])), g

    rep = check_gradient(f, x, top=10)
    assert rep.counts["kink"] == 1 and _rows(rep)[k] is Status.KINK
    assert rep.counts["pass"] == x.size - 1


SMOOTH_AT_ZERO = {
    "softplus": lambda z: (float(np.sum(np.logaddexp(0, z))), 1 / (1 + np.exp(-z))),
    "x|x| + softplus": lambda z: (float(np.sum(z * np.abs(z)) + np.sum(np.logaddexp(0, z))),
                                  2 * np.abs(z) + 1 / (1 + np.exp(-z))),
    "relu(x)**2 + sin": lambda z: (float(np.sum(np.maximum(z, 0) ** 2) + np.sum(np.sin(z))),
                                   2 * np.maximum(z, 0) + np.cos(z)),
}


@pytest.mark.parametrize("name", sorted(SMOOTH_AT_ZERO))
def test_smooth_points_at_zero_stay_a_pass(name):
    # differentiable at 0 (SPEC: x |x| and relu(x)**2 at 0 are no kinks)
    x, _ = _with_zeros(n=3000, zeros=20, seed=2)
    rep = check_gradient(SMOOTH_AT_ZERO[name], x)
    assert rep.status is Status.PASS
    assert rep.counts["pass"] == x.size and rep.counts.get("kink", 0) == 0


def test_a_wrong_entry_at_zero_still_fails():
    x, at = _with_zeros(n=3000, zeros=20, seed=3)
    k = int(at[5])

    def f(z):
        g = np.sign(z)
        g[k] = 5.0  # outside the one-sided slopes -1 and 1 of |x| at 0: no subgradient
        return float(np.sum(np.abs(z))), g

    rep = check_gradient(f, x, top=40)
    assert rep.status is Status.FAIL and _rows(rep)[k] is Status.FAIL
    assert rep.counts["fail"] == 1 and rep.counts["kink"] == len(at) - 1


def test_max_pool_ties_left_by_the_search_get_the_four_point_kink_test():
    # 2x2 max-pool over integer pixels 0..3: ties in most windows, so the search stops on a
    # "block-wide" disagreement; its samples are kinks or undecided zeros (a claim of 0 on a
    # flat side), none wrong, so every entry it left gets the layer's four-point estimate and
    # its kinks the shrinking test (2 calls a rung), not the re-estimate's ladder (~36 calls
    # an entry); the verdicts are full mode's
    from pathlib import Path

    from gradcheck_cli.blackbox.ladder import SUSPECT_RUNGS
    from gradcheck_cli.checks.layer import check_layer
    from gradcheck_cli.usercode import load_callable

    good = f"{Path(__file__).parent / 'layers' / 'layers.py'}:"
    fwd, bwd = load_callable(good + "max_pool_naive_forward"), load_callable(good + "max_pool_naive_backward")
    x = np.random.default_rng(0).integers(0, 4, size=(2, 3, 8, 8)).astype(float)
    params = {"pool_param": {"pool_height": 2, "pool_width": 2, "stride": 2}}
    rep = check_layer(fwd, bwd, {"x": x}, params, mode="adaptive")
    full = check_layer(fwd, bwd, {"x": x}, params, mode="full")
    assert rep.status is Status.PASS and rep.counts == full.counts
    assert rep.effort.unchecked == 0 and rep.effort.entries == x.size
    assert rep.effort.calls <= x.size * (4 + 2 * SUSPECT_RUNGS)


def test_an_abs_layer_with_zeros_reads_kink_in_adaptive_mode():
    from gradcheck_cli.checks.layer import check_layer

    r = np.random.default_rng(0)
    x = r.standard_normal((40, 50))
    at = r.choice(x.size, 20, replace=False)
    x.flat[at] = 0.0
    rep = check_layer(lambda x: (np.abs(x), x), lambda dout, x: dout * np.sign(x), {"x": x}, {}, mode="adaptive",
                      top=40)
    assert rep.status is Status.PASS
    assert rep.counts["kink"] == 20 and rep.counts["pass"] == x.size - 20
    kinked = {c.index for c in rep.checks if c.status is Status.KINK}
    assert kinked == {tuple(int(i) for i in np.unravel_index(j, x.shape)) for j in at}
