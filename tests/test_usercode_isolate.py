"""Tests of gradcheck_cli.usercode.isolate (``--isolate``): users' code in a child process,
our numbers in ours; what the child does cannot forge a pass or end our run."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

from gradcheck_cli.cli import ExitCode
from gradcheck_cli.errors import LoadError
from gradcheck_cli.usercode import load_seeded
from gradcheck_cli.usercode.isolate import _decode, _encode, _read_npy

LAYERS = Path(__file__).resolve().parent / "layers" / "layers.py"

CODE = """
import os
import numpy as np

_real_abs = np.abs

def quad(x):
    print("chatty")
    return float(np.sum(x ** 2)), 2 * x

def wrong(x):
    return float(np.sum(x ** 2)), 3 * x

def forges(x):
    # a wrong gradient, and numpy's abs made to return zeros: in-process this turns every
    # relative error into 0 (a pass); isolated, it changes only the child's numpy
    np.abs = lambda a, *args, **kw: 0.0 * _real_abs(a)
    np.fabs = np.absolute = np.abs
    return float(np.sum(x ** 2)), 3 * x

def exits(x):
    os._exit(0)

def mutates(x):
    x[1] = 7.0
    return float(np.sum(x ** 2)), 2 * x

def raises(x):
    raise ValueError("bad value")

def pow10_32(x):
    # float32 code whose cost (59049 at 3) and gradient are float32 scalars
    x = x.astype(np.float32)
    return np.sum(x ** 10), 10 * x ** 9
"""


@pytest.fixture
def user_dir(tmp_path, monkeypatch):
    (tmp_path / "code.py").write_text(textwrap.dedent(CODE))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_correct_function_passes_and_a_wrong_one_fails(cli, user_dir):
    ok = cli("func", "code.py:quad", "--isolate", "-q")
    assert ok.code == ExitCode.OK and ok.out.strip() == "12 checks: 12 pass, 0 warn, 0 fail"
    bad = cli("func", "code.py:wrong", "--isolate", "-q")
    assert bad.code == ExitCode.CHECK_FAILED


def test_monkeypatched_numpy_in_their_code_cannot_forge_a_pass(cli, user_dir):
    r = cli("func", "code.py:forges", "--isolate", "-q")
    assert r.code == ExitCode.CHECK_FAILED
    assert "12 fail" in r.out


def test_os_exit_in_their_code_is_exit_2_not_a_silent_pass(cli, user_dir):
    r = cli("func", "code.py:exits", "--isolate")
    assert r.code == ExitCode.BAD_INPUT and r.out == ""
    assert r.err == ("error: code.py:exits ended the isolated process running it (exit code 0; os._exit, "
                     "a crash or the memory limit?)\n")


def test_their_errors_keep_their_lines(cli, user_dir):
    r = cli("func", "code.py:raises", "--isolate")
    assert r.code == ExitCode.BAD_INPUT
    assert r.err.splitlines()[0] == "error: code.py:raises raised ValueError: bad value"
    assert 'code.py", line' in r.err and "gradcheck_cli" not in r.err
    r = cli("func", "code.py:mutates", "--isolate")
    line = r.err.splitlines()[0]
    assert r.code == ExitCode.BAD_INPUT
    assert line.startswith("error: code.py:mutates modified its input in place: x[1, 0] changed from ")
    assert line.endswith(" to 7.0")
    with pytest.raises(LoadError, match="has no function 'nothere'"):
        load_seeded([("code.py:nothere", "function")], 0, isolate=True)


def test_calls_are_counted_in_the_parent(user_dir):
    (fu,) = load_seeded([("code.py:quad", "function")], 0, isolate=True)
    x = np.arange(4.0)
    with fu.session():
        cost, g = fu.cost_and_grad(x, grad_shape=x.shape)
    assert cost == 14.0 and g.tolist() == [0.0, 2.0, 4.0, 6.0]
    assert fu.calls == 2  # the first call is made twice (repeatability)


def test_a_layer_and_a_network_isolated(cli, user_dir):
    r = cli("layer", f"{LAYERS}:affine", "--input", "x=4,2,3", "--input", "w=6,5", "--input", "b=5",
            "--isolate", "-q")
    assert r.code == ExitCode.OK, r.err
    bench = Path(__file__).resolve().parents[1] / "benchmarks" / "mynet.py"
    r = cli("net", "--dims", "10", "5", "10", "--impl", f"{bench}:forward_backward_prop", "--isolate", "-q")
    assert r.code == ExitCode.OK, r.err


def test_float32_scalars_cross_as_float32_and_isolated_code_is_judged_as_in_process(cli, user_dir):
    # a float32 cost is float32 code's: its whole-number value alone would not tell
    back = _decode(_encode((np.float32(59049), np.float32(0.1)), []), [])
    assert all(type(v) is np.float32 for v in back) and back == (np.float32(59049), np.float32(0.1))
    runs = [cli("func", "code.py:pow10_32", "--x", "3", *more) for more in ((), ("--isolate",))]
    assert all("float32 code: what float32 can verify" in r.out for r in runs), [r.out for r in runs]
    assert runs[0].out.splitlines()[-1] == runs[1].out.splitlines()[-1] == "1 check: 1 pass, 0 warn, 0 fail"


def test_the_wire_carries_data_only():
    blobs: list[bytes] = []
    value = (1.5, float("nan"), 3, None, "s", [np.arange(3.0), {"k": np.float32(2.5)}], np.array(4.0))
    back = _decode(_encode(value, blobs), blobs)
    assert back[0] == 1.5 and np.isnan(back[1]) and back[2:5] == (3, None, "s")
    assert back[5][0].tolist() == [0.0, 1.0, 2.0] and back[5][1] == {"k": 2.5}
    assert back[6].shape == () and float(back[6]) == 4.0
    with pytest.raises(Exception):  # an object array is never sent nor read
        _encode(np.array([object()], dtype=object), [])
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)})
    with pytest.raises(ValueError, match="malformed array"):
        _read_npy(buffer.getvalue() + b"\0" * 16)
