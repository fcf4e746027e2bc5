"""``deepling.nn.modules.module``: PyTorch's import path for Module."""

from deepling.nn.module import Module

__all__ = ["Module"]
