"""``deepling.nn.modules.linear``: PyTorch's import path for Identity, Linear and
NonDynamicallyQuantizableLinear (the class of ``MultiheadAttention.out_proj``)."""

from deepling.nn.attention import NonDynamicallyQuantizableLinear
from deepling.nn.linear import Identity, Linear

__all__ = ["Identity", "Linear", "NonDynamicallyQuantizableLinear"]
