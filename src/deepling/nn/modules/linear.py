"""``deepling.nn.modules.linear``: PyTorch's import path for Identity, Linear."""

from deepling.nn.linear import Identity, Linear

__all__ = ["Identity", "Linear"]
