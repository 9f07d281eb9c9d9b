"""Results of a gradient check: frozen dataclasses that every view renders.

``Report.to_dict()`` is the JSON document of the contract (``SPEC.md``, JSON output).
Everything a view shows is a typed field here (what was checked: ``Formula``,
``NetworkSubject``, ``FunctionSubject``, ``LayerSubject``, ``SanityItem``; the extras of ``--taylor``,
``--graph``, ``sweep``); the text is made in ``views``.  The labels of a point
(``x=1.5, y=2``) and of an entry (``W1[3, 2]``) are made here, once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from .choices import Method, Mode
from .verdict import Status, Thresholds, is_failure, worst


def json_number(x: float | None) -> float | None:
    """A float for JSON: non-finite values become ``null`` (JSON has no inf/NaN)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def number_label(v: float) -> str:
    """A coordinate as the user reads it: the shortest text that reads back as the same
    float (``1.000001``, ``-2``, ``1e-05``), so that two different points never share a
    label.  Random points are drawn with 6 significant digits (``points.py``), so their
    labels stay short."""
    v = float(v)
    if not math.isfinite(v):
        return str(v)
    text = repr(v)
    return text[:-2] if text.endswith(".0") else text


def point_label(point: Mapping[str, float]) -> str:
    """``x=1.5, y=-2``: the one label of a point."""
    return ", ".join(f"{k}={number_label(v)}" for k, v in point.items())


def entry_label(name: str, index: Sequence[int] | None) -> str:
    """``W1[3, 2]``: the one label of an entry of a block (``name`` for a scalar)."""
    if not index:
        return name
    return f"{name}[{', '.join(str(int(i)) for i in index)}]"


def error_text(x: float | None) -> str:
    """A relative error or floor: 2 significant digits in exponent form."""
    if x is None or math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf"
    return "0" if x == 0 else f"{x:.1e}"


def shape_text(shape) -> str:
    """``3 x 4``; ``scalar`` for ``()``."""
    return " x ".join(map(str, shape)) or "scalar"


def x_text(source, shape) -> str:
    """``x ~ N(0, 1), seed 0`` / ``x from FILE`` / ``x = [1, 2]``: where x came from."""
    import numpy as np

    if source is None:
        return "x"
    if source.kind == "normal":
        return f"x ~ N(0, 1), seed {source.seed}"
    if source.kind == "uniform":
        return f"x ~ U({source.low:g}, {source.high:g}), seed {source.seed}"
    if source.kind == "file":
        return f"x from {source.path}"
    if source.values is None:
        return "x given with --x"
    return f"x = {np.array2string(np.array(source.values).reshape(shape), separator=', ')}"


def array_text(a) -> str:
    """An array as the sanity suite prints it (8 digits, space separated)."""
    import numpy as np

    return np.array2string(np.asarray(a), precision=8, suppress_small=False, separator=" ", floatmode="maxprec")


def formula_line(f) -> str:
    """``d/dx = cos(x)`` (``  (claimed)`` when the user wrote it)."""
    return f"{f.label} = {f.text}" + ("  (claimed)" if f.claimed else "")


def network_line(n) -> str:
    """``network 10-5-10, M = 20 samples, seed 0``."""
    return f"network {n.description}, M = {n.samples} samples, seed {n.seed}"


class Subject:
    """What a report is about.  Each kind carries its own header lines (what was checked,
    above the table), note lines (under it) and JSON fields (after the contract's keys);
    the views ask it and know no kinds.  A new command adds one subclass (a frozen
    dataclass) and a check module.  Text is plain: the views style it.
    """

    #: the cost at the checked point (net, func), else None
    cost: float | None = None

    def header_lines(self, report: "Report") -> list[str]:
        return []

    def note_lines(self, report: "Report") -> list[str]:
        return []

    def json_fields(self, report: "Report") -> dict[str, Any]:
        return {}

    def check_fields(self, check: "Check") -> dict[str, Any]:
        """Extra JSON keys of one row (after its own)."""
        return {}

    def row_groups(self, report: "Report") -> list[tuple[str | None, tuple["Check", ...]]]:
        """The rows as tables: ``(title or None, checks)``; one untitled table by default."""
        return [(None, report.checks)]

    def detail_lines(self, report: "Report") -> list[tuple[str, str]]:
        """``(label, text)`` lines under the table(s), before the hints (the view styles labels)."""
        return []


@dataclass(frozen=True)
class Check:
    """One checked component: a variable at a point, or one entry of a parameter block.

    ``analytic`` is the value being checked, ``numeric`` the finite-difference
    estimate, ``floor`` the relative-error floor in effect (same units as the values).
    """

    name: str
    analytic: float
    numeric: float
    rel_error: float
    status: Status
    floor: float
    point: Mapping[str, float] | None = None
    index: tuple[int, ...] | None = None
    #: bound on |numeric - true derivative| used by the verdict (None: not given)
    error: float | None = None
    #: verdict.Reason value: why the row is unresolved ("" otherwise)
    reason: str = ""
    #: decided by the extended-precision referee at this many digits (None: float64)
    digits: int | None = None
    #: the analytic formula loses digits in float64 at this point (referee's note)
    lossy_formula: bool = False
    #: expr of a vector [f1, f2, ...]: which output (1-based) this partial is of
    output: int | None = None
    #: expr: (analytic, numeric) as text where float64 cannot hold the exact values
    #: (exp(x) at 710 is 2.233994905e+308, not inf), None where it can
    exact_text: tuple[str | None, str | None] | None = None

    @property
    def label(self) -> str:
        """``W1[3, 2]`` for an entry, ``d/dx at x=1, y=2`` for a variable, else the name."""
        if self.point is not None:
            of = f"f{self.output}" if self.output is not None else ""
            return f"d{of}/d{self.name} at {point_label(self.point)}"
        return entry_label(self.name, self.index)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name}
        if self.output is not None:
            d["output"] = self.output
        if self.point is not None:
            d["point"] = {k: json_number(v) for k, v in self.point.items()}
        if self.index is not None:
            d["index"] = [int(i) for i in self.index]
        d.update(
            analytic=json_number(self.analytic),
            numeric=json_number(self.numeric),
            rel_error=json_number(self.rel_error),
            floor=json_number(self.floor),
            status=self.status.value,
        )
        if self.error is not None:
            d["error"] = json_number(self.error)
        if self.reason:
            d["reason"] = self.reason
        if self.digits is not None:
            d["digits"] = self.digits
        if self.lossy_formula:
            d["lossy_formula"] = True
        if self.exact_text is not None:
            for key, text in zip(("analytic_exact", "numeric_exact"), self.exact_text):
                if text is not None:
                    d[key] = text
        return d


@dataclass(frozen=True)
class BlockResult:
    """Summary of one parameter block (W1, b1 ... or x): its worst entry and status."""

    name: str
    shape: tuple[int, ...]
    checked: int
    max_rel_error: float
    worst_index: tuple[int, ...] | None
    status: Status
    counts: Mapping[str, int] = field(default_factory=dict)
    #: fast mode: random directions along which the block was checked (``checked`` counts
    #: entries checked one by one, 0 when the directions agreed)
    directions: int = 0

    def to_dict(self) -> dict[str, Any]:
        out = {
            "name": self.name,
            "shape": list(self.shape),
            "checked": self.checked,
            "max_rel_error": json_number(self.max_rel_error),
            "worst_index": None if self.worst_index is None else [int(i) for i in self.worst_index],
            "status": self.status.value,
        }
        if self.directions:
            out["directions"] = self.directions
        return out


def count_statuses(statuses: Sequence[Status]) -> dict[str, int]:
    """The contract's summary counts: checks, pass, warn, fail, kink, unresolved."""
    counts = {"checks": len(statuses)} | {s.value: 0 for s in Status if s is not Status.UNCHECKED}
    for s in statuses:
        counts[Status(s).value] += 1
    return counts


def merge_counts(parts: Sequence[Mapping[str, int]]) -> dict[str, int]:
    # "unchecked" (--max-seconds) only where a part counts it
    total = {"checks": 0} | {s.value: 0 for s in Status if s is not Status.UNCHECKED}
    if any("unchecked" in p for p in parts):
        total["unchecked"] = 0
    for p in parts:
        for k in total:
            total[k] += p.get(k, 0)
    return total


@dataclass(frozen=True)
class Formula:
    """A derivative being checked: ``label = text`` (``d/dx = cos(x)``), sympy's or claimed."""

    label: str  # d/dx, or d2/dxdy for a second partial
    text: str
    claimed: bool = False


@dataclass(frozen=True)
class ExpressionSubject(Subject):
    """The derivatives an ``expr`` report checks (one formula per variable, or per claimed
    second partial)."""

    formulas: tuple[Formula, ...] = ()
    order: int = 1  # 2: second partials (the Hessian)
    outputs: tuple[str, ...] = ()  # a vector [f1, f2, ...]: its outputs (rows carry Check.output)
    diagnoses: tuple[Any, ...] = ()  # expression.diagnose.Diagnosis per failing claimed partial
    proofs: tuple[Any, ...] = ()  # --prove: expression.prove.Proof per claimed partial

    def header_lines(self, report: "Report") -> list[str]:
        return [formula_line(f) for f in self.formulas]

    def json_fields(self, report: "Report") -> dict[str, Any]:
        e: dict[str, Any] = {} if self.order == 1 else {"order": self.order}
        if self.outputs:
            e["outputs"] = list(self.outputs)
        if self.proofs:
            e["proof"] = [{"wrt": p.wrt, "output": p.output, "status": p.status, "how": p.how,
                           "counterexample": None if p.counterexample is None
                           else {k: json_number(v) for k, v in p.counterexample.items()}} for p in self.proofs]
        return e

    def check_fields(self, check: "Check") -> dict[str, Any]:
        """A failing claimed row carries its ``diagnosis``."""
        from dataclasses import asdict

        if check.status is not Status.FAIL:
            return {}
        found = [d for d in self.diagnoses if d.wrt == check.name and d.output == check.output]
        return {"diagnosis": asdict(found[0])} if found else {}

    def row_groups(self, report: "Report") -> list[tuple[str | None, tuple["Check", ...]]]:
        """A vector expression: one table per output, titled ``f1 = ...``."""
        if not self.outputs:
            return [(None, report.checks)]
        return [(f"f{k} = {text}", tuple(c for c in report.checks if c.output == k))
                for k, text in enumerate(self.outputs, 1)]

    def detail_lines(self, report: "Report") -> list[tuple[str, str]]:
        """The diagnosis of each failing claim (derivative, difference), the proof of each claim."""
        lines = []
        for d in self.diagnoses:
            of = f"f{d.output}" if d.output is not None else ""
            lines.append((f"diagnosis d{of}/d{d.wrt}: ", d.message))
            for label, value in ((f"your d{of}/d{d.wrt}:", d.claim), ("the derivative:", d.truth),
                                 ("claim - derivative:", d.difference + (f" ({d.note})" if d.note else ""))):
                lines.append(("", f"  {label:<20}{value}"))
        for p in self.proofs:
            of = f"f{p.output}" if p.output is not None else ""
            lines.append((f"proof d{of}/d{p.wrt}: ", p.text()))
        return lines


@dataclass(frozen=True)
class NetworkSubject(Subject):
    """The network a ``net`` report is about."""

    description: str  # "10-5-10" (network.model.NetworkSpec.describe)
    samples: int
    seed: int
    param_count: int
    shapes: tuple[tuple[str, tuple[int, ...]], ...]  # (block name, shape) in order
    implementation: str | None = None  # the user's FILE.py:NAME, or None for the built-in
    cost: float | None = None  # the checked cost
    reference_cost: float | None = None  # the built-in cost, with --impl
    bug: str | None = None
    bug_text: str | None = None
    fast_directions: int | None = None  # --mode fast: random directions per block
    quick_blocks: tuple[str, ...] = ()  # --mode fast: blocks cleared by their directions
    #: --mode fast: blocks whose directions agreed, then verified entry by entry in extended precision
    verified_blocks: tuple[str, ...] = ()

    def header_lines(self, report: "Report") -> list[str]:
        lines = [network_line(self),
                 f"{self.param_count} parameters: " + ", ".join(f"{b} {' x '.join(map(str, s))}" for b, s in self.shapes)]
        if self.implementation is not None:
            cc = report.cost_check
            if cc is None:
                lines.append(f"implementation: {self.implementation}; cost {self.cost:.10g} "
                             "(not compared with the reference cost: --no-cost-check)")
            elif cc.l2 is not None:
                lines.append(f"implementation: {self.implementation}; cost {cc.yours:.10g}, reference "
                             f"{cc.reference:.10g}: cost check {cc.status.value.upper()} "
                             f"(yours = reference + {cc.l2_formula}, an L2 penalty)")
            else:
                lines.append(f"implementation: {self.implementation}; cost {cc.yours:.10g}, reference "
                             f"{cc.reference:.10g}: cost check {cc.status.value.upper()} "
                             f"(rel error {error_text(cc.rel_error)})")
        if self.bug:
            lines.append(f"injected bug: {self.bug}: {self.bug_text}")
        return lines

    def note_lines(self, report: "Report") -> list[str]:
        if self.fast_directions is None:
            return []
        k, quick, verified = self.fast_directions, list(self.quick_blocks), list(self.verified_blocks)
        full = [b.name for b in report.blocks if b.name not in quick and b.name not in verified]
        parts = []
        if verified:
            parts.append(f"{', '.join(verified)} agreed along all {k} directions within their noise, then every "
                         "entry was verified against its extended-precision derivative")
        if quick:
            parts.append(f"{', '.join(quick)} agreed along all {k} directions within their "
                         "noise (no entry checked one by one)")
        parts.append(f"{', '.join(full)} checked entry by entry" if full else "no block needed the full check")
        return [f"fast mode: {k} random ±1 directions per block; " + "; ".join(parts)]

    def json_fields(self, report: "Report") -> dict[str, Any]:
        return {} if self.cost is None else {"cost": json_number(self.cost)}


@dataclass(frozen=True)
class XSource:
    """Where x came from: ``normal`` (N(0, 1) with ``seed``), ``uniform`` (U(low, high) with
    ``seed``), ``file`` (``path``) or ``given``."""

    kind: str
    seed: int | None = None
    path: str | None = None
    values: tuple[float, ...] | None = None  # a short given x, for the header
    low: float | None = None  # ``uniform``: x ~ U(low, high)
    high: float | None = None


@dataclass(frozen=True)
class FunctionSubject(Subject):
    """The user function a ``func`` report is about."""

    function: str
    gradient: str | None  # a separate gradient function, or None for f -> (cost, grad)
    source: XSource | None
    shape: tuple[int, ...]
    cost: float | None = None
    sampled: int | None = None  # --sample K: entries checked, chosen with source.seed
    size: int | None = None

    def header_lines(self, report: "Report") -> list[str]:
        where = f"shape {shape_text(self.shape)}" if self.shape else "a scalar"
        return [f"f = {self.function}" + (" -> (cost, grad)" if self.gradient is None else f" -> cost, grad = {self.gradient}"),
                f"{x_text(self.source, self.shape)}, {where}" if self.source is not None else f"x: {where}",
                f"cost at x = {self.cost:.10g}"]

    def note_lines(self, report: "Report") -> list[str]:
        if self.sampled is None:
            return []
        return [f"checked {self.sampled} of {self.size} entries of x, chosen at random (seed {report.seed})"]

    def json_fields(self, report: "Report") -> dict[str, Any]:
        return {} if self.cost is None else {"cost": json_number(self.cost)}


@dataclass(frozen=True)
class LayerArg:
    """One positional input of a layer as the report shows it (``inputs.LayerInput`` without the array)."""

    name: str
    shape: tuple[int, ...]
    dtype: str  # float, int or bool
    differentiated: bool
    source: str  # "N(0, 1)", "int 0..9", "x.npy", "given"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype,
                "differentiated": self.differentiated, "source": self.source}


@dataclass(frozen=True)
class LayerSubject(Subject):
    """The layer a ``layer`` report is about: its functions, inputs, params, outputs."""

    forward: str
    backward: str | None  # None: a loss layer forward(...) -> (loss, dx, ...)
    inputs: tuple[LayerArg, ...]
    params: Mapping[str, Any]  # JSON values, as given
    outputs: tuple[tuple[int, ...], ...]  # shapes of out (one per output); () for a loss
    updated_params: tuple[str, ...] = ()  # params forward changed (each call got a fresh copy)
    cache_changed: bool = False  # backward's answer changed on a reused cache
    relative_noise: float = 0.0  # measured noise of sum(out * dout) / its scale (~1e-16 in float64)
    torch_gradcheck: bool | None = None  # --torch: torch.autograd.gradcheck's own verdict
    arguments: tuple[str, ...] = ()  # inputs and params bound by name, in the call's order (else ())

    @property
    def is_loss(self) -> bool:
        return self.backward is None

    def to_dict(self) -> dict[str, Any]:
        return {"forward": self.forward, "backward": self.backward, "loss": self.is_loss,
                "inputs": [i.to_dict() for i in self.inputs], "params": dict(self.params),
                "outputs": [list(s) for s in self.outputs], "updated_params": list(self.updated_params),
                "cache_changed": self.cache_changed, "relative_noise": json_number(self.relative_noise),
                **({} if self.torch_gradcheck is None else {"torch_gradcheck": self.torch_gradcheck})}

    def header_lines(self, report: "Report") -> list[str]:
        """``forward F(x, w, b) -> (out, cache); backward B(dout, cache) -> (dx, dw, db)``, the
        inputs, the params and what is compared."""
        import json

        seed = report.seed
        args = ", ".join(self.arguments or [i.name for i in self.inputs])
        grads = ", ".join(f"d{i.name}" for i in self.inputs if i.differentiated)
        if self.is_loss:
            lines = [f"loss layer {self.forward}({args}) -> (loss, {grads})"]
        else:
            m = len(self.outputs)
            outs = "out" if m == 1 else ", ".join(f"out{k + 1}" for k in range(m))
            douts = "dout" if m == 1 else ", ".join(f"dout{k + 1}" for k in range(m))
            lines = [f"forward {self.forward}({args}) -> ({outs}, cache)",
                     f"backward {self.backward}({douts}, cache) -> ({grads})"]
        parts = []
        for i in self.inputs:
            tag = "" if i.differentiated else ", not differentiated"
            parts.append(f"{i.name} {shape_text(i.shape)} {i.source}{tag}")
        lines.append(f"inputs (seed {seed}): " + "; ".join(parts))
        if self.params:
            text = ", ".join(f"{k}={json.dumps(v)}" for k, v in self.params.items())
            lines.append(f"params (a fresh copy for every call): {text}")
        if self.is_loss:
            lines.append("checked: the numeric gradient of the loss (dout = 1)")
        else:
            shapes = ", ".join(shape_text(s) for s in self.outputs)
            lines.append(f"checked: the numeric gradient of sum(out * dout), dout ~ N(0, 1) of shape {shapes} "
                         f"(seed {seed})")
        return lines

    def note_lines(self, report: "Report") -> list[str]:
        """Params that forward updates, a cache that changed, a noisy L, kinks."""
        lines = []
        if self.updated_params:
            lines.append(f"forward updates its params ({', '.join(self.updated_params)}): every call got a fresh copy")
        if self.cache_changed:
            lines.append("backward's result changed when called again on the first cache (see the hint)")
        if self.relative_noise > NOISY:
            r = self.relative_noise
            best = r ** (2 / 3)
            tol = 10.0 ** math.ceil(math.log10(100 * best))  # small entries carry the noise of the large ones
            lines.append(f"sum(out * dout) is noisy: relative noise {r:.1e} (float64 round-off is ~1e-16: float32 "
                         f"arithmetic?); the steps were enlarged to match, and the numeric gradient is good to about "
                         f"{best:.0e} of its largest entries (--pass-tol {tol:g} accepts that)")
        if self.torch_gradcheck is not None:
            lines.append(f"torch.autograd.gradcheck (float64; its eps 1e-6, atol 1e-5, rtol 1e-3): "
                         f"{'passed' if self.torch_gradcheck else 'failed'}")
        kinks = report.counts.get("kink", 0)
        if kinks:
            lines.append(f"{kinks} entr{'y' if kinks == 1 else 'ies'} at a kink: the one-sided slopes of the numeric "
                         "gradient differ there and the analytic value lies between them (not a failure)")
        return lines

    def json_fields(self, report: "Report") -> dict[str, Any]:
        return {"layer": self.to_dict()}


@dataclass(frozen=True)
class ModelSubject(Subject):
    """The model a ``model`` report is about: how it was made, its data and its params."""

    model: str  # FILE.py:CLASS, or the class name
    init: Mapping[str, Any]  # the constructor's keyword arguments (JSON values)
    inputs: tuple[LayerArg, ...]  # the data of loss(X, y)
    params: tuple[tuple[str, tuple[int, ...]], ...]  # every key of model.params and its shape, in order
    checked: tuple[str, ...]  # the keys checked (--wrt), in order
    loss: float  # the loss at the params
    reg: float | None = None  # model.reg, when it has one (the hints name it)
    converted: tuple[str, ...] = ()  # params held in another float type, checked in float64

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "init": dict(self.init), "inputs": [i.to_dict() for i in self.inputs],
                "params": [{"name": k, "shape": list(s)} for k, s in self.params],
                "checked": list(self.checked), "loss": json_number(self.loss), "reg": self.reg,
                "converted": list(self.converted)}

    def header_lines(self, report: "Report") -> list[str]:
        """``model fc_net.py:FullyConnectedNet(hidden_dims=[20, 30], ...)``, the data, the params."""
        import json

        init = ", ".join(f"{k}={json.dumps(v)}" for k, v in self.init.items())
        args = ", ".join(i.name for i in self.inputs)
        lines = [f"model {self.model}({init}); loss({args}) -> (loss, grads)"]
        if self.inputs:
            lines.append(f"data (seed {report.seed}): "
                         + "; ".join(f"{i.name} {shape_text(i.shape)} {i.source}" for i in self.inputs))
        total = sum(math.prod(s) for _, s in self.params)
        lines.append(f"params ({total} entries): " + ", ".join(f"{k} {shape_text(s)}" for k, s in self.params))
        if tuple(self.checked) != tuple(k for k, _ in self.params):
            checked = sum(math.prod(s) for k, s in self.params if k in self.checked)
            lines.append(f"checked: {', '.join(self.checked)} ({checked} entries; --wrt)")
        lines.append(f"loss at these params = {self.loss:.10g}")
        return lines

    def note_lines(self, report: "Report") -> list[str]:
        """Params checked in float64 although the model holds another float type."""
        if not self.converted:
            return []
        return [f"{', '.join(self.converted)} held in lower precision than float64: loss got float64 copies, so "
                "its gradient formulas were checked, not its rounding"]

    def json_fields(self, report: "Report") -> dict[str, Any]:
        return {"model": self.to_dict()}


#: relative noise of sum(out * dout) above which a layer report says so (float64 gives ~1e-16)
NOISY = 1e-11


@dataclass(frozen=True)
class SanityItem:
    """One item of the sanity suite: values against references, or a gradient check."""

    name: str
    title: str
    status: Status
    passed: bool
    computed: Any = None  # the computed array of a value item
    expected: Any = None  # its reference values
    worst: Check | None = None  # the worst failing entry of a gradient item


@dataclass(frozen=True)
class SanitySubject(Subject):
    """The items of the sanity suite and how each went."""

    items: tuple[SanityItem, ...] = ()

    def header_lines(self, report: "Report") -> list[str]:
        lines = ["Running sanity checks..."]
        for item in self.items:
            if item.computed is not None:
                lines += [f"{item.title}:", array_text(item.computed)]
                if not item.passed:
                    lines += ["  differs from the reference values:", array_text(item.expected)]
            elif item.passed:
                lines.append(f"{item.title}: Gradient check passed!"
                             + ("" if item.status is Status.PASS else " (with warnings)"))
            else:
                lines.append(f"{item.title}: Gradient check failed.")
                if item.worst is not None:
                    c = item.worst
                    lines.append(f"  worst gradient error at {c.label}: your gradient {c.analytic:f}, "
                                 f"numerical gradient {c.numeric:f}")
        return lines

    def note_lines(self, report: "Report") -> list[str]:
        return ["reference values: the sanity checks of CS224n assignment 1"]

    def json_fields(self, report: "Report") -> dict[str, Any]:
        return {"items": [{"name": i.name, "title": i.title, "status": i.status.value} for i in self.items]}


@dataclass(frozen=True)
class SweepSubject(Subject):
    """One component swept over step sizes: ``of`` is what it belongs to (an
    ``ExpressionSubject`` with its one formula, a ``FunctionSubject`` or a ``NetworkSubject``),
    ``component`` its name (``x``, ``x[1, 2]``, ``W1[3, 2]``), ``point`` the expression's point."""

    of: Subject
    component: str
    point: Mapping[str, float] | None = None

    def header_lines(self, report: "Report") -> list[str]:
        of = self.of
        if isinstance(of, ExpressionSubject):
            f = of.formulas[0]
            return [formula_line(f), f"sweep of {f.label} at {point_label(self.point or {})}"]
        if isinstance(of, FunctionSubject):
            return [f"f = {of.function} -> (cost, grad); {x_text(of.source, of.shape)}, shape {shape_text(of.shape)}",
                    f"sweep of df/d{self.component}"]
        if isinstance(of, NetworkSubject):
            return [network_line(of) + (f"; injected bug: {of.bug}" if of.bug else ""),
                    f"sweep of dcost/d{self.component}"]
        return [f"sweep of {self.component}"]

    def json_fields(self, report: "Report") -> dict[str, Any]:
        return {"component": self.component}


@dataclass(frozen=True)
class Effort:
    """What a black-box check of users' code cost and how each entry got its verdict.

    ``entries`` got a verdict: ``checked`` directly (a central
    difference each), ``excluded`` (cleared by exclusion: inside sets whose random
    directions agreed, ``blackbox.search``), ``unchecked`` (inside the suspect sets of a
    block-wide bug, which were reported with ``checked`` samples instead).  ``calls`` of
    the user's function (the first call, for the claimed gradient, included), ``seconds``
    of wall time, ``directions`` directional checks.  ``blockwide`` names the blocks whose
    splitting stopped on a block-wide bug; ``max_bound`` is the largest relative error
    an entry cleared by exclusion could still have (``blackbox.search``: proved when it is the
    only wrong entry of its set).
    """

    mode: Mode
    entries: int
    checked: int
    excluded: int
    unchecked: int
    calls: int
    seconds: float
    directions: int = 0
    blockwide: tuple[str, ...] = ()
    max_bound: float | None = None
    #: entries left ``unchecked`` by ``--max-seconds`` (not reached, or not settled, in time)
    stopped: int = 0
    #: whether a time limit (``--max-seconds``) was in force
    max_seconds: bool = False
    #: of the ``excluded`` entries: how many their proved bound verifies (``pass`` by
    #: exclusion), and how many were then checked directly (their verdict is that check's)
    verified: int | None = None
    rechecked: int = 0
    #: the evidence the check could use: ``precision`` of the code's values (``float32``,
    #: ``float64``), ``lifting`` of its cost to np.longdouble: ``used`` (calls were made in
    #: extended precision), ``exhausted`` (... until the budget of calls ran out),
    #: ``available`` (not needed), ``none`` (the code does not compute
    #: in the dtype it is given), ``""`` (not known)
    precision: str = ""
    lifting: str = ""
    #: full mode: how the entries checked directly were settled: by their own first look
    #: (two calls), verified together by precise directions (``blackbox.search``), or
    #: estimated again one by one (four-point difference, stencil ladder); None elsewhere
    settled: "Settled | None" = None

    def to_dict(self) -> dict[str, Any]:
        d = {"mode": self.mode.value, "entries": self.entries, "checked": self.checked,
             "excluded": self.excluded, "unchecked": self.unchecked, "calls": self.calls,
             "directions": self.directions,
             "blockwide": list(self.blockwide), "max_bound": json_number(self.max_bound),
             "seconds": json_number(self.seconds)}
        if self.verified is not None:
            d["excluded_verified"] = self.verified
            d["excluded_rechecked"] = self.rechecked
        if self.precision:
            d["precision"] = self.precision
        if self.lifting:
            d["lifting"] = self.lifting
        if self.max_seconds:
            d["stopped"] = self.stopped
        if self.settled is not None:
            d["settled"] = self.settled.to_dict()
        return d


@dataclass(frozen=True)
class Settled:
    """Full mode: how many entries their first look settled (two calls each), how many
    precise directions verified together, how many were estimated again one by one."""

    first_look: int
    directions: int
    re_estimated: int

    def to_dict(self) -> dict[str, int]:
        return {"first_look": self.first_look, "directions": self.directions, "re_estimated": self.re_estimated}


@dataclass(frozen=True)
class TaylorAt:
    """The Taylor test (``sweep.Taylor``) at one point of an expression."""

    point: Mapping[str, float]
    taylor: Any  # sweep.Taylor


@dataclass(frozen=True)
class CostCheck:
    """``net --impl``: the user's cost against the built-in reference cost at the same
    parameters (the contract's top-level ``cost_check``), with the verdict of a check
    whose floor is the round-off of a sum of M per-sample costs."""

    yours: float
    reference: float
    rel_error: float
    floor: float
    status: Status
    #: the L2 penalty that explains the difference (``network.penalty``): ``c`` and the
    #: penalised blocks, with ``yours = reference + c * sum ||block||**2`` (status pass)
    l2: float | None = None
    l2_blocks: tuple[str, ...] = ()
    #: its text, ``5e-4 * (|W1|^2 + |W2|^2)``
    l2_formula: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = {"yours": json_number(self.yours), "reference": json_number(self.reference),
             "rel_error": json_number(self.rel_error), "floor": json_number(self.floor),
             "status": self.status.value}
        if self.l2 is not None:
            d["l2_penalty"] = {"c": json_number(self.l2), "blocks": list(self.l2_blocks), "formula": self.l2_formula}
        return d


@dataclass(frozen=True)
class Report:
    """The outcome of one checking command; views render it, nothing here prints.

    ``checks`` lists the rows shown (for ``expr`` all of them; for ``net``/``func`` the
    failing entries and the worst ones), ``counts`` counts every component checked.
    The ``subject`` says what was checked (and writes its own header lines, notes and JSON
    fields); the optional extras are typed fields with their own JSON keys, written after
    the contract's keys and never over them.
    """

    command: str
    method: Method
    thresholds: Thresholds
    checks: tuple[Check, ...]
    counts: Mapping[str, int]
    blocks: tuple[BlockResult, ...] = ()
    param_count: int | None = None
    hints: tuple[str, ...] = ()
    shown: int | None = None  # block entries the table shows (JSON has them all); None: all
    subject: Subject = Subject()  # what was checked: its header, notes and JSON fields
    cost_check: CostCheck | None = None  # net --impl (not in ``counts``; its status counts in ``status``)
    # extras
    mode: Mode | None = None
    effort: Effort | None = None  # users' code (net --impl, func): entries, calls, seconds
    calls: int = 0  # without ``effort``: calls of users' code (sweep --func), 0 for built-in code
    seconds: float | None = None  # without ``effort``: wall time of the check (``checks.common.timed``)
    seed: int | None = None
    taylor_order: float | None = None
    taylor_test: Any = None  # net/func --taylor: sweep.Taylor along a random direction
    taylor_points: tuple[TaylorAt, ...] = ()  # expr --taylor
    hvp: int = 0  # --hvp K rows added
    graphs: tuple[Any, ...] = ()  # expr --graph: graph.Graph per point
    derivations: tuple[Any, ...] = ()  # expr --show-steps/--latex: expression.Derivation per variable
    sweep: Any = None  # sweep.Sweep
    taylor: Any = None  # sweep.Taylor of a sweep
    convention: Any = None  # choices.Convention of --convention: the tolerances are a course's

    @property
    def status(self) -> Status:
        """The worst verdict over every component and the cost check (kink counts as pass)."""
        seen = [Status(k) for k in ("fail", "warn", "unresolved", "unchecked") if self.counts.get(k, 0)]
        return worst(seen + ([self.cost_check.status] if self.cost_check is not None else []))

    @property
    def passed(self) -> bool:
        """True when the command exits 0: no fail (and no warn/unresolved under ``strict``)."""
        return not is_failure(self.status, self.thresholds.strict)

    @property
    def floor_text(self) -> str:
        t = self.thresholds
        return f"fixed {t.floor:g}" if t.floor is not None else "none"

    @property
    def cost(self) -> float | None:
        """The cost at the checked point (net, func), else None."""
        return self.subject.cost

    def _repr_html_(self) -> str | None:
        """The report's table as HTML, for Jupyter: rendered by ``views`` (``html_renderer``,
        installed when ``views.notebook`` is loaded, which the package's API names do)."""
        return None if html_renderer is None else html_renderer(self)

    def summary_line(self) -> str:
        """``4 checks: 4 pass, 0 warn, 0 fail`` (``, 1 kink`` when there are kinks)."""
        c = self.counts
        line = f"{c['checks']} check{'s' if c['checks'] != 1 else ''}: {c['pass']} pass, {c['warn']} warn, {c['fail']} fail"
        if c.get("unresolved"):
            line += f", {c['unresolved']} unresolved"
        if c.get("kink"):
            line += f", {c['kink']} kink"
        if "unchecked" in c:  # --max-seconds
            line += f", {c['unchecked']} unchecked"
        return line

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "command": self.command,
            "status": self.status.value,
            "thresholds": self.thresholds.to_dict(),
            "floor": self.thresholds.floor,
            "method": self.method.value,
            "summary": dict(self.counts),
            "checks": [self._check_dict(c) for c in self.checks],
        }
        if self.param_count is not None:
            d["param_count"] = self.param_count
        if self.blocks:
            d["blocks"] = [b.to_dict() for b in self.blocks]
        if self.hints or self.command in ("net", "func", "layer", "model"):
            d["hints"] = list(self.hints)
        if self.cost_check is not None:
            d["cost_check"] = self.cost_check.to_dict()
        d.update(self._extras())
        return d

    def _check_dict(self, c: Check) -> dict[str, Any]:
        """A check's JSON, with its subject's extra keys (a failing claim's ``diagnosis``)."""
        return c.to_dict() | self.subject.check_fields(c)

    def _extras(self) -> dict[str, Any]:
        """The typed extras' JSON keys (none of them a contract key)."""
        e: dict[str, Any] = {}
        e.update(self.subject.json_fields(self))
        if self.mode is not None:
            e["mode"] = self.mode.value
        if self.effort is not None:
            e["effort"] = self.effort.to_dict()
        else:  # every report has an effort (contract): calls of users' code and seconds
            e["effort"] = {"calls": self.calls, "seconds": json_number(self.seconds)}
        if self.convention is not None:
            e["convention"] = str(getattr(self.convention, "value", self.convention))
        if self.sweep is not None:
            e["sweep"] = self.sweep.to_dict()
        if self.taylor_order is not None or self.taylor is not None or self.taylor_points or self.taylor_test:
            e["taylor_order"] = self.taylor_order
        if self.taylor is not None:
            e["taylor"] = self.taylor.to_dict()
        if self.taylor_points:
            e["taylor"] = [{"point": {k: json_number(v) for k, v in t.point.items()}, **t.taylor.to_dict()}
                           for t in self.taylor_points]
        if self.graphs:
            e["graph"] = [g.to_dict() for g in self.graphs]
        if self.derivations:
            from dataclasses import asdict

            e["derivation"] = [asdict(x) for x in self.derivations]
        assert not set(e) & _CONTRACT_KEYS
        return e


#: ``report -> HTML`` (``views.notebook.to_html``): set by ``views`` so that the core imports no view
html_renderer = None

#: the top-level JSON keys of the contract, which no extra may overwrite
_CONTRACT_KEYS = frozenset({"command", "status", "thresholds", "floor", "method", "summary", "checks",
                            "param_count", "blocks", "hints", "cost_check"})
