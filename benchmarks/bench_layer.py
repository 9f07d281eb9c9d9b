"""What ``gradcheck layer`` costs on a small CS231n convolution, timed (not asserted in tests).

    python benchmarks/bench_layer.py [--repeat 5]

``layer tests/layers/layers.py:conv_naive`` at x 2x3x8x8, w 4x3x3x3, b 4 (496 entries,
``conv_param = {"stride": 1, "pad": 1}``), the library call the command makes, in its
default mode (adaptive: more than 256 entries).  Prints the median wall time over
``--repeat`` runs (after one warm run), the calls of the forward/backward passes and the
verdict.  Target: under a second on a shared 2-core machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gradcheck_cli.checks.layer import check_layer_command  # noqa: E402

TARGET = str(ROOT / "tests" / "layers" / "layers.py") + ":conv_naive"
INPUTS = ["x=2,3,8,8", "w=4,3,3,3", "b=4"]
PARAMS = ['conv_param={"stride": 1, "pad": 1}']
TARGET_SECONDS = 1.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    check_layer_command(TARGET, inputs=INPUTS, params=PARAMS)  # warm: imports, first calls
    times, report = [], None
    for _ in range(args.repeat):
        t = time.perf_counter()
        report = check_layer_command(TARGET, inputs=INPUTS, params=PARAMS)
        times.append(time.perf_counter() - t)
    median = statistics.median(times)
    print(f"conv 2x3x8x8, 4 filters 3x3: {median:.3f} s median of {args.repeat} "
          f"(target < {TARGET_SECONDS:.0f} s: {'met' if median < TARGET_SECONDS else 'NOT met'}); "
          f"{report.effort.calls} calls, {report.effort.entries} entries, mode {report.mode.value}, "
          f"status {report.status.value}")


if __name__ == "__main__":
    main()
