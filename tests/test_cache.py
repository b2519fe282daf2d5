import json
import warnings

import pytest
import torch
from torch import nn

from twostep.experiments.cache import config_key, entry_path, load_or_train


def make_trainer(calls):
    def build():
        return nn.Linear(3, 2)

    def train(model):
        calls.append(1)
        with torch.no_grad():
            model.weight.fill_(len(calls))
        return {"epochs": 3}

    return build, train


def test_second_call_loads_instead_of_training(tmp_path):
    calls = []
    build, train = make_trainer(calls)
    m1, info1 = load_or_train("lin", {"a": 1}, build, train, root=tmp_path)
    m2, info2 = load_or_train("lin", {"a": 1}, build, train, root=tmp_path)
    assert calls == [1] and not info1["cached"] and info2["cached"]
    assert torch.equal(m1.weight, m2.weight) and info2["info"]["epochs"] == 3
    # the training time is kept with the entry, so a later chapter that loads it can report it
    assert info2["info"]["seconds"] == info1["info"]["seconds"] >= 0
    assert json.loads((entry_path("lin", {"a": 1}, tmp_path) / "config.json").read_text()) == {"a": 1}
    # another configuration is another entry
    load_or_train("lin", {"a": 2}, build, train, root=tmp_path)
    assert len(calls) == 2
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != ".locks") == sorted(
        [f"lin-{config_key({'a': 1})}", f"lin-{config_key({'a': 2})}"]
    ), "no temporary folders are left behind"


def test_key_ignores_order_but_not_values():
    assert config_key({"a": 1, "b": 2}) == config_key({"b": 2, "a": 1})
    assert config_key({"a": 1}) != config_key({"a": 1.5})


@pytest.mark.parametrize("damage", ["flip_bytes", "drop_manifest", "drop_weights"])
def test_corrupt_or_partial_entries_are_rebuilt(tmp_path, damage):
    calls = []
    build, train = make_trainer(calls)
    load_or_train("lin", {"a": 1}, build, train, root=tmp_path)
    path = entry_path("lin", {"a": 1}, tmp_path)
    if damage == "flip_bytes":
        data = bytearray((path / "weights.pt").read_bytes())
        data[-20] ^= 0xFF
        (path / "weights.pt").write_bytes(bytes(data))
    elif damage == "drop_manifest":
        (path / "manifest.json").unlink()
    else:
        (path / "weights.pt").unlink()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model, info = load_or_train("lin", {"a": 1}, build, train, root=tmp_path)
    assert any("cache entry rebuilt" in str(w.message) for w in caught)
    assert len(calls) == 2 and not info["cached"]
    assert torch.all(model.weight == 2)
    _, again = load_or_train("lin", {"a": 1}, build, train, root=tmp_path)
    assert again["cached"] and len(calls) == 2


LOCKED_TRAINER = """
import sys, time, torch
from pathlib import Path
from torch import nn
from twostep.experiments.cache import load_or_train

root, log = Path(sys.argv[1]), Path(sys.argv[2])

def train(model):
    with log.open("a") as f:
        f.write("train\\n")
    time.sleep(1.5)  # long enough for the other process to ask for the same entry meanwhile
    with torch.no_grad():
        model.weight.fill_(7.0)

model, info = load_or_train("shared", {"seed": 0}, lambda: nn.Linear(3, 2), train, root=root)
print(float(model.weight.detach().sum()), info["cached"])
"""


def test_two_processes_needing_one_entry_train_it_once(tmp_path):
    """Two chapters of one seed in a sweep ask for the same model at once: one trains, the other
    waits on the entry's lock and loads what the first wrote (never a half-written entry)."""
    import subprocess
    import sys

    script = tmp_path / "trainer.py"
    script.write_text(LOCKED_TRAINER)
    log = tmp_path / "log.txt"
    procs = [subprocess.Popen([sys.executable, str(script), str(tmp_path / "cache"), str(log)], stdout=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=120)[0].splitlines() for p in procs]
    waited = [o for o in outputs if any("waiting for it" in line for line in o)]
    outputs = [o[-1].split() for o in outputs]
    assert all(p.returncode == 0 for p in procs)
    assert log.read_text().count("train") == 1
    assert sorted(o[-1] for o in outputs) == ["False", "True"]  # one trained, one loaded
    assert {o[0] for o in outputs} == {str(7.0 * 6)}
    assert len(waited) == 1  # the loader said it waited


def test_a_prior_is_cached_by_its_state_dict_and_loads_as_it_was_fitted(tmp_path, monkeypatch):
    """The GAN chapter's WGAN-GP prior through the cache: the second call loads it (no training) and
    draws exactly what the fitted one draws; its training history comes back with it."""
    import numpy as np

    from twostep.experiments.mnist import mnist_wgan_prior

    monkeypatch.setenv("TWOSTEP_CACHE", str(tmp_path))
    codes = np.random.default_rng(0).standard_normal((200, 3))
    from twostep.experiments.configs import WGANPriorConfig

    gan = WGANPriorConfig(hidden=16, iterations=10, batch_size=32, n_critic=2, gp_weight=10.0, lr=1e-3, seed=3)
    fitted, first = mnist_wgan_prior(codes, {"config": {"vae": "v"}}, gan, progress=False)
    loaded, again = mnist_wgan_prior(codes, {"config": {"vae": "v"}}, gan, progress=False)
    assert not first["cached"] and again["cached"]
    np.testing.assert_array_equal(loaded.sample(20, seed=1), fitted.sample(20, seed=1))
    assert loaded.history_ == fitted.history_ and len(loaded.history_["wasserstein"]) == 10
    # the same as a prior fitted without the cache
    from twostep.priors import WGANGPPrior

    plain = WGANGPPrior(hidden=16, iterations=10, batch_size=32, n_critic=2, gp_weight=10.0, lr=1e-3, random_state=3,
                        progress=False).fit(codes)
    np.testing.assert_array_equal(plain.sample(20, seed=1), fitted.sample(20, seed=1))
