"""``deepling.nn.modules.conv``: PyTorch's import path for Conv1d, Conv2d, ConvTranspose2d."""

from deepling.nn.conv import Conv1d, Conv2d, ConvTranspose2d

__all__ = ["Conv1d", "Conv2d", "ConvTranspose2d"]
