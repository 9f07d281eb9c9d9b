"""Our process state, kept safe from users' code (``CallGuard``).

While users' code runs (a load, a call, a session of many calls):

* its output goes to our stderr, at the Python level (``sys.stdout`` is a forwarder to
  ``sys.stderr`` that cannot close it) and at the file-descriptor level (fd 1 is a
  duplicate of fd 2, so ``os.write(1, ...)`` and C extensions' ``printf`` follow): our
  stdout carries only our report, and a closed stdout (``| head -1``) never reaches it;
* what it may change and we rely on is put back after every call: numpy's error state
  (``np.seterr``), the recursion limit, ``sys.stdout``/``sys.stderr``, the current
  directory (``os.chdir``/``os.fchdir`` are watched meanwhile, so that this check costs
  no system call; the directory is checked for real when the outermost block ends); fds
  1 and 2 are restored when the outermost block ends.

Each check costs well under a microsecond when nothing changed (a comparison each).
"""

from __future__ import annotations

import io
import os
import sys
from typing import Any

import numpy as np

__all__ = ["CallGuard", "GUARD", "ProcessExit"]


class ProcessExit(SystemExit):
    """``os._exit(n)`` called by users' code in our process: raised in its place, so that
    it is reported as their error (exit 2) rather than ending the run with nothing checked
    (with exit 0, a CI gate would go green)."""

    def __str__(self) -> str:
        return (f"os._exit({self.code}) (it would have ended gradcheck with nothing reported; "
                "--isolate runs your code in a child process)")


class _Forward(io.TextIOBase):
    """A text stream that writes into another one and never closes it."""

    def __init__(self, target: Any) -> None:
        super().__init__()
        self._target = target

    def write(self, text: str) -> int:
        if self._target is None:
            return len(text)
        try:
            return self._target.write(text)
        except (OSError, ValueError):
            return len(text)

    def flush(self) -> None:
        try:
            if self._target is not None:
                self._target.flush()
        except (OSError, ValueError):
            pass

    def close(self) -> None:
        """Their ``sys.stdout.close()`` closes nothing of ours."""
        self.flush()

    @property
    def closed(self) -> bool:  # type: ignore[override]
        return False

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        try:
            return bool(self._target is not None and self._target.isatty())
        except (OSError, ValueError, AttributeError):
            return False

    def fileno(self) -> int:
        return 2

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._target, "encoding", None) or "utf-8"


def _fd_open(fd: int) -> bool:
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False


def _flush_c_stdio() -> None:
    """Flush the C library's stdout buffer (a C extension's printf) while fd 1 is still theirs."""
    global _fflush
    try:
        if _fflush is None:
            import ctypes

            _fflush = ctypes.CDLL(None).fflush
        _fflush(None)
    except Exception:
        pass


_fflush = None


def _extobj_var():
    """numpy's context variable of the error state (numpy >= 2): comparing what it holds by
    identity tells whether ``np.seterr`` was called, 100 times faster than ``np.geterr()``."""
    try:
        from numpy._core import umath

        var = umath._extobj_contextvar
        var.get()
        return var
    except Exception:
        return None


_EXTOBJ = _extobj_var()


#: glibc's ``mallopt`` parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_malloc_tuned: bool | None = None  # what keep_freed_memory did, once it ran


def _glibc() -> bool:
    """Whether the C library is glibc (``confstr(_CS_GNU_LIBC_VERSION)``, which musl refuses)."""
    try:
        return (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
    except (ValueError, OSError, AttributeError):
        return False


def keep_freed_memory() -> bool:
    """Raise glibc's malloc trim and mmap thresholds (once per process; a no-op elsewhere).

    By default glibc serves blocks over 128 KiB with ``mmap`` and gives them back to the
    system when freed, so numpy code that makes a few large temporaries per call pays
    for fresh zeroed pages on every call (measured: users' code up to 4x slower inside a
    checker than in a plain loop whose allocator had settled).  With blocks up to 32 MiB
    taken from the heap and freed memory kept up to 256 MiB, a call reuses the memory of
    the previous one.  Returns whether the thresholds were set.
    """
    global _malloc_tuned
    if _malloc_tuned is None:
        _malloc_tuned = _glibc() and _raise_thresholds()  # musl, macOS, Windows: left alone
    return _malloc_tuned


def _raise_thresholds() -> bool:
    """``mallopt(M_MMAP_THRESHOLD, 32 MiB)`` and ``mallopt(M_TRIM_THRESHOLD, 256 MiB)``."""
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        mallopt = getattr(libc, "mallopt", None)
        if mallopt is None:
            return False
        mallopt.restype, mallopt.argtypes = ctypes.c_int, [ctypes.c_int, ctypes.c_int]
        return bool(mallopt(_M_MMAP_THRESHOLD, 32 * 1024 * 1024)) and bool(
            mallopt(_M_TRIM_THRESHOLD, 256 * 1024 * 1024))
    except Exception:
        return False


class CallGuard:
    """Enter around users' code (nested entries are counted; the outermost acts);
    call ``restore()`` after each call of theirs."""

    def __init__(self) -> None:
        self.depth = 0
        self._fds: dict[int, int | None] = {}
        self._streams: tuple[Any, Any] = (None, None)
        self._out: _Forward | None = None
        self._err: _Forward | None = None
        self._errstate: dict[str, str] = {}
        self._recursion = 0
        self._cwd: str | None = None
        self._moved = False
        self._real_chdir, self._real_fchdir = os.chdir, os.fchdir
        self._real_os_exit = os._exit
        #: os._exit in users' code raises ProcessExit (off in an --isolate child)
        self.refuse_exit = True

    def __enter__(self) -> "CallGuard":
        self.depth += 1
        if self.depth == 1:
            self._enter()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.depth -= 1
        if self.depth == 0:
            self._exit()

    def _enter(self) -> None:
        keep_freed_memory()
        self._streams = (sys.stdout, sys.stderr)
        for stream in self._streams:
            try:
                if stream is not None:
                    stream.flush()
            except (OSError, ValueError):
                pass
        self._fds = {fd: (os.dup(fd) if _fd_open(fd) else None) for fd in (1, 2)}
        try:
            if self._fds[2] is not None:
                os.dup2(2, 1)
            else:
                null = os.open(os.devnull, os.O_WRONLY)
                if null != 1:
                    os.dup2(null, 1)
                    os.close(null)
        except OSError:
            pass
        self._err = _Forward(self._streams[1])
        self._out = self._err
        sys.stdout, sys.stderr = self._out, self._err
        self._errstate = np.geterr()
        self._extobj = _EXTOBJ.get() if _EXTOBJ is not None else None
        self._recursion = sys.getrecursionlimit()
        try:
            self._cwd = os.getcwd()
        except OSError:
            self._cwd = None
        # os.chdir and os.fchdir are watched while their code may run, so that checking the
        # directory after a call costs no system call (``_exit`` checks it for real)
        self._moved = False
        self._real_chdir, self._real_fchdir = os.chdir, os.fchdir
        os.chdir, os.fchdir = self._watch(os.chdir), self._watch(os.fchdir)
        self._real_os_exit = os._exit
        if self.refuse_exit:
            os._exit = self._refuse_exit(os._exit, os.getpid())

    @staticmethod
    def errstate() -> Any:
        """numpy's error state now, to hand to ``restore`` after a call (in numpy >= 2 the
        context variable's value itself: an identity comparison, 100 times faster than
        ``np.geterr()``; our own ``np.errstate`` blocks around a call stay in force)."""
        return _EXTOBJ.get() if _EXTOBJ is not None else np.geterr()

    def restore(self, errstate: Any = None) -> None:
        """Put back what a call of theirs changed (cheap when nothing did); ``errstate``:
        numpy's error state before the call (``errstate()``), default that at entry."""
        if sys.getrecursionlimit() != self._recursion:
            sys.setrecursionlimit(self._recursion)
        if errstate is None:
            errstate = self._extobj if _EXTOBJ is not None else self._errstate
        if _EXTOBJ is not None:
            if _EXTOBJ.get() is not errstate:
                _EXTOBJ.set(errstate)
        elif np.geterr() != errstate:
            np.seterr(**errstate)
        if sys.stdout is not self._out:
            sys.stdout = self._out
        if sys.stderr is not self._err:
            sys.stderr = self._err
        if self._moved:
            self._moved = False
            self._back_home()

    def _watch(self, change):
        """``os.chdir`` (or ``os.fchdir``) that notes the move for ``restore``."""
        def watched(*args, **kwargs):
            self._moved = True
            return change(*args, **kwargs)

        watched.__name__, watched.__doc__ = change.__name__, change.__doc__
        return watched

    @staticmethod
    def _refuse_exit(real_exit, pid: int):
        """``os._exit`` that raises :class:`ProcessExit` in our process (a child it forked,
        e.g. by multiprocessing, still exits for real)."""
        def refused(code: int) -> None:
            if os.getpid() != pid:
                real_exit(code)
            raise ProcessExit(code)

        refused.__name__, refused.__doc__ = real_exit.__name__, real_exit.__doc__
        return refused

    def _back_home(self) -> None:
        """Back to the directory we were in at entry (if it moved)."""
        if self._cwd is None:
            return
        try:
            here = os.getcwd()
        except OSError:
            here = None
        if here != self._cwd:
            try:
                self._real_chdir(self._cwd)
            except OSError:
                pass

    def _exit(self) -> None:
        self.restore()
        os.chdir, os.fchdir = self._real_chdir, self._real_fchdir
        os._exit = self._real_os_exit
        self._back_home()  # a move the watch did not see (a C extension's chdir)
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        _flush_c_stdio()
        for fd, saved in self._fds.items():
            try:
                if saved is not None:
                    os.dup2(saved, fd)
                    os.close(saved)
                else:
                    os.close(fd)
            except OSError:
                pass
        self._fds = {}
        sys.stdout, sys.stderr = self._streams
        self._streams = (None, None)


#: the one guard of the process (the state it protects is process-wide)
GUARD = CallGuard()
