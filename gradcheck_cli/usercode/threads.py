"""BLAS threads limited to one while users' code is called many times in a row.

A gradient check calls small matrix products thousands of times; on a busy machine the
BLAS library's threads spin against each other and against other processes (measured: a
784-100-10 ``forward_backward_prop`` 5-10 times slower with 2 threads on 2 shared cores).
``threadpoolctl`` finds the BLAS and OpenMP libraries loaded in the process and sets their
thread counts; the limits are put back when the block ends.  Left alone when the user set
``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS`` or ``MKL_NUM_THREADS``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

__all__ = ["one_blas_thread"]

_USER_SETTINGS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS runs one thread inside the block (``threadpoolctl.threadpool_limits``)."""
    if any(os.environ.get(name) for name in _USER_SETTINGS):
        yield
        return
    try:
        from threadpoolctl import threadpool_limits

        limiter = threadpool_limits(limits=1, user_api="blas")
    except Exception:  # no threadpoolctl, or a library it cannot drive: leave BLAS as it is
        limiter = None
    try:
        yield
    finally:
        if limiter is not None:
            with contextlib.suppress(Exception):
                limiter.restore_original_limits()
