"""Layers under CS231n's own names (X_forward_Y / X_backward_Y), as its layers.py has them."""

from layers import affine_backward, affine_forward  # noqa: F401
from layers import conv_naive_backward as conv_backward_naive  # noqa: F401
from layers import conv_naive_forward as conv_forward_naive  # noqa: F401
from layers import max_pool_naive_backward as max_pool_backward_naive  # noqa: F401
from layers import max_pool_naive_forward as max_pool_forward_naive  # noqa: F401
