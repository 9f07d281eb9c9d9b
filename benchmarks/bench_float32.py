"""Float32 networks: unresolved entries on correct code, misses on planted bugs, calls, seconds.

Subjects: the corpus's 10-5-10 networks computing in float32 (sigmoid, tanh, relu; the
student's ``forward_backward_prop`` with every input cast to float32).  Truth: the same code
in float64 at the float32 point the code sees (inputs rounded to float32).

Correct code: the counts of each status, every passing entry checked against the truth
(a pass further than the float32 pass tolerance from it is a wrong pass), calls (counted
by a wrapper around the user's function) and seconds.

Hostile cases: one entry's hand gradient multiplied by 1.001, 1.01, 2 or -1, on the
largest, a median and the smallest non-negligible entry (|g| above 1e-3 of the largest) of
W1 and W2.  A miss is the planted entry reading ``pass``; ``fail`` on another entry of the
correct code is reported as a false fail.

Run:  python benchmarks/bench_float32.py [--act relu,tanh,sigmoid] [--no-hostile] [--seeds 3] [--verbose]

Figures (the 2-core machine, loaded; unresolved of 115 at seeds 0, 1, 2, calls at seed 0), before
and after the kink-aware fit and the second fit's settle test:
relu 41, 20, 45 -> 27, 5, 30 (17,978 -> 20,044 calls); tanh 5, 3, 10 -> 5, 3, 10 (13,587 ->
12,819); sigmoid 7, 5, 4 -> 7, 5, 4 (11,121 -> 10,609).  Planted bugs: 72, 0 read pass before
and after; x1.01 reads warn on 11 of 18 entries (5 before: the rest unresolved), x2 and -1 fail.
The audit's CS231n FC net computing in float32 (not run here): 106 -> 42 of 191 unresolved,
14,991 -> 49,825 calls (2.1 -> 8.3 s); the kink-aware fit on 128 steps instead of 256 would
give 56 unresolved in 37,082 calls (relu 10-5-10: 32 in 17,378).
Staged fits (main after the flat2 merge -> this branch; the FC net counted by a wrapper as
the audit runs it): the kink-aware fit on its first half of points, the second only where the
first neither settles the entry nor shows that all of them could not (``HALF_GAIN``); the first
symmetric fit on every other pair, completing only its inner half where those show a kink too
near x for any width (relu code; the kink-free sides located at full density there).
relu unresolved 27, 5, 30 -> 27, 5, 29 (calls 20,177, 13,733, 20,886 -> 18,129, 11,397, 17,526);
tanh 5, 3, 10 and sigmoid 7, 5, 4 unchanged (12,899 and 10,765 calls at seed 0); planted bugs
72, 0 read pass, x1.01 warn on 11 of 18 as before; the FC float32 net 42 -> 36 of 191
unresolved, 49,909 -> 39,135 calls (the calls saved leave more of the fit budget to other
entries).  Not kept: the symmetric fit stopped on the half's kink without completing the inner
pairs (36,575 calls but 41 unresolved on FC, 32 on relu seed 0: the coarse sample places the
kinks, and so the free sides, less precisely), nor stopped where its half settled the entry
(tanh seed 0: 5 -> 6 unresolved).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter

import numpy as np

sys.path.insert(0, __file__.rsplit("/", 1)[0])

from corpus_net import fbp  # noqa: E402

DIMS = (10, 5, 10)
SAMPLES = 20
FACTORS = (1.001, 1.01, 2.0, -1.0)
BLOCK_SHAPES = {"W1": (10, 5), "b1": (1, 5), "W2": (5, 10), "b2": (1, 10)}


def impl_of(act, factor=None, entry=None, log=None):
    """The float32 network; ``factor`` times its gradient at flat ``entry`` (a planted bug)."""
    def impl(data, labels, params, dimensions):
        if log is not None:
            log.append((np.array(data), np.array(labels), np.array(params)))
        cost, g = fbp(data, labels, params, dimensions, act=act, f32=True)
        if factor is not None:
            g = g.copy()
            g[entry] = g[entry] * np.float32(factor)
        return cost, g
    impl.__name__ = f"f32_{act}"
    return impl


def run(act, factor=None, entry=None, seed=None):
    from gradcheck_cli import check_network

    log: list = []
    impl = impl_of(act, factor, entry, log)
    t0 = time.perf_counter()
    kw = {} if seed is None else {"seed": seed}
    rep = check_network(DIMS, impl=impl, samples=SAMPLES, activation=act, mean=False, cost_check=False, top=200,
                        **kw)
    return rep, time.perf_counter() - t0, log


def truth_at(act, point):
    X, Y, p = point
    r = lambda a: a.astype(np.float32).astype(float)  # noqa: E731
    return fbp(r(X), r(Y), r(p), list(DIMS), act=act)[1]


def flat_index(check) -> int:
    """The flat parameter index of a row (W1, b1, W2, b2 in order)."""
    off = {"W1": 0, "b1": 50, "W2": 55, "b2": 105}[check.name]
    return off + int(np.ravel_multi_index(tuple(check.index), BLOCK_SHAPES[check.name]))


def correct(act, seed=None):
    from gradcheck_cli.verdict import FLOAT32_PASS_TOL

    rep, sec, log = run(act, seed=seed)
    truth = truth_at(act, log[0])
    wrong = 0
    for c in rep.checks:
        if c.status.value == "pass":
            t = truth[flat_index(c)]
            if abs(c.analytic - t) > FLOAT32_PASS_TOL * abs(t) and abs(c.analytic - t) > 1e-9:
                wrong += 1
    counts = {k: v for k, v in rep.counts.items() if v}
    return rep, counts, wrong, sec, len(log), truth, log[0]


def targets(truth):
    """Largest, median and smallest non-negligible entries of W1 and W2 (flat indices)."""
    out = []
    for lo, hi in ((0, 50), (55, 105)):
        g = np.abs(truth[lo:hi])
        ok = np.flatnonzero(g > 1e-3 * g.max())
        order = ok[np.argsort(g[ok])]
        out += [lo + int(order[-1]), lo + int(order[len(order) // 2]), lo + int(order[0])]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--act", default="sigmoid,tanh,relu")
    ap.add_argument("--no-hostile", action="store_true")
    ap.add_argument("--verbose", action="store_true", help="the rows that are not a pass")
    ap.add_argument("--seeds", type=int, default=1, help="points per network (seed 0 is the corpus's)")
    args = ap.parse_args(argv)
    total_miss = total_planted = 0
    for act in args.act.split(","):
        for s in range(args.seeds):
            seed = None if s == 0 else s
            rep, counts, wrong, sec, calls, truth, _ = correct(act, seed)
            print(f"{act:8s} seed {s}: correct  {rep.status.value:10s} {dict(counts)}  wrong passes {wrong}  "
                  f"calls {calls}  {sec:.2f} s", flush=True)
            if args.verbose:
                for c in rep.checks:
                    if c.status.value != "pass":
                        j = flat_index(c)
                        print(f"    {c.label:9s} {c.status.value:10s} {c.reason:18s} analytic {c.analytic: .6g} truth "
                              f"{truth[j]: .6g} numeric {c.numeric: .6g} +- {c.error if c.error is not None else float('nan'):.2g}")
            if args.no_hostile or s > 0:
                continue
            for j in targets(truth):
                row = []
                for fac in FACTORS:
                    r2, sec2, log2 = run(act, fac, j)
                    st = {flat_index(c): c.status.value for c in r2.checks}.get(j, "absent")
                    others = sum(c.status.value == "fail" for c in r2.checks if flat_index(c) != j)
                    miss = st == "pass"
                    total_miss += miss
                    total_planted += 1
                    row.append(f"x{fac:g}: {st}{' MISS' if miss else ''}{f' +{others} fail' if others else ''}"
                               f" ({len(log2)} calls)")
                print(f"    entry {j:3d} |g| {abs(truth[j]):.3g}: " + ", ".join(row), flush=True)
    if total_planted:
        print(f"planted bugs: {total_planted}, missed (read pass): {total_miss}")
    return 1 if total_miss else 0


if __name__ == "__main__":
    sys.exit(main())
