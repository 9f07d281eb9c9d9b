"""Audit of the verdicts against mpmath ground truth (issue 9).

Runs a family of expressions at hostile points (extreme magnitudes, cancellation,
poles, large |x|, tiny partials next to huge ones, C1 points built from abs/relu,
genuine kinks) through

* ``expr`` for each method (central, complex, richardson) with the correct derivative
  and with claims wrong by a sign, by a factor 2 and by a factor 1 + 1e-3;
* the black-box engine used for users' code (``func``): ``blackbox.stencils.blackbox_gradient``
  of the float64 function, ``finite_diff.evidence`` and ``verdict.assess`` of the
  float64 value of each claim;

and prints a tally.  Ground truth is sympy's partial evaluated at 120 digits, confirmed
by a centred difference of f at 120 digits with a step relative to ``|x|``.  For ``expr``
a correct claim must pass (anything else is a false alarm, or unresolved), a claim off
by a sign or 2 must fail, one off by 1e-3 must warn (a pass is a miss), a genuine kink
must be ``kink``.  For ``func`` a claim is *correct* when its float64 value is within
``pass_tol / 10`` of the truth (or both are zero to within the round-off of f's own
scale, ``4 eps |f| / max(|x|, 1)``: 1 - tanh(x)**2 at x = 100 in float64 code) and
*wrong* when it is off by more than ``10 fail_tol``:
correct must never fail or warn, wrong must never pass (``unresolved`` is allowed).

and the same for float32 code (f and the claims computed in float32), judged by the
claim's float32 value: right to 1e-4 never fails or warns, off by more than 10 fail_tol
never passes.

Run:  python benchmarks/audit_verdicts.py [--quick]
"""

from __future__ import annotations

import math
import sys
import time
from collections import Counter
from dataclasses import replace

import mpmath as mp
import numpy as np

from gradcheck_cli import expression as ex
from gradcheck_cli.checks.expr import first_order_report
from gradcheck_cli.problem import prepare_expression
from gradcheck_cli.expression.precise import compile_precise
from gradcheck_cli.blackbox.stencils import blackbox_gradient
from gradcheck_cli.finite_diff import Method, evidence
from gradcheck_cli.verdict import Status, Thresholds, assess

PI2 = math.pi / 2

#: (expression, point {name: value}, kind): kind "kink:x" means a genuine kink along x
FAMILY: list[tuple[str, dict, str]] = [
    # ordinary
    ("sin(x) - cos(x)", {"x": 0.7}, ""), ("exp(5*x)", {"x": 2.0}, ""), ("x**10", {"x": 3.0}, ""),
    ("log(x)", {"x": 1e-3}, ""), ("sqrt(x**2 + y**2)", {"x": 3.0, "y": 4.0}, ""),
    ("log(exp(x) + exp(y))", {"x": 30.0, "y": -20.0}, ""), ("sigmoid(x)*tanh(y)", {"x": 3.0, "y": -0.2}, ""),
    ("atan2(y, x)", {"x": -1.5, "y": 0.3}, ""), ("x*exp(-y**2)*cos(z)", {"x": 0.3, "y": 1.1, "z": -2.0}, ""),
    ("erf(x)", {"x": 0.8}, ""), ("softplus(x)", {"x": -3.0}, ""), ("cbrt(x)", {"x": -8.5}, ""),
    ("x**y", {"x": 2.5, "y": 1.7}, ""), ("asin(x) + acos(x/2)", {"x": 0.3}, ""),
    # extreme magnitudes
    ("1e-9*sin(x)*x", {"x": 1.3}, ""), ("1e9*sin(x)*x", {"x": 1.3}, ""), ("exp(x)", {"x": 700.0}, ""),
    ("exp(x)", {"x": 709.0}, ""), ("exp(-x)", {"x": 700.0}, ""), ("log(x)", {"x": 1e-300}, ""),
    ("log(x)", {"x": 1e300}, ""), ("x**2", {"x": 1e150}, ""), ("1/x", {"x": 1e-150}, ""),
    ("sqrt(x)", {"x": 1e-300}, ""), ("sqrt(x)", {"x": 1e-20}, ""), ("x**3", {"x": 1e-100}, ""),
    # cancellation
    ("exp(x) - 1 - x", {"x": 1e-10}, ""), ("exp(x) - 1 - x", {"x": 1e-5}, ""),
    ("(1 - cos(x))/x**2", {"x": 1e-6}, ""), ("(1 - cos(x))/x**2", {"x": 1e-3}, ""),
    ("log(1 + x)", {"x": 1e-16}, ""), ("log(1 + x)", {"x": 1e-10}, ""),
    ("sqrt(x + 1) - sqrt(x)", {"x": 1e12}, ""), ("(exp(x) - 1)/x", {"x": 1e-8}, ""),
    ("tanh(x)", {"x": 18.0}, ""), ("tanh(x)", {"x": -20.0}, ""), ("tanh(x)", {"x": 100.0}, ""),
    ("exp(-x)", {"x": 1000.0}, ""), ("sigmoid(x)", {"x": 40.0}, ""),
    ("x - sin(x)", {"x": 1e-4}, ""), ("log(1 + exp(-x))", {"x": 35.0}, ""), ("cos(x) - 1", {"x": 1e-8}, ""),
    # poles
    ("1/(x - 1)", {"x": 1.000001}, ""), ("1/(x - 1)", {"x": 1.000000001}, ""), ("tan(x)", {"x": PI2 - 1e-7}, ""),
    ("1/x", {"x": 1e-200}, ""), ("log(x - 1)", {"x": 1.000000000001}, ""), ("1/sin(x)", {"x": 1e-8}, ""),
    ("1/(x**2 - 4)", {"x": 2.0000001}, ""),
    # large |x|
    ("sin(x)", {"x": 1e12}, ""), ("sin(x)", {"x": 1e7}, ""), ("sin(x)", {"x": 1e6}, ""), ("x*sin(x)", {"x": 1e6}, ""),
    ("cos(x)*x", {"x": 1e12}, ""), ("sin(x)**2", {"x": 1e9}, ""), ("exp(-x**2)", {"x": 20.0}, ""),
    ("sin(x)", {"x": PI2 + 1e-9}, ""),
    # tiny partials next to huge ones
    ("x*1e8 + y*1e-8", {"x": 1.0, "y": 1.0}, ""), ("exp(x)*1e10 + 1e-10*sin(y)", {"x": 1.0, "y": 0.5}, ""),
    ("1e20*x + y", {"x": 1.0, "y": 1.0}, ""), ("x**2*1e12 + 1e-12*y**2", {"x": 2.0, "y": 3.0}, ""),
    ("x + 1e20", {"x": 1.0}, ""),
    # C1 points built from abs / relu / max (differentiable: checked)
    ("x*abs(x)", {"x": 0.0}, ""), ("relu(x)**2", {"x": 0.0}, ""), ("abs(x)**3", {"x": 0.0}, ""),
    ("max(x, 0)**3", {"x": 0.0}, ""), ("relu(x)*x + y", {"x": 0.0, "y": 1.0}, ""),
    ("x*abs(x)", {"x": 1e-9}, ""), ("abs(x - 1)", {"x": 1.5}, ""),
    # stationary points
    ("cos(x)", {"x": 0.0}, ""), ("x**2", {"x": 0.0}, ""), ("x**3 - 3*x", {"x": 1.0}, ""), ("x**3", {"x": 0.0}, ""),
    ("exp(x)*1e8 + y**2", {"x": 1.0, "y": 0.0}, ""),
    # genuine kinks
    ("abs(x)", {"x": 0.0}, "kink:x"), ("relu(x)", {"x": 0.0}, "kink:x"), ("max(x, 2)", {"x": 2.0}, "kink:x"),
    ("abs(x - 1)*y", {"x": 1.0, "y": 3.0}, "kink:x"),
]

WRONG = {"sign": -1.0, "2x": 2.0, "1e-3": 1.001}
METHODS = list(Method)


def kinks_of(kind: str) -> set:
    return set(kind.split(":")[1].split(",")) if kind.startswith("kink:") else set()


def ground_truth(text: str, point: dict, name: str, digits: int = 120) -> mp.mpf:
    """The derivative along ``name`` at ``point``: sympy's partial at ``digits`` digits,
    confirmed by ``mpmath.diff`` of f (relative step) where f is smooth there."""
    f = ex.parse(text).expr
    names = sorted(point)
    F = compile_precise([f, ex.partial(f, name)], names)
    i = names.index(name)
    base = [mp.mpf(point[n]) for n in names]
    exact = F(base, digits)[1]

    def along(v):
        p = list(base)
        p[i] = v
        return F(p, mp.mp.dps)[0]  # mp.diff raises the precision for its own steps

    with mp.workdps(digits):
        scale = abs(base[i]) if base[i] != 0 else mp.mpf(1)
        h = scale * mp.mpf(10) ** (-digits // 3)
        numeric = (along(base[i] + h) - along(base[i] - h)) / (2 * h)
        if not mp.almosteq(numeric, exact, rel_eps=mp.mpf(10) ** -20, abs_eps=mp.mpf(10) ** -20 * abs(exact) + mp.sqrt(h)):
            raise AssertionError(f"ground truth disagrees for {text} at {point}: {numeric} vs {exact}")
    return exact


def expr_outcomes(text: str, point: dict, kind: str, method: Method, thresholds: Thresholds = Thresholds()):
    """Yield ``(label, expected, got)`` for the correct and the wrong claims of every partial."""
    at = ",".join(f"{k}={v!r}" for k, v in point.items())
    problem = prepare_expression(text, [at])
    pts = np.array([[point[n] for n in problem.names]])
    claims = {"correct": None}
    for label, k in WRONG.items():
        claims[label] = k
    kinky = kinks_of(kind)
    truths = {v: ground_truth(text, point, v) for v in problem.wrt if v not in kinky}
    for label, k in claims.items():
        if kinky and label != "correct":
            continue
        claimed = tuple(None if k is None else k * d for d in problem.derivatives)
        if k is not None and all(truths[v] == 0 for v in problem.wrt):
            continue  # a multiple of zero is not wrong
        prob = replace(problem, claimed=claimed, claimed_text=tuple(None if c is None else "claim" for c in claimed))
        report = first_order_report(prob, pts, method, None, thresholds)
        for v, check in zip(problem.wrt, report.checks):
            if v in kinky:
                yield "kink", Status.KINK, check.status
            elif label == "correct":
                yield "correct", Status.PASS, check.status
            elif truths[v] != 0:
                yield label, (Status.WARN if label == "1e-3" else Status.FAIL), check.status


def func_outcomes(text: str, point: dict, kind: str, thresholds: Thresholds = Thresholds()):
    """Yield ``(label, category, status)`` for the black-box engine (category correct/wrong/None)."""
    parsed = ex.parse(text)
    names = sorted(point)
    x = np.array([point[n] for n in names])
    f_num = ex.compile_one(parsed.expr, names)

    def cost(z):
        return float(f_num(np.asarray(z, dtype=float)[:, None])[0])

    est = blackbox_gradient(cost, x)
    derivs = ex.derivatives(parsed.expr, names, text)
    for label, k in ({"correct": 1.0} | WRONG).items():
        a = np.array([float(ex.compile_one(k * d, names)(x[:, None])[0]) for d in derivs])
        error, zs = evidence(a, est.value, est.noise, est.eps)
        res = assess(a, est.value, error, thresholds, zero_scale=zs, kink=est.kink)
        for i, n in enumerate(names):
            if n in kinks_of(kind):
                if label == "correct":
                    yield "kink", None, res.statuses[i]
                continue
            t = ground_truth(text, point, n)
            with mp.workdps(30):
                denom = max(abs(mp.mpf(a[i])), abs(t))
                rel = float(abs(mp.mpf(a[i]) - t) / denom) if denom != 0 else 0.0
                # the spec's zero: both within round-off of f's own scale per unit x
                z = mp.mpf(4 * np.finfo(float).eps) * max(abs(f_num(x[:, None])[0]), np.finfo(float).tiny) / max(abs(x[i]), 1.0)
                zero = abs(t) <= z and abs(a[i]) <= z
            category = "correct" if rel <= thresholds.pass_tol / 10 or zero else (
                "wrong" if rel > 10 * thresholds.fail_tol else None)
            yield label, category, res.statuses[i]


def float32_outcomes(text: str, point: dict, kind: str, thresholds: Thresholds = Thresholds()):
    """Yield ``(label, category, status)`` for float32 code: f and every claim computed in
    float32; the category (correct/wrong/None) from the claim's float32 value against the
    truth (correct: within 1e-4, or both zero to within float32 round-off of f's scale)."""
    parsed = ex.parse(text)
    names = sorted(point)
    x = np.array([point[n] for n in names])
    f_num = ex.compile_one(parsed.expr, names)

    def cost(z):
        return float(f_num(np.asarray(z, dtype=np.float32)[:, None])[0])

    with np.errstate(all="ignore"):
        x32 = x.astype(np.float32)
    if not (np.all(np.isfinite(x32)) and np.all((x32 != 0) | (x == 0))) or not np.isfinite(cost(x)):
        return  # the point itself is not a float32 number
    est = blackbox_gradient(cost, x)
    flat = np.isinf(est.noise) & (est.value == 0)  # the float32 code's f did not change at all
    derivs = ex.derivatives(parsed.expr, names, text)
    x32 = x32[:, None]
    for label, k in ({"correct": 1.0} | WRONG).items():
        if label == "1e-3":
            continue  # below float32's resolution of a claim
        a = np.array([float(ex.compile_one(k * d, names)(x32)[0]) for d in derivs])
        error, zs = evidence(a, est.value, est.noise, est.eps, est.resolution)
        res = assess(a, est.value, error, thresholds, zero_scale=zs, kink=est.kink)
        for i, n in enumerate(names):
            if n in kinks_of(kind) or not np.isfinite(a[i]):
                continue
            t = ground_truth(text, point, n)
            with mp.workdps(30):
                denom = max(abs(mp.mpf(a[i])), abs(t))
                rel = float(abs(mp.mpf(a[i]) - t) / denom) if denom != 0 else 0.0
                # zero to within float32 round-off of f's own scale (true f)
                f_true = abs(compile_precise([parsed.expr], names)([mp.mpf(v) for v in x], 30)[0])
                z = 4 * mp.mpf(float(np.finfo(np.float32).eps)) * f_true / max(abs(x[i]), 1.0)
                zero = abs(t) <= z and abs(a[i]) <= z
            # the claim's float32 value decides: right to float32 precision, or off by a lot;
            # where the code's f is flat (underflow, absorption) nothing can be judged
            category = "correct" if rel <= 1e-4 or zero else ("wrong" if rel > 10 * thresholds.fail_tol else None)
            if flat[i] and category == "wrong" and a[i] == 0:
                category = None
            yield label, category, res.statuses[i]


def tally_float32(family) -> tuple[Counter, list]:
    c: Counter = Counter()
    bad = []
    for text, point, kind in family:
        for label, category, got in float32_outcomes(text, point, kind):
            if category is None:
                c["in between (not judged)"] += 1
                continue
            c[f"{category}->{got.value}"] += 1
            if (category == "correct" and got in (Status.FAIL, Status.WARN)) or (category == "wrong" and got is Status.PASS):
                bad.append((text, point, label, got.value))
    return c, bad


def tally_expr(family, methods=METHODS) -> dict:
    """Counts per method: right, false alarm, miss, unresolved (and the cases that went wrong)."""
    out = {}
    for m in methods:
        c: Counter = Counter()
        bad = []
        for text, point, kind in family:
            for label, want, got in expr_outcomes(text, point, kind, m):
                if got is want:
                    c["right"] += 1
                elif got is Status.UNRESOLVED:
                    c["unresolved"] += 1
                    bad.append((text, point, label, got.value))
                elif label in ("correct", "kink"):
                    c["false alarm"] += 1
                    bad.append((text, point, label, got.value))
                elif got is Status.PASS:
                    c["miss"] += 1
                    bad.append((text, point, label, got.value))
                else:
                    c["right"] += 1  # a wrong claim judged warn/fail: not a miss
        out[m.value] = (c, bad)
    return out


def tally_func(family) -> tuple[Counter, list]:
    c: Counter = Counter()
    bad = []
    for text, point, kind in family:
        for label, category, got in func_outcomes(text, point, kind):
            if label == "kink":
                c["kink->kink" if got is Status.KINK else f"kink->{got.value}"] += 1
            elif category == "correct":
                if got in (Status.FAIL, Status.WARN):
                    c["correct fail"] += 1
                    bad.append((text, point, label, got.value))
                else:
                    c[f"correct->{got.value}"] += 1
            elif category == "wrong":
                if got is Status.PASS:
                    c["wrong pass"] += 1
                    bad.append((text, point, label, got.value))
                else:
                    c[f"wrong->{got.value}"] += 1
            else:
                c["in between (not judged)"] += 1
    return c, bad


def main(argv: list[str]) -> int:
    family = FAMILY[::3] if "--quick" in argv else FAMILY
    t0 = time.time()
    print(f"audit of the verdicts: {len(family)} expression/point pairs, ground truth at 120 digits")
    print(f"{'expr':12s} {'right':>6s} {'false alarm':>12s} {'miss':>6s} {'unresolved':>11s}")
    failures = 0
    for method, (c, bad) in tally_expr(family).items():
        print(f"  {method:10s} {c['right']:6d} {c['false alarm']:12d} {c['miss']:6d} {c['unresolved']:11d}")
        for b in bad:
            print(f"      {b}")
        failures += c["false alarm"] + c["miss"]
    c, bad = tally_func(family)
    print("func (black box: the three-rung engine on the float64 code):")
    for k in sorted(c):
        print(f"  {k:28s} {c[k]:6d}")
    for b in bad:
        print(f"      {b}")
    failures += c["correct fail"] + c["wrong pass"]
    c, bad = tally_float32(family)
    print("float32 code (f and claims computed in float32): correct never fails or warns, wrong never passes")
    for k in sorted(c):
        print(f"  {k:28s} {c[k]:6d}")
    for b in bad:
        print(f"      {b}")
    failures += len(bad)
    print(f"{time.time() - t0:.1f} s; {'OK' if failures == 0 else f'{failures} WRONG VERDICTS'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
