"""Cold start-up of the CLI, as ratios to the anchors measured in the same run.

    python benchmarks/bench_cli.py [--repeat 7]

- ``gradcheck expr "sin(x)-cos(x)"`` against ``python -c "import numpy, sympy"``
  (the floor any sympy-based checker pays; target ratio <= 1.3);
- the same against ``import numpy, sympy`` plus sympy's first use (one ``x + 1``): sympy
  imports ``sympy.tensor`` and ``sympy.combinatorics`` lazily on the first ``Add``
  (about 0.1 s), a fixed cost that any program building an expression pays and that the
  bare import does not show;
- ``gradcheck --help`` against ``python -c pass``.

Each command runs ``--repeat`` times in a fresh process, alternating with its anchor;
the median wall times are used.
Bytecode caching is on for the runs (``PYTHONDONTWRITEBYTECODE`` is removed) and each
command runs once before timing, as after ``pip install``, which compiles the package.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time


def gradcheck_cmd() -> list[str]:
    script = os.path.join(os.path.dirname(sys.executable), "gradcheck")
    if os.path.exists(script):
        return [script]
    found = shutil.which("gradcheck")
    return [found] if found else [sys.executable, "-m", "gradcheck_cli"]


ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _once(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, env=ENV)
    return time.perf_counter() - t


def paired(cmd: list[str], anchor: list[str], repeat: int) -> tuple[float, float]:
    """Median wall times of ``cmd`` and ``anchor``, run alternately (after one warm run
    each) so that a change in the machine's load hits both alike."""
    _once(cmd), _once(anchor)
    ours, theirs = [], []
    for _ in range(repeat):
        ours.append(_once(cmd))
        theirs.append(_once(anchor))
    return statistics.median(ours), statistics.median(theirs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    gc = gradcheck_cmd()
    pairs = [
        ("gradcheck expr \"sin(x)-cos(x)\"", gc + ["expr", "sin(x)-cos(x)"],
         "python -c \"import numpy, sympy\"", [sys.executable, "-c", "import numpy, sympy"], 1.3),
        ("gradcheck expr \"sin(x)-cos(x)\"", gc + ["expr", "sin(x)-cos(x)"],
         "... import numpy, sympy; x + 1", [sys.executable, "-c", "import numpy, sympy; sympy.Symbol('x') + 1"], None),
        ("gradcheck --help", gc + ["--help"], "python -c pass", [sys.executable, "-c", "pass"], None),
    ]
    print(f"{'command':36s} {'median s':>9s}   {'anchor':34s} {'median s':>9s} {'ratio':>7s}  target")
    for name, cmd, aname, acmd, target in pairs:
        ours, anchor = paired(cmd, acmd, args.repeat)
        ratio = ours / anchor
        verdict = "" if target is None else (f"<= {target} ok" if ratio <= target else f"<= {target} MISSED")
        print(f"{name:36s} {ours:9.3f}   {aname:34s} {anchor:9.3f} {ratio:7.2f}  {verdict}")


if __name__ == "__main__":
    main()
