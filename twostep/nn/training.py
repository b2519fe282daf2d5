"""The training loop every torch model of the library uses: Adam on a loss, seeded shuffling, a
guard against non-finite losses and parameters."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from twostep.core.guards import check_finite, check_module_finite
from twostep.core.runtime import get_device
from twostep.core.validation import check_int

_NON_FINITE_HINT = "Try a smaller learning rate, or check the data for NaN or infinite values."


def train_model(
    model: nn.Module,
    loss_fn: Callable[..., torch.Tensor],
    data,
    *,
    epochs: int,
    batch_size: int | None = None,
    lr: float = 2e-4,
    betas: tuple[float, float] = (0.5, 0.999),
    seed: int = 0,
    device: str | torch.device = "auto",
    progress: bool = True,
    desc: str = "training",
) -> list[float]:
    """Minimise ``loss_fn(*batch)`` with Adam; return the mean loss of each epoch.

    ``data`` is an array, or a tuple of arrays of equal length (e.g. images and labels) whose
    batches are passed to ``loss_fn`` as separate arguments. ``batch_size=None`` trains full batch,
    as the authors do on the grid data. Shuffling uses a generator seeded with ``seed``, so runs are
    reproducible.

    A non-finite loss stops training before the step that would spread it, and non-finite
    parameters at the end of an epoch stop it too: both raise :class:`~twostep.core.guards.NonFiniteError`
    naming ``desc``, the epoch and the batch.
    """
    epochs = check_int("epochs", epochs, minimum=0)
    if batch_size is not None:
        batch_size = check_int("batch_size", batch_size, minimum=1)
    device = get_device(device)
    model.to(device)
    arrays = data if isinstance(data, tuple) else (data,)
    tensors = []
    for array in arrays:
        array = np.asarray(array)
        dtype = torch.float32 if np.issubdtype(array.dtype, np.floating) else torch.long
        tensors.append(torch.as_tensor(array, dtype=dtype).to(device))
    n = len(tensors[0])
    if any(len(t) != n for t in tensors):
        raise ValueError("all arrays in data must have the same length")
    batch_size = n if batch_size is None else min(batch_size, n)
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # the reparameterisation noise
    optimiser = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr, betas=betas)
    history: list[float] = []
    model.train()
    bar = tqdm(range(epochs), desc=desc, disable=not progress, mininterval=10.0)
    for epoch in bar:
        order = torch.randperm(n, generator=generator).to(device) if batch_size < n else None
        total = 0.0
        for start in range(0, n, batch_size):
            if order is None:
                batch = tensors
            else:
                index = order[start : start + batch_size]
                batch = [t[index] for t in tensors]
            loss = loss_fn(*batch)
            value = loss.item()
            check_finite(desc, f"epoch {epoch + 1} of {epochs}, batch {start // batch_size + 1}", {"loss": value},
                         hint=_NON_FINITE_HINT)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            total += value * len(batch[0])
        check_module_finite(desc, f"the end of epoch {epoch + 1} of {epochs}", model, hint=_NON_FINITE_HINT)
        history.append(total / n)
        bar.set_postfix(loss=f"{history[-1]:.4g}", refresh=False)
    model.eval()
    return history
