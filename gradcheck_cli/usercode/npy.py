"""THE loader of ``.npy`` files given on the command line (``func --x``, ``layer --input``).

The file is validated before anything is allocated: it must start with numpy's ``.npy``
magic (``np.save`` writes it; a ``.npz`` archive, text or a pickle is refused unread),
its header must describe a plain array (object dtypes, i.e. pickles, never load), and
the data the header announces, ``prod(shape) * itemsize`` bytes, must be in the file: a
200-byte file whose header claims (100000, 100000) float64 (74.5 GiB) is refused with
one line, never a ``MemoryError``.
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import LoadError

__all__ = ["load_npy"]

_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"


def _size_text(nbytes: int) -> str:
    """``74.5 GiB``, ``12 bytes``."""
    value = float(nbytes)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{nbytes} bytes"  # pragma: no cover


def _header(handle, option: str, path: str) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) from the ``.npy`` header at the start of ``handle``; LoadError if bad."""
    from numpy.lib import format as npformat

    try:
        version = npformat.read_magic(handle)
        if version == (1, 0):
            shape, _, dtype = npformat.read_array_header_1_0(handle)
        elif version == (2, 0):
            shape, _, dtype = npformat.read_array_header_2_0(handle)
        else:  # (3, 0): a utf-8 header, read by numpy's own (private) reader
            shape, _, dtype = npformat._read_array_header(handle, version)
    except Exception as exc:  # numpy raises ValueError for most, others for odd headers
        raise LoadError(f"{option}: '{path}' is not a valid .npy file: {exc}") from None
    return tuple(int(n) for n in shape), np.dtype(dtype)


def load_npy(path: str, option: str, *, kinds: str = "biuf") -> np.ndarray:
    """The array saved in the ``.npy`` file ``path`` (given with ``option``, e.g. ``--x``).

    ``kinds``: the dtype kinds accepted (numpy's ``dtype.kind`` letters; default real
    numbers and booleans).  Raises ``LoadError`` for a file that is missing, unreadable,
    not a ``.npy`` file, pickled, truncated, or of another dtype kind.
    """
    if os.path.isdir(path):
        raise LoadError(f"{option}: '{path}' is a directory, not a .npy file")
    if not os.path.isfile(path):
        raise LoadError(f"{option}: no file '{path}'")
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(_NPY_MAGIC))
            if head.startswith(_ZIP_MAGIC):
                raise LoadError(
                    f"{option}: '{path}' is a .npz archive, not a .npy file (save one array with np.save)"
                )
            if head != _NPY_MAGIC:
                raise LoadError(f"{option}: '{path}' is not a .npy file (write one with np.save)")
            handle.seek(0)
            shape, dtype = _header(handle, option, path)
            if dtype.hasobject:
                raise LoadError(f"{option}: '{path}' holds Python objects, expected an array of real numbers")
            if dtype.kind not in kinds:
                raise LoadError(f"{option}: '{path}' holds dtype {dtype}, expected an array of real numbers")
            count = 1
            for n in shape:
                count *= n
            needed = count * dtype.itemsize
            available = os.fstat(handle.fileno()).st_size - handle.tell()
            if needed > available:
                raise LoadError(
                    f"{option}: '{path}' is truncated: its header claims shape {shape} of {dtype} "
                    f"({_size_text(needed)}) but the file holds {_size_text(max(available, 0))} of data"
                )
            handle.seek(0)
            array = np.lib.format.read_array(handle, allow_pickle=False)
    except OSError as exc:
        raise LoadError(f"{option}: cannot read '{path}': {exc.strerror or exc}") from None
    except (ValueError, EOFError) as exc:
        raise LoadError(f"{option}: '{path}' is not a valid .npy file: {exc}") from None
    return array
