"""Results of a gradient check: frozen dataclasses that every view renders.

``Report.to_dict()`` is the JSON document of the contract (``SPEC.md``, JSON output).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from .finite_diff import Method
from .verdict import Status, Thresholds, is_failure, worst


def json_number(x: float | None) -> float | None:
    """A float for JSON: non-finite values become ``null`` (JSON has no inf/NaN)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


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

    @property
    def label(self) -> str:
        """``W1[3, 2]`` for an entry, ``d/dx at x=1, y=2`` for a variable, else the name."""
        if self.point is not None:
            where = ", ".join(f"{k}={v:.6g}" for k, v in self.point.items())
            return f"d/d{self.name} at {where}"
        if not self.index:
            return self.name
        return f"{self.name}[{', '.join(str(i) for i in self.index)}]"

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name}
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

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "shape": list(self.shape),
            "checked": self.checked,
            "max_rel_error": json_number(self.max_rel_error),
            "worst_index": None if self.worst_index is None else [int(i) for i in self.worst_index],
            "status": self.status.value,
        }


def count_statuses(statuses: Sequence[Status]) -> dict[str, int]:
    """The contract's summary counts: checks, pass, warn, fail, kink, unresolved."""
    counts = {"checks": len(statuses)} | {s.value: 0 for s in Status}
    for s in statuses:
        counts[Status(s).value] += 1
    return counts


def merge_counts(parts: Sequence[Mapping[str, int]]) -> dict[str, int]:
    total = {"checks": 0} | {s.value: 0 for s in Status}
    for p in parts:
        for k in total:
            total[k] += p.get(k, 0)
    return total


@dataclass(frozen=True)
class Report:
    """The outcome of one checking command; views render it, nothing here prints.

    ``checks`` lists the rows shown (for ``expr`` all of them; for ``net``/``func`` the
    failing entries and the worst ones), ``counts`` counts every component checked.
    """

    command: str
    method: Method
    thresholds: Thresholds
    checks: tuple[Check, ...]
    counts: Mapping[str, int]
    header: tuple[str, ...] = ()
    blocks: tuple[BlockResult, ...] = ()
    param_count: int | None = None
    hints: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
    shown: int | None = None  # block entries the table shows (JSON has them all); None: all

    @property
    def status(self) -> Status:
        """The worst verdict over every component (kink counts as pass)."""
        seen = [Status(k) for k in ("fail", "warn", "unresolved") if self.counts.get(k, 0)]
        return worst(seen)

    @property
    def passed(self) -> bool:
        """True when the command exits 0: no fail (and no warn/unresolved under ``strict``)."""
        return not is_failure(self.status, self.thresholds.strict)

    @property
    def floor_text(self) -> str:
        t = self.thresholds
        return f"fixed {t.floor:g}" if t.floor is not None else "none"

    def summary_line(self) -> str:
        """``4 checks: 4 pass, 0 warn, 0 fail`` (``, 1 kink`` when there are kinks)."""
        c = self.counts
        line = f"{c['checks']} check{'s' if c['checks'] != 1 else ''}: {c['pass']} pass, {c['warn']} warn, {c['fail']} fail"
        if c.get("unresolved"):
            line += f", {c['unresolved']} unresolved"
        if c.get("kink"):
            line += f", {c['kink']} kink"
        return line

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "command": self.command,
            "status": self.status.value,
            "thresholds": self.thresholds.to_dict(),
            "floor": self.thresholds.floor,
            "method": self.method.value,
            "summary": dict(self.counts),
            "checks": [c.to_dict() for c in self.checks],
        }
        if self.param_count is not None:
            d["param_count"] = self.param_count
        if self.blocks:
            d["blocks"] = [b.to_dict() for b in self.blocks]
        if self.hints or self.command in ("net", "func"):
            d["hints"] = list(self.hints)
        d.update(self.extra)
        return d
