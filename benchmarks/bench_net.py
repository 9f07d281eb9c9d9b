"""Benchmark: full gradient check of the built-in network, side by side.

For dims 10-5-10, 50-30-10, 784-100-10 and the deep 100-100-100-100-10 and
784-300-300-10 (sigmoid hidden layers, softmax + cross-entropy) at M = 20 samples in
float64, times

(a) ours, full: ``models.cost_and_grad`` + ``network_fd.numeric_gradient`` (every entry,
    4 stencil points each, with its noise estimate);
(b) the naive per-entry loop of the course scripts (CS224n ``gradcheck_naive``): for each
    entry ``x[i] += h; f(x); x[i] -= 2h; f(x)`` with a plain numpy forward pass (every
    layer), i.e. 2 forward passes per entry.  Only the cost is computed in those passes (the course's
    ``f`` also runs the backward pass), so this is a lower bound of the course scripts'
    time.  For large nets a random subset of entries is timed and the total extrapolated;
(c) ``torch.autograd.gradcheck`` on the same network in float64, ``fast_mode=False`` and
    ``fast_mode=True``, when torch is importable.  A full torch check makes 2 forward
    passes per entry (and far more in practice: 360 s for 100-100-100-100-10 on the
    2-core machine of issue 11); past ``--torch-max-params`` (default 20,000) it is not
    run and its time is shown as ``>`` a lower bound, 2 P times the median time of one
    forward pass of the same torch function;
(d) ours, fast mode: ``cost_and_grad`` + ``network_fd.fast_check`` (+ the full check of any
    block it flags; none for a correct network).

Prints seconds, the ratios naive/ours and torch/ours, and the peak memory of our full
check (tracemalloc).  Run: ``python benchmarks/bench_net.py [--naive-subset N] [--no-torch]``.
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gradcheck_cli import models, network_fd  # noqa: E402

SIZES = [(10, 5, 10), (50, 30, 10), (784, 100, 10), (100, 100, 100, 100, 10), (784, 300, 300, 10)]
SAMPLES = 20


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def ours_full(spec, data, labels, params):
    _, grad = models.cost_and_grad(spec, data, labels, params)
    numeric, noise, kink = network_fd.numeric_gradient(spec, data, labels, params)
    return grad, numeric, noise


def ours_fast(spec, data, labels, params):
    _, grad = models.cost_and_grad(spec, data, labels, params)
    res = network_fd.fast_check(spec, data, labels, params, grad)
    if res.full_blocks:
        network_fd.numeric_gradient(spec, data, labels, params, blocks=res.full_blocks)
    return res


def course_cost(data, labels, params, dims):
    """A course-script forward pass (sigmoid hidden layers, softmax, summed cross-entropy)."""
    ofs = 0
    a = data
    for l in range(1, len(dims)):
        din, dout = dims[l - 1], dims[l]
        W = params[ofs : ofs + din * dout].reshape(din, dout); ofs += din * dout
        b = params[ofs : ofs + dout].reshape(1, dout); ofs += dout
        z = a @ W + b
        a = 1.0 / (1.0 + np.exp(-z)) if l < len(dims) - 1 else z
    z = a - a.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -np.sum(labels * logp)


def naive(data, labels, params, dims, entries) -> float:
    """Seconds for the gradcheck_naive loop over ``entries``."""
    x = params.copy()
    h = 1e-4
    t = time.perf_counter()
    for ix in entries:
        x[ix] += h
        fxh = course_cost(data, labels, x, dims)
        x[ix] -= 2 * h
        fxnh = course_cost(data, labels, x, dims)
        x[ix] += h
        _ = (fxh - fxnh) / (2 * h)
    return time.perf_counter() - t


def torch_function(data, labels, dims):
    """The network's cost as a torch function of the flat parameters (float64)."""
    import torch

    X = torch.tensor(data, dtype=torch.float64)
    Y = torch.tensor(labels, dtype=torch.float64)

    def fn(p):
        ofs = 0
        a = X
        for l in range(1, len(dims)):
            din, dout = dims[l - 1], dims[l]
            W = p[ofs : ofs + din * dout].reshape(din, dout); ofs += din * dout
            b = p[ofs : ofs + dout]; ofs += dout
            z = a @ W + b
            a = torch.sigmoid(z) if l < len(dims) - 1 else z
        return -(Y * torch.log_softmax(a, dim=1)).sum()

    return fn


def torch_gradcheck(data, labels, params, dims, fast_mode: bool) -> tuple[float, bool]:
    import torch

    fn = torch_function(data, labels, dims)
    p = torch.tensor(params, dtype=torch.float64, requires_grad=True)
    t = time.perf_counter()
    ok = torch.autograd.gradcheck(fn, (p,), fast_mode=fast_mode, raise_exception=False)
    return time.perf_counter() - t, bool(ok)


def torch_full_estimate(data, labels, params, dims) -> float:
    """2 P forward passes of the torch function: a lower bound of a full gradcheck's time."""
    import torch

    fn = torch_function(data, labels, dims)
    p = torch.tensor(params, dtype=torch.float64)
    times = []
    with torch.no_grad():
        for _ in range(30):
            t = time.perf_counter()
            fn(p)
            times.append(time.perf_counter() - t)
    return float(np.median(times)) * 2 * params.size


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--naive-subset", type=int, default=3000, help="entries timed when a net has more")
    ap.add_argument("--repeat", type=int, default=5, help="best of N for our timings")
    ap.add_argument("--no-torch", action="store_true", help="skip torch even when installed")
    ap.add_argument("--torch-max-params", type=int, default=20_000,
                    help="run torch's full gradcheck only up to this many parameters (else estimate it)")
    ap.add_argument("--sizes", default=None,
                    help="networks to run, e.g. '784,300,300,10;100,100,100,100,10' (default: all)")
    args = ap.parse_args(argv)
    try:
        if args.no_torch:
            raise ImportError
        import torch

        torch_version = torch.__version__
    except ImportError:
        torch_version = None

    if torch_version:  # first call pays for torch's lazy initialisation: not part of any timing
        spec0 = models.NetworkSpec((3, 2, 2))
        torch_gradcheck(*models.make_problem(spec0, samples=2), (3, 2, 2), fast_mode=False)
    print(f"numpy {np.__version__}, torch {torch_version or 'not installed'}, M = {SAMPLES}, float64")
    rows = []
    sizes = SIZES if not args.sizes else [tuple(int(d) for d in x.split(",")) for x in args.sizes.split(";")]
    for dims in sizes:
        spec = models.NetworkSpec(dims)
        data, labels, params = models.make_problem(spec, samples=SAMPLES, seed=0)
        P = spec.param_count
        grad, numeric, noise = ours_full(spec, data, labels, params)
        assert np.all(np.abs(grad - numeric) <= noise), "our full check disagrees on a correct net"
        t_full = best_of(lambda: ours_full(spec, data, labels, params), args.repeat)
        t_fast = best_of(lambda: ours_fast(spec, data, labels, params), args.repeat)
        tracemalloc.start()
        network_fd.numeric_gradient(spec, data, labels, params)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()

        # the naive loop in batches of entries; the median batch rate resists load spikes
        rng = np.random.default_rng(1)
        entries = rng.permutation(P)[: min(P, args.naive_subset)]
        batches = np.array_split(entries, max(1, len(entries) // 500))
        rates = [naive(data, labels, params, dims, b) / len(b) for b in batches]
        t_naive = float(np.median(rates)) * P
        naive_note = (f"extrapolated from {len(entries)} of {P} entries" if len(entries) < P
                      else "all entries") + f" (median of {len(batches)} batches)"

        t_torch = t_torch_fast = None
        torch_ok = ""
        if torch_version:
            if P <= args.torch_max_params:
                t_torch, ok1 = torch_gradcheck(data, labels, params, dims, fast_mode=False)
            else:
                t_torch, ok1 = -torch_full_estimate(data, labels, params, dims), "not run (lower bound shown)"
            t_torch_fast, ok2 = torch_gradcheck(data, labels, params, dims, fast_mode=True)
            torch_ok = f"torch gradcheck passed: full={ok1}, fast={ok2}"
        rows.append((dims, P, t_full, t_naive, t_torch, t_torch_fast, t_fast, peak, naive_note, torch_ok))

    # a negative torch time is a lower bound (not run): shown with >
    fmt = lambda t: "      -" if t is None else (f">{-t:7.1f}" if t < 0 else f"{t:8.4f}")
    ratio = lambda a, b: "     -" if a is None else (f">{-a / b:5.0f}x" if a < 0 else f"{a / b:6.0f}x")
    print()
    print(f"{'dims':>18} {'P':>6} | {'ours full':>9} {'naive':>9} {'torch':>8} {'torch fast':>10} {'ours fast':>9} | "
          f"{'naive/ours':>10} {'torch/ours':>10} | {'peak MiB':>8}")
    for dims, P, t_full, t_naive, t_torch, t_tf, t_fast, peak, _, _ in rows:
        print(f"{'-'.join(map(str, dims)):>18} {P:>6} | {t_full:9.4f} {t_naive:9.3f} {fmt(t_torch):>8} "
              f"{fmt(t_tf):>10} {t_fast:9.4f} | {ratio(t_naive, t_full):>10} {ratio(t_torch, t_full):>10} | "
              f"{peak / 2**20:8.1f}")
    print()
    for dims, *_, naive_note, torch_ok in rows:
        print(f"{'-'.join(map(str, dims))}: naive {naive_note}" + (f"; {torch_ok}" if torch_ok else ""))
    print("seconds; ours = best of", args.repeat, "runs; naive = 2 cost-only forward passes per entry (h = 1e-4)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
