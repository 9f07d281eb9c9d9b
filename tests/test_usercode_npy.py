"""Tests of gradcheck_cli.usercode.npy: the one .npy loader."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

from gradcheck_cli.errors import LoadError
from gradcheck_cli.cli import ExitCode

from usercode_helpers import write  # noqa: F401


def test_load_npy_refuses_what_is_not_a_npy_file(tmp_path):
    from gradcheck_cli.usercode import load_npy

    (tmp_path / "text.npy").write_text("1 2 3\n")
    np.savez(tmp_path / "arch.npz", a=np.ones(2))
    np.save(tmp_path / "obj.npy", np.array([1, "a"], dtype=object), allow_pickle=True)
    np.save(tmp_path / "ok.npy", np.arange(3.0))
    cases = {
        "text.npy": "is not a .npy file (write one with np.save)",
        "arch.npz": "is a .npz archive, not a .npy file",
        "obj.npy": "holds Python objects, expected an array of real numbers",
        "missing.npy": "--x: no file",
    }
    for name, message in cases.items():
        with pytest.raises(LoadError) as info:
            load_npy(str(tmp_path / name), "--x")
        assert message in str(info.value) and "allow_pickle" not in str(info.value)
    assert load_npy(str(tmp_path / "ok.npy"), "--x").tolist() == [0.0, 1.0, 2.0]


def _lying_npy(path: Path, shape=(100000, 100000)) -> Path:
    """A ~200-byte .npy whose header claims ``shape`` of float64 (74.5 GiB for the default)."""
    from numpy.lib import format as npformat

    with open(path, "wb") as handle:
        npformat.write_array_header_1_0(handle, {"descr": "<f8", "fortran_order": False, "shape": shape})
        handle.write(b"\0" * 64)
    return path


def test_a_header_that_claims_more_than_the_file_holds_is_refused_before_allocating(tmp_path):
    from gradcheck_cli.usercode import load_npy

    path = _lying_npy(tmp_path / "huge.npy")
    assert path.stat().st_size < 300
    with pytest.raises(LoadError) as info:
        load_npy(str(path), "--x")
    assert str(info.value) == (f"--x: '{path}' is truncated: its header claims shape (100000, 100000) of float64 "
                               "(74.5 GiB) but the file holds 64 bytes of data")


def test_func_x_and_layer_input_fail_the_same_way(cli, tmp_path, monkeypatch):
    """One loader: the same file gives the same line under --x and --input (exit 2, no MemoryError)."""
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "code.py", """
        import numpy as np
        def quad(x):
            return float(np.sum(x ** 2)), 2 * x
        def relu_forward(x):
            return np.maximum(x, 0), x
        def relu_backward(dout, x):
            return dout * (x > 0)
        """)
    _lying_npy(tmp_path / "huge.npy")
    np.savez(tmp_path / "arch.npz", a=np.ones(2))
    for name, claim in (("huge.npy", "is truncated: its header claims shape (100000, 100000)"),
                        ("arch.npz", "is a .npz archive, not a .npy file")):
        func = cli("func", "code.py:quad", "--x", name)
        layer = cli("layer", "code.py:relu", "--input", f"x={name}")
        assert func.code == layer.code == ExitCode.BAD_INPUT
        assert func.out == layer.out == ""
        assert f"'{name}' {claim}" in func.err
        assert func.err.replace("--x:", "") == layer.err.replace("--input x:", "")
        assert "Traceback" not in func.err + layer.err


def test_a_truncated_small_file_and_a_good_one(tmp_path):
    from gradcheck_cli.usercode import load_npy

    path = tmp_path / "cut.npy"
    np.save(path, np.arange(100.0))
    data = path.read_bytes()
    path.write_bytes(data[:-8])
    with pytest.raises(LoadError, match="is truncated: its header claims shape \\(100,\\) of float64 \\(800 bytes\\) "
                                        "but the file holds 792 bytes"):
        load_npy(str(path), "--x")
    path.write_bytes(data)
    assert load_npy(str(path), "--x").tolist() == list(np.arange(100.0))
