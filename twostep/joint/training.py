"""Training of every joint model: the model's own ``loss`` (its negative ELBO, as the authors
weight it) minimised by the library's Adam loop."""

from __future__ import annotations

from torch import nn

from twostep.nn.training import train_model


def train_joint(model: nn.Module, data, *, epochs: int, lr: float = 1e-4, **kwargs) -> list[float]:
    """Train a joint model (:class:`~twostep.joint.GMMVAE` on images, :class:`~twostep.joint.JointHMMVAE`
    on chunks of frames) on its ``loss`` with Adam (betas (0.5, 0.999); the authors' lr 1e-4); keyword
    arguments go to :func:`twostep.nn.training.train_model`. Returns the mean loss of each epoch."""
    kwargs.setdefault("desc", "joint training")
    return train_model(model, model.loss, data, epochs=epochs, lr=lr, **kwargs)
