"""Padding layers: ZeroPad2d, ConstantPad1d/2d, ReflectionPad1d/2d, ReplicationPad1d/2d, CircularPad2d."""

from __future__ import annotations

from typing import Any

from deepling.nn.module import Module
from deepling.ops.resample import pad
from deepling.tensor import Tensor

__all__ = ["ConstantPad1d", "ConstantPad2d", "ZeroPad1d", "ZeroPad2d", "ReflectionPad1d", "ReflectionPad2d",
           "ReplicationPad1d", "ReplicationPad2d", "CircularPad1d", "CircularPad2d"]


class _PadNd(Module):
    mode = "constant"
    dims = 2

    def __init__(self, padding: Any, value: float = 0.0) -> None:
        super().__init__()
        n = 2 * self.dims
        self.padding = (int(padding),) * n if isinstance(padding, int) else tuple(int(p) for p in padding)
        if len(self.padding) != n:
            raise ValueError(f"{type(self).__name__}: padding must be an int or {n} ints, got {padding}")
        self.value = value

    def forward(self, input: Tensor) -> Tensor:
        if self.mode == "constant":
            return pad(input, self.padding, "constant", self.value)
        return pad(input, self.padding, self.mode)

    def extra_repr(self) -> str:
        return f"{self.padding}" + (f", value={self.value}" if self.mode == "constant" else "")


class ConstantPad1d(_PadNd):
    """Pad the last dim by (left, right) with ``value``: (N, C, L) -> (N, C, L + left + right)."""

    dims = 1

    def __init__(self, padding: Any, value: float) -> None:
        super().__init__(padding, value)


class ConstantPad2d(_PadNd):
    """Pad the last two dims by (left, right, top, bottom) with ``value``."""

    def __init__(self, padding: Any, value: float) -> None:
        super().__init__(padding, value)


class ZeroPad1d(_PadNd):
    """Pad the last dim by (left, right) with zeros."""

    dims = 1


class ZeroPad2d(_PadNd):
    """Pad the last two dims by (left, right, top, bottom) with zeros."""


class ReflectionPad1d(_PadNd):
    """Mirror the last dim about its edges (the edge itself not repeated)."""

    mode, dims = "reflect", 1


class ReflectionPad2d(_PadNd):
    """Mirror the last two dims about their edges (the edge itself not repeated)."""

    mode = "reflect"


class ReplicationPad1d(_PadNd):
    """Repeat the edge values of the last dim."""

    mode, dims = "replicate", 1


class ReplicationPad2d(_PadNd):
    """Repeat the edge values of the last two dims."""

    mode = "replicate"


class CircularPad1d(_PadNd):
    """Wrap the last dim around."""

    mode, dims = "circular", 1


class CircularPad2d(_PadNd):
    """Wrap the last two dims around."""

    mode = "circular"
