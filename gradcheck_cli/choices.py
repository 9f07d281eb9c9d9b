"""Closed sets of choices, as string enums whose values are what users type and JSON shows.

Kept free of heavy imports so that ``gradcheck --help`` loads nothing but the CLI.
"""

from __future__ import annotations

from enum import Enum


class Method(str, Enum):
    """Finite-difference method (see ``finite_diff``)."""

    CENTRAL = "central"
    COMPLEX = "complex"
    RICHARDSON = "richardson"


class Format(str, Enum):
    """Output format of a checking command."""

    TABLE = "table"
    JSON = "json"


class Activation(str, Enum):
    """Hidden-layer activation of the built-in network."""

    SIGMOID = "sigmoid"
    TANH = "tanh"
    RELU = "relu"


class Loss(str, Enum):
    """Output layer and loss: softmax + cross-entropy, or sigmoid + squared error."""

    CE = "ce"
    MSE = "mse"


class Mode(str, Enum):
    """How to check a gradient entry by entry (see ``blackbox.search`` and the README).

    ``adaptive`` (the default for users' code): random-direction group testing that
    splits only the sets that disagree, every entry gets a verdict (directly or by
    exclusion); ``full``: every entry directly; ``fast``: for users' code the same as
    ``adaptive``, for the built-in network its structured directions per block.
    """

    FULL = "full"
    FAST = "fast"
    ADAPTIVE = "adaptive"


class Convention(str, Enum):
    """A course's gradient-check rule (``conventions``): its tolerances and floor."""

    CS224N = "cs224n"
    CS231N = "cs231n"
