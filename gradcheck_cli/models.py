"""Moved: the built-in network's model is ``network.model``.

Kept only so that branches written against the old name still import; delete once no
module imports ``models``.
"""

from .network.model import *  # noqa: F401,F403
from .network.model import BUGS, Activation, Block, Loss, NetworkSpec  # noqa: F401
