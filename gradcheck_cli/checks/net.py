"""``gradcheck net``: the built-in network (optionally with an injected bug) or the
user's own ``forward_backward_prop``, checked block by block.
"""

from __future__ import annotations

import numpy as np

from ..choices import Activation, Loss, Method, Mode
from ..errors import OptionError
from ..inputs import validate_hvp, validate_seed, validate_top
from ..results import BlockResult, CostCheck, NetworkSubject, Report, count_statuses, merge_counts
from ..verdict import Status, Thresholds, assess, floor_from_noise, relative_error
from ..blackbox.pipeline import check_blackbox, deadline_after, validate_max_seconds
from ..blocks import judge_blocks, network_block_data
from .common import callable_name, with_second_opinions


def check_network(
    dims,
    *,
    samples: int = 20,
    seed: int = 0,
    activation: Activation | str = Activation.SIGMOID,
    loss: Loss | str = Loss.CE,
    mean: bool = False,
    impl=None,
    bug: str | None = None,
    mode: Mode | str | None = None,
    top: int = 5,
    thresholds: Thresholds = Thresholds(),
    hvp: int = 0,
    taylor: bool = False,
    progress=None,
    cost_check: bool = True,
    max_seconds: float | None = None,
    isolate: bool = False,
) -> Report:
    """Gradient-check a network: the built-in one (optionally with an injected bug) or yours.

    h = act(X W1 + b1), ..., yhat = softmax(h W_L + b_L) (``loss="mse"``: sigmoid output
    and 0.5 sum (yhat - y)**2), cost summed over the ``samples`` rows (averaged with
    ``mean``).  X ~ N(0, 1), one-hot labels and params ~ N(0, 1), seeded by ``seed``;
    params flattened W1, b1, W2, b2, ... (``(Dx+1)H + (H+1)Dy`` of them for 3 sizes).

    ``impl`` is your ``NAME(data, labels, params, dimensions) -> (cost, grad)`` (a
    callable, or ``"FILE.py:NAME"`` / ``"module:NAME"``): its gradient is checked
    against central differences of its own cost, a black box (``blackbox``): ``mode``
    ``adaptive`` (the default with ``impl``; ``fast`` is the same) tests random-sign sets
    of entries and splits only the sets that disagree, ``full`` checks every entry (2
    calls each); its cost is checked against the reference cost (the report's
    ``cost_check``; ``cost_check=False`` skips it, for minibatch or dropout
    implementations whose cost legitimately differs).  Without ``impl`` the built-in
    network is checked with batched, structured differences (``network_fd``; ``mode``
    ``full`` by default, ``fast``: its structured directions first, ``adaptive``: the
    black-box search on the built-in cost); ``bug`` injects a classic mistake
    (``models.BUGS``).  The report has one block per parameter block, the failing and
    ``top`` worst entries, hints (``diagnosis``) and, for the black-box modes, the effort
    (entries, calls, seconds).  ``max_seconds`` stops the black-box search (``impl``, or
    ``mode="adaptive"``) after that long: the rest is counted ``unchecked``.

    >>> check_network((10, 5, 10)).status.value
    'pass'
    """
    from .. import models, network_fd
    from ..diagnosis import cost_hint, diagnose
    from ..blackbox.search import DIRECTIONS as FAST_DIRECTIONS
    from ..usercode import UserFunction, load_seeded

    deadline = deadline_after(validate_max_seconds(max_seconds))
    dims = models.parse_dims(dims)
    spec = models.NetworkSpec(dims, activation=activation, loss=loss, mean=mean)
    samples = models.validate_samples(spec, samples)
    validate_seed(seed)
    if mode is None:
        mode = Mode.ADAPTIVE if impl is not None else Mode.FULL
    try:
        mode = Mode(mode)
    except ValueError:
        raise OptionError(f"--mode must be one of adaptive, fast, full, got {mode!r}") from None
    validate_top(top)
    validate_hvp(hvp)
    if impl is not None and bug is not None:
        raise OptionError("--inject-bug applies to the built-in network, not to --impl")
    bug = models.validate_bug(spec, bug)
    data, labels, params = models.make_problem(spec, samples, seed)
    blocks = spec.blocks
    ref_cost = models.cost(spec, data, labels, params)
    hints = []
    compared = None
    name = None

    if impl is not None:
        if isinstance(impl, str):
            (user,), name = load_seeded([(impl, "function")], seed, isolate=isolate), impl
        else:
            name = callable_name(impl)
            user = UserFunction(impl, name)
        dimensions = list(dims)

        def user_cg(p):
            return user.cost_and_grad(data, labels, p, dimensions, grad_shape=params.shape)

        user_cost = lambda p: user.cost_and_grad(  # noqa: E731
            data, labels, p, dimensions, grad_shape=params.shape, copy=False)[0]
        kink = network_fd.kink_mask(spec, data, params) if spec.activation == "relu" else np.zeros(params.size, bool)
        with user.session():
            cost0, g = user_cg(params.copy())
            searched = check_blackbox(user_cost, params, g.ravel(), blocks, mode=mode, thresholds=thresholds, top=top,
                                      seed=seed, f0=cost0, kink=kink, calls=lambda: user.calls, progress=progress,
                                      deadline=deadline)
        # the cost check: yours against the reference, within the round-off of a sum of M terms
        cost_noise = 64 * np.finfo(float).eps * float(np.sum(np.abs(models.per_sample_costs(spec, data, labels, params))))
        cres = assess(np.array([cost0]), np.array([ref_cost]), np.array([cost_noise]), thresholds)  # issue 9
        cfloor, crel, cstatus = float(cres.floor[0]), float(cres.rel[0]), cres.statuses[0]
        if cost_check:
            compared = CostCheck(yours=float(cost0), reference=float(ref_cost), rel_error=crel,
                                 floor=cfloor, status=cstatus)
        if cost_check and cstatus is Status.FAIL and ref_cost != 0:
            hints.append(cost_hint(cost0 / ref_cost, samples, mean))
        grad_fn = lambda p: user_cg(p.reshape(params.shape))[1].ravel()  # noqa: E731
        cost_fn = user_cost
    else:
        cost0, g = models.cost_and_grad(spec, data, labels, params, bug=bug)
        cspec = models.cost_spec(spec, bug) if bug else spec
        directional = {}
        searched = None
        if mode is Mode.ADAPTIVE:  # the black-box search, on the built-in cost
            kink = network_fd.kink_mask(spec, data, params) if spec.activation == "relu" else np.zeros(params.size, bool)
            searched = check_blackbox(lambda p: models.cost(cspec, data, labels, p), params, g, blocks, mode=mode,
                                      thresholds=thresholds, top=top, seed=seed, f0=cost0, kink=kink, recheck=False,
                                      progress=progress, deadline=deadline)
            full_blocks = set()
        elif mode is Mode.FAST:
            fast = network_fd.fast_check(cspec, data, labels, params, g, k=FAST_DIRECTIONS, seed=seed,
                                         thresholds=thresholds)
            full_blocks = set(fast.full_blocks)
            directional = {r.block: (r.analytic, r.numeric, r.noise) for r in fast.directional}
        else:
            full_blocks = {b.name for b in blocks}
        if searched is None and full_blocks:
            numeric, noise, kink = network_fd.numeric_gradient(
                cspec, data, labels, params, blocks=[b for b in blocks if b.name in full_blocks])
        elif searched is None:
            numeric = noise = np.full(params.size, np.nan)
            kink = np.zeros(params.size, bool)
        grad_fn = lambda p: models.cost_and_grad(spec, data, labels, p, bug=bug)[1]  # noqa: E731
        cost_fn = lambda p: models.cost(cspec, data, labels, p)  # noqa: E731

    g = np.asarray(g, dtype=float).ravel()
    effort = None
    if searched is not None:
        verdict, effort = searched.verdict, searched.effort
        block_results, counts = list(verdict.blocks), [verdict.counts]
        how, numeric, noise = searched.search.flat(params.size)
        numeric = np.where(np.isfinite(numeric), numeric, g)  # not checked directly: taken as right
        analytic_blocks = [(r.name, g[b.slice].reshape(b.shape), numeric[b.slice].reshape(b.shape), r.status)
                           for b, r in zip(blocks, block_results)]
        full_blocks = {b.name for b in blocks}
    else:
        data_blocks = network_block_data([b for b in blocks if b.name in full_blocks], g, numeric, noise, kink)
        verdict = judge_blocks(data_blocks, thresholds, top)
        by_name = {r.name: r for r in verdict.blocks}
        block_results, counts = [], [verdict.counts]

        for b in blocks:
            if b.name in by_name:
                block_results.append(by_name[b.name])
            else:  # fast mode: the directions agreed within their noise
                a, d, dn = directional[b.name]
                rel = relative_error(a, d, floor_from_noise(dn, thresholds))
                block_results.append(BlockResult(b.name, b.shape, 0, float(np.max(rel)), None, Status.PASS,
                                                 directions=len(a)))
                counts.append(count_statuses([Status.PASS] * len(a)))
        # blocks that passed fast mode's directions count as right (numeric taken as analytic)
        analytic_blocks = [
            (b.name, g[b.slice].reshape(b.shape),
             (numeric if b.name in by_name else g)[b.slice].reshape(b.shape),
             by_name[b.name].status if b.name in by_name else Status.PASS)
            for b in blocks
        ]
    hints += diagnose(analytic_blocks, samples=samples, activation=spec.activation)
    checks = verdict.checks
    extra: list = []  # the cost check is separate (contract): not in the summary
    all_counts = merge_counts(counts + [count_statuses(extra)])
    report = Report(
        command="net", method=Method.CENTRAL, thresholds=thresholds, checks=checks, counts=all_counts,
        blocks=tuple(block_results), param_count=spec.param_count, hints=tuple(hints), shown=top,
        cost_check=compared,
        subject=NetworkSubject(
            description=spec.describe(), samples=samples, seed=seed, param_count=spec.param_count,
            shapes=tuple((b.name, tuple(b.shape)) for b in blocks), implementation=name, cost=float(cost0),
            reference_cost=float(ref_cost) if impl is not None and cost_check else None,
            bug=bug, bug_text=models.BUGS[bug] if bug else None,
            fast_directions=FAST_DIRECTIONS if mode is Mode.FAST and searched is None else None,
            quick_blocks=tuple(b.name for b in blocks if b.name not in full_blocks),
        ),
        mode=mode,
        effort=effort,
    )
    if impl is None or not (hvp or taylor):
        return with_second_opinions(report, cost_fn, grad_fn, params, g, hvp=hvp, taylor=taylor, seed=seed)
    from dataclasses import replace

    with user.session():
        report = with_second_opinions(report, cost_fn, grad_fn, params, g, hvp=hvp, taylor=taylor, seed=seed)
    # the second opinions' calls are calls of the user's code too
    return replace(report, effort=replace(report.effort, calls=user.calls))


