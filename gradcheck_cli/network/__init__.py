"""The built-in networks: our own MLP and its structured, certified differences.

numpy only; never imports ``usercode``/``loading`` or ``expression``.  By job:

- ``model``: the spec, activations, forward and backward passes, the bug catalogue;
- ``kernels``: the base forward pass and exact activation changes shared below;
- ``dense``: exact cost changes propagated through the later layers;
- ``series``: certified per-unit Taylor series of the hidden layers;
- ``differences``: the full check (``numeric_gradient``, ``kink_mask``);
- ``directions``: its fast mode (``directional_check``, ``fast_check``).
"""
