"""``gradcheck layer --torch``: a torch.autograd.Function checked as a layer in float64, with
torch's own gradcheck verdict beside ours.  Skipped without torch (an optional extra)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gradcheck_cli.checks.layer import check_layer_command
from gradcheck_cli.errors import LoadError, OptionError
from gradcheck_cli.verdict import Status
from gradcheck_cli.cli import ExitCode

CODE = Path(__file__).parent / "torch_code" / "functions.py"
LINEAR = ["x=4,3", "w=3,2", "b=2"]


def test_a_layer_check_never_imports_torch(tmp_path):
    code = ("import sys\nfrom gradcheck_cli.cli import main\n"
            f"try:\n    main(['layer', {str(Path(__file__).parent / 'layers' / 'layers.py') + ':relu'!r}, '-i', 'x=3', '-q'])\n"
            "except SystemExit:\n    pass\nprint('torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "False"


def test_without_torch_the_option_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch -> ImportError
    with pytest.raises(OptionError, match=r"--torch needs PyTorch: pip install 'gradcheck-cli\[torch\]'"):
        check_layer_command(f"{CODE}:MyLinear", inputs=LINEAR, torch=True)


def test_a_correct_function_passes_with_torchs_verdict_beside_ours():
    pytest.importorskip("torch")
    report = check_layer_command(f"{CODE}:MyLinear", inputs=LINEAR, torch=True)
    assert report.status is Status.PASS and [b.name for b in report.blocks] == ["x", "w", "b"]
    assert report.subject.torch_gradcheck is True
    assert report.to_dict()["layer"]["torch_gradcheck"] is True


def test_a_wrong_backward_fails_at_its_input_and_torch_agrees(cli):
    pytest.importorskip("torch")
    r = cli("layer", f"{CODE}:MyLinearBadBias", "--torch", *[a for i in LINEAR for a in ("-i", i)], "--format", "json")
    doc = json.loads(r.out)
    assert r.code == ExitCode.CHECK_FAILED
    assert {b["name"]: b["status"] for b in doc["blocks"]} == {"x": "pass", "w": "pass", "b": "fail"}
    assert doc["layer"]["torch_gradcheck"] is False
    r = cli("layer", f"{CODE}:MyLinearBadBias", "--torch", *[a for i in LINEAR for a in ("-i", i)])
    assert "torch.autograd.gradcheck (float64; its eps 1e-6, atol 1e-5, rtol 1e-3): failed" in r.out


def test_a_non_tensor_argument_is_a_param_bound_by_name():
    pytest.importorskip("torch")
    report = check_layer_command(f"{CODE}:ScaledTanh", inputs=["x=4,3"], params=["scale=0.7"], torch=True)
    assert report.status is Status.PASS and report.subject.torch_gradcheck is True


def test_a_plain_function_is_not_a_torch_function():
    pytest.importorskip("torch")
    with pytest.raises(LoadError, match="not a torch.autograd.Function subclass"):
        check_layer_command(f"{Path(__file__).parent / 'layers' / 'layers.py'}:softmax_loss",
                            inputs=["x=3,4", "y=int:4:3"], torch=True)
