"""blackbox/pipeline.py's schedule: what each entry costs and when the check stops.

- full mode: a first look of two calls per entry, judged by the one rule; only the
  entries it does not settle go on (re-estimate, a layer's four-point estimate);
- ``--max-seconds``: the check stops at the deadline, what was checked is judged, the rest
  is ``unchecked`` (exit 0 unless a checked entry failed; 1 under ``--strict``);
- progress covers every phase (never at 100% while re-estimates run).

Calls are counted by a wrapper around the function, never by our own bookkeeping.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from gradcheck_cli.blackbox.pipeline import check_blackbox, deadline_after
from gradcheck_cli.checks.func import check_gradient
from gradcheck_cli.checks.layer import check_layer
from gradcheck_cli.choices import Mode
from gradcheck_cli.blackbox.stencils import PROBE_POINTS
from gradcheck_cli.verdict import Status, Thresholds

from conftest import Counted, assert_one_error_line


def smooth(P: int = 60):
    x = np.linspace(-1.0, 1.0, P)
    return Counted(lambda z: float(np.sum(np.sin(z)))), x, np.cos(x)


# ---------------------------------------------------------------- full mode: 2 calls per entry


def test_full_mode_costs_two_calls_per_entry_of_a_smooth_function():
    f, x, g = smooth(60)
    res = check_blackbox(f, x, g, mode=Mode.FULL)
    assert res.verdict.blocks[0].status is Status.PASS
    # f(x), the noise probe, then exactly two calls per entry: nothing is re-estimated
    assert f.calls == 1 + (PROBE_POINTS - 1) + 2 * 60
    assert res.effort.calls == f.calls


def test_full_mode_sends_only_unsettled_entries_on_and_still_fails_a_wrong_one():
    f, x, g = smooth(60)
    g = g.copy()
    g[17] *= 2
    res = check_blackbox(f, x, g, mode=Mode.FULL)
    assert [tuple(c.index) for c in res.verdict.checks if c.status is Status.FAIL] == [(17,)]
    first_look = 1 + (PROBE_POINTS - 1) + 2 * 60
    # one entry re-estimated by the stronger engine (the stencil ladder: at most ~40 calls)
    assert first_look < f.calls <= first_look + 40


def test_effort_calls_equal_a_wrapper_count_in_full_mode():
    calls = Counted(lambda x: (float(np.sum(np.exp(x))), np.exp(x)))
    x = np.linspace(-1, 1, 40).reshape(4, 10)
    report = check_gradient(calls, x, mode="full")
    assert report.status is Status.PASS
    assert report.effort.calls == calls.calls
    assert calls.calls <= 3 + PROBE_POINTS + 2 * 40  # a few first calls, the noise probe, 2 per entry


def test_a_layer_in_full_mode_costs_about_two_forward_calls_per_entry():
    # elementwise: the round-off of an entry's output-wise difference is that of its own
    # output, so the first look settles every entry whatever dout
    fwd = Counted(lambda x, w: (np.sin(x) * w, (x, w)))

    def bwd(dout, cache):
        x, w = cache
        return dout * np.cos(x) * w, dout * np.sin(x)

    x = np.linspace(-1.0, 1.0, 24).reshape(4, 6)
    w = np.linspace(0.5, 2.0, 24).reshape(4, 6)
    report = check_layer(fwd, bwd, {"x": x, "w": w}, mode="full")
    assert report.status is Status.PASS
    entries = x.size + w.size
    # a few forward calls of setup (first pass, cache test, L(x), one per input for the
    # output-wise differences) and the noise probe per input come on top of 2 per entry
    # (the four-point path costs 4 per entry: 192 here)
    assert fwd.calls <= 2 * entries + 2 * PROBE_POINTS + 9
    assert report.effort.calls >= fwd.calls


# ---------------------------------------------------------------- --max-seconds


def slow(P: int, wrong: int | None = None, pause: float = 0.004):
    x = np.linspace(-1.0, 1.0, P)
    g = np.cos(x)
    if wrong is not None:
        g[wrong] *= 2

    def f(z):
        time.sleep(pause)
        return float(np.sum(np.sin(z)))

    return Counted(f), x, g


@pytest.mark.parametrize("mode", [Mode.FULL, Mode.ADAPTIVE])
def test_a_deadline_stops_the_check_and_counts_the_rest_unchecked(mode):
    f, x, g = slow(400)
    res = check_blackbox(f, x, g, mode=mode, deadline=deadline_after(0.25 if mode is Mode.FULL else 0.06))
    counts = res.verdict.counts
    assert counts["unchecked"] > 0 and counts["checks"] == 400
    assert counts["pass"] + counts["unchecked"] + counts["unresolved"] == 400
    assert counts["fail"] == 0
    assert res.verdict.blocks[0].status is Status.UNCHECKED
    assert res.effort.stopped == counts["unchecked"]
    assert f.calls < 2 * 400  # it did stop


def test_a_failure_found_before_the_deadline_still_fails():
    f, x, g = slow(400, wrong=1)
    res = check_blackbox(f, x, g, mode=Mode.FULL, deadline=deadline_after(1.0))
    assert res.verdict.counts["fail"] == 1 and res.verdict.counts["unchecked"] > 0
    assert res.verdict.blocks[0].status is Status.FAIL


def test_no_deadline_adds_no_unchecked_count():
    f, x, g = smooth(30)
    res = check_blackbox(f, x, g, mode=Mode.FULL)
    assert "unchecked" not in res.verdict.counts
    assert "stopped" not in res.effort.to_dict()


SLOW_FILE = """
import time
import numpy as np

def f(x):
    time.sleep(0.004)
    return float(np.sum(np.sin(x))), np.cos(x)

def wrong_first(x):
    time.sleep(0.004)
    g = np.cos(x)
    g.flat[0] *= 2
    return float(np.sum(np.sin(x))), g
"""


@pytest.fixture
def slow_file(tmp_path):
    path = tmp_path / "slowf.py"
    path.write_text(SLOW_FILE)
    return path


def test_cli_max_seconds_reports_unchecked_and_exits_0(cli, slow_file):
    r = cli("func", f"{slow_file}:f", "--shape", "300", "--mode", "full", "--max-seconds", "0.3",
            "--format", "json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["summary"]["unchecked"] > 0
    assert doc["summary"]["fail"] == 0
    assert doc["status"] == "unchecked"
    assert doc["effort"]["stopped"] == doc["summary"]["unchecked"]


def test_cli_max_seconds_under_strict_exits_1(cli, slow_file):
    r = cli("func", f"{slow_file}:f", "--shape", "300", "--mode", "full", "--max-seconds", "0.3", "--strict")
    assert r.code == 1
    assert "unchecked" in r.out and "--max-seconds" in r.out


def test_cli_max_seconds_keeps_a_failure_found_in_time(cli, slow_file):
    r = cli("func", f"{slow_file}:wrong_first", "--shape", "300", "--mode", "full", "--max-seconds", "1",
            "--format", "json")
    assert r.code == 1
    doc = json.loads(r.out)
    assert doc["summary"]["fail"] == 1 and doc["summary"]["unchecked"] > 0


def test_cli_max_seconds_leaves_a_quick_check_whole(cli, slow_file):
    r = cli("func", f"{slow_file}:f", "--shape", "5", "--max-seconds", "60", "--format", "json")
    assert r.code == 0
    doc = json.loads(r.out)
    assert doc["summary"]["unchecked"] == 0 and doc["summary"]["pass"] == 5


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf"])
def test_cli_max_seconds_must_be_positive(cli, slow_file, value):
    assert_one_error_line(cli("func", f"{slow_file}:f", f"--max-seconds={value}"), "--max-seconds")


def test_cli_layer_and_net_take_max_seconds(cli, tmp_path):
    from pathlib import Path

    layers = Path(__file__).parent / "layers" / "layers.py"
    r = cli("layer", f"{layers}:affine", "-i", "x=4,3", "-i", "w=3,2", "-i", "b=2", "--max-seconds", "30")
    assert r.code == 0 and "0 unchecked" in r.out
    bench = Path(__file__).resolve().parents[1] / "benchmarks" / "mynet.py"
    r = cli("net", "--dims", "10", "5", "10", "--impl", f"{bench}:forward_backward_prop", "--max-seconds", "30",
            "--format", "json")
    assert r.code == 0 and json.loads(r.out)["summary"]["unchecked"] == 0


# ---------------------------------------------------------------- progress over every phase


def test_progress_is_not_full_while_re_estimates_run():
    f, x, g = smooth(60)
    g = g.copy()
    g[[3, 40]] *= 2
    seen = []
    check_blackbox(f, x, g, mode=Mode.FULL, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1][0] == seen[-1][1] > 60  # the re-estimates are part of the total
    grown = next(k for k, (_, total) in enumerate(seen) if total > 60)
    assert all(done < total for done, total in seen[grown:-1])
    assert all(d1 <= d2 for (d1, _), (d2, _) in zip(seen, seen[1:]))


# ---------------------------------------------------------------- the first look's evidence


def test_two_point_first_look_bounds_the_truth_and_leaves_a_kink_to_the_four_point_test():
    from gradcheck_cli.blackbox.stencils import two_point_entries

    x = np.linspace(-2.0, 2.0, 41)

    def shifted(k, d):  # sum(sin(z)) - sum(sin(x)) term by term: only term k moves
        return float(np.sin(x[k] + d) - np.sin(x[k])), abs(float(np.sin(x[k] + d)))

    e = two_point_entries(shifted, x, np.arange(x.size), f0=0.0, scale=float(np.sum(np.abs(np.sin(x)))))
    assert np.all(np.abs(e.value - np.cos(x)) <= e.noise + 1e-10 * np.abs(np.cos(x)))
    assert np.all(e.jump_excess < 0)  # two points say nothing about a kink

    # noisy code (float32-like noise far above float64's round-off): the error grows with it
    noisy = two_point_entries(shifted, x, np.arange(x.size), f0=0.0, scale=1.0, sigma=1e-6)
    assert np.all(noisy.noise > 100 * e.noise)


def test_a_layer_failure_seen_before_the_deadline_is_confirmed_not_left_unchecked():
    def fwd(x, w):
        time.sleep(0.004)
        return np.sin(x) * w, (x, w)

    def bwd(dout, cache):
        x, w = cache
        dx = dout * np.cos(x) * w
        dx.flat[0] *= 2  # wrong at the first entry the first look reaches
        return dx, dout * np.sin(x)

    x = np.linspace(-1.0, 1.0, 200).reshape(10, 20)
    w = np.linspace(0.5, 2.0, 200).reshape(10, 20)
    report = check_layer(fwd, bwd, {"x": x, "w": w}, mode="full", max_seconds=1.0)
    assert report.counts["fail"] == 1 and report.counts["unchecked"] > 0
    assert [c.label for c in report.checks if c.status is Status.FAIL] == ["x[0, 0]"]


def test_model_takes_max_seconds():
    from gradcheck_cli.checks.model import check_model

    class Slow:
        def __init__(self):
            self.params = {"W": np.linspace(-1, 1, 300).reshape(30, 10)}

        def loss(self, X, y):
            time.sleep(0.004)
            r = X @ self.params["W"] - y
            return 0.5 * float(np.sum(r ** 2)), {"W": X.T @ r}

    X, y = np.linspace(0, 1, 60).reshape(2, 30), np.zeros((2, 10))
    report = check_model(Slow(), X, y, mode="full", max_seconds=0.5)
    assert report.counts["unchecked"] > 0 and report.counts["fail"] == 0
    assert report.status is Status.UNCHECKED
