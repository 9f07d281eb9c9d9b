"""Users' code as a black box: the gradient check of ``func``, ``net --impl`` and ``layer``.

numpy only; takes callables and flat arrays, never user objects.  ``params`` (named arrays
<-> one flat vector), ``stencils`` (noise probe, direct-entry estimates, kink tests),
``search`` (adaptive group testing), ``pipeline`` (``check_blackbox``: search,
re-estimate, verdict, effort).
"""
