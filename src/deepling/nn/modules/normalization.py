"""``deepling.nn.modules.normalization``: PyTorch's import path for LocalResponseNorm, LayerNorm, GroupNorm, ..."""

from deepling.nn.normalization import GroupNorm, LayerNorm, LocalResponseNorm, RMSNorm

__all__ = ["LocalResponseNorm", "LayerNorm", "GroupNorm", "RMSNorm"]
