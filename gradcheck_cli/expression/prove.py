"""``--prove``: is a claimed derivative identical to the true one, as formulas?

``prove(claim, truth)`` tries, within ``seconds``:

1. ``simplify(claim - truth) == 0``: **proved**;
2. sympy's ``claim.equals(truth)``: True is **proved**, False (sympy found a point where
   they differ) is checked by step 3;
3. evaluation at the checked points and seeded random points in extended precision
   (50 digits): a point where both are real and finite and differ beyond 1e-30
   (relative) is a **disproved** counterexample; agreement everywhere is evidence, never
   proof: **not proved** (it says at how many points they agree).

The numeric verdict of ``expr`` stays the verdict; the proof is a point-free statement
beside it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Sequence

import mpmath as mp
import sympy as sp

from .calculus import TimeLimit, time_limit
from .functions import sigmoid, softplus
from .precise import compile_precise

#: wall-clock budget of one proof, in seconds
PROVE_SECONDS = 4.0
#: random points tried for a counterexample
TRIES = 24
DIGITS = 50


@dataclass(frozen=True)
class Proof:
    """``status``: ``proved``, ``disproved`` or ``not proved``; ``how``: the step that decided;
    ``counterexample``: the point (name -> value) where claim and truth differ."""

    wrt: str
    status: str
    how: str
    counterexample: dict | None = None
    output: int | None = None  # of a vector expression [f1, f2, ...] (1-based)

    def text(self) -> str:
        if self.status == "disproved" and self.counterexample:
            where = ", ".join(f"{k}={v:g}" for k, v in self.counterexample.items())
            return f"disproved (counterexample {where})"
        return f"{self.status} ({self.how})"


def _candidates(names: Sequence[str], points: Sequence[Sequence[float]], seed: int) -> list[list[float]]:
    rng = random.Random(seed)
    out = [list(p) for p in points]
    for _ in range(TRIES):
        scale = rng.choice((1.0, 0.1, 10.0))
        out.append([round(rng.uniform(-2, 2) * scale, 6) for _ in names])
    return out


def _counterexample(claim: sp.Expr, truth: sp.Expr, names: Sequence[str], candidates: list) -> tuple:
    """``(point or None, agreeing points)``: the first point where the two differ."""
    F = compile_precise([claim, truth], names)
    agree = 0
    with mp.workdps(DIGITS):
        for p in candidates:
            c, t = F(p, DIGITS)
            if not (mp.isfinite(c) and mp.isfinite(t)):
                continue
            if abs(c - t) > mp.mpf(10) ** -30 * max(abs(c), abs(t), 1):
                return dict(zip(names, p)), agree
            agree += 1
    return None, agree


def prove(claim: sp.Expr, truth: sp.Expr, wrt: str, names: Sequence[str], points: Sequence[Sequence[float]] = (),
          seed: int = 0, seconds: float = PROVE_SECONDS) -> Proof:
    """Prove or disprove ``claim == truth`` identically (module doc), within ``seconds``."""
    candidates = _candidates(names, points, seed)
    try:
        if seconds <= 0:
            raise TimeLimit
        with time_limit(seconds):
            # sigmoid and softplus in elementary functions, which simplify knows
            claim_e, truth_e = (e.rewrite([sigmoid, softplus], sp.exp) for e in (claim, truth))
            if sp.simplify(claim_e - truth_e) == 0:
                return Proof(wrt, "proved", "simplify(claim - derivative) = 0")
            if claim_e.equals(truth_e) is True:
                return Proof(wrt, "proved", "sympy's equals")
    except TimeLimit:
        pass
    point, agree = _counterexample(claim, truth, names, candidates)
    if point is not None:
        return Proof(wrt, "disproved", "a point where they differ", point)
    return Proof(wrt, "not proved", f"equal at {agree} points to {DIGITS - 20} digits: evidence, not proof")
