"""Fully connected layers: ``Identity`` and ``Linear`` (y = x W^T + b)."""

from __future__ import annotations

from typing import Any

from deepling import creation
from deepling.nn import init
from deepling.nn.module import Module
from deepling.nn.parameter import Parameter
from deepling.ops.matmul import linear
from deepling.tensor import Tensor

__all__ = ["Identity", "Linear"]


class Identity(Module):
    """Returns its input unchanged (a placeholder that keeps a model's structure)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, x: Tensor) -> Tensor:
        return x


class Linear(Module):
    """Affine map ``y = x W^T + b``.

    Args: ``in_features``, ``out_features``, ``bias`` (default True).
    Shapes: input ``(*, in_features)``, output ``(*, out_features)``.
    Parameters: ``weight (out_features, in_features)`` and ``bias (out_features,)``, both drawn
    from U(-1/sqrt(in_features), 1/sqrt(in_features)) (PyTorch's kaiming_uniform with a=sqrt(5)).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(creation.empty(out_features, in_features, dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(creation.empty(out_features, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.default_layer_init(self.weight, self.bias)

    def forward(self, x: Tensor) -> Tensor:
        return linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
