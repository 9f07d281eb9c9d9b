"""The user's traceback, without our frames.

When users' code raises, the error line names the exception (``exception_line``) and
the detail under it is the traceback of the user's own frames only (``user_traceback``):
frames of this package (the wrapper that called the code, the importer that loaded it)
and of ``importlib`` are removed, chained exceptions included.
"""

from __future__ import annotations

import importlib
import os
import traceback

__all__ = ["exception_line", "user_traceback"]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_IMPORTLIB_DIR = os.path.dirname(os.path.abspath(importlib.__file__))


def exception_line(exc: BaseException) -> str:
    """``ZeroDivisionError: division by zero`` (just the type when there is no message)."""
    try:
        text = str(exc)
    except Exception:
        text = "<unprintable exception>"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _is_internal(filename: str) -> bool:
    """Frames of this package and of importlib, which the user does not need to see."""
    if filename.startswith("<frozen importlib"):
        return True
    absolute = os.path.abspath(filename) if not filename.startswith("<") else filename
    return os.path.dirname(absolute) in (_PACKAGE_DIR, _IMPORTLIB_DIR)


def user_traceback(exc: BaseException) -> str:
    """The formatted traceback of ``exc`` with only the user's frames (chains included)."""
    te = traceback.TracebackException.from_exception(exc)
    seen: set[int] = set()
    pending = [te]
    while pending:
        item = pending.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        kept = [f for f in item.stack if not _is_internal(f.filename)]
        item.stack = traceback.StackSummary.from_list(kept)
        pending.extend(x for x in (item.__cause__, item.__context__) if x is not None)
    return "".join(te.format())
