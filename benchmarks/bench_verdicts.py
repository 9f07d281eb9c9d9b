"""Before and after, in one run: the audit of users' code (``audit_usercode.py``) under
another source tree (``--baseline DIR``, e.g. an export of main before issue 16) and under
this one, each in its own process; per case the status, the seconds and the calls of the
user's code, side by side, and the tallies.

Run:  python benchmarks/bench_verdicts.py --baseline DIR [--only SUBSTRING] [--module NAME] [--kind KIND]
      [--mode full] [--quick]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def audit(tree: Path, extra: list[str]) -> dict:
    """``audit_usercode.py --json`` under the source tree ``tree``: ``{"figures", "cases"}``."""
    env = dict(os.environ, PYTHONPATH=str(tree), OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    out = subprocess.run([sys.executable, str(HERE / "audit_usercode.py"), "--json", *extra], env=env,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.splitlines()[-1])


def main(argv: list[str]) -> int:
    base = Path(argv[argv.index("--baseline") + 1])
    extra = [a for a in argv if a in ("--quick",)]
    for name in ("--only", "--module", "--kind", "--mode"):
        if name in argv:
            extra += [name, argv[argv.index(name) + 1]]
    before, after = audit(base, extra), audit(HERE.parent, extra)
    print(f"{'case':46s} {'before':>24s}   {'after':>24s}   ratio")
    fmt = lambda r: f"{r['status']:10s} {r['seconds']:6.2f}s {str(r.get('calls') or ''):>6s}"  # noqa: E731
    old = {(r["kind"], r["name"]): r for r in before["cases"]}
    for a in after["cases"]:
        b = old.get((a["kind"], a["name"]))
        if b is None:
            continue  # a case the baseline's corpus does not have
        ratio = a["seconds"] / b["seconds"] if b["seconds"] > 0 else float("nan")
        print(f"{a['kind'][:5]:5s} {'ok ' if a['correct'] else 'BUG'} {a['name'][:36]:36s} {fmt(b)}   {fmt(a)}"
              f"   {ratio:4.1f}x")
    for label, run in (("before", before), ("after", after)):
        for kind, s in run["figures"].items():
            if not s.get("correct") and not s.get("wrong"):
                continue
            frac = s.get("unresolved", 0) / max(s.get("entries", 0), 1)
            print(f"{label:6s} {kind:11s} clean pass {s.get('clean', 0)}/{s.get('correct', 0)}, strict fails "
                  f"{s.get('strict fails', 0)}, unresolved-on-correct {frac:.2%}, false fails "
                  f"{s.get('false fails', 0)}, wrong passes {s.get('wrong passes', 0)}/{s.get('wrong', 0)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
