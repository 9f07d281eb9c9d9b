"""Benchmark: full gradient check of the built-in network, side by side.

For dims 10-5-10, 50-30-10, 784-100-10 and the deep 100-100-100-100-10 and
784-300-300-10 (sigmoid hidden layers, softmax + cross-entropy) at M = 20 samples in
float64, times

(a) ours, full: ``model.cost_and_grad`` + ``differences.numeric_gradient`` (every entry,
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
(d) ours, fast mode: ``cost_and_grad`` + ``directions.fast_check`` (+ the full check of any
    block it flags; none for a correct network).

Prints seconds, the ratios naive/ours and torch/ours, and the peak memory of our full
check (tracemalloc).  Run: ``python benchmarks/bench_net.py [--naive-subset N] [--no-torch]``.

``--impl`` runs only the localisation rows of issue 11 instead (``impl_section``): the
user's own numpy ``forward_backward_prop`` (``benchmarks/mynet.py``: correct, one wrong entry,
five wrong entries, a block-wide bug) at 784-100-10, checked by our adaptive mode
(``fast_mode``) and by ``torch.autograd.gradcheck`` full and fast mode on the same function
(wrapped in a ``torch.autograd.Function``), with calls and seconds; the detection rate of
the single wrong entry over ``--seeds`` seeds; and both full modes at 100-50-10.
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # mynet.py

from gradcheck_cli.network import differences, directions, model  # noqa: E402

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
    _, grad = model.cost_and_grad(spec, data, labels, params)
    numeric, noise, kink = differences.numeric_gradient(spec, data, labels, params)
    return grad, numeric, noise


def ours_fast(spec, data, labels, params):
    _, grad = model.cost_and_grad(spec, data, labels, params)
    res = directions.fast_check(spec, data, labels, params, grad)
    if res.full_blocks:
        differences.numeric_gradient(spec, data, labels, params, blocks=res.full_blocks)
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


# ----------------------------------------------------------------- --impl: localisation (issue 11)
IMPL_DIMS = (784, 100, 10)
IMPL_CASES = ("forward_backward_prop", "one_wrong", "five_wrong", "block_bug")


def _user_problem(dims, variant: str, seed: int):
    """mynet's ``variant`` as the CLI calls it: a UserFunction, its cost, params, claimed grad."""
    import mynet
    from gradcheck_cli.usercode import UserFunction

    spec = model.NetworkSpec(dims)
    data, labels, params = model.make_problem(spec, samples=SAMPLES, seed=seed)
    user = UserFunction(getattr(mynet, variant), variant)
    c0, g = user.cost_and_grad(data, labels, params, list(dims), grad_shape=params.shape)
    cost = lambda p: user.cost_and_grad(data, labels, p, list(dims), grad_shape=params.shape, copy=False)[0]  # noqa: E731
    return spec, data, labels, params, user, cost, c0, g


def ours_impl(dims, variant: str, seed: int = 0, mode: str = "adaptive"):
    """``net --impl`` core: (seconds, calls, flat indices failing, whether they are exactly the planted ones)."""
    import mynet
    from gradcheck_cli.blackbox import search as fast_mode
    from gradcheck_cli.verdict import Thresholds

    spec, data, labels, params, user, cost, c0, g = _user_problem(dims, variant, seed)
    t = time.perf_counter()
    with user.session():
        if mode == "full":
            res = fast_mode.check_every_entry(cost, params, g, spec.blocks, f0=c0)
        else:
            res = fast_mode.check_adaptive(cost, params, g, spec.blocks, f0=c0, seed=seed)
    seconds = time.perf_counter() - t
    wrong = res.wrong(Thresholds())
    flat = sorted(int(b.offset + i) for b in res.blocks for i in wrong[b.name])
    planted = mynet.wrong_entries(variant, dims)
    exact = (flat == planted) if planted is not None else (
        {b.name for b in res.blocks if len(wrong[b.name])} == {"W1", "b1"})
    return seconds, res.calls + 1, flat, exact


class _TorchSlowRerun(Exception):
    """torch's fast mode failed and started its slow re-run (to word its error message)."""


def _torch_numpy_function(dims, variant: str, seed: int, limit: int | None = None):
    """mynet's ``variant`` wrapped in a torch.autograd.Function (forward: its cost, backward: its grad),
    with a call counter (raising ``_TorchSlowRerun`` past ``limit`` calls); and the parameter tensor."""
    import torch

    import mynet

    spec = model.NetworkSpec(dims)
    data, labels, params = model.make_problem(spec, samples=SAMPLES, seed=seed)
    fn = getattr(mynet, variant)
    calls = [0]

    class NumpyNet(torch.autograd.Function):
        @staticmethod
        def forward(ctx, p):
            calls[0] += 1
            if limit is not None and calls[0] > limit:
                raise _TorchSlowRerun
            cost, grad = fn(data, labels, p.detach().numpy(), list(dims))
            ctx.save_for_backward(torch.from_numpy(np.array(grad, dtype=float)))
            return torch.tensor(float(cost), dtype=torch.float64)

        @staticmethod
        def backward(ctx, grad_output):
            (grad,) = ctx.saved_tensors
            return grad_output * grad

    p = torch.tensor(params, dtype=torch.float64, requires_grad=True)
    return NumpyNet.apply, p, calls


def torch_impl(dims, variant: str, seed: int, fast_mode: bool):
    """torch.autograd.gradcheck on the same numpy function: (seconds, calls, detected).

    When its fast mode fails, torch re-runs the full check only to word its message
    (2P more calls): that re-run is stopped at its first calls and counted as a detection.
    """
    import torch

    fn, p, calls = _torch_numpy_function(dims, variant, seed, limit=FAST_LIMIT if fast_mode else None)
    torch.manual_seed(seed)
    t = time.perf_counter()
    try:
        ok = torch.autograd.gradcheck(fn, (p,), fast_mode=fast_mode, raise_exception=False)
    except _TorchSlowRerun:
        return time.perf_counter() - t, calls[0] - 1, True
    return time.perf_counter() - t, calls[0], not ok


#: torch's fast mode makes a handful of calls; more means its slow re-run after a failure
FAST_LIMIT = 50


def torch_call_seconds(dims, variant: str = "forward_backward_prop", n: int = 30) -> float:
    """Seconds per call of the wrapped function's forward (to extrapolate torch's full mode)."""
    fn, p, _ = _torch_numpy_function(dims, variant, 0)
    x = p.detach()
    fn(x)
    t = time.perf_counter()
    for _ in range(n):
        fn(x)
    return (time.perf_counter() - t) / n


def impl_section(seeds: int, with_torch: bool) -> None:
    """The --impl rows: localisation at 784-100-10 (ours adaptive vs torch full and fast), the
    detection rate of one wrong entry over ``seeds`` seeds, and full modes at 100-50-10."""
    P = model.param_count(IMPL_DIMS)
    print(f"\n--impl localisation, {'-'.join(map(str, IMPL_DIMS))} ({P} parameters), M = {SAMPLES}, "
          "benchmarks/mynet.py (a CS224n forward_backward_prop, numpy)")
    per_call = torch_call_seconds(IMPL_DIMS) if with_torch else None
    print(f"{'case':>22} | {'ours s':>7} {'calls':>6} {'exact':>5} | {'torch full s':>12} {'calls':>7} | "
          f"{'torch fast s':>12} {'calls':>5} {'caught':>6}")
    for variant in IMPL_CASES:
        s_ours, c_ours, _, exact = ours_impl(IMPL_DIMS, variant)
        row = f"{variant:>22} | {s_ours:7.2f} {c_ours:6d} {str(exact):>5} | "
        if with_torch:
            t_fast, c_fast, caught = torch_impl(IMPL_DIMS, variant, 0, fast_mode=True)
            full_calls = 2 * P + 1
            row += f"{'~' + format(full_calls * per_call, '.0f'):>12} {full_calls:7d} | {t_fast:12.3f} {c_fast:5d} {str(caught):>6}"
        print(row)
    if with_torch:
        print(f"torch full at {P} parameters is extrapolated: 2P + 1 calls x {per_call * 1e3:.2f} ms per call "
              "(measured), a lower bound (torch adds its own overhead per call: see 100-50-10 below)")
        print(f"torch fast 'caught' rows: its fast mode failed and torch started a {2 * P}-call slow re-run to "
              f"word its message, stopped here after {FAST_LIMIT} calls")
    # detection rate of the single wrong entry over seeds (data, params and torch's random vectors)
    ours_hits = torch_hits = 0
    ours_calls = []
    for seed in range(seeds):
        _, calls, _, exact = ours_impl(IMPL_DIMS, "one_wrong", seed)
        ours_hits += exact
        ours_calls.append(calls)
        if with_torch:
            torch_hits += torch_impl(IMPL_DIMS, "one_wrong", seed, fast_mode=True)[2]
    print(f"one wrong entry, {seeds} seeds: ours named exactly that entry {ours_hits}/{seeds} times "
          f"(calls {min(ours_calls)}-{max(ours_calls)})"
          + (f"; torch fast_mode caught it {torch_hits}/{seeds} times" if with_torch else ""))
    # full modes side by side where they are affordable
    small = (100, 50, 10)
    Ps = model.param_count(small)
    s_full, c_full, _, ok_full = ours_impl(small, "one_wrong", mode="full")
    s_ad, c_ad, _, ok_ad = ours_impl(small, "one_wrong")
    line = (f"{'-'.join(map(str, small))} ({Ps} parameters), one wrong entry: ours full {s_full:.2f} s "
            f"({c_full} calls, exact {ok_full}), ours adaptive {s_ad:.2f} s ({c_ad} calls, exact {ok_ad})")
    if with_torch:
        t_tf, c_tf, caught = torch_impl(small, "one_wrong", 0, fast_mode=False)
        line += (f", torch full {t_tf:.2f} s ({c_tf} calls, caught {caught}; extrapolation would say "
                 f"{(2 * Ps + 1) * torch_call_seconds(small):.2f} s)")
    print(line)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--naive-subset", type=int, default=3000, help="entries timed when a net has more")
    ap.add_argument("--repeat", type=int, default=5, help="best of N for our timings")
    ap.add_argument("--no-torch", action="store_true", help="skip torch even when installed")
    ap.add_argument("--impl", action="store_true", help="only the --impl localisation rows (issue 11)")
    ap.add_argument("--seeds", type=int, default=20, help="seeds for the --impl detection rate")
    ap.add_argument("--torch-max-params", type=int, default=20_000,
                    help="run torch's full gradcheck only up to this many parameters (else estimate it)")
    ap.add_argument("--sizes", default=None,
                    help="networks to run, e.g. '784,300,300,10;100,100,100,100,10' (default: all)")
    args = ap.parse_args(argv)
    if args.impl:
        try:
            if args.no_torch:
                raise ImportError
            import torch  # noqa: F401
            with_torch = True
        except ImportError:
            with_torch = False
        impl_section(args.seeds, with_torch)
        return 0
    try:
        if args.no_torch:
            raise ImportError
        import torch

        torch_version = torch.__version__
    except ImportError:
        torch_version = None

    if torch_version:  # first call pays for torch's lazy initialisation: not part of any timing
        spec0 = model.NetworkSpec((3, 2, 2))
        torch_gradcheck(*model.make_problem(spec0, samples=2), (3, 2, 2), fast_mode=False)
    print(f"numpy {np.__version__}, torch {torch_version or 'not installed'}, M = {SAMPLES}, float64")
    rows = []
    sizes = SIZES if not args.sizes else [tuple(int(d) for d in x.split(",")) for x in args.sizes.split(";")]
    for dims in sizes:
        spec = model.NetworkSpec(dims)
        data, labels, params = model.make_problem(spec, samples=SAMPLES, seed=0)
        P = spec.param_count
        grad, numeric, noise = ours_full(spec, data, labels, params)
        assert np.all(np.abs(grad - numeric) <= noise), "our full check disagrees on a correct net"
        t_full = best_of(lambda: ours_full(spec, data, labels, params), args.repeat)
        t_fast = best_of(lambda: ours_fast(spec, data, labels, params), args.repeat)
        tracemalloc.start()
        differences.numeric_gradient(spec, data, labels, params)
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
