"""Numbers that say how good a model is: accuracy and the confusion matrix (NumPy in, NumPy out)."""

import numpy as np


def _host(a):
    """A NumPy array from a Tensor, CuPy array or array-like."""
    a = getattr(a, "data", a) if not isinstance(a, np.ndarray) else a
    return a.get() if hasattr(a, "get") and not isinstance(a, np.ndarray) else np.asarray(a)


def accuracy(logits_or_predictions, labels):
    """Fraction of correct predictions; takes logits (N, C) or predicted labels (N,)."""
    pred, labels = _host(logits_or_predictions), _host(labels)
    if pred.ndim == 2:
        pred = pred.argmax(axis=1)
    if pred.shape != labels.shape:
        raise ValueError(f"accuracy: predictions of shape {pred.shape} do not match labels of shape {labels.shape}")
    return float((pred == labels).mean()) if labels.size else float("nan")


def confusion_matrix(predictions, labels, num_classes):
    """counts[i, j] = number of samples of true class i predicted as class j."""
    pred, labels = _host(predictions).astype(np.int64), _host(labels).astype(np.int64)
    if pred.shape != labels.shape:
        raise ValueError(f"confusion_matrix: predictions {pred.shape} and labels {labels.shape} differ in shape")
    for name, v in (("predictions", pred), ("labels", labels)):
        if v.size and (v.min() < 0 or v.max() >= num_classes):
            raise ValueError(f"confusion_matrix: {name} must be in [0, {num_classes}), got {v.min()}..{v.max()}")
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(counts, (labels, pred), 1)
    return counts
