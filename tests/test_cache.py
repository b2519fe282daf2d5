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
    assert torch.equal(m1.weight, m2.weight) and info2["info"] == {"epochs": 3}
    assert json.loads((entry_path("lin", {"a": 1}, tmp_path) / "config.json").read_text()) == {"a": 1}
    # another configuration is another entry
    load_or_train("lin", {"a": 2}, build, train, root=tmp_path)
    assert len(calls) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
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
