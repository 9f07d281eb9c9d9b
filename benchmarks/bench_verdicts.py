"""Before and after, in one run: the audit of users' code (``audit_usercode.py``) under
another source tree (``--baseline DIR``, e.g. an export of main before issue 16) and under
this one, each in its own process; per case the status, the seconds and the calls of the
user's code, side by side, and the tallies.

Run:  python benchmarks/bench_verdicts.py --baseline DIR [--only SUBSTRING] [--quick]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def audit(tree: Path, extra: list[str]) -> list:
    env = dict(os.environ, PYTHONPATH=str(tree), OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    out = subprocess.run([sys.executable, str(HERE / "audit_usercode.py"), "--json", *extra], env=env,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.splitlines()[-1])


def main(argv: list[str]) -> int:
    base = Path(argv[argv.index("--baseline") + 1])
    extra = [a for a in argv if a in ("--quick",)]
    if "--only" in argv:
        extra += ["--only", argv[argv.index("--only") + 1]]
    before, after = audit(base, extra), audit(HERE.parent, extra)
    print(f"{'case':46s} {'before':>24s}   {'after':>24s}   ratio")
    for b, a in zip(before, after):
        kind, name, correct = a[0], a[1], a[2]
        fmt = lambda r: f"{r[3]:10s} {r[5]:6.2f}s {str(r[4].get('calls', '')):>6s}"  # noqa: E731
        ratio = a[5] / b[5] if b[5] > 0 else float("nan")
        print(f"{kind[:5]:5s} {'ok ' if correct else 'BUG'} {name[:36]:36s} {fmt(b)}   {fmt(a)}   {ratio:4.1f}x")
    sys.path.insert(0, str(HERE))
    from audit_usercode import summarise

    for label, rows in (("before", before), ("after", after)):
        for kind, s in summarise([tuple(r) for r in rows]).items():
            frac = s["unresolved on correct"] / max(s["correct entries"], 1)
            print(f"{label:6s} {kind:11s} unresolved-on-correct {frac:.1%}, not clean pass {s['not clean pass']}"
                  f"/{s['correct cases']}, strict fails {s['strict fails']}, false fails {s['false fails']}, "
                  f"wrong passes {s['wrong passes']}/{s['wrong cases']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
