"""Numbers that say how good a model is (NumPy in, NumPy or Python numbers out; CuPy arrays and
Tensors are copied to the host first).

- classifiers: ``accuracy``, ``confusion_matrix``, ``class_histogram``;
- generative models: ``frechet_distance`` (FID when the features come from Inception, but any feature
  extractor works, e.g. a small MNIST classifier) with ``feature_statistics`` and
  ``frechet_distance_from_stats``; ``classifier_score`` (the Inception Score with any classifier) with
  ``softmax_probabilities``.
"""

import numpy as np

from .tensor import Tensor


def _host(a):
    """A NumPy array from a Tensor, CuPy array or array-like.

    A CuPy array is recognised by ``__cuda_array_interface__`` and copied with ``.get()``; only a
    Tensor is unwrapped through ``.data`` (a CuPy array's ``.data`` is its memory pointer, not an array).
    """
    if isinstance(a, Tensor):
        a = a.data
    if isinstance(a, np.ndarray):
        return a
    if hasattr(a, "__cuda_array_interface__") and hasattr(a, "get"):
        return a.get()
    return np.asarray(a)


def accuracy(logits_or_predictions, labels):
    """Fraction of correct predictions; takes logits (N, C) or predicted labels (N,)."""
    pred, labels = _host(logits_or_predictions), _host(labels)
    if pred.ndim == 2:
        pred = pred.argmax(axis=1)
    if pred.shape != labels.shape:
        raise ValueError(f"accuracy: predictions of shape {pred.shape} do not match labels of shape {labels.shape}")
    return float((pred == labels).mean()) if labels.size else float("nan")


def _check_labels(name, v, num_classes, where):
    if v.size and (v.min() < 0 or v.max() >= num_classes):
        raise ValueError(f"{where}: {name} must be in [0, {num_classes}), got {v.min()}..{v.max()}")


def confusion_matrix(predictions, labels, num_classes):
    """counts[i, j] = number of samples of true class i predicted as class j."""
    pred, labels = _host(predictions).astype(np.int64), _host(labels).astype(np.int64)
    if pred.shape != labels.shape:
        raise ValueError(f"confusion_matrix: predictions {pred.shape} and labels {labels.shape} differ in shape")
    for name, v in (("predictions", pred), ("labels", labels)):
        _check_labels(name, v, num_classes, "confusion_matrix")
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(counts, (labels, pred), 1)
    return counts


def class_histogram(predictions, num_classes):
    """counts[c] = number of predicted labels equal to c (int64, length ``num_classes``).

    A generator that covers every class evenly gives a flat histogram; mode collapse shows up as
    empty bins. ``predictions`` are labels (N,) in [0, num_classes), as ``confusion_matrix`` takes them.
    """
    pred = _host(predictions)
    if pred.ndim != 1:
        raise ValueError(f"class_histogram: predictions must be labels of shape (N,), got shape {pred.shape}")
    integral = np.issubdtype(pred.dtype, np.integer) or pred.dtype == np.bool_
    integral = integral or (np.issubdtype(pred.dtype, np.floating) and np.array_equal(pred, np.round(pred)))
    if pred.size and not integral:
        raise ValueError(f"class_histogram: predictions must be integer labels, got dtype {pred.dtype}")
    pred = pred.astype(np.int64)
    _check_labels("predictions", pred, num_classes, "class_histogram")
    return np.bincount(pred, minlength=num_classes).astype(np.int64)


# --------------------------------------------------------------------------- Frechet distance


def _features(name, features, where):
    x = _host(features)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"{where}: {name} must be 2-D (N, D) with at least 2 samples, got shape {x.shape}")
    x = x.astype(np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{where}: {name} contains NaN or infinity")
    return x


def feature_statistics(features):
    """Mean (D,) and unbiased covariance (D, D) of features (N, D), in float64 on the host.

    The covariance is ``np.cov(features, rowvar=False)`` (divides by N - 1), kept 2-D when D = 1.
    """
    return _statistics(_features("features", features, "feature_statistics"))


def _statistics(x):
    return x.mean(axis=0), np.cov(x, rowvar=False).reshape(x.shape[1], x.shape[1])


def _psd_eigh(m, name, where, vectors=True):
    """Eigenvalues (and eigenvectors) of a symmetric PSD matrix by eigh, with the eigenvalues that
    rounding pushed slightly below 0 clipped to 0. Clearly negative ones (below -1e-4 times the largest
    magnitude: far beyond float32 or float64 rounding) mean the matrix is no covariance: ValueError."""
    w, v = np.linalg.eigh(m) if vectors else (np.linalg.eigvalsh(m), None)
    if w.size and w.min() < -1e-4 * np.abs(w).max():
        raise ValueError(f"{where}: {name} is not positive semi-definite (eigenvalue {w.min():.3g})")
    return np.clip(w, 0.0, None), v


def frechet_distance_from_stats(mu_a, cov_a, mu_b, cov_b):
    """Frechet distance between the Gaussians N(mu_a, cov_a) and N(mu_b, cov_b), as a Python float:

        FD = ||mu_a - mu_b||^2 + tr(S_a) + tr(S_b) - 2 tr((S_a^{1/2} S_b S_a^{1/2})^{1/2})

    Why this form. The usual formula writes the last term as tr((S_a S_b)^{1/2}) and takes the matrix
    square root of the product with a general-purpose ``sqrtm`` (Schur decomposition). S_a S_b is not
    symmetric, so that root comes back with spurious imaginary parts, loses accuracy when S_a or S_b is
    singular (always the case when there are fewer samples than feature dimensions) and needs an
    ``eps * I`` offset to survive. But S_a S_b = S_a^{1/2} M S_a^{-1/2} with M = S_a^{1/2} S_b S_a^{1/2}
    (by continuity also for singular S_a), so both have the same eigenvalues and the same trace of the
    square root. M is symmetric positive semi-definite, and for symmetric matrices ``np.linalg.eigh`` is
    exact in exact arithmetic and backward stable in floating point: real eigenvalues and orthonormal
    eigenvectors, with no complex detour. Both square roots (S_a^{1/2} = V diag(sqrt w) V^T, then the
    eigenvalues of M) come from it; eigenvalues that rounding pushed slightly below 0 are clipped to 0.
    A result that rounding pushes below 0 (identical inputs) is returned as 0.0. Accuracy: about 1e-13
    relative for well-conditioned covariances; for singular ones (fewer samples than dimensions) about
    sqrt(D * machine eps) * |S|, because the square root turns rounding-level eigenvalues (1e-16 |S|^2)
    into 1e-8 |S|; that is the conditioning of tr sqrt at singular matrices, not of this method.

    Inputs (NumPy, CuPy or Tensors) are converted to float64 on the host. Raises ValueError for shapes
    that do not fit (mu (D,), cov (D, D), the same D for both), NaN or infinity, and for covariances
    that are clearly not positive semi-definite.
    """
    where = "frechet_distance_from_stats"
    mu_a, cov_a, mu_b, cov_b = (_host(t).astype(np.float64) for t in (mu_a, cov_a, mu_b, cov_b))
    d = mu_a.shape[0] if mu_a.ndim == 1 else -1
    if d < 1 or mu_b.shape != (d,) or cov_a.shape != (d, d) or cov_b.shape != (d, d):
        raise ValueError(
            f"{where}: expected mu (D,) and cov (D, D) with the same D for both, got mu_a {mu_a.shape}, "
            f"cov_a {cov_a.shape}, mu_b {mu_b.shape}, cov_b {cov_b.shape}"
        )
    for name, t in (("mu_a", mu_a), ("cov_a", cov_a), ("mu_b", mu_b), ("cov_b", cov_b)):
        if not np.all(np.isfinite(t)):
            raise ValueError(f"{where}: {name} contains NaN or infinity")
    cov_a, cov_b = (cov_a + cov_a.T) / 2, (cov_b + cov_b.T) / 2  # exact symmetry for eigh
    w_a, v_a = _psd_eigh(cov_a, "cov_a", where)
    _psd_eigh(cov_b, "cov_b", where, vectors=False)
    sqrt_a = (v_a * np.sqrt(w_a)) @ v_a.T  # S_a^{1/2} = V diag(sqrt w) V^T
    m = sqrt_a @ cov_b @ sqrt_a
    w_m, _ = _psd_eigh((m + m.T) / 2, "S_a^1/2 S_b S_a^1/2", where, vectors=False)
    diff = mu_a - mu_b
    fd = diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.sqrt(w_m).sum()
    return max(float(fd), 0.0)


def frechet_distance(features_a, features_b):
    """Frechet distance between two feature sets (N_a, D) and (N_b, D): each is summarised by its
    mean and unbiased covariance (``feature_statistics``), and the distance between the two Gaussians
    is ``frechet_distance_from_stats`` (see there for the formula and why it uses eigh). With
    Inception-v3 pool features this is the FID; any feature extractor gives a comparable number for
    the same extractor. Symmetric in its arguments, >= 0, 0 for identical sets, unchanged by a common
    shift. Returns a Python float. Raises ValueError unless both inputs are 2-D with the same D and at
    least 2 samples each.
    """
    a, b = _host(features_a), _host(features_b)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or a.shape[0] < 2 or b.shape[0] < 2:
        raise ValueError(
            f"frechet_distance: expected two 2-D feature arrays (N, D) with the same D and at least 2 "
            f"samples each, got shapes {a.shape} and {b.shape}"
        )
    mu_a, cov_a = _statistics(_features("features_a", a, "frechet_distance"))
    mu_b, cov_b = _statistics(_features("features_b", b, "frechet_distance"))
    return frechet_distance_from_stats(mu_a, cov_a, mu_b, cov_b)


# --------------------------------------------------------------------------- classifier score


def softmax_probabilities(logits):
    """Softmax over the last axis of ``logits``, in float64 NumPy on the host (max subtracted first,
    so large logits do not overflow). -inf logits give probability 0; NaN, +inf or a row that is all
    -inf raise ValueError."""
    z = _host(logits).astype(np.float64)
    if z.ndim < 1 or z.shape[-1] == 0:
        raise ValueError(f"softmax_probabilities: expected logits with a non-empty last axis, got shape {z.shape}")
    top = z.max(axis=-1, keepdims=True)
    if not np.all(np.isfinite(top)):
        raise ValueError("softmax_probabilities: logits contain NaN or +inf, or a row that is all -inf")
    e = np.exp(z - top)
    return e / e.sum(axis=-1, keepdims=True)


def classifier_score(probabilities, eps=1e-12):
    """The Inception Score with any classifier: exp(mean_i KL(p(y|x_i) || p(y))), p(y) = mean_i p(y|x_i).

    ``probabilities`` (N, C): rows are class probabilities (non-negative, summing to 1 within 1e-3;
    they are renormalised to sum to exactly 1). For logits, pass ``softmax_probabilities(logits)``.
    ``eps`` smooths both logarithms, log(p + eps), as common implementations do; terms with p = 0 are 0
    (0 log 0 = 0), so ``eps=0`` gives the exact value. The mean KL is the mutual information between
    sample and label, between 0 and log C, so the score is between 1 (every sample gets the same
    distribution: no confident or no diverse predictions) and C (confident one-hot predictions spread
    evenly over the C classes); it is clamped to [1, C] to absorb rounding. Returns a Python float.
    """
    p = _host(probabilities)
    if p.ndim != 2 or p.shape[0] < 1 or p.shape[1] < 1:
        raise ValueError(f"classifier_score: expected probabilities of shape (N, C), got shape {p.shape}")
    if not eps >= 0:
        raise ValueError(f"classifier_score: eps must be >= 0, got {eps}")
    p = p.astype(np.float64)
    if not np.all(np.isfinite(p)) or p.min() < 0:
        raise ValueError("classifier_score: probabilities must be finite and non-negative")
    sums = p.sum(axis=1)
    worst = int(np.argmax(np.abs(sums - 1.0)))
    if abs(sums[worst] - 1.0) > 1e-3:
        raise ValueError(
            f"classifier_score: rows must sum to 1 (within 1e-3); row {worst} sums to {sums[worst]:.6g} "
            "(for logits use softmax_probabilities)"
        )
    p = p / sums[:, None]
    p_y = p.mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * (np.log(p + eps) - np.log(p_y + eps)), 0.0)
    score = float(np.exp(terms.sum(axis=1).mean()))
    return min(max(score, 1.0), float(p.shape[1]))
