"""Named arrays <-> one flat vector: the parameter layout of the black-box check.

numpy only.  A black-box check works on one flat vector ``x`` (the cost takes an array of
x's shape); its named blocks are ``Region``s, ``x.ravel()[offset : offset + size]``.
``FlatParams`` lays named arrays (a layer's inputs) end to end and writes a flat vector
back into them, in place, so that code holding the arrays sees every probe.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..errors import OptionError


@dataclass(frozen=True)
class Region:
    """A named block of the flat parameter vector: ``x.ravel()[offset : offset + size]``."""

    name: str
    shape: tuple[int, ...]
    offset: int = 0

    @property
    def size(self) -> int:
        return math.prod(self.shape)  # on the hot path of every assign: no numpy call

    @property
    def slice(self) -> slice:
        return slice(self.offset, self.offset + self.size)


def regions(blocks, size: int) -> list[Region]:
    """``Region``s from ``models.Block``-like objects (name, shape, offset) or
    ``(name, shape, offset)`` tuples; None: one block ``x`` of everything."""
    if blocks is None:
        return [Region("x", (size,), 0)]
    out = []
    for b in blocks:
        if isinstance(b, Region):
            out.append(b)
        elif isinstance(b, tuple):
            out.append(Region(str(b[0]), tuple(int(n) for n in b[1]), int(b[2]) if len(b) > 2 else 0))
        else:
            out.append(Region(b.name, tuple(int(n) for n in b.shape), int(b.offset)))
    ends = sorted((r.offset, r.offset + r.size) for r in out)
    if any(a < 0 or e > size for a, e in ends) or any(e > a2 for (_, e), (a2, _) in zip(ends, ends[1:])):
        raise OptionError("blocks must be disjoint ranges inside the parameter vector")
    return out




class FlatParams:
    """Named arrays (held, written in place) seen as one flat vector, laid end to end.

    ``x0`` is their values at construction; ``assign(z)`` writes a flat vector into them,
    ``restore()`` writes ``x0`` back; ``regions`` are their blocks of the flat vector.
    """

    def __init__(self, names: Sequence[str], arrays: Sequence[np.ndarray]) -> None:
        self.names = tuple(names)
        self.arrays = list(arrays)
        sizes = [int(a.size) for a in self.arrays]
        self.offsets = tuple(int(o) for o in np.cumsum([0] + sizes[:-1]))
        self.x0 = np.concatenate([a.ravel() for a in self.arrays]) if self.arrays else np.zeros(0)
        self.regions = tuple(Region(n, tuple(a.shape), o) for n, a, o in zip(self.names, self.arrays, self.offsets))

    def assign(self, z: np.ndarray) -> None:
        """Write the flat vector ``z`` into the arrays."""
        flat = np.asarray(z).ravel()
        for a, r in zip(self.arrays, self.regions):
            a.reshape(-1)[:] = flat[r.slice]

    def restore(self) -> None:
        """Write the values at construction back."""
        self.assign(self.x0)
