"""Image data, the PCA autoencoder, the conv VAE and the image metrics."""

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.ndimage import gaussian_filter

from twostep.autoencoders import ConvVAE, PCAAutoencoder
from twostep.core import ParameterError
from twostep.data import brain_preprocess, load_aligned_images, load_allen_atlas
from twostep.data.images import pad_to_aspect
from twostep.evaluation.samples import (
    high_frequency_energy,
    laplacian_variance,
    nearest_neighbour_rms,
    nearest_neighbours,
)
from twostep.nn.training import train_model
from twostep.pipeline import TwoStepModel
from twostep.priors import GMMPrior


def test_pad_to_aspect_centres_the_image():
    im = np.ones((4, 6))
    out = pad_to_aspect(im, 3.0)
    assert out.shape == (4, 12) and out[:, 3:9].all() and not out[:, :3].any() and not out[:, 9:].any()
    tall = pad_to_aspect(np.ones((10, 2)), 1.0)
    assert tall.shape == (10, 10) and tall[:, 4:6].all()


def test_load_aligned_images_pads_resizes_and_scales(tmp_path):
    Image.fromarray(np.full((40, 20), 255, np.uint8)).save(tmp_path / "a.png")  # tall
    Image.fromarray(np.full((20, 60), 128, np.uint8)).save(tmp_path / "b.png")  # wide
    out = load_aligned_images(tmp_path, (30, 20), "*.png")
    assert out.shape == (2, 20, 30) and out.dtype == np.float32
    assert out[0, 10, 15] == pytest.approx(1.0, abs=0.02) and out[0, 10, 1] == pytest.approx(0.0, abs=0.02)
    assert out[1, 10, 15] == pytest.approx(128 / 255, abs=0.02)


def test_brain_preprocess_follows_the_authors_steps():
    x = np.random.default_rng(0).random((3, 5, 7)).astype(np.float32) * np.array([1.0, 0.5, 0.25])[:, None, None]
    y = brain_preprocess(x)
    np.testing.assert_allclose(y.reshape(3, -1).max(1), 1.0, atol=1e-6)
    expected = 2 * np.sqrt(x[1]) / np.sqrt(x[1]).max() - 1
    np.testing.assert_allclose(y[1], expected, atol=1e-6)
    assert y.min() >= -1.0


def test_allen_atlas_loads_all_plates(shared_data):
    plates = load_allen_atlas((57, 40))
    assert plates.shape == (132, 40, 57) and 0.0 <= plates.min() and plates.max() <= 1.0
    assert plates.mean() > 0.02


def test_pca_autoencoder_matches_the_eigendecomposition():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 3, 4)) @ np.diag([3.0, 1.0, 0.5, 0.1]) + 2.0
    ae = PCAAutoencoder(5).fit(x)
    codes = ae.encode(x)
    np.testing.assert_allclose(codes.var(0, ddof=1), 1.0, rtol=1e-6)  # whitened
    flat = x.reshape(50, -1)
    eig = np.sort(np.linalg.eigvalsh(np.cov(flat.T)))[::-1]
    err = ((ae.decode(codes).reshape(50, -1) - flat) ** 2).sum(1).mean()
    assert err == pytest.approx(eig[5:].sum() * 49 / 50, rel=1e-4)  # discarded variance
    full = PCAAutoencoder(12).fit(x)
    np.testing.assert_allclose(full.decode(full.encode(x)), x, atol=1e-4)
    with pytest.raises(ParameterError, match="n_components=60 is not allowed: PCA on 50 images"):
        PCAAutoencoder(60).fit(x)


def test_pca_plugs_into_the_two_step_pipeline():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(m, 0.1, (40, 6, 6)) for m in (-1.0, 1.0)])
    model = TwoStepModel(PCAAutoencoder(3), GMMPrior(2, "full", random_state=0)).fit(x)
    s = model.sample(20, seed=0)
    assert s.shape == (20, 6, 6)
    assert np.all(np.abs(np.abs(s.mean((1, 2))) - 1.0) < 0.2)  # each sample near one of the two modes


@pytest.mark.parametrize("shape", [(3, 64, 64), (1, 40, 57)])
def test_conv_vae_shapes_for_any_size(shape):
    vae = ConvVAE(shape, 8, width=4, depth=3)
    x = torch.rand(2, *shape) * 2 - 1
    x_hat, mu, logvar = vae(x)
    assert x_hat.shape == (2, *shape) and mu.shape == (2, 8)
    assert vae.decode(vae.encode(x.numpy())).shape == (2, *shape)


def test_conv_vae_learns_and_is_deterministic():
    rng = np.random.default_rng(0)
    prototypes = np.tanh(3 * rng.standard_normal((4, 1, 16, 16)))
    x = (np.repeat(prototypes, 8, axis=0) + 0.05 * rng.standard_normal((32, 1, 16, 16))).astype(np.float32)

    def run():
        torch.manual_seed(0)
        vae = ConvVAE((1, 16, 16), 4, width=8, depth=2)
        return train_model(vae, vae.loss, x, epochs=30, batch_size=16, lr=2e-3, progress=False)

    a, b = run(), run()
    assert a == b and a[-1] < 0.6 * a[0]


def test_sharpness_measures_rank_blurred_images_lower():
    rng = np.random.default_rng(0)
    sharp = rng.random((3, 32, 32))
    blurred = np.stack([gaussian_filter(im, 2.0) for im in sharp])
    assert np.all(laplacian_variance(blurred) < 0.1 * laplacian_variance(sharp))
    assert np.all(high_frequency_energy(blurred) < 0.3 * high_frequency_energy(sharp))  # FFT edges add some
    checker = np.indices((32, 32)).sum(0) % 2
    smooth = np.tile(np.cos(2 * np.pi * np.arange(32) / 32), (32, 1))  # periodic: no FFT edge
    hf = high_frequency_energy(np.stack([checker, smooth]).astype(float))
    assert hf[0] == pytest.approx(1.0) and hf[1] < 0.05
    # absolute power: Parseval, a checkerboard of +-0.5 has all its power (0.25 per pixel) at high frequency
    assert high_frequency_energy(checker[None].astype(float), fraction=False)[0] == pytest.approx(0.25)
    faint = 0.01 * checker[None].astype(float)
    assert high_frequency_energy(faint)[0] == pytest.approx(1.0)
    assert high_frequency_energy(faint, fraction=False)[0] == pytest.approx(0.25e-4)


def test_nearest_neighbour_rms_matches_brute_force():
    rng = np.random.default_rng(0)
    a, b = rng.random((4, 3, 3)), rng.random((6, 3, 3))
    brute = [min(np.sqrt(((x - y) ** 2).mean()) for y in b) for x in a]
    np.testing.assert_allclose(nearest_neighbour_rms(a, b), brute, rtol=1e-6)
    loo = nearest_neighbour_rms(b, b, exclude_self=True)
    assert np.all(loo > 0)


def test_nearest_neighbours_gives_the_brute_force_nearest_image_and_its_distance():
    rng = np.random.default_rng(3)
    a, b = rng.random((7, 5, 4)), rng.random((11, 5, 4))
    d2 = ((a.reshape(7, 1, -1) - b.reshape(1, 11, -1)) ** 2).mean(-1)
    rms, index = nearest_neighbours(a, b)
    np.testing.assert_array_equal(index, d2.argmin(1))
    np.testing.assert_allclose(rms, np.sqrt(d2.min(1)), rtol=1e-6)
    _, own = nearest_neighbours(b, b, exclude_self=True)
    assert not np.any(own == np.arange(11)), "an image is never its own nearest neighbour"


def test_celeba_is_decoded_once_then_served_from_a_checked_cache(shared_data, tmp_path, monkeypatch):
    import warnings

    from twostep.data.images import load_celeba

    monkeypatch.setenv("TWOSTEP_CACHE", str(tmp_path))
    direct, _ = load_celeba(40, 16, use_cache=False)
    first, note1 = load_celeba(40, 16)
    second, note2 = load_celeba(40, 16)
    assert direct.shape == (40, 3, 16, 16) and direct.min() >= -1 and direct.max() <= 1
    assert np.array_equal(direct, first) and np.array_equal(first, second)
    assert "from the cache" not in note1 and "from the cache" in note2
    (cached,) = (tmp_path / "arrays").glob("celeba-40-16px-*.npy")
    cached.write_bytes(cached.read_bytes()[:-8] + b"\0" * 8)  # corrupt it: decoded again, with a warning
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        third, note3 = load_celeba(40, 16)
    assert any("does not match its checksum" in str(w.message) for w in caught)
    assert np.array_equal(third, direct) and "from the cache" not in note3
    assert load_celeba(41, 16)[0].shape[0] == 41  # another count is another entry


def test_laplacian_variance_matches_a_direct_four_neighbour_laplacian():
    # independent reference: the 4-neighbour stencil on the image padded by mirroring its edge pixels
    images = np.random.default_rng(0).random((3, 12, 9))
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1)), mode="symmetric")
    lap = (padded[:, :-2, 1:-1] + padded[:, 2:, 1:-1] + padded[:, 1:-1, :-2] + padded[:, 1:-1, 2:]
           - 4 * padded[:, 1:-1, 1:-1])
    np.testing.assert_allclose(laplacian_variance(images), lap.reshape(3, -1).var(1), rtol=1e-10)
    # a known answer: on a +-1 checkerboard every interior pixel's Laplacian is -8 times itself
    board = np.indices((32, 32)).sum(0) % 2 * 2.0 - 1.0
    padded = np.pad(board, 1, mode="symmetric")
    lap = padded[:-2, 1:-1] + padded[2:, 1:-1] + padded[1:-1, :-2] + padded[1:-1, 2:] - 4 * board
    np.testing.assert_array_equal(lap[1:-1, 1:-1], -8 * board[1:-1, 1:-1])  # variance 64 inside
    assert laplacian_variance(board[None])[0] == pytest.approx(lap.var())
    assert 60 < laplacian_variance(board[None])[0] < 64  # the mirrored border lowers it a little
