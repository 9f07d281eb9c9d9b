"""Users' code: loaded, called, validated and kept from harming the check.

``importer``   ``FILE.py:NAME`` / ``module:NAME`` -> the callable, imported as ``python FILE.py`` would
``function``   ``UserFunction``: every call counted, timed, from a fixed random state, inputs unchanged
``state``      our process state (stdout, errstate, recursion limit, cwd) kept from their code
``threads``    BLAS limited to one thread during a check (threadpoolctl)
``protocols``  what users' code must return, validated in one place
``tracebacks`` the user's traceback without our frames
``npy``        the one ``.npy`` loader (sizes checked before anything is allocated; no pickles)
``isolate``    ``--isolate``: users' code in a child process
``layer``      a forward/backward pair (or loss layer): loaded, bound by name, called
``model``      a CS231n model: made, its params checked, its loss called at given params
"""

from __future__ import annotations

import random

import numpy as np

from .function import UserFunction
from .importer import UserImports, load_callable, load_user_function
from .npy import load_npy

__all__ = ["UserFunction", "UserImports", "load_callable", "load_npy", "load_seeded", "load_user_function"]


def load_seeded(specs: "list[tuple[str, str]]", seed: int, *, isolate: bool = False) -> "list[UserFunction]":
    """Load ``(spec, what)`` pairs as UserFunctions, reproducibly.

    ``random`` and ``numpy.random`` are seeded with ``seed`` while the user's modules run
    (module-level random draws repeat from run to run) and when each UserFunction is
    made (so every call starts from that seeded state); the caller's states are
    restored afterwards.  Functions from one folder share its modules (one program).
    ``isolate``: load and call them in a child process (``isolate.load_isolated``).
    """
    from .state import GUARD

    if isolate:
        from .isolate import load_isolated

        return load_isolated(specs, seed)

    saved = random.getstate(), np.random.get_state()
    shared: dict = {}
    try:
        random.seed(seed)
        np.random.seed(seed % 2**32)
        with GUARD:
            loaded = [load_user_function(spec, what=what, shared=shared) for spec, what in specs]
        random.seed(seed)
        np.random.seed(seed % 2**32)
        return [UserFunction(fn, spec, imports) for (fn, imports), (spec, _) in zip(loaded, specs)]
    finally:
        random.setstate(saved[0])
        np.random.set_state(saved[1])
