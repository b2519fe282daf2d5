"""One run of a joint baseline, as every chapter makes it: seed, build, train, time."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from twostep.core.runtime import seed_everything
from twostep.joint.training import train_joint


@dataclass
class JointRun:
    """A trained joint model, its training curve (mean loss per epoch) and its training time."""

    model: nn.Module
    history: list[float]
    seconds: float


def run_joint(build: Callable[[], nn.Module], data, *, seed: int, epochs: int, lr: float, batch_size: int | None,
              device: str | torch.device, desc: str) -> JointRun:
    """Seed everything with ``seed``, ``build()`` the joint model (a fresh network draws its weights
    here), and train it with :func:`~twostep.joint.train_joint` (shuffling and sampling seeded with
    ``seed``), timing the training."""
    seed_everything(seed)
    model = build()
    start = time.perf_counter()
    history = train_joint(model, data, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, device=device,
                          desc=desc)
    return JointRun(model, history, time.perf_counter() - start)
