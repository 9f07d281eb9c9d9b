"""`gradcheck sanity` and the suite's definitions (`sanity.SUITE`, `checks.sanity.check_sanity`)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gradcheck_cli import sanity
from gradcheck_cli import blocks as common
from gradcheck_cli.checks import sanity as check_sanity_module
from gradcheck_cli.views.table import header_lines
from gradcheck_cli.cli import ExitCode, main
from gradcheck_cli.verdict import Status, Thresholds
from gradcheck_cli.choices import Method
from gradcheck_cli.results import Report
from conftest import run, timeless

SIGMOID = "[[0.73105858 0.88079708]\n [0.26894142 0.11920292]]"
SIGMOID_GRAD = "[[0.19661193 0.10499359]\n [0.19661193 0.10499359]]"
WITHOUT_NETWORK = [item for item in sanity.SUITE if not isinstance(item, sanity.NetworkItem)]




def test_suite_is_the_contract_list():
    assert sanity.item_names() == (
        "sigmoid", "sigmoid_grad", "softmax", "quad_scalar", "quad_1d", "quad_2d",
        "ln", "sin_minus_cos", "exp", "network",
    )
    net = sanity.SUITE[-1]
    assert isinstance(net, sanity.NetworkItem) and net.dims == (10, 5, 10)
    assert sanity.SIGMOID_INPUT.tolist() == [[1, 2], [-1, -2]]


def test_suite_without_network_passes_and_prints_like_the_course():
    report = check_sanity_module.check_sanity(items=WITHOUT_NETWORK)
    assert report.passed and report.status is Status.PASS
    assert report.command == "sanity"
    text = "\n".join(tuple(header_lines(report)))
    assert tuple(header_lines(report))[0] == "Running sanity checks..."
    assert SIGMOID in text and SIGMOID_GRAD in text
    assert text.count("Gradient check passed!") == 6
    assert "sum(x**2), scalar x: Gradient check passed!" in text
    assert [b.name for b in report.blocks] == [i.name for i in WITHOUT_NETWORK]
    assert report.counts == {"checks": 4 + 4 + 6 + 1 + 3 + 20 + 5 + 5 + 5, "pass": 53, "warn": 0, "fail": 0, "kink": 0, "unresolved": 0}
    assert report.checks == ()  # only failing entries are listed


def test_value_items_match_the_printed_references_to_8_decimals():
    for item in sanity.SUITE[:3]:
        assert np.max(np.abs(item.compute() - item.expected)) <= sanity.VALUE_TOL


def test_a_wrong_reference_value_fails():
    wrong = sanity.ValueItem("sigmoid", "sigmoid", sanity.SUITE[0].compute,
                             np.array([[0.73105858, 0.88079708], [0.26894142, 0.11920293]]))
    report = check_sanity_module.check_sanity(items=[wrong])
    assert not report.passed
    assert report.counts["fail"] == 1
    (bad,) = report.checks
    assert (bad.name, bad.index, bad.status) == ("sigmoid", (1, 1), Status.FAIL)
    assert "  differs from the reference values:" in header_lines(report)


def test_a_wrong_gradient_item_fails_in_course_style():
    item = sanity.GradientItem("quad_bad", "sum(x**2) with 3x", lambda x: (np.sum(x**2), x * [2, 3]),
                               lambda rng: np.array([1.0, -2.0]))
    report = check_sanity_module.check_sanity(items=[item])
    assert not report.passed and report.status is Status.FAIL
    assert "sum(x**2) with 3x: Gradient check failed." in header_lines(report)
    assert "  worst gradient error at x[1]: your gradient -6.000000, numerical gradient -4.000000" in header_lines(report)
    assert {c.name for c in report.checks} == {"quad_bad"}
    assert report.blocks[0].name == "quad_bad" and report.blocks[0].status is Status.FAIL


def test_warn_passes_unless_strict():
    item = sanity.GradientItem("w", "w", lambda x: (np.sum(x**2), 2 * x * (1 + 1e-5)), lambda rng: np.ones(2))
    loose = check_sanity_module.check_sanity(items=[item])
    assert loose.passed and loose.status is Status.WARN
    assert "w: Gradient check passed! (with warnings)" in tuple(header_lines(loose))
    strict = check_sanity_module.check_sanity(items=[item], thresholds=Thresholds(strict=True))
    assert not strict.passed
    assert len(strict.checks) == 2


def test_seed_changes_random_inputs_only():
    a = check_sanity_module.check_sanity(items=WITHOUT_NETWORK, seed=0).to_dict()
    b = check_sanity_module.check_sanity(items=WITHOUT_NETWORK, seed=0).to_dict()
    c = check_sanity_module.check_sanity(items=WITHOUT_NETWORK, seed=5).to_dict()
    assert timeless(a) == timeless(b)
    assert a["blocks"][:4] == c["blocks"][:4]  # values and the fixed scalar
    assert a["blocks"][5] != c["blocks"][5]


# ------------------------------------------------------------------ network item
def test_network_item_runs_the_structured_network_check():
    report = check_sanity_module.check_sanity(items=[sanity.SUITE[-1]])
    assert report.passed
    assert [b.name for b in report.blocks] == ["network.W1", "network.b1", "network.W2", "network.b2"]
    assert report.counts["checks"] == (10 + 1) * 5 + (5 + 1) * 10
    assert "two-layer network, dims 10 5 10: Gradient check passed!" in header_lines(report)


def test_cli_sanity_passes(capsys):
    code, out, err = run(["sanity"], capsys)
    assert code == ExitCode.OK, out + err
    assert out.startswith("Running sanity checks...\n")
    assert SIGMOID in out and SIGMOID_GRAD in out
    assert out.count("Gradient check passed!") == 7
    assert "network.W1" in out
    assert out.rstrip().splitlines()[-1] == "168 checks: 168 pass, 0 warn, 0 fail"


def test_cli_sanity_json_and_quiet(capsys):
    code, out, err = run(["sanity", "--format", "json"], capsys)
    doc = json.loads(out)
    assert code == ExitCode.OK and err == ""
    assert doc["command"] == "sanity" and doc["status"] == "pass"
    assert [i["name"] for i in doc["items"]] == list(sanity.item_names())
    assert all(i["status"] == "pass" for i in doc["items"])
    assert doc["summary"]["checks"] == 168
    code, out, _ = run(["sanity", "-q"], capsys)
    assert (code, out) == (ExitCode.OK, "168 checks: 168 pass, 0 warn, 0 fail\n")


def test_cli_sanity_junit(capsys, tmp_path):
    import xml.etree.ElementTree as ET

    path = tmp_path / "sanity.xml"
    code, _, _ = run(["sanity", "-q", "--junit", str(path)], capsys)
    assert code == ExitCode.OK
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite.get("name") == "gradcheck sanity"
    names = [case.get("name") for case in suite.iter("testcase")]
    assert names[:3] == ["sigmoid", "sigmoid_grad", "softmax"] and names[-1] == "network.b2"
    assert suite.get("tests") == str(len(names)) and suite.get("failures") == "0"


def test_cli_sanity_bad_option(capsys):
    code, out, err = run(["sanity", "--pass-tol", "-1"], capsys)
    assert code == ExitCode.BAD_INPUT and out == ""
    assert "--pass-tol must be a positive number" in err


def test_network_item_wiring_with_a_stand_in(monkeypatch, capsys):
    """The network item's plumbing, with a stand-in for the network check (blocks renamed, failing entries kept)."""
    seen = {}

    def fake_network_report(dims, seed, thresholds):
        seen.update(dims=dims, seed=seed)
        rng = np.random.default_rng(0)
        data = []
        for name, shape in (("W1", (10, 5)), ("b1", (5,)), ("W2", (5, 10)), ("b2", (10,))):
            a = rng.standard_normal(int(np.prod(shape)))
            n = a.copy()
            if name == "W2":
                n[13] *= 2
            data.append(common.BlockData(name, shape, a, n, np.full(a.shape, 1e-12)))
        v = common.judge_blocks(data, thresholds, 0)
        return Report(command="net", method=Method.CENTRAL, thresholds=thresholds,
                      checks=v.checks, counts=v.counts, blocks=v.blocks)

    monkeypatch.setattr(check_sanity_module, "_network_report", fake_network_report)
    report = check_sanity_module.check_sanity(items=[sanity.SUITE[-1]], seed=7)
    assert seen == {"dims": (10, 5, 10), "seed": 7}
    assert [b.name for b in report.blocks] == ["network.W1", "network.b1", "network.W2", "network.b2"]
    assert [(c.name, c.index) for c in report.checks] == [("network.W2", (1, 3))]
    assert "two-layer network, dims 10 5 10: Gradient check failed." in header_lines(report)
    assert any(line.startswith("  worst gradient error at W2[1, 3]: ") for line in header_lines(report))
    code, out, _ = run(["sanity"], capsys)
    assert code == ExitCode.CHECK_FAILED
    assert "network.W2[1, 3]" in out
    assert out.rstrip().splitlines()[-1] == "168 checks: 167 pass, 0 warn, 1 fail"
