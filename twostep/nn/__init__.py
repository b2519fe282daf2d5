"""Torch building blocks and training loops (the Adam loop of every model, WGAN-GP)."""
