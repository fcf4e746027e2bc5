"""``deepling.nn.modules.flatten``: PyTorch's import path for Flatten, Unflatten."""

from deepling.nn.flatten import Flatten, Unflatten

__all__ = ["Flatten", "Unflatten"]
