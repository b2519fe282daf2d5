"""Training of every joint model: the model's own ``loss`` (its negative ELBO, as the authors
weight it) minimised by the library's Adam loop."""

from __future__ import annotations

from torch import nn

from twostep.nn.training import train_model


def train_joint(model: nn.Module, data, *, epochs: int, lr: float = 1e-4, prior_lr: float | None = None,
                **kwargs) -> list[float]:
    """Train a joint model (:class:`~twostep.joint.GMMVAE` on images, :class:`~twostep.joint.JointHMMVAE`
    on chunks of frames) on its ``loss`` with Adam (betas (0.5, 0.999); the authors' lr 1e-4); the
    prior's parameters at ``prior_lr`` when given (else at ``lr``, as the authors train them);
    keyword arguments go to :func:`twostep.nn.training.train_model`. Returns the
    :class:`~twostep.nn.training.History` (the mean loss of each epoch, a list)."""
    kwargs.setdefault("desc", "joint training")
    if prior_lr is not None:
        prior = list(model.prior_parameters())
        ids = {id(p) for p in prior}
        network = [p for p in model.parameters() if p.requires_grad and id(p) not in ids]
        kwargs["param_groups"] = [{"params": network, "lr": lr}, {"params": prior, "lr": prior_lr}]
    return train_model(model, model.loss, data, epochs=epochs, lr=lr, **kwargs)
