"""More ``func`` cases of the audit: the habits and places ``corpus_func`` does not have.

Habits: in-place ops on the input and on work arrays, float32 inside code that returns
float64, Python loops, np.float64 / (1, 1) / shape-(1,) costs, column vectors (n, 1),
integer-valued and integer-dtype inputs, masks, logsumexp along an axis, clipping,
gather/scatter with ``np.add.at``, einsum, sort/argmax paths.  Places: saturation (stable
BCE at logits 40), barriers (entropy at 1e-9, log(1 - x^2) at slack 1e-9), near-ties
(1e-3 and 1e-9 apart), an L1 term at exact zeros (kinks), costs 1e-10..1e10 and inputs
1e-8..1e8, a Gaussian NLL with sigma 1e-4, skip-gram with negative sampling over several
arrays packed in one vector.  Each wrong variant is a realistic bug (``--truth`` measures
that it changes the gradient).  ``cases()`` returns the ``Case`` records.
"""

from __future__ import annotations

import sys

import numpy as np

from corpus_common import Case, compare, mp_truth

R = np.random.default_rng
THIS = sys.modules[__name__]


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


# ------------------------------------------------------------------ in-place habits
def center_inplace(x, c=0.3):
    """0.5 sum (x - c)^2, written x -= c (the caller's x changed): gradient x - c."""
    x -= c
    return 0.5 * np.sum(x * x), x


def softmax_ce_inplace(W, X=R(31).standard_normal((8, 5)), y=R(32).integers(0, 3, 8)):
    """Summed CE with the scores shifted, exponentiated and normalised in place."""
    s = X @ W
    s -= s.max(axis=1, keepdims=True)
    np.exp(s, out=s)
    s /= s.sum(axis=1, keepdims=True)
    cost = -np.sum(np.log(s[np.arange(len(y)), y]))
    s[np.arange(len(y)), y] -= 1
    return cost, X.T @ s


def aliasing_bug(x):
    """grad = x; grad *= 2 changes x before the cost: the cost is sum (2x)^2, the grad 2x."""
    grad = x
    grad *= 2
    return np.sum(x**2), grad


def aliasing_ok(x):
    """What the aliasing code computes as its cost, sum (2x)^2, with its true gradient."""
    return np.sum(4 * x * x), 8 * x


# ------------------------------------------------------------------ float32 inside, float64 out
def f32_inside_logreg(w, X=R(33).standard_normal((40, 6)), y=(R(34).random(40) < 0.5).astype(float)):
    """Mean logistic loss computed in float32, returned as Python float / float64 grad."""
    w32 = w.astype(np.float32)
    X32 = X.astype(np.float32)
    z = X32 @ w32
    cost = np.mean(np.logaddexp(np.float32(0), z) - y.astype(np.float32) * z)
    p = 1 / (1 + np.exp(-z))
    return float(cost), (X32.T @ (p - y.astype(np.float32)) / len(y)).astype(np.float64)


def f64_logreg(w, X=R(33).standard_normal((40, 6)), y=(R(34).random(40) < 0.5).astype(float)):
    z = X @ w
    cost = np.mean(np.logaddexp(0, z) - y * z)
    p = 1 / (1 + np.exp(-z))
    return cost, X.T @ (p - y) / len(y)


# ------------------------------------------------------------------ Python loops, scalar types
def loop_quartic(x):
    """sum_i (x_i^2 - i)^2 with np.float64 accumulators in a Python loop."""
    cost = np.float64(0.0)
    g = np.zeros(len(x))
    for i in range(len(x)):
        t = x[i] * x[i] - i
        cost += t * t
        g[i] = 4 * x[i] * t
    return cost, g


def loop_quartic_off_by_one(x):
    cost = np.float64(0.0)
    g = np.zeros(len(x))
    for i in range(len(x)):
        t = x[i] * x[i] - i
        cost += t * t
    for i in range(1, len(x)):  # the loop started at 1: g[0] stays 0
        g[i] = 4 * x[i] * (x[i] * x[i] - i)
    return cost, g


def recurrence(x, a=0.9):
    """sum_t (x_{t+1} - a x_t)^2 written as a loop over t (an AR(1) residual)."""
    cost = 0.0
    g = np.zeros_like(x)
    for t in range(len(x) - 1):
        r = x[t + 1] - a * x[t]
        cost += r * r
        g[t + 1] += 2 * r
        g[t] += -2 * a * r
    return cost, g


def recurrence_forgot_first(x, a=0.9):
    cost, g = recurrence(x, a)
    g = g.copy()
    g[0] = 0.0  # "x_0 is the initial condition"
    return cost, g


# ------------------------------------------------------------------ column vectors, (1, 1) costs
_ACOL = R(35).standard_normal((6, 6))
_ACOL = _ACOL @ _ACOL.T + np.eye(6)
_BCOL = R(36).standard_normal((6, 1))


def colvec_quadratic(x, A=_ACOL, b=_BCOL):
    """0.5 x'Ax - b'x with x of shape (n, 1): the cost is a (1, 1) array."""
    return 0.5 * x.T @ A @ x - b.T @ x, A @ x - b


def colvec_quadratic_bug(x, A=_ACOL, b=_BCOL):
    return 0.5 * x.T @ A @ x - b.T @ x, A @ x - b.T @ x


def shape1_cost(x):
    """The cost as a shape-(1,) array (np.sum(..., keepdims=True) on a vector)."""
    return np.sum(np.sin(x) ** 2, keepdims=True), 2 * np.sin(x) * np.cos(x)


# ------------------------------------------------------------------ integers
def cubic(x):
    """sum x^3 - 2x (given integer-valued x)."""
    return np.sum(x**3 - 2 * x), 3 * x**2 - 2


def cubic_bug(x):
    return np.sum(x**3 - 2 * x), 3 * x**2


def rounded_cost(x):
    """A cost of round(x) (a quantised input) claimed smooth: the true gradient is 0."""
    q = np.round(x * 4) / 4
    return np.sum(q * q), 2 * x


# ------------------------------------------------------------------ masks, mean vs sum, regularisation
_XM = R(37).standard_normal((30, 5))
_YM = R(38).standard_normal(30)
_MASK = (R(39).random(30) < 0.6).astype(float)


def masked_mse(w, X=_XM, y=_YM, m=_MASK, lam=1e-3):
    """sum m (Xw - y)^2 / sum m + lam ||w||^2 (masked mean squared error)."""
    r = (X @ w - y) * m
    n = m.sum()
    return np.sum(r * r) / n + lam * np.sum(w * w), 2 * X.T @ r / n + 2 * lam * w


def masked_mse_by_N(w, X=_XM, y=_YM, m=_MASK, lam=1e-3):
    """The gradient divided by N, the cost by the mask's count."""
    r = (X @ w - y) * m
    n = m.sum()
    return np.sum(r * r) / n + lam * np.sum(w * w), 2 * X.T @ r / len(y) + 2 * lam * w


def linreg_bias_reg(p, X=_XM, y=_YM, lam=0.1):
    """Mean squared error of X w + b, L2 on w only (p = [w, b])."""
    w, b = p[:-1], p[-1]
    r = X @ w + b - y
    N = len(y)
    g = np.empty_like(p)
    g[:-1] = 2 * X.T @ r / N + 2 * lam * w
    g[-1] = 2 * r.sum() / N
    return r @ r / N + lam * w @ w, g


def linreg_bias_reg_bug(p, X=_XM, y=_YM, lam=0.1):
    """The bias regularised in the gradient only."""
    cost, g = linreg_bias_reg(p, X, y, lam)
    g = g.copy()
    g[-1] += 2 * lam * p[-1]
    return cost, g


# ------------------------------------------------------------------ logsumexp along an axis, clipping
def lse_rows(S):
    """mean over rows of logsumexp(row), max-shifted: gradient softmax / N."""
    m = S.max(axis=1, keepdims=True)
    e = np.exp(S - m)
    z = e.sum(axis=1, keepdims=True)
    return np.mean(m[:, 0] + np.log(z[:, 0])), e / z / S.shape[0]


def lse_rows_unshifted_grad(S):
    """softmax of the unshifted scores divided by the shifted sum: off by exp(max)."""
    m = S.max(axis=1, keepdims=True)
    e = np.exp(S - m)
    z = e.sum(axis=1, keepdims=True)
    return np.mean(m[:, 0] + np.log(z[:, 0])), np.exp(S) / z / S.shape[0]


_YB = (R(40).random(12) < 0.5).astype(float)


def bce_clipped(z, y=_YB):
    """Mean BCE of sigmoid(z) with p clipped to [1e-12, 1 - 1e-12] (not active here)."""
    p = np.clip(_sigmoid(z), 1e-12, 1 - 1e-12)
    cost = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    return cost, (p - y) / len(y)


def bce_clipped_no_N(z, y=_YB):
    p = np.clip(_sigmoid(z), 1e-12, 1 - 1e-12)
    cost = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    return cost, p - y


def clipped_square(x):
    """sum clip(x, -1, 1)^2: gradient 2x inside, 0 outside."""
    c = np.clip(x, -1, 1)
    return np.sum(c * c), 2 * c * (np.abs(x) < 1)


def clipped_square_no_mask(x):
    c = np.clip(x, -1, 1)
    return np.sum(c * c), 2 * c


def bce_logits_stable(z, y=(R(41).random(10) < 0.5).astype(float)):
    """sum max(z, 0) - z y + log(1 + exp(-|z|)) at logits |z| ~ 20..40 (saturated)."""
    cost = np.sum(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))))
    return cost, _sigmoid(z) - y


# ------------------------------------------------------------------ gather / scatter, einsum, sorting
_IDX = np.array([0, 3, 3, 1, 4, 3, 0, 2])
_TGT = R(42).standard_normal((8, 3))


def embed_bag(E, idx=_IDX, T=_TGT):
    """0.5 sum ||E[idx_k] - T_k||^2 over a bag with repeated rows: scatter with np.add.at."""
    d = E[idx] - T
    g = np.zeros_like(E)
    np.add.at(g, idx, d)
    return 0.5 * np.sum(d * d), g


def embed_bag_fancy_plus(E, idx=_IDX, T=_TGT):
    """g[idx] += d: buffered, a repeated row keeps only its last contribution."""
    d = E[idx] - T
    g = np.zeros_like(E)
    g[idx] += d
    return 0.5 * np.sum(d * d), g


_AE = R(43).standard_normal((4, 5, 5))


def einsum_bilinear(X, A=_AE):
    """sum_b x_b' A_b x_b over a batch with einsum (A_b not symmetric)."""
    cost = np.einsum("bi,bij,bj->", X, A, X)
    return cost, np.einsum("bij,bj->bi", A, X) + np.einsum("bji,bj->bi", A, X)


def einsum_bilinear_bug(X, A=_AE):
    cost = np.einsum("bi,bij,bj->", X, A, X)
    return cost, 2 * np.einsum("bij,bj->bi", A, X)


def topk_sum(x, k=3):
    """Sum of the k largest entries (no ties): gradient 1 at their positions (argsort)."""
    order = np.argsort(x)
    g = np.zeros_like(x)
    g[order[-k:]] = 1.0
    return np.sum(np.sort(x)[-k:]), g


def topk_sum_sorted_positions(x, k=3):
    """The 1s put at the last k positions of the sorted array, not at their indices."""
    g = np.zeros_like(x)
    g[-k:] = 1.0
    return np.sum(np.sort(x)[-k:]), g


_WR = np.linspace(1.0, 2.0, 8)


def rank_weighted(x, w=_WR):
    """sum_i w_i x_(i) (sorted ascending): gradient w at each entry's rank (an OWA loss)."""
    order = np.argsort(x)
    g = np.empty_like(x)
    g[order] = w
    return np.sort(x) @ w, g


def max_pair_tie(x):
    """sum of max over pairs by argmax."""
    p = x.reshape(-1, 2)
    g = np.zeros_like(p)
    g[np.arange(len(p)), p.argmax(axis=1)] = 1
    return np.sum(p.max(axis=1)), g.reshape(x.shape)


def max_pair_argmin(x):
    p = x.reshape(-1, 2)
    g = np.zeros_like(p)
    g[np.arange(len(p)), p.argmin(axis=1)] = 1
    return np.sum(p.max(axis=1)), g.reshape(x.shape)


# ------------------------------------------------------------------ barriers, kinks
def entropy(x):
    """sum x log x + (1 - x) log(1 - x) at x ~ 1e-9 (the binary entropy's barrier)."""
    return np.sum(x * np.log(x) + (1 - x) * np.log1p(-x)), np.log(x) - np.log1p(-x)


def entropy_forgot_second(x):
    return np.sum(x * np.log(x) + (1 - x) * np.log1p(-x)), np.log(x) + 1


def box_barrier(x):
    """-sum log(1 - x^2) at 1 - |x| ~ 1e-9..1e-3."""
    return -np.sum(np.log1p(-x * x)), 2 * x / (1 - x * x)


def box_barrier_sign(x):
    return -np.sum(np.log1p(-x * x)), 2 * x / (1 + x * x)


_XL1 = R(44).standard_normal((20, 6))
_YL1 = R(45).standard_normal(20)


def lasso(w, X=_XL1, y=_YL1, lam=0.5):
    """0.5 ||Xw - y||^2 + lam ||w||_1 at a sparse w (exact zeros: kinks), subgradient sign."""
    r = X @ w - y
    return 0.5 * r @ r + lam * np.sum(np.abs(w)), X.T @ r + lam * np.sign(w)


# ------------------------------------------------------------------ scales
def scaled(f, c, name):
    def g(x):
        cost, grad = f(x)
        return c * cost, c * grad
    g.__name__ = name
    return g


def softplus_sum(x):
    return np.sum(np.logaddexp(0, x)), _sigmoid(x)


def sqrt_big(x):
    """sum sqrt(x) at x ~ 1e8: gradient 0.5 / sqrt(x) ~ 5e-5."""
    return np.sum(np.sqrt(x)), 0.5 / np.sqrt(x)


def sqrt_big_no_half(x):
    return np.sum(np.sqrt(x)), 1 / np.sqrt(x)


def gauss_nll(mu, x=1.0 + 1e-4 * R(46).standard_normal(10), s=1e-4):
    """sum (x - mu)^2 / (2 s^2), s = 1e-4 (cost ~1e1, gradient ~1e4, curvature 1e8)."""
    return np.sum((x - mu) ** 2) / (2 * s * s), (mu - x) / (s * s)


def gauss_nll_sign(mu, x=1.0 + 1e-4 * R(46).standard_normal(10), s=1e-4):
    return np.sum((x - mu) ** 2) / (2 * s * s), (x - mu) / (s * s)


def charbonnier_no_eps(r, eps=1e-8):
    """sum sqrt(r^2 + eps): the gradient r / |r| (eps forgotten): a soft bug of ~eps / r^2."""
    return np.sum(np.sqrt(r * r + eps)), r / np.sqrt(r * r)


def charbonnier(r, eps=1e-8):
    return np.sum(np.sqrt(r * r + eps)), r / np.sqrt(r * r + eps)


def logistic_tiny_w(w, X=1e8 * R(47).standard_normal((20, 4)), y=(R(48).random(20) < 0.5).astype(float)):
    """Mean logistic loss with features ~1e8 and weights ~1e-8 (un-normalised data)."""
    z = X @ w
    return np.mean(np.logaddexp(0, z) - y * z), X.T @ (_sigmoid(z) - y) / len(y)


# ------------------------------------------------------------------ skip-gram, several arrays in one vector
_V, _D = 12, 5
_CTX = [(2, 7), (2, 3), (5, 7), (2, 9)]      # (centre, outside) pairs, centre 2 repeated
_NEGS = np.array([[1, 4, 4], [7, 0, 11], [3, 3, 8], [6, 7, 1]])  # per pair; repeats included


def skipgram_neg(p, pairs=_CTX, negs=_NEGS):
    """Skip-gram with negative sampling over a window, p = [V centre vectors, U outside vectors]."""
    Vc = p[:_V * _D].reshape(_V, _D)
    U = p[_V * _D:].reshape(_V, _D)
    gV, gU = np.zeros_like(Vc), np.zeros_like(U)
    cost = 0.0
    for (c, o), neg in zip(pairs, negs):
        v = Vc[c]
        so = _sigmoid(U[o] @ v)
        cost += -np.log(so)
        gV[c] += (so - 1) * U[o]
        gU[o] += (so - 1) * v
        for k in neg:
            sk = _sigmoid(-U[k] @ v)
            cost += -np.log(sk)
            gV[c] += (1 - sk) * U[k]
            gU[k] += (1 - sk) * v
    return cost, np.concatenate([gV.ravel(), gU.ravel()])


def skipgram_neg_centre_assign(p, pairs=_CTX, negs=_NEGS):
    """gV[c] = ... per pair: the repeated centre word keeps only its last window's gradient."""
    Vc = p[:_V * _D].reshape(_V, _D)
    U = p[_V * _D:].reshape(_V, _D)
    gV, gU = np.zeros_like(Vc), np.zeros_like(U)
    cost = 0.0
    for (c, o), neg in zip(pairs, negs):
        v = Vc[c]
        so = _sigmoid(U[o] @ v)
        cost += -np.log(so)
        gc = (so - 1) * U[o]
        gU[o] += (so - 1) * v
        for k in neg:
            sk = _sigmoid(-U[k] @ v)
            cost += -np.log(sk)
            gc = gc + (1 - sk) * U[k]
            gU[k] += (1 - sk) * v
        gV[c] = gc
    return cost, np.concatenate([gV.ravel(), gU.ravel()])


# ------------------------------------------------------------------ stability epsilons, tiny zones
_AB = R(49).standard_normal((6, 5))
_SLACK = np.array([1e-9, 1e-7, 1e-5, 1e-3, 1e-1, 1.0])


def barrier_eps(x, A=_AB, b=None):
    """-sum log(b - A x) at slacks 1e-9..1, the gradient's 1/s written 1/(s + 1e-12) "for stability"."""
    s = b - A @ x
    return -np.sum(np.log(s)), A.T @ (1 / (s + 1e-12))


def barrier(x, A=_AB, b=None):
    s = b - A @ x
    return -np.sum(np.log(s)), A.T @ (1 / s)


def log1px(x):
    """-sum log(1 + x): a barrier at x = -1."""
    return -np.sum(np.log(1 + x)), -1 / (1 + x)


def log3mx(x):
    """-sum log(3 - x): a barrier at x = 3."""
    return -np.sum(np.log(3 - x)), 1 / (3 - x)


def log3mx_bug(x):
    """The chain rule's -1 of the inner 3 - x forgotten."""
    return -np.sum(np.log(3 - x)), -1 / (3 - x)


# ------------------------------------------------------------------ functions that vary on a scale other than |x|
def sin_sum(x):
    """sum sin(x) (a phase, a time in seconds, an angle accumulated over many turns)."""
    return np.sum(np.sin(x)), np.cos(x)


def sin_sum_sign(x):
    return np.sum(np.sin(x)), -np.cos(x)


def sin_slow(x):
    """sum sin(x / 1000) at x ~ 1e6."""
    return np.sum(np.sin(x / 1000)), np.cos(x / 1000) / 1000


_T = np.arange(8) * 7e3 + 3.0


def fourier_freq(w, t=_T):
    """sum_t sin(w t) w.r.t. the frequency w, times t up to 5e4 (a learned Fourier feature)."""
    return np.sum(np.sin(w[0] * t)), np.array([np.sum(t * np.cos(w[0] * t))])


def rbf(x, c=0.3, bw=1e-3):
    """sum exp(-(x - c)^2 / 2 bw^2), bandwidth 1e-3 around c = 0.3."""
    e = np.exp(-(x - c) ** 2 / (2 * bw * bw))
    return np.sum(e), -(x - c) / (bw * bw) * e


def exp_near_overflow(x):
    """sum exp(x) at x ~ 700 (cost ~1e304)."""
    return np.sum(np.exp(x)), np.exp(x)


# ------------------------------------------------------------------ soft bugs in large inputs (adaptive mode)
def softplus_big(x):
    """sum log(1 + exp(x)): gradient sigmoid(x)."""
    return np.sum(np.logaddexp(0, x)), 1 / (1 + np.exp(-x))


def softplus_fast_sigmoid_tail(x):
    """The sigmoid of the entries |x| > 2.5 from an approximation good to 1e-5 (a soft bug on ~1% of them)."""
    g = 1 / (1 + np.exp(-x))
    tail = np.abs(x) > 2.5
    g[tail] = g[tail] * (1 + 1e-5 * np.sign(x[tail]))
    return np.sum(np.logaddexp(0, x)), g


def softplus_last_soft(x):
    """The last entry's gradient off by 1e-5 (computed on another path)."""
    g = 1 / (1 + np.exp(-x))
    g[-1] *= 1 + 1e-5
    return np.sum(np.logaddexp(0, x)), g


def huber_tiny(r, delta=1e-6):
    """Huber with delta 1e-6 at residuals 1e-7 (inside) and 1 (outside)."""
    a = np.abs(r)
    quad = a <= delta
    return np.sum(np.where(quad, 0.5 * r * r, delta * (a - 0.5 * delta))), np.where(quad, r, delta * np.sign(r))


def huber_tiny_sign(r, delta=1e-6):
    """The quadratic zone's gradient with its sign flipped (the issue's smooth-L1 bug at delta 1e-6)."""
    cost, g = huber_tiny(r, delta)
    return cost, np.where(np.abs(r) <= delta, -r, g)


def two_layer_flat(p, X=R(50).standard_normal((8, 12)), y=R(51).integers(0, 4, 8), H=10, C=4):
    """CS231n's two-layer net as f(params) (relu, mean softmax CE), params packed W1, b1, W2, b2."""
    D = X.shape[1]
    W1 = p[:D * H].reshape(D, H)
    b1 = p[D * H:D * H + H]
    W2 = p[D * H + H:D * H + H + H * C].reshape(H, C)
    b2 = p[D * H + H + H * C:]
    z = X @ W1 + b1
    h = np.maximum(0, z)
    s = h @ W2 + b2
    s = s - s.max(axis=1, keepdims=True)
    e = np.exp(s)
    pr = e / e.sum(axis=1, keepdims=True)
    N = X.shape[0]
    loss = -np.sum(np.log(pr[np.arange(N), y])) / N
    ds = pr.copy()
    ds[np.arange(N), y] -= 1
    ds /= N
    dh = ds @ W2.T * (z > 0)
    return loss, np.concatenate([(X.T @ dh).ravel(), dh.sum(axis=0), (h.T @ ds).ravel(), ds.sum(axis=0)])


def _two_layer_init(std, seed, D=12, H=10, C=4):
    r = np.random.RandomState(seed)
    return np.concatenate([std * r.randn(D * H), np.zeros(H), std * r.randn(H * C), np.zeros(C)])


# ------------------------------------------------------------------ the cases
def _run(f, x):
    from gradcheck_cli import check_gradient

    return lambda mode=None: check_gradient(f, x, **({} if mode is None else {"mode": mode}))


def _truth(f, x, k=4, base=None):
    """mpmath truth of f's hand gradient (``base``: the float64 code the truth runs instead)."""
    base = base or f
    xf = np.asarray(x, dtype=float)
    hand = np.asarray(f(np.array(x, copy=True))[1], dtype=float)

    def cost(z):
        c = base(z.copy())[0]
        return c.reshape(-1)[0] if isinstance(c, np.ndarray) else c
    return lambda: mp_truth(cost, [xf], [0], [hand], [THIS], k=k)


def _damage(bug, ok, x):
    return lambda: compare(bug(np.array(x, copy=True))[1], ok(np.array(x, copy=True))[1])


def cases() -> list[Case]:
    r = R(100)
    C: list[Case] = []

    def ok(name, f, x, *, small=True, full=True, truth=True, expect="pass", note="", base=None, k=4):
        C.append(Case("func", name, True, _run(f, x), _truth(f, x, k=k, base=base) if truth else None,
                      small=small, full=full, expect=expect, note=note))

    def bug(name, f, good, x, *, small=True, full=True):
        C.append(Case("func", name, False, _run(f, x), damage=_damage(f, good, x), small=small, full=full))

    # habits
    x = r.standard_normal(6)
    ok("x -= c in place on the input", center_inplace, x)
    W = r.standard_normal((5, 3))
    ok("softmax-CE shifted/exp/normalised in place", softmax_ce_inplace, W)
    bug("grad = x; grad *= 2 aliasing [cost of 2x]", aliasing_bug, aliasing_ok, r.standard_normal(5))
    wl = r.standard_normal(6)
    ok("float32 inside, float64 returned (logreg)", f32_inside_logreg, wl, truth=False, small=False,
       note="float32 arithmetic returned as float64: the hand gradient agrees with the float64 truth to 1.1e-6 "
            "(float32's precision; at 1e-7 a warn/unresolved is right, a fail is not)")
    xq = r.standard_normal(7)
    ok("Python loop, np.float64 accumulator", loop_quartic, xq)
    bug("Python loop [range(1, n) in the gradient]", loop_quartic_off_by_one, loop_quartic, xq)
    xr = r.standard_normal(9)
    ok("AR(1) residual loop", recurrence, xr)
    bug("AR(1) residual loop [g[0] = 0]", recurrence_forgot_first, recurrence, xr)
    xc = r.standard_normal((6, 1))
    ok("column vector (6,1), (1,1) cost", colvec_quadratic, xc)
    bug("column vector [b'x for b]", colvec_quadratic_bug, colvec_quadratic, xc)
    ok("shape-(1,) cost (keepdims)", shape1_cost, r.standard_normal(5))
    xi = np.array([1, -2, 3, 0, 2])
    C.append(Case("func", "integer dtype input [1,-2,3,0,2]", True, _run(cubic, xi),
                  truth=_truth(cubic, xi.astype(float)), note="truth at the same values as floats"))
    C.append(Case("func", "integer dtype input [3x^2, -2 lost]", False, _run(cubic_bug, xi),
                  damage=_damage(cubic_bug, cubic, xi.astype(float))))
    xv = np.array([1.0, -2.0, 3.0, 0.0, 2.0, 5.0])
    ok("integer-valued float input", cubic, xv)
    bug("cost of round(4x)/4 claimed smooth", rounded_cost, lambda z: (0.0, 0 * z), 0.1 + r.standard_normal(6) * 0.01)

    # masks, regularisation
    wm = r.standard_normal(5)
    ok("masked MSE + L2", masked_mse, wm)
    bug("masked MSE [grad / N, cost / mask count]", masked_mse_by_N, masked_mse, wm)
    pb = r.standard_normal(6)
    ok("MSE, L2 on w not b", linreg_bias_reg, pb)
    bug("MSE L2 [bias regularised in grad only]", linreg_bias_reg_bug, linreg_bias_reg, pb)

    # logsumexp, clipping, saturation
    S = 3 * r.standard_normal((5, 4))
    ok("logsumexp per row, mean", lse_rows, S)
    bug("logsumexp per row [exp(S) / shifted sum]", lse_rows_unshifted_grad, lse_rows, S)
    z = 2 * r.standard_normal(12)
    ok("BCE with clip(p, 1e-12)", bce_clipped, z)
    bug("BCE with clip [1/N forgotten]", bce_clipped_no_N, bce_clipped, z)
    xcl = 1.5 * r.standard_normal(10)
    ok("clip(x,-1,1)^2", clipped_square, xcl)
    bug("clip(x,-1,1)^2 [mask of the clip forgotten]", clipped_square_no_mask, clipped_square, xcl)
    ok("stable BCE at logits 20..40", bce_logits_stable, r.choice([-1, 1], 10) * (20 + 20 * r.random(10)))

    # gather/scatter, einsum, sort
    E = r.standard_normal((5, 3))
    ok("embedding bag, np.add.at", embed_bag, E)
    bug("embedding bag [g[idx] += d]", embed_bag_fancy_plus, embed_bag, E)
    Xe = r.standard_normal((4, 5))
    ok("einsum x'A x per batch", einsum_bilinear, Xe)
    bug("einsum x'A x [2Ax, A not symmetric]", einsum_bilinear_bug, einsum_bilinear, Xe)
    xt = r.standard_normal(8)
    ok("top-3 sum via argsort", topk_sum, xt)
    bug("top-3 sum [1s at sorted positions]", topk_sum_sorted_positions, topk_sum, xt)
    ok("rank-weighted sum (sort)", rank_weighted, r.standard_normal(8))
    xn = np.array([0.5, 0.5 + 1e-3, -1.0, 2.0, 0.7, 0.3])
    ok("max of pairs 1e-3 apart", max_pair_tie, xn)
    bug("max of pairs 1e-3 apart [argmin]", max_pair_argmin, max_pair_tie, xn)
    xn9 = np.array([0.5, 0.5 + 1e-9, -1.0, 2.0])
    ok("max of pairs 1e-9 apart (pass or kink)", max_pair_tie, xn9, expect="either",
       note="the kink is 1e-9 away: within a step of 1e-6, so a kink is right too")

    # barriers, kinks
    xe = 1e-9 * (1 + r.random(6))
    ok("binary entropy at x ~ 1e-9", entropy, xe)
    bug("binary entropy at 1e-9 [log x + 1]", entropy_forgot_second, entropy, xe)
    xb = np.array([1 - 1e-9, -(1 - 1e-6), 1 - 1e-3, 0.5, -0.2])
    ok("-log(1-x^2), slack 1e-9..1e-3", box_barrier, xb)
    bug("-log(1-x^2) [1 + x^2]", box_barrier_sign, box_barrier, xb)
    wz = r.standard_normal(6)
    wz[[1, 4]] = 0.0
    ok("lasso with exact zeros (kink)", lasso, wz, truth=False, expect="kink")

    # scales
    xs = r.standard_normal(20)
    ok("softplus x 1e-10", scaled(softplus_sum, 1e-10, "softplus_e-10"), xs)
    ok("softplus x 1e10", scaled(softplus_sum, 1e10, "softplus_e10"), xs)
    x8 = 1e8 * (1 + r.random(8))
    ok("sqrt(x) at x ~ 1e8", sqrt_big, x8)
    bug("sqrt(x) at 1e8 [0.5 lost]", sqrt_big_no_half, sqrt_big, x8)
    mu = 1.0 + 1e-4 * r.standard_normal(10)
    ok("Gaussian NLL sigma 1e-4", gauss_nll, mu)
    bug("Gaussian NLL sigma 1e-4 [sign]", gauss_nll_sign, gauss_nll, mu)
    rc = 1e-2 * r.choice([-1, 1], 8) * (1 + r.random(8))
    ok("Charbonnier eps 1e-8, r ~ 1e-2", charbonnier, rc)
    bug("Charbonnier [eps forgotten in grad: 5e-5 soft]", charbonnier_no_eps, charbonnier, rc)
    ok("logistic, features 1e8, w 1e-8", logistic_tiny_w, 1e-8 * r.standard_normal(4))

    # stability epsilons, tiny zones, tiny weights next to relu kinks
    xb0 = np.zeros(5)  # at the origin the slacks are exact (b - A x rounds them otherwise: 1e-7 of 1e-9)
    bb = _SLACK.copy()
    fb = lambda x, b=bb: barrier(x, b=b)  # noqa: E731
    fb.__name__ = "barrier"
    fbe = lambda x, b=bb: barrier_eps(x, b=b)  # noqa: E731
    fbe.__name__ = "barrier_eps"
    ok("log-barrier, slacks 1e-9..1", fb, xb0)
    bug("log-barrier [1/(s + 1e-12) for stability]", fbe, fb, xb0)
    sl = np.array([1e-2, 1e-3, 1e-4, 1e-6, 1e-8])
    ok("-log(1+x) at x = -1 + 1e-2..1e-8", log1px, -1 + sl)
    ok("-log(3-x) at x = 3 - 1e-2..1e-8", log3mx, 3 - sl)
    bug("-log(3-x) [inner -1 forgotten]", log3mx_bug, log3mx, 3 - sl)
    xs6 = 1e6 * (1 + r.random(6))
    ok("sin(x) at x ~ 1e6", sin_sum, xs6)
    bug("sin(x) at 1e6 [sign]", sin_sum_sign, sin_sum, xs6)
    ok("sin(x) at x ~ 1e3", sin_sum, 1e3 * (1 + r.random(6)))
    ok("sin(x) at x ~ 1e8", sin_sum, 1e8 * (1 + r.random(6)))
    ok("sin(x/1000) at x ~ 1e6", sin_slow, 1e6 * (1 + r.random(6)))
    ok("sum sin(w t), t to 5e4, w.r.t. w", fourier_freq, np.array([1.3]))
    ok("RBF bandwidth 1e-3 at c = 0.3", rbf, 0.3 + 1e-3 * r.standard_normal(6))
    ok("exp(x) at x ~ 700 (cost 1e304)", exp_near_overflow, 700 + r.random(6))
    x10k = R(60).standard_normal(10_000)
    bug("softplus 10,000 [1e-5 sigmoid approximation on |x| > 2.5]", softplus_fast_sigmoid_tail, softplus_big, x10k,
        small=False)
    x100k = R(61).standard_normal(100_000)
    bug("softplus 100,000 [last entry off by 1e-5]", softplus_last_soft, softplus_big, x100k, small=False, full=False)
    rt = np.concatenate([1e-7 * r.standard_normal(6), r.standard_normal(3)])
    ok("Huber delta 1e-6, residuals 1e-7", huber_tiny, rt)
    bug("Huber delta 1e-6 [sign in the quadratic zone]", huber_tiny_sign, huber_tiny, rt)
    ok("CS231n two-layer as f(params), std 1e-2", two_layer_flat, _two_layer_init(1e-2, 0))
    ok("CS231n two-layer as f(params), std 1e-4", two_layer_flat, _two_layer_init(1e-4, 0), small=False)

    # several arrays
    p = 0.5 * r.standard_normal(2 * _V * _D)
    ok("skip-gram neg-sampling, centre+outside packed", skipgram_neg, p)
    bug("skip-gram [gV[c] = for a repeated centre]", skipgram_neg_centre_assign, skipgram_neg, p)
    return C
