"""CS224n's word2vec as students write it, checked without a wrapper (issue 18 item 3): the
losses of several arrays bound by name, with an index, a dataset object that draws negative
samples from ``random``, index lists, strings, dicts and a loss function passed through."""

from __future__ import annotations

import random
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from gradcheck_cli import check_layer
from gradcheck_cli.verdict import Status

sys.path.insert(0, str(Path(__file__).parent / "layers"))
import word2vec as w  # noqa: E402

RNG = np.random.default_rng(0)
CENTER, OUTSIDE = RNG.standard_normal((5, 3)), RNG.standard_normal((5, 3))
WORDS = {"a": 0, "b": 1, "c": 2, "d": 3, "e": 4}


def statuses(report) -> dict:
    return {b.name: b.status for b in report.blocks}


@pytest.mark.parametrize("loss", [w.naiveSoftmaxLossAndGradient, w.negSamplingLossAndGradient])
def test_a_correct_loss_passes_with_its_dataset_passed_through(loss):
    report = check_layer(loss, None, {"centerWordVec": CENTER[2], "outsideWordIdx": np.int64(1),
                                      "outsideVectors": OUTSIDE}, {"dataset": w.Dataset()})
    assert statuses(report) == {"centerWordVec": Status.PASS, "outsideVectors": Status.PASS}
    assert report.counts["checks"] == 3 + 15


def test_negative_samples_added_by_fancy_indexing_fail_at_the_outside_vectors_only():
    # gradOutsideVecs[indices] += ... counts a word sampled twice once (np.add.at counts it twice);
    # every call draws from random's state as the check found it: seeded here, the samples repeat
    random.seed(0)
    report = check_layer(w.negSamplingNoRepeats, None, {"centerWordVec": CENTER[2], "outsideWordIdx": np.int64(1),
                                                        "outsideVectors": OUTSIDE}, {"dataset": w.Dataset()})
    assert statuses(report) == {"centerWordVec": Status.PASS, "outsideVectors": Status.FAIL}
    (hint,) = report.hints
    # the rows of words drawn m times are 1/m of the numeric value
    assert re.match(r"doutsideVectors: \d+ of 15 entries fail, each exactly 1/m of the numeric value \(m = \d(, \d)*\)", hint)
    assert "np.add.at counts each" in hint


@pytest.mark.parametrize("loss, outside", [
    (w.naiveSoftmaxLossAndGradient, Status.PASS),
    (w.negSamplingLossAndGradient, Status.PASS),
    (w.naiveSoftmaxForgetsSoftmax, Status.FAIL),
])
def test_skipgram_binds_its_arrays_by_name_and_passes_the_rest_through(loss, outside):
    # skipgram(currentCenterWord, windowSize, outsideWords, word2Ind, centerWordVectors,
    #          outsideVectors, dataset, word2vecLossAndGradient): two arrays among six other things
    params = {"currentCenterWord": "c", "windowSize": 1, "outsideWords": ["b", "d", "b"], "word2Ind": WORDS,
              "dataset": w.Dataset(), "word2vecLossAndGradient": loss}
    report = check_layer(w.skipgram, None, {"centerWordVectors": CENTER, "outsideVectors": OUTSIDE}, params)
    assert statuses(report) == {"centerWordVectors": Status.PASS, "outsideVectors": outside}
    assert params["outsideWords"] == ["b", "d", "b"]  # params are copied for every call, never changed
