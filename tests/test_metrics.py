"""Accuracy, the confusion matrix, the class histogram, the Frechet distance and the classifier score."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

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


# ---------------------------------------------------------------------------------- class histogram


def test_class_histogram_counts():
    counts = metrics.class_histogram(np.array([0, 2, 2, 4, 2]), 6)
    assert counts.dtype == np.int64
    np.testing.assert_array_equal(counts, [1, 0, 3, 0, 1, 0])
    np.testing.assert_array_equal(metrics.class_histogram(sn.tensor([1, 1]), 2), [0, 2])
    np.testing.assert_array_equal(metrics.class_histogram(np.array([], dtype=np.int64), 3), [0, 0, 0])
    np.testing.assert_array_equal(metrics.class_histogram(np.array([1.0, 0.0]), 2), [1, 1])  # integral floats


def test_class_histogram_errors():
    with pytest.raises(ValueError, match=r"predictions must be in \[0, 3\), got 0\.\.3"):
        metrics.class_histogram(np.array([0, 3]), 3)
    with pytest.raises(ValueError, match=r"predictions must be in \[0, 3\), got -1\.\.1"):
        metrics.class_histogram(np.array([-1, 1]), 3)
    with pytest.raises(ValueError, match=r"shape \(N,\), got shape \(2, 3\)"):
        metrics.class_histogram(np.zeros((2, 3), dtype=np.int64), 3)
    with pytest.raises(ValueError, match="integer labels"):
        metrics.class_histogram(np.array([0.5, 1.0]), 3)


# ---------------------------------------------------------------------------------- Frechet distance


def _random_spd(rng, d, rank=None):
    a = rng.standard_normal((d, rank or d))
    return a @ a.T + (0.0 if rank else 0.1) * np.eye(d)


def _fd_2x2(mu_a, cov_a, mu_b, cov_b):
    """Closed form for D = 2, without any matrix square root: the eigenvalues l1, l2 of S_a S_b are
    real and >= 0, and (sqrt l1 + sqrt l2)^2 = tr(S_a S_b) + 2 sqrt(det S_a det S_b)."""
    tr_sqrt = np.sqrt(np.trace(cov_a @ cov_b) + 2 * np.sqrt(np.linalg.det(cov_a) * np.linalg.det(cov_b)))
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * tr_sqrt)


@given(seed=st.integers(0, 2**32 - 1), d=st.integers(1, 6))
def test_frechet_from_stats_commuting_covariances(seed, d):
    """Covariances with the same eigenvectors: FD = |mu_a - mu_b|^2 + sum (sqrt s_a - sqrt s_b)^2."""
    rng = np.random.default_rng(seed)
    mu_a, mu_b = rng.standard_normal(d), rng.standard_normal(d)
    s_a, s_b = rng.uniform(0.0, 4.0, d), rng.uniform(0.0, 4.0, d)
    s_a[rng.random(d) < 0.2] = 0.0  # singular covariances are fine
    expected = np.sum((mu_a - mu_b) ** 2) + np.sum((np.sqrt(s_a) - np.sqrt(s_b)) ** 2)
    fd = metrics.frechet_distance_from_stats(mu_a, np.diag(s_a), mu_b, np.diag(s_b))
    assert isinstance(fd, float)
    assert fd == pytest.approx(expected, rel=1e-9, abs=1e-9)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))  # the same, rotated: still commuting, no longer diagonal
    fd = metrics.frechet_distance_from_stats(q @ mu_a, q @ np.diag(s_a) @ q.T, q @ mu_b, q @ np.diag(s_b) @ q.T)
    # rotating puts rounding-level (d eps |S|^2) eigenvalues where S_a had zeros; their square roots are
    # sqrt(d eps) |S| each, in any method (tr sqrt is not Lipschitz at singular matrices)
    singular = 2 * d * np.sqrt(d * np.finfo(float).eps) * max(s_a.max(), s_b.max()) if (s_a == 0).any() else 0
    assert fd == pytest.approx(expected, rel=1e-10, abs=1e-10 + singular)


def test_frechet_from_stats_2x2_closed_form():
    rng = np.random.default_rng(1)
    for _ in range(20):
        mu_a, mu_b = rng.standard_normal(2), rng.standard_normal(2)
        cov_a, cov_b = _random_spd(rng, 2), _random_spd(rng, 2)
        expected = _fd_2x2(mu_a, cov_a, mu_b, cov_b)
        assert metrics.frechet_distance_from_stats(mu_a, cov_a, mu_b, cov_b) == pytest.approx(expected, rel=1e-10)
    # a hand-checked case: S_a = diag(1, 4), S_b = [[2, 1], [1, 2]]: tr sqrt(S_a S_b) = sqrt(10 + 2 sqrt 12)
    fd = metrics.frechet_distance_from_stats(np.zeros(2), np.diag([1.0, 4.0]), np.ones(2), np.array([[2.0, 1], [1, 2]]))
    assert fd == pytest.approx(2 + 5 + 4 - 2 * np.sqrt(10 + 2 * np.sqrt(12)), rel=1e-12)


def test_frechet_from_stats_against_torch():
    """General SPD (and low-rank PSD) covariances against an independent route: the eigenvalues of the
    non-symmetric product S_a S_b by torch.linalg.eigvals."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    for d, rank in [(3, None), (6, None), (10, None), (8, 3)]:
        mu_a, mu_b = rng.standard_normal(d), rng.standard_normal(d)
        cov_a, cov_b = _random_spd(rng, d), _random_spd(rng, d, rank)
        lam = torch.linalg.eigvals(torch.from_numpy(cov_a @ cov_b)).real.clamp(min=0).sqrt().sum().item()
        expected = np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * lam
        fd = metrics.frechet_distance_from_stats(mu_a, cov_a, mu_b, cov_b)
        # tr sqrt is not Lipschitz at singular matrices: rounding-level (1e-16) eigenvalues of a low-rank
        # covariance become 1e-8 after the square root, in any method, so the low-rank case gets abs=1e-6
        assert fd == pytest.approx(expected, rel=1e-12, abs=1e-6 if rank else 1e-11), (d, rank)


def test_frechet_distance_of_samples_approaches_the_gaussians():
    rng = np.random.default_rng(3)
    mu_a, mu_b = np.array([0.0, 1.0]), np.array([1.5, -0.5])
    cov_a, cov_b = np.array([[2.0, 0.6], [0.6, 1.0]]), np.array([[0.5, -0.2], [-0.2, 1.5]])
    expected = _fd_2x2(mu_a, cov_a, mu_b, cov_b)  # about 5.1
    a = rng.multivariate_normal(mu_a, cov_a, size=20000)
    b = rng.multivariate_normal(mu_b, cov_b, size=20000)
    assert metrics.frechet_distance(a, b) == pytest.approx(expected, rel=0.03)
    # float32 Tensors give the same number (statistics in float64 on the host)
    fd32 = metrics.frechet_distance(sn.tensor(a.astype(np.float32)), sn.tensor(b.astype(np.float32)))
    assert fd32 == pytest.approx(metrics.frechet_distance(a, b), rel=1e-5)


@given(seed=st.integers(0, 2**32 - 1), n_a=st.integers(2, 12), n_b=st.integers(2, 12), d=st.integers(1, 6))
def test_frechet_distance_properties(seed, n_a, n_b, d):
    """>= 0, symmetric, 0 for identical sets, unchanged by a common shift, scales as the square;
    also with fewer samples than dimensions (singular covariances)."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n_a, d)) * rng.uniform(0.1, 3.0, d)
    b = rng.standard_normal((n_b, d)) + rng.standard_normal(d)
    scale = 1.0 + np.trace(np.atleast_2d(np.cov(a, rowvar=False))) + np.trace(np.atleast_2d(np.cov(b, rowvar=False)))
    fd = metrics.frechet_distance(a, b)
    assert fd >= 0.0
    assert metrics.frechet_distance(b, a) == pytest.approx(fd, rel=1e-9, abs=1e-7 * scale)
    assert 0.0 <= metrics.frechet_distance(a, a) <= 1e-7 * scale
    assert 0.0 <= metrics.frechet_distance(a, a[rng.permutation(n_a)]) <= 1e-7 * scale
    shift = rng.standard_normal(d) * 10
    assert metrics.frechet_distance(a + shift, b + shift) == pytest.approx(fd, rel=1e-9, abs=1e-7 * scale)
    assert metrics.frechet_distance(3 * a, 3 * b) == pytest.approx(9 * fd, rel=1e-9, abs=1e-6 * scale)


def test_feature_statistics():
    x = np.random.default_rng(4).standard_normal((7, 3))
    mu, cov = metrics.feature_statistics(x)
    np.testing.assert_allclose(mu, x.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(cov, np.cov(x, rowvar=False), rtol=1e-14)
    np.testing.assert_allclose(cov, (x - mu).T @ (x - mu) / 6, rtol=1e-12)  # unbiased
    mu, cov = metrics.feature_statistics(sn.tensor(x[:, :1].astype(np.float32)))
    assert mu.shape == (1,) and cov.shape == (1, 1) and cov.dtype == np.float64


class _FakeCupyArray:
    """Looks like a CuPy array to _host: __cuda_array_interface__, .get(), and a .data that is a memory
    pointer rather than an array."""

    @property
    def __cuda_array_interface__(self):
        return {}

    def __init__(self, array):
        self._array, self.data = array, object()

    def get(self):
        return self._array.copy()


def test_frechet_distance_takes_device_arrays():
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((9, 3)), rng.standard_normal((8, 3))
    expected = metrics.frechet_distance(a, b)
    assert metrics.frechet_distance(_FakeCupyArray(a), _FakeCupyArray(b)) == expected
    assert metrics.frechet_distance(sn.tensor(a), b) == expected


@pytest.mark.gpu
def test_frechet_distance_and_classifier_score_on_cupy():
    a, b = np.random.default_rng(6).standard_normal((2, 50, 4))
    p = metrics.softmax_probabilities(a)
    assert metrics.frechet_distance(sn.tensor(a, device="cuda"), sn.tensor(b, device="cuda").data) == pytest.approx(
        metrics.frechet_distance(a, b), rel=1e-12
    )
    assert metrics.classifier_score(sn.tensor(p, device="cuda").data) == pytest.approx(metrics.classifier_score(p))


def test_frechet_distance_errors():
    x = np.zeros((5, 3))
    with pytest.raises(ValueError, match=r"got shapes \(5, 3\) and \(5, 4\)"):
        metrics.frechet_distance(x, np.zeros((5, 4)))
    with pytest.raises(ValueError, match=r"got shapes \(5,\) and \(5, 3\)"):
        metrics.frechet_distance(np.zeros(5), x)
    with pytest.raises(ValueError, match=r"got shapes \(5, 3\) and \(1, 3\)"):
        metrics.frechet_distance(x, np.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"got shapes \(2, 5, 3\) and \(5, 3\)"):
        metrics.frechet_distance(np.zeros((2, 5, 3)), x)
    with pytest.raises(ValueError, match="features_b contains NaN"):
        metrics.frechet_distance(x, np.full((5, 3), np.nan))
    with pytest.raises(ValueError, match=r"at least 2 samples, got shape \(1, 3\)"):
        metrics.feature_statistics(np.zeros((1, 3)))
    eye = np.eye(3)
    with pytest.raises(ValueError, match=r"mu_a \(3,\), cov_a \(3, 3\), mu_b \(2,\), cov_b \(3, 3\)"):
        metrics.frechet_distance_from_stats(np.zeros(3), eye, np.zeros(2), eye)
    with pytest.raises(ValueError, match=r"cov_a \(3,\)"):
        metrics.frechet_distance_from_stats(np.zeros(3), np.ones(3), np.zeros(3), eye)
    with pytest.raises(ValueError, match="cov_b is not positive semi-definite"):
        metrics.frechet_distance_from_stats(np.zeros(3), eye, np.zeros(3), np.diag([1.0, -1.0, 1.0]))


# ---------------------------------------------------------------------------------- classifier score


def test_classifier_score_extremes():
    c = 7
    one_hot = np.eye(c)[np.arange(5 * c) % c]  # confident and evenly spread: the maximum, C
    assert metrics.classifier_score(one_hot, eps=0) == pytest.approx(c, rel=1e-14)
    assert metrics.classifier_score(one_hot) == pytest.approx(c, rel=1e-9)
    assert metrics.classifier_score(np.full((10, c), 1 / c)) == pytest.approx(1.0, abs=1e-12)  # uniform rows
    assert metrics.classifier_score(np.eye(c)[np.full(10, 3)]) == pytest.approx(1.0, abs=1e-12)  # one class for all
    p = np.random.default_rng(7).dirichlet(np.ones(c))
    assert metrics.classifier_score(np.tile(p, (6, 1))) == pytest.approx(1.0, abs=1e-12)  # the same row everywhere
    assert metrics.classifier_score(np.array([[1.0]])) == 1.0  # C = 1
    assert isinstance(metrics.classifier_score(one_hot), float)


def test_classifier_score_value_and_inputs():
    p = np.array([[1.0, 0.0], [0.5, 0.5]])  # p(y) = (0.75, 0.25)
    kl = [np.log(1 / 0.75), 0.5 * np.log(0.5 / 0.75) + 0.5 * np.log(0.5 / 0.25)]
    assert metrics.classifier_score(p, eps=0) == pytest.approx(np.exp(np.mean(kl)), rel=1e-14)
    assert metrics.classifier_score(sn.tensor(p.astype(np.float32))) == pytest.approx(np.exp(np.mean(kl)), rel=1e-6)
    logits = np.random.default_rng(8).standard_normal((20, 5)) * 3
    p = metrics.softmax_probabilities(logits)
    assert metrics.classifier_score(p * (1 + 5e-4)) == pytest.approx(metrics.classifier_score(p), rel=1e-12)


@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 30),
    c=st.integers(1, 8),
    temperature=st.sampled_from([0.0, 0.1, 1.0, 10.0, 1000.0]),
    eps=st.sampled_from([0.0, 1e-12, 1e-3]),
)
def test_classifier_score_is_between_1_and_c(seed, n, c, temperature, eps):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((n, c)) * temperature
    logits[rng.random((n, c)) < 0.2] = -np.inf  # some exact zeros
    logits[np.arange(n), rng.integers(0, c, n)] = rng.standard_normal(n)  # at least one finite logit per row
    score = metrics.classifier_score(metrics.softmax_probabilities(logits), eps=eps)
    assert 1.0 <= score <= c


def test_classifier_score_errors():
    with pytest.raises(ValueError, match=r"row 1 sums to 0\.9"):
        metrics.classifier_score(np.array([[0.5, 0.5], [0.6, 0.3]]))
    with pytest.raises(ValueError, match="non-negative"):
        metrics.classifier_score(np.array([[1.5, -0.5]]))
    with pytest.raises(ValueError, match="non-negative"):
        metrics.classifier_score(np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match=r"shape \(N, C\), got shape \(3,\)"):
        metrics.classifier_score(np.array([0.2, 0.3, 0.5]))
    with pytest.raises(ValueError, match="eps"):
        metrics.classifier_score(np.eye(2), eps=-1.0)


def test_softmax_probabilities():
    logits = np.array([[1000.0, 0.0, -1000.0], [1.0, 2.0, 3.0], [-np.inf, 0.0, 0.0]])
    p = metrics.softmax_probabilities(sn.tensor(logits))
    assert p.dtype == np.float64 and np.all(np.isfinite(p))
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-15)
    np.testing.assert_allclose(p[0], [1.0, 0.0, 0.0])
    e = np.exp([1.0, 2.0, 3.0])
    np.testing.assert_allclose(p[1], e / e.sum(), rtol=1e-15)
    np.testing.assert_array_equal(p[2], [0.0, 0.5, 0.5])
    np.testing.assert_allclose(metrics.softmax_probabilities(logits[1:2] + 500.0), p[1:2], rtol=1e-14)
    for bad in (np.array([[np.nan, 1.0]]), np.array([[np.inf, 1.0]]), np.array([[-np.inf, -np.inf]])):
        with pytest.raises(ValueError, match="softmax_probabilities"):
            metrics.softmax_probabilities(bad)
