"""``deepling.nn.functional`` (imported as ``F``): the stateless forms of the layers.

Implementations live with their op family in ``deepling.ops``; this module gathers them under
PyTorch's names.
"""

from deepling.ops.elementwise import relu, sigmoid, tanh
from deepling.ops.matmul import linear
from deepling.ops.shape import one_hot

__all__ = ["linear", "relu", "sigmoid", "tanh", "one_hot"]

# vision: convolution, pooling, padding and resampling
from deepling.ops.conv import conv1d, conv2d, conv_transpose2d, fold, unfold  # noqa: E402
from deepling.ops.pool import (  # noqa: E402
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_max_pool2d,
    avg_pool1d,
    avg_pool2d,
    max_pool1d,
    max_pool2d,
    max_unpool2d,
)
from deepling.ops.resample import interpolate, pad  # noqa: E402

__all__ += [
    "conv1d", "conv2d", "conv_transpose2d", "unfold", "fold", "pad", "interpolate", "max_pool1d", "max_pool2d",
    "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool2d", "max_unpool2d",
]
