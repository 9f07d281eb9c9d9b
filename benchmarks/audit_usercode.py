"""Audit of the verdicts on users' code: correct code must read pass, wrong code must not.

A corpus of correct and wrong users' code of the kinds people bring (``func``: quad,
rosenbrock, softmax cross-entropy, logsumexp, cost scales 1e-8..1e8, x ~ 1e-8..1e8,
float32 code; ``net --impl``: a CS224n ``forward_backward_prop``; ``layer``: affine,
relu, sigmoid (one input at 36.2), tanh, batchnorm, softmax loss, an RNN and an LSTM
step, smooth-L1 with beta 1e-3, dropout) run through the library API, each case
``(kind, name, correct?, run)``.  The gradients of the correct cases are the analytic
formulas (each also compared with an mpmath derivative of the cost at a few entries:
``--truth``); the wrong ones are off by a factor 2, a sign, a relative 1e-3, or the
issue's three wrong passes (a dropout backward drawing a new mask, smooth-L1 with the
sign flipped on small entries, x ~ 1e-8 with a 67% error).

Per case: status and counts.  Totals: unresolved-on-correct fraction (of entries),
correct cases not a clean pass, correct cases that ``--strict`` fails, wrong passes
(a wrong case reading pass: must be 0) and false fails (a correct case with a failing
entry: must be 0).

Run:  python benchmarks/audit_usercode.py [--quick] [--only SUBSTRING] [--mode full]

``--mode M`` runs every case in mode M (``full``: every entry measured directly; default:
each command's own default).
"""

from __future__ import annotations

import sys
import time
from collections import Counter

import numpy as np

sys.path.insert(0, __file__.rsplit("/", 1)[0])

from gradcheck_cli import Thresholds, check_gradient, check_layer, check_network  # noqa: E402

RNG = np.random.default_rng


# ----------------------------------------------------------------------- func cases
def quad(x):
    return np.sum(x**2), 2 * x


def rosenbrock(x):
    a, b = x[:-1], x[1:]
    cost = np.sum(100 * (b - a**2) ** 2 + (1 - a) ** 2)
    g = np.zeros_like(x)
    g[:-1] = -400 * a * (b - a**2) - 2 * (1 - a)
    g[1:] += 200 * (b - a**2)
    return cost, g


def softmax_ce(W, X=RNG(7).standard_normal((10, 6)), y=RNG(8).integers(0, 4, 10)):
    s = X @ W
    s = s - s.max(axis=1, keepdims=True)
    p = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
    cost = -np.log(p[np.arange(len(y)), y]).sum()
    p[np.arange(len(y)), y] -= 1
    return cost, X.T @ p


def logsumexp(x):
    m = x.max()
    e = np.exp(x - m)
    return m + np.log(e.sum()), e / e.sum()


def scaled(f, c):
    def g(x):
        cost, grad = f(x)
        return c * cost, c * grad
    return g


def wrong(f, how):
    def g(x):
        cost, grad = f(x)
        grad = np.array(grad, dtype=float)
        flat = grad.reshape(-1)
        k = flat.size // 2
        if how == "2x":
            flat[k] *= 2
        elif how == "sign":
            flat[k] = -flat[k]
        elif how == "1e-3":
            flat[k] *= 1 + 1e-3
        elif how == "67%":
            flat *= 1.67
        return cost, grad
    return g


def tiny_x(x):
    """x ~ 1e-8: sum(x**3 + x**2)."""
    return np.sum(x**3 + x**2), 3 * x**2 + 2 * x


def log_big(x):
    """x ~ 1e8: sum(x * log(x))."""
    return np.sum(x * np.log(x)), np.log(x) + 1


def float32_code(f):
    def g(x):
        x32 = np.asarray(x, dtype=np.float32)
        cost, grad = f(x32)
        return np.float32(cost), np.asarray(grad, dtype=np.float32)
    return g


def func_cases():
    r = RNG(0)
    x34 = r.standard_normal((3, 4))
    out = [
        ("quad 100x100", quad, r.standard_normal((100, 100))),
        ("quad 3x4", quad, x34),
        ("rosenbrock 20", rosenbrock, r.standard_normal(20)),
        ("softmax-CE 6x4", softmax_ce, r.standard_normal((6, 4))),
        ("logsumexp 50", logsumexp, r.standard_normal(50)),
        ("x ~ 1e-8", tiny_x, 1e-8 * r.standard_normal(12)),
        ("x ~ 1e8", log_big, 1e8 * (1 + r.random(12))),
        ("float32 quad", float32_code(quad), x34),
        ("float32 logsumexp", float32_code(logsumexp), r.standard_normal(20)),
    ]
    for c in (1e-8, 1e8):
        out.append((f"rosenbrock x {c:g}", scaled(rosenbrock, c), r.standard_normal(10)))
    cases = []
    for name, f, x in out:
        cases.append(("func", name, True, lambda f=f, x=x: check_gradient(f, x)))
    for name, f, x in out[:6] + out[7:8]:
        for how in ("2x", "sign", "1e-3"):
            if "float32" in name and how == "1e-3":
                how = "1e-3"  # a 1e-3 bug in float32 code must still fail
            cases.append(("func", f"{name} [{how}]", False, lambda f=f, x=x, how=how: check_gradient(wrong(f, how), x)))
    def f32_rel(x):  # a 1e-3 bug inside float32 code
        cost, grad = float32_code(logsumexp)(x)
        return cost, grad * np.float32(1.001)

    cases.append(("func", "float32 logsumexp [1e-3 in float32]", False,
                  lambda: check_gradient(f32_rel, RNG(0).standard_normal(20))))
    cases.append(("func", "x ~ 1e-8 [67%]", False, lambda: check_gradient(wrong(tiny_x, "67%"), 1e-8 * RNG(1).standard_normal(12))))
    return cases


# ----------------------------------------------------------------------- net --impl
def net_cases(quick: bool):
    import mynet

    dims = [(10, 5, 10), (50, 30, 10)] + ([] if quick else [(784, 100, 10)])
    cases = []
    for d in dims:
        cases.append(("net --impl", f"mynet {d}", True, lambda d=d: check_network(d, impl=mynet.forward_backward_prop)))
        cases.append(("net --impl", f"one_wrong {d}", False, lambda d=d: check_network(d, impl=mynet.one_wrong)))
    cases.append(("net --impl", "block_bug (50, 30, 10)", False,
                  lambda: check_network((50, 30, 10), impl=mynet.block_bug)))
    return cases


# ----------------------------------------------------------------------- layers
def affine_forward(x, w, b):
    return x @ w + b, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


def affine_backward_2x(dout, cache):
    dx, dw, db = affine_backward(dout, cache)
    return dx, 2 * dw, db


def relu_forward(x):
    return np.maximum(x, 0), x


def relu_backward(dout, x):
    return dout * (x > 0)


def sigmoid_forward(x):
    s = 1 / (1 + np.exp(-x))
    return s, s


def sigmoid_backward(dout, s):
    return dout * s * (1 - s)


def tanh_forward(x):
    t = np.tanh(x)
    return t, t


def tanh_backward(dout, t):
    return dout * (1 - t * t)


def tanh_backward_sign(dout, t):
    return -dout * (1 - t * t)


def batchnorm_forward(x, gamma, beta):
    mu, var = x.mean(axis=0), x.var(axis=0)
    std = np.sqrt(var + 1e-5)
    xhat = (x - mu) / std
    return gamma * xhat + beta, (xhat, gamma, std)


def batchnorm_backward(dout, cache):
    xhat, gamma, std = cache
    N = dout.shape[0]
    dxhat = dout * gamma
    dx = (N * dxhat - dxhat.sum(axis=0) - xhat * np.sum(dxhat * xhat, axis=0)) / (N * std)
    return dx, np.sum(dout * xhat, axis=0), dout.sum(axis=0)


def batchnorm_backward_rel(dout, cache):
    dx, dg, db = batchnorm_backward(dout, cache)
    return dx * (1 + 1e-3), dg, db


def softmax_loss(x, y):
    s = x - x.max(axis=1, keepdims=True)
    logp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
    N = x.shape[0]
    loss = -logp[np.arange(N), y].mean()
    dx = np.exp(logp)
    dx[np.arange(N), y] -= 1
    return loss, dx / N


def softmax_loss_2x(x, y):
    loss, dx = softmax_loss(x, y)
    return loss, 2 * dx


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return h, (x, prev_h, Wx, Wh, h)


def rnn_step_backward(dh, cache):
    x, prev_h, Wx, Wh, h = cache
    da = dh * (1 - h * h)
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def _sig(z):
    return 1 / (1 + np.exp(-z))


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    a = x @ Wx + prev_h @ Wh + b
    H = prev_h.shape[1]
    i, f, o, g = _sig(a[:, :H]), _sig(a[:, H:2 * H]), _sig(a[:, 2 * H:3 * H]), np.tanh(a[:, 3 * H:])
    c = f * prev_c + i * g
    tc = np.tanh(c)
    h = o * tc
    return h, c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, c, tc)


def lstm_step_backward(dh, dc, cache):
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, c, tc = cache
    dc = dc + dh * o * (1 - tc * tc)
    do = dh * tc
    di, df, dg = dc * g, dc * prev_c, dc * i
    da = np.hstack([di * i * (1 - i), df * f * (1 - f), do * o * (1 - o), dg * (1 - g * g)])
    return da @ Wx.T, da @ Wh.T, dc * f, x.T @ da, prev_h.T @ da, da.sum(axis=0)


BETA = 1e-3


def smooth_l1(x):
    a = np.abs(x)
    small = a < BETA
    loss = np.sum(np.where(small, 0.5 * x * x / BETA, a - 0.5 * BETA))
    return loss, np.where(small, x / BETA, np.sign(x))


def smooth_l1_sign(x):
    loss, dx = smooth_l1(x)
    return loss, np.where(np.abs(x) < BETA, -dx, dx)


def dropout_forward(x):
    mask = (np.random.rand(*x.shape) < 0.8) / 0.8
    return x * mask, mask


def dropout_backward(dout, mask):
    return dout * mask


def dropout_backward_new_mask(dout, mask):
    fresh = (np.random.rand(*dout.shape) < 0.8) / 0.8
    return dout * fresh


def layer_cases():
    r = RNG(3)
    sig_x = r.standard_normal((4, 5))
    sig_x[1, 2] = 36.2
    xs = 1e-3 * r.standard_normal((4, 5))  # smooth-L1: most entries inside the quadratic zone
    xs[0] = 3 * r.standard_normal(5)
    N, D, H = 3, 4, 5
    rnn_in = {"x": r.standard_normal((N, D)), "prev_h": r.standard_normal((N, H)),
              "Wx": r.standard_normal((D, H)), "Wh": r.standard_normal((H, H)), "b": r.standard_normal(H)}
    lstm_in = {"x": r.standard_normal((N, D)), "prev_h": r.standard_normal((N, H)), "prev_c": r.standard_normal((N, H)),
               "Wx": r.standard_normal((D, 4 * H)), "Wh": r.standard_normal((H, 4 * H)), "b": r.standard_normal(4 * H)}
    aff = {"x": r.standard_normal((4, 6)), "w": r.standard_normal((6, 5)), "b": r.standard_normal(5)}
    bn = {"x": r.standard_normal((8, 5)), "gamma": r.standard_normal(5), "beta": r.standard_normal(5)}
    sm = {"x": r.standard_normal((10, 6)), "y": r.integers(0, 6, 10)}
    C = []
    add = lambda name, ok, *a, **k: C.append(("layer", name, ok, lambda: check_layer(*a, **k)))  # noqa: E731
    add("affine", True, affine_forward, affine_backward, aff)
    add("affine [dw 2x]", False, affine_forward, affine_backward_2x, aff)
    add("relu", True, relu_forward, relu_backward, {"x": r.standard_normal((4, 5))})
    add("sigmoid incl. 36.2", True, sigmoid_forward, sigmoid_backward, {"x": sig_x})
    add("tanh", True, tanh_forward, tanh_backward, {"x": r.standard_normal((4, 5))})
    add("tanh [sign]", False, tanh_forward, tanh_backward_sign, {"x": r.standard_normal((4, 5))})
    add("batchnorm", True, batchnorm_forward, batchnorm_backward, bn)
    add("batchnorm [1e-3]", False, batchnorm_forward, batchnorm_backward_rel, bn)
    add("softmax loss", True, softmax_loss, None, sm)
    add("softmax loss [2x]", False, softmax_loss_2x, None, sm)
    add("rnn step", True, rnn_step_forward, rnn_step_backward, rnn_in)
    add("lstm step", True, lstm_step_forward, lstm_step_backward, lstm_in)
    add("smooth-L1 beta 1e-3", True, smooth_l1, None, {"x": xs})
    add("smooth-L1 [sign on small]", False, smooth_l1_sign, None, {"x": xs})
    add("dropout", True, dropout_forward, dropout_backward, {"x": r.standard_normal((4, 5))})
    add("dropout [new mask in backward]", False, dropout_forward, dropout_backward_new_mask,
        {"x": r.standard_normal((4, 5))})
    return C


# ----------------------------------------------------------------------- the audit
def run(quick: bool = False, only: str | None = None, thresholds: Thresholds = Thresholds(), mode: str | None = None):
    from gradcheck_cli.errors import GradcheckError

    if mode is not None:  # the cases call these module names: every one in this mode
        import functools

        global check_gradient, check_layer, check_network
        check_gradient, check_layer, check_network = (functools.partial(fn, mode=mode) for fn in (
            getattr(fn, "func", fn) for fn in (check_gradient, check_layer, check_network)))

    cases = func_cases() + net_cases(quick) + layer_cases()
    if only:
        cases = [c for c in cases if only in c[1] or only == c[0]]
    rows = []
    for kind, name, correct, fn in cases:
        t0 = time.perf_counter()
        try:
            rep = fn()
            status, counts = rep.status.value, dict(rep.counts)
            effort = getattr(rep, "effort", None)
            counts["calls"] = getattr(effort, "calls", None)
        except GradcheckError as exc:  # exit 2
            status, counts = "error", {"error": str(exc).splitlines()[0][:70]}
        rows.append((kind, name, correct, status, counts, time.perf_counter() - t0))
    return rows


def summarise(rows) -> dict:
    per: dict = {}
    for kind, name, correct, status, counts, _ in rows:
        s = per.setdefault(kind, Counter())
        if correct:
            s["correct cases"] += 1
            s["correct entries"] += counts.get("checks", 0) or 0
            s["unresolved on correct"] += counts.get("unresolved", 0)
            s["not clean pass"] += status != "pass" or counts.get("unresolved", 0) > 0 or counts.get("warn", 0) > 0
            s["strict fails"] += status != "pass"
            s["false fails"] += counts.get("fail", 0) > 0 or status == "error"
        else:
            s["wrong cases"] += 1
            s["wrong passes"] += status == "pass"
    return per


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    only = argv[argv.index("--only") + 1] if "--only" in argv else None
    mode = argv[argv.index("--mode") + 1] if "--mode" in argv else None
    rows = run(quick, only, mode=mode)
    if "--json" in argv:
        import json

        print(json.dumps([list(r) for r in rows]))
        return 0
    for kind, name, correct, status, counts, secs in rows:
        c = " ".join(f"{k}={v}" for k, v in counts.items() if v and k not in ("checks", "calls"))
        print(f"{kind:11s} {'ok ' if correct else 'BUG'} {name:34s} {status:10s} {secs:6.2f}s  {counts.get('checks', '')} {c}")
    print()
    for kind, s in summarise(rows).items():
        frac = s["unresolved on correct"] / max(s["correct entries"], 1)
        print(f"{kind:11s} correct {s['correct cases']:2d}: not clean pass {s['not clean pass']}, strict fails "
              f"{s['strict fails']}, unresolved-on-correct {frac:.1%} ({s['unresolved on correct']}/"
              f"{s['correct entries']}), false fails {s['false fails']}; wrong {s['wrong cases']}: "
              f"wrong passes {s['wrong passes']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
