"""``deepling.nn.modules.instancenorm``: PyTorch's import path for InstanceNorm1d, InstanceNorm2d, InstanceNorm3d."""

from deepling.nn.normalization import InstanceNorm1d, InstanceNorm2d, InstanceNorm3d

__all__ = ["InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d"]
