"""``deepling.nn.modules.batchnorm``: PyTorch's import path for BatchNorm1d, BatchNorm2d, BatchNorm3d."""

from deepling.nn.normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d"]
