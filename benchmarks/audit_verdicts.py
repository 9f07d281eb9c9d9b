"""Audit of the verdicts against mpmath ground truth (issue 9).

Runs a family of expressions at hostile points (extreme magnitudes, cancellation,
poles, large |x|, tiny partials next to huge ones, C1 points built from abs/relu,
genuine kinks) through

* ``expr`` for each method (central, complex, richardson) with the correct derivative
  and with claims wrong by a sign, by a factor 2 and by a factor 1 + 1e-3;
* the black-box engine used for users' code (``func``), twice: its first look
  (``blackbox.stencils.blackbox_gradient`` of the float64 function, ``finite_diff.evidence``
  and ``verdict.assess`` of the float64 value of each claim) and the product, the Python API
  ``check_gradient(f, x)`` with ``f(x) -> (cost, claim)`` exactly as ``gradcheck func`` runs it
  (adaptive mode, default thresholds, recheck, confirmation); f is numpy code that computes
  in the dtype it is given (``expression.compile_one(..., keep_dtype=True)``), so the
  product lifts it to np.longdouble where it would a user's numpy code;

and prints a tally.  Ground truth is sympy's partial evaluated at 120 digits, confirmed
by a centred difference of f at 120 digits with a step relative to ``|x|``.  For ``expr``
a correct claim must pass (anything else is a false alarm, or unresolved), a claim off
by a sign or 2 must fail, one off by 1e-3 must warn (a pass is a miss), a genuine kink
must be ``kink``.  For ``func`` a claim is *correct* when its float64 value is within
``pass_tol / 10`` of the truth (or both are zero to within the round-off of f's own
scale, ``4 eps |f| / max(|x|, 1)``: 1 - tanh(x)**2 at x = 100 in float64 code) and
*wrong* when it is off by more than ``10 fail_tol``:
correct must never fail or warn, wrong must never pass (``unresolved`` is allowed).

and the same for float32 code (f and the claims computed in float32: numpy on float32
arrays, constants and erf excepted), judged by the claim's float32 value: right to 1e-4
never fails or warns, off by more than 10 fail_tol never passes.  The product must also
read a genuine kink ``kink``.  Any false alarm or miss (either engine) exits 1.

Run:  python benchmarks/audit_verdicts.py [--quick] [--unresolved]
(``--unresolved``: every correct claim the product leaves unresolved, by entry)
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from collections import Counter
from dataclasses import replace

import mpmath as mp
import numpy as np

from gradcheck_cli import check_gradient
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


def _claims(text: str, parsed, names: list, x: np.ndarray, dtype) -> dict:
    """label -> the claimed gradient (correct, and wrong by ``WRONG``) at x, computed in ``dtype``
    (float32 code: the claim's float32 value)."""
    derivs = ex.derivatives(parsed.expr, names, text)
    xs = x.astype(dtype)[:, None]
    out = {}
    for label, k in ({"correct": 1.0} | WRONG).items():
        if dtype is np.float32 and label == "1e-3":
            continue  # below float32's resolution of a claim
        out[label] = np.array([ex.compile_one(k * d, names, keep_dtype=True)(xs)[0] for d in derivs], dtype=dtype)
    return out


def _category(text: str, point: dict, parsed, names: list, x: np.ndarray, i: int, a: float, dtype,
              thresholds: Thresholds) -> str | None:
    """``correct`` / ``wrong`` / None (in between) for the claim ``a`` of entry ``i``.

    float64 code: correct within ``pass_tol / 10`` of the truth, or both zero to within the
    round-off of f's own scale ``4 eps |f| / max(|x|, 1)``; float32 code: correct within
    1e-4 (or both zero to float32 round-off of the true f's scale); wrong: off by more than
    ``10 fail_tol``."""
    n = names[i]
    t = ground_truth(text, point, n)
    with mp.workdps(30):
        denom = max(abs(mp.mpf(a)), abs(t))
        rel = float(abs(mp.mpf(a) - t) / denom) if denom != 0 else 0.0
        if dtype is np.float32:
            f_scale = abs(compile_precise([parsed.expr], names)([mp.mpf(v) for v in x], 30)[0])
        else:
            f_scale = max(abs(ex.compile_one(parsed.expr, names)(x[:, None])[0]), np.finfo(float).tiny)
        z = mp.mpf(4 * float(np.finfo(dtype).eps)) * f_scale / max(abs(x[i]), 1.0)
        zero = abs(t) <= z and abs(mp.mpf(a)) <= z
    right = thresholds.pass_tol / 10 if dtype is np.float64 else 1e-4
    return "correct" if rel <= right or zero else ("wrong" if rel > 10 * thresholds.fail_tol else None)


def _code(parsed, names: list, dtype):
    """The user's code for f: numpy on x in ``dtype`` (float32 code casts what it is given to
    float32; float64 code computes in the dtype it is given, so the product may lift it to
    np.longdouble)."""
    f_num = ex.compile_one(parsed.expr, names, keep_dtype=True)
    if dtype is np.float32:
        return lambda z: f_num(np.asarray(z).astype(np.float32)[:, None])[0]
    return lambda z: f_num(np.asarray(z)[:, None])[0]


def _representable(x: np.ndarray, dtype, code) -> bool:
    with np.errstate(all="ignore"):
        xs = x.astype(dtype)
        return bool(np.all(np.isfinite(xs)) and np.all((xs != 0) | (x == 0)) and np.isfinite(code(x)))


def outcomes(text: str, point: dict, kind: str, dtype=np.float64, thresholds: Thresholds = Thresholds(),
             entries: bool = False):
    """Yield ``(label, category, first_look, product)`` per claim and entry of the code in
    ``dtype`` (category correct/wrong/None; label ``kink`` for a genuine kink's correct claim;
    ``entries``: the entry's name appended).

    ``first_look``: ``blackbox.stencils.blackbox_gradient`` of the code, ``finite_diff.evidence``
    and ``verdict.assess`` of the claim; ``product``: the Python API ``check_gradient(f, x)``
    with ``f(x) -> (cost, claim)``, as ``gradcheck func`` runs it (adaptive mode, default
    thresholds (float32's for float32 code), precision lifting where the code computes in
    np.longdouble)."""
    parsed = ex.parse(text)
    names = sorted(point)
    x = np.array([point[n] for n in names])
    code = _code(parsed, names, dtype)
    if not _representable(x, dtype, code):
        return  # the point itself is not a number of the code's precision
    est = blackbox_gradient(lambda z: float(code(z)), x)
    flat = np.isinf(est.noise) & (est.value == 0)  # the code's f did not change at all
    for label, claim in _claims(text, parsed, names, x, dtype).items():
        a = claim.astype(float)
        error, zs = evidence(a, est.value, est.noise, est.eps, est.resolution if dtype is np.float32 else None)
        res = assess(a, est.value, error, thresholds, zero_scale=zs, kink=est.kink)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = check_gradient(lambda z, c=claim: (code(z), c), x.copy(), top=len(names), thresholds=thresholds)
        product = {c.index[0]: c.status for c in report.checks if c.index is not None}
        if len(product) != len(names):
            raise AssertionError(f"{text} at {point}: the report has rows {sorted(product)}")
        for i, n in enumerate(names):
            if n in kinks_of(kind):
                if label == "correct":
                    yield ("kink", None, res.statuses[i], product[i]) + ((n,) if entries else ())
                continue
            if dtype is np.float32 and not np.isfinite(a[i]):
                continue
            category = _category(text, point, parsed, names, x, i, a[i], dtype, thresholds)
            # where the code's f is flat (underflow, absorption) a zero claim cannot be judged wrong
            if dtype is np.float32 and flat[i] and category == "wrong" and a[i] == 0:
                category = None
            yield (label, category, res.statuses[i], product[i]) + ((n,) if entries else ())


def func_outcomes(text: str, point: dict, kind: str, thresholds: Thresholds = Thresholds()):
    """Yield ``(label, category, status)`` for the first-look engine on float64 code."""
    for label, category, first, _ in outcomes(text, point, kind, np.float64, thresholds):
        yield label, category, first


def float32_outcomes(text: str, point: dict, kind: str, thresholds: Thresholds = Thresholds()):
    """Yield ``(label, category, status)`` for the first-look engine on float32 code."""
    for label, category, first, _ in outcomes(text, point, kind, np.float32, thresholds):
        if label != "kink":
            yield label, category, first


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


#: the rows of a func tally, in order
ROWS = ("correct->pass", "correct->unresolved", "correct->warn|fail (false alarm)", "wrong->pass (miss)",
        "wrong->fail", "wrong->warn", "wrong->unresolved", "kink->kink", "in between (not judged)")


def _row(label: str, category: str | None, got: Status) -> str:
    if label == "kink":
        return "kink->kink" if got is Status.KINK else f"kink->{got.value}"
    if category == "correct":
        return "correct->warn|fail (false alarm)" if got in (Status.FAIL, Status.WARN) else f"correct->{got.value}"
    if category == "wrong":
        return "wrong->pass (miss)" if got is Status.PASS else f"wrong->{got.value}"
    return "in between (not judged)"


def tally_func(family, dtype=np.float64) -> dict:
    """``{"first look": (Counter, bad), "product": (Counter, bad), "unresolved": [...]}`` over
    the family's code in ``dtype``; ``bad`` lists the false alarms and misses (and the
    product's kink not called kink), ``unresolved`` the correct claims the product leaves
    unresolved (``(text, point, label, entry)``)."""
    out = {"first look": (Counter(), []), "product": (Counter(), []), "unresolved": []}
    for text, point, kind in family:
        for label, category, first, product, entry in outcomes(text, point, kind, dtype, entries=True):
            if category == "correct" and product is Status.UNRESOLVED:
                out["unresolved"].append((text, point, label, entry))
            for engine, got in (("first look", first), ("product", product)):
                c, bad = out[engine]
                row = _row(label, category, got)
                c[row] += 1
                if "(false alarm)" in row or "(miss)" in row or (row.startswith("kink->") and row != "kink->kink"
                                                                 and engine == "product"):
                    bad.append((engine, text, point, label, got.value))
    return out


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
    for dtype, title in ((np.float64, "float64 code"), (np.float32, "float32 code (f and claims in float32)")):
        tallies = tally_func(family, dtype)
        (first, bad1), (product, bad2) = tallies["first look"], tallies["product"]
        print(f"func, {title}: {'first look':>12s} {'product':>9s}")
        for row in ROWS + tuple(sorted((set(first) | set(product)) - set(ROWS))):
            if first[row] or product[row] or "(" in row:
                print(f"  {row:36s} {first[row]:6d} {product[row]:9d}")
        for b in bad1 + bad2:
            print(f"      {b}")
        failures += len(bad1) + len(bad2)
        if "--unresolved" in argv:
            for case in tallies["unresolved"]:
                print(f"      unresolved: {case}")
    print(f"{time.time() - t0:.1f} s; {'OK' if failures == 0 else f'{failures} WRONG VERDICTS'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
