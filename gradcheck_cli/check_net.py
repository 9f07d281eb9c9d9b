"""``gradcheck net``: the built-in network (optionally with an injected bug) or the
user's own ``forward_backward_prop``, checked block by block.
"""

from __future__ import annotations

import numpy as np

from .check import BlockData, callable_name, judge_blocks, validate_seed, with_second_opinions
from .errors import OptionError
from .finite_diff import Method
from .results import Check, Report, count_statuses
from .verdict import Thresholds, assess, floor_from_noise, relative_error

#: fast mode: directional checks per block (Rademacher directions, see network_fd)
FAST_DIRECTIONS = 8


def parse_dims(dims) -> tuple[int, ...]:
    """``--dims``: ``"10,5,10"``, ``"10 5 10"`` or a sequence of ints -> ``(10, 5, 10)``."""
    if isinstance(dims, str):
        parts = dims.replace(",", " ").split()
    else:
        parts = list(dims)
    try:
        out = tuple(int(p) for p in parts)
    except (TypeError, ValueError):
        raise OptionError(f"--dims must be whole numbers, e.g. --dims 10 5 10; got {dims!r}") from None
    if len(out) < 2:
        raise OptionError(f"--dims needs at least 2 sizes (input and output), got {len(out)}")
    return out


def _rademacher_blocks(blocks, size: int, k: int, seed: int):
    """``k`` ±1 directions per block, zero outside it: shape (k, size) per block."""
    rng = np.random.default_rng(seed)
    for b in blocks:
        u = np.zeros((k, size))
        u[:, b.slice] = rng.choice([-1.0, 1.0], size=(k, b.size))
        yield b, u


def _impl_numeric(user_cost, params: np.ndarray, blocks, g: np.ndarray, mode: str, seed: int,
                  thresholds: Thresholds, progress=None):
    """Numeric gradient of the user's own cost (black box), flat, NaN where not computed.

    ``full``: four calls per entry.  ``fast``: ``FAST_DIRECTIONS`` directional checks
    per block first; a block is checked entry by entry only when a direction disagrees
    by more than ``network_fd.SAFETY`` times its error, or when a single wrong entry
    could hide below that margin.  Returns (numeric, noise, blocks checked in full,
    per-block directional results for the report).
    """
    from .finite_diff import EPS, REL_STEP, blackbox_directional, blackbox_gradient
    from .network_fd import SAFETY

    n = params.size
    numeric, noise = np.full(n, np.nan), np.full(n, np.nan)
    full, directional = [], {}
    if mode == "fast":
        f0 = abs(user_cost(params))
        h = REL_STEP * max(float(np.max(np.abs(params))), 1.0)
        entry_noise = 2 * 4 * EPS * f0 / h  # the round-off part of any entry's error estimate
        for b, dirs in _rademacher_blocks(blocks, n, FAST_DIRECTIONS, seed):
            d, dn = blackbox_directional(user_cost, params, dirs)
            a = dirs @ g
            floor = thresholds.floor if thresholds.floor is not None else entry_noise / thresholds.pass_tol
            suspect = bool(np.any(~np.isfinite(d)) or np.any(np.abs(a - d) > SAFETY * dn))
            hidden = (SAFETY + 1) * float(np.max(dn)) > thresholds.fail_tol * floor
            directional[b.name] = (a, d, dn)
            if suspect or hidden:
                full.append(b)
    else:
        full = list(blocks)
    done = 0
    resolution, eps = np.full(n, np.nan), EPS
    for b in full:
        idx = np.arange(b.offset, b.offset + b.size)
        step = None if progress is None else (lambda k, done=done: progress(done + k, sum(x.size for x in full)))
        est = blackbox_gradient(user_cost, params, indices=idx, progress=step)
        numeric[idx], noise[idx] = est.value, est.noise
        resolution[idx], eps = est.resolution, max(eps, est.eps)  # issue 9: float32 code, zero rule
        done += b.size
    return numeric, noise, {b.name for b in full}, directional, resolution, eps


def check_network(
    dims,
    *,
    samples: int = 20,
    seed: int = 0,
    activation: str = "sigmoid",
    loss: str = "ce",
    mean: bool = False,
    impl=None,
    bug: str | None = None,
    mode: str = "full",
    top: int = 5,
    thresholds: Thresholds = Thresholds(),
    hvp: int = 0,
    taylor: bool = False,
    progress=None,
) -> Report:
    """Gradient-check a network: the built-in one (optionally with an injected bug) or yours.

    h = act(X W1 + b1), ..., yhat = softmax(h W_L + b_L) (``loss="mse"``: sigmoid output
    and 0.5 sum (yhat - y)**2), cost summed over the ``samples`` rows (averaged with
    ``mean``).  X ~ N(0, 1), one-hot labels and params ~ N(0, 1), seeded by ``seed``;
    params flattened W1, b1, W2, b2, ... (``(Dx+1)H + (H+1)Dy`` of them for 3 sizes).

    ``impl`` is your ``NAME(data, labels, params, dimensions) -> (cost, grad)`` (a
    callable, or ``"FILE.py:NAME"`` / ``"module:NAME"``): its gradient is checked
    against central differences of its own cost (four calls per entry; ``mode="fast"``
    checks random directions first), and its cost against the reference cost (a check
    named ``cost``).  Without ``impl`` the built-in network is checked with batched,
    structured differences (``network_fd``); ``bug`` injects a classic mistake
    (``models.BUGS``).  The report has one block per parameter block, the failing and
    ``top`` worst entries, and hints (``diagnosis``).

    >>> check_network((10, 5, 10)).status.value
    'pass'
    """
    from . import models, network_fd
    from .diagnosis import diagnose
    from .loading import UserFunction, load_seeded

    dims = parse_dims(dims)
    spec = models.NetworkSpec(dims, activation=activation, loss=loss, mean=mean)
    samples = models.validate_samples(spec, samples)
    validate_seed(seed)
    if mode not in ("full", "fast"):
        raise OptionError(f"--mode must be full or fast, got {mode!r}")
    if top < 0:
        raise OptionError(f"--top must be at least 0, got {top}")
    if impl is not None and bug is not None:
        raise OptionError("--inject-bug applies to the built-in network, not to --impl")
    bug = models.validate_bug(spec, bug)
    data, labels, params = models.make_problem(spec, samples, seed)
    blocks = spec.blocks
    ref_cost = models.cost(spec, data, labels, params)
    header = [f"network {spec.describe()}, M = {samples} samples, seed {seed}",
              f"{spec.param_count} parameters: " + ", ".join(f"{b.name} {' x '.join(map(str, b.shape))}" for b in blocks)]
    extra_checks, hints = [], []

    if impl is not None:
        if isinstance(impl, str):
            (user,), name = load_seeded([(impl, "function")], seed), impl
        else:
            name = callable_name(impl)
            user = UserFunction(impl, name)
        dimensions = list(dims)

        def user_cg(p):
            return user.cost_and_grad(data, labels, p, dimensions, grad_shape=params.shape)

        cost0, g = user_cg(params.copy())
        user_cost = lambda p: user_cg(p)[0]  # noqa: E731
        numeric, noise, full_blocks, directional, resolution, code_eps = _impl_numeric(
            user_cost, params, blocks, g.ravel(), mode, seed, thresholds, progress)
        kink = network_fd.kink_mask(spec, data, params) if spec.activation == "relu" else np.zeros(params.size, bool)
        header.append(f"implementation: {name}; cost {cost0:.10g} (reference {ref_cost:.10g})")
        # the cost check: yours against the reference, within the round-off of a sum of M terms
        cost_noise = 64 * np.finfo(float).eps * float(np.sum(np.abs(models.per_sample_costs(spec, data, labels, params))))
        cres = assess(np.array([cost0]), np.array([ref_cost]), np.array([cost_noise]), thresholds)  # issue 9
        cfloor, crel, cstatus = float(cres.floor[0]), float(cres.rel[0]), cres.statuses[0]
        extra_checks.append(Check(name="cost", analytic=cost0, numeric=ref_cost, rel_error=crel,
                                  status=cstatus, floor=cfloor, error=float(cres.error[0]),
                                  reason=cres.reasons[0].value))
        if cstatus.value == "fail" and ref_cost != 0:
            ratio = cost0 / ref_cost
            why = {1 / samples: ": averaged over the samples instead of summed?",
                   float(samples): ": summed over the samples instead of averaged?",
                   -1.0: ": a sign error (log-likelihood instead of its negative)?"}
            guess = next((w for r, w in why.items() if abs(ratio - r) <= 1e-6 * abs(r)), "")
            hints.append(f"cost: yours is {ratio:.6g}x the reference cost (cross-entropy "
                         f"{'averaged' if mean else 'summed'} over the {samples} samples){guess}")
        grad_fn = lambda p: user_cg(p.reshape(params.shape))[1].ravel()  # noqa: E731
        cost_fn = user_cost
    else:
        resolution, code_eps = None, float(np.finfo(float).eps)
        cost0, g = models.cost_and_grad(spec, data, labels, params, bug=bug)
        cspec = models.cost_spec(spec, bug) if bug else spec
        directional = {}
        if mode == "fast":
            fast = network_fd.fast_check(cspec, data, labels, params, g, k=FAST_DIRECTIONS, seed=seed,
                                         thresholds=thresholds)
            full_blocks = set(fast.full_blocks)
            directional = {r.block: (r.analytic, r.numeric, r.noise) for r in fast.directional}
        else:
            full_blocks = {b.name for b in blocks}
        if full_blocks:
            numeric, noise, kink = network_fd.numeric_gradient(
                cspec, data, labels, params, blocks=[b for b in blocks if b.name in full_blocks])
        else:
            numeric = noise = np.full(params.size, np.nan)
            kink = np.zeros(params.size, bool)
        if bug:
            header.append(f"injected bug: {bug}: {models.BUGS[bug]}")
        grad_fn = lambda p: models.cost_and_grad(spec, data, labels, p, bug=bug)[1]  # noqa: E731
        cost_fn = lambda p: models.cost(cspec, data, labels, p)  # noqa: E731

    g = np.asarray(g, dtype=float).ravel()
    data_blocks = [
        BlockData(b.name, b.shape, g[b.slice], numeric[b.slice], noise[b.slice], kink[b.slice], eps=code_eps,
                  resolution=None if resolution is None else resolution[b.slice])
        for b in blocks if b.name in full_blocks
    ]
    verdict = judge_blocks(data_blocks, thresholds, top)
    by_name = {r.name: r for r in verdict.blocks}
    block_results, counts = [], [verdict.counts]
    from .results import BlockResult, merge_counts
    from .verdict import Status

    for b in blocks:
        if b.name in by_name:
            block_results.append(by_name[b.name])
        else:  # fast mode: the directions agreed within their noise
            a, d, dn = directional[b.name]
            rel = relative_error(a, d, floor_from_noise(dn, thresholds))
            block_results.append(BlockResult(b.name, b.shape, 0, float(np.max(rel)), None, Status.PASS))
            counts.append(count_statuses([Status.PASS] * len(a)))
    # blocks that passed fast mode's directions count as right (numeric taken as analytic)
    analytic_blocks = [
        (b.name, g[b.slice].reshape(b.shape),
         (numeric if b.name in by_name else g)[b.slice].reshape(b.shape),
         by_name[b.name].status if b.name in by_name else Status.PASS)
        for b in blocks
    ]
    hints += diagnose(analytic_blocks, samples=samples, activation=spec.activation)
    notes = []
    if impl is not None and mode == "full" and spec.param_count > 10_000:
        notes.append(f"your implementation was called {4 * spec.param_count + 1} times (4 per parameter); "
                     "--mode fast checks random directions first")
    if mode == "fast":
        quick = [b.name for b in blocks if b.name not in full_blocks]
        notes.append(f"fast mode: {FAST_DIRECTIONS} random ±1 directions per block; "
                     + (f"{', '.join(quick)} agreed within their noise (0 entries checked), " if quick else "")
                     + (f"{', '.join(n for n in (b.name for b in blocks) if n in full_blocks)} checked entry by entry"
                        if full_blocks else "no block needed the full check"))
    checks = tuple(extra_checks) + verdict.checks
    all_counts = merge_counts(counts + [count_statuses([c.status for c in extra_checks])])
    report = Report(
        command="net", method=Method.CENTRAL, thresholds=thresholds, checks=checks, counts=all_counts,
        header=tuple(header), blocks=tuple(block_results), param_count=spec.param_count,
        hints=tuple(hints), notes=tuple(notes), extra={"cost": cost0, "mode": mode}, shown=top,
    )
    return with_second_opinions(report, cost_fn, grad_fn, params, g, hvp=hvp, taylor=taylor, seed=seed)


