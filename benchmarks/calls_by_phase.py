"""Where the calls of a check go: every call of the user's code counted by the phase that made it.

    python benchmarks/calls_by_phase.py [--rows rosen,batchnorm] [--mode full]

Rows as in ``bench_anchors.py`` (``rosen`` at n = 10,000, ``batchnorm`` 64x100 in train
mode; ``subjects.py``), and ``pool``: a 2x2 max-pool over 2x3x8x8 integer pixels 0..3 (ties:
kinks).  A counter around the user's functions charges each call to the
innermost phase running (the phases are the pipeline's own functions, wrapped for the run):
the setup (the first calls, the repeat check, the cache and random-draw tests), the
extended-precision probe, the noise probe, the first look (2 calls an entry), the layer's
two-call looks and four-point estimates (each starting with one forward pass at the
inputs), the precise directions that verify what a first look cannot, the kink suspects'
test, the four-point kinks' confirmation (shrinking test), the re-estimates (ladder) and the short-step confirmation.  The total must equal the
effort line's calls.
"""

from __future__ import annotations

import argparse
import collections
import functools
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import subjects  # noqa: E402
from gradcheck_cli import layer_numerics  # noqa: E402
from gradcheck_cli.blackbox import engine, pipeline, search  # noqa: E402
from gradcheck_cli.checks import func, layer  # noqa: E402
from gradcheck_cli.inputs import func_x, make_inputs  # noqa: E402

COUNTS: collections.Counter = collections.Counter()
STACK = ["setup"]


def _phase(fn, name):
    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        STACK.append(name(args, kwargs) if callable(name) else name)
        try:
            return fn(*args, **kwargs)
        finally:
            STACK.pop()

    return wrapped


def _patch(owner, attr: str, name) -> None:
    setattr(owner, attr, _phase(getattr(owner, attr), name))


def _counted(fn):
    def wrapped(*args, **kwargs):
        COUNTS[STACK[-1]] += 1
        return fn(*args, **kwargs)

    return wrapped


PHASES = [
    (func, "lifted_cost", "extended-precision probe"),
    (layer, "lazy_lifted_cost", "extended-precision probe"),
    (engine.Engine, "probe_noise", "noise probe"),
    (layer_numerics, "noise_along", "noise probe (per input)"),
    (engine.Engine, "_first_look", "first look (2 an entry)"),
    (pipeline, "_chunked_direct", lambda a, k: "layer look (2 an entry)" if k.get("points") == 2
     else "layer four points (completed)" if k.get("first") is not None else "layer four points"),
    (pipeline, "_direct_refine", "layer four points (after search)"),
    (search, "settle_by_directions", "precise directions"),
    (pipeline, "verify_by_directions", "precise directions"),
    (pipeline, "_test_suspects", "kink suspects"),
    (pipeline, "_confirm_kinks", "kinks confirmed (shrinking test)"),
    (pipeline, "_recheck_once", "re-estimate (ladder)"),
    (pipeline, "confirm_block", "short-step confirmation"),
]


def run(row: str, mode: str):
    for owner, attr, name in PHASES:
        _patch(owner, attr, name)
    if row == "rosen":
        x, _ = func_x("10000", None, 0)
        report = func.check_gradient(_counted(subjects._rosen), x, mode=mode)
    elif row == "pool":  # a 2x2 max-pool over integer pixels 0..3: ties (kinks) in most windows
        x = make_inputs(["x=2,3,8,8"])
        x[0].value[...] = np.random.default_rng(0).integers(0, 4, size=(2, 3, 8, 8))
        report = layer.check_layer(_counted(subjects._layers.max_pool_naive_forward),
                                   _counted(subjects._layers.max_pool_naive_backward), x,
                                   {"pool_param": {"pool_height": 2, "pool_width": 2, "stride": 2}}, mode=mode)
    else:
        report = layer.check_layer(_counted(subjects._layers.batchnorm_forward),
                                   _counted(subjects._layers.batchnorm_backward),
                                   make_inputs(["x=64,100", "gamma=100", "beta=100"]), {"bn_param": {"mode": "train"}},
                                   mode=mode)
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default="rosen,batchnorm")
    ap.add_argument("--mode", default="full")
    ap.add_argument("--run", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.run:
        report = run(args.run, args.mode)
        entries = report.effort.entries
        print(f"{args.run} --mode {args.mode}: {report.status.value}, {entries} entries, effort {report.effort.calls} "
              f"calls, counted {sum(COUNTS.values())} ({sum(COUNTS.values()) - 2 * entries:+d} beyond 2 an entry)")
        for name, n in COUNTS.most_common():
            print(f"  {name:32s} {n:7d}")
        return
    import subprocess

    for row in args.rows.split(","):  # a fresh process each: the patches stay there
        subprocess.run([sys.executable, __file__, "--run", row, "--mode", args.mode], check=False)


if __name__ == "__main__":
    main()
