"""Benchmark: the built-in network's verdicts over the whole option grid (issue 16 item 3).

A correct built-in network must never read ``unresolved`` (nor ``warn`` or ``fail``), at
every ``--dims``, activation, loss, ``--mean``, ``--samples`` and seed, in the default
(full) mode and in ``--mode fast``; and every ``--inject-bug`` must still fail.

For each cell of dims x activation x loss x {sum, mean} x samples x seeds x modes this runs
``check_network`` (what ``gradcheck net`` runs) and prints one line per (dims, mode) group:
cells, entries, the pass / warn / fail / unresolved counts of correct networks, the worst
cell's seconds and the total seconds; then the injected bugs (every bug valid for the
network, seed 0, 20 samples, both modes): how many read ``fail`` and whether the failing
blocks are among the bug's blocks.  Cells that are not clean are listed.

Run: ``python benchmarks/bench_net_grid.py [--quick] [--dims 10,5,10 ...] [--tree DIR]``
(``--tree`` runs another checkout's package, e.g. an export of main, for a before column).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

DIMS = [(10, 5, 10), (50, 30, 10), (784, 100, 10), (784, 300, 300, 10)]
ACTIVATIONS = ["sigmoid", "tanh", "relu"]
LOSSES = ["ce", "mse"]
SAMPLES = [1, 20, 1000]
BIG_SAMPLES = 100_000  # small dims only
SEEDS = [0, 1, 2]
MODES = ["full", "fast"]


def samples_for(dims) -> list[int]:
    return SAMPLES + ([BIG_SAMPLES] if max(dims) <= 50 else [])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", type=Path, help="a folder holding another version of gradcheck_cli")
    ap.add_argument("--dims", action="append", help="only these dims (comma separated; repeatable)")
    ap.add_argument("--quick", action="store_true", help="seed 0 only, and no 1000/100000 samples at 784 inputs")
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--samples", help="only these sample counts (comma separated)")
    ap.add_argument("--seeds", help="only these seeds (comma separated)")
    ap.add_argument("--verbose", action="store_true", help="print each unclean cell as it is found")
    ap.add_argument("--no-bugs", action="store_true")
    ap.add_argument("--no-correct", action="store_true")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(args.tree.resolve() if args.tree else Path(__file__).resolve().parents[1]))
    from gradcheck_cli.checks.net import check_network
    from gradcheck_cli.errors import OptionError
    from gradcheck_cli.network import model

    dims_list = [tuple(int(x) for x in d.split(",")) for d in args.dims] if args.dims else DIMS
    modes = args.modes.split(",")
    seeds = [int(x) for x in args.seeds.split(",")] if args.seeds else [0] if args.quick else SEEDS
    only_samples = {int(x) for x in args.samples.split(",")} if args.samples else None
    bad_cells = []
    if not args.no_correct:
        print(f"{'dims':>16} {'mode':>4} | {'cells':>5} {'entries':>9} {'pass':>9} {'warn':>4} {'fail':>4} "
              f"{'unres.':>6} | {'max s':>6} {'total s':>8}")
    for dims in dims_list if not args.no_correct else []:
        samples = samples_for(dims)
        if args.quick and dims[0] >= 784:
            samples = [s for s in samples if s <= 20]
        if only_samples:
            samples = [s for s in samples if s in only_samples]
        for mode in modes:
            tot = dict(cells=0, checks=0, pass_=0, warn=0, fail=0, unresolved=0)
            tmax = ttot = 0.0
            for act, loss, mean, M, seed in itertools.product(ACTIVATIONS, LOSSES, (False, True), samples, seeds):
                t = time.perf_counter()
                try:
                    r = check_network(dims, activation=act, loss=loss, mean=mean, samples=M, seed=seed, mode=mode)
                except OptionError:
                    continue
                dt = time.perf_counter() - t
                tmax, ttot = max(tmax, dt), ttot + dt
                c = r.counts
                tot["cells"] += 1
                tot["checks"] += c["checks"]
                tot["pass_"] += c["pass"] + c.get("kink", 0)
                for k in ("warn", "fail", "unresolved"):
                    tot[k] += c[k]
                if c["warn"] or c["fail"] or c["unresolved"]:
                    bad_cells.append((dims, mode, act, loss, "mean" if mean else "sum", M, seed,
                                      c["warn"], c["fail"], c["unresolved"], round(dt, 2)))
                    if args.verbose:
                        print("   not clean:", *bad_cells[-1], flush=True)
            print(f"{'-'.join(map(str, dims)):>16} {mode:>4} | {tot['cells']:5d} {tot['checks']:9d} "
                  f"{tot['pass_']:9d} {tot['warn']:4d} {tot['fail']:4d} {tot['unresolved']:6d} | "
                  f"{tmax:6.2f} {ttot:8.1f}", flush=True)
    if bad_cells:
        print("\ncorrect networks not clean (dims, mode, activation, loss, sum/mean, samples, seed, "
              "warn, fail, unresolved, seconds):")
        for b in bad_cells:
            print("  ", *b)
    if args.no_bugs:
        return 0
    print(f"\n{'dims':>16} {'mode':>4} | {'bugs':>4} {'fail':>4} {'in bug blocks':>13} | {'max s':>6}")
    missed = []
    for dims in dims_list:
        for mode in modes:
            n = failed = local = 0
            tmax = 0.0
            for act, loss in itertools.product(ACTIVATIONS, LOSSES):
                spec = model.NetworkSpec(dims, activation=act, loss=loss)
                for bug in model.BUGS:
                    try:
                        model.validate_bug(spec, bug)
                    except OptionError:
                        continue
                    t = time.perf_counter()
                    r = check_network(dims, activation=act, loss=loss, bug=bug, mode=mode)
                    tmax = max(tmax, time.perf_counter() - t)
                    n += 1
                    fails = {b.name for b in r.blocks if b.status.value == "fail"}
                    failed += r.status.value == "fail"
                    local += bool(fails) and fails <= set(model.bug_blocks(spec, bug))
                    if r.status.value != "fail":
                        missed.append((dims, mode, act, loss, bug, r.status.value))
            print(f"{'-'.join(map(str, dims)):>16} {mode:>4} | {n:4d} {failed:4d} {local:13d} | {tmax:6.2f}",
                  flush=True)
    for m in missed:
        print("   bug not failed:", *m)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
