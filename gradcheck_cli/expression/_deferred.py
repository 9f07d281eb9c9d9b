"""Start-up: keep sympy's first addition from importing ``sympy.tensor.tensor``.

``Add.flatten`` (sympy 1.14, ``sympy/core/add.py``) runs
``from sympy.tensor.tensor import TensExpr, TensAdd`` on every call, only to test
``isinstance(term, TensExpr)``.  The first call therefore imports ``sympy.tensor.tensor``
and with it ``sympy.combinatorics``, whose polyhedra are built at import time: about
0.06-0.1 s of a ``gradcheck expr`` run that never sees a tensor.

No tensor can exist before ``sympy.tensor.tensor`` has been imported, so until then
that test is False for every term.  :func:`install` puts a stand-in module in its place
that answers ``TensExpr`` and ``TensAdd`` to ``sympy.core.add`` with classes nothing is
an instance of, and imports the real module the moment anything else asks for anything
(after which every lookup, ``Add.flatten``'s included, gets the real classes).  With a
sympy whose ``Add`` looks elsewhere, the stand-in only costs that import, as before.
"""

from __future__ import annotations

import importlib
import sys
import types

NAME = "sympy.tensor.tensor"
_ASKED_BY = "sympy.core.add"
_STAND_INS = {n: type(n, (), {"__module__": __name__}) for n in ("TensExpr", "TensAdd")}


class _Deferred(types.ModuleType):
    """``sympy.tensor.tensor`` until someone really needs it."""

    real: types.ModuleType | None = None

    def __getattr__(self, name: str):
        if self.real is None:
            if name.startswith("__"):  # the import system probing (__path__, __spec__...)
                raise AttributeError(name)
            if name in _STAND_INS and sys._getframe(1).f_globals.get("__name__") == _ASKED_BY:
                return _STAND_INS[name]
            self._load()
        return getattr(self.real, name)

    def _load(self) -> None:
        if sys.modules.get(NAME) is self:
            del sys.modules[NAME]
        type(self).real = importlib.import_module(NAME)


def install() -> None:
    """Put the stand-in in ``sys.modules`` unless the real module is already there."""
    if NAME not in sys.modules:
        import sympy.tensor

        stand_in = _Deferred(NAME)
        sys.modules[NAME] = stand_in
        sympy.tensor.tensor = stand_in  # type: ignore[attr-defined]
