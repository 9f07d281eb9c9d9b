"""Tests of network/precise.py and differences.settle: extended-precision derivatives whose
bound contains the truth (mpmath, 50 digits), and correct built-in networks that never
read unresolved, while every injected bug still fails."""

from __future__ import annotations

import numpy as np
import pytest

from gradcheck_cli.checks.net import check_network
from gradcheck_cli.network import differences, kernels, precise
from gradcheck_cli.network import model as m
from gradcheck_cli.verdict import Status, Thresholds

mpmath = pytest.importorskip("mpmath")


def test_longdouble_is_what_the_bound_assumes():
    # x86-64: the 80-bit format, eps = 2**-63; elsewhere the bound uses whatever eps is
    assert precise.EPS_LD == float(np.finfo(np.longdouble).eps) <= np.finfo(float).eps
    assert precise.H > 0 and float(precise.H * precise.H) == 0.0 or precise.EPS_LD == np.finfo(float).eps


def _mp_gradient(spec, data, labels, params, dps=50):
    """Every partial derivative of the cost in mpmath (``mp.diff`` of the exact-arithmetic cost)."""
    mp = mpmath.mp
    mp.dps = dps
    X = [[mp.mpf(float(v)) for v in row] for row in data]
    Y = [[mp.mpf(float(v)) for v in row] for row in labels]
    P = [mp.mpf(float(v)) for v in params]

    def act(x):
        if spec.activation == "sigmoid":
            return 1 / (1 + mp.exp(-x))
        if spec.activation == "tanh":
            return mp.tanh(x)
        return x if x > 0 else mp.mpf(0)

    def cost(q):
        total = mp.mpf(0)
        for x, y in zip(X, Y):
            a = x
            for l, block_w in enumerate(spec.blocks[::2], start=1):
                block_b = spec.blocks[2 * l - 1]
                rows, cols = block_w.shape
                z = [mp.fsum(a[i] * q[block_w.offset + i * cols + j] for i in range(rows)) + q[block_b.offset + j]
                     for j in range(cols)]
                a = [act(v) for v in z] if l < spec.layers else z
            if spec.loss == "ce":
                lse = mp.log(mp.fsum(mp.exp(v) for v in a))
                total += mp.fsum(yj * (lse - zj) for yj, zj in zip(y, a))
            else:
                total += mp.fsum((1 / (1 + mp.exp(-v)) - yj) ** 2 for v, yj in zip(a, y)) / 2
        return total / len(X) if spec.mean else total

    out = []
    for k in range(len(P)):
        def f(t, k=k):
            q = list(P)
            q[k] = q[k] + t
            return cost(q)
        out.append(mp.diff(f, 0))
    return out


CASES = [dict(dims=dims, activation=act, loss=loss, mean=mean)
         for dims in [(5, 4, 3), (4, 5, 4, 3)]
         for act in ("sigmoid", "tanh", "relu")
         for loss, mean in (("ce", False), ("mse", True))]


@pytest.mark.parametrize("kw", CASES, ids=lambda kw: "-".join(map(str, kw.values())))
@pytest.mark.parametrize("scale", [0.5, 4.0])
def test_the_bound_contains_the_truth_and_is_tight(kw, scale):
    spec = m.NetworkSpec(**kw)
    data, labels, params = m.make_problem(spec, samples=3, seed=11)
    params = params * scale
    truth = _mp_gradient(spec, data, labels, params, dps=60)
    p = precise.Precise(spec, data, labels, params)
    checked = 0
    for block in spec.blocks:
        rows, cols = np.divmod(np.arange(block.size), block.shape[1])
        n, e = precise.entry_derivatives(spec, data, labels, params, block, rows, cols, precise=p)
        for i in range(block.size):
            t = truth[block.offset + i]
            # the reference itself is exact to about 1e-55 (60 digits, mp.diff)
            assert abs(mpmath.mpf(float(n[i])) - t) <= e[i] + 1e-52, (block.name, i, n[i], e[i], t)
            # and the bound is useful: far below what a verdict at 1e-7 needs
            assert e[i] <= 1e-12 * abs(float(t)) + 1e-300 or e[i] <= 1e-15 * np.max(np.abs(n)), (block.name, i)
            checked += 1
    assert checked == spec.param_count


def test_a_saturated_softmax_keeps_its_tiny_gradient():
    """p = 1 - 1e-40 for the true class: float64 differences see 0, the complex step 1e-40."""
    spec = m.NetworkSpec((3, 2))
    data = np.array([[1.0, 0.0, 0.0]])
    labels = np.array([[1.0, 0.0]])
    params = np.array([95.0, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])  # z = (95, 3): 1 - p ~ e**-92
    truth = _mp_gradient(spec, data, labels, params, dps=90)
    block = spec.block("W1")
    n, e = precise.entry_derivatives(spec, data, labels, params, block, [0, 0], [0, 1])
    for k, i in enumerate((0, 1)):
        assert abs(mpmath.mpf(float(n[k])) - truth[i]) <= e[k]
        assert abs(float(truth[i])) > 1e-45 and e[k] < 1e-12 * abs(float(truth[i]))
    _, g = m.cost_and_grad(spec, data, labels, params)  # the built-in backward pass agrees
    assert np.allclose(g[:2], n, rtol=1e-12, atol=0)


@pytest.mark.parametrize("label", [0.0, 1.0])
def test_a_saturated_sigmoid_output_keeps_its_tiny_gradient(label):
    """mse, z = 108 and y = 1 (or z = -108, y = 0): yhat - y = -1e-47 sits next to yhat = 1,
    so (yhat - y) yhat' ~ 1e-94 must not be lost to cancellation (the bound once was 1e-47
    wide and the entry unresolved)."""
    spec = m.NetworkSpec((3, 1), loss="mse")
    data = np.array([[1.0, 0.5, 0.0]])
    labels = np.array([[label]])
    sign = 1.0 if label else -1.0
    params = np.array([sign * 100.0, sign * 16.0, 0.0, 0.0])  # z = +-108
    truth = _mp_gradient(spec, data, labels, params, dps=130)
    n, e = precise.entry_derivatives(spec, data, labels, params, spec.block("W1"), [0, 1], [0, 0])
    for k in range(2):
        assert abs(mpmath.mpf(float(n[k])) - truth[k]) <= e[k]
        assert 1e-100 < abs(float(truth[k])) < 1e-90 and e[k] < 1e-12 * abs(float(truth[k]))
    _, g = m.cost_and_grad(spec, data, labels, params)  # the built-in backward pass agrees
    assert np.allclose(g[:2], n, rtol=1e-12, atol=0)


def test_a_truth_below_float64s_range_passes_by_the_zero_rule():
    """relu + mse at 784-300-300-10: logits ~1e4, many gradients ~exp(-1e4) (0 in float64,
    nonzero in longdouble): proved below float64's normal range, claim 0, read pass."""
    spec = m.NetworkSpec((40, 30, 20, 3), activation="relu", loss="mse")
    data, labels, params = m.make_problem(spec, samples=4, seed=0)
    params = params * 30.0  # logits of thousands: every output saturated
    _, g = m.cost_and_grad(spec, data, labels, params)
    settled = differences.settle(spec, data, labels, params, g)
    tiny = (np.abs(settled.numeric) + settled.noise <= differences.UNDERFLOW) & settled.precise
    assert tiny.sum() > 10 and np.all(np.abs(g[tiny]) <= differences.UNDERFLOW)
    zero = differences.zero_scale(spec, data, labels, params)
    assert np.all(zero >= differences.UNDERFLOW)
    assert np.all(settled.zero_scale[settled.precise] == zero[settled.precise])
    assert np.all(settled.zero_scale[~settled.precise] == 0)


def test_the_zero_rule_of_extended_precision_is_the_unit_roundoff_of_every_command():
    """z = ANALYTIC_ULPS eps f_scale / max(|x|, 1) (``finite_diff.unit_roundoff``), as for
    users' code: it scales with the cost, so a 2x error on an entry above it still fails."""
    from gradcheck_cli.finite_diff import unit_roundoff

    spec = m.NetworkSpec((6, 4, 3))
    data, labels, params = m.make_problem(spec, samples=5, seed=1)
    base = kernels.Base(spec, data, labels, params)
    z = differences.zero_scale(spec, data, labels, params)
    np.testing.assert_allclose(z, unit_roundoff(base.f_scale, params))
    assert np.all(z < 1e-12)
    mean = differences.zero_scale(m.NetworkSpec((6, 4, 3), mean=True), data, labels, params)
    np.testing.assert_allclose(mean, z / 5)


CORRECT = [
    dict(dims=(10, 5, 10)),
    dict(dims=(50, 30, 10)),
    dict(dims=(784, 100, 10)),
    dict(dims=(784, 300, 300, 10)),
    dict(dims=(50, 30, 10), activation="tanh"),
    dict(dims=(50, 30, 10), activation="relu"),
    dict(dims=(50, 30, 10), loss="mse"),
    dict(dims=(784, 100, 10), activation="tanh", loss="mse"),
    dict(dims=(784, 100, 10), activation="relu"),
    dict(dims=(100, 100, 100, 100, 10), activation="tanh"),
]


@pytest.mark.parametrize("kw", CORRECT, ids=lambda kw: "-".join(map(str, kw.values())))
def test_a_correct_built_in_network_is_never_unresolved(kw):
    dims = kw.pop("dims")
    report = check_network(dims, **kw)
    assert report.counts["unresolved"] == 0 and report.counts["warn"] == 0 and report.counts["fail"] == 0
    assert report.status is Status.PASS
    assert {b.status for b in report.blocks} == {Status.PASS}


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("activation, loss", [("sigmoid", "ce"), ("tanh", "mse"), ("relu", "ce")])
def test_settle_only_decides_what_float64_left_open(seed, activation, loss):
    """Entries the float64 evidence passed or failed keep their status; the rest are decided."""
    from gradcheck_cli.finite_diff import evidence
    from gradcheck_cli.verdict import assess

    spec = m.NetworkSpec((50, 30, 10), activation=activation, loss=loss)
    data, labels, params = m.make_problem(spec, seed=seed)
    _, g = m.cost_and_grad(spec, data, labels, params)
    plain = differences.numeric_gradient(spec, data, labels, params)
    settled = differences.settle(spec, data, labels, params, g, result=plain)

    def codes(r):
        err, zs = evidence(g, r.numeric, r.noise)
        return assess(g, r.numeric, err, Thresholds(), zero_scale=zs, kink=r.kink).code

    before, after = codes(plain), codes(settled)
    decided = (before == 0) | (before == 2) | (before == 3)
    np.testing.assert_array_equal(before[decided], after[decided])
    assert not np.any(settled.precise[decided])
    assert np.all(np.isin(after, (0, 3)))  # a correct network: pass (or a relu kink)


@pytest.mark.parametrize("kw", CASES[:6], ids=lambda kw: "-".join(map(str, kw.values())))
def test_refined_samples_bound_contains_the_truth(kw):
    """network/refine.py: the dominant samples redone in mpmath; the bound still holds the
    60-digit truth (and is the float64 rounding, not 1e-15 of the terms)."""
    from gradcheck_cli.network import refine

    spec = m.NetworkSpec(**kw)
    data, labels, params = m.make_problem(spec, samples=6, seed=3)
    truth = _mp_gradient(spec, data, labels, params, dps=60)
    p = precise.Precise(spec, data, labels, params)
    for block in spec.blocks:
        rows, cols = np.divmod(np.arange(block.size), block.shape[1])
        n, e = refine.refine(p, spec, data, labels, params, block, rows, cols)
        for i in range(block.size):
            t = truth[block.offset + i]
            assert abs(mpmath.mpf(float(n[i])) - t) <= e[i], (block.name, i, n[i], e[i], t)


def test_entries_longdouble_leaves_open_are_refined(monkeypatch):
    """A cancellation longdouble's bound cannot see through (simulated: its bound made 1e9
    times wider) is settled by refining the dominant samples in mpmath."""
    from gradcheck_cli.network import refine

    spec = m.NetworkSpec((6, 4, 3), activation="tanh")
    data, labels, params = m.make_problem(spec, samples=3, seed=0)
    _, g = m.cost_and_grad(spec, data, labels, params)
    plain = differences.numeric_gradient(spec, data, labels, params)
    plain = differences.NumericGradient(plain.numeric, plain.noise * 1e9, plain.kink)  # every entry open
    monkeypatch.setattr(precise, "SAFETY", 1e9)  # and longdouble cannot settle them either
    monkeypatch.setattr(refine, "MAX_ENTRIES", 0)
    loose = differences.settle(spec, data, labels, params, g, result=plain)
    monkeypatch.setattr(refine, "MAX_ENTRIES", 100)
    refined = differences.settle(spec, data, labels, params, g, result=plain)
    from gradcheck_cli.finite_diff import evidence
    from gradcheck_cli.verdict import assess

    def codes(r):
        err, zs = evidence(g, r.numeric, r.noise, unit_roundoff=r.zero_scale)
        return assess(g, r.numeric, err, Thresholds(), zero_scale=zs).code

    assert np.any(codes(loose) == 4) and np.all(codes(refined) == 0)


SATURATED = [
    # relu + mse at 784-300-300-10: logits ~1e4, gradients down to exp(-1e4) (6,238 and
    # 10,771 entries once unresolved: cancellation in yhat - y, then NaN in the exact slices)
    dict(dims=(784, 300, 300, 10), activation="relu", loss="mse", seed=0, mode="fast"),
    dict(dims=(784, 300, 300, 10), activation="relu", loss="mse", seed=1, mode="full"),
    # two saturated samples whose contributions cancel exactly (b2 entry 5e-12, cost ~4000)
    dict(dims=(784, 300, 300, 10), activation="relu", seed=2, mode="full"),
]


@pytest.mark.slow
@pytest.mark.parametrize("kw", SATURATED, ids=lambda kw: "-".join(map(str, kw.values())))
def test_a_saturated_correct_network_is_never_unresolved(kw):
    kw = dict(kw)
    report = check_network(kw.pop("dims"), **kw)
    assert report.counts["unresolved"] == 0 and report.counts["warn"] == 0 and report.counts["fail"] == 0
    assert report.status is Status.PASS


@pytest.mark.parametrize("activation, loss", [("sigmoid", "ce"), ("tanh", "mse")])
def test_many_samples_float64_gradient_is_settled_in_extended_precision(monkeypatch, activation, loss):
    """Past model.EXTENDED_ELEMENTS (50-30-10 at --samples 100000) the built-in gradient is
    float64 and the entries float64 differences leave open are still settled (once 2 and 14
    unresolved): the same path at a small size."""
    monkeypatch.setattr(m, "EXTENDED_ELEMENTS", 10)
    spec = m.NetworkSpec((50, 30, 10), activation=activation, loss=loss)
    data, labels, params = m.make_problem(spec, samples=200, seed=0)
    _, g = m.cost_and_grad(spec, data, labels, params)
    settled = differences.settle(spec, data, labels, params, g)
    assert settled.precise.any()
    from gradcheck_cli.finite_diff import evidence
    from gradcheck_cli.verdict import assess

    err, zs = evidence(g, settled.numeric, settled.noise, unit_roundoff=settled.zero_scale)
    code = assess(g, settled.numeric, err, Thresholds(), zero_scale=zs, kink=settled.kink).code
    assert np.all(code == 0)
    monkeypatch.setattr(differences, "LIFT_ELEMENTS", 10)  # past it the float64 evidence stands alone
    assert not differences.settle(spec, data, labels, params, g).precise.any()


@pytest.mark.parametrize("bug", list(m.BUGS))
@pytest.mark.parametrize("dims", [(10, 5, 10), (50, 30, 10)])
def test_every_injected_bug_still_fails_at_its_blocks(bug, dims):
    spec = m.NetworkSpec(dims)
    report = check_network(dims, bug=bug)
    expected = set(m.bug_blocks(spec, bug))
    failing = {b.name for b in report.blocks if b.status is Status.FAIL}
    assert report.status is Status.FAIL
    assert failing == expected


def test_settle_validates_the_gradient_length():
    from gradcheck_cli.errors import OptionError

    spec = m.NetworkSpec((4, 3, 2))
    data, labels, params = m.make_problem(spec)
    with pytest.raises(OptionError, match="entries"):
        differences.settle(spec, data, labels, params, np.zeros(3))


def test_the_whole_block_path_equals_the_entry_path():
    spec = m.NetworkSpec((30, 12, 10), activation="tanh")
    data, labels, params = m.make_problem(spec, samples=7, seed=2)
    p = precise.Precise(spec, data, labels, params)
    block = spec.block("W1")
    rows, cols = np.divmod(np.arange(block.size), block.shape[1])
    whole = precise.entry_derivatives(spec, data, labels, params, block, rows, cols, precise=p)
    few = [precise.entry_derivatives(spec, data, labels, params, block, rows[i:i + 1], cols[i:i + 1], precise=p)
           for i in range(0, block.size, 7)]
    for k, i in enumerate(range(0, block.size, 7)):
        n, e = few[k]
        assert abs(whole[0][i] - n[0]) <= 1e-3 * (whole[1][i] + e[0])
        assert 0.2 < whole[1][i] / e[0] < 5


def test_past_the_extended_size_the_float64_evidence_stands(monkeypatch):
    spec = m.NetworkSpec((50, 30, 10))
    data, labels, params = m.make_problem(spec)
    _, g = m.cost_and_grad(spec, data, labels, params)
    plain = differences.numeric_gradient(spec, data, labels, params)
    assert differences.settle(spec, data, labels, params, g, result=plain).precise.any()
    monkeypatch.setattr(differences, "LIFT_ELEMENTS", 20 * 50 - 1)
    kept = differences.settle(spec, data, labels, params, g, result=plain)
    assert not kept.precise.any() and np.array_equal(kept.numeric, plain.numeric, equal_nan=True)


@pytest.mark.parametrize("dims", [(7, 3), (50, 30), (30, 10), (200, 40)])
@pytest.mark.parametrize("longdouble_input", [False, True])
def test_affine_bound_contains_the_exact_product(dims, longdouble_input):
    # both paths of exact.affine (the plain longdouble product of narrow layers, the exact
    # float64 slices of wide ones): |z - (a W + b)| <= bound, in exact rational arithmetic
    from fractions import Fraction

    from gradcheck_cli.network import exact

    D, N = dims
    rng = np.random.default_rng(D + N)
    a = rng.standard_normal((6, D)) * np.exp(rng.uniform(-8, 8, (6, 1)))
    if longdouble_input:
        a = np.tanh(a.astype(np.longdouble) / 3)
    W = rng.standard_normal((D, N))
    b = rng.standard_normal((1, N))
    z, bound = exact.affine(a, W, b)
    assert z.dtype == np.longdouble and bound.shape == z.shape

    def q(v):
        return Fraction(*np.longdouble(v).as_integer_ratio())

    for r in range(a.shape[0]):
        for c in range(N):
            truth = sum(q(a[r, k]) * q(W[k, c]) for k in range(D)) + q(b[0, c])
            assert abs(q(z[r, c]) - truth) <= q(bound[r, c])
            # and the bound is extended precision's, not float64's
            size = sum(abs(q(a[r, k]) * q(W[k, c])) for k in range(D)) + abs(q(b[0, c]))
            assert q(bound[r, c]) <= size * Fraction(D + 8) * Fraction(2) ** -62 + Fraction(1e-300)
