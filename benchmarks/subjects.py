"""Users' code for ``bench_anchors.py``, each function wrapped by a call counter.

The counter is the benchmark's own witness of how often the user's code ran (the checker's
effort line is what is being checked): at exit it writes ``calls by wrapper: N`` to stderr.
``rosen`` (cost and gradient of the Rosenbrock function, as ``scipy.optimize.rosen`` and
``rosen_der``), ``forward_backward_prop`` (``mynet.py``, the CS224n network in numpy), and
the CS231n-style ``conv_naive`` and ``batchnorm`` layers of ``tests/layers/layers.py``.
"""

from __future__ import annotations

import atexit
import sys
from pathlib import Path

import numpy as np

_HERE = Path(__file__).resolve().parent
for _p in (_HERE, _HERE.parent / "tests" / "layers"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

import layers as _layers  # noqa: E402
import mynet as _mynet  # noqa: E402

CALLS = [0]


def _report() -> None:
    sys.stderr.write(f"calls by wrapper: {CALLS[0]}\n")


atexit.register(_report)


def counted(fn):
    """``fn`` with every call counted in ``CALLS``."""

    def wrapper(*args, **kwargs):
        CALLS[0] += 1
        return fn(*args, **kwargs)

    wrapper.__name__ = wrapper.__qualname__ = fn.__name__
    wrapper.__wrapped__ = fn
    return wrapper


def _rosen(x):
    """Rosenbrock: sum 100 (x[i+1] - x[i]**2)**2 + (1 - x[i])**2, and its gradient (in the
    dtype it is given, as scipy's ``rosen``/``rosen_der``)."""
    x = np.asarray(x)
    d = x[1:] - x[:-1] ** 2
    cost = np.sum(100.0 * d ** 2 + (1 - x[:-1]) ** 2)
    g = np.zeros_like(x)
    g[:-1] = -400.0 * x[:-1] * d - 2 * (1 - x[:-1])
    g[1:] += 200.0 * d
    return cost, g


rosen = counted(_rosen)
forward_backward_prop = counted(_mynet.forward_backward_prop)
conv_naive_forward = counted(_layers.conv_naive_forward)
conv_naive_backward = counted(_layers.conv_naive_backward)
batchnorm_forward = counted(_layers.batchnorm_forward)
batchnorm_backward = counted(_layers.batchnorm_backward)
