import shutil

import numpy as np
import pytest

from twostep import data as tsdata
from twostep.data import (
    ChecksumError,
    DatasetMissingError,
    dataset_path,
    make_grid_gaussians,
)
from twostep.data.registry import fetch_files, read_sha256sums, registry, verify_sha256sums


def test_data_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("TWOSTEP_DATA", str(tmp_path))
    assert tsdata.data_dir() == tmp_path.resolve()
    monkeypatch.delenv("TWOSTEP_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert tsdata.data_dir() == (tmp_path / "cache" / "twostep" / "data").resolve()


def test_missing_dataset_says_where_and_how(monkeypatch, tmp_path):
    monkeypatch.setenv("TWOSTEP_DATA", str(tmp_path))
    monkeypatch.setenv("TWOSTEP_OFFLINE", "1")
    with pytest.raises(DatasetMissingError) as err:
        dataset_path("clarinet")
    msg = str(err.value)
    assert str(tmp_path / "clarinet") in msg
    assert "TWOSTEP_DATA" in msg
    assert "ycemsubakan/TwoStepLearning" in msg


def test_unknown_dataset_is_a_key_error():
    with pytest.raises(KeyError, match="known"):
        dataset_path("imagenet")


def test_offline_mnist_copy_verifies(shared_data):
    folder = dataset_path("mnist")
    assert folder == shared_data.resolve() / "MNIST" / "raw"
    assert "train-images-idx3-ubyte.gz" in verify_sha256sums(folder)


def test_corrupt_file_is_detected(shared_data, tmp_path, monkeypatch):
    src = shared_data / "MNIST" / "raw"
    dst = tmp_path / "MNIST" / "raw"
    dst.mkdir(parents=True)
    shutil.copy(src / "SHA256SUMS", dst)
    shutil.copy(src / "t10k-labels-idx1-ubyte.gz", dst)
    monkeypatch.setenv("TWOSTEP_DATA", str(tmp_path))
    assert dataset_path("mnist", files=["t10k-labels-idx1-ubyte.gz"]) == dst.resolve()
    with open(dst / "t10k-labels-idx1-ubyte.gz", "r+b") as fh:
        fh.seek(100)
        fh.write(b"\x00\x01\x02")
    with pytest.raises(ChecksumError, match="corrupt"):
        dataset_path("mnist", files=["t10k-labels-idx1-ubyte.gz"])
    monkeypatch.setenv("TWOSTEP_OFFLINE", "1")
    with pytest.raises(DatasetMissingError, match=r"Missing: 1 file\(s\) \(train-images-idx3-ubyte.gz\)"):
        dataset_path("mnist", files=["train-images-idx3-ubyte.gz"])


def test_grid_data_matches_the_authors_settings():
    d = make_grid_gaussians(seed=1)
    assert d.train.shape == (1600, 2) and d.val.shape == (320, 2) and d.test.shape == (320, 2)
    assert sorted(map(tuple, d.means)) == [(a, b) for a in (0, 2, 4, 6) for b in (0, 2, 4, 6)]
    for k, mean in enumerate(d.means):
        pts = d.train[d.train_labels == k]
        assert len(pts) == 100
        np.testing.assert_allclose(pts.mean(0), mean, atol=0.05)
        np.testing.assert_allclose(pts.std(0), 0.1, rtol=0.25)
    np.testing.assert_array_equal(make_grid_gaussians(seed=1).train, d.train)
    assert not np.array_equal(make_grid_gaussians(seed=2).train, d.train)


def test_grid_true_log_prob_matches_scipy():
    from scipy.stats import multivariate_normal

    d = make_grid_gaussians(5, 2, 2, seed=0)
    x = d.test[:7].astype(np.float64)
    dens = np.mean([multivariate_normal(m, d.std**2 * np.eye(2)).pdf(x) for m in d.means], axis=0)
    np.testing.assert_allclose(d.log_prob(x), np.log(dens), rtol=1e-10)


def test_mnist_loads_through_torchvision_without_writing_to_the_data_dir(shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("TWOSTEP_CACHE", str(tmp_path / "cache"))
    before = sorted(p.name for p in (shared_data / "MNIST" / "raw").iterdir())
    x, y = tsdata.load_mnist(train=False)
    assert x.shape == (10000, 784) and x.dtype == np.float32 and 0 <= x.min() and x.max() == 1.0
    assert y.shape == (10000,) and sorted(np.unique(y)) == list(range(10))
    assert sorted(p.name for p in (shared_data / "MNIST" / "raw").iterdir()) == before


def test_mnist_missing_offline_says_where_and_how(tmp_path, monkeypatch):
    monkeypatch.setenv("TWOSTEP_DATA", str(tmp_path))
    monkeypatch.setenv("TWOSTEP_OFFLINE", "1")
    with pytest.raises(DatasetMissingError) as err:
        tsdata.load_mnist()
    assert str(tmp_path / "MNIST" / "raw") in str(err.value) and "registry.txt" in str(err.value)


def test_registry_holds_the_hash_of_every_file_of_the_offline_copies(shared_data):
    entries = registry()
    for folder in ("MNIST/raw", "clarinet", "allen_atlas"):
        sums = read_sha256sums(shared_data / folder)
        mine = {rel.removeprefix(folder + "/"): h for rel, (h, _) in entries.items() if rel.startswith(folder + "/")}
        assert mine == {f: f"sha256:{h}" for f, h in sums.items()}, folder
    assert all(url and url.startswith("https://") for rel, (_, url) in entries.items() if not rel.startswith("allen"))


def test_present_files_are_only_hashed_never_downloaded(shared_data, monkeypatch):
    import pooch

    def no_network(*args, **kwargs):
        raise AssertionError("a present file must not be downloaded")

    monkeypatch.setattr(pooch.core, "stream_download", no_network)
    assert dataset_path("clarinet") == shared_data.resolve() / "clarinet"
    assert dataset_path("allen_atlas", files=["plate_001.jpg"]) == shared_data.resolve() / "allen_atlas"


@pytest.fixture
def local_server(tmp_path):
    """An HTTP server on 127.0.0.1 serving tmp_path/served (stands in for a canonical URL)."""
    import functools
    import http.server
    import threading

    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_missing_file_is_downloaded_checked_and_a_bad_download_refused(local_server, tmp_path, monkeypatch):
    import hashlib

    served, url = local_server
    (served / "source2_0.wav").write_bytes(b"RIFF fake audio")
    digest = "sha256:" + hashlib.sha256(b"RIFF fake audio").hexdigest()
    root = tmp_path / "data"
    monkeypatch.delenv("TWOSTEP_OFFLINE", raising=False)
    fetch_files(root, {"clarinet/source2_0.wav": (digest, f"{url}/source2_0.wav")}, "clarinet")
    assert (root / "clarinet" / "source2_0.wav").read_bytes() == b"RIFF fake audio"
    fetch_files(root, {"clarinet/source2_0.wav": (digest, f"{url}/source2_0.wav")}, "clarinet")  # present: kept
    (served / "source2_1.wav").write_bytes(b"tampered")
    with pytest.raises(ChecksumError, match="does not match"):
        fetch_files(root, {"clarinet/source2_1.wav": (digest, f"{url}/source2_1.wav")}, "clarinet")
    assert not (root / "clarinet" / "source2_1.wav").exists(), "a download that fails its check is not kept"
    with pytest.raises(DatasetMissingError, match="Download failed"):
        fetch_files(root, {"clarinet/source2_2.wav": (digest, f"{url}/nothing-here.wav")}, "clarinet")
    monkeypatch.setenv("TWOSTEP_OFFLINE", "1")
    with pytest.raises(DatasetMissingError, match="Missing: 1 file"):
        fetch_files(root, {"clarinet/source2_3.wav": (digest, f"{url}/source2_0.wav")}, "clarinet")
