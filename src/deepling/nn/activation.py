"""Activation layers: thin modules over ``deepling.nn.functional``, with PyTorch's arguments and repr.

Shapes: input ``(*)``, output ``(*)`` (same shape), except that Softmax/LogSoftmax/Softmin
normalize along ``dim``. ``inplace=True`` overwrites the input, as in PyTorch (and, as there, is
refused for a leaf tensor that requires grad).
"""

from __future__ import annotations

from typing import Any

from deepling import creation
from deepling.nn import functional as F
from deepling.nn.linear import Identity
from deepling.nn.module import Module
from deepling.nn.parameter import Parameter
from deepling.tensor import Tensor

__all__ = [
    "ReLU", "LeakyReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish", "Sigmoid", "Tanh",
    "Softplus", "Softmax", "LogSoftmax", "Softmin", "Hardtanh", "ReLU6", "Hardsigmoid",
    "Hardswish", "LogSigmoid", "Softsign", "Step", "PReLU", "Threshold", "GLU",
    "ACTIVATIONS", "UnknownActivationError", "activation_by_name",
]


class _Inplace(Module):
    """An activation whose only option is ``inplace`` (shown in the repr when set)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class ReLU(_Inplace):
    """ReLU(x) = max(0, x)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.relu(input, self.inplace)


class SELU(_Inplace):
    """SELU(x) = scale (max(0, x) + min(0, alpha (e^x - 1))), alpha ~ 1.6733, scale ~ 1.0507."""

    def forward(self, input: Tensor) -> Tensor:
        return F.selu(input, self.inplace)


class SiLU(_Inplace):
    """SiLU(x) = x sigmoid(x) (a.k.a. swish)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.silu(input, self.inplace)


class Mish(_Inplace):
    """Mish(x) = x tanh(softplus(x))."""

    def forward(self, input: Tensor) -> Tensor:
        return F.mish(input, self.inplace)


class Hardsigmoid(_Inplace):
    """Hardsigmoid(x) = relu6(x + 3) / 6."""

    def forward(self, input: Tensor) -> Tensor:
        return F.hardsigmoid(input, self.inplace)


class Hardswish(_Inplace):
    """Hardswish(x) = x relu6(x + 3) / 6."""

    def forward(self, input: Tensor) -> Tensor:
        return F.hardswish(input, self.inplace)


class LeakyReLU(Module):
    """LeakyReLU(x) = max(0, x) + negative_slope * min(0, x)."""

    def __init__(self, negative_slope: float = 1e-2, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class ELU(Module):
    """ELU(x) = x if x > 0 else alpha (e^x - 1)."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.elu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class CELU(ELU):
    """CELU(x) = max(0, x) + min(0, alpha (e^(x/alpha) - 1))."""

    def forward(self, input: Tensor) -> Tensor:
        return F.celu(input, self.alpha, self.inplace)


class GELU(Module):
    """GELU(x) = x Phi(x), Phi the standard normal CDF; ``approximate='tanh'`` for the tanh form."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Sigmoid(Module):
    """Sigmoid(x) = 1 / (1 + e^-x)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.sigmoid(input)


class Tanh(Module):
    """Tanh(x) = (e^x - e^-x) / (e^x + e^-x)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.tanh(input)


class LogSigmoid(Module):
    """LogSigmoid(x) = log(1 / (1 + e^-x))."""

    def forward(self, input: Tensor) -> Tensor:
        return F.logsigmoid(input)


class Softsign(Module):
    """Softsign(x) = x / (1 + |x|)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.softsign(input)


class Softplus(Module):
    """Softplus(x) = 1/beta log(1 + e^(beta x)), linear (x) where beta x > threshold."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input: Tensor) -> Tensor:
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class _SoftmaxBase(Module):
    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax(_SoftmaxBase):
    """Softmax(x)_i = e^(x_i) / sum_j e^(x_j) along ``dim`` (each slice sums to 1)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.softmax(input, self.dim)


class LogSoftmax(_SoftmaxBase):
    """LogSoftmax(x) = x - log sum_j e^(x_j) along ``dim``, computed stably."""

    def forward(self, input: Tensor) -> Tensor:
        return F.log_softmax(input, self.dim)


class Softmin(_SoftmaxBase):
    """Softmin(x) = Softmax(-x) along ``dim``."""

    def forward(self, input: Tensor) -> Tensor:
        return F.softmin(input, self.dim)


class Hardtanh(Module):
    """Hardtanh(x) = min(max(x, min_val), max_val)."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        if min_val > max_val:
            raise ValueError(f"Hardtanh: min_val ({min_val}) cannot be greater than max_val ({max_val})")
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}" + (", inplace=True" if self.inplace else "")


class ReLU6(Hardtanh):
    """ReLU6(x) = min(max(0, x), 6)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class Step(Module):
    """Heaviside step, the perceptron's activation: 1 if x > 0, 0 if x < 0, ``value`` at 0.

    No gradient flows through it (its derivative is 0 almost everywhere); train a perceptron with
    the perceptron rule, not backprop. PyTorch twin: ``torch.heaviside(x, torch.tensor(value))``.
    """

    def __init__(self, value: float = 1.0) -> None:
        super().__init__()
        self.value = value

    def forward(self, input: Tensor) -> Tensor:
        return F.step(input, self.value)

    def extra_repr(self) -> str:
        return f"value={self.value}"


class PReLU(Module):
    """PReLU(x) = max(0, x) + a min(0, x) with a learned slope ``a``: one shared (num_parameters=1)
    or one per channel (dim 1 of the input). Parameter: ``weight (num_parameters,)``, filled with ``init``.
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.num_parameters, self.init = num_parameters, init
        self.weight = Parameter(creation.empty(num_parameters, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.weight.array[...] = self.init

    def forward(self, input: Tensor) -> Tensor:
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class Threshold(Module):
    """y = x if x > threshold else value."""

    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, value={self.value}" + (", inplace=True" if self.inplace else "")


class GLU(Module):
    """GLU(a, b) = a * sigmoid(b), a and b the halves of the input along ``dim`` (that dim halves)."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.glu(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


# ---------------------------------------------------------------------------------------- by name
# The one table of activations by name: models (MLP, autoencoders), Transformer layers, the
# pretraining stacks and the command line all read it, so they accept the same names.
ACTIVATIONS: dict[str, type[Module]] = {
    "relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid, "gelu": GELU, "leaky_relu": LeakyReLU, "elu": ELU,
    "silu": SiLU, "identity": Identity,
}


class UnknownActivationError(ValueError, RuntimeError):
    """An activation name not in ``ACTIVATIONS``: a ValueError, and a RuntimeError as PyTorch's
    Transformer layers raise for a bad ``activation`` string."""


def activation_by_name(name: str) -> Module:
    """A new activation module for ``name`` (case-insensitive), e.g. ``activation_by_name("relu")``
    -> ``ReLU()``; an unknown name raises ``UnknownActivationError`` listing ``ACTIVATIONS``."""
    key = name.lower() if isinstance(name, str) else name
    if key not in ACTIVATIONS:
        raise UnknownActivationError(f"unknown activation {name!r}: choose from {', '.join(sorted(ACTIVATIONS))}")
    return ACTIVATIONS[key]()
