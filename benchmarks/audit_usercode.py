"""Audit of the verdicts on users' code: correct code must read pass, wrong code must not.

The corpus (``corpus_func.py``, ``corpus_net.py``, ``corpus_layer.py``; each case its own
short function, its gradient derived by hand) has the kinds people bring: ``func``
(softmax/CE, logistic regression, L2, Huber, a log-barrier near its boundary, exp/log at
large and small scales, norms, products, a polynomial with cancellation, costs 1e-12..1e12,
x ~ 1e-10..1e10, mixed scales, float32 code, Python-float / 0-d / list returns, 1 to
100,000 entries, word2vec, an ill-conditioned x'Ax, ReLU/max/abs away from and at kinks),
``net --impl`` (CS224n ``forward_backward_prop`` variants) and ``layer`` (CS231n layers).
Every wrong case is a realistic bug.  Each case runs through the library API, in the mode a
user gets by default or (``--mode full``) with every entry checked.

Figures per kind and in total: correct cases with a clean pass (every entry ``pass``; at a
kink: the kink entries ``kink``, the rest ``pass``), correct cases ``--strict`` fails
(status not pass), the unresolved-on-correct fraction of entries, wrong passes (a wrong
case whose status is ``pass``: must be 0), silent wrong cases (exit 0 with no warn or fail
entry, e.g. every entry unresolved), false fails (a correct case with a failing entry, an
error or a crash: must be 0); then every offender with its status line and the rows that
are not a pass, with their reason.

``--truth`` first checks the corpus itself: every correct case's hand gradient against
mpmath at 50 digits at a sample of entries of every differentiated array (the same code
run on mpmath numbers), and every wrong case's damage (entries its bug changes).

``--mode full`` leaves out the cases marked too big for every entry (784-100-10 ``--impl``:
minutes; 100,000 entries) unless ``--big`` is given.

Run:  python benchmarks/audit_usercode.py [--mode full [--big]] [--quick] [--kind func]
      [--only SUBSTRING] [--module corpus_func2] [--truth] [--json]
"""

from __future__ import annotations

import sys
import time
from collections import Counter

sys.path.insert(0, __file__.rsplit("/", 1)[0])

import corpus_func  # noqa: E402
import corpus_func2  # noqa: E402
import corpus_layer  # noqa: E402
import corpus_layer2  # noqa: E402
import corpus_model  # noqa: E402
import corpus_net  # noqa: E402
import corpus_net2  # noqa: E402
from corpus_common import truth_rel  # noqa: E402

KINDS = ("func", "net --impl", "layer", "model")


MODULES = (corpus_func, corpus_func2, corpus_net, corpus_net2, corpus_layer, corpus_layer2, corpus_model)


def all_cases():
    out = []
    for m in MODULES:
        for c in m.cases():
            c.module = m.__name__
            out.append(c)
    return out


def select(cases, *, quick=False, kind=None, only=None, mode=None, big=False, module=None):
    out = []
    for c in cases:
        if module and c.module != module:
            continue
        if quick and not c.small:
            continue
        if kind and c.kind != kind:
            continue
        if only and only not in c.name:
            continue
        if mode == "full" and not c.full and not big:
            continue
        out.append(c)
    return out


def _rows_not_pass(rep, limit=3):
    rows = []
    for k in rep.checks:
        st = k.status.value
        if st == "pass":
            continue
        why = f" ({k.reason})" if k.reason else ""
        err = "" if k.error is None else f" ± {k.error:.2g}"
        rows.append(f"{k.label}: {st}{why}, analytic {k.analytic:.6g}, numeric {k.numeric:.6g}{err}, "
                    f"rel {k.rel_error:.2g}")
        if len(rows) >= limit:
            break
    return rows


def run_case(case, mode=None) -> dict:
    """The case's outcome: status, counts, summary line, the rows that are not a pass, seconds."""
    from gradcheck_cli.errors import GradcheckError

    t0 = time.perf_counter()
    try:
        rep = case.run(mode)
        line = rep.summary_line()
        cc = rep.cost_check
        if cc is not None and cc.status.value != "pass":
            line += f"; cost check {cc.status.value}: yours {cc.yours:.6g}, reference {cc.reference:.6g}"
        out = {"status": rep.status.value, "counts": dict(rep.counts), "line": line,
               "rows": _rows_not_pass(rep), "calls": getattr(rep.effort, "calls", None)}
    except GradcheckError as exc:  # exit 2
        out = {"status": "error", "counts": {}, "line": str(exc).splitlines()[0][:160], "rows": []}
    except Exception as exc:  # noqa: BLE001 - exit 3 in the CLI: a bug of ours
        out = {"status": "crash", "counts": {}, "line": f"{type(exc).__name__}: {exc}"[:160], "rows": []}
    out["seconds"] = time.perf_counter() - t0
    return out


def judge(case, out) -> dict:
    """The done-means flags of one outcome."""
    c, st = out["counts"], out["status"]
    bad = st in ("error", "crash")
    if case.correct:
        if case.expect == "either":  # pass or kink both right (a kink within a step of the point)
            clean = not bad and c.get("pass", 0) + c.get("kink", 0) == c.get("checks", -1)
        elif case.expect == "kink":
            clean = not bad and c.get("kink", 0) > 0 and c.get("pass", 0) + c["kink"] == c.get("checks", -1)
        else:
            clean = not bad and st == "pass" and c.get("pass", 0) == c.get("checks", -1)
        return {"clean": clean, "strict_fail": st != "pass", "false_fail": bad or c.get("fail", 0) > 0}
    return {"wrong_pass": st == "pass" and not c.get("warn") and not c.get("fail"),
            "silent": not bad and not c.get("warn") and not c.get("fail")}


def summarise(results) -> dict:
    per: dict = {k: Counter() for k in KINDS}
    for case, out in results:
        s = per[case.kind]
        j = judge(case, out)
        c = out["counts"]
        if case.correct:
            s["correct"] += 1
            s["clean"] += j["clean"]
            s["strict fails"] += j["strict_fail"]
            s["false fails"] += j["false_fail"]
            s["entries"] += c.get("checks", 0)
            s["unresolved"] += c.get("unresolved", 0)
        else:
            s["wrong"] += 1
            s["wrong passes"] += j["wrong_pass"]
            s["silent"] += j["silent"]
    per["total"] = sum(per.values(), Counter())
    return per


def offenders(results):
    """(case, outcome, why) for every correct case not clean and every wrong case that is silent."""
    out = []
    for case, o in results:
        j = judge(case, o)
        if case.correct and not j["clean"]:
            out.append((case, o, "FALSE FAIL" if j["false_fail"] else "not a clean pass"))
        elif not case.correct and j["silent"]:
            out.append((case, o, "WRONG PASS" if j["wrong_pass"] else "wrong, exit 0 silently"))
    return out


def figures_text(per) -> list[str]:
    lines = []
    for kind, s in per.items():
        if not s["correct"] and not s["wrong"]:
            continue
        frac = s["unresolved"] / max(s["entries"], 1)
        lines.append(
            f"{kind:11s} correct {s['correct']:3d}: clean pass {s['clean']}/{s['correct']}, strict fails "
            f"{s['strict fails']}, unresolved-on-correct {frac:.2%} ({s['unresolved']}/{s['entries']}), "
            f"false fails {s['false fails']} | wrong {s['wrong']:3d}: wrong passes {s['wrong passes']}, "
            f"silent (exit 0, no warn/fail) {s['silent']}")
    return lines


def check_truth(cases) -> int:
    """The corpus itself: hand gradients against mpmath, bugs against the correct code."""
    bad = 0
    for c in cases:
        t0 = time.perf_counter()
        if c.correct:
            if c.truth is None:
                print(f"{c.kind:11s} ok  {c.name:50s} truth: {c.note or 'exact by construction'}")
                continue
            rows = c.truth()
            rel, floored = truth_rel(rows), truth_rel(rows, floored=True)
            ok = floored <= 1e-8
            bad += not ok
            print(f"{c.kind:11s} ok  {c.name:50s} {len(rows):3d} entries vs mpmath: rel {rel:.1e} "
                  f"(at the scale's round-off {floored:.1e}) {'' if ok else '<<< HAND GRADIENT WRONG'}  "
                  f"{time.perf_counter() - t0:.1f}s", flush=True)
        else:
            if c.damage is None:
                print(f"{c.kind:11s} BUG {c.name:50s} damage: only under a different random state")
                continue
            n, of, rel = c.damage()
            ok = n > 0 and rel > 1e-6
            bad += not ok
            print(f"{c.kind:11s} BUG {c.name:50s} changes {n}/{of} entries, up to rel {rel:.2g} "
                  f"{'' if ok else '<<< NOT A BUG'}", flush=True)
    return bad


def main(argv: list[str]) -> int:
    opt = lambda name: argv[argv.index(name) + 1] if name in argv else None  # noqa: E731
    mode = opt("--mode")
    cases = select(all_cases(), quick="--quick" in argv, kind=opt("--kind"), only=opt("--only"), mode=mode,
                   big="--big" in argv, module=opt("--module"))
    if "--truth" in argv:
        bad = check_truth(cases)
        print(f"\ncorpus: {bad} case(s) whose truth does not hold")
        return 1 if bad else 0
    results = []
    for c in cases:
        o = run_case(c, mode)
        results.append((c, o))
        if "--json" not in argv:
            cnt = " ".join(f"{k}={v}" for k, v in o["counts"].items() if v and k != "checks")
            print(f"{c.kind:11s} {'ok ' if c.correct else 'BUG'} {c.name:50s} {o['status']:10s} "
                  f"{o['seconds']:6.2f}s  {o['counts'].get('checks', '')} {cnt or o['line']}", flush=True)
    per = summarise(results)
    if "--json" in argv:
        import json

        print(json.dumps({"mode": mode or "default", "figures": {k: dict(v) for k, v in per.items()},
                          "cases": [{"kind": c.kind, "name": c.name, "correct": c.correct, **o} for c, o in results]}))
        return 0
    print(f"\nmode: {mode or 'default (what users run)'}")
    print("\n".join(figures_text(per)))
    offs = offenders(results)
    if offs:
        print(f"\noffenders ({len(offs)}):")
        for c, o, why in offs:
            print(f"  [{why}] {c.kind} / {c.name}: {o['status']}, {o['line']}")
            for r in o["rows"]:
                print(f"      {r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
