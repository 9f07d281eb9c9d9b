"""The calls a layer check makes before its search (issue 20): backward's random-state and
cache tests cost one forward and one backward pass when both are clean (one backward in
adaptive mode, whose search's first forward pass is the second pass they need), and the
np.longdouble probe of precision lifting is made only when a lifted estimate is wanted.
Every call is counted by a wrapper around the user's functions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gradcheck_cli.blackbox.pipeline import check_blackbox
from gradcheck_cli.checks.common import LazyLifted
from gradcheck_cli.checks.layer import check_layer
from gradcheck_cli.errors import UserCodeError
from gradcheck_cli.inputs import validate_inputs
from gradcheck_cli.usercode import load_callable
from gradcheck_cli.usercode.layer import Layer, cache_and_draws
from gradcheck_cli.verdict import Status

GOOD = f"{Path(__file__).parent / 'layers' / 'layers.py'}:"
WIDE = np.finfo(np.longdouble).eps < np.finfo(float).eps


def counted(fn, seen):
    """``fn`` with every call recorded (the dtype of its first argument)."""
    def wrapper(*args, **kwargs):
        seen.append(np.asarray(args[0]).dtype)
        return fn(*args, **kwargs)
    return wrapper


def _layer(fwd, bwd, x):
    layer = Layer(fwd, bwd, validate_inputs({"x": x}, None), {}, "fwd", "bwd")
    arrays = [x.copy()]
    outs, cache = layer.call_forward(arrays)
    layer.douts = tuple(np.random.default_rng(1).standard_normal(o.shape) for o in outs)
    grads = layer.gradients(layer.call_backward(cache, arrays), "bwd")
    return layer, arrays, cache, grads


def test_clean_backward_costs_one_forward_and_one_backward_pass():
    layer, arrays, cache, grads = _layer(lambda x: (np.tanh(x), x.copy()),
                                         lambda dout, x: dout * (1 - np.tanh(x) ** 2), np.linspace(-1, 1, 12))
    before = layer.forward.calls, layer.backward.calls
    assert cache_and_draws(layer, arrays, cache, grads, seed=0) is False
    assert (layer.forward.calls - before[0], layer.backward.calls - before[1]) == (1, 1)


def test_after_a_forward_pass_of_the_callers_the_tests_cost_one_backward_pass():
    layer, arrays, cache, grads = _layer(lambda x: (np.tanh(x), x.copy()),
                                         lambda dout, x: dout * (1 - np.tanh(x) ** 2), np.linspace(-1, 1, 12))
    layer.call_forward([arrays[0] + 1e-3])
    before = layer.forward.calls, layer.backward.calls
    assert cache_and_draws(layer, arrays, cache, grads, seed=0, moved=True) is False
    assert (layer.forward.calls - before[0], layer.backward.calls - before[1]) == (0, 1)


def test_adaptive_mode_still_tells_a_shared_buffer_and_a_draw_on_the_searchs_first_pass():
    """Past 256 entries (adaptive mode) the search's first forward pass is the second pass
    of backward's tests: a cache in a buffer that later calls overwrite is still a hint, a
    mask drawn in backward still exit 2, and backward is called twice in all."""
    buffer = np.zeros((20, 20))

    def fwd(x):
        buffer[:] = x
        return np.sin(x), buffer

    backward_calls = []

    def bwd(dout, cache):
        backward_calls.append(1)
        return dout * np.cos(cache)

    x = np.linspace(0.1, 2.0, 400).reshape(20, 20)
    report = check_layer(fwd, bwd, {"x": x})
    assert report.mode.value == "adaptive" and report.status is Status.PASS
    assert any("the cache holds arrays that later calls change" in h for h in report.hints)
    clean = check_layer(lambda x: (np.sin(x), x.copy()), bwd, {"x": x})
    assert clean.status is Status.PASS and not clean.hints and not clean.subject.cache_changed

    def draws(dout, cache):
        return dout * np.cos(cache) * ((np.random.rand(*cache.shape) < 0.8) / 0.8)

    with pytest.raises(UserCodeError, match="draws random numbers: use the mask saved in the cache"):
        check_layer(lambda x: (np.sin(x), x.copy()), draws, {"x": x})
    backward_calls.clear()
    check_layer(lambda x: (np.sin(x), x.copy()), bwd, {"x": x})
    assert len(backward_calls) == 2


def test_backward_drawing_a_mask_is_an_error_even_with_a_cache_in_a_shared_buffer():
    """The draw is told apart from the cache change: backward on a fresh cache, repeatable
    under forward's state, changes under another one."""
    buffer = np.zeros((6, 7))

    def fwd(x):
        buffer[:] = x
        return x ** 2, buffer

    def bwd(dout, cache):
        return dout * 2 * cache * ((np.random.rand(*cache.shape) < 0.8) / 0.8)

    with pytest.raises(UserCodeError, match="draws random numbers: use the mask saved in the cache"):
        check_layer(fwd, bwd, {"x": np.ones((6, 7))})


def test_a_buffer_alone_is_a_hint_not_an_error_and_a_draw_alone_is_an_error():
    buffer = np.zeros(5)

    def fwd(x):
        buffer[:] = x
        return np.sin(x), buffer

    layer, arrays, cache, grads = _layer(fwd, lambda dout, c: dout * np.cos(c), np.arange(1.0, 6.0))
    assert cache_and_draws(layer, arrays, cache, grads, seed=0) is True

    def draws(dout, c):
        return dout * np.cos(c) * ((np.random.rand(*c.shape) < 0.8) / 0.8)

    layer, arrays, cache, grads = _layer(lambda x: (np.sin(x), x.copy()), draws, np.arange(1.0, 21.0))
    with pytest.raises(UserCodeError, match="draws random numbers"):
        cache_and_draws(layer, arrays, cache, grads, seed=0)


def test_a_correct_conv_makes_no_longdouble_call_and_every_call_is_counted():
    seen_f, seen_b = [], []
    fwd = counted(load_callable(GOOD + "conv_naive_forward"), seen_f)
    bwd = counted(load_callable(GOOD + "conv_naive_backward"), seen_b)
    rng = np.random.default_rng(1)
    inputs = {"x": rng.standard_normal((2, 3, 8, 8)), "w": rng.standard_normal((4, 3, 3, 3)),
              "b": rng.standard_normal(4)}
    report = check_layer(fwd, bwd, inputs, {"conv_param": {"stride": 1, "pad": 1}})
    assert report.status is Status.PASS
    assert report.effort.calls == len(seen_f) + len(seen_b)
    assert np.dtype(np.longdouble) not in seen_f or not WIDE
    assert report.effort.lifting == ""  # never asked: not known


@pytest.mark.skipif(not WIDE, reason="no extended precision on this platform")
def test_lazy_lifting_is_probed_when_wanted_and_reads_as_the_eager_one():
    x = np.array([1e-200, 1e-201])
    calls = []

    def raw(z):
        calls.append(np.asarray(z).dtype)
        return np.sum(np.asarray(z) ** 2)

    used = check_blackbox(lambda z: float(np.sum(z**2)), x, 2 * x, lifted=LazyLifted(raw, x, float(np.sum(x**2))))
    assert used.effort.lifting == "used" and used.verdict.counts["pass"] == 2
    # code that converts to float64 is never lifted: probed once, then as if there were no lifting
    calls.clear()
    flat = LazyLifted(lambda z: float(np.sum(np.asarray(z, dtype=float) ** 2)), x, float(np.sum(x**2)))
    none = check_blackbox(lambda z: float(np.sum(z**2)), x, 2 * x, lifted=flat)
    assert none.effort.lifting == "none" and none.verdict.counts["unresolved"] == 2
    assert flat.probed and not flat.usable and flat.used == 0
    # a check that float64 settles never probes
    calls.clear()
    ones = np.ones(3)
    plain = check_blackbox(lambda z: float(np.sum(z**2)), ones, 2 * ones, lifted=LazyLifted(raw, ones, 3.0))
    assert plain.verdict.counts["pass"] == 3 and calls == [] and plain.effort.lifting == ""
