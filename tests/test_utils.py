import json

import numpy as np
import pytest
import torch

from twostep.core import (
    ParameterError,
    atomic_write_bytes,
    check_choice,
    check_float,
    check_int,
    check_int_list,
    seed_everything,
    write_metrics,
)


def test_check_int_names_value_and_rule():
    assert check_int("epochs", 3, minimum=0) == 3
    with pytest.raises(ParameterError, match=r"epochs=-1 is not allowed: it must be an integer >= 0"):
        check_int("epochs", -1, minimum=0)
    with pytest.raises(ParameterError, match="must be an integer"):
        check_int("epochs", 2.5)
    with pytest.raises(ParameterError, match="must be an integer"):
        check_int("epochs", True)


def test_check_float_and_choice_and_list():
    assert check_float("beta", 1) == 1.0
    with pytest.raises(ParameterError, match=r"beta=0.0 is not allowed: it must be > 0"):
        check_float("beta", 0.0, minimum=0.0, strict_minimum=True)
    with pytest.raises(ParameterError, match="finite"):
        check_float("beta", float("nan"))
    with pytest.raises(ParameterError, match=r"covariance_type='bogus' is not allowed: it must be one of 'diag', 'full'"):
        check_choice("covariance_type", "bogus", ["diag", "full"])
    assert check_int_list("ks", [1, 10], minimum=1) == [1, 10]
    with pytest.raises(ParameterError, match=r"ks\[1\]=0"):
        check_int_list("ks", [1, 0], minimum=1)


def test_seed_everything_makes_torch_and_numpy_repeatable():
    seed_everything(5)
    a = torch.randn(3), np.random.rand(3)
    seed_everything(5)
    b = torch.randn(3), np.random.rand(3)
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_write_metrics_is_flat_and_numeric(tmp_path):
    path = write_metrics(tmp_path / "m.json", {"a.b": 1, "c": np.float32(0.5), "d": np.int64(3), "e": True})
    assert json.loads(path.read_text()) == {"a.b": 1, "c": 0.5, "d": 3, "e": 1}
    with pytest.raises(TypeError, match="must be a number"):
        write_metrics(tmp_path / "m.json", {"nested": {"x": 1}})


def test_atomic_write_leaves_no_temporary_files(tmp_path):
    atomic_write_bytes(tmp_path / "sub" / "f.bin", b"abc")
    assert (tmp_path / "sub" / "f.bin").read_bytes() == b"abc"
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["f.bin"]
