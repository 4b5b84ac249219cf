"""Accuracy and the confusion matrix."""

import numpy as np
import pytest

import scratchnet as sn
from scratchnet import metrics


def test_accuracy_from_logits_and_labels():
    logits = sn.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]])
    assert metrics.accuracy(logits, sn.tensor([0, 1, 1])) == pytest.approx(2 / 3)
    assert metrics.accuracy(np.array([1, 1]), np.array([1, 0])) == 0.5
    with pytest.raises(ValueError, match="do not match"):
        metrics.accuracy(np.array([1, 1]), np.array([1]))


def test_confusion_matrix():
    counts = metrics.confusion_matrix(np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2]), 3)
    np.testing.assert_array_equal(counts, [[1, 0, 0], [0, 1, 0], [0, 1, 1]])
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
        metrics.confusion_matrix(np.array([0]), np.array([3]), 3)
