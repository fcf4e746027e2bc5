"""``deepling.nn.modules.pooling``: PyTorch's import path for MaxPool1d, MaxPool2d, MaxUnpool2d, ..."""

from deepling.nn.pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveMaxPool2d,
    AvgPool1d,
    AvgPool2d,
    MaxPool1d,
    MaxPool2d,
    MaxUnpool2d,
)

__all__ = [
    "MaxPool1d",
    "MaxPool2d",
    "MaxUnpool2d",
    "AvgPool1d",
    "AvgPool2d",
    "AdaptiveMaxPool2d",
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
]
