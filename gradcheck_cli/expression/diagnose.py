"""What is wrong with a claimed derivative: the truth, the difference, and the classic mistake.

``diagnose(f, name, claim)`` compares a claimed ``d f / d name`` with sympy's derivative
``t``.  It reports ``t``, the simplified difference ``claim - t`` (``bounded_simplify``,
capped in time), and a classification when one fits:

- a **mistaken rule** at one node ``N`` of ``f``: the derivative of ``f`` with the local
  derivative ``dN`` replaced by a classic wrong one, ``t + (df/dN) (wrong - dN)``, equals
  the claim.  The wrong rules: a missing chain-rule factor (``exp(u)' = exp(u)``), the
  product of the derivatives or a missing product-rule term, the sign of ``d(1/v)`` (the
  quotient rule's minus), the power rule off by one (``n u**n``, ``(n-1) u**(n-1)``,
  ``n u**(n+1)``), the power rule applied to an exponential (``u a**(u-1)``), a missing
  ``log(a)`` in ``(a**u)'``, the sign of the derivative of sin or cos;
- a **constant factor** ``k`` (``claim = k t``): ``-1`` is a sign, else ``2``, ``1/2``,
  ``log(10)`` (a log base) ...;
- a missing quotient-rule denominator (``claim = t v**2``); an added constant
  (``claim - t`` simplifies to a number); a simple non-constant factor (``claim = t/x``);
- otherwise ``no simple pattern``: nothing is guessed.

Equality is tested numerically, in extended precision (``precise``, 30 digits) at the
failing point and seeded random points: two formulas that agree to 20 digits at four
points are taken as the same (a diagnosis is advice, not a verdict).  Everything runs
within ``seconds`` (SIGALRM, as ``calculus.time_limit``); past it the classification is
``gave up`` and says so.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Sequence

import mpmath as mp
import sympy as sp

from .calculus import TimeLimit, bounded_simplify, display, partial, time_limit
from .parse import symbol
from .precise import compile_precise

#: wall-clock budget of one diagnosis, in seconds
DIAGNOSE_SECONDS = 3.0
#: agreement (relative) for two formulas to count as the same at a point
SAME_REL = mp.mpf("1e-20")
SAMPLES = 4


@dataclass(frozen=True)
class Diagnosis:
    """Why a claimed ``d/d wrt`` is wrong, as text ready to show (and JSON).

    ``kind`` is one of ``KINDS``; ``message`` the sentence for the user; ``difference``
    is ``claim - truth`` simplified (unsimplified when simplification gave up, ``note``
    says so).
    """

    wrt: str
    claim: str
    truth: str
    difference: str
    kind: str
    message: str
    note: str = ""
    output: int | None = None  # of a vector expression [f1, f2, ...] (1-based)


KINDS = ("sign", "factor", "constant", "chain_rule", "product_rule", "quotient_rule", "power_rule", "exponential",
         "trig_sign", "no_pattern", "gave_up")


def _points(names: Sequence[str], point: dict | None, seed: int = 0) -> list[list]:
    """The failing point, then seeded random points with coordinates in (0.3, 2.1)."""
    rng = random.Random(seed)
    pts = [[point[n] for n in names]] if point else []
    while len(pts) < SAMPLES + 2:
        pts.append([rng.uniform(0.3, 2.1) for _ in names])
    return pts


class _Same:
    """``same(a, b)``: a and b agree at the sample points (at least 3 where both are defined)."""

    def __init__(self, names: Sequence[str], pts: list[list]):
        self.names, self.pts = list(names), pts

    def __call__(self, a: sp.Expr, b: sp.Expr) -> bool:
        F = compile_precise([a, b], self.names)
        seen = 0
        for p in self.pts:
            u, v = F(p, 30)
            if not (mp.isfinite(u) and mp.isfinite(v)):
                continue
            if abs(u - v) > SAME_REL * max(abs(u), abs(v)) and abs(u - v) > mp.mpf("1e-25"):
                return False
            seen += 1
        return seen >= 3


def _constant(values: list) -> mp.mpf | None:
    """The common value of ``values`` (mpf), if they agree to 20 digits."""
    values = [v for v in values if mp.isfinite(v)]
    if len(values) < 3:
        return None
    k = values[0]
    return k if all(abs(v - k) <= SAME_REL * max(abs(k), 1e-300) for v in values) else None


def _nice(k: mp.mpf) -> sp.Expr | None:
    """A short closed form of the number ``k`` (2, -1, 1/2, log(10), 2*pi ...), or None."""
    with mp.workdps(30):
        for base in (sp.Integer(1), sp.log(10), sp.log(2), sp.pi, sp.E):
            q = k / mp.mpf(sp.N(base, 30))
            r = sp.Rational(str(mp.nstr(q, 25))).limit_denominator(24)
            if r != 0 and abs(mp.mpf(r.p) / r.q - q) <= SAME_REL * abs(q):
                return r * base
    return None


def _mistakes(f: sp.Expr, x: sp.Symbol):
    """``(node, wrong local derivative, kind, message)`` for every classic mistake at every node of f."""
    for node in sp.preorder_traversal(f):
        if node.is_Symbol or node.is_Add or not node.has(x):
            continue
        if node.is_Mul:
            factors = [a for a in node.args if a.has(x)]
            coeff = sp.Mul(*[a for a in node.args if not a.has(x)])
            if len(factors) < 2:
                continue
            terms = [sp.diff(a, x) * sp.Mul(*[b for b in factors if b is not a]) for a in factors]
            whole = coeff * sp.Add(*terms)
            for a, term in zip(factors, terms):
                rule = "quotient_rule" if a.is_Pow and a.args[1].is_negative else "product_rule"
                yield node, whole - coeff * term, rule, \
                    f"your claim misses the {rule.replace('_', '-')} term {display(coeff * term)} of " \
                    f"d/d{x}({display(node)})"
            yield node, coeff * sp.Mul(*[sp.diff(a, x) for a in factors]), "product_rule", \
                f"your claim is the product of the derivatives of {', '.join(display(a) for a in factors)}; " \
                "the product rule is (u*v)' = u'*v + u*v'"
        elif node.is_Pow:
            b, e = node.args
            if not e.has(x):
                db = sp.diff(b, x)
                if db != 1:
                    yield node, e * b ** (e - 1), "chain_rule", \
                        f"your claim misses the chain-rule factor {display(db)} (the derivative of the inner " \
                        f"function {display(b)})"
                if e.is_negative:
                    yield node, -e * b ** (e - 1) * db, "quotient_rule", \
                        f"a sign: d/d{x}(1/{display(b ** -e)}) is {display(sp.diff(b ** e, x))}; the quotient " \
                        "rule is (u/v)' = (u'*v - u*v')/v**2"
                for wrong in (e * b**e, (e - 1) * b ** (e - 1), e * b ** (e + 1)):
                    yield node, wrong * db, "power_rule", \
                        f"the power rule off by one: d/d{x} {display(node)} = {display(sp.diff(node, x))}"
            elif not b.has(x):
                de = sp.diff(e, x)
                if b != sp.E:
                    yield node, node * de, "exponential", \
                        f"your claim misses the factor log({display(b)}): d/d{x} {display(node)} = " \
                        f"{display(sp.diff(node, x))}"
                yield node, e * b ** (e - 1) * de, "exponential", \
                    f"the power rule applied to an exponential: d/d{x} {display(node)} = {display(sp.diff(node, x))}"
        elif isinstance(node, sp.Function) and len(node.args) == 1:
            (u,) = node.args
            du = sp.diff(u, x)
            outer = sp.diff(node.func(symbol("__u")), symbol("__u")).subs(symbol("__u"), u)
            if du != 1:
                yield node, outer, "chain_rule", \
                    f"your claim misses the chain-rule factor {display(du)} (the derivative of the inner " \
                    f"function {display(u)} of {node.func.__name__})"
            if node.func in (sp.sin, sp.cos, sp.tan, sp.cot, sp.sinh, sp.cosh):
                yield node, -outer * du, "trig_sign", \
                    f"the sign of the derivative of {node.func.__name__}: d/d{x} {display(node)} = " \
                    f"{display(sp.diff(node, x))}"


def _dummy_derivative(f: sp.Expr, node: sp.Expr, x: sp.Symbol) -> sp.Expr:
    """d f / d node at node (f with ``node`` replaced by a fresh symbol)."""
    d = sp.Dummy("n", real=True)
    return sp.diff(f.xreplace({node: d}), d).xreplace({d: node})


def classify(f: sp.Expr, name: str, claim: sp.Expr, truth: sp.Expr, same: _Same, names: Sequence[str],
             pts: list[list]) -> tuple[str, str]:
    """``(kind, message)`` of the first mistake that reproduces ``claim`` (module doc)."""
    x = symbol(name)
    for node, wrong, kind, message in _mistakes(f, x):
        right = sp.diff(node, x)
        mutated = truth + _dummy_derivative(f, node, x) * (wrong - right)
        if same(mutated, truth):
            continue  # the mistake changes nothing here (the chain factor of x is 1)
        if same(claim, mutated):
            return kind, message
    F = compile_precise([claim, truth], names)
    ratios = []
    with mp.workdps(30):
        for p in pts:
            c, t = F(p, 30)
            if mp.isfinite(c) and mp.isfinite(t) and t != 0:
                ratios.append(c / t)
        k = _constant(ratios)
    if k is not None:
        nice = _nice(k)
        if nice == -1:
            return "sign", "your claim has the wrong sign (claim = -derivative)"
        if nice is not None:
            extra = ""
            if nice.has(sp.log):
                extra = "; d/dx log(x, b) = 1/(x*log(b)), d/dx b**x = b**x*log(b)"
            return "factor", f"your claim is off by a constant factor {display(nice)} (claim = {display(nice)} * derivative){extra}"
    for node in sp.preorder_traversal(f):
        if node.is_Pow and node.args[1] == -1 and node.has(x):
            v = node.args[0]
            if same(claim, truth * v**2):
                return "quotient_rule", f"your claim misses the denominator {display(v ** 2)} of the quotient rule"
    if truth != 0:
        ratio = sp.factor(sp.cancel(claim / truth))
        if sp.count_ops(ratio) <= 3 and ratio.free_symbols:
            return "factor", f"your claim is {display(ratio)} times the derivative"
    return "no_pattern", "no simple pattern"


def diagnose(f: sp.Expr, name: str, claim: sp.Expr, claim_text: str, names: Sequence[str],
             point: dict | None = None, seconds: float = DIAGNOSE_SECONDS) -> Diagnosis:
    """Why ``claim`` is not ``d f / d name`` (module doc), within ``seconds``."""
    truth = partial(f, name)
    pts = _points(names, point)
    same = _Same(names, pts)
    raw = claim - truth
    difference, note = bounded_simplify(raw, seconds=seconds / 3)
    if difference is None or difference.has(sp.Piecewise) or sp.count_ops(difference) > sp.count_ops(raw):
        difference = raw  # simplify's Piecewise forms of sign/abs read worse than the difference itself
    kind, message = "gave_up", f"gave up classifying the mistake after {max(seconds, 0):.2g} s"
    if seconds <= 0:
        return Diagnosis(wrt=name, claim=claim_text, truth=display(truth), difference=display(difference),
                         kind=kind, message=message, note=note)
    try:
        with time_limit(seconds):
            if difference.is_Number and difference != 0:
                kind, message = "constant", f"your claim is the derivative plus the constant {display(difference)}"
            else:
                kind, message = classify(f, name, claim, truth, same, names, pts)
    except TimeLimit:
        pass
    return Diagnosis(wrt=name, claim=claim_text, truth=display(truth), difference=display(difference),
                     kind=kind, message=message, note=note)
