"""``deepling.nn.functional`` (imported as ``F``): the stateless forms of the layers.

Implementations live with their op family in ``deepling.ops``; this module gathers them under
PyTorch's names.
"""

from deepling.ops.attention import scaled_dot_product_attention
from deepling.ops.elementwise import relu, sigmoid, tanh
from deepling.ops.matmul import linear
from deepling.ops.shape import one_hot

__all__ = ["linear", "relu", "sigmoid", "tanh", "one_hot"]
__all__ += ["scaled_dot_product_attention"]
