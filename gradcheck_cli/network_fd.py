"""Moved: the structured differences are ``network.differences`` (full check, ``settle``),
``network.directions`` (fast mode), with ``network.series``/``dense``/``kernels``/``precise``.

Kept only so that branches written against the old name still import; delete once no
module imports ``network_fd``.
"""

from .network.differences import NumericGradient, kink_mask, numeric_gradient, settle  # noqa: F401
from .network.directions import DEFAULT_DIRECTIONS, DirectionalResult, FastResult, directional_check, fast_check  # noqa: F401
from .network.kernels import DEFAULT_CHUNK_BYTES, cost_magnitude  # noqa: F401
