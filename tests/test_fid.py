import numpy as np
import pytest
import torch
from scipy.linalg import sqrtm

from twostep.data import load_mnist
from twostep.evaluation.fid import (
    ClassifierFeatures,
    SmallCNN,
    feature_statistics,
    fid_report,
    frechet_distance,
    train_classifier,
)


def test_frechet_distance_matches_the_closed_form():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((4, 4)), rng.standard_normal((4, 4))
    s1, s2 = a @ a.T + np.eye(4), b @ b.T + 0.5 * np.eye(4)
    m1, m2 = rng.standard_normal(4), rng.standard_normal(4)
    expected = np.sum((m1 - m2) ** 2) + np.trace(s1 + s2 - 2 * np.real(sqrtm(s1 @ s2)))
    assert frechet_distance((m1, s1), (m2, s2)) == pytest.approx(expected, rel=1e-6)
    # commuting (diagonal) covariances: sum of squared differences of standard deviations
    v1, v2 = np.array([1.0, 4.0]), np.array([9.0, 1.0])
    assert frechet_distance((np.zeros(2), np.diag(v1)), (np.ones(2), np.diag(v2))) == pytest.approx(2 + 4 + 1)


def test_frechet_distance_equals_pytorch_fids_on_real_features(shared_data):
    """The eigendecomposition gives pytorch-fid's calculate_frechet_distance (its sqrtm), on the
    book's kind of features: a small CNN's 128-d features of real MNIST digits against real digits,
    against disturbed digits, and against a few rows (a rank-deficient covariance), both ways round
    and with a reference whose square root was computed first."""
    from pytorch_fid.fid_score import calculate_frechet_distance

    x, y = load_mnist(train=True)
    xt, _ = load_mnist(train=False)
    torch.manual_seed(0)
    net = SmallCNN()
    train_classifier(net, x[:2000], y[:2000], (1, 28, 28), epochs=1, seed=0, progress=False)
    features = ClassifierFeatures(net, (1, 28, 28))
    real = feature_statistics(features(xt[:3000]))
    rng = np.random.default_rng(0)
    others = {"real": features(x[:3000]), "noisy": features(np.clip(x[:3000] + rng.normal(0, 0.3, x[:3000].shape), 0, 1)),
              "few rows": features(x[:60])}
    # Fewer rows than features: sqrtm (and a d x d eigendecomposition) add the square roots of the
    # rounding noise of the zero eigenvalues (69 of them, about 3e-7 each here); the n x n route has
    # none, so the two differ by 1.6e-6 relative (measured), ours the more exact.
    tolerance = {"real": 1e-6, "noisy": 1e-6, "few rows": 1e-5}
    for name, rows in others.items():
        stats = feature_statistics(rows)
        expected = calculate_frechet_distance(stats[0], stats[1], real[0], real[1])
        rel = tolerance[name]
        assert frechet_distance(stats, real) == pytest.approx(expected, rel=rel, abs=1e-6), name
        assert frechet_distance(real, stats) == pytest.approx(expected, rel=rel, abs=1e-6), name
        assert frechet_distance(tuple(stats), tuple(real)) == pytest.approx(expected, rel=rel, abs=1e-6), name
    assert hasattr(real, "_root")  # computed once, kept for the next distance
    # fewer rows than features on both sides (Inception's 2048-d features of a few hundred images):
    # the n x n route gives pytorch-fid's number without any d x d decomposition
    few, other = feature_statistics(features(xt[:50])), feature_statistics(features(x[100:190]))
    assert few.factor is not None and other.factor is not None and real.factor is None
    expected = calculate_frechet_distance(few[0], few[1], other[0], other[1])
    assert frechet_distance(few, other) == pytest.approx(expected, rel=1e-5, abs=1e-6)
    assert frechet_distance(other, few) == pytest.approx(expected, rel=1e-5, abs=1e-6)
    assert not hasattr(few, "_root") and not hasattr(other, "_root")


def test_fid_report_batches_and_full_sample():
    rng = np.random.default_rng(1)
    real = feature_statistics(rng.standard_normal((20000, 3)))
    same = fid_report(rng.standard_normal((5000, 3)), real, n_batches=5, batch_size=1000, features="toy")
    shifted = fid_report(rng.standard_normal((5000, 3)) + 1.0, real, n_batches=5, batch_size=1000, features="toy")
    assert len(same.batch_fids) == 5 and same.std > 0
    assert same.full < same.mean < 0.05  # more samples, less upward bias
    assert shifted.mean == pytest.approx(3.0, abs=0.1)
    with pytest.raises(ValueError, match="fewer than"):
        fid_report(rng.standard_normal((10, 3)), real, n_batches=5, batch_size=1000, features="toy")


def test_classifier_features_separate_real_digits_from_noise(shared_data):
    x, y = load_mnist(train=True)
    xt, yt = load_mnist(train=False)
    torch.manual_seed(0)
    net = SmallCNN()
    train_classifier(net, x[:3000], y[:3000], (1, 28, 28), epochs=4, seed=0, progress=False)
    features = ClassifierFeatures(net, (1, 28, 28))
    assert features.accuracy(xt[:1000], yt[:1000]) > 0.85
    real = feature_statistics(features(xt[:2000]))
    real_fid = frechet_distance(feature_statistics(features(x[-2000:])), real)
    noise = np.random.default_rng(0).random((2000, 784)).astype(np.float32)
    noise_fid = frechet_distance(feature_statistics(features(noise)), real)
    assert real_fid < 0.05 * noise_fid


def test_inception_joins_the_offline_features_only_when_asked_or_on_a_gpu_with_weights(monkeypatch):
    import twostep.evaluation.fid as fid

    offline = object()
    made = []
    monkeypatch.setattr(fid.InceptionFeatures, "__init__", lambda self, shape, device: made.append((shape, device)))
    monkeypatch.setattr(fid.InceptionFeatures, "available", staticmethod(lambda: True))
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert fid.feature_networks(offline, inception="never", image_shape=(1, 28, 28), device=cuda) == [offline]
    assert fid.feature_networks(offline, inception="auto", image_shape=(1, 28, 28), device=cpu) == [offline]
    nets = fid.feature_networks(offline, inception="auto", image_shape=(1, 28, 28), device=cuda)
    assert nets[0] is offline and isinstance(nets[1], fid.InceptionFeatures) and made == [((1, 28, 28), cuda)]
    monkeypatch.setattr(fid.InceptionFeatures, "available", staticmethod(lambda: False))
    assert len(fid.feature_networks(offline, inception="auto", image_shape=(3, 64, 64), device=cuda)) == 1
    assert len(fid.feature_networks(offline, inception="always", image_shape=(3, 64, 64), device=cpu)) == 2
    with pytest.raises(ValueError, match="inception='sometimes'"):
        fid.feature_networks(offline, inception="sometimes", image_shape=(1, 28, 28), device=cpu)
