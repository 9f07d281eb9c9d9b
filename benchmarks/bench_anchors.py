"""Users' code checked in full (and default) mode, beside the anchors a user would reach for.

    python benchmarks/bench_anchors.py [--rows net,rosen,conv,batchnorm] [--repeat 3]
                                        [--net-dims 784 100 10] [--cpu]

Rows (each side on the same numpy code, ``subjects.py``):

- ``net``: ``net --impl subjects.py:forward_backward_prop --mode full`` against
  ``torch.autograd.gradcheck(fast_mode=False)`` on the same function wrapped in a
  ``torch.autograd.Function`` (forward: its cost; backward: its gradient);
- ``rosen``: ``func subjects.py:rosen --shape 10000 --mode full`` against
  ``scipy.optimize.check_grad`` (forward differences, n + 1 calls);
- ``conv``: ``layer subjects.py:conv_naive`` at x 8x3x32x32, w 16x3x3x3, b 16 in the
  default (adaptive) mode against ``torch.autograd.gradcheck(fast_mode=True)`` on the same
  forward/backward pair (torch does not localise a wrong entry; it bounds what a user waits);
- ``batchnorm``: ``layer subjects.py:batchnorm`` at x 64x100 (train mode) ``--mode full``
  against the CS231n loop ``eval_numerical_gradient_array`` over x, gamma and beta (2
  forward calls per entry) plus the one backward pass it compares with.

Each measurement runs in a fresh process (``--run ROW SIDE``), alternating ours and the
anchor ``--repeat`` times; the table shows the medians and their ratio.  Timed: the check
itself, through the library call the CLI makes (loading the problem and imports are not
timed on either side).  Calls: ``wrapper`` counts every call of the user's functions by a
wrapper around them (``subjects.counted``), ``effort`` is our own effort line (they must
agree).  ``--cpu`` times both sides in the process's CPU seconds instead of the wall clock
(on a loaded machine).  Both sides run with one BLAS thread (``OMP_NUM_THREADS=1`` and friends,
``torch.set_num_threads(1)``).

Latest, every row near idle after issue 20's conv work (load under 1; ``net`` ``--repeat 1``,
the rest ``--repeat 7``; the table in docs/benchmarks.md): ``net`` 44.0 s against torch full's
213.2 s (0.21x; 160,068 calls), ``rosen`` 1.10 s against 0.58 s (1.91x; 20,211 calls),
``batchnorm`` 1.14 s against 0.79 s (1.45x; 13,534 calls), ``conv`` 0.50 s against torch
fast's 0.56 s (0.89x; 37 calls; alone, ``--repeat 11``: 0.44 s against 0.50 s, 0.88x;
``--cpu``: 0.89x); every row ``pass``, wrapper calls equal to effort calls.  Under load 4 to 7
(CPU seconds, fresh processes, alternated, medians of 7): ``conv`` 37 calls, 0.423 s against
torch fast's 0.469 s (0.90x; the code before, 41 calls, 1.00x in the same run);
``--cpu`` 0.43 s against 0.52 s (0.83x).  Before it, every row
near idle (load under 1; ``net`` ``--repeat 1``, the rest ``--repeat 7``): ``net`` 43.9 s against torch full's 204.6 s (0.21x; 159,931
calls), ``rosen`` 1.06 s against 0.56 s (1.89x; 20,212 calls), ``batchnorm`` 1.01 s against
0.59 s (1.71x; 13,537 calls), ``conv`` 0.50 s against torch fast's 0.48 s (1.04x; 41 calls);
every row ``pass``, wrapper calls equal to effort calls.  Earlier figures follow.

Measured on the 2-core development machine, idle (``--repeat 3``, medians; issue 20):
``rosen`` full 1.18 s against scipy's 0.54 s (2.17x; 20,237 calls, 2.02 per entry, against
scipy's 10,002 forward differences: the calls alone are 2x, and a forward difference cannot
verify 1e-7), ``pass``; since the wrapper's common call and the full mode's loop were cut
to about 5 us of our own work a call (from 11; scipy's ``approx_derivative`` spends about
10 us), loaded (load average 7, every second 3-4 times its idle value): ``rosen`` 3.73 s
against 2.26 s (1.65x; 1.6-2.0x from run to run, the former code 2.1-3.0x in the same
runs), the same 20,237 calls; with the precise directions sharing their noise (conv's
work), 20,174 calls, 1.65x again (load 9, 7.70 s against 4.68 s); ``batchnorm`` full 1.08 s against the course loop's 0.60 s (1.80x;
13,618 calls against its 13,202), ``pass``.  ``conv`` default mode, with the precise
direction aiming at the least claim and moving its few smallest entries further (load
about 3, ``--repeat 5``, the former code alternated in the same run): 0.54 s, 41 calls,
``pass``, against torch's fast mode at 0.53 s and 12 calls (1.02x; per run 0.88-1.42x;
the former 59 calls: 0.70 s, 1.34x); load about 4: 0.89 s against 0.72 s (1.24x, per run
median 1.02x; the former 1.59x); with 43 calls (before the weights), two runs: 0.80x and
1.20x (the former code 1.11x and 1.48x).  Before (near idle, load 1,
``--repeat 5``): 0.72 s, 59 calls, ``pass``, against torch's fast mode at 0.50 s and 12 calls
(1.44x; it does not localise); minutes later, with the few small entries a precise
direction leaves sent to the per-entry ladder (no second direction), 151 calls, 1.68 s
against 0.48 s (3.5x); under a load of 4 to 8, with 57 calls, 1.20-1.34x; before x, w and b shared their directions (issue 20): 197 calls, 2.11 s idle against
torch's 0.46 s (4.6x).  Under heavy load
(same day): ``net --impl`` 784-100-10 full 162 s, 160,411 calls (2.02 per entry), ``pass``,
against torch's full gradcheck at 847 s and 159,022 calls.  Wrapper calls equal effort
calls on every row.  With a kink suspect settled by 2 calls where curvature explains its
gap (issue 20 item 2; load average 4, every time about twice its idle value, ``--repeat
3``, two runs): ``rosen`` 2.20 s against 1.16 s (1.89x) and 1.84x, 20,230 calls (20,441
before: 241 went to 15 suspects, now 30); ``batchnorm`` 2.46 s against 1.32 s (1.85x) and
1.72x, 13,561 calls (13,624 before); in CPU time, 5 alternated rounds: rosen 1.85x (the code
before: 1.85x), batchnorm 1.82x (1.79x): the calls cut are 1% and 0.5% of them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

ROWS = {
    "net": ("net --impl ... --mode full", "torch gradcheck full"),
    "rosen": ("func rosen --shape 10000 --mode full", "scipy check_grad"),
    "conv": ("layer conv_naive (default mode)", "torch gradcheck fast_mode"),
    "batchnorm": ("layer batchnorm 64x100 --mode full", "CS231n eval_numerical_gradient_array"),
}
CONV_INPUTS = ["x=8,3,32,32", "w=16,3,3,3", "b=16"]
CONV_PARAM = {"stride": 1, "pad": 1}
BN_INPUTS = ["x=64,100", "gamma=100", "beta=100"]
BN_PARAM = {"mode": "train"}
ONE_THREAD = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


# ------------------------------------------------------------------ ours (the library call of the CLI)


def ours(row: str, dims) -> dict:
    import subjects
    from gradcheck_cli.checks.func import check_gradient
    from gradcheck_cli.checks.layer import check_layer
    from gradcheck_cli.checks.net import check_network
    from gradcheck_cli.inputs import func_x, make_inputs

    # the problem is made before the clock starts, as on the anchors' side (drawing the
    # inputs imports numpy.random: about 10 ms that neither side's check spends)
    x = func_x("10000", None, 0)[0] if row == "rosen" else None
    inputs = make_inputs(CONV_INPUTS if row == "conv" else BN_INPUTS)
    t = clock()
    if row == "net":
        report = check_network(dims, impl=subjects.forward_backward_prop, mode="full")
    elif row == "rosen":
        report = check_gradient(subjects.rosen, x, mode="full")
    elif row == "conv":
        report = check_layer(subjects.conv_naive_forward, subjects.conv_naive_backward, inputs,
                             {"conv_param": CONV_PARAM})
    else:
        report = check_layer(subjects.batchnorm_forward, subjects.batchnorm_backward, inputs,
                             {"bn_param": BN_PARAM}, mode="full")
    seconds = clock() - t
    counts = {k: v for k, v in report.counts.items() if v and k != "checks"}
    return {"seconds": seconds, "wrapper": subjects.CALLS[0], "effort": report.effort.calls,
            "status": report.status.value, "counts": counts}


# ------------------------------------------------------------------ anchors


def _torch_layer(forward, backward, params):
    """A numpy forward/backward pair as a ``torch.autograd.Function`` (float64)."""
    import torch

    class Layer(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *inputs):
            out, cache = forward(*(i.detach().numpy().copy() for i in inputs), **params)
            ctx.cache = cache
            return torch.from_numpy(np.asarray(out, dtype=np.float64))

        @staticmethod
        def backward(ctx, dout):
            grads = backward(dout.detach().numpy().copy(), ctx.cache)
            grads = grads if isinstance(grads, tuple) else (grads,)
            return tuple(torch.from_numpy(np.asarray(g, dtype=np.float64)) for g in grads)

    return Layer.apply


def eval_numerical_gradient_array(f, x, df, h=1e-5):
    """The CS231n course loop: the numeric gradient of sum(f(x) * df), 2 calls per entry."""
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        oldval = x[ix]
        x[ix] = oldval + h
        pos = f(x).copy()
        x[ix] = oldval - h
        neg = f(x).copy()
        x[ix] = oldval
        grad[ix] = np.sum((pos - neg) * df) / (2 * h)
        it.iternext()
    return grad


def anchor(row: str, dims) -> dict:
    import subjects
    from gradcheck_cli.network import model as models
    from gradcheck_cli.inputs import func_x, make_inputs

    status = "pass"
    if row in ("net", "conv"):
        import torch

        torch.set_num_threads(1)
    if row == "net":
        spec = models.NetworkSpec(tuple(dims))
        data, labels, params = models.make_problem(spec, 20, 0)
        import torch

        class Net(torch.autograd.Function):
            @staticmethod
            def forward(ctx, p):
                cost, grad = subjects.forward_backward_prop(data, labels, p.detach().numpy().copy(), list(dims))
                ctx.grad = torch.from_numpy(np.asarray(grad, dtype=np.float64))
                return torch.tensor(float(cost), dtype=torch.float64)

            @staticmethod
            def backward(ctx, g):
                return g * ctx.grad

        p = torch.tensor(params, dtype=torch.float64, requires_grad=True)
        t = clock()
        ok = torch.autograd.gradcheck(Net.apply, (p,), fast_mode=False, raise_exception=False)
        seconds = clock() - t
        status = "pass" if ok else "fail"
    elif row == "rosen":
        from scipy.optimize import check_grad

        x, _ = func_x("10000", None, 0)
        t = clock()
        err = check_grad(lambda z: subjects.rosen(z)[0], lambda z: subjects.rosen(z)[1], x)
        seconds = clock() - t
        status = f"|g - fd| = {err:.1e}"
    elif row == "conv":
        import torch

        fn = _torch_layer(subjects.conv_naive_forward, subjects.conv_naive_backward, {"conv_param": CONV_PARAM})
        inputs = tuple(torch.tensor(i.value, dtype=torch.float64, requires_grad=True) for i in make_inputs(CONV_INPUTS))
        t = clock()
        ok = torch.autograd.gradcheck(fn, inputs, fast_mode=True, raise_exception=False)
        seconds = clock() - t
        status = "pass" if ok else "fail"
    else:
        x, gamma, beta = (i.value.copy() for i in make_inputs(BN_INPUTS))
        t = clock()
        out, cache = subjects.batchnorm_forward(x, gamma, beta, dict(BN_PARAM))
        dout = np.random.default_rng(0).standard_normal(out.shape)
        dx, dgamma, dbeta = subjects.batchnorm_backward(dout, cache)
        fx = lambda z: subjects.batchnorm_forward(z, gamma, beta, dict(BN_PARAM))[0]  # noqa: E731
        fg = lambda z: subjects.batchnorm_forward(x, z, beta, dict(BN_PARAM))[0]  # noqa: E731
        fb = lambda z: subjects.batchnorm_forward(x, gamma, z, dict(BN_PARAM))[0]  # noqa: E731
        errs = [np.max(np.abs(a - n) / np.maximum(1e-8, np.abs(a) + np.abs(n)))
                for a, n in ((dx, eval_numerical_gradient_array(fx, x, dout)),
                             (dgamma, eval_numerical_gradient_array(fg, gamma, dout)),
                             (dbeta, eval_numerical_gradient_array(fb, beta, dout)))]
        seconds = clock() - t
        status = f"max rel error {max(errs):.1e}"
    return {"seconds": seconds, "wrapper": subjects.CALLS[0], "effort": None, "status": status}


# ------------------------------------------------------------------ the table


#: the clock of both sides: wall time, or with ``--cpu`` the process's CPU time (a loaded
#: machine slows the wall clock of both sides 2 to 4 times, and unevenly; CPU time far less)
clock = time.perf_counter


def measure(row: str, side: str, dims, cpu: bool = False) -> dict:
    env = {**os.environ, **ONE_THREAD}
    cmd = [sys.executable, __file__, "--run", row, side, "--net-dims", *map(str, dims)] + (["--cpu"] if cpu else [])
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    try:
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        raise SystemExit(f"{row} {side} failed:\n{out.stdout}\n{out.stderr}") from None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default="rosen,conv,batchnorm,net")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--net-dims", type=int, nargs="+", default=[784, 100, 10])
    ap.add_argument("--run", nargs=2, metavar=("ROW", "SIDE"), help=argparse.SUPPRESS)
    ap.add_argument("--cpu", action="store_true", help="time both sides in CPU seconds (a loaded machine)")
    args = ap.parse_args()
    dims = tuple(args.net_dims)
    if args.cpu:
        global clock
        clock = time.process_time
    if args.run:
        row, side = args.run
        print(json.dumps((ours if side == "ours" else anchor)(row, dims)))
        return
    print(f"{'row':10s} {'ours s':>8s} {'anchor s':>9s} {'ratio':>6s}  {'calls: wrapper / effort':>24s} "
          f"{'anchor calls':>12s}  ours' verdict; anchor")
    for row in args.rows.split(","):
        mine, theirs = [], []
        for _ in range(args.repeat):
            mine.append(measure(row, "ours", dims, args.cpu))
            theirs.append(measure(row, "anchor", dims, args.cpu))
        ours_s = statistics.median(m["seconds"] for m in mine)
        anchor_s = statistics.median(m["seconds"] for m in theirs)
        m, a = mine[-1], theirs[-1]
        name = row if row != "net" else f"net {'-'.join(map(str, dims))}"
        print(f"{name:10s} {ours_s:8.2f} {anchor_s:9.2f} {ours_s / anchor_s:6.2f}  "
              f"{m['wrapper']:>11d} / {m['effort']:<11d} {a['wrapper']:>12d}  "
              f"{m['status']} {m['counts']}; {a['status']}   [{ROWS[row][0]} vs {ROWS[row][1]}]", flush=True)


if __name__ == "__main__":
    main()
