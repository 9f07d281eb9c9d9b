"""CS224n assignment 2's skip-gram loss, as students write it: correct and with the classic slip."""

import random

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


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


class Dataset:
    def __init__(self, tokens=5):
        self.tokens = tokens

    def sampleTokenIdx(self):
        return random.randint(0, self.tokens - 1)


def getNegativeSamples(outsideWordIdx, dataset, K):
    negSampleWordIndices = [None] * K
    for k in range(K):
        newidx = dataset.sampleTokenIdx()
        while newidx == outsideWordIdx:
            newidx = dataset.sampleTokenIdx()
        negSampleWordIndices[k] = newidx
    return negSampleWordIndices


def negSamplingLossAndGradient(centerWordVec, outsideWordIdx, outsideVectors, dataset, K=10):
    negSampleWordIndices = getNegativeSamples(outsideWordIdx, dataset, K)
    indices = [outsideWordIdx] + negSampleWordIndices
    u_o = outsideVectors[outsideWordIdx]
    s_o = sigmoid(u_o @ centerWordVec)
    U_k = outsideVectors[negSampleWordIndices]
    s_k = sigmoid(-U_k @ centerWordVec)
    loss = -np.log(s_o) - np.sum(np.log(s_k))
    gradCenterVec = (s_o - 1) * u_o + (1 - s_k) @ U_k
    gradOutsideVecs = np.zeros_like(outsideVectors)
    gradOutsideVecs[outsideWordIdx] += (s_o - 1) * centerWordVec
    np.add.at(gradOutsideVecs, negSampleWordIndices, np.outer(1 - s_k, centerWordVec))
    return loss, gradCenterVec, gradOutsideVecs


def negSamplingNoRepeats(centerWordVec, outsideWordIdx, outsideVectors, dataset, K=10):
    """The classic slip: gradOutsideVecs[idx] += ... with fancy indexing drops repeated samples."""
    negSampleWordIndices = getNegativeSamples(outsideWordIdx, dataset, K)
    u_o = outsideVectors[outsideWordIdx]
    s_o = sigmoid(u_o @ centerWordVec)
    U_k = outsideVectors[negSampleWordIndices]
    s_k = sigmoid(-U_k @ centerWordVec)
    loss = -np.log(s_o) - np.sum(np.log(s_k))
    gradCenterVec = (s_o - 1) * u_o + (1 - s_k) @ U_k
    gradOutsideVecs = np.zeros_like(outsideVectors)
    gradOutsideVecs[outsideWordIdx] += (s_o - 1) * centerWordVec
    gradOutsideVecs[negSampleWordIndices] += np.outer(1 - s_k, centerWordVec)
    return loss, gradCenterVec, gradOutsideVecs


def skipgram(currentCenterWord, windowSize, outsideWords, word2Ind,
             centerWordVectors, outsideVectors, dataset,
             word2vecLossAndGradient=naiveSoftmaxLossAndGradient):
    loss = 0.0
    gradCenterVecs = np.zeros(centerWordVectors.shape)
    gradOutsideVectors = np.zeros(outsideVectors.shape)
    c = word2Ind[currentCenterWord]
    for word in outsideWords:
        l, gc, go = word2vecLossAndGradient(centerWordVectors[c], word2Ind[word], outsideVectors, dataset)
        loss += l
        gradCenterVecs[c] += gc
        gradOutsideVectors += go
    return loss, gradCenterVecs, gradOutsideVectors
