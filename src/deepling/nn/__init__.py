"""``deepling.nn``: modules, parameters, initializers and the functional API."""

from deepling.nn import functional, init
from deepling.nn.attention import MultiheadAttention
from deepling.nn.container import ModuleDict, ModuleList, Sequential
from deepling.nn.linear import Identity, Linear
from deepling.nn.module import Module
from deepling.nn.parameter import Parameter

__all__ = ["Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "Identity", "Linear", "functional", "init"]
__all__ += ["MultiheadAttention"]
