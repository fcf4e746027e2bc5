"""``deepling.nn.modules.container``: PyTorch's import path for Sequential, ModuleList, ModuleDict."""

from deepling.nn.container import ModuleDict, ModuleList, Sequential

__all__ = ["Sequential", "ModuleList", "ModuleDict"]
