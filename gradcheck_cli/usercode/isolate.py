"""``--isolate``: users' code runs in a child process; our numbers are computed in ours.

For autograders.  Without ``--isolate`` the checked code runs inside gradcheck's own
process: it could end it (``os._exit(0)``: exit 0 with nothing checked) or change what
gradcheck computes with (monkeypatch numpy).  With it, the user's module is loaded and
called in a child (``python -m gradcheck_cli.usercode.isolate``), each call a request over
a pipe; the finite differences, the verdict and the exit code are computed in the parent
from the values returned, validated as usual (``protocols``).  A child that dies (its
``os._exit``, a segfault, the OOM killer) is exit 2 with one line naming the function.

Only data crosses the pipe, never code: a small JSON header and the arrays' bytes (numbers:
the raw buffer with its dtype and shape in the header, read back with ``np.frombuffer``
after the sizes are checked; other plain arrays as ``.npy`` with ``allow_pickle=False``),
so nothing the child writes can run in the parent.  Values that
are not data (a layer's cache of arbitrary objects) stay in the child; the parent holds
a reference and passes it back (the last ``KEEP`` are kept).

In the child each function is a ``UserFunction`` in a session (random states reset
before every call, inputs checked for mutation, its output sent to our stderr).  A model
(``load_isolated_model``) is made in the child and stays there, bound as in-process
(``model.BoundModel``: params replaced for a call, everything put back); the parent holds
copies of its params and asks for ``loss`` at given params.
"""

from __future__ import annotations

import functools
import io
import json
import os
import struct
import subprocess
import sys
import time
from collections import OrderedDict
from typing import Any

import numpy as np

from ..errors import LoadError, OptionError, UserCodeError
from .function import UserFunction
from .model import BoundModel

__all__ = ["load_isolated", "load_isolated_model", "IsolatedFunction", "IsolatedBoundModel"]

#: references to values that stay in the child (layer caches) kept there
KEEP = 64
#: dtype kinds sent as raw bytes (bool, integers, floats, complex): the common, fast case
_RAW_KINDS = "biufc"
_HEADER = struct.Struct("<II")  # length of the JSON header, number of array blobs
_LENGTH = struct.Struct("<Q")


class ChildDied(Exception):
    """The child process ended while a request was pending."""


class _Ref:
    """A value that stayed in the child (not data), known by its number there."""

    __slots__ = ("key",)

    def __init__(self, key: int) -> None:
        self.key = key

    def __repr__(self) -> str:
        return f"<value kept in the isolated process #{self.key}>"


# --------------------------------------------------------------------------- the wire format


def _encode(value: Any, blobs: list[bytes], keep=None) -> Any:
    """JSON-able description of ``value``; arrays appended to ``blobs`` as .npy bytes.
    ``keep(value) -> key`` stores what is not data (child side); None: refuse it."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, np.bool_):
        return {"i": str(int(value))}
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.float32):  # float32 code's scalar: its dtype tells the precision
        return {"f32": repr(float(value))}
    if isinstance(value, (float, np.floating)) and not isinstance(value, np.longdouble):
        return {"f": repr(float(value))}
    if isinstance(value, np.longdouble):  # a lifted cost: its digits cross as a 0-d array
        value = np.asarray(value)
    if isinstance(value, np.ndarray) and value.dtype.kind in _RAW_KINDS and value.dtype.fields is None:
        blobs.append(value.tobytes(order="C"))
        return {"b": [len(blobs) - 1, value.dtype.str, list(value.shape)]}
    if isinstance(value, np.ndarray) and not value.dtype.hasobject:
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, np.ascontiguousarray(value) if value.ndim else value, allow_pickle=False)
        blobs.append(buffer.getvalue())
        return {"a": len(blobs) - 1}
    if isinstance(value, _Ref):
        return {"r": value.key}
    if type(value) in (tuple, list):
        return {"t" if type(value) is tuple else "l": [_encode(v, blobs, keep) for v in value]}
    if type(value) is dict and all(isinstance(k, str) for k in value):
        return {"d": {k: _encode(v, blobs, keep) for k, v in value.items()}}
    if keep is None:
        raise OptionError(f"--isolate: cannot send a value of type {type(value).__name__} to the isolated process")
    return {"r": keep(value)}


def _decode(node: Any, blobs: list[bytes], refs=None) -> Any:
    """The value ``_encode`` described.  ``refs(key)`` resolves kept values (child side)."""
    if node is None or isinstance(node, (bool, str)):
        return node
    if not isinstance(node, dict) or len(node) != 1:
        raise ValueError("malformed message")
    (kind, body), = node.items()
    if kind == "i":
        return int(body)
    if kind == "f":
        return float(body)
    if kind == "f32":
        return np.float32(float(body))
    if kind == "b":
        index, descr, shape = body
        return _read_raw(blobs[int(index)], str(descr), shape)
    if kind == "a":
        return _read_npy(blobs[int(body)])
    if kind == "r":
        return _Ref(int(body)) if refs is None else refs(int(body))
    if kind in ("t", "l"):
        items = [_decode(v, blobs, refs) for v in body]
        return tuple(items) if kind == "t" else items
    if kind == "d":
        return {str(k): _decode(v, blobs, refs) for k, v in body.items()}
    raise ValueError("malformed message")


def _read_raw(blob: bytes, descr: str, shape) -> np.ndarray:
    """An array of numbers from its bytes: a plain numeric dtype, and exactly the bytes
    its shape needs."""
    dtype = np.dtype(descr)
    if dtype.kind not in _RAW_KINDS or dtype.fields is not None or dtype.hasobject:
        raise ValueError("malformed array")
    dims = tuple(int(n) for n in shape)
    count = 1
    for n in dims:
        if n < 0:
            raise ValueError("malformed array")
        count *= n
    if count * dtype.itemsize != len(blob):
        raise ValueError("malformed array")
    return np.frombuffer(blob, dtype=dtype).reshape(dims).copy()


def _read_npy(blob: bytes) -> np.ndarray:
    """An array from .npy bytes: no pickles, and no more data than the bytes hold."""
    handle = io.BytesIO(blob)
    version = np.lib.format.read_magic(handle)
    shape, _, dtype = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)(handle)
    count = int(np.prod(shape, dtype=object)) if shape else 1
    if np.dtype(dtype).hasobject or count * np.dtype(dtype).itemsize > len(blob) - handle.tell():
        raise ValueError("malformed array")
    handle.seek(0)
    return np.lib.format.read_array(handle, allow_pickle=False)


def _send(fd: int, message: Any, blobs: list[bytes]) -> None:
    header = json.dumps(message).encode()
    parts = [_HEADER.pack(len(header), len(blobs)), header]
    for blob in blobs:
        parts += [_LENGTH.pack(len(blob)), blob]
    data = b"".join(parts)
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _read_exact(fd: int, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise ChildDied
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _recv(fd: int) -> tuple[Any, list[bytes]]:
    size, count = _HEADER.unpack(_read_exact(fd, _HEADER.size))
    message = json.loads(_read_exact(fd, size))
    blobs = [_read_exact(fd, _LENGTH.unpack(_read_exact(fd, _LENGTH.size))[0]) for _ in range(count)]
    return message, blobs


# --------------------------------------------------------------------------- the parent side


class _Child:
    """The child process and its two pipes."""

    def __init__(self) -> None:
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        stderr = sys.__stderr__ if sys.__stderr__ is not None else None
        try:
            err_fd = stderr.fileno() if stderr is not None else None
        except (OSError, ValueError, AttributeError):
            err_fd = None
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gradcheck_cli.usercode.isolate", str(to_child_r), str(from_child_w)],
            pass_fds=(to_child_r, from_child_w), stdin=subprocess.DEVNULL,
            stdout=err_fd if err_fd is not None else subprocess.DEVNULL,
            stderr=err_fd if err_fd is not None else subprocess.DEVNULL,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self.write_fd, self.read_fd = to_child_w, from_child_r
        self.closed = False

    def request(self, message: Any, blobs: list[bytes]) -> tuple[Any, list[bytes]]:
        try:
            _send(self.write_fd, message, blobs)
            return _recv(self.read_fd)
        except (ChildDied, BrokenPipeError, OSError, struct.error):
            raise ChildDied from None

    def exit_status(self) -> str:
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        return f"killed by signal {-code}" if code < 0 else f"exit code {code}"

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for fd in (self.write_fd, self.read_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class IsolatedFunction(UserFunction):
    """A ``UserFunction`` whose calls run in the child: counted and timed here, validated
    here (``cost_and_grad``, ``cost_only``... as for any UserFunction)."""

    def __init__(self, child: _Child, index: int, name: str, param_names: list[str]) -> None:
        super().__init__(_in_the_child, name)
        self._child = child
        self._index = index
        self._param_names = list(param_names)

    def session(self):  # the child keeps its own session open; nothing to set up here
        import contextlib

        return contextlib.nullcontext(self)

    def call(self, *args: Any) -> Any:
        """``fn(*args)`` in the child (keyword arguments: a ``functools.partial`` put in ``fn``)."""
        self.calls += 1
        fn = self.fn
        kwargs = dict(fn.keywords) if isinstance(fn, functools.partial) else {}
        blobs: list[bytes] = []
        message = {"op": "call", "fn": self._index, "args": _encode(list(args), blobs),
                   "kwargs": _encode(kwargs, blobs)}
        t0 = time.perf_counter()
        try:
            reply, rblobs = self._child.request(message, blobs)
        except ChildDied:
            raise UserCodeError(f"{self.name} ended the isolated process running it ({self._child.exit_status()}; "
                                "os._exit, a crash or the memory limit?)") from None
        finally:
            self.seconds += time.perf_counter() - t0
        if "error" in reply:
            if reply.get("kind") == "internal":
                raise RuntimeError(f"in the isolated process: {reply['error']}")
            raise UserCodeError(str(reply["error"]), user_traceback=str(reply.get("traceback", "")))
        try:
            return _decode(reply["value"], rblobs)
        except (ValueError, KeyError, TypeError, IndexError, OverflowError):
            raise UserCodeError(f"{self.name}: the isolated process sent a malformed reply") from None


def _in_the_child(*args: Any, **kwargs: Any) -> Any:  # pragma: no cover - never called
    raise RuntimeError("an isolated function runs in the child process")


def load_isolated(specs: "list[tuple[str, str]]", seed: int) -> "list[IsolatedFunction]":
    """``load_seeded`` in a child process: the functions named by ``specs`` as
    ``IsolatedFunction``s sharing one child (closed when the process exits)."""
    import atexit

    child = _Child()
    atexit.register(child.close)
    try:
        reply, _ = child.request({"op": "load", "specs": [list(s) for s in specs], "seed": int(seed)}, [])
    except ChildDied:
        raise UserCodeError(f"{specs[0][0]} ended the isolated process while loading "
                            f"({child.exit_status()})") from None
    _raise_error(reply)
    return [IsolatedFunction(child, i, spec, names)
            for i, ((spec, _), names) in enumerate(zip(specs, reply["params"]))]


def _raise_error(reply: dict) -> None:
    """The error a loading request's reply carries (the user's, or a bug of ours), if any."""
    if "error" not in reply:
        return
    if reply.get("kind") == "internal":
        raise RuntimeError(f"in the isolated process: {reply['error']}")
    if reply.get("kind") == "LoadError":
        raise LoadError(str(reply["error"]))
    if reply.get("kind") == "OptionError":
        raise OptionError(str(reply["error"]))
    raise UserCodeError(str(reply["error"]), user_traceback=str(reply.get("traceback", "")))


class IsolatedBoundModel(BoundModel):
    """A ``BoundModel`` whose model lives in the child: ``base`` holds copies of its params
    (as the child had them), and ``call_raw`` asks the child for ``loss(*args)`` at the
    given params; the child's own ``BoundModel`` puts the model back after every call."""

    def __init__(self, loss: IsolatedFunction, params: dict, reg: float | None, loss_params: list[str],
                 who: str) -> None:
        self.model = None
        self.loss = loss
        self.args = ()
        self.who = who
        self.reg = reg
        self.loss_params = list(loss_params)
        self.state = {}
        self._hold(params)

    def call_raw(self, values):
        return self.loss.call({k: np.asarray(v) for k, v in values.items()}, *self.args)

    def restore(self) -> None:  # the model is the child's
        pass


def load_isolated_model(target: str, init: dict, seed: int, loss_name: str) -> IsolatedBoundModel:
    """``model.load_model`` in a child process: the model is made and kept there, its
    ``loss`` a ``model.seeded_loss``; the parent gets an ``IsolatedBoundModel`` (its
    data ``args`` to be set by the caller)."""
    import atexit

    child = _Child()
    atexit.register(child.close)
    try:
        reply, blobs = child.request({"op": "model", "target": target, "init": init, "seed": int(seed),
                                      "name": loss_name}, [])
    except ChildDied:
        raise UserCodeError(f"{target} ended the isolated process while the model was made "
                            f"({child.exit_status()})") from None
    _raise_error(reply)
    try:
        params = _decode(reply["params"], blobs)
    except (ValueError, KeyError, TypeError, IndexError):
        raise UserCodeError(f"{target}: the isolated process sent a malformed reply") from None
    fu = IsolatedFunction(child, int(reply["index"]), loss_name, ["values", *reply["loss_params"]])
    return IsolatedBoundModel(fu, params, reply["reg"], reply["loss_params"], str(reply["who"]))


# --------------------------------------------------------------------------- the child side


def _child_main(read_fd: int, write_fd: int) -> int:
    """Serve requests until the parent closes the pipe."""
    import contextlib

    from ..errors import InputError
    from . import load_seeded
    from .state import GUARD

    GUARD.refuse_exit = False  # here os._exit ends only this child, which the parent reports
    kept: OrderedDict[int, Any] = OrderedDict()
    counter = [0]

    def keep(value: Any) -> int:
        counter[0] += 1
        kept[counter[0]] = value
        while len(kept) > KEEP:
            kept.popitem(last=False)
        return counter[0]

    def resolve(key: int) -> Any:
        if key not in kept:
            raise UserCodeError("a value kept in the isolated process was needed after it was dropped")
        return kept[key]

    fns: list = []  # UserFunctions, or a model's loss (_ModelLoss)
    with contextlib.ExitStack() as stack:
        while True:
            try:
                message, blobs = _recv(read_fd)
            except ChildDied:
                return 0
            reply: dict[str, Any]
            rblobs: list[bytes] = []
            try:
                if message["op"] == "load":
                    fns = load_seeded([tuple(s) for s in message["specs"]], message["seed"])
                    for fu in fns:
                        stack.enter_context(fu.session())
                    reply = {"params": [fu._param_names for fu in fns]}
                elif message["op"] == "model":
                    reply = _make_model(message, fns, stack, rblobs)
                else:
                    fu = fns[int(message["fn"])]
                    args = _decode(message["args"], blobs, resolve)
                    kwargs = _decode(message["kwargs"], blobs, resolve)
                    raw = fu.fn
                    if kwargs:
                        fu.fn = functools.partial(raw, **kwargs)
                    try:
                        value = fu.call(*args)
                    finally:
                        fu.fn = raw
                    reply = {"value": _encode(value, rblobs, keep)}
            except InputError as exc:
                rblobs = []
                reply = {"error": str(exc), "kind": type(exc).__name__,
                         "traceback": getattr(exc, "user_traceback", "")}
            except Exception as exc:  # a bug of ours in the child: exit 3 in the parent
                rblobs = []
                reply = {"error": f"{type(exc).__name__}: {exc}", "kind": "internal"}
            _send(write_fd, reply, rblobs)


class _ModelLoss:
    """In the child: a model's ``loss(*args)`` at given params (``BoundModel.call_raw``)."""

    def __init__(self, bound: BoundModel) -> None:
        self.bound = bound
        self.fn = bound.loss.fn

    def call(self, values: dict, *args: Any) -> Any:
        self.bound.args = tuple(args)
        result = self.bound.call_raw(values)
        if isinstance(result, (tuple, list)) and len(result) == 2 and isinstance(result[1], dict):
            result = (result[0], dict(result[1]))  # a dict subclass (OrderedDict) crosses as a dict
        return result


def _make_model(message: dict, fns: list, stack, rblobs: list[bytes]) -> dict:
    """The ``model`` request: make the model, keep its bound ``loss`` in ``fns``."""
    from .model import load_model, loss_parameters, model_params, model_reg, seeded_loss

    model, who = load_model(message["target"], message["init"], int(message["seed"]))
    params = model_params(model, who)
    fu = seeded_loss(model, str(message["name"]), int(message["seed"]))
    stack.enter_context(fu.session())
    fns.append(_ModelLoss(BoundModel(model, fu, (), who)))
    return {"index": len(fns) - 1, "params": _encode(dict(params), rblobs), "reg": model_reg(model),
            "loss_params": loss_parameters(model.loss), "who": who}


if __name__ == "__main__":
    import signal

    # Ctrl-C is the parent's to handle (exit 130); the child ends when its pipe closes
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise SystemExit(_child_main(int(sys.argv[1]), int(sys.argv[2])))
