"""Second-order checks: Hessian entries by finite differences, Hessian-vector symmetry.

numpy only: sympy's partials arrive as compiled functions, user gradients as callables.

Hessian entries (``gradcheck expr --order 2``)
    An entry ``H_ab = d2f / (da db)`` is checked against the finite-difference
    derivative, with respect to ``b``, of the first partial ``g_a = df/da``::

        H_ab  ~  (g_a(x + h e_b) - g_a(x - h e_b)) / 2h

    computed by :func:`finite_diff.estimate_gradient` on ``g_a`` (sympy's partial, also
    when the entry is a claimed one), so the adaptive step ladder, the noise model and
    hence the verdict floor are exactly those of first order, one derivative higher: the
    noise is in units of ``f''``.  Each needed row ``a`` costs one vectorised call of
    ``g_a``.

Hessian-vector symmetry (``net`` / ``func --hvp K``)
    If ``g = grad f`` for a twice-differentiable ``f``, its Jacobian ``H`` is the
    (symmetric) Hessian, so for every pair of directions ``u, v``::

        u^T H v  =  v^T H u.

    A field whose Jacobian is not symmetric is the gradient of no function at all, so
    the test catches a gradient with a mixed-up index or a missing transpose without
    any reference value.  It is necessary, not sufficient: ``2 grad f`` passes.
    ``H v`` is the directional central difference of the user's gradient::

        D_v(h) = (g(x + h v) - g(x - h v)) / 2h,   h = eps**(1/3) max(1, max|x|)

    with ``u, v`` independent standard normal vectors scaled to unit length (seeded).
    Its error per component is ``finite_diff.central_from_values`` (from ``D_v(4h)``:
    truncation ``|D(4h) - D(h)| / 15`` plus round-off ``4 eps max|g| / h``, times the
    safety factor), and ``noise(u^T D_v) = sum_i |u_i| noise_i``.  The verdict is the
    contract's::

        rel = |u^T H v - v^T H u| / max(|u^T H v|, |v^T H u|, floor),
        floor = (noise(u^T H v) + noise(v^T H u)) / pass_tol.

    One product costs 8 calls of ``g`` (``x ± h v``, ``x ± 4 h v``, and the same for
    ``u``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

from .errors import OptionError, UserCodeError
from .finite_diff import REL_STEP, Estimate, Method, central_from_values, estimate_gradient
from .results import Check
from .verdict import Status, Thresholds, assess


# ------------------------------------------------------------------ Hessian entries
def parse_hessian_claim(text: str) -> tuple[str, str, str]:
    """``"x,y=2*x"`` -> ``("x", "y", "2*x")``; ``"x=6*x"`` is the diagonal ``x,x``.

    Names are not checked against the expression here (the caller knows them).
    """
    head, eq, body = text.partition("=")
    names = [n.strip() for n in head.split(",")]
    if not eq or not body.strip() or not 1 <= len(names) <= 2 or not all(n.isidentifier() for n in names):
        raise OptionError(f'--hessian {text!r}: write "x,y=EXPR" for d2f/dxdy (or "x=EXPR" for d2f/dx2)')
    a, b = names if len(names) == 2 else (names[0], names[0])
    return a, b, body.strip()


def hessian_pairs(wrt: Sequence[str]) -> list[tuple[str, str]]:
    """The entries checked when none is claimed: the upper triangle ``(a, b)``, ``a <= b``
    in ``wrt`` order (the Hessian of a C2 function is symmetric)."""
    return [(a, b) for i, a in enumerate(wrt) for b in wrt[i:]]


def entry_name(a: str, b: str) -> str:
    """The Check name of a Hessian entry: ``"x,y"``."""
    return f"{a},{b}"


def entry_label(a: str, b: str) -> str:
    """``d2/dx2`` or ``d2/dxdy``, for headers."""
    return f"d2/d{a}2" if a == b else f"d2/d{a}d{b}"


def hessian_rows(
    partials: Mapping[str, Callable[[np.ndarray], np.ndarray]],
    points: np.ndarray,
    method: Method = Method.CENTRAL,
    step: float | None = None,
) -> dict[str, Estimate]:
    """Finite-difference gradients of each first partial ``g_a`` (a row of the Hessian).

    ``partials`` maps a row name to a vectorised ``g_a`` (as for ``estimate_gradient``);
    each result has shape ``(P, n)``: column ``b`` estimates ``H_ab`` with its noise and
    step.
    """
    return {a: estimate_gradient(g, points, method, step) for a, g in partials.items()}


# ------------------------------------------------------------------ Hessian-vector symmetry
@dataclass(frozen=True)
class HvpResult:
    """One symmetry test: ``u^T H v`` against ``v^T H u`` with its noise and verdict."""

    index: int
    u_hv: float
    v_hu: float
    noise: float
    floor: float
    rel_error: float
    status: Status


def _validate_hvp(x: np.ndarray, k: int, seed: int) -> np.ndarray:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise OptionError(f"--hvp must be a whole number >= 1, got {k!r}")
    flat = np.array(x, dtype=float).ravel()
    if flat.size == 0:
        raise OptionError("--hvp: x is empty")
    if not np.all(np.isfinite(flat)):
        raise OptionError("--hvp: x has non-finite entries")
    return flat


def _grad(grad_fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> np.ndarray:
    g = np.array(grad_fn(x.copy()), dtype=float).ravel()
    if g.shape != x.shape:
        raise UserCodeError(f"the gradient has {g.size} entries, expected {x.size} (one per entry of x)")
    return g


def _directional(grad_fn, x: np.ndarray, v: np.ndarray, h: float) -> tuple[np.ndarray, np.ndarray]:
    """``(D_v(h), noise)`` per component: central difference of g along v."""
    plus, minus = _grad(grad_fn, x + h * v), _grad(grad_fn, x - h * v)
    plus4, minus4 = _grad(grad_fn, x + 4 * h * v), _grad(grad_fn, x - 4 * h * v)
    return central_from_values(plus, minus, plus4, minus4, np.full(x.shape, h))


def hvp_symmetry(
    grad_fn: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    k: int,
    seed: int = 0,
    thresholds: Thresholds = Thresholds(),
    step: float | None = None,
) -> list[HvpResult]:
    """``k`` symmetry tests ``u^T H v = v^T H u`` of the gradient field ``grad_fn``.

    ``grad_fn`` maps a flat ``x`` (``n`` entries) to the flat gradient at ``x``;
    ``x`` may have any shape (it is flattened).  Directions are drawn from
    ``numpy.random.default_rng(seed)``; ``step`` fixes ``h`` (default
    ``eps**(1/3) max(1, max|x|)``).  See the module docstring for the formulas.
    A gradient that is not finite near ``x`` gives ``status = fail``.

    >>> A = np.array([[2.0, 1.0], [1.0, 3.0]])
    >>> [r.status.value for r in hvp_symmetry(lambda x: A @ x, np.ones(2), 2)]
    ['pass', 'pass']
    """
    flat = _validate_hvp(x, k, seed)
    h = REL_STEP * max(1.0, float(np.max(np.abs(flat)))) if step is None else float(step)
    rng = np.random.default_rng(seed)
    results = []
    for i in range(k):
        u, v = rng.standard_normal((2, flat.size))
        u, v = u / np.linalg.norm(u), v / np.linalg.norm(v)
        hv, noise_hv = _directional(grad_fn, flat, v, h)
        hu, noise_hu = _directional(grad_fn, flat, u, h)
        with np.errstate(all="ignore"):
            u_hv, v_hu = float(u @ hv), float(v @ hu)
            noise = float(np.abs(u) @ noise_hv + np.abs(v) @ noise_hu)
        # issue 9: the interval rule (v^T H u is the estimate, its noise the bound)
        res = assess(u_hv, v_hu, noise, thresholds)
        floor, rel, status = float(res.floor), float(res.rel), Status(np.asarray(res.statuses, dtype=object).ravel()[0])
        results.append(HvpResult(i, u_hv, v_hu, noise, floor, rel, status))
    return results


def hvp_checks(results: Sequence[HvpResult]) -> tuple[Check, ...]:
    """Report rows for :func:`hvp_symmetry`: name ``hvp``, index ``(k,)``,
    ``analytic = u^T H v``, ``numeric = v^T H u``."""
    return tuple(
        Check(name="hvp", analytic=r.u_hv, numeric=r.v_hu, rel_error=r.rel_error,
              status=r.status, floor=r.floor, index=(r.index,))
        for r in results
    )
