"""What the audit corpus modules share: the case record, and the 50-digit truth.

A case is ``Case(kind, name, correct, run, ...)``: ``run(mode)`` checks the user's code
through the library API (``mode=None``: what a user gets by default) and returns the
report.  A correct case carries ``truth()``: the hand-derived gradient at a sample of
entries of every differentiated array against the derivative of the case's own cost
computed by mpmath at 50 digits (``mp_truth``).  A wrong case carries ``damage()``:
how many entries its bug changes and by how much (its gradient against the correct
code's, in float64), so every bug is known to be a real one.

The truth runs the *same* numpy code the user wrote on arrays of mpmath numbers: while
it runs, the modules' global ``np`` is replaced by ``MpNumpy``, which hands elementwise
transcendental functions (exp, log, tanh, sqrt, ...) to mpmath and makes the
array constructors (zeros, ones, ...) build object arrays; everything else (+, *, @,
sum, max, where, indexing) numpy already does exactly on objects.  The derivative of
``t -> cost(x + t e_k)`` at 0 is ``mpmath.diff`` at 50 digits.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Callable

import mpmath as mp
import numpy

DIGITS = 50


@dataclass
class Case:
    kind: str                      # "func", "net --impl", "layer"
    name: str
    correct: bool
    run: Callable[[Any], Any]      # run(mode) -> Report (mode None: the user's default)
    truth: Callable[[], list] | None = None   # correct cases: [(label, hand, true), ...]
    damage: Callable[[], tuple] | None = None  # wrong cases: (entries changed, of, max rel change)
    small: bool = True             # fast enough for the pytest subset
    expect: str = "pass"           # a correct case's status: "pass", "kink" at a kink, "either"
    full: bool = True              # run in --mode full too (False: too big for every entry)
    note: str = ""
    module: str = ""               # the corpus module (set by audit_usercode.all_cases)


# ------------------------------------------------------------------ numpy on mpmath numbers
def _vec(f):
    vf = numpy.vectorize(f, otypes=[object])

    def g(a, *args, **kwargs):
        if isinstance(a, numpy.ndarray):
            return vf(a.astype(object))
        return f(a)

    return g


def _objects(ctor):
    def g(*args, **kwargs):
        kwargs["dtype"] = object
        out = ctor(*args, **kwargs)
        return out

    return g


class _MpLinalg:
    def __getattr__(self, name):
        return getattr(numpy.linalg, name)

    @staticmethod
    def norm(v, *args, **kwargs):
        v = numpy.asarray(v, dtype=object).ravel()
        return mp.sqrt(sum(e * e for e in v))


class MpNumpy:
    """numpy with mpmath's elementwise functions (used while the truth is computed)."""

    exp = staticmethod(_vec(mp.exp))
    log = staticmethod(_vec(mp.log))
    log1p = staticmethod(_vec(mp.log1p))
    expm1 = staticmethod(_vec(mp.expm1))
    tanh = staticmethod(_vec(mp.tanh))
    cosh = staticmethod(_vec(mp.cosh))
    sinh = staticmethod(_vec(mp.sinh))
    sin = staticmethod(_vec(mp.sin))
    cos = staticmethod(_vec(mp.cos))
    sqrt = staticmethod(_vec(mp.sqrt))
    sign = staticmethod(_vec(mp.sign))
    zeros = staticmethod(_objects(numpy.zeros))
    ones = staticmethod(_objects(numpy.ones))
    empty = staticmethod(lambda *a, **k: numpy.zeros(*a, **{**k, "dtype": object}))
    zeros_like = staticmethod(_objects(numpy.zeros_like))
    ones_like = staticmethod(_objects(numpy.ones_like))
    empty_like = staticmethod(lambda a, **k: numpy.zeros_like(a, dtype=object))
    linalg = _MpLinalg()

    @staticmethod
    def logaddexp(a, b):
        return MpNumpy.log(MpNumpy.exp(a) + MpNumpy.exp(b))

    def __getattr__(self, name):
        return getattr(numpy, name)


MP = MpNumpy()


@contextlib.contextmanager
def mp_numpy(*modules):
    """Within: the modules' global ``np`` is ``MP`` and mpmath works at ``DIGITS``."""
    saved = [m.np for m in modules]
    old = mp.mp.dps
    mp.mp.dps = DIGITS
    for m in modules:
        m.np = MP
    try:
        yield
    finally:
        for m, s in zip(modules, saved):
            m.np = s
        mp.mp.dps = old


def to_mp(a):
    a = numpy.asarray(a)
    if a.dtype.kind in "iub":
        return a
    return numpy.vectorize(lambda v: mp.mpf(float(v)), otypes=[object])(a)


def sample_entries(size: int, k: int, seed: int = 0) -> list[int]:
    """``k`` flat indices (first, last and random ones)."""
    if size <= k:
        return list(range(size))
    rng = numpy.random.default_rng(seed)
    return sorted({0, size - 1, *rng.choice(size, k - 2, replace=False).tolist()})


def mp_truth(cost, arrays: list, wrt: list[int], hand: list, modules, k: int = 4,
             before_call: Callable[[], None] | None = None) -> list:
    """``[(label, hand, true)]`` at ``k`` entries of each ``arrays[i]``, i in ``wrt``.

    ``cost(*arrays)`` is the user's scalar cost; ``hand[j]`` the gradient they derived
    for ``arrays[wrt[j]]``; ``true`` is d cost / d entry by ``mpmath.diff`` at 50 digits
    on the same code (``mp_numpy``).  ``before_call`` runs before every evaluation (to
    reseed the random numbers a layer draws)."""
    out = []
    with mp_numpy(*modules):
        base = [to_mp(a) for a in arrays]
        for j, i in enumerate(wrt):
            shape = numpy.shape(arrays[i])
            size = int(numpy.prod(shape))
            for e in sample_entries(size, k, seed=i):
                def along(t, i=i, e=e):
                    args = list(base)
                    a = base[i].copy().reshape(-1)
                    a[e] = a[e] + t
                    args[i] = a.reshape(shape)
                    if before_call:
                        before_call()
                    c = cost(*args)
                    return mp.mpf(c.reshape(-1)[0] if isinstance(c, numpy.ndarray) else c)
                true = mp.diff(along, 0)
                hj = numpy.asarray(hand[j], dtype=float).reshape(-1)
                out.append((f"a{i}[{e}]", float(hj[e]), true, float(numpy.max(numpy.abs(hj), initial=0.0))))
    return out


def truth_rel(rows, floored: bool = False) -> float:
    """The largest |hand - true| / |true| over the rows (0 if all exact).

    ``floored``: relative to max(|true|, 1e-7 scale) instead (scale: the largest |hand| of
    the row's array), so an entry whose error is at the round-off of the gradient's own
    scale counts as right (1 - tanh^2 at saturation holds 1e-11 to a few digits only, with an
    absolute error of 1e-17 against a gradient of 1): with acceptance at 1e-8, an entry is
    right when it is within 1e-8 of the truth or within ~4 eps * scale of it."""
    worst = 0.0
    for _, h, t, scale in rows:
        d = abs(mp.mpf(h) - t)
        den = max(abs(t), mp.mpf(1e-7 * scale) if floored else 0, mp.mpf("1e-300"))
        worst = max(worst, float(d / den) if d else 0.0)
    return worst


def compare(got, ref) -> tuple[int, int, float]:
    """(entries that differ by rel > 1e-6, of how many, largest rel difference)."""
    got = [numpy.asarray(g, dtype=float).ravel() for g in (got if isinstance(got, (list, tuple)) else [got])]
    ref = [numpy.asarray(r, dtype=float).ravel() for r in (ref if isinstance(ref, (list, tuple)) else [ref])]
    g, r = numpy.concatenate(got), numpy.concatenate(ref)
    rel = numpy.abs(g - r) / numpy.maximum(numpy.maximum(numpy.abs(g), numpy.abs(r)), 1e-300)
    return int(numpy.sum(rel > 1e-6)), g.size, float(rel.max()) if rel.size else 0.0
