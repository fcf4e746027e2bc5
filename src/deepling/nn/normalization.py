"""Normalization layers: BatchNorm1d/2d/3d, InstanceNorm1d/2d/3d, LayerNorm, GroupNorm, RMSNorm,
LocalResponseNorm. Parameter and buffer names, shapes and defaults are PyTorch's, so state_dicts
transfer both ways.
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np

from deepling import creation
from deepling.nn.module import Module
from deepling.nn.parameter import Parameter
from deepling.ops import norm as _N
from deepling.ops.arguments import tensor_input
from deepling.tensor import Tensor

__all__ = [
    "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d",
    "LayerNorm", "GroupNorm", "RMSNorm", "LocalResponseNorm",
]



def _affine_parameters(module: Module, shape: tuple[int, ...], affine: bool, bias: bool, dtype: Any) -> None:
    """Register ``weight`` (ones) and ``bias`` (zeros) of ``shape``, or None when not affine / no bias."""
    module.register_parameter("weight", Parameter(creation.ones(shape, dtype=dtype)) if affine else None)
    module.register_parameter("bias", Parameter(creation.zeros(shape, dtype=dtype)) if affine and bias else None)


def _reset_affine(module: Module) -> None:
    if module.weight is not None:
        module.weight.array[...] = 1
    if module.bias is not None:
        module.bias.array[...] = 0

class _NormBase(Module):
    """Shared state of batch and instance norm: ``weight``/``bias`` (C,) and the running buffers
    ``running_mean`` (zeros), ``running_var`` (ones) and ``num_batches_tracked`` (int64 scalar).
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device: Any = None, dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(creation.ones(num_features, dtype=dtype))
            if bias:
                self.bias = Parameter(creation.zeros(num_features, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", creation.zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", creation.ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", creation.tensor(0, dtype="int64"))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.array[...] = 0
            self.running_var.array[...] = 1
            self.num_batches_tracked.array[...] = 0

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            self.weight.array[...] = 1
            if self.bias is not None:
                self.bias.array[...] = 0

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    _dims: tuple[int, ...] = ()

    def _check_input_dim(self, input: Tensor) -> None:
        tensor_input(type(self).__name__, input)
        if input.ndim not in self._dims:
            want = " or ".join(f"{d}D" for d in self._dims)
            raise ValueError(f"{type(self).__name__}: expected {want} input (got {input.ndim}D input)")

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.array += 1
            # momentum=None: a cumulative moving average, the mean of all batch statistics so far.
            factor = 1.0 / float(self.num_batches_tracked.array) if self.momentum is None else self.momentum
        # Batch statistics in training, and in eval when there are no running statistics to use.
        use_batch = self.training or (self.running_mean is None and self.running_var is None)
        keep = not self.training or self.track_running_stats
        return _N.batch_norm(input, self.running_mean if keep else None, self.running_var if keep else None,
                             self.weight, self.bias, use_batch, factor, self.eps)


class BatchNorm1d(_BatchNorm):
    """Batch normalization over a mini-batch of ``(N, C)`` or ``(N, C, L)`` inputs (Ioffe & Szegedy, 2015).

    ``y = (x - E[x]) / sqrt(Var[x] + eps) * gamma + beta`` per channel, statistics over N (and L).
    Training uses the batch statistics and updates ``running_mean``/``running_var`` with
    ``running = (1 - momentum) * running + momentum * stat`` (unbiased variance; a cumulative average
    when ``momentum=None``); eval mode uses the running statistics. ``gamma = weight`` (C,) starts
    at 1, ``beta = bias`` (C,) at 0.
    """

    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalization over ``(N, C, H, W)``: per channel, statistics over N, H and W.

    Same formula, arguments, parameters and running buffers as ``BatchNorm1d``.
    """

    _dims = (4,)


class BatchNorm3d(_BatchNorm):
    """Batch normalization over ``(N, C, D, H, W)``: per channel, statistics over N, D, H and W."""

    _dims = (5,)


class _InstanceNorm(_NormBase):
    _batched_dim = 0

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = False,
                 track_running_stats: bool = False, device: Any = None, dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)

    def forward(self, input: Tensor) -> Tensor:
        tensor_input(type(self).__name__, input)
        nb = self._batched_dim - 1
        if input.ndim not in (nb, nb + 1):
            raise ValueError(f"{type(self).__name__}: expected {nb}D or {nb + 1}D input (got {input.ndim}D input)")
        feature_dim = input.ndim - nb
        if input.shape[feature_dim] != self.num_features:
            msg = (f"{type(self).__name__}: expected input's size at dim={feature_dim} to match num_features "
                   f"({self.num_features}), but got: {input.shape[feature_dim]}.")
            if self.affine:
                raise ValueError(msg)
            warnings.warn(msg, stacklevel=2)
        unbatched = input.ndim == nb
        x = input.unsqueeze(0) if unbatched else input
        out = _N.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                               self.training or not self.track_running_stats,
                               0.0 if self.momentum is None else self.momentum, self.eps)
        return out.squeeze(0) if unbatched else out


class InstanceNorm1d(_InstanceNorm):
    """Instance normalization of ``(N, C, L)`` or ``(C, L)``: each channel of each sample normalized
    over L: ``y = (x - E[x]) / sqrt(Var[x] + eps) * gamma + beta`` (Ulyanov et al., 2016).

    Defaults as PyTorch: ``affine=False``, ``track_running_stats=False``.
    """

    _batched_dim = 3


class InstanceNorm2d(_InstanceNorm):
    """Instance normalization of ``(N, C, H, W)`` or ``(C, H, W)``, per sample and channel over H, W."""

    _batched_dim = 4


class InstanceNorm3d(_InstanceNorm):
    """Instance normalization of ``(N, C, D, H, W)`` or ``(C, D, H, W)``."""

    _batched_dim = 5


def _as_shape(normalized_shape: int | Sequence[int]) -> tuple[int, ...]:
    if isinstance(normalized_shape, (int, np.integer)):
        return (int(normalized_shape),)
    return tuple(int(s) for s in normalized_shape)


class LayerNorm(Module):
    """Layer normalization over the last dims (Ba et al., 2016): for input ``(*, *normalized_shape)``,
    ``y = (x - E[x]) / sqrt(Var[x] + eps) * gamma + beta`` with the statistics over ``normalized_shape``.

    ``weight`` (normalized_shape) starts at 1 and ``bias`` at 0 when ``elementwise_affine``.
    """

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.normalized_shape = _as_shape(normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        _affine_parameters(self, self.normalized_shape, elementwise_affine, bias, dtype)

    def reset_parameters(self) -> None:
        _reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:
        return _N.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}"


class GroupNorm(Module):
    """Group normalization (Wu & He, 2018): the C channels of ``(N, C, *)`` split into ``num_groups``
    groups; each group of each sample is normalized over its channels and trailing dims, then
    ``y = x_hat * gamma + beta`` per channel (``weight``, ``bias`` of shape (C,), starting at 1 and 0).
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
                 device: Any = None, dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__()
        if num_channels % num_groups != 0:
            raise ValueError(f"GroupNorm: num_channels must be divisible by num_groups (got {num_channels} and {num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        _affine_parameters(self, (num_channels,), affine, bias, dtype)

    def reset_parameters(self) -> None:
        _reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:
        return _N.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, bias={self.bias is not None}"


class RMSNorm(Module):
    """Root-mean-square normalization (Zhang & Sennrich, 2019) over the last dims:
    ``y = x / sqrt(mean(x^2) + eps) * gamma``; ``eps=None`` means the dtype's machine epsilon.
    ``weight`` (normalized_shape) starts at 1 when ``elementwise_affine``.
    """

    def __init__(self, normalized_shape: int | Sequence[int], eps: float | None = None, elementwise_affine: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.normalized_shape = _as_shape(normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(creation.ones(self.normalized_shape, dtype=dtype))
        else:
            self.register_parameter("weight", None)

    def reset_parameters(self) -> None:
        if self.weight is not None:
            self.weight.array[...] = 1

    def forward(self, input: Tensor) -> Tensor:
        return _N.rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class LocalResponseNorm(Module):
    """Local response normalization across channels (Krizhevsky et al., 2012), input ``(N, C, *)``:
    ``y_c = x_c / (k + alpha / size * sum_{c' near c} x_{c'}^2)^beta`` over a window of ``size`` channels.
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> None:
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input: Tensor) -> Tensor:
        return _N.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
