"""Our standard output as CI runs it: closed, cut short, full, or unable to encode.

The contract: a closed stdout (``gradcheck ... >&-``, ``| head -1``, ``| true``)
changes nothing; the exit code is still the verdict's and nothing appears on stderr.
:class:`GuardedStdout` wraps ``sys.stdout`` for the length of one run so that every
writer (our views, Typer's help, ``--version``) gets this for free:

- ``sys.stdout is None`` (the descriptor was closed before we started): writes go nowhere;
- the reader left (``BrokenPipeError``) or the device is full (``ENOSPC``, ``/dev/full``):
  the rest of the output is dropped and the failure remembered (``lost``), the run goes on;
- an encoding that cannot show a character (``PYTHONIOENCODING=ascii`` and ``±``): the
  text is written with ASCII stand-ins (``+/-``, ``...``) rather than failing.
"""

from __future__ import annotations

import codecs
import errno
import os
import sys
from typing import Optional

#: ASCII stand-ins for the characters our reports use
ASCII = {
    "±": "+/-", "…": "...", "×": "x", "≈": "~", "≤": "<=", "≥": ">=", "−": "-", "–": "-",
    "—": "--", "→": "->", "←": "<-", "↑": "^", "↓": "v", "·": ".", "√": "sqrt", "∞": "inf",
    "‖": "||", "∂": "d", "Δ": "D", "°": "deg", "“": '"', "”": '"', "‘": "'", "’": "'",
    "█": "#", "▏": "|", "▕": "|", "│": "|", "─": "-", "━": "-", "┃": "|", "•": "*", "✓": "ok", "✗": "x",
}


def ascii_fallback(error: UnicodeError):
    """Codec error handler: an unencodable character becomes its ASCII stand-in (or ``?``)."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    text, start = error.object, error.start
    line = text[text.rfind("\n", 0, start) + 1: (text.find("\n", start) + 1 or len(text) + 1) - 1]
    if text.startswith("± error", start) and "rel error" in line:
        return "+-error", start + len("± error")  # a table header: keep the column's width
    return "".join(ASCII.get(ch, "?") for ch in text[start:error.end]), error.end


codecs.register_error("gradcheck-ascii", ascii_fallback)

#: write errors that mean "the output cannot go anywhere": the reader left, the device is full
_LOST = {errno.EPIPE, errno.ENOSPC, errno.EIO, errno.EBADF}


class GuardedStdout:
    """A stand-in for ``sys.stdout`` that never lets a lost output end the run.

    ``lost`` holds the reason output was dropped (``None`` while it still flows);
    ``closed_pipe`` tells a reader that left (silent by contract) from a failing device.
    """

    def __init__(self, inner) -> None:
        self._inner = inner
        self.lost: Optional[str] = None if inner is not None else "closed"
        self.closed_pipe = inner is None

    # the text-stream interface rich, click and print use
    def write(self, text: str) -> int:
        if self.lost is not None:
            return len(text)
        try:
            try:
                return self._inner.write(text)
            except UnicodeEncodeError:
                encoding = getattr(self._inner, "encoding", None) or "ascii"
                return self._inner.write(text.encode(encoding, "gradcheck-ascii").decode(encoding))
        except (OSError, ValueError) as exc:
            self._drop(exc)
            return len(text)

    def flush(self) -> None:
        if self.lost is not None or self._inner is None:
            return
        try:
            self._inner.flush()
        except (OSError, ValueError) as exc:
            self._drop(exc)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def isatty(self) -> bool:
        try:
            return self.lost is None and bool(self._inner.isatty())
        except (AttributeError, OSError, ValueError):
            return False

    def fileno(self) -> int:
        if self._inner is None:
            raise OSError(errno.EBADF, "stdout is closed")
        return self._inner.fileno()

    @property
    def encoding(self) -> str:
        return getattr(self._inner, "encoding", None) or "utf-8"

    @property
    def closed(self) -> bool:
        return False

    def readable(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def __getattr__(self, name: str):
        if self._inner is None:
            raise AttributeError(name)
        return getattr(self._inner, name)

    def _drop(self, exc: BaseException) -> None:
        if isinstance(exc, OSError) and exc.errno not in _LOST and not isinstance(exc, BrokenPipeError):
            raise exc
        self.closed_pipe = isinstance(exc, BrokenPipeError) or isinstance(exc, ValueError) or (
            isinstance(exc, OSError) and exc.errno in (errno.EPIPE, errno.EBADF))
        self.lost = "closed" if self.closed_pipe else (getattr(exc, "strerror", None) or str(exc))
        _point_at_devnull(self._inner)


def _point_at_devnull(stream) -> None:
    """Send what is left in ``stream``'s buffer to /dev/null, so that the flush at exit
    prints no 'Exception ignored ... BrokenPipeError' on stderr."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    except OSError:
        pass


class guarded_streams:
    """``with guarded_streams() as out:`` runs with ``sys.stdout`` guarded (and a missing
    ``sys.stderr`` replaced by /dev/null); both are put back afterwards."""

    def __enter__(self) -> GuardedStdout:
        self._saved = (sys.stdout, sys.stderr)
        self.out = GuardedStdout(sys.stdout)
        sys.stdout = self.out  # type: ignore[assignment]
        if sys.stderr is None:
            sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (closed in __exit__)
        elif _cannot_encode(sys.stderr):
            try:
                sys.stderr.reconfigure(errors="gradcheck-ascii")
            except (AttributeError, ValueError):
                pass
        return self.out

    def __exit__(self, *exc) -> None:
        self.out.flush()
        if sys.stderr is not self._saved[1]:
            sys.stderr.close()
        sys.stdout, sys.stderr = self._saved


def _cannot_encode(stream) -> bool:
    try:
        "±…".encode(getattr(stream, "encoding", None) or "utf-8")
        return False
    except (UnicodeEncodeError, LookupError):
        return True
