"""Benchmark: the built-in network's whole check (``check_network``, what ``gradcheck net``
runs), per --dims / activation / loss (and --samples, --mode, --seed), with its count of
unresolved entries.

Times the library call (problem set-up, reference gradient, structured differences, the
extended-precision re-estimates, verdicts), best of ``--repeat`` runs, in a fresh
process per row.  ``--compare DIR`` also times the package found in DIR (e.g. an export
of an older commit: ``git archive main | tar -x -C DIR``), row by row interleaved with
this tree, so both columns see the same machine load.

Run: ``python benchmarks/bench_net_command.py [--compare DIR] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
CONFIGS = [
    ((10, 5, 10), "sigmoid", "ce"),
    ((50, 30, 10), "sigmoid", "ce"),
    ((784, 100, 10), "sigmoid", "ce"),
    ((784, 300, 300, 10), "sigmoid", "ce"),
    ((100, 100, 100, 100, 10), "tanh", "ce"),
    ((50, 30, 10), "relu", "ce"),
    ((784, 100, 10), "tanh", "mse"),
    ((784, 100, 10), "relu", "ce"),
    # issue 16 item 3: a saturated output, many samples, fast mode
    ((784, 300, 300, 10), "relu", "mse"),
    ((784, 300, 300, 10), "relu", "mse", 20, "full", 1),
    ((50, 30, 10), "tanh", "mse", 100000),
    ((784, 100, 10), "sigmoid", "ce", 20, "fast"),
    ((784, 300, 300, 10), "tanh", "ce", 1000, "fast"),
]

CHILD = """
import json, sys, time
from gradcheck_cli.checks.net import check_network
dims, act, loss, samples, mode, seed, repeat = json.loads(sys.argv[1])
best, report = float("inf"), None
for _ in range(repeat):
    t = time.perf_counter()
    report = check_network(tuple(dims), activation=act, loss=loss, samples=samples, mode=mode, seed=seed)
    best = min(best, time.perf_counter() - t)
print(json.dumps({"seconds": best, "unresolved": report.counts["unresolved"], "status": report.status.value}))
"""


def run(tree: Path, dims, act, loss, repeat: int, samples: int = 20, mode: str = "full", seed: int = 0) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps([dims, act, loss, samples, mode, seed, repeat])],
                         capture_output=True, text=True, check=True, cwd=tree,
                         env={"PYTHONPATH": str(tree), "PATH": "", "OPENBLAS_NUM_THREADS": "1"})
    return json.loads(out.stdout)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--compare", type=Path, help="a folder holding another version of gradcheck_cli")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    head = f"{'dims':>18} {'act':>7} {'loss':>4} {'M':>6} {'mode':>4} {'seed':>4} | {'seconds':>8} {'unres.':>6} {'status':>10}"
    if args.compare:
        head += f" | {'before s':>8} {'unres.':>6} {'status':>10} | {'ratio':>5}"
    print(head)
    for dims, act, loss, *more in CONFIGS:
        samples, mode, seed = (list(more) + [20, "full", 0][len(more):])
        now = run(HERE, dims, act, loss, args.repeat, samples, mode, seed)
        line = (f"{'-'.join(map(str, dims)):>18} {act:>7} {loss:>4} {samples:>6} {mode:>4} {seed:>4} | {now['seconds']:8.3f} "
                f"{now['unresolved']:6d} {now['status']:>10}")
        if args.compare:
            old = run(args.compare, dims, act, loss, args.repeat, samples, mode, seed)
            line += (f" | {old['seconds']:8.3f} {old['unresolved']:6d} {old['status']:>10} | "
                     f"{now['seconds'] / old['seconds']:5.2f}")
        print(line, flush=True)
    print(f"seconds: best of {args.repeat} calls of check_network, one fresh process per cell, OPENBLAS_NUM_THREADS=1")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
