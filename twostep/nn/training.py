"""The training loop every torch model of the library uses: Adam on a loss, seeded shuffling, a
guard against non-finite losses and parameters."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from twostep.core.guards import check_finite, check_module_finite
from twostep.core.profiling import phased
from twostep.core.runtime import get_device
from twostep.core.checks import check_int

_NON_FINITE_HINT = "Try a smaller learning rate, or check the data for NaN or infinite values."


class History(list):
    """The mean training loss of each epoch (a list); the training wall time up to the end of each
    epoch (``seconds``, validation excluded); with a validation set, the validation loss of each
    epoch (``validation``) and the epoch whose weights were kept (``best_epoch``, from 0; ``None``
    when the last weights are kept); ``stopped_early`` when patience or a stop rule ended training."""

    def __init__(self, values=()):
        super().__init__(values)
        self.validation: list[float] = []
        self.seconds: list[float] = []
        self.best_epoch: int | None = None
        self.stopped_early = False


def _tensors(data, device: torch.device) -> list[torch.Tensor]:
    tensors = []
    for array in data if isinstance(data, tuple) else (data,):
        array = np.asarray(array)
        dtype = torch.float32 if np.issubdtype(array.dtype, np.floating) else torch.long
        tensors.append(torch.as_tensor(array, dtype=dtype).to(device))
    if any(len(t) != len(tensors[0]) for t in tensors):
        raise ValueError("all arrays in data must have the same length")
    return tensors


@phased("training")
def train_model(
    model: nn.Module,
    loss_fn: Callable[..., torch.Tensor],
    data,
    *,
    epochs: int,
    validation=None,
    patience: int | None = None,
    restore_best: bool = True,
    stop: Callable[[History], bool] | None = None,
    batch_size: int | None = None,
    lr: float = 2e-4,
    betas: tuple[float, float] = (0.5, 0.999),
    lr_decay: tuple[int, float] | None = None,
    param_groups: list[dict] | None = None,
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
    epoch without gradients, with its own random numbers (seeded with ``seed`` at every epoch, so
    every epoch is scored on the same noise, and training draws exactly the numbers it would draw
    without validation); training stops when it has not improved for ``patience`` epochs (never,
    with ``patience=None``) and the weights of the best epoch are restored (early stopping) unless
    ``restore_best=False`` (a validation curve to watch, the last weights kept).

    ``stop(history)``, called after every epoch (the last included), ends training when it returns true (for example
    :class:`twostep.nn.convergence.UntilConverged`). ``lr_decay=(every, factor)`` multiplies the
    learning rate by ``factor`` every ``every`` epochs (VaDE's schedule: every 10 epochs by 0.9).
    ``param_groups`` (torch's optimiser groups, e.g. a joint model's prior at its own learning rate)
    replaces the model's trainable parameters at ``lr``.
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
    groups = param_groups if param_groups is not None else [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.Adam(groups, lr=lr, betas=betas)
    schedule = None
    if lr_decay is not None:
        every, factor = lr_decay
        schedule = torch.optim.lr_scheduler.StepLR(optimiser, check_int("lr_decay[0]", every, minimum=1), factor)
    history = History()
    elapsed = 0.0
    best_state, best_loss = None, float("inf")
    model.train()
    bar = tqdm(range(epochs), desc=desc, disable=not progress, mininterval=10.0)
    for epoch in bar:
        started = time.perf_counter()
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
        if schedule is not None:
            schedule.step()
        elapsed += time.perf_counter() - started
        history.append(total / n)
        history.seconds.append(elapsed)
        bar.set_postfix(loss=f"{history[-1]:.4g}", refresh=False)
        if held_out is not None:
            history.validation.append(mean_loss(model, loss_fn, held_out, batch_size=batch_size, seed=seed))
            model.train()
            if history.validation[-1] < best_loss:
                best_loss, history.best_epoch = history.validation[-1], epoch
                if restore_best:
                    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            elif patience is not None and epoch - history.best_epoch >= patience:
                history.stopped_early = True
                break
        if stop is not None and stop(history) and epoch + 1 < epochs:  # it sees the last epoch too
            history.stopped_early = True
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    else:
        history.best_epoch = None
    model.eval()
    return history


def mean_loss(model: nn.Module, loss_fn: Callable[..., torch.Tensor], data, *, batch_size: int = 1024,
              seed: int = 0) -> float:
    """The mean ``loss_fn`` over ``data`` (arrays as in :func:`train_model`, or tensors) without
    gradients, drawing its random numbers (a VAE's reparameterisation) from the global generator
    re-seeded with ``seed``, whose state is restored afterwards: a held-out objective."""
    tensors = data if isinstance(data, list) else _tensors(data, next(model.parameters()).device)
    model.eval()
    total, n = 0.0, len(tensors[0])
    devices = [tensors[0].device] if tensors[0].device.type == "cuda" else []
    with torch.no_grad(), torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        for start in range(0, n, batch_size):
            batch = [t[start : start + batch_size] for t in tensors]
            total += loss_fn(*batch).item() * len(batch[0])
    return total / n
