"""CS224n assignment 2's skip-gram loss, as students write it: correct and with the classic slip."""

import numpy as np


def softmax(x):
    e = np.exp(x - np.max(x))
    return e / np.sum(e)


def naiveSoftmaxLossAndGradient(centerWordVec, outsideWordIdx, outsideVectors, dataset):
    y_hat = softmax(outsideVectors @ centerWordVec)
    loss = -np.log(y_hat[outsideWordIdx])
    delta = y_hat.copy()
    delta[outsideWordIdx] -= 1
    gradCenterVec = outsideVectors.T @ delta
    gradOutsideVecs = np.outer(delta, centerWordVec)
    return loss, gradCenterVec, gradOutsideVecs


def naiveSoftmaxForgetsSoftmax(centerWordVec, outsideWordIdx, outsideVectors, dataset):
    """The outside gradient keeps only -y (the softmax term y_hat forgotten)."""
    y_hat = softmax(outsideVectors @ centerWordVec)
    loss = -np.log(y_hat[outsideWordIdx])
    delta = y_hat.copy()
    delta[outsideWordIdx] -= 1
    gradCenterVec = outsideVectors.T @ delta
    y = np.zeros_like(y_hat)
    y[outsideWordIdx] = 1
    gradOutsideVecs = -np.outer(y, centerWordVec)
    return loss, gradCenterVec, gradOutsideVecs
