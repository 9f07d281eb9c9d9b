"""Benchmark: what calling users' code through ``usercode.UserFunction`` costs, side by side.

    python benchmarks/bench_usercode.py [--rounds 9] [--calls 300] [--rows 1,2,3,4]

Rows, each beside its anchor measured in the same run (blocks alternated, medians):

1. **per-call overhead**: a plain loop (the course's ``gradcheck_naive``: perturb one
   entry, call ``f(x)``, restore it) against the same loop through the wrapper in a
   session (``UserFunction.cost_and_grad``: random states, inputs checked, guard,
   validation), for a compute-bound function of about 100 us (a small net's matrix
   products on 841 parameters), Rosenbrock at n = 10,000 (``bench_anchors``' rosen row,
   about 45 us), memory-bound ones of about 100 us and 1 ms (``x - b`` and a dot product
   over a large x: the input is most of the work), and mynet's
   ``forward_backward_prop`` on 20 rows at 784-100-10 (params 636 KB) and 784-1000-10
   (params 6.4 MB).  Beside ours, the
   wrapper with every input copied and compared at every call (the rule before large
   inputs were passed read-only).  Target: overhead <= 20% of the call.
2. **whole checks**: ``net --impl`` 784-100-10 adaptive (``check_network(impl=mynet...)``)
   for the correct network and the one with one wrong entry, and ``func`` on ``quad`` at
   n = 10^6 (adaptive): seconds and calls, ours beside the copy-every-input rule.
3. **calls counted**: ``check_gradient`` in full and adaptive mode on a function with two
   wrong entries; the effort line's ``calls`` against a counter inside the function.
4. **glibc malloc thresholds** (``state.keep_freed_memory``): a function that makes
   large temporaries, timed in two child processes, with and without the raised
   thresholds, alternated.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # mynet.py

from gradcheck_cli.usercode import UserFunction, load_seeded  # noqa: E402


def rosen(x: np.ndarray):
    """Rosenbrock's function and its gradient (a typical vectorised numpy function)."""
    a, b = x[:-1], x[1:]
    cost = float(np.sum(100.0 * (b - a**2) ** 2 + (1 - a) ** 2))
    g = np.zeros_like(x)
    g[:-1] = -400 * a * (b - a**2) - 2 * (1 - a)
    g[1:] += 200 * (b - a**2)
    return cost, g


_RNG = np.random.default_rng(1)
_X = _RNG.standard_normal((400, 40))
_B: dict[int, np.ndarray] = {}


def small_net(p: np.ndarray):
    """A 40-20-1 tanh network's squared loss on 400 rows and its gradient (compute-bound:
    841 parameters, matrix products)."""
    W1, b1, w2 = p[:800].reshape(40, 20), p[800:820], p[820:840]
    h = np.tanh(_X @ W1 + b1)
    r = h @ w2 + p[840] - 1.0
    dh = np.outer(r, w2) * (1 - h**2)
    g = np.concatenate([(_X.T @ dh).ravel(), dh.sum(0), h.T @ r, [r.sum()]])
    return float(0.5 * r @ r), g


def quad(x: np.ndarray):
    """``0.5 |x - b|^2`` and its gradient ``x - b`` (memory-bound: one subtraction and one dot
    product over x, nothing else)."""
    b = _B.get(x.size)
    if b is None:
        b = _B[x.size] = np.linspace(-1.0, 1.0, x.size)
    r = x - b
    return 0.5 * float(r @ r), r


def plain_loop(f, x: np.ndarray, calls: int, pre: tuple = (), post: tuple = ()) -> float:
    """Seconds per call of the course loop: x[k] += h; f(*pre, x, *post); x[k] restored (with
    one BLAS thread, as inside a check, so that only the wrapper differs)."""
    from gradcheck_cli.usercode.threads import one_blas_thread

    n = x.size
    with one_blas_thread():
        t = time.perf_counter()
        for k in range(calls):
            i = k % n
            old = x[i]
            x[i] = old + 1e-5
            f(*pre, x, *post)
            x[i] = old
        return (time.perf_counter() - t) / calls


def wrapped_loop(fu: UserFunction, x: np.ndarray, calls: int, pre: tuple = (), post: tuple = ()) -> float:
    """The same loop through the wrapper, in one session, as a check makes its calls."""
    n = x.size
    with fu.session():
        t = time.perf_counter()
        for k in range(calls):
            i = k % n
            old = x[i]
            x[i] = old + 1e-5
            fu.cost_and_grad(*pre, x, *post, grad_shape=x.shape, copy=False)
            x[i] = old
        return (time.perf_counter() - t) / calls


def calibrate(f, target_us: float) -> int:
    """The size n at which ``f`` takes about ``target_us`` per call."""
    n = 1000
    for _ in range(6):
        x = np.random.default_rng(0).standard_normal(n)
        per = min(plain_loop(f, x, max(5, int(2000 / max(1, n // 1000)))) for _ in range(3))
        n = max(10, int(n * target_us * 1e-6 / per))
    return n


@contextlib.contextmanager
def every_input_copied():
    """The wrapper as it was: every array argument copied before each call and compared after."""
    from gradcheck_cli.usercode import function

    saved = function._SMALL
    function._SMALL = 1 << 62
    try:
        yield
    finally:
        function._SMALL = saved


def overhead_row(rounds: int, calls: int, target_us: float) -> None:
    import mynet
    from gradcheck_cli.network import model

    n100, n1000 = calibrate(quad, target_us), calibrate(quad, 10 * target_us)
    here = Path(__file__).resolve()
    rng = np.random.default_rng(0)
    dims, wide = (784, 100, 10), (784, 1000, 10)
    data, labels, params = model.make_problem(model.NetworkSpec(dims), samples=20, seed=0)
    wdata, wlabels, wparams = model.make_problem(model.NetworkSpec(wide), samples=20, seed=0)
    cases = [("compute-bound, a 40-20-1 net on 400 rows, 841 parameters", f"{here}:small_net",
              rng.standard_normal(841) * 0.3, (), (), calls),
             ("rosen at n = 10,000 (the full mode's anchor row; about 45 us a call)", f"{here}:rosen",
              rng.standard_normal(10000), (), (), calls),
             (f"memory-bound, quad at n = {n100} ({n100 * 8 / 1e6:.1f} MB)", f"{here}:quad",
              rng.standard_normal(n100), (), (), calls),
             (f"memory-bound, quad at n = {n1000} ({n1000 * 8 / 1e6:.1f} MB)", f"{here}:quad",
              rng.standard_normal(n1000), (), (), max(20, calls // 10)),
             ("mynet 784-100-10 forward_backward_prop, 20 rows (params 0.64 MB, data 0.13 MB)",
              f"{Path(mynet.__file__).resolve()}:forward_backward_prop", params.copy(), (data, labels),
              (list(dims),), calls),
             ("mynet 784-1000-10 forward_backward_prop, 20 rows (params 6.4 MB)",
              f"{Path(mynet.__file__).resolve()}:forward_backward_prop", wparams.copy(), (wdata, wlabels),
              (list(wide),), max(20, calls // 10))]
    for label, spec, x, pre, post, k in cases:
        # loaded from a file as the CLI loads users' code (their folder put in place around each call)
        (fu,) = load_seeded([(spec, "function")], 0)
        f = fu.fn
        fu.cost_and_grad(*pre, x, *post, grad_shape=x.shape)  # the first (doubled) call, outside the timing
        plain_loop(f, x, k, pre, post), wrapped_loop(fu, x, k, pre, post)  # warm-up
        plain, ours, copied = [], [], []
        for _ in range(rounds):
            plain.append(plain_loop(f, x, k, pre, post))
            ours.append(wrapped_loop(fu, x, k, pre, post))
            with every_input_copied():
                copied.append(wrapped_loop(fu, x, k, pre, post))
        # the median of the rounds' ratios, and the ratio of the best rounds (the least
        # disturbed by other processes on a loaded machine)
        p = statistics.median(plain)
        o = statistics.median([a / b for a, b in zip(ours, plain)])
        c = statistics.median([a / b for a, b in zip(copied, plain)])
        ob, cb = min(ours) / min(plain), min(copied) / min(plain)
        print(f"1. per-call overhead, {label}: plain loop {p * 1e6:.1f} us/call; through UserFunction "
              f"+{(o - 1) * p * 1e6:.1f} us ({(o - 1) * 100:.0f}%; best rounds {(ob - 1) * 100:.0f}%); "
              f"every input copied (before) +{(c - 1) * p * 1e6:.1f} us ({(c - 1) * 100:.0f}%; best rounds "
              f"{(cb - 1) * 100:.0f}%)  [median ratios of {rounds} alternated rounds of {k} calls; target <= 20%]",
              flush=True)


def net_impl_row(rounds: int) -> None:
    import mynet
    from gradcheck_cli.checks.net import check_network

    for variant in ("forward_backward_prop", "one_wrong"):
        counter = [0]

        def impl(*args, _f=getattr(mynet, variant)):
            counter[0] += 1
            return _f(*args)

        impl.__name__ = variant
        ours, copied = [], []
        for _ in range(max(1, rounds // 3)):
            for rule, times in ((contextlib.nullcontext, ours), (every_input_copied, copied)):
                counter[0] = 0
                with rule():
                    t = time.perf_counter()
                    report = check_network((784, 100, 10), impl=impl)
                    times.append(time.perf_counter() - t)
        print(f"2. net --impl 784-100-10 {variant}, adaptive: {statistics.median(ours):.2f} s "
              f"(every input copied: {statistics.median(copied):.2f} s), {report.effort.calls} calls "
              f"(counter inside: {counter[0]}), status {report.status.value}", flush=True)


def func_row(rounds: int) -> None:
    from gradcheck_cli.checks.func import check_gradient

    x = np.random.default_rng(0).standard_normal(1_000_000)
    ours, copied = [], []
    for _ in range(max(1, rounds // 3)):
        for rule, times in ((contextlib.nullcontext, ours), (every_input_copied, copied)):
            with rule():
                t = time.perf_counter()
                report = check_gradient(quad, x)
                times.append(time.perf_counter() - t)
    print(f"2. func quad at n = 1,000,000 (8 MB), adaptive: {statistics.median(ours):.2f} s (every input copied: "
          f"{statistics.median(copied):.2f} s), {report.effort.calls} calls, status {report.status.value}",
          flush=True)


def counts_row() -> None:
    from gradcheck_cli.checks.func import check_gradient

    for mode in ("adaptive", "full"):
        counter = [0]

        def f(x):
            counter[0] += 1
            g = 2 * x
            g.flat[3] *= 1.5
            g.flat[7] += 1e-6
            return float(np.sum(x**2)), g

        t = time.perf_counter()
        report = check_gradient(f, np.random.default_rng(0).standard_normal((40, 25)), mode=mode)
        seconds = time.perf_counter() - t
        print(f"3. calls counted, func {mode} on 1000 entries with 2 wrong: effort line {report.effort.calls} calls, "
              f"counter inside the function {counter[0]} calls ({report.status.value}, {seconds:.2f} s)")


CHILD = """
import sys, time, statistics
import numpy as np
sys.path.insert(0, {root!r})
if {tuned}:
    from gradcheck_cli.usercode.state import keep_freed_memory
    assert keep_freed_memory()
rng = np.random.default_rng(0)
W1, W2 = rng.standard_normal((784, 100)), rng.standard_normal((100, 10))
X = rng.standard_normal((500, 784))
def forward_backward(X):
    h = np.tanh(X @ W1)          # 400 KB temporaries: above glibc's default mmap threshold
    z = h @ W2
    dh = (z @ W2.T) * (1 - h ** 2)
    return float(np.sum(z ** 2)), X.T @ dh
times = []
for _ in range(7):
    t = time.perf_counter()
    for _ in range(40):
        forward_backward(X)
    times.append((time.perf_counter() - t) / 40)
print(statistics.median(times))
"""


def malloc_row(rounds: int) -> None:
    if not sys.platform.startswith("linux"):
        print("4. malloc thresholds: not Linux, not measured")
        return
    root = str(Path(__file__).resolve().parents[1])
    env = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}

    def child(tuned: bool) -> float:
        out = subprocess.run([sys.executable, "-c", CHILD.format(root=root, tuned=tuned)], capture_output=True,
                             text=True, check=True, env=env).stdout
        return float(out.strip())

    default, tuned = [], []
    for _ in range(max(3, rounds // 3)):
        default.append(child(False))
        tuned.append(child(True))
    d, t = statistics.median(default), statistics.median(tuned)
    print(f"4. malloc thresholds, 784-100 forward/backward on 500 rows: glibc defaults {d * 1e3:.2f} ms/call, "
          f"raised {t * 1e3:.2f} ms/call ({d / t:.2f}x)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--target-us", type=float, default=100.0)
    ap.add_argument("--rows", default="1,2,3,4", help="which rows, e.g. 1 (the per-call overhead only)")
    args = ap.parse_args(argv)
    rows = set(args.rows.split(","))
    print(f"numpy {np.__version__}, python {sys.version.split()[0]}")
    if "1" in rows:
        overhead_row(args.rounds, args.calls, args.target_us)
    if "2" in rows:
        net_impl_row(args.rounds)
        func_row(args.rounds)
    if "3" in rows:
        counts_row()
    if "4" in rows:
        malloc_row(args.rounds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
