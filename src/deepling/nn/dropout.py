"""Dropout layers: random zeroing in training (inverted: survivors scaled by 1/(1-p)), identity in eval."""

from __future__ import annotations

from deepling.nn.module import Module
from deepling.ops import dropout as _D
from deepling.tensor import Tensor

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"]


class _DropoutNd(Module):
    _fn = staticmethod(_D.dropout)

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, input: Tensor) -> Tensor:
        return self._fn(input, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zero each element with probability ``p`` in training and scale the rest by ``1/(1-p)``.

    ``y = x * m / (1 - p)``, ``m ~ Bernoulli(1 - p)`` (Srivastava et al., 2014), so ``E[y] = x``;
    in eval mode ``y = x``. Shapes: input ``(*)``, output the same.
    """

    _fn = staticmethod(_D.dropout)


class Dropout1d(_DropoutNd):
    """Zero whole channels: input ``(N, C, L)`` or ``(C, L)``; each channel kept with prob. ``1 - p``."""

    _fn = staticmethod(_D.dropout1d)


class Dropout2d(_DropoutNd):
    """Zero whole feature maps: input ``(N, C, H, W)``; each ``(n, c)`` map kept with prob. ``1 - p``."""

    _fn = staticmethod(_D.dropout2d)


class Dropout3d(_DropoutNd):
    """Zero whole 3-D feature maps: input ``(N, C, D, H, W)`` or ``(C, D, H, W)``."""

    _fn = staticmethod(_D.dropout3d)


class AlphaDropout(_DropoutNd):
    """Dropout for SELU networks: dropped units take SELU's saturation value and an affine map
    keeps the mean and variance of the input. Shapes: input ``(*)``, output the same.
    """

    _fn = staticmethod(_D.alpha_dropout)


class FeatureAlphaDropout(_DropoutNd):
    """Alpha dropout of whole channels of ``(N, C, *)`` (for SELU convolutional networks)."""

    _fn = staticmethod(_D.feature_alpha_dropout)
