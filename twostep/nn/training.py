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


class History(list):
    """The mean training loss of each epoch (a list), and with a validation set, the validation
    loss of each epoch (``validation``) and the epoch whose weights were kept (``best_epoch``, from 0)."""

    def __init__(self, values=()):
        super().__init__(values)
        self.validation: list[float] = []
        self.best_epoch: int | None = None


def _tensors(data, device: torch.device) -> list[torch.Tensor]:
    tensors = []
    for array in data if isinstance(data, tuple) else (data,):
        array = np.asarray(array)
        dtype = torch.float32 if np.issubdtype(array.dtype, np.floating) else torch.long
        tensors.append(torch.as_tensor(array, dtype=dtype).to(device))
    if any(len(t) != len(tensors[0]) for t in tensors):
        raise ValueError("all arrays in data must have the same length")
    return tensors


def train_model(
    model: nn.Module,
    loss_fn: Callable[..., torch.Tensor],
    data,
    *,
    epochs: int,
    validation=None,
    patience: int | None = None,
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

    With ``validation`` (arrays like ``data``), the mean ``loss_fn`` on it is computed after every
    epoch without gradients; training stops when it has not improved for ``patience`` epochs (never,
    with ``patience=None``) and the weights of the best epoch are restored (early stopping).
    """
    epochs = check_int("epochs", epochs, minimum=0)
    if batch_size is not None:
        batch_size = check_int("batch_size", batch_size, minimum=1)
    device = get_device(device)
    model.to(device)
    tensors = _tensors(data, device)
    held_out = None if validation is None else _tensors(validation, device)
    if patience is not None:
        patience = check_int("patience", patience, minimum=1)
    n = len(tensors[0])
    batch_size = n if batch_size is None else min(batch_size, n)
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # the reparameterisation noise
    optimiser = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr, betas=betas)
    history = History()
    best_state, best_loss = None, float("inf")
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
        if held_out is not None:
            history.validation.append(_mean_loss(model, loss_fn, held_out, batch_size))
            model.train()
            if history.validation[-1] < best_loss:
                best_loss, history.best_epoch = history.validation[-1], epoch
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            elif patience is not None and epoch - history.best_epoch >= patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return history


def _mean_loss(model: nn.Module, loss_fn: Callable[..., torch.Tensor], tensors: list[torch.Tensor],
               batch_size: int) -> float:
    model.eval()
    total, n = 0.0, len(tensors[0])
    with torch.no_grad():
        for start in range(0, n, batch_size):
            batch = [t[start : start + batch_size] for t in tensors]
            total += loss_fn(*batch).item() * len(batch[0])
    return total / n
