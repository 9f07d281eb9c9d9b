"""``UserFunction``: the one wrapper through which every call of users' code goes.

Each call (``UserFunction.call``)

* is counted and timed (``calls``, ``seconds``): the effort a report shows is read from
  these counters, so every call is in it, re-estimates included;
* starts from the same random state: the states of ``random`` and of numpy's legacy
  global RNG are captured when the wrapper is made and put in place before each call
  (inside a ``session`` only when the code drew since: a byte comparison of the raw
  generator states instead of re-seeding), so a function that draws random numbers
  computes the same thing at every finite-difference probe;
* must leave its array arguments as it found them.  A small one (up to 64 KiB) is copied
  before the call and compared after it, bit for bit; only when the bits differ is the
  change described (NaN == NaN, -0.0 == 0.0) and, if real, undone and reported with its
  first index.  A large one is passed read-only instead (its writeable flag cleared, and
  that of the array owning its memory), which costs the same at any size, where a copy
  and a comparison cost about as much as a memory-bound function itself:

  - every write through numpy or the buffer protocol (``x[i] = ...``, ``x += ...``,
    ``out=x``, ``x.sort()``, Cython memoryviews) then raises; the call is made again with
    the input writable and copied (and so from then on), so a function that changes an
    entry and puts it back passes, one that leaves it changed is reported as above;
  - setting the flag back (``x.flags.writeable = True``) is seen after the call;
  - writes that bypass the flag (ctypes on ``x.ctypes.data``, C code ignoring it) are
    caught by the comparison of calls 1, 2, 4, 8, ..., whose inputs are copied as well;
  - what the call returns that views a read-only input (a layer's ``x.reshape(...)``, a
    cache of ``x.T``) is made writeable again, as are the inputs, and is read-only again
    during later calls (a view the code keeps cannot write into a later input unseen);
  - torch's warning that ``torch.from_numpy`` shares a read-only array is raised as an
    error inside a session, and the call made again writable and copied;
* runs inside ``state.GUARD`` (its stdout to our stderr; numpy's error state, the
  recursion limit, ``sys.stdout``, the current directory put back after it) and inside
  the user's ``importer.UserImports`` (its folder first on ``sys.path``);
* is the user's, whatever it raises: any exception, ``SystemExit`` and ``GeneratorExit``
  included, becomes ``UserCodeError`` (exit 2) with the user's traceback;
  ``KeyboardInterrupt`` propagates (exit 130).

The common call (one large array owning its memory, at a call that copies nothing) takes
a short path with the same checks (``_call_read_only``); ``cost_of`` goes straight to it
from the full mode's loop.

What comes back is validated by ``protocols``; ``cost_and_grad`` and ``cost_only`` also
require the first call to be repeatable (``_require_repeatable``).
"""

from __future__ import annotations

import contextlib
import inspect
import random
import time
import warnings
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ..errors import UserCodeError
from . import protocols
from .state import GUARD
from .threads import one_blas_thread
from .tracebacks import exception_line, user_traceback

__all__ = ["UserFunction", "REPEAT_ULPS"]

#: two calls at the same x agree when they differ by at most this many units in the last place
REPEAT_ULPS = 64


class UserFunction:
    """A user's callable, called with a fixed random state, inputs checked, state guarded.

    ``name`` (e.g. ``mycode.py:quad``) starts every error message; ``imports`` (an
    ``importer.UserImports``) puts the user's folder on ``sys.path`` around the calls.
    """

    def __init__(self, fn: Callable[..., Any], name: str, imports: Any = None) -> None:
        if not callable(fn):
            raise TypeError(f"{name!r} is not callable")
        self.fn = fn
        self.name = name
        self.imports = imports  # None: a callable of the caller's, nothing to put in place
        self._random_state = random.getstate()
        self._py_bytes = _py_state_bytes()
        self._np_state = np.random.get_state()
        self._np_bytes = _np_state_bytes()  # None: no fast comparison possible
        self._param_names = _positional_names(fn)
        self._shadows: dict[int, tuple] = {}  # argument position -> (buffer for its copy, address)
        self._shapes: dict[int, tuple] = {}  # argument position -> (shape, dtype) at the last call
        self._in_session = 0
        self._writes_inputs = False  # a call failed with read-only inputs: large ones copied from then on
        self._torch_warns = False  # torch's read-only warning was raised with no input of ours read-only
        self._released: list = []  # weak references to the views of inputs that calls returned (_release)
        self._repeat_checked = False  # the first cost call is made twice (see _require_repeatable)
        self.calls = 0  #: every call of fn so far (the effort a check reports)
        #: the last validated result (cost_and_grad, cost_only, gradient_only) was float32 code's:
        #: a float32 (complex64) cost or gradient, before the float / float64 conversion
        self.returned_single = False
        self.seconds = 0.0  #: wall time spent inside fn

    def __repr__(self) -> str:
        return f"UserFunction({self.name!r})"

    @contextlib.contextmanager
    def _guarded(self) -> Iterator[None]:
        """What a session sets up, for one call made outside any: the guard, the caller's
        random states saved and restored."""
        caller_random, caller_np = random.getstate(), np.random.get_state()
        self._in_session += 1
        global _np_owner
        _np_owner = None
        try:
            with GUARD, _read_only_warning_raises():
                yield
        finally:
            self._in_session -= 1
            _np_owner = None
            random.setstate(caller_random)
            np.random.set_state(caller_np)

    @contextlib.contextmanager
    def session(self) -> Iterator["UserFunction"]:
        """Many calls in a row: the guard and one BLAS thread are set up once (the user's
        imports are put in place around each call only, so that our own code never sees
        their modules); the caller's random states are saved on entry and restored on exit.

        Inside, every call still starts from the captured states, re-set only when the
        code drew from them.  The checker draws no global random numbers meanwhile (it
        uses its own ``Generator``s).
        """
        caller_random, caller_np = random.getstate(), np.random.get_state()
        self._in_session += 1
        global _np_owner
        _np_owner = None
        try:
            with GUARD, one_blas_thread(), _read_only_warning_raises():
                yield self
        finally:
            self._in_session -= 1
            _np_owner = None
            random.setstate(caller_random)
            np.random.set_state(caller_np)

    @contextlib.contextmanager
    def reseeded(self, seed: int) -> Iterator["UserFunction"]:
        """Calls inside start from states of ``random`` and ``numpy.random`` seeded by
        ``seed`` instead of the captured ones (to tell whether a result depends on them)."""
        saved = self._random_state, self._np_state, self._np_bytes, self._py_bytes
        self._random_state = random.Random(seed).getstate()
        self._np_state = np.random.RandomState(seed).get_state()
        self._np_bytes = self._py_bytes = None
        global _np_owner
        _np_owner = None
        try:
            yield self
        finally:
            self._random_state, self._np_state, self._np_bytes, self._py_bytes = saved
            _np_owner = None

    def _enter_states(self) -> None:
        """Inside a session: put the captured states in place, skipping what already is
        (the raw generator states compared byte for byte: no re-seeding when nothing drew)."""
        global _np_owner
        py = self._py_bytes
        if py is None or random._inst.gauss_next is not None or bytes(_views["py"]) != py:
            random.setstate(self._random_state)
        if _np_owner is self and self._np_bytes is not None and bytes(_views["mt"]) == self._np_bytes:
            return  # nothing drew from numpy.random since it was set (cached gauss: see _np_state_bytes)
        np.random.set_state(self._np_state)
        _np_owner = self

    def call(self, *args: Any) -> Any:
        """Return ``fn(*args)`` run from the captured random state, inputs checked.

        Raises ``UserCodeError`` when the function raises (anything but
        KeyboardInterrupt) or changes an array argument in place (the array is restored
        first).  KeyboardInterrupt propagates.
        """
        if not self._in_session:  # one call alone: a session of its own (BLAS threads left alone)
            with self._guarded():
                return self.call(*args)
        if len(args) == 1 and not (self._writes_inputs or self._torch_warns or self._released):
            a = args[0]
            n = self.calls + 1
            if type(a) is np.ndarray and a.base is None and n & (n - 1) and a.nbytes > _SMALL and a.flags.writeable:
                return self._call_read_only(a)
        self.calls += 1
        writes = self._writes_inputs
        # calls 1, 2, 4, 8, ... copy and compare their large inputs too (read-only or not)
        audit = writes or not (self.calls & (self.calls - 1))
        snapshots = []
        locked: list = []  # (height, array) whose writeable flag this call cleared
        large = []  # (position, array) passed read-only
        shapes = self._shapes
        for i, a in enumerate(args):
            if isinstance(a, np.ndarray):
                shapes[i] = (a.shape, a.dtype)
                small = a.nbytes <= _SMALL
                if small or audit:
                    snapshots.append((i, a, _snapshot(self._shadows, i, a)))
                if small or writes:
                    continue
                if a.base is None:  # the common case of ``_lock``: an array owning its memory
                    if a.flags.writeable:
                        a.setflags(False)
                        locked.append((0, a))
                    large.append((i, a))
                elif _lock(a, locked):
                    large.append((i, a))
                elif not audit:  # a writeable view of a read-only array: copied instead
                    snapshots.append((i, a, _snapshot(self._shadows, i, a)))
        if self._released and large:  # what earlier calls returned that views an input: read-only again
            alive = [r for r in self._released if r() is not None]
            self._released = alive
            for ref in alive:
                view = ref()
                if view is not None:
                    _lock(view, locked)
        self._enter_states()
        errstate = GUARD.errstate()
        imports = self.imports
        retry = False
        t0 = time.perf_counter()
        try:
            if self._torch_warns:  # their own read-only arrays given to torch: its warning as it was
                with warnings.catch_warnings():
                    warnings.filterwarnings("default", message=_TORCH_READ_ONLY, category=UserWarning)
                    result = self._invoke(imports, args)
            elif imports is None:
                result = self.fn(*args)
            else:
                result = self._invoke(imports, args)
        except KeyboardInterrupt:
            _unlock(locked)
            self._restore_all(snapshots)
            raise
        except BaseException as exc:  # SystemExit, GeneratorExit...: theirs too
            retry = self._failed(exc, locked, snapshots, large)
        finally:
            self.seconds += time.perf_counter() - t0
            GUARD.restore(errstate)
        if retry:
            return self.call(*args)
        flipped = False
        if locked:
            flipped = _unlock(locked)
            if not _owns_all(result):
                _release(result, locked, self._released)
            if flipped:
                self._writes_inputs = True  # it turns the flag back on: copies from now on
        for i, arg, (snap, address) in snapshots:
            shape, dtype = shapes[i]
            if arg.shape == shape and arg.dtype is dtype and _same_bits(arg, snap, address):
                continue  # the common case: one pass over the memory
            change = self._change(i, arg, snap)
            if change is not None:
                self._restore_all(snapshots)
                raise UserCodeError(f"{self.name} modified its input in place: {change}")
        for i, arg in large:  # read-only: only its shape or dtype can have changed
            shape, dtype = shapes[i]
            if arg.shape != shape or (arg.dtype is not dtype and arg.dtype != dtype):
                change = self._change(i, arg, b"")
                _reshape(arg, shape, dtype)
                raise UserCodeError(f"{self.name} modified its input in place: {change}")
        if flipped:
            self._check_flags(flipped, large, snapshots)
        return result

    def _call_read_only(self, a: np.ndarray) -> Any:
        """``call`` in its common case, with less bookkeeping: one large writeable array
        owning its memory, passed read-only, on a call that does not copy it (not a power
        of 2); the same checks (``call``'s docstring)."""
        self.calls += 1
        shape, dtype = a.shape, a.dtype
        a.setflags(False)
        self._enter_states()
        errstate = GUARD.errstate()
        imports = self.imports
        retry = False
        t0 = time.perf_counter()
        try:
            result = self.fn(a) if imports is None else self._invoke(imports, (a,))
        except KeyboardInterrupt:
            a.setflags(True)
            raise
        except BaseException as exc:  # SystemExit, GeneratorExit...: theirs too
            self._shapes[0] = (shape, dtype)
            retry = self._failed(exc, [(0, a)], [], [(0, a)])
        finally:
            self.seconds += time.perf_counter() - t0
            GUARD.restore(errstate)
        if retry:
            return self.call(a)
        flipped = a.flags.writeable
        a.setflags(True)
        if type(result) is tuple and len(result) == 2 and type(result[0]) in _SCALARS:  # (cost, grad): inline
            g = result[1]
            if not (type(g) is np.ndarray and (g.base is None or g.flags.writeable)) and not _owns_all(result):
                _release(result, [(0, a)], self._released)
        elif not _owns_all(result):
            _release(result, [(0, a)], self._released)
        if a.shape != shape or (a.dtype is not dtype and a.dtype != dtype):
            self._shapes[0] = (shape, dtype)
            change = self._change(0, a, b"")
            _reshape(a, shape, dtype)
            raise UserCodeError(f"{self.name} modified its input in place: {change}")
        if flipped:
            self._writes_inputs = True  # it turns the flag back on: copies from now on
            self._check_flags(True, [(0, a)], [])
        return result

    def _failed(self, exc: BaseException, locked: list, snapshots: list, large: list) -> bool:
        """After a call that raised ``exc``: inputs unlocked and restored; True when the call
        is to be made again (writable and copied, or with torch's warning as it was), else
        raises ``UserCodeError``."""
        flipped = _unlock(locked)
        self._restore_all(snapshots)
        if large and not flipped:
            # perhaps it writes into its input (and puts it back): once more, writable and copied
            self._writes_inputs = True
            return True
        if not self._torch_warns and isinstance(exc, UserWarning) and str(exc).startswith(_TORCH_READ_ONLY):
            self._torch_warns = True
            return True
        self._check_flags(flipped, large, snapshots)
        raise UserCodeError(
            f"{self.name} raised {exception_line(exc)}",
            user_traceback=user_traceback(exc),
        ) from exc

    def _restore_all(self, snapshots: list) -> None:
        """Put every copied input back as it was before the call."""
        for j, arg, (snap, _) in snapshots:
            _restore(arg, snap, *self._shapes.get(j, (None, None)))

    def _invoke(self, imports: Any, args: tuple) -> Any:
        if imports is None:
            return self.fn(*args)
        with imports:  # their folder on sys.path, their modules in sys.modules: during the call only
            return self.fn(*args)

    def _check_flags(self, flipped: bool, large: list, snapshots: list) -> None:
        """After a call that turned an input's read-only flag off: unless the call was one
        that copied its inputs (the comparison decides), say that it cannot be checked."""
        if not flipped:
            return
        copied = {j for j, _, _ in snapshots}
        for i, _ in large:
            if i not in copied:
                label = self._arg_label(i)
                raise UserCodeError(
                    f"{self.name} made its input {label} writeable ({label}.flags.writeable = True), so "
                    f"gradcheck cannot tell whether it changed it (inputs over {_SMALL // 1024} KiB are "
                    f"passed read-only to catch changes in place): copy it first ({label} = {label}.copy())")

    def _change(self, i: int, arg: np.ndarray, snap: Any) -> str | None:
        """What the call changed in argument ``i`` (None: the same values, other bits)."""
        if isinstance(snap, bytes):  # b"": a read-only input, whose bytes cannot have changed
            shape, dtype = self._shapes[i]
            if arg.shape != shape:
                return f"the shape of {self._arg_label(i)} changed from {shape} to {arg.shape}"
            if arg.dtype != dtype:
                return f"the dtype of {self._arg_label(i)} changed from {dtype} to {arg.dtype}"
        return _describe_change(self._arg_label(i), arg, _original(arg, snap))

    def cost_and_grad(self, *args: Any, grad_shape: tuple[int, ...], copy: bool = True) -> tuple[float, np.ndarray]:
        """Call and validate a CS224n-style ``(cost, grad)`` result (``protocols.cost_and_grad``).

        Returns ``(float(cost), float64 copy of grad)``; with ``copy=False`` the grad is
        returned as the function gave it (validated, not copied: for calls that only need
        the cost).  The first call is made twice and must give the same result.
        """
        if not self._repeat_checked:
            self._repeat_checked = True
            first = self.cost_and_grad(*args, grad_shape=grad_shape)
            second = self.cost_and_grad(*args, grad_shape=grad_shape)
            self._require_repeatable(first, second)
            return second
        if type(grad_shape) is not tuple:
            grad_shape = tuple(int(n) for n in grad_shape)
        result = self.call(*args)
        if type(result) is tuple and len(result) == 2:
            c, g = result
            if ((type(c) is float or type(c) is np.float64) and c - c == 0.0 and type(g) is np.ndarray
                    and g.shape == grad_shape and g.dtype.kind in "fiub"):  # valid by protocols' rules: no call
                self.returned_single = g.dtype == np.float32
                return float(c), (np.array(g, dtype=np.float64, copy=True) if copy else g)
        pair = self._validated_pair(result, args, grad_shape, copy)
        self.returned_single = _single(result[0]) or _single(result[1])
        return pair

    def cost_of(self, grad_shape: tuple[int, ...]) -> Callable[[np.ndarray], float]:
        """``z -> cost_and_grad(z, grad_shape=grad_shape, copy=False)[0]`` for the many calls
        of a check (the same validation, inlined: one Python frame fewer per call)."""
        grad_shape = tuple(int(n) for n in grad_shape)
        call, read_only, f64, array = self.call, self._call_read_only, np.float64, np.ndarray
        own = type(self).call is UserFunction.call  # a subclass's calls (an isolated child's) go through its call

        def cost(z: np.ndarray) -> float:
            if not self._repeat_checked:
                return self.cost_and_grad(z, grad_shape=grad_shape, copy=False)[0]
            n = self.calls + 1
            if (own and type(z) is array and n & (n - 1) and self._in_session and z.base is None and z.nbytes > _SMALL
                    and not (self._writes_inputs or self._torch_warns or self._released) and z.flags.writeable):
                result = read_only(z)  # ``call``'s common case, without its dispatch
            else:
                result = call(z)
            if type(result) is tuple and len(result) == 2:
                c, g = result
                if ((type(c) is float or type(c) is f64) and c - c == 0.0 and type(g) is array
                        and g.shape == grad_shape and g.dtype.kind in "fiub"):  # valid by protocols' rules
                    return float(c)
            return self._validated_pair(result, (z,), grad_shape, False)[0]

        return cost

    def _validated_pair(self, result: Any, args: tuple, grad_shape: tuple[int, ...], copy: bool
                        ) -> tuple[float, np.ndarray]:
        """``protocols.cost_and_grad`` of a call's result (the error names the argument
        whose shape the gradient should have)."""
        if isinstance(result, tuple) and len(result) == 2:  # shape source only on an error
            try:
                cost, grad = protocols.cost_and_grad(result, self.name, grad_shape)
            except UserCodeError:
                protocols.cost_and_grad(result, self.name, grad_shape, self._shape_source(args, grad_shape))
                raise
        else:
            cost, grad = protocols.cost_and_grad(result, self.name, grad_shape, self._shape_source(args, grad_shape))
        return cost, (np.array(grad, dtype=np.float64, copy=True) if copy else grad)

    def cost_only(self, *args: Any) -> float:
        """Call a function that returns only its cost (``protocols.cost_only``).

        The first call is made twice and must give the same cost.
        """
        if not self._repeat_checked:
            self._repeat_checked = True
            first = self.cost_only(*args)
            second = self.cost_only(*args)
            self._require_repeatable((first, None), (second, None))
            return second
        result = self.call(*args)
        cost = protocols.cost_only(result, self.name)
        self.returned_single = _single(result)
        return cost

    def gradient_only(self, x: np.ndarray) -> np.ndarray:
        """Call a separate gradient function at ``x`` (``protocols.gradient_only``)."""
        result = self.call(x)
        g = protocols.gradient_only(result, self.name, tuple(np.shape(x)))
        self.returned_single = _single(result)
        return g

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


# --------------------------------------------------------------------------- random states

#: the UserFunction whose captured numpy state was last put in place inside a session
_np_owner: "UserFunction | None" = None
#: bytes of MT19937's C state: uint32 key[624] and int pos
_MT_STATE_BYTES = 624 * 4 + 4
_mt_address: int | None = None
#: where ``random``'s Mersenne Twister sits in memory (CPython's RandomObject: index, state[624])
_py_address: int | None = None
_PY_STATE_BYTES = 4 + 624 * 4


def _string_at(address: int | None, size: int) -> bytes | None:
    """``size`` bytes of memory at ``address`` (None when there is no address)."""
    return None if address is None else _CTYPES.string_at(address, size)


def _np_state_bytes() -> bytes | None:
    """The raw C state of the global MT19937 (2500 bytes), or None when unavailable or
    when a cached Gaussian is pending: drawing it changes no byte of the generator, so
    such a state cannot be compared by its bytes."""
    global _mt_address
    try:
        state = np.random.get_state()
        if state[0] != "MT19937" or state[3]:
            return None
        if _mt_address is None:
            _mt_address = int(np.random.mtrand._rand._bit_generator.ctypes.state_address)
            _views["mt"] = _view(_mt_address, _MT_STATE_BYTES)
        return bytes(_views["mt"])
    except Exception:
        return None


def _py_state_bytes() -> bytes | None:
    """The raw state of ``random``'s generator (index and key, 2500 bytes), read in place,
    or None when its memory layout is not the one expected (checked against
    ``random.getstate()``) or a cached Gaussian is pending."""
    global _py_address
    try:
        import struct

        inst = random._inst
        version, internal, gauss = inst.getstate()
        if gauss is not None or len(internal) != 625:
            return None
        address = id(inst) + object.__basicsize__
        expected = struct.pack(f"=i{len(internal) - 1}I", internal[-1], *internal[:-1])
        if _string_at(address, _PY_STATE_BYTES) != expected:
            return None
        if _py_address != address:
            _py_address = address
            _views["py"] = _view(address, _PY_STATE_BYTES)
        return expected
    except Exception:
        return None


try:
    import ctypes as _CTYPES
except ImportError:  # pragma: no cover - ctypes is everywhere CPython runs
    _CTYPES = None


def _view(address: int, size: int) -> memoryview:
    """A byte view of ``size`` bytes at ``address``: ``bytes(view)`` reads them 7 times
    faster than ``ctypes.string_at``."""
    return memoryview((_CTYPES.c_char * size).from_address(address)).cast("B")


#: byte views of the two generators' raw states ("py": random's, "mt": numpy's), once known
_views: dict[str, memoryview] = {}


# --------------------------------------------------------------------------- large inputs read-only


def _lock(a: np.ndarray, locked: list) -> bool:
    """Clear the writeable flag of ``a`` and of the arrays it is a view of (numpy makes a
    view's base the array owning the memory: so that the flag of ``a`` alone cannot be
    set back); note each one cleared, with its height (0 for the owner), in ``locked``.
    False, with nothing changed, for a writeable view of a read-only array (its flag could
    not be set back)."""
    if a.base is None:  # the common case: an array owning its memory
        if a.flags.writeable:
            a.setflags(False)
            locked.append((0, a))
        return True
    chain = [a]
    while isinstance(chain[-1].base, np.ndarray):
        chain.append(chain[-1].base)
    if a.flags.writeable and not all(b.flags.writeable or any(b is c for _, c in locked) for b in chain[1:]):
        return False
    for height, b in enumerate(reversed(chain)):
        if b.flags.writeable:
            b.setflags(False)
            locked.append((height, b))
    return True


def _unlock(locked: list) -> bool:
    """Set the writeable flags ``_lock`` cleared back (the arrays owning the memory
    first); returns whether the call had set any of them itself."""
    if len(locked) == 1:
        a = locked[0][1]
        flipped = a.flags.writeable
        a.setflags(True)
        return flipped
    flipped, top = False, 0
    for height, a in locked:
        if a.flags.writeable:
            flipped = True
        if height > top:
            top = height
    for level in range(top + 1):  # numpy makes a view's base the owner: one or two levels
        for height, a in locked:
            if height == level:
                try:
                    a.setflags(True)
                except ValueError:  # pragma: no cover - its base is ours, and writeable again
                    pass
    return flipped


#: at most this many items of a result are looked at for views of a read-only input
_RELEASE_ITEMS = 256

#: what a result may hold that cannot view an input (``_owns_all``)
_SCALARS = (float, int, np.float64, np.float32)


def _owns_all(result: Any) -> bool:
    """Whether ``result`` surely holds no view of an input: a scalar, an array owning its
    memory or writeable, or a tuple of up to 4 such (the ``(cost, grad)`` of most code;
    ``_release`` looks into everything else)."""
    kind = type(result)
    if kind is tuple and len(result) <= 4:
        for item in result:
            t = type(item)
            if t is np.ndarray:
                if item.base is not None and not item.flags.writeable:
                    return False
            elif t not in _SCALARS:
                return False
        return True
    if kind is np.ndarray:
        return result.base is None or result.flags.writeable
    return kind in _SCALARS


def _release(obj: Any, locked: list, released: list, depth: int = 0) -> None:
    """Make writeable the views of read-only inputs that a call returned (numpy makes a
    view of a read-only array read-only: a layer's ``x.reshape(...)`` output, a cache
    holding ``x.T``), looking into tuples, lists and dicts (4 levels, 256 items each),
    and note a weak reference to each in ``released`` (they are read-only again during
    later calls: a view kept by the code cannot write into a later input unseen);
    broadcast views (a zero stride) stay read-only, as numpy makes them."""
    kind = type(obj)
    if kind is tuple or kind is list:
        if depth < 4:
            for item in obj[:_RELEASE_ITEMS]:
                if type(item) is not float:
                    _release(item, locked, released, depth + 1)
    elif isinstance(obj, np.ndarray):
        if obj.flags.writeable or any(st == 0 and n > 1 for st, n in zip(obj.strides, obj.shape)):
            return
        node = obj.base
        while isinstance(node, np.ndarray):
            for _, a in locked:
                if a is node:
                    with contextlib.suppress(ValueError):
                        obj.flags.writeable = True
                        released.append(weakref.ref(obj))
                    return
            node = node.base
    elif depth < 4 and isinstance(obj, dict):
        for item in list(obj.values())[:_RELEASE_ITEMS]:
            _release(item, locked, released, depth + 1)


def _reshape(a: np.ndarray, shape: tuple, dtype: np.dtype) -> None:
    """Put back the shape and dtype of a read-only input (its bytes are unchanged)."""
    with warnings.catch_warnings(), contextlib.suppress(TypeError, ValueError, AttributeError):
        warnings.simplefilter("ignore")
        if a.dtype != dtype and a.nbytes == dtype.itemsize * int(np.prod(shape)):
            a.dtype = dtype
        if a.shape != shape:
            a.shape = shape


# --------------------------------------------------------------------------- inputs unchanged


def _libc_memcmp():
    """libc's ``memcmp`` through ctypes, or None where there is none."""
    try:
        import ctypes

        fn = ctypes.CDLL(None).memcmp
        fn.restype, fn.argtypes = ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
        return fn, ctypes.memmove, ctypes.addressof, ctypes.c_char.from_buffer
    except Exception:
        return None


_MEM = _libc_memcmp()


def _address(a: np.ndarray) -> int | None:
    """The address of a C-contiguous, writable array's first byte (None otherwise)."""
    if _MEM is None or a.nbytes == 0:
        return None
    flags = a.flags
    if not (flags.c_contiguous and flags.writeable):
        return None
    try:
        return _MEM[2](_MEM[3](a))
    except (TypeError, ValueError, BufferError):
        return None


#: the start of torch's warning when ``torch.from_numpy`` is given a read-only array
_TORCH_READ_ONLY = "The given NumPy array is not writable"


@contextlib.contextmanager
def _read_only_warning_raises() -> Iterator[None]:
    """torch's warning that it shares a read-only array as a writable tensor, raised as an
    error while users' code runs: the call is then made again with the input writable
    and copied (or, when the array was the user's own, with the warning as it was)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=_TORCH_READ_ONLY, category=UserWarning)
        yield

#: arrays up to this size are snapshot as bytes (a copy and a compare in C, no ctypes calls)
_SMALL = 64 * 1024


def _snapshot(shadows: dict, i: int, a: np.ndarray) -> tuple[Any, int | None]:
    """What argument ``i`` holds before the call: its bytes (a small array), or a copy in
    the buffer kept for that argument (made, or remade, when its shape or dtype changes;
    no allocation from call to call) with that buffer's address."""
    if a.nbytes <= _SMALL:
        return (a.tobytes(), None)
    kept = shadows.get(i)
    if kept is None or kept[0].shape != a.shape or kept[0].dtype != a.dtype:
        buffer = np.empty(a.shape, dtype=a.dtype)
        kept = shadows[i] = (buffer, _address(buffer))
    np.copyto(kept[0], a, casting="no")
    return kept


def _original(a: np.ndarray, snap: Any) -> np.ndarray:
    """The array a snapshot stands for (a bytes snapshot read back with ``a``'s dtype and
    the shape and dtype it had; shape and dtype changes are reported before it is read)."""
    if isinstance(snap, bytes):
        return np.frombuffer(snap, dtype=a.dtype).reshape(a.shape) if len(snap) == a.nbytes else np.frombuffer(
            snap, dtype=np.uint8)
    return snap


def _same_bits(a: np.ndarray, snap: Any, address: int | None = None) -> bool:
    """Whether ``a`` holds the same bits as its snapshot: the cheap test (bytes or ``memcmp``;
    NaN entries compare equal); a full comparison follows only when it says no."""
    if type(snap) is bytes:
        return a.tobytes() == snap
    if a.shape != snap.shape or a.dtype != snap.dtype:
        return False
    if address is not None:
        src = _address(a)
        if src is not None:
            return _MEM[0](src, address, a.nbytes) == 0
    size = a.dtype.itemsize
    if size in (1, 2, 4, 8) and a.dtype.kind in "biufc" and a.flags.c_contiguous:
        kind = np.dtype(f"u{size}")
        try:
            return bool(np.array_equal(a.view(kind), snap.view(kind)))
        except (TypeError, ValueError):
            pass
    return bool(np.array_equal(a, snap))


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


def _restore(arg: np.ndarray, snap: Any, shape: Any = None, dtype: Any = None) -> None:
    """Put the original contents back into ``arg`` (best effort); ``shape``/``dtype``: what
    it had before the call (for a bytes snapshot)."""
    if isinstance(snap, bytes):
        if dtype is not None and arg.dtype != dtype:
            return  # reinterpreted in place (x.dtype = ...): copying back would corrupt it
        try:
            original = np.frombuffer(snap, dtype=arg.dtype).reshape(shape if shape is not None else arg.shape)
        except (TypeError, ValueError):
            return
    else:
        original = snap
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


def _single(value: Any) -> bool:
    """A float32 (or complex64) number, array or tensor: float32 code's result."""
    return str(getattr(value, "dtype", "")).rpartition(".")[2] in ("float32", "complex64")
