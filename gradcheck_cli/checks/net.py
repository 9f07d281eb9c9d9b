"""``gradcheck net``: the built-in network (optionally with an injected bug) or the
user's own ``forward_backward_prop``, checked block by block.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..choices import Activation, Loss, Method, Mode
from ..errors import OptionError
from ..inputs import validate_hvp, validate_seed, validate_top
from ..results import BlockResult, CostCheck, NetworkSubject, Report, count_statuses, merge_counts
from ..verdict import Status, Thresholds, assess
from ..blackbox.pipeline import check_blackbox, deadline_after, validate_max_seconds
from ..blocks import judge_blocks, network_block_data
from ..finite_diff import value_eps
from .common import callable_name, lifted_cost, with_second_opinions
from .common import timed


@timed
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
    isolate: bool = False,
    max_seconds: float | None = None,
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
    network is checked with batched, structured differences (``network.differences``; ``mode``
    ``full`` by default, ``fast``: its structured directions first, then every entry of
    the blocks they clear against its extended-precision derivative, ``adaptive``: the
    black-box search on the built-in cost); ``bug`` injects a classic mistake
    (``model.BUGS``).  The report has one block per parameter block, the failing and
    ``top`` worst entries, hints (``diagnosis``) and, for the black-box modes, the effort
    (entries, calls, seconds).  ``max_seconds`` stops the black-box search (``impl``, or
    ``mode="adaptive"``) after that long: the rest is counted ``unchecked``.

    >>> check_network((10, 5, 10)).status.value
    'pass'
    """
    from ..network import model

    deadline = deadline_after(validate_max_seconds(max_seconds))
    dims = model.parse_dims(dims)
    spec = model.NetworkSpec(dims, activation=activation, loss=loss, mean=mean)
    samples = model.validate_samples(spec, samples)
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
    bug = model.validate_bug(spec, bug)
    data, labels, params = model.make_problem(spec, samples, seed)
    problem = _Problem(spec, data, labels, params, samples, seed, mean, thresholds, mode, top, progress, deadline)

    if impl is not None:
        ev = _user_evidence(problem, impl, cost_check, isolate)
    else:
        ev = _builtin_evidence(problem, bug)
    if ev.thresholds is not None:  # float32 code: its default pass tolerance
        from dataclasses import replace as _replace

        thresholds = ev.thresholds
        problem = _replace(problem, thresholds=thresholds)
    verdict, block_results, counts, effort, analytic_blocks, full_blocks = _judge(problem, ev)

    from ..diagnosis import diagnose
    from ..blackbox.search import DIRECTIONS as FAST_DIRECTIONS

    blocks = spec.blocks
    hints = ev.hints + diagnose(analytic_blocks, samples=samples, activation=spec.activation)
    report = Report(  # the cost check is separate (contract): not in the summary
        command="net", method=Method.CENTRAL, thresholds=thresholds, checks=verdict.checks,
        counts=merge_counts(counts + [count_statuses([])]),
        blocks=tuple(block_results), param_count=spec.param_count, hints=tuple(hints), shown=top,
        cost_check=ev.compared,
        subject=NetworkSubject(
            description=spec.describe(), samples=samples, seed=seed, param_count=spec.param_count,
            shapes=tuple((b.name, tuple(b.shape)) for b in blocks), implementation=ev.name, cost=float(ev.cost0),
            reference_cost=float(ev.ref_cost) if impl is not None and cost_check else None,
            bug=bug, bug_text=model.BUGS[bug] if bug else None,
            fast_directions=FAST_DIRECTIONS if mode is Mode.FAST and ev.searched is None else None,
            quick_blocks=tuple(b.name for b in blocks if b.name not in full_blocks),
            verified_blocks=tuple(b.name for b in blocks if b.name in ev.verified),
        ),
        mode=mode,
        effort=effort,
    )
    if ev.user is None or not (hvp or taylor):
        return with_second_opinions(report, ev.cost_fn, ev.grad_fn, params, ev.g, hvp=hvp, taylor=taylor, seed=seed)
    from dataclasses import replace

    with ev.user.session():
        report = with_second_opinions(report, ev.cost_fn, ev.grad_fn, params, ev.g, hvp=hvp, taylor=taylor, seed=seed)
    # the second opinions' calls are calls of the user's code too
    return replace(report, effort=replace(report.effort, calls=ev.user.calls))


@dataclass(frozen=True)
class _Problem:
    """The seeded network problem and the options every step needs."""

    spec: object
    data: np.ndarray
    labels: np.ndarray
    params: np.ndarray
    samples: int
    seed: int
    mean: bool
    thresholds: Thresholds
    mode: Mode
    top: int
    progress: object
    deadline: float | None = None  # --max-seconds: a time.perf_counter() value


@dataclass
class _Evidence:
    """What a step gathered: the gradient checked, the numbers against it, how to redo it.

    Either ``searched`` (the black-box search) or ``numeric``/``noise``/``kink`` for the
    blocks in ``full_blocks`` (the structured differences); ``directional`` holds fast
    mode's directions of the other blocks.
    """

    g: np.ndarray
    cost0: float
    ref_cost: float
    cost_fn: object
    grad_fn: object
    searched: object = None
    numeric: np.ndarray | None = None
    noise: np.ndarray | None = None
    kink: np.ndarray | None = None
    full_blocks: set = field(default_factory=set)
    directional: dict = field(default_factory=dict)
    #: the thresholds in effect when the step changed them (float32 code), else None
    thresholds: object = None
    compared: CostCheck | None = None
    hints: list = field(default_factory=list)
    name: str | None = None
    user: object = None  # the user's wrapped function (``--impl``)
    #: the zero rule's ``z`` of the structured differences (``NumericGradient.zero_scale``)
    zero_scale: np.ndarray | None = None
    #: fast mode: blocks whose directions agreed, then verified entry by entry in extended precision
    verified: set = field(default_factory=set)


def _user_evidence(pb: _Problem, impl, cost_check: bool, isolate: bool = False) -> _Evidence:
    """The user's ``NAME(data, labels, params, dimensions) -> (cost, grad)``: the black-box
    search on its own cost, and its cost against the reference cost."""
    from ..diagnosis import cost_hint
    from ..usercode import UserFunction, load_seeded
    from ..network import differences, model

    spec, data, labels, params, thresholds = pb.spec, pb.data, pb.labels, pb.params, pb.thresholds
    if isinstance(impl, str):
        (user,), name = load_seeded([(impl, "function")], pb.seed, isolate=isolate), impl
    else:
        name = callable_name(impl)
        user = UserFunction(impl, name)
    dimensions = list(spec.dims)

    def user_cg(p):
        return user.cost_and_grad(data, labels, p, dimensions, grad_shape=params.shape)

    user_cost = lambda p: user.cost_and_grad(  # noqa: E731
        data, labels, p, dimensions, grad_shape=params.shape, copy=False)[0]
    kink = differences.kink_mask(spec, data, params) if spec.activation == "relu" else np.zeros(params.size, bool)
    with user.session():
        cost0, g = user_cg(params.copy())
        # float32 code: the default pass tolerance is what float32 can verify (issue 16)
        thresholds = thresholds.for_precision(value_eps(np.asarray([cost0]), np.asarray(g)))
        first = lambda r: r[0] if isinstance(r, (tuple, list)) else r  # noqa: E731
        lifted = lifted_cost(lambda p: first(user.call(data, labels, p, dimensions)), params, cost0)
        searched = check_blackbox(user_cost, params, g.ravel(), spec.blocks, mode=pb.mode, thresholds=thresholds,
                                  top=pb.top, seed=pb.seed, f0=cost0, kink=kink, calls=lambda: user.calls,
                                  lifted=lifted, progress=pb.progress, deadline=pb.deadline)
    ref_cost = model.cost(spec, data, labels, params)
    # the cost check: yours against the reference, within the round-off of a sum of M terms
    cost_noise = 64 * np.finfo(float).eps * float(np.sum(np.abs(model.per_sample_costs(spec, data, labels, params))))
    cres = assess(np.array([cost0]), np.array([ref_cost]), np.array([cost_noise]), thresholds)  # issue 9
    cfloor, crel, cstatus = float(cres.floor[0]), float(cres.rel[0]), cres.statuses[0]
    compared = CostCheck(yours=float(cost0), reference=float(ref_cost), rel_error=crel,
                         floor=cfloor, status=cstatus) if cost_check else None
    if compared is not None and cstatus is not Status.PASS:  # an L2 penalty: the cost and its gradient agree
        from ..network.penalty import find_l2

        l2 = find_l2(spec, params, cost0, ref_cost, cost_noise, g, model.cost_and_grad(spec, data, labels, params)[1],
                     eps=value_eps(np.asarray([cost0]), np.asarray(g)))
        if l2 is not None:
            cstatus = Status.PASS
            compared = replace(compared, status=cstatus, l2=l2.c, l2_blocks=l2.blocks, l2_formula=l2.formula())
    hints = [cost_hint(cost0 / ref_cost, pb.samples, pb.mean)] if (
        cost_check and cstatus is Status.FAIL and ref_cost != 0) else []
    return _Evidence(
        g=np.asarray(g, dtype=float).ravel(), cost0=cost0, ref_cost=ref_cost, cost_fn=user_cost,
        grad_fn=lambda p: user_cg(p.reshape(params.shape))[1].ravel(),
        searched=searched, kink=kink, compared=compared, hints=hints, name=name, user=user,
        thresholds=thresholds,
    )


def _builtin_evidence(pb: _Problem, bug: str | None) -> _Evidence:
    """The built-in network (``bug`` injected): structured differences of every entry
    (``full``; the entries float64 leaves undecided settled in extended precision), fast
    mode's directions first (``fast``: the blocks they clear verified entry by entry in
    extended precision, the others take the full check), or the black-box search
    (``adaptive``)."""
    from ..blackbox.search import DIRECTIONS as FAST_DIRECTIONS
    from ..network import differences, directions, model

    spec, data, labels, params, thresholds = pb.spec, pb.data, pb.labels, pb.params, pb.thresholds
    blocks = spec.blocks
    cost0, g = model.cost_and_grad(spec, data, labels, params, bug=bug)
    cspec = model.cost_spec(spec, bug) if bug else spec
    ev = _Evidence(g=np.asarray(g, dtype=float).ravel(), cost0=cost0, ref_cost=model.cost(spec, data, labels, params),
                   cost_fn=lambda p: model.cost(cspec, data, labels, p),
                   grad_fn=lambda p: model.cost_and_grad(spec, data, labels, p, bug=bug)[1])
    if pb.mode is Mode.ADAPTIVE:  # the black-box search, on the built-in cost
        ev.kink = differences.kink_mask(spec, data, params) if spec.activation == "relu" else np.zeros(params.size, bool)
        ev.searched = check_blackbox(ev.cost_fn, params, g, blocks, mode=pb.mode, thresholds=thresholds,
                                     top=pb.top, seed=pb.seed, f0=cost0, kink=ev.kink, recheck=False,
                                     progress=pb.progress, deadline=pb.deadline)
        return ev
    verified: dict = {}
    if pb.mode is Mode.FAST:
        fast = directions.fast_check(cspec, data, labels, params, g, k=FAST_DIRECTIONS, seed=pb.seed,
                                     thresholds=thresholds)
        ev.full_blocks = set(fast.full_blocks)
        ev.directional = {r.block: (r.analytic, r.numeric, r.noise) for r in fast.directional}
        verified = fast.verified
    else:
        ev.full_blocks = {b.name for b in blocks}
    if ev.full_blocks:
        settled = differences.settle(
            cspec, data, labels, params, g, thresholds, blocks=[b for b in blocks if b.name in ev.full_blocks])
        ev.numeric, ev.noise, ev.kink = settled
        ev.zero_scale = settled.zero_scale
    else:
        ev.numeric, ev.noise = np.full(params.size, np.nan), np.full(params.size, np.nan)
        ev.kink = np.zeros(params.size, bool)
        ev.zero_scale = np.zeros(params.size)
    zero = differences.zero_scale(cspec, data, labels, params) if verified else None
    for name, (value, error) in verified.items():  # fast mode: the extended-precision derivatives
        sl = spec.block(name).slice
        ev.numeric[sl], ev.noise[sl], ev.zero_scale[sl] = value, error, zero[sl]
    ev.verified = set(verified)
    return ev


def _judge(pb: _Problem, ev: _Evidence):
    """Verdicts of every block: ``(verdict, block_results, counts, effort, analytic_blocks,
    full_blocks)``; ``analytic_blocks`` feeds the hints (blocks passed by fast mode's
    directions count as right: their numeric is taken as the analytic value)."""
    spec, params, thresholds, top, g = pb.spec, pb.params, pb.thresholds, pb.top, ev.g
    blocks = spec.blocks
    if ev.searched is not None:
        verdict, effort = ev.searched.verdict, ev.searched.effort
        block_results = list(verdict.blocks)
        how, numeric, noise = ev.searched.search.flat(params.size)
        numeric = np.where(np.isfinite(numeric), numeric, g)  # not checked directly: taken as right
        analytic_blocks = [(r.name, g[b.slice].reshape(b.shape), numeric[b.slice].reshape(b.shape), r.status)
                           for b, r in zip(blocks, block_results)]
        return verdict, block_results, [verdict.counts], effort, analytic_blocks, {b.name for b in blocks}
    full = [b for b in blocks if b.name in ev.full_blocks or b.name in ev.verified]
    data = network_block_data(full, g, ev.numeric, ev.noise, ev.kink)
    if ev.zero_scale is not None:
        data = [replace(d, unit_roundoff=ev.zero_scale[b.slice]) for d, b in zip(data, full)]
    verdict = judge_blocks(data, thresholds, top)
    by_name = {r.name: r for r in verdict.blocks}
    block_results, counts = [], [verdict.counts]
    for b in blocks:
        if b.name in ev.verified:  # fast mode: directions agreed, then every entry in extended precision
            block_results.append(replace(by_name[b.name], directions=len(ev.directional[b.name][0])))
        elif b.name in by_name:
            block_results.append(by_name[b.name])
        else:  # fast mode: the directions agreed within their error bounds
            a, d, dn = ev.directional[b.name]
            rel = assess(a, d, dn, thresholds).rel  # the one rule's displayed relative error
            block_results.append(BlockResult(b.name, b.shape, 0, float(np.max(rel)), None, Status.PASS,
                                             directions=len(a)))
            counts.append(count_statuses([Status.PASS] * len(a)))
    analytic_blocks = [
        (b.name, g[b.slice].reshape(b.shape),
         (ev.numeric if b.name in by_name else g)[b.slice].reshape(b.shape),
         by_name[b.name].status if b.name in by_name else Status.PASS)
        for b in blocks
    ]
    return verdict, block_results, counts, None, analytic_blocks, set(ev.full_blocks) | ev.verified
