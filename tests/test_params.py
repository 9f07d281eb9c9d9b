"""blackbox/params.py: named arrays <-> one flat vector, written in place and restored."""

from __future__ import annotations

import numpy as np
import pytest

from gradcheck_cli.blackbox.params import FlatParams, Region, regions
from gradcheck_cli.errors import OptionError


def test_flat_params_write_into_the_arrays_in_place_and_restore():
    x, w = np.arange(6.0).reshape(2, 3), np.array([10.0, 20.0])
    held = [x, w]  # what the user's code holds
    flat = FlatParams(["x", "w"], held)
    assert flat.x0.tolist() == [0, 1, 2, 3, 4, 5, 10, 20]
    assert [(r.name, r.shape, r.offset, r.size) for r in flat.regions] == [("x", (2, 3), 0, 6), ("w", (2,), 6, 2)]
    flat.assign(np.arange(8.0) + 100)
    assert x[1, 2] == 105 and w.tolist() == [106, 107]  # the same arrays, changed in place
    flat.restore()
    assert x.ravel().tolist() == [0, 1, 2, 3, 4, 5] and w.tolist() == [10, 20]


def test_regions_from_tuples_and_the_default_block():
    assert regions(None, 4) == [Region("x", (4,), 0)]
    got = regions([("W", (2, 2), 0), ("b", (2,), 4)], 6)
    assert [(r.name, r.slice) for r in got] == [("W", slice(0, 4)), ("b", slice(4, 6))]


@pytest.mark.parametrize("blocks", [[("a", (3,), 0), ("b", (3,), 2)], [("a", (7,), 0)], [("a", (2,), -1)]])
def test_overlapping_or_outside_blocks_are_an_option_error(blocks):
    with pytest.raises(OptionError, match="disjoint ranges"):
        regions(blocks, 6)
