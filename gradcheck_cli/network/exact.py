"""Products of the built-in network in extended precision, with rigorous error bounds.

numpy only; imports nothing of the network (``model`` and ``precise`` use it).
``affine(a, W, b)`` returns ``a W + b`` in ``np.longdouble`` and a bound of its error,
computed with float64 BLAS products that are exact by construction (Ozaki's splitting);
``matmul`` is a plain product that stays on OpenBLAS's one-thread path.
"""

from __future__ import annotations

import numpy as np

LD = np.longdouble
EPS_LD = float(np.finfo(LD).eps)
#: multiply-adds of a product OpenBLAS keeps on one thread (``matmul``)
_SMALL_GEMM = 1_000_000
#: work arrays of at most this many longdouble numbers (``_affine_running``)
_CHUNK = 1_000_000


def _gamma(n: float) -> float:
    """``n eps / (1 - n eps)``: the classic bound of n roundings in longdouble."""
    return n * EPS_LD / (1.0 - n * EPS_LD)


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for 2-D arrays, in row blocks of at most ``_SMALL_GEMM`` multiply-adds.

    Why: OpenBLAS runs such products on one thread (its small-matrix path), while a
    threaded call on a busy machine waits for its second thread to be scheduled (about
    10 ms per call measured on the 2-core machine of issue 11, against 0.1 ms for the
    product itself).  The flops are the same; only the hand-offs go.
    """
    m, k = a.shape
    n = b.shape[1]
    rows = max(1, _SMALL_GEMM // max(1, k * n))
    if m <= rows:
        return a @ b
    out = np.empty((m, n), dtype=np.result_type(a, b))
    for r0 in range(0, m, rows):
        np.matmul(a[r0 : r0 + rows], b, out=out[r0 : r0 + rows])
    return out



#: bits per slice of the exact products (``_slices``); 4 slices of each factor are kept
_SLICE_BITS = 20
_SLICES = 4


def _slices(v, axis: int) -> tuple[list, np.ndarray]:
    """``v = sum_i s_i + r``: float64 slices whose entries are integers of at most
    ``_SLICE_BITS`` bits times a power of 2 common to a row (``axis=1``) or column
    (``axis=0``), each slice's unit ``2**(_SLICE_BITS + 1)`` times finer than the last;
    the residual ``r`` (longdouble) is below ``2**(-84)`` of the row's largest entry."""
    v = np.asarray(v)
    r = v.astype(LD if v.dtype == LD else float)  # float64 input: sliced exactly in float64
    m = np.max(np.abs(r), axis=axis, keepdims=True).astype(float)
    e = np.where(m > 0, np.ceil(np.log2(np.where(m > 0, m, 1.0))) - _SLICE_BITS, 0.0)
    grid = np.ldexp(np.ones_like(e), e.astype(int)).astype(r.dtype)
    out = []
    for _ in range(_SLICES):
        q = np.rint(r / grid) * grid  # rint: np.round's decimals path is ~10x slower in float64
        out.append(q.astype(float))
        r = r - q
        grid = grid * r.dtype.type(2.0) ** -(_SLICE_BITS + 1)
    return out, r


def affine(a, W, b) -> tuple[np.ndarray, np.ndarray]:
    """``(a W + b, bound)``: the product in longdouble and a rigorous bound of its error.

    Ozaki's splitting: ``a`` and ``W`` are cut into slices (``_slices``) whose pairwise
    products float64 computes *exactly* (every partial sum is an integer below 2**53
    times a common unit, whatever the order of the BLAS sums: ``D <= 2**12``); the 16
    exact pair products are added in longdouble, smallest first, and the two residuals'
    products (``r_a W + a r_W``, below 2**-84 of the largest product) in float64.  The bound
    holds those float64 products' rounding and the longdouble additions (Wilkinson's running
    bound ``eps sum_k |s_k|``, about ``eps |z|`` in this order).  Wider layers are
    summed in order (``cumsum``) under Wilkinson's running bound instead; narrow ones
    (``_PLAIN_RATIO``) are a plain longdouble product under the classic ``gamma_n`` bound.
    """
    M, D = a.shape
    if D * W.shape[1] <= _PLAIN_RATIO * (D + W.shape[1]):
        return _affine_plain(a, W, b)
    if D > 2 ** 12 or not np.all(np.isfinite(np.asarray(a, dtype=float))):
        return _affine_running(a, W, b)
    A, ra = _slices(a, axis=1)
    B, rb = _slices(W, axis=0)
    z = np.zeros((M, W.shape[1]), dtype=LD)
    # Wilkinson's running bound needs sum_k |s_k| <= sum_m (n - m + 1) |term_m| (n terms):
    # smallest pieces first, so the large terms carry the small weights
    order = sorted(((i, j) for i in range(_SLICES) for j in range(_SLICES)), key=lambda ij: -sum(ij))
    run = np.zeros((M, W.shape[1]))
    for m, (i, j) in enumerate(order):
        term = matmul(A[i], B[j])
        z += term
        run += (len(order) - m) * np.abs(term)
    a64 = np.asarray(a, dtype=float)
    W64 = np.asarray(W, dtype=float)
    left = np.zeros((M, W.shape[1]))
    if np.any(ra):
        ra64 = ra.astype(float)
        z += matmul(ra64, W64)
        left += matmul(np.abs(ra64), np.abs(W64)) + np.abs(ra - ra64).astype(float) @ np.abs(W64)
    if np.any(rb):
        rb64 = rb.astype(float)
        z += matmul(a64, rb64)
        left += matmul(np.abs(a64), np.abs(rb64)) + matmul(np.abs(a64), np.abs(rb - rb64).astype(float))
    z += b
    left *= 2 * D * 2.0 ** -52 + 1e-300  # the float64 sums of the residual products
    # each longdouble addition rounds by at most eps of its result (the residuals' and the
    # bias's additions: three more partial sums, each at most |z| + the bound)
    bound = left + EPS_LD * (1 + 1e-6) * (run + 3 * np.abs(z).astype(float) + 3 * left)
    return z, bound


#: ``affine`` takes a plain longdouble product when ``D N <= _PLAIN_RATIO (D + N)``: its
#: loop costs ~M D N, the slices ~M (D + N) a few dozen times over (measured: about equal at 50 x 30, 5x faster at 30 x 10, 3x slower at 784 x 100)
_PLAIN_RATIO = 20


def _affine_plain(a, W, b) -> tuple[np.ndarray, np.ndarray]:
    """``affine`` for narrow layers: a longdouble product, bounded by the classic
    ``|fl(a W + b) - (a W + b)| <= gamma_{D+1} (|a| |W| + |b|)`` (any order of the sums)."""
    D = a.shape[1]
    z = np.asarray(a).astype(LD) @ np.asarray(W).astype(LD) + np.asarray(b).astype(LD)
    size = matmul(np.abs(np.asarray(a, dtype=float)), np.abs(np.asarray(W, dtype=float))) + np.abs(np.asarray(b, dtype=float))
    # the float64 sums of non-negative terms: 1 + 2 (D + 2) eps64 covers their own rounding
    bound = _gamma(D + 1) * (1 + 2 * (D + 2) * 2.0 ** -52) * size + 1e-300
    return z, bound


def _affine_running(a, W, b) -> tuple[np.ndarray, np.ndarray]:
    """``affine`` for wide layers: sequential sums with Wilkinson's running error bound."""
    M, D = a.shape
    out = np.empty((M, W.shape[1]), dtype=LD)
    bound = np.empty((M, W.shape[1]))
    step = max(1, _CHUNK // max(1, M * D))
    for c0 in range(0, W.shape[1], step):
        c = slice(c0, c0 + step)
        prods = a[:, :, None] * W[None, :, c]  # (M, D, C)
        partial = np.cumsum(prods, axis=1)
        z = partial[:, -1, :] + b[0, c]
        out[:, c] = z
        run = np.sum(np.abs(partial), axis=1) + np.sum(np.abs(prods), axis=1) + np.abs(z)
        bound[:, c] = (EPS_LD * (1 + 1e-3)) * run.astype(float)
    return out, bound
