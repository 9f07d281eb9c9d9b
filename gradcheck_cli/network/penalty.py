"""An L2 penalty told apart from a wrong cost: ``net --impl``'s cost check.

numpy only.  CS224n / CS231n networks often add ``c sum_l ||W_l||**2`` to the cost (the
reference cost has none), so the user's cost differs from the reference while both are
right.  Such a difference is recognised only where both of its faces agree:

- the costs: ``d = yours - reference > 0`` beyond the cost's round-off, which fixes
  ``c = d / Q`` with ``Q = sum_{b in S} ||P_b||**2`` over the penalised blocks S (the
  weights; or the weights and the biases);
- the gradients: ``yours' - reference' = 2 c P_b`` on every block of S and 0 on the
  others, to round-off: ``||dg_S - 2 c P_S|| <= tau ||2 c P_S||`` and
  ``||dg_rest|| <= tau ||2 c P_S||`` with ``tau = max(1e-6, 1e4 eps)`` (``eps`` the code's
  precision: float32 code gets 1.2e-3).

A penalty whose gradient is forgotten (``dg = 0``) or halved (``c W`` for ``2 c W``) is off
by 100% or 50% of ``2 c W``: not an L2 penalty, so the cost check warns as for any other
difference (and the gradient check fails it on its own).  A cost difference of another
kind (a mean for a sum, a missing term) has a gradient that is not ``2 c P`` at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .model import NetworkSpec

#: the least relative agreement asked of ``dg`` and ``2 c P`` (float64 code; float32: 1e4 eps)
TAU = 1e-6


@dataclass(frozen=True)
class L2Penalty:
    """``yours = reference + c * sum_{b in blocks} ||b||**2``, checked on cost and gradient."""

    c: float
    blocks: tuple[str, ...]
    #: ``||dg - 2 c P|| / ||2 c P||`` over every block (the agreement shown)
    mismatch: float

    def formula(self) -> str:
        """``5e-4 * (|W1|^2 + |W2|^2)``."""
        return f"{coefficient_text(self.c)} * (" + " + ".join(f"|{b}|^2" for b in self.blocks) + ")"


def coefficient_text(c: float) -> str:
    """``c`` to 3 significant digits: ``5e-4``, ``1.25e-3``, ``0.05``, ``2``."""
    if c == 0 or 1e-2 <= abs(c) < 1e3:
        return f"{c:.3g}"
    mant, exp = f"{c:.2e}".split("e")
    return f"{mant.rstrip('0').rstrip('.')}e{int(exp)}"


def find_l2(spec: NetworkSpec, params, yours: float, reference: float, cost_noise: float,
            grad_yours, grad_reference, eps: float = float(np.finfo(float).eps)) -> L2Penalty | None:
    """The L2 penalty (module docstring) that explains ``yours - reference``, or None.

    Tries the weights alone, then the weights and the biases.  ``cost_noise`` bounds the
    round-off of the cost difference; ``eps`` is the precision of the user's code.
    """
    p = np.asarray(params, dtype=float).ravel()
    dg = np.asarray(grad_yours, dtype=float).ravel() - np.asarray(grad_reference, dtype=float).ravel()
    d = float(yours) - float(reference)
    if not (np.isfinite(d) and d > max(float(cost_noise), 0.0)) or dg.size != p.size or not np.all(np.isfinite(dg)):
        return None
    tau = max(TAU, 1e4 * float(eps))
    weights = tuple(b for b in spec.blocks if not b.is_bias)
    for chosen in (weights, tuple(spec.blocks)):
        mask = np.zeros(p.size, dtype=bool)
        for b in chosen:
            mask[b.slice] = True
        Q = float(np.sum(p[mask] ** 2))
        if not Q > 0:
            continue
        c = d / Q
        target = 2 * c * p[mask]
        size = float(np.linalg.norm(target))
        off = float(np.linalg.norm(dg[mask] - target))
        rest = float(np.linalg.norm(dg[~mask]))
        if size > 0 and off <= tau * size and rest <= tau * size:
            return L2Penalty(c, tuple(b.name for b in chosen), max(off, rest) / size)
    return None
