"""The numeric glue of ``gradcheck layer`` (``checks.layer``): L along the
differentiated inputs, its noise, the direct four-point estimator handed to
``blackbox.check_blackbox``, and the evidence the hints are made from.

Kinks (one-sided test).  A layer with relu/max inside is not differentiable where two
branches meet (a pooling window whose maximum is tied).  With ``L0 = L(z)``, the
one-sided slopes ``D+ = (L(z + h e_j) - L0) / h`` and ``D- = (L0 - L(z - h e_j)) / h``
differ by ``L'' h`` for a smooth L, which the 4h values predict:
``(L(z + 4h e_j) - 2 L0 + L(z - 4h e_j)) / 16h``.  An entry that does not pass is a
``kink`` when ``D+ - D-`` departs from that prediction by more than the round-off and
``KINK_SIGMAS`` times the measured noise of L, over h (the slopes jump), and the
analytic value lies between ``D-`` and ``D+`` (it is one of the one-sided derivatives,
or a subgradient between them).  A wrong value away from a kink is never excused:
there ``D+ = D-`` up to ``L'' h``.

Noise.  The noise ``sigma`` of L is measured once per input, ECnoise-style (``blackbox.stencils.noise_probe``).
Float64 code gives ``sigma ~ eps |L|`` and the step above; a noisier L (float32
arithmetic) gets the step scaled by ``(sigma / (eps |L|))**(1/3)``, which balances
truncation against its own noise, and the report says how noisy it is.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np

from .blackbox.stencils import four_point_entries, noise_probe, two_point_entries
from .blocks import BlockData
from .finite_diff import EPS
from .verdict import Status

if TYPE_CHECKING:
    from .usercode.layer import Layer


def noise_along(layer: Layer, arrays: list[np.ndarray], which: int, seed: int) -> float:
    """The noise of L along input ``which`` (``stencils.noise_probe``, direction seeded by
    ``(seed, 4, which)``)."""
    flat = arrays[which].reshape(-1)
    base = flat.copy()
    u = np.random.default_rng((seed, 4, which)).choice([-1.0, 1.0], size=flat.size)

    def cost(z: np.ndarray) -> float:
        flat[:] = z
        return layer.objective(arrays)[0]

    try:
        return noise_probe(cost, base, u)
    finally:
        flat[:] = base


class LazyNoise:
    """``sigma_of[block]``: the noise of L along input ``diff_idx[block]`` (``noise_along``),
    measured on first use."""

    def __init__(self, layer: Layer, arrays: list[np.ndarray], diff_idx: list[int], seed: int) -> None:
        self.layer, self.arrays, self.diff_idx, self.seed = layer, arrays, diff_idx, seed
        self.values: dict[int, float] = {}

    def __getitem__(self, block: int) -> float:
        if block not in self.values:
            self.values[block] = noise_along(self.layer, self.arrays, self.diff_idx[block], self.seed)
        return self.values[block]

    def known(self) -> list[float]:
        return list(self.values.values())


def objective_in(layer: Layer, arrays: list[np.ndarray], diff_idx: list[int], dtype):
    """``z -> L`` with the differentiated inputs set to the flat ``z`` in ``dtype`` and L
    summed in it (precision lifting: ``checks.common.lifted_cost``); outputs as returned."""
    sizes = [arrays[k].size for k in diff_idx]
    offsets = np.cumsum([0] + sizes[:-1])

    def raw(z: np.ndarray):
        z = np.asarray(z).ravel()
        args = list(arrays)
        for k, off, n in zip(diff_idx, offsets, sizes):
            args[k] = z[off: off + n].astype(dtype).reshape(arrays[k].shape)
        result = layer.call(args)
        if not isinstance(result, (tuple, list)) or len(result) < 2:
            return np.nan
        if layer.is_loss:
            return np.asarray(result[0])
        total = dtype(0)
        for o, d in zip(result[:-1], layer.douts):
            total = total + np.sum(np.asarray(o) * d)
        return np.asarray(total)

    return raw


def four_point(layer: Layer, arrays: list[np.ndarray], diff_idx: list[int], f0: float, scale0: float,
                sigmas, out_eps: float = EPS):
    """The layer's direct estimator for ``check_blackbox``: ``stencils.four_point_entries`` on
    input ``diff_idx[block]``, with L's differences summed output by output (the outputs an
    entry does not reach cancel exactly, so the round-off is that of the terms it changed)."""

    def direct(block: int, indices: np.ndarray, progress=None, points: int = 4, first=None):
        """Four calls per entry with the kink test; ``points=2``: the full mode's first look;
        ``first``: that look of these entries, completed to four points (2 calls each)."""
        which = diff_idx[block]
        flat = arrays[which].reshape(-1)  # a view: perturbations reach the array the layer gets
        base = None if layer.is_loss else [np.array(o, dtype=np.float64).ravel() for o in layer.call_forward(arrays)[0]]
        douts = [np.asarray(dout, dtype=np.float64).ravel() for dout in layer.douts]

        def shifted(k: int, d: float) -> tuple[float, float]:
            orig = flat[k]
            try:
                flat[k] = orig + d
                if base is None:
                    return layer.objective(arrays)
                outs = layer.call_forward(arrays)[0]
                delta = total = 0.0
                with np.errstate(all="ignore"):
                    for o, o0, dout in zip(outs, base, douts):
                        o = np.asarray(o, dtype=np.float64).ravel()
                        moved = np.flatnonzero(o != o0)  # the few outputs the entry reaches
                        om, o0m, dm = o[moved], o0[moved], dout[moved]
                        delta += float(np.sum((om - o0m) * dm))
                        total += float(np.sum(np.maximum(np.abs(om), np.abs(o0m)) * np.abs(dm)))
                return delta, total
            finally:
                flat[k] = orig

        # the terms' precision: float32 outputs round by float32's eps (their differences,
        # summed in float64, do not look it)
        engine = functools.partial(four_point_entries, first=first) if points == 4 else two_point_entries
        return engine(shifted, flat, indices, f0=f0 if base is None else 0.0, eps=out_eps,
                      scale=max(scale0, abs(f0)), sigma=sigmas[block], progress=progress)

    direct.first_look = True  # it takes points=2 (check_blackbox's full mode)
    return direct


def _is_fail(statuses: np.ndarray) -> np.ndarray:
    return np.array([s is Status.FAIL for s in statuses], dtype=bool)


def evidence(data: list[BlockData], status: dict[str, np.ndarray], full: dict[str, bool]) -> list:
    """``diagnosis.LayerBlock`` per checked input (the numbers the hints are made from)."""
    from .diagnosis import LayerBlock

    blocks = []
    for b in data:
        size = int(np.prod(b.shape))
        a, n, noise = (np.full(size, np.nan) for _ in range(3))
        idx = np.arange(size) if b.indices is None else b.indices
        a[idx], n[idx], noise[idx] = b.analytic, b.numeric, b.noise
        blocks.append(LayerBlock(b.name, a.reshape(b.shape), n.reshape(b.shape), noise.reshape(b.shape),
                                 _is_fail(status[b.name]).reshape(b.shape), full[b.name]))
    return blocks


def status_array(st: np.ndarray, b: BlockData) -> np.ndarray:
    if b.indices is None:
        return st
    full = np.full(int(np.prod(b.shape)), Status.PASS, dtype=object)
    full[b.indices] = st
    return full
