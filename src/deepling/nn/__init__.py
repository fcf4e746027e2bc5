"""``deepling.nn``: modules, parameters, initializers and the functional API."""

from deepling.nn import functional, init
from deepling.nn.container import ModuleDict, ModuleList, Sequential
from deepling.nn.linear import Identity, Linear
from deepling.nn.module import Module
from deepling.nn.parameter import Parameter

__all__ = ["Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "Identity", "Linear", "functional", "init"]

# vision: convolution, pooling, upsampling and padding layers
from deepling.nn.conv import Conv1d, Conv2d, ConvTranspose2d  # noqa: E402

__all__ += ["Conv1d", "Conv2d", "ConvTranspose2d"]
