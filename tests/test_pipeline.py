"""blackbox/pipeline.py: one black-box check, two ways of choosing directions.

Like pytorch's slow and fast gradcheck, ``full`` and ``adaptive`` share the signature and
the kernel: the same verdicts on the same function, only the calls differ."""

from __future__ import annotations

import numpy as np
import pytest

from gradcheck_cli.blackbox.pipeline import check_blackbox
from gradcheck_cli.blackbox.search import check_adaptive, check_every_entry
from gradcheck_cli.blackbox.stencils import four_point_entries
from gradcheck_cli.choices import Mode
from gradcheck_cli.errors import OptionError, UserCodeError
from gradcheck_cli.verdict import Status, Thresholds

T = Thresholds()


def quadratic(P: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    c = rng.uniform(0.5, 2.0, P)
    x = rng.standard_normal(P)
    return (lambda z: float(0.5 * np.sum(c * z * z))), x, c * x


def failing(res) -> set[int]:
    return {c.index[0] for c in res.verdict.checks if c.status is Status.FAIL}


@pytest.mark.parametrize("mode", list(Mode))
def test_a_correct_gradient_passes_in_every_mode(mode):
    f, x, g = quadratic(300)
    res = check_blackbox(f, x, g, mode=mode, thresholds=T)
    assert res.verdict.blocks[0].status is Status.PASS
    assert res.effort.entries == 300 and res.effort.mode is mode


@pytest.mark.parametrize("scale", [1e-9, 1.0, 1e9])
def test_a_factor_two_error_fails_in_both_modes_at_any_scale(scale):
    f, x, g = quadratic(300, seed=1)
    cost = lambda z: scale * f(z)  # noqa: E731
    g = scale * g
    g[17] *= 2
    full = check_blackbox(cost, x, g, mode=Mode.FULL)
    adaptive = check_blackbox(cost, x, g, mode=Mode.ADAPTIVE)
    assert failing(full) == failing(adaptive) == {17}
    assert full.verdict.blocks[0].status is adaptive.verdict.blocks[0].status is Status.FAIL
    assert adaptive.effort.calls < full.effort.calls  # the adaptive mode tries fewer directions


def test_indices_check_only_those_entries_directly():
    f, x, g = quadratic(50)
    g[3] *= 2
    res = check_blackbox(f, x, g, indices=[3, 4, 5])
    assert res.effort.mode is Mode.FULL and res.effort.checked == 3 and failing(res) == {3}


def test_relu_at_exactly_zero_is_a_kink_after_the_re_estimate():
    x = np.array([0.0, 1.0, -2.0, 0.5])
    cost = lambda z: float(np.sum(np.maximum(z, 0.0)))  # noqa: E731
    g = (x > 0).astype(float)  # at 0: the left derivative, 0
    res = check_blackbox(cost, x, g, mode=Mode.FULL)
    assert res.verdict.counts.get("kink", 0) == 1 and res.verdict.counts["fail"] == 0
    no_recheck = check_blackbox(cost, x, g, mode=Mode.FULL, recheck=False)
    assert no_recheck.verdict.counts.get("kink", 0) == 0  # the kink test is the re-estimate's


def test_a_direct_estimator_replaces_the_search_in_full_mode():
    f, x, g = quadratic(20)
    g[5] += 1.0
    seen = []

    def direct(block, indices, progress):
        def shifted(k, d):
            seen.append(k)
            z = x.copy()
            z[k] += d
            return f(z), abs(f(z))

        return four_point_entries(shifted, x, indices, f0=f(x), scale=abs(f(x)))

    res = check_blackbox(f, x, g, mode=Mode.FULL, direct=direct)
    assert len(seen) == 4 * 20  # four calls per entry, through the caller's estimator
    assert failing(res) == {5} and res.judged[0].analytic.size == 20


def test_unknown_mode_and_bad_arguments_are_typed_errors():
    f, x, g = quadratic(10)
    with pytest.raises(OptionError, match="--mode"):
        check_blackbox(f, x, g, mode="auto")
    with pytest.raises(UserCodeError, match="gradient has 9 entries, x has 10"):
        check_adaptive(f, x, g[:9])
    with pytest.raises(OptionError, match="directions"):
        check_adaptive(f, x, g, directions=0)
    with pytest.raises(OptionError, match="Thresholds"):
        check_every_entry(f, x, g, thresholds=1e-7)


def test_effort_says_how_the_entries_cleared_by_exclusion_were_verified():
    # issue 16: the effort line said "proved not to fail; unresolved unless ..." while every
    # entry passed; it now says how many the proved bound verified, how many were checked
    # again directly and how many stay proved only not to fail
    from gradcheck_cli.views.table import effort_lines

    x = np.random.default_rng(0).standard_normal(2000)
    bb = check_blackbox(lambda z: float(np.sum(z**2)), x, 2 * x)
    e = bb.effort
    assert bb.verdict.counts["pass"] == 2000
    assert e.excluded and e.verified + e.rechecked == e.excluded
    line = " ".join(effort_lines(e))
    assert f"{e.excluded} cleared by exclusion: {e.verified} verified by their proved bound (pass)" in line
    assert "proved only not to fail" not in line and "unresolved" not in line
    d = e.to_dict()
    assert d["excluded_verified"] == e.verified and d["excluded_rechecked"] == e.rechecked
    assert {"entries", "checked", "excluded", "unchecked", "calls", "seconds"} <= set(d)
    # entries left proved only not to fail are counted and said to be unresolved
    from dataclasses import replace

    left = " ".join(effort_lines(replace(e, verified=e.excluded - 7, rechecked=0, max_bound=3e-7)))
    assert "7 proved only not to fail, each within 3.0e-07 relative if alone in its set (unresolved" in left


def test_lifting_in_the_effort_is_used_available_or_none():
    if np.finfo(np.longdouble).eps >= np.finfo(float).eps:
        pytest.skip("no extended precision on this platform")
    x = np.array([1e-200, 1e-201])
    ld = lambda z: np.sum(np.asarray(z, dtype=np.longdouble) ** 2)  # noqa: E731
    used = check_blackbox(lambda z: float(np.sum(z**2)), x, 2 * x, lifted=ld)
    assert used.effort.lifting == "used" and used.verdict.counts["pass"] == 2
    none = check_blackbox(lambda z: float(np.sum(z**2)), x, 2 * x)
    assert none.effort.lifting == "none" and none.verdict.counts["unresolved"] == 2
    plain = check_blackbox(lambda z: float(np.sum(z**2)), np.ones(3), 2 * np.ones(3), lifted=ld)
    assert plain.effort.lifting == "available"
