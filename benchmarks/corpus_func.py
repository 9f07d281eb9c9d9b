"""``func`` cases of the audit: ``f(x) -> (cost, grad)`` as students and practitioners write them.

Each function is short and its gradient derived by hand; each wrong variant is a bug people
make (a missing chain-rule factor, a sign, a forgotten 1/N, an assignment where repeated
indices need +=, a transposed matrix, an off-by-one in a loop).  ``cases()`` returns the
``Case`` records (``corpus_common``).
"""

from __future__ import annotations

import sys

import numpy as np

from corpus_common import Case, compare, mp_truth

R = np.random.default_rng


# ------------------------------------------------------------------ softmax / cross-entropy
_X = R(7).standard_normal((10, 6))
_Y = R(8).integers(0, 4, 10)


def softmax_ce(W, X=_X, y=_Y):
    """Summed cross-entropy of softmax(X W), max-shifted."""
    s = X @ W
    s = s - s.max(axis=1, keepdims=True)
    p = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
    cost = -np.log(p[np.arange(len(y)), y]).sum()
    p[np.arange(len(y)), y] -= 1
    return cost, X.T @ p


def softmax_ce_noshift_mean(W, X=_X, y=_Y):
    """Mean cross-entropy, no max-shift (fine at these scores)."""
    N = X.shape[0]
    e = np.exp(X @ W)
    p = e / e.sum(axis=1, keepdims=True)
    cost = -np.sum(np.log(p[np.arange(N), y])) / N
    dscores = p.copy()
    dscores[np.arange(N), y] -= 1
    return cost, X.T @ dscores / N


def softmax_ce_forgot_minus_one(W, X=_X, y=_Y):
    s = X @ W
    s = s - s.max(axis=1, keepdims=True)
    p = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
    cost = -np.log(p[np.arange(len(y)), y]).sum()
    return cost, X.T @ p


def softmax_ce_mean_no_N(W, X=_X, y=_Y):
    cost, g = softmax_ce_noshift_mean(W, X, y)
    return cost, g * X.shape[0]


# ------------------------------------------------------------------ CS231n linear classifiers (3073 x 10)
_XC = R(23).standard_normal((200, 3073))
_YC = R(24).integers(0, 10, 200)


def cs231n_softmax(W, X=_XC, y=_YC, reg=2.5e4):
    """softmax_loss_vectorized: mean cross-entropy + reg ||W||^2."""
    N = X.shape[0]
    s = X @ W
    s = s - s.max(axis=1, keepdims=True)
    p = np.exp(s)
    p = p / p.sum(axis=1, keepdims=True)
    loss = -np.log(p[np.arange(N), y]).mean() + reg * np.sum(W * W)
    p[np.arange(N), y] -= 1
    return loss, X.T @ p / N + 2 * reg * W


def cs231n_softmax_reg_once(W, X=_XC, y=_YC, reg=2.5e4):
    loss, g = cs231n_softmax(W, X, y, reg)
    return loss, g - reg * W  # d/dW reg ||W||^2 taken as reg W


def cs231n_svm(W, X=_XC, y=_YC, reg=2.5e4):
    """svm_loss_vectorized: mean multiclass hinge (margin 1) + reg ||W||^2."""
    N = X.shape[0]
    s = X @ W
    m = np.maximum(0, s - s[np.arange(N), y][:, None] + 1)
    m[np.arange(N), y] = 0
    pos = (m > 0).astype(float)
    pos[np.arange(N), y] -= pos.sum(axis=1)
    return m.sum() / N + reg * np.sum(W * W), X.T @ pos / N + 2 * reg * W


# ------------------------------------------------------------------ logistic regression, L2
_XL = R(9).standard_normal((50, 10))
_YL = (R(10).random(50) < 0.5).astype(float)


def logreg(w, X=_XL, y=_YL):
    """Mean logistic loss: log(1 + exp(z)) - y z, z = X w."""
    z = X @ w
    cost = np.mean(np.log1p(np.exp(z)) - y * z)
    p = 1 / (1 + np.exp(-z))
    return cost, X.T @ (p - y) / len(y)


def logreg_sign(w, X=_XL, y=_YL):
    z = X @ w
    cost = np.mean(np.log1p(np.exp(z)) - y * z)
    p = 1 / (1 + np.exp(-z))
    return cost, X.T @ (y - p) / len(y)


LAM = 1e-2


def logreg_l2(w, X=_XL, y=_YL):
    """Mean logistic loss + lam ||w||^2."""
    cost, g = logreg(w, X, y)
    return cost + LAM * np.sum(w * w), g + 2 * LAM * w


def logreg_l2_half(w, X=_XL, y=_YL):
    """The factor 2 of the regulariser forgotten."""
    cost, g = logreg(w, X, y)
    return cost + LAM * np.sum(w * w), g + LAM * w


_XR = R(11).standard_normal((30, 8))
_YR = R(12).standard_normal(30)


def ridge(w, X=_XR, y=_YR, lam=0.1):
    """0.5 ||X w - y||^2 + 0.5 lam ||w||^2."""
    r = X @ w - y
    return 0.5 * r @ r + 0.5 * lam * w @ w, X.T @ r + lam * w


def ridge_transposed(w, X=_XR, y=_YR, lam=0.1):
    """(X w - y) X instead of X' (X w - y): right shape here only via a reshape."""
    r = X @ w - y
    g = (X.T @ r).reshape(2, 4).T.reshape(-1)  # "fixed" a shape error the wrong way
    return 0.5 * r @ r + 0.5 * lam * w @ w, g + lam * w


# ------------------------------------------------------------------ Huber / smooth-L1
def huber(r, delta=1.0):
    a = np.abs(r)
    quad = a <= delta
    cost = np.sum(np.where(quad, 0.5 * r * r, delta * (a - 0.5 * delta)))
    return cost, np.where(quad, r, delta * np.sign(r))


def huber_sign_everywhere(r, delta=1.0):
    cost, _ = huber(r, delta)
    return cost, delta * np.sign(r)


def smooth_l1_beta(x, beta=1e-3):
    a = np.abs(x)
    small = a < beta
    cost = np.sum(np.where(small, 0.5 * x * x / beta, a - 0.5 * beta))
    return cost, np.where(small, x / beta, np.sign(x))


def smooth_l1_beta_forgot_beta(x, beta=1e-3):
    cost, g = smooth_l1_beta(x, beta)
    return cost, np.where(np.abs(x) < beta, x, g)


# ------------------------------------------------------------------ log-barrier near the boundary
_A = R(13).standard_normal((6, 5))


def _barrier_b(x0):
    return _A @ x0 + np.array([1e-6, 3e-6, 1e-5, 1e-3, 1e-1, 1.0])


def log_barrier(x, A=_A, b=None):
    """-sum log(b - A x), slacks 1e-6 .. 1 at the point."""
    s = b - A @ x
    return -np.sum(np.log(s)), A.T @ (1 / s)


def log_barrier_no_AT(x, A=_A, b=None):
    s = b - A @ x
    return -np.sum(np.log(s)), np.sum(A, axis=0) * np.sum(1 / s) / A.shape[0]


# ------------------------------------------------------------------ exp / log at scale
def exp_big(x):
    """sum exp(2 x) at x ~ 15..25 (cost ~1e21)."""
    return np.sum(np.exp(2 * x)), 2 * np.exp(2 * x)


def exp_big_no_chain(x):
    return np.sum(np.exp(2 * x)), np.exp(2 * x)


def exp_small(x):
    """sum exp(-x) at x ~ 30..40 (cost ~1e-13)."""
    return np.sum(np.exp(-x)), -np.exp(-x)


def xlogx(x):
    """sum x log x at x ~ 1e-10 .. 1e10."""
    return np.sum(x * np.log(x)), np.log(x) + 1


def xlogx_forgot_one(x):
    return np.sum(x * np.log(x)), np.log(x)


def log_tiny(x):
    """sum log(x) at x ~ 1e-10."""
    return np.sum(np.log(x)), 1 / x


# ------------------------------------------------------------------ norms
def norm(x):
    n = np.sqrt(np.sum(x * x))
    return n, x / n


def norm_forgot_sqrt(x):
    n = np.sqrt(np.sum(x * x))
    return n, x / (n * n)


def norm_cubed(x):
    """||x||^3, smooth at 0 (gradient 3 ||x|| x)."""
    n = np.sqrt(np.sum(x * x))
    return n ** 3, 3 * n * x


def norm_cubed_wrong(x):
    n = np.sqrt(np.sum(x * x))
    return n ** 3, 3 * n * n * x


# ------------------------------------------------------------------ products, polynomials
def product(x):
    """prod x over 100 entries near 1: d/dx_i = prod_{j != i} x_j."""
    g = np.array([np.prod(x[:i]) * np.prod(x[i + 1:]) for i in range(x.size)])
    return np.prod(x), g


def product_off_by_one(x):
    g = np.array([np.prod(x[:i]) * np.prod(x[i + 1:]) for i in range(x.size)])
    g[-1] = np.prod(x[:-2])  # the last one left out one factor too many
    return np.prod(x), g


def poly_cancel(x):
    """sum (x^4 - 4x^3 + 6x^2 - 4x + 1) = sum (x - 1)^4, expanded, at |x - 1| ~ 0.05..0.1."""
    return np.sum(x**4 - 4 * x**3 + 6 * x**2 - 4 * x + 1), 4 * x**3 - 12 * x**2 + 12 * x - 4


def poly_cancel_typo(x):
    return np.sum(x**4 - 4 * x**3 + 6 * x**2 - 4 * x + 1), 4 * x**3 - 12 * x**2 + 12 * x - 4.001


# ------------------------------------------------------------------ simple pieces, scaled
def quad(x):
    return np.sum(x**2), 2 * x


def rosenbrock(x):
    a, b = x[:-1], x[1:]
    cost = np.sum(100 * (b - a**2) ** 2 + (1 - a) ** 2)
    g = np.zeros_like(x)
    g[:-1] = -400 * a * (b - a**2) - 2 * (1 - a)
    g[1:] += 200 * (b - a**2)
    return cost, g


def rosenbrock_loop_bug(x):
    """g[1:] = instead of +=: the middle entries lose their first term."""
    a, b = x[:-1], x[1:]
    cost = np.sum(100 * (b - a**2) ** 2 + (1 - a) ** 2)
    g = np.zeros_like(x)
    g[:-1] = -400 * a * (b - a**2) - 2 * (1 - a)
    g[1:] = 200 * (b - a**2)
    return cost, g


def logsumexp(x):
    m = x.max()
    e = np.exp(x - m)
    return m + np.log(e.sum()), e / e.sum()


def scaled(f, c):
    def g(x):
        cost, grad = f(x)
        return c * cost, c * grad
    g.__name__ = f"{f.__name__}_x{c:g}"
    return g


def scaled_cost_only(f, c):
    def g(x):
        cost, grad = f(x)
        return c * cost, grad
    g.__name__ = f"{f.__name__}_x{c:g}_grad_unscaled"
    return g


def cubic_tiny(x):
    """sum x^3 + x^2 at x ~ 1e-10 (the issue's x ~ 1e-8 case, smaller)."""
    return np.sum(x**3 + x**2), 3 * x**2 + 2 * x


def cubic_tiny_67(x):
    cost, g = cubic_tiny(x)
    return cost, 1.67 * g


def log1p_sq(x):
    """sum log(1 + x^2), x mixing 1e-6 and 1e6."""
    return np.sum(np.log1p(x * x)), 2 * x / (1 + x * x)


def log1p_sq_typo(x):
    return np.sum(np.log1p(x * x)), 2 * x / (1 + x)


def quartic_mixed(x):
    """sum x^4 / 4 + sum x, x mixing 1e-6 and 1e3 (a tiny partial next to huge ones)."""
    return np.sum(x**4) / 4 + np.sum(x), x**3 + 1


def quartic_mixed_wrong(x):
    cost, g = quartic_mixed(x)
    g = g.copy()
    g[0] = x[0] ** 3  # the +1 forgotten on one entry (a tiny one)
    return cost, g


# ------------------------------------------------------------------ features at the scale of a tiny x
def pseudo_huber(r, eps=1e-6):
    """Charbonnier / pseudo-Huber sum sqrt(r^2 + eps^2), residuals ~ eps."""
    q = np.sqrt(r * r + eps * eps)
    return np.sum(q), r / q


def pseudo_huber_no_sqrt(r, eps=1e-6):
    return np.sum(np.sqrt(r * r + eps * eps)), r / (r * r + eps * eps) * eps


def tanh_tiny(x, s=1e-10):
    """sum tanh(x / s), x ~ s = 1e-10 (a soft step of width 1e-10)."""
    t = np.tanh(x / s)
    return np.sum(t), (1 - t * t) / s


def ratio_tiny(x, s=1e-10):
    """sum x^2 / (x^2 + s^2), x ~ s = 1e-10."""
    d = x * x + s * s
    return np.sum(x * x / d), 2 * x * s * s / (d * d)


# ------------------------------------------------------------------ float32 code
def float32_of(f):
    def g(x):
        x32 = np.asarray(x, dtype=np.float32)
        cost, grad = f(x32)
        return np.float32(cost), np.asarray(grad, dtype=np.float32)
    g.__name__ = f"{f.__name__}_f32"
    g.underlying = f
    return g


def f32_logreg(w):
    X, y = _XL.astype(np.float32), _YL.astype(np.float32)
    z = X @ w
    cost = np.mean(np.log1p(np.exp(z)) - y * z)
    p = np.float32(1) / (np.float32(1) + np.exp(-z))
    return cost, X.T @ (p - y) / np.float32(len(y))


def f32_logreg_bug(w):
    cost, g = f32_logreg(w)
    return cost, g * np.float32(1.001)


def f32_logreg_bug3(w):
    cost, g = f32_logreg(w)
    return cost, g * np.float32(1.003)


# ------------------------------------------------------------------ return types
def returns_python_float(x):
    return float(np.sum(np.sin(x) * x)), np.sin(x) + x * np.cos(x)


def returns_0d(x):
    return np.array(np.sum(np.cos(x) ** 2)), -2 * np.cos(x) * np.sin(x)


def returns_list(x):
    """grad as a nested Python list (the way a loop-built gradient comes back)."""
    g = [[2 * x[i, j] * np.exp(x[i, j] ** 2) for j in range(x.shape[1])] for i in range(x.shape[0])]
    return np.sum(np.exp(x**2)), g


def returns_list_bug(x):
    g = [[2 * x[i, j] * np.exp(x[i, j] ** 2) for j in range(x.shape[1])] for i in range(x.shape[0])]
    g[1][2] = 2 * x[1, 2] * np.exp(x[1, 2])  # x**2 forgotten inside exp at one entry
    return np.sum(np.exp(x**2)), g


def returns_python_float_bug(x):
    return float(np.sum(np.sin(x) * x)), np.sin(x) + np.cos(x)


# ------------------------------------------------------------------ sizes 1 .. 100,000
def one_entry(x):
    """sin(x) exp(x) of one entry."""
    return float(np.sin(x[0]) * np.exp(x[0])), np.array([np.exp(x[0]) * (np.sin(x[0]) + np.cos(x[0]))])


def one_entry_bug(x):
    return float(np.sin(x[0]) * np.exp(x[0])), np.array([np.exp(x[0]) * np.cos(x[0])])


def softplus_sum(x):
    """sum log(1 + exp(x)) (any size)."""
    return np.sum(np.logaddexp(0, x)), 1 / (1 + np.exp(-x))


def softplus_sum_one_bad(x):
    cost, g = softplus_sum(x)
    g = g.copy()
    g.flat[g.size // 3] = 1 / (1 + np.exp(x.flat[g.size // 3]))  # sign of the exponent, one entry
    return cost, g


def chain_1000(x):
    """sum_i (x_{i+1} - x_i^2)^2 / 4 + cos(x_i): a coupled 1,000-entry function."""
    a, b = x[:-1], x[1:]
    cost = np.sum((b - a * a) ** 2) / 4 + np.sum(np.cos(x))
    g = -np.sin(x)
    g[:-1] += -(b - a * a) * a
    g[1:] += (b - a * a) / 2
    return cost, g


def chain_1000_edge(x):
    a, b = x[:-1], x[1:]
    cost = np.sum((b - a * a) ** 2) / 4 + np.sum(np.cos(x))
    g = -np.sin(x)
    g[:-1] += -(b - a * a) * a
    g[1:-1] += (b[:-1] - a[:-1] * a[:-1]) / 2  # the last entry's coupling term dropped
    return cost, g


# ------------------------------------------------------------------ word2vec
_V, _D = 20, 8
_U = R(14).standard_normal((_V, _D)) * 0.3     # outside vectors
_O = 3                                           # the true outside word
_NEG = np.array([5, 11, 5, 17, 2, 11, 5])        # negative samples, repeats included


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def w2v_naive_softmax(v, U=_U, o=_O):
    """-log softmax(U v)[o] w.r.t. the centre vector v."""
    s = U @ v
    s = s - s.max()
    p = np.exp(s) / np.sum(np.exp(s))
    cost = -np.log(p[o])
    dp = p.copy()
    dp[o] -= 1
    return cost, U.T @ dp


def w2v_naive_softmax_bug(v, U=_U, o=_O):
    s = U @ v
    s = s - s.max()
    p = np.exp(s) / np.sum(np.exp(s))
    return -np.log(p[o]), U.T @ p - U[o] * p[o]


def w2v_negsample_outside(Uflat, v=R(15).standard_normal(_D), o=_O, neg=_NEG):
    """Negative-sampling loss w.r.t. the outside vectors U (repeated negatives accumulate)."""
    U = Uflat.reshape(_V, _D)
    so = _sigmoid(U[o] @ v)
    sn = _sigmoid(-U[neg] @ v)
    cost = -np.log(so) - np.sum(np.log(sn))
    g = np.zeros_like(U)
    g[o] += (so - 1) * v
    for k in neg:
        g[k] += (1 - _sigmoid(-U[k] @ v)) * v
    return cost, g.reshape(-1)


def w2v_negsample_outside_assign(Uflat, v=R(15).standard_normal(_D), o=_O, neg=_NEG):
    """The classic bug: g[neg] = ... (repeated negatives overwrite instead of adding)."""
    U = Uflat.reshape(_V, _D)
    so = _sigmoid(U[o] @ v)
    sn = _sigmoid(-U[neg] @ v)
    cost = -np.log(so) - np.sum(np.log(sn))
    g = np.zeros_like(U)
    g[o] += (so - 1) * v
    g[neg] = (1 - sn)[:, None] * v
    return cost, g.reshape(-1)


# ------------------------------------------------------------------ quadratic form, ill-conditioned
def _ill(n=8, cond=1e10, seed=16):
    q, _ = np.linalg.qr(R(seed).standard_normal((n, n)))
    return (q * np.logspace(0, -np.log10(cond), n)) @ q.T


_AILL = _ill()
_ANS = _AILL + np.triu(R(17).standard_normal((8, 8)), 1) * 1e-3  # not symmetric


def quad_form(x, A=_AILL):
    """x' A x, A symmetric with condition 1e10: gradient 2 A x."""
    return x @ A @ x, 2 * A @ x


def quad_form_nonsym(x, A=_ANS):
    """x' A x with A not symmetric: gradient (A + A') x."""
    return x @ A @ x, (A + A.T) @ x


def quad_form_nonsym_bug(x, A=_ANS):
    return x @ A @ x, 2 * A @ x


# ------------------------------------------------------------------ ReLU / max / abs
_WR = R(18).standard_normal((6, 5))


def relu_net(x, W=_WR):
    """sum relu(W x)^2 / 2 + sum |x| (away from kinks at a random x)."""
    z = W @ x
    a = np.maximum(z, 0)
    return 0.5 * np.sum(a * a) + np.sum(np.abs(x)), W.T @ a + np.sign(x)


def relu_net_mask_bug(x, W=_WR):
    z = W @ x
    a = np.maximum(z, 0)
    return 0.5 * np.sum(a * a) + np.sum(np.abs(x)), W.T @ z + np.sign(x)


def hinge(w, X=_XL, y=2 * _YL - 1):
    """mean max(0, 1 - y X w) (a kink only where a margin is exactly 1)."""
    m = 1 - y * (X @ w)
    active = m > 0
    return np.mean(np.maximum(m, 0)), -(X.T @ (y * active)) / len(y)


def hinge_bug(w, X=_XL, y=2 * _YL - 1):
    m = 1 - y * (X @ w)
    return np.mean(np.maximum(m, 0)), -(X.T @ y) / len(y)


def max_pair(x):
    """sum of max(x_2i, x_2i+1)."""
    p = x.reshape(-1, 2)
    g = np.zeros_like(p)
    g[np.arange(len(p)), p.argmax(axis=1)] = 1
    return np.sum(p.max(axis=1)), g.reshape(x.shape)


def abs_sum(x):
    return np.sum(np.abs(x)), np.sign(x)


def abs_sum_bug(x):
    g = np.sign(x)
    g[1] = -g[1]
    return np.sum(np.abs(x)), g


def relu_sum(x):
    return np.sum(np.maximum(x, 0)), (x > 0).astype(float)


def x_abs_x(x):
    """sum x |x|: differentiable at 0 (gradient 2|x|): NOT a kink."""
    return np.sum(x * np.abs(x)), 2 * np.abs(x)


# ------------------------------------------------------------------ the cases
THIS = sys.modules[__name__]


def _run(f, x):
    from gradcheck_cli import check_gradient

    return lambda mode=None: check_gradient(f, x, **({} if mode is None else {"mode": mode}))


def _truth(f, x, k=4):
    base = getattr(f, "underlying", f)
    hand = base(np.asarray(x, dtype=float))[1]
    return lambda: mp_truth(lambda z: base(z)[0], [x], [0], [np.asarray(hand, dtype=float)], [THIS], k=k)


def _damage(bug, ok, x):
    return lambda: compare(bug(x)[1], ok(x)[1])


def cases() -> list[Case]:
    r = R(0)
    C: list[Case] = []

    def ok(name, f, x, *, small=True, full=True, truth=True, expect="pass", note=""):
        C.append(Case("func", name, True, _run(f, x), _truth(f, x) if truth else None,
                      small=small, full=full, expect=expect, note=note))

    def bug(name, f, good, x, *, small=True, full=True):
        C.append(Case("func", name, False, _run(f, x), damage=_damage(f, good, x), small=small, full=full))

    W64 = r.standard_normal((6, 4))
    ok("softmax-CE max-shift 6x4", softmax_ce, W64)
    ok("softmax-CE mean no shift 6x4", softmax_ce_noshift_mean, W64)
    bug("softmax-CE [forgot -1 at the label]", softmax_ce_forgot_minus_one, softmax_ce, W64)
    bug("softmax-CE mean [forgot 1/N]", softmax_ce_mean_no_N, softmax_ce_noshift_mean, W64)
    w10 = r.standard_normal(10)
    ok("logistic regression 10", logreg, w10)
    bug("logistic regression [y - p sign]", logreg_sign, logreg, w10)
    ok("logistic + L2 (1e-2)", logreg_l2, w10)
    bug("logistic + L2 [reg factor 2 missing]", logreg_l2_half, logreg_l2, w10)
    w8 = r.standard_normal(8)
    ok("ridge 8", ridge, w8)
    bug("ridge [transposed reshape]", ridge_transposed, ridge, w8)
    rh = 1.5 * r.standard_normal(20)
    ok("huber delta 1", huber, rh)
    bug("huber [sign in the quadratic zone]", huber_sign_everywhere, huber, rh)
    xs = np.concatenate([1e-3 * r.standard_normal(8), 3 * r.standard_normal(4)])
    ok("smooth-L1 beta 1e-3", smooth_l1_beta, xs)
    bug("smooth-L1 beta 1e-3 [forgot /beta]", smooth_l1_beta_forgot_beta, smooth_l1_beta, xs)

    x0 = r.standard_normal(5)
    b = _barrier_b(x0)
    lb = lambda x, b=b: log_barrier(x, b=b)  # noqa: E731
    lb.__name__ = "log_barrier"
    lbb = lambda x, b=b: log_barrier_no_AT(x, b=b)  # noqa: E731
    ok("log-barrier slack 1e-6", lb, x0)
    bug("log-barrier [A' missing]", lbb, lb, x0)

    xe = 15 + 10 * r.random(10)
    ok("exp(2x) cost ~1e21", exp_big, xe)
    bug("exp(2x) [chain factor 2 missing]", exp_big_no_chain, exp_big, xe)
    ok("exp(-x) cost ~1e-13", exp_small, 30 + 10 * r.random(10))
    xt = 1e-10 * (1 + r.random(10))
    ok("x log x at x ~ 1e-10", xlogx, xt)
    bug("x log x at 1e-10 [+1 forgotten]", xlogx_forgot_one, xlogx, xt)
    xh = 1e10 * (1 + r.random(10))
    ok("x log x at x ~ 1e10", xlogx, xh)
    bug("x log x at 1e10 [+1 forgotten]", xlogx_forgot_one, xlogx, xh)
    ok("log x at x ~ 1e-10", log_tiny, 1e-10 * (1 + r.random(10)))

    xn = r.standard_normal(10)
    ok("||x|| 10", norm, xn)
    bug("||x|| [x/||x||^2]", norm_forgot_sqrt, norm, xn)
    ok("||x||^3 at x = 0", norm_cubed, np.zeros(5), truth=False, note="gradient 0 = exact")
    xz = 1e-4 * r.standard_normal(5)
    ok("||x||^3 at x ~ 1e-4", norm_cubed, xz)
    bug("||x||^3 at 1e-4 [3||x||^2 x]", norm_cubed_wrong, norm_cubed, xz)

    xp = 1 + 0.05 * r.standard_normal(100)
    ok("prod of 100 entries", product, xp)
    bug("prod of 100 [last entry off by one]", product_off_by_one, product, xp)
    xc = 1 + 0.05 * (1 + r.random(10)) * r.choice([-1, 1], 10)
    ok("(x-1)^4 expanded, |x-1| ~ 0.05..0.1", poly_cancel, xc)
    bug("(x-1)^4 expanded [4.001]", poly_cancel_typo, poly_cancel, xc)

    for c in (1e-12, 1e12):
        xq = r.standard_normal((3, 4))
        ok(f"quad x {c:g}", scaled(quad, c), xq)
        bug(f"quad x {c:g} [grad not scaled]", scaled_cost_only(quad, c), scaled(quad, c), xq)
        ok(f"rosenbrock 10 x {c:g}", scaled(rosenbrock, c), r.standard_normal(10))
    xr = r.standard_normal(20)
    ok("rosenbrock 20", rosenbrock, xr)
    bug("rosenbrock [= for +=]", rosenbrock_loop_bug, rosenbrock, xr)
    ok("logsumexp 50", logsumexp, r.standard_normal(50))
    ok("float32 logsumexp 20", float32_of(logsumexp), r.standard_normal(20))
    ok("quad 100x100 (README)", quad, r.standard_normal((100, 100)), small=False)
    x8 = 1e-8 * r.standard_normal(12)
    ok("x^3 + x^2 at x ~ 1e-8", cubic_tiny, x8)
    bug("x^3 + x^2 at 1e-8 [67%] (issue 16)", cubic_tiny_67, cubic_tiny, x8)
    x10 = 1e-10 * r.standard_normal(12)
    ok("x^3 + x^2 at x ~ 1e-10", cubic_tiny, x10)
    bug("x^3 + x^2 at 1e-10 [67%]", cubic_tiny_67, cubic_tiny, x10)

    xm = np.array([1e-6, -2e-6, 3e6, 1e6, -1e-6, 2e6, 0.5, -1.5])
    ok("log(1+x^2), x 1e-6 next to 1e6", log1p_sq, xm)
    bug("log(1+x^2) mixed [2x/(1+x)]", log1p_sq_typo, log1p_sq, xm)
    xq4 = np.array([1e-6, 2e3, -1e3, 3e-6, 1.0])
    ok("x^4/4 + x, x 1e-6 next to 1e3", quartic_mixed, xq4,
       note="d/dx at 1e-6 is ~1 next to 8e9: float64 cost 1e13 rounds at 1e-3")
    bug("x^4/4 + x mixed [+1 lost on a tiny entry]", quartic_mixed_wrong, quartic_mixed, xq4)

    _Xb, _yb = R(19).standard_normal((500, 100)), R(20).integers(0, 10, 500)
    Wb = 0.01 * r.standard_normal((100, 10))
    ok("softmax-CE 100x10, 500 samples (sum)", lambda W: softmax_ce(W, _Xb, _yb), Wb, small=False)
    C[-1].truth = _truth(lambda W: softmax_ce(W, _Xb, _yb), Wb, k=3)
    Wc = 1e-4 * R(25).standard_normal((3073, 10))
    ok("CS231n softmax 3073x10, reg 2.5e4", cs231n_softmax, Wc, small=False, full=False)
    # truth: the same code on the first 30 features of 20 samples (mpmath at full size takes hours)
    C[-1].truth = _truth(lambda W: cs231n_softmax(W, _XC[:20, :30], _YC[:20]), Wc[:30], k=4)
    bug("CS231n softmax [reg gradient reg W]", cs231n_softmax_reg_once, cs231n_softmax, Wc, small=False, full=False)
    ok("CS231n SVM 3073x10, reg 2.5e4", cs231n_svm, Wc, small=False, full=False)
    C[-1].truth = _truth(lambda W: cs231n_svm(W, _XC[:20, :30], _YC[:20]), Wc[:30], k=4)
    xph = 1e-6 * R(5).standard_normal(6)
    ok("pseudo-Huber eps 1e-6, r ~ 1e-6", pseudo_huber, xph)
    bug("pseudo-Huber eps 1e-6 [sqrt forgotten]", pseudo_huber_no_sqrt, pseudo_huber, xph)
    xtt = 1e-10 * R(22).standard_normal(6)
    ok("tanh(x/1e-10), x ~ 1e-10", tanh_tiny, xtt)
    ok("x^2/(x^2+1e-20), x ~ 1e-10", ratio_tiny, xtt)
    wf = r.standard_normal(10)
    ok("float32 logistic regression", float32_of(logreg), wf)
    ok("float32 softmax-CE", float32_of(softmax_ce), W64)
    ok("float32 quad 3x4", float32_of(quad), r.standard_normal((3, 4)))
    w32 = wf.astype(np.float32)
    C.append(Case("func", "float32 logistic [x1.001 in float32]", False, _run(float32_of(f32_logreg_bug), wf),
                  damage=lambda: compare(f32_logreg_bug(w32)[1], f32_logreg(w32)[1]),
                  note="rel 9.99e-4: inside the float32 default pass tol 1e-3 (a boundary case)"))
    C.append(Case("func", "float32 logistic [x1.003 in float32]", False, _run(float32_of(f32_logreg_bug3), wf),
                  damage=lambda: compare(f32_logreg_bug3(w32)[1], f32_logreg(w32)[1])))

    x3 = r.standard_normal((3, 4))
    ok("returns Python float", returns_python_float, x3, truth=False)
    C[-1].truth = lambda: mp_truth(lambda z: np.sum(np.sin(z) * z), [x3], [0], [returns_python_float(x3)[1]], [THIS])
    bug("returns Python float [product rule half]", returns_python_float_bug, returns_python_float, x3)
    ok("returns 0-d array", returns_0d, x3)
    ok("returns nested list", returns_list, x3)
    bug("returns nested list [one entry]", returns_list_bug, returns_list, x3)

    x1 = np.array([0.7])
    ok("1 entry", one_entry, x1, truth=False)
    C[-1].truth = lambda: mp_truth(lambda z: np.sin(z[0]) * np.exp(z[0]), [x1], [0], [one_entry(x1)[1]], [THIS])
    bug("1 entry [product rule half]", one_entry_bug, one_entry, x1)
    ok("softplus 10", softplus_sum, r.standard_normal(10))
    x1k = r.standard_normal(1000)
    ok("coupled 1,000", chain_1000, x1k)
    bug("coupled 1,000 [last coupling dropped]", chain_1000_edge, chain_1000, x1k)
    x100k = r.standard_normal(100_000)
    ok("softplus 100,000", softplus_sum, x100k, small=False, full=False)
    bug("softplus 100,000 [one entry]", softplus_sum_one_bad, softplus_sum, x100k, small=False, full=False)

    v = r.standard_normal(_D)
    ok("word2vec naive softmax (centre)", w2v_naive_softmax, v)
    bug("word2vec naive softmax [U'p - U_o p_o]", w2v_naive_softmax_bug, w2v_naive_softmax, v)
    Uf = 0.3 * r.standard_normal(_V * _D)
    ok("word2vec neg-sampling (outside, repeats)", w2v_negsample_outside, Uf)
    bug("word2vec neg-sampling [= on repeated negatives]", w2v_negsample_outside_assign, w2v_negsample_outside, Uf)

    xa = r.standard_normal(8)
    ok("x'Ax, cond 1e10", quad_form, xa)
    ok("x'Ax, A not symmetric", quad_form_nonsym, xa)
    bug("x'Ax not symmetric [2Ax]", quad_form_nonsym_bug, quad_form_nonsym, xa)

    xrl = r.standard_normal(5)
    ok("relu net + |x| (no kink)", relu_net, xrl)
    bug("relu net [mask missing]", relu_net_mask_bug, relu_net, xrl)
    ok("hinge 10 (no kink)", hinge, w10)
    bug("hinge [inactive margins counted]", hinge_bug, hinge, w10)
    ok("max of pairs (no tie)", max_pair, r.standard_normal(8))
    ok("x|x| at x = 0 (not a kink)", x_abs_x, np.array([0.0, 1.3, -0.4, 0.0]), truth=False,
       note="d/dx x|x| = 2|x|: exact")
    xk = r.standard_normal(6)
    xk[2] = 0.0
    ok("|x| with an entry at 0 (kink)", abs_sum, xk, truth=False, expect="kink")
    bug("|x| at a kink [sign flipped elsewhere]", abs_sum_bug, abs_sum, xk)
    xk2 = r.standard_normal(6)
    xk2[[1, 4]] = 0.0
    ok("relu with entries at 0 (kink)", relu_sum, xk2, truth=False, expect="kink")
    xt2 = np.array([0.3, 0.3, -1.0, 2.0])
    ok("max of a tied pair (kink)", max_pair, xt2, truth=False, expect="kink")
    return C
