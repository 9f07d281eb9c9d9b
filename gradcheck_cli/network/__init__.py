"""The built-in networks: our own MLP and its structured, certified differences.

numpy only (``refine`` also mpmath); never imports ``usercode``/``loading`` or
``expression``.  By job:

- ``model``: the spec, activations, forward and backward passes, the bug catalogue;
- ``exact``: longdouble products with rigorous bounds (exact float64 pieces);
- ``kernels``: the base forward pass and exact activation changes shared below;
- ``dense``: exact cost changes propagated through the later layers;
- ``series``: certified per-unit Taylor series of the hidden layers;
- ``precise``: extended-precision complex-step derivatives, for what float64 leaves open;
- ``refine``: the rare entries longdouble leaves open, their dominant samples in mpmath;
- ``differences``: the full check (``numeric_gradient``, ``settle``, ``kink_mask``);
- ``penalty``: ``net --impl``'s cost check, an L2 penalty told apart from a wrong cost;
- ``directions``: its fast mode (``directional_check``, ``fast_check``: directions, then
  every entry of the blocks they clear in extended precision).
"""
