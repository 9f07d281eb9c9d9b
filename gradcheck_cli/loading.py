"""Load users' own Python functions and call them safely.

``FILE.py:NAME`` or ``module:NAME`` -> a callable (:func:`load_callable`), and a wrapper
that calls it many times the way a gradient checker needs (:class:`UserFunction`):

* Loading leaves no trace: while the user's file runs, its directory is first on
  ``sys.path`` (so it can import its siblings) and its module is in ``sys.modules``
  (dataclasses need that); afterwards ``sys.path`` is restored exactly and every module
  newly imported from that directory is dropped from ``sys.modules``, so loading the
  same file again after an edit sees the new code.  Files are compiled from source and
  no bytecode is read or written for them (``__pycache__`` timestamps have one-second
  resolution, so a same-second edit could otherwise run stale code).
* Every call starts from the same random state: the states of ``random`` and of numpy's
  legacy global RNG are captured when the :class:`UserFunction` is made, set before each
  call and put back to the caller's afterwards.  A function that draws random numbers
  therefore computes the same thing at every finite-difference probe.
* Inputs must not be mutated: array arguments are compared with copies after each call;
  a change is undone and reported with its first index.

Nothing is printed: failures raise :class:`~gradcheck_cli.errors.LoadError` (cannot
find or load) or :class:`~gradcheck_cli.errors.UserCodeError` (the user's code raised,
returned the wrong thing, or mutated its input; it carries the user's traceback, with
the frames of gradcheck and importlib removed).  Loading is not thread-safe: it changes
``sys.path``, ``sys.meta_path`` and ``sys.modules`` for its duration.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.machinery
import importlib.util
import inspect
import itertools
import keyword
import math
import numbers
import os
import random
import sys
import traceback
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from .errors import LoadError, NonFiniteCostError, UserCodeError

__all__ = ["load_callable", "load_npy", "UserFunction"]

_THIS_FILE = os.path.abspath(__file__)
_IMPORTLIB_DIR = os.path.dirname(os.path.abspath(importlib.__file__))
_PRIVATE_PREFIX = "_gradcheck_user_"
_counter = itertools.count(1)
_MAX_LISTED = 12  # names listed in "it defines: ..."


# --------------------------------------------------------------------------- loading


def load_callable(spec: str, *, what: str = "function") -> Callable[..., Any]:
    """Return the callable named by ``spec``: ``path/to/file.py:NAME`` or ``module:NAME``.

    ``NAME`` may be dotted (``Model.loss``).  The left part is a file when it ends in
    ``.py``, contains a path separator or names an existing file; otherwise a module,
    searched in the current directory first.  ``what`` names the thing in messages.
    Raises ``LoadError`` when it cannot be found, ``UserCodeError`` when the user's
    code raises while loading.
    """
    source, attr = _split_spec(spec, what)
    if _looks_like_file(source):
        module = _load_file(spec, source)
    else:
        module = _load_module(spec, source)
    return _get_callable(spec, source, module, attr, what)


def _split_spec(spec: str, what: str) -> tuple[str, str]:
    """Split ``spec`` at its last ``:`` into (file or module, NAME), validating both."""
    if ":" not in spec:
        raise LoadError(f"cannot load '{spec}': expected FILE.py:NAME or module:NAME")
    source, _, attr = spec.rpartition(":")
    source, attr = source.strip(), attr.strip()
    if not source:
        raise LoadError(f"cannot load '{spec}': no file or module before ':'")
    if not attr:
        raise LoadError(f"cannot load '{spec}': no {what} name after ':'")
    for part in attr.split("."):
        if not part.isidentifier() or keyword.iskeyword(part):
            raise LoadError(f"cannot load '{spec}': '{attr}' is not a valid Python name")
    return source, attr


def _looks_like_file(source: str) -> bool:
    """A path (``.py`` suffix or a separator), or an existing file that is no module name."""
    seps = {os.sep, "/"} | ({os.altsep} if os.altsep else set())
    return (
        source.endswith(".py")
        or any(s in source for s in seps)
        or (os.path.isfile(source) and not _is_module_name(source))
    )


def _is_module_name(source: str) -> bool:
    return all(p.isidentifier() and not keyword.iskeyword(p) for p in source.split("."))


def _not_python(spec: str, source: str) -> LoadError:
    """Only ``.py`` files are executed: any other file's content is neither run nor echoed."""
    return LoadError(
        f"cannot load '{spec}': '{source}' is not a Python file (expected FILE.py:NAME or module:NAME)"
    )


def _load_file(spec: str, source: str) -> ModuleType:
    """Execute the file ``source`` as a fresh private module and return it."""
    path = Path(source).expanduser()
    if path.is_dir():
        raise LoadError(f"cannot load '{spec}': '{source}' is a directory, not a Python file")
    if not path.is_file():
        raise LoadError(f"cannot load '{spec}': no file '{source}'")
    if path.suffix != ".py":
        raise _not_python(spec, source)
    path = path.resolve()
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise LoadError(f"cannot load '{spec}': cannot read '{source}': {exc.strerror}") from exc

    stem = "".join(c if c.isalnum() else "_" for c in path.stem)
    name = f"{_PRIVATE_PREFIX}{next(_counter)}_{stem}"
    loader = _FreshSourceLoader(name, str(path))
    mspec = importlib.util.spec_from_file_location(name, str(path), loader=loader)
    assert mspec is not None
    module = importlib.util.module_from_spec(mspec)
    with _isolated_imports(path.parent):
        sys.modules[name] = module
        try:
            loader.exec_module(module)
        except (Exception, SystemExit) as exc:
            raise UserCodeError(
                f"error in '{source}' while loading it: {_exception_line(exc)}",
                user_traceback=_user_traceback(exc),
            ) from exc
    return module


def _load_module(spec: str, source: str) -> ModuleType:
    """Import the dotted module ``source``, looking in the current directory first."""
    if not _is_module_name(source):
        raise LoadError(
            f"cannot load '{spec}': '{source}' is neither an existing file nor a module name"
        )
    with _isolated_imports(Path.cwd().resolve()):
        try:
            return importlib.import_module(source)
        except ModuleNotFoundError as exc:
            missing = exc.name or ""
            if missing and (source == missing or source.startswith(missing + ".")):
                if os.path.isfile(source):
                    raise _not_python(spec, source) from None
                raise LoadError(f"cannot load '{spec}': no module '{missing}'") from exc
            raise UserCodeError(
                f"error in '{source}' while loading it: {_exception_line(exc)}",
                user_traceback=_user_traceback(exc),
            ) from exc
        except (Exception, SystemExit) as exc:
            raise UserCodeError(
                f"error in '{source}' while loading it: {_exception_line(exc)}",
                user_traceback=_user_traceback(exc),
            ) from exc


def _get_callable(spec: str, source: str, module: ModuleType, attr: str, what: str) -> Callable:
    """Resolve the (possibly dotted) ``attr`` in ``module`` and check it is callable."""
    obj: Any = module
    parts = attr.split(".")
    for i, part in enumerate(parts):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            if i == 0:
                raise LoadError(
                    f"cannot load '{spec}': '{source}' has no {what} '{part}' "
                    f"({_defined_names(module)})"
                ) from None
            owner = ".".join(parts[:i])
            raise LoadError(
                f"cannot load '{spec}': '{owner}' in '{source}' has no attribute '{part}'"
            ) from None
        except Exception as exc:  # a property or __getattr__ of the user's that raised
            raise UserCodeError(
                f"error in '{source}' while getting '{attr}': {_exception_line(exc)}",
                user_traceback=_user_traceback(exc),
            ) from exc
    if not callable(obj):
        raise LoadError(
            f"cannot load '{spec}': '{attr}' in '{source}' is of type "
            f"{type(obj).__name__}, not a {what}"
        )
    return obj


def _defined_names(module: ModuleType) -> str:
    """'it defines: a, b' for the public callables defined (not imported) in ``module``."""
    names = [
        key
        for key, value in vars(module).items()
        if not key.startswith("_")
        and callable(value)
        and getattr(value, "__module__", None) == module.__name__
    ]
    if not names:
        return "it defines no functions"
    shown = ", ".join(names[:_MAX_LISTED])
    return f"it defines: {shown}{', ...' if len(names) > _MAX_LISTED else ''}"


class _FreshSourceLoader(importlib.machinery.SourceFileLoader):
    """A source loader that always compiles from source and never touches bytecode."""

    def get_code(self, fullname: str):  # type: ignore[override]
        path = self.get_filename(fullname)
        return self.source_to_code(self.get_data(path), path)


class _FreshSourceFinder:
    """Meta-path finder that loads the plain-source modules of one directory freshly.

    Sits just before ``PathFinder``; for anything that is not a source module inside
    ``directory`` it returns None and lets the normal machinery do its job.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def find_spec(self, fullname: str, path: Any = None, target: Any = None):
        if path is None:
            search = [str(self.directory)]
        else:
            search = [p for p in path if _is_inside(p, self.directory)]
            if not search:
                return None
        found = importlib.machinery.PathFinder.find_spec(fullname, search, target)
        if found is None or not isinstance(found.loader, importlib.machinery.SourceFileLoader):
            return None
        origin = found.origin
        return importlib.util.spec_from_file_location(
            fullname,
            origin,
            loader=_FreshSourceLoader(fullname, origin),
            submodule_search_locations=found.submodule_search_locations,
        )

    def invalidate_caches(self) -> None:
        """Nothing cached here."""


@contextlib.contextmanager
def _isolated_imports(directory: Path) -> Iterator[None]:
    """Put ``directory`` first on ``sys.path`` and undo every trace of it afterwards.

    On exit ``sys.path`` is restored exactly (even if the user's code changed it) and
    the modules newly imported from ``directory`` (or private modules of ours) are
    removed from ``sys.modules``; other new modules (numpy submodules...) are kept.
    """
    saved_path = list(sys.path)
    before = set(sys.modules)
    finder = _FreshSourceFinder(directory)
    meta = sys.meta_path
    index = next(
        (i for i, f in enumerate(meta) if f is importlib.machinery.PathFinder), len(meta)
    )
    meta.insert(index, finder)
    sys.path.insert(0, str(directory))
    importlib.invalidate_caches()
    try:
        yield
    finally:
        sys.path[:] = saved_path
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(finder)
        tops: dict[str, bool] = {}
        for name in [n for n in list(sys.modules) if n not in before]:
            top = name.partition(".")[0]
            if top not in tops:
                tops[top] = top.startswith(_PRIVATE_PREFIX) or _comes_from(
                    sys.modules.get(top) or sys.modules.get(name), directory
                )
            if tops[top]:
                sys.modules.pop(name, None)


def _comes_from(module: Any, directory: Path) -> bool:
    """Whether a top-level module (file or package directory) lives in ``directory``."""
    if module is None:
        return False
    paths = getattr(module, "__path__", None)
    file = getattr(module, "__file__", None)
    try:
        if paths is not None:  # a package: its own directory must sit in `directory`
            first = next(iter(paths), None)
            location = first if first is not None else (os.path.dirname(file) if file else None)
        else:
            location = file
        if not location:
            return False
        return Path(location).resolve().parent == directory
    except (OSError, TypeError, ValueError):
        return False


def _is_inside(path: Any, directory: Path) -> bool:
    try:
        return Path(path).resolve().is_relative_to(directory)
    except (OSError, TypeError, ValueError):
        return False


# --------------------------------------------------------------------------- arrays

_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"


def load_npy(path: str, option: str) -> np.ndarray:
    """The array saved in the ``.npy`` file ``path`` (given with ``option``, e.g. ``--x``).

    The file must start with numpy's ``.npy`` magic (``np.save`` writes it); anything
    else (text, a ``.npz`` archive, a pickle) is refused without being parsed, and
    pickled (object) arrays are never loaded.  Raises ``LoadError``.
    """
    if os.path.isdir(path):
        raise LoadError(f"{option}: '{path}' is a directory, not a .npy file")
    if not os.path.isfile(path):
        raise LoadError(f"{option}: no file '{path}'")
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(_NPY_MAGIC))
    except OSError as exc:
        raise LoadError(f"{option}: cannot read '{path}': {exc.strerror or exc}") from None
    if head.startswith(_ZIP_MAGIC):
        raise LoadError(
            f"{option}: '{path}' is a .npz archive, not a .npy file (save one array with np.save)"
        )
    if head != _NPY_MAGIC:
        raise LoadError(f"{option}: '{path}' is not a .npy file (write one with np.save)")
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise LoadError(
                f"{option}: '{path}' holds Python objects, expected an array of real numbers"
            ) from None
        raise LoadError(f"{option}: '{path}' is not a valid .npy file: {exc}") from None
    except (OSError, EOFError) as exc:
        raise LoadError(f"{option}: '{path}' is not a valid .npy file: {exc}") from None


# --------------------------------------------------------------------------- tracebacks


def _exception_line(exc: BaseException) -> str:
    """``ZeroDivisionError: division by zero`` (just the type when there is no message)."""
    try:
        text = str(exc)
    except Exception:
        text = "<unprintable exception>"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _is_internal(filename: str) -> bool:
    """Frames of this module and of importlib, which the user does not need to see."""
    if filename.startswith("<frozen importlib"):
        return True
    absolute = os.path.abspath(filename) if not filename.startswith("<") else filename
    return absolute == _THIS_FILE or os.path.dirname(absolute) == _IMPORTLIB_DIR


def _user_traceback(exc: BaseException) -> str:
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


# --------------------------------------------------------------------------- calling


class UserFunction:
    """A user's callable, called with a fixed random state and an x-unchanged check.

    ``name`` (e.g. ``mycode.py:quad``) starts every error message.
    """

    def __init__(self, fn: Callable[..., Any], name: str) -> None:
        if not callable(fn):
            raise TypeError(f"{name!r} is not callable")
        self.fn = fn
        self.name = name
        self._random_state = random.getstate()
        self._np_state = np.random.get_state()
        self._param_names = _positional_names(fn)
        self._np_bytes = _np_state_bytes()  # None: no fast comparison possible
        self._in_session = 0
        self._repeat_checked = False  # the first cost call is made twice (see _require_repeatable)
        self.calls = 0  # every call of fn so far (the effort a check reports)

    def __repr__(self) -> str:
        return f"UserFunction({self.name!r})"

    @contextlib.contextmanager
    def session(self) -> Iterator["UserFunction"]:
        """Many calls in a row: the caller's random states are saved once, on entry, and
        restored on exit, instead of around every call.

        Inside, every call still starts from the captured states: ``random`` is reset
        before each call (cheap), ``numpy.random`` only when its raw MT19937 state differs
        from the captured one (a byte comparison instead of ``get_state``/``set_state``,
        which cost ~0.1 ms per call).  The checker draws no global random numbers
        meanwhile (it uses its own ``Generator``s).  OpenBLAS runs one thread meanwhile
        (``_one_blas_thread``).
        """
        caller_random, caller_np = random.getstate(), np.random.get_state()
        self._in_session += 1
        global _np_owner
        _np_owner = None
        try:
            with _one_blas_thread():
                yield self
        finally:
            self._in_session -= 1
            _np_owner = None
            random.setstate(caller_random)
            np.random.set_state(caller_np)

    @contextlib.contextmanager
    def reseeded(self, seed: int) -> Iterator["UserFunction"]:
        """Calls inside start from states of ``random`` and ``numpy.random`` seeded by
        ``seed`` instead of the captured ones (to tell whether the result depends on them)."""
        saved = self._random_state, self._np_state, self._np_bytes
        self._random_state = random.Random(seed).getstate()
        self._np_state = np.random.RandomState(seed).get_state()
        self._np_bytes = None
        global _np_owner
        _np_owner = None
        try:
            yield self
        finally:
            self._random_state, self._np_state, self._np_bytes = saved
            _np_owner = None

    def _enter_states(self) -> None:
        """Inside a session: put the captured states in place, skipping what already is."""
        global _np_owner
        random.setstate(self._random_state)
        if _np_owner is self and self._np_bytes is not None and _np_state_bytes(check_gauss=False) == self._np_bytes:
            return  # nothing drew from numpy.random since it was set (cached gauss: see _np_state_bytes)
        np.random.set_state(self._np_state)
        _np_owner = self

    def call(self, *args: Any) -> Any:
        """Return ``fn(*args)`` run from the captured random state, inputs checked.

        Raises ``UserCodeError`` when the function raises or changes an array argument
        in place (the array is restored first).  KeyboardInterrupt propagates.
        """
        self.calls += 1
        snapshots = [(i, a, a.copy()) for i, a in enumerate(args) if isinstance(a, np.ndarray)]
        if self._in_session:
            self._enter_states()
            caller_random = caller_np = None
        else:
            caller_random, caller_np = random.getstate(), np.random.get_state()
            random.setstate(self._random_state)
            np.random.set_state(self._np_state)
        try:
            result = self.fn(*args)
        except (Exception, SystemExit) as exc:
            for _, arg, original in snapshots:
                _restore(arg, original)
            raise UserCodeError(
                f"{self.name} raised {_exception_line(exc)}",
                user_traceback=_user_traceback(exc),
            ) from exc
        finally:
            if caller_np is not None:
                random.setstate(caller_random)
                np.random.set_state(caller_np)
        for i, arg, original in snapshots:
            if arg.shape == original.shape and arg.dtype == original.dtype and np.array_equal(arg, original):
                continue  # the common case, one pass (NaN entries fall through to the exact test)
            change = _describe_change(self._arg_label(i), arg, original)
            if change is not None:
                for _, a, o in snapshots:
                    _restore(a, o)
                raise UserCodeError(f"{self.name} modified its input in place: {change}")
        return result

    def cost_and_grad(self, *args: Any, grad_shape: tuple[int, ...], copy: bool = True) -> tuple[float, np.ndarray]:
        """Call and validate a CS224n-style ``(cost, grad)`` result.

        ``cost`` must be a finite real scalar (a number, a 0-d or size-1 array); ``grad``
        a real array of exactly ``grad_shape`` (non-finite entries are allowed: the
        checker fails them).  Returns ``(float(cost), float64 copy of grad)``; with
        ``copy=False`` the grad is returned as the function gave it (validated, not
        copied: for calls that only need the cost).
        The first call is made twice and must give the same result (``_require_repeatable``).
        """
        if not self._repeat_checked:
            self._repeat_checked = True
            first = self.cost_and_grad(*args, grad_shape=grad_shape)
            second = self.cost_and_grad(*args, grad_shape=grad_shape)
            self._require_repeatable(first, second)
            return second
        result = self.call(*args)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise UserCodeError(
                f"{self.name} returned {_describe_value(result)}, expected a pair (cost, grad)"
            )
        cost = self._scalar_cost(result[0])
        grad_shape = tuple(int(n) for n in grad_shape)
        grad = self._grad_array(result[1], grad_shape)
        if grad.shape != grad_shape:
            raise UserCodeError(
                f"{self.name} returned a gradient of shape {grad.shape}, expected "
                f"{grad_shape}{self._shape_source(args, grad_shape)}"
            )
        return cost, (np.array(grad, dtype=np.float64, copy=True) if copy else grad)

    def cost_only(self, *args: Any) -> float:
        """Call a function that returns only its cost; validate it as a finite real scalar.

        The first call is made twice and must give the same cost (``_require_repeatable``).
        """
        if not self._repeat_checked:
            self._repeat_checked = True
            first = self.cost_only(*args)
            second = self.cost_only(*args)
            self._require_repeatable((first, None), (second, None))
            return second
        result = self.call(*args)
        if isinstance(result, (tuple, list)):
            raise UserCodeError(
                f"{self.name} returned {_describe_value(result)}, expected a scalar cost"
            )
        return self._scalar_cost(result)

    # ----------------------------------------------------------------- validation

    def _require_repeatable(self, first: tuple[float, Any], second: tuple[float, Any]) -> None:
        """Two calls at the same x must agree to within ``REPEAT_ULPS`` units in the last place.

        Every call starts from the same ``random``/``numpy.random`` state, so a function
        that disagrees with itself draws numbers gradcheck cannot reset (an unseeded
        ``np.random.default_rng()``, a Generator kept between calls, the clock).  Finite
        differences of such a function measure its noise, not its slope: raise
        ``UserCodeError`` (exit 2) instead of reporting a meaningless verdict.
        """
        (c1, g1), (c2, g2) = first, second
        what = None
        if not _agree(np.asarray(c1), np.asarray(c2)):
            what = f"costs ({c1!r}, then {c2!r})"
        elif g1 is not None and not _agree(g1, g2):
            what = "gradients"
        if what is not None:
            raise UserCodeError(
                f"{self.name} returned different {what} for the same x: it draws random "
                "numbers that gradcheck cannot reset (an unseeded np.random.default_rng() or "
                "a Generator kept between calls); gradcheck resets random and numpy.random "
                "before every call, so use those or seed the generator inside the function"
            )

    def _scalar_cost(self, value: Any) -> float:
        if value is None:
            raise UserCodeError(f"{self.name} returned None as the cost, expected a real scalar")
        if isinstance(value, numbers.Real) and not isinstance(value, np.ndarray):
            cost = float(value)
        else:
            try:
                array = np.asarray(value)
            except Exception:
                array = np.asarray(None, dtype=object)
            if array.dtype.kind == "c":
                raise UserCodeError(
                    f"{self.name} returned a complex cost, expected a real scalar"
                )
            if array.dtype.kind not in "biuf":
                raise UserCodeError(
                    f"{self.name} returned a cost of type {type(value).__name__}, "
                    "expected a real scalar"
                )
            if array.size != 1:
                raise UserCodeError(
                    f"{self.name} returned a cost of shape {array.shape}, expected a scalar"
                )
            cost = float(array.reshape(()))
        if not math.isfinite(cost):
            raise NonFiniteCostError(f"{self.name} returned a non-finite cost ({cost})")
        return cost

    def _grad_array(self, value: Any, grad_shape: tuple[int, ...]) -> np.ndarray:
        expected = f"expected a real array of shape {grad_shape}"
        if value is None:
            raise UserCodeError(f"{self.name} returned None as the gradient, {expected}")
        try:
            array = np.asarray(value)
        except Exception:
            array = np.asarray(None, dtype=object)
        if array.dtype.kind == "c":
            raise UserCodeError(f"{self.name} returned a complex gradient, {expected}")
        if array.dtype.kind not in "biuf":
            try:
                array = array.astype(np.float64)
            except (TypeError, ValueError):
                raise UserCodeError(
                    f"{self.name} returned a gradient of type {type(value).__name__}, {expected}"
                ) from None
        return array

    def _shape_source(self, args: tuple[Any, ...], grad_shape: tuple[int, ...]) -> str:
        """' (the shape of x)' when an array argument has the expected gradient shape."""
        for i, arg in enumerate(args):
            if isinstance(arg, np.ndarray) and arg.shape == grad_shape:
                return f" (the shape of {self._arg_label(i)})"
        return ""

    def _arg_label(self, i: int) -> str:
        if i < len(self._param_names):
            return self._param_names[i]
        return f"argument {i + 1}"


@contextlib.contextmanager
def _one_blas_thread() -> Iterator[None]:
    """numpy's OpenBLAS limited to one thread for a run of calls, then set back.

    A gradient check calls small matrix products thousands of times in a row; on a busy
    machine OpenBLAS's threads spin against each other and against other processes
    (measured: a 784-100-10 ``forward_backward_prop`` 5-10 times slower with 2 threads on 2
    shared cores).  Left alone when the user set ``OPENBLAS_NUM_THREADS`` or
    ``OMP_NUM_THREADS``, or when no OpenBLAS is found (Linux ``/proc/self/maps`` only).
    """
    lib = None
    if not (os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS")):
        lib = _openblas()
    before = None
    if lib is not None:
        try:
            before = int(lib[0]())
            if before > 1:
                lib[1](1)
            else:
                before = None
        except Exception:
            before = None
    try:
        yield
    finally:
        if before is not None:
            with contextlib.suppress(Exception):
                lib[1](before)


_OPENBLAS: "list" = []


def _openblas():
    """(get_num_threads, set_num_threads) of the OpenBLAS numpy loaded, or None."""
    if not _OPENBLAS:
        found = None
        try:
            import ctypes

            with open("/proc/self/maps", encoding="utf-8") as maps:
                paths = sorted({line.split()[-1] for line in maps
                                if "openblas" in line.lower() and line.split()[-1].startswith("/")})
            for path in paths:
                lib = ctypes.CDLL(path)
                for prefix, suffix in (("scipy_openblas", "64_"), ("scipy_openblas", ""), ("openblas", "64_"),
                                       ("openblas", "")):
                    get = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                    put = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
                    if get is not None and put is not None:
                        get.restype, put.argtypes = ctypes.c_int, [ctypes.c_int]
                        found = (get, put)
                        break
                if found:
                    break
        except Exception:
            found = None
        _OPENBLAS.append(found)
    return _OPENBLAS[0]


#: the UserFunction whose captured numpy state was last put in place inside a session
_np_owner: "UserFunction | None" = None
#: bytes of MT19937's C state: uint32 key[624] and int pos
_MT_STATE_BYTES = 624 * 4 + 4


def _np_state_bytes(check_gauss: bool = True) -> bytes | None:
    """The raw C state of the global MT19937 (2500 bytes), or None when unavailable or
    (``check_gauss``) when a cached Gaussian is pending: drawing it changes no byte of
    the generator, so such a state cannot be compared by its bytes."""
    global _mt_address
    try:
        import ctypes

        if check_gauss:
            state = np.random.get_state()
            if state[0] != "MT19937" or state[3]:
                return None
        if _mt_address is None:
            _mt_address = int(np.random.mtrand._rand._bit_generator.ctypes.state_address)
        return ctypes.string_at(_mt_address, _MT_STATE_BYTES)
    except Exception:
        return None


_mt_address: int | None = None


#: two calls at the same x agree when they differ by at most this many units in the last place
REPEAT_ULPS = 64


def _agree(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether ``a`` and ``b`` are equal to within ``REPEAT_ULPS`` ulps of max(|a|) (NaN == NaN)."""
    if a.shape != b.shape:
        return False
    with np.errstate(all="ignore"):
        same = (a == b) | (np.isnan(a) & np.isnan(b))
        if same.all():
            return True
        finite = np.isfinite(a) & np.isfinite(b)
        if not finite[~same].all():
            return False
        scale = float(np.max(np.abs(a[finite]), initial=0.0))
        return bool(np.max(np.abs(a - b)[finite]) <= REPEAT_ULPS * np.finfo(float).eps * scale)


def _positional_names(fn: Callable[..., Any]) -> list[str]:
    """Names of ``fn``'s positional parameters, in order ([] when unknown)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return []
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [p.name for p in params if p.kind in positional]


def _describe_change(label: str, arg: np.ndarray, original: np.ndarray) -> str | None:
    """None if ``arg`` equals ``original`` exactly (NaN == NaN), else what changed."""
    if arg.shape != original.shape:
        return f"the shape of {label} changed from {original.shape} to {arg.shape}"
    if arg.dtype != original.dtype:
        return f"the dtype of {label} changed from {original.dtype} to {arg.dtype}"
    differs = np.asarray(arg != original)
    if arg.dtype.kind in "fc":
        differs &= ~(np.isnan(arg) & np.isnan(original))
    if not differs.any():
        return None
    index = tuple(int(k) for k in np.argwhere(differs)[0])
    where = label if not index else _index_label(label, index)
    return f"{where} changed from {_scalar_repr(original[index])} to {_scalar_repr(arg[index])}"


def _index_label(label: str, index: tuple[int, ...]) -> str:
    inside = ", ".join(str(k) for k in index)
    if label.startswith("argument "):
        return f"{label} at index [{inside}]"
    return f"{label}[{inside}]"


def _scalar_repr(value: Any) -> str:
    item = value.item() if isinstance(value, (np.generic, np.ndarray)) else value
    return repr(item)


def _restore(arg: np.ndarray, original: np.ndarray) -> None:
    """Put the original contents back into ``arg`` (best effort)."""
    if arg.dtype != original.dtype:
        return  # reinterpreted in place (x.dtype = ...): copying back would corrupt it
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if arg.shape != original.shape and arg.size == original.size:
                arg.shape = original.shape
            np.copyto(arg, original)
    except (TypeError, ValueError, AttributeError):
        pass


def _describe_value(value: Any) -> str:
    """A short description of a returned value for messages: 'a tuple of 3 items'..."""
    if value is None:
        return "None"
    if isinstance(value, (tuple, list)):
        n = len(value)
        return f"a {type(value).__name__} of {n} item{'s' if n != 1 else ''}"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, numbers.Number):
        return f"a single number ({value!r})"
    return f"a value of type {type(value).__name__}"


def load_seeded(specs: "list[tuple[str, str]]", seed: int) -> "list[UserFunction]":
    """Load ``(spec, what)`` pairs as UserFunctions, reproducibly.

    ``random`` and ``numpy.random`` are seeded with ``seed`` while the user's modules run
    (module-level random draws repeat from run to run) and when each UserFunction is
    made (so every call starts from that seeded state); the caller's states are
    restored afterwards.
    """
    saved = random.getstate(), np.random.get_state()
    try:
        random.seed(seed)
        np.random.seed(seed % 2**32)
        fns = [load_callable(spec, what=what) for spec, what in specs]
        random.seed(seed)
        np.random.seed(seed % 2**32)
        return [UserFunction(fn, spec) for fn, (spec, _) in zip(fns, specs)]
    finally:
        random.setstate(saved[0])
        np.random.set_state(saved[1])
