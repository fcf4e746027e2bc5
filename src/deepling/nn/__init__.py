"""``deepling.nn``: modules, parameters, initializers and the functional API."""

from deepling.nn import functional, init
from deepling.nn.container import ModuleDict, ModuleList, Sequential
from deepling.nn.dropout import AlphaDropout, Dropout, Dropout1d, Dropout2d, Dropout3d, FeatureAlphaDropout
from deepling.nn.linear import Identity, Linear
from deepling.nn.module import Module
from deepling.nn.normalization import (
    BatchNorm1d,
    BatchNorm2d,
    BatchNorm3d,
    GroupNorm,
    InstanceNorm1d,
    InstanceNorm2d,
    InstanceNorm3d,
    LayerNorm,
    LocalResponseNorm,
    RMSNorm,
)
from deepling.nn.parameter import Parameter

__all__ = ["Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "Identity", "Linear", "functional", "init"]
__all__ += ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"]
__all__ += ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d"]
__all__ += ["LayerNorm", "GroupNorm", "RMSNorm", "LocalResponseNorm"]
