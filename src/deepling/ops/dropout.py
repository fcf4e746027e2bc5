"""Dropout: zero random units in training and rescale the survivors (inverted dropout).

In training each unit is kept with probability ``1 - p`` and scaled by ``1 / (1 - p)``, so the
expected value of every unit is unchanged and evaluation needs no rescaling: ``y = x * m / (1 - p)``
with ``m ~ Bernoulli(1 - p)``. The mask comes from the global generator (``deepling.manual_seed``).
"""

from __future__ import annotations

import warnings

import numpy as np

from deepling.autograd import Function
from deepling.random import numpy_rng
from deepling.tensor import Tensor

__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d", "feature_dropout", "alpha_dropout", "feature_alpha_dropout"]

# SELU's negative saturation value -scale * alpha: where AlphaDropout sends dropped units.
_SELU_SAT = 1.7580993408473766


class _MaskAffine(Function):
    """y = x * mask + shift; dy/dx = mask. ``mask`` (broadcastable to x) is saved for backward."""

    def forward(self, x: np.ndarray, mask: np.ndarray, shift: np.ndarray | None = None) -> np.ndarray:
        self.mask = mask
        out = x * mask
        if shift is not None:
            out += shift
        return out

    def backward(self, g: np.ndarray) -> np.ndarray:
        return g * self.mask


def _check_p(name: str, p: float) -> float:
    p = float(p)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name}: dropout probability has to be between 0 and 1, but got {p}")
    return p


def _keep_mask(shape: tuple[int, ...], p: float, dtype: np.dtype) -> np.ndarray:
    """Bernoulli(1 - p) draws as 0/1 in ``dtype``."""
    return (numpy_rng().random(shape, dtype=np.float32) >= p).astype(dtype)


def _apply(x: Tensor, mask: np.ndarray, shift: np.ndarray | None, inplace: bool) -> Tensor:
    if not inplace:
        return _MaskAffine.apply(x, mask, shift)
    if x._check_inplace():
        # Through the graph: the new node's input is a snapshot of x's current node.
        return x._become(_MaskAffine.apply(x._snapshot(), mask, shift))
    x._bump()
    np.multiply(x.array, mask, out=x.array, casting="unsafe")
    if shift is not None:
        np.add(x.array, shift, out=x.array, casting="unsafe")
    return x


def _check_float(name: str, x: Tensor) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(x).__name__}")
    if x.dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating point input, got dtype {x.dtype}")


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Inverted dropout: ``y = x * m / (1 - p)``, ``m ~ Bernoulli(1 - p)`` elementwise; identity in eval.

    Any shape. ``p = 1`` gives zeros (and zero gradients).
    """
    p = _check_p("dropout", p)
    _check_float("dropout", input)
    if not training or p == 0.0 or input.numel() == 0:
        return input
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    mask = _keep_mask(input.shape, p, input.dtype)
    mask *= input.dtype.type(scale)
    return _apply(input, mask, None, inplace)


def _channel_dropout(name: str, input: Tensor, p: float, training: bool, inplace: bool, batched: bool) -> Tensor:
    """Keep or zero whole feature maps: one draw per (n, c) (``batched``) or per c (unbatched)."""
    _check_float(name, input)
    if not training or p == 0.0 or input.numel() == 0:
        return input
    lead = 2 if batched else 1
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    mask = _keep_mask(input.shape[:lead] + (1,) * (input.ndim - lead), p, input.dtype)
    mask *= input.dtype.type(scale)
    return _apply(input, mask, None, inplace)


def feature_dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Channel dropout on ``(N, C, *)``: each whole ``(n, c)`` feature map is kept or zeroed together."""
    p = _check_p("feature_dropout", p)
    if input.ndim < 2:
        raise ValueError(f"feature_dropout: expected an input with at least 2 dims (N, C, *), got shape {input.shape}")
    return _channel_dropout("feature_dropout", input, p, training, inplace, True)


def _channel_dropout_nd(name: str, dims: int, input: Tensor, p: float, training: bool, inplace: bool) -> Tensor:
    """Channel dropout of ``(N, C, *spatial)`` or unbatched ``(C, *spatial)`` with ``dims`` spatial dims."""
    p = _check_p(name, p)
    if input.ndim not in (dims + 1, dims + 2):
        raise ValueError(f"{name}: expected {dims + 1}D or {dims + 2}D input (got {input.ndim}D input of shape {input.shape})")
    return _channel_dropout(name, input, p, training, inplace, input.ndim == dims + 2)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of ``(N, C, L)`` or unbatched ``(C, L)`` input, scaling the rest by 1/(1-p)."""
    return _channel_dropout_nd("dropout1d", 1, input, p, training, inplace)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of ``(N, C, H, W)`` input, scaling the rest by 1/(1-p).

    As in PyTorch, a 3-D input is read as ``(N, C, L)`` (channel-wise 1-D dropout), with a warning.
    """
    p = _check_p("dropout2d", p)
    if input.ndim not in (3, 4):
        warnings.warn(
            f"dropout2d: received a {input.ndim}-D input; expected (N, C, H, W) or (N, C, L). "
            "Channels are taken to be dim 1.", stacklevel=2,
        )
    elif input.ndim == 3:
        warnings.warn(
            "dropout2d: received a 3D input; assuming channel-wise 1D dropout, input read as (N, C, L). "
            "Use dropout1d for that.", stacklevel=2,
        )
    if input.ndim < 2:
        raise ValueError(f"dropout2d: expected (N, C, H, W) input, got shape {input.shape}")
    return _channel_dropout("dropout2d", input, p, training, inplace, True)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of ``(N, C, D, H, W)`` or unbatched ``(C, D, H, W)`` input."""
    return _channel_dropout_nd("dropout3d", 3, input, p, training, inplace)


def _alpha(name: str, input: Tensor, p: float, training: bool, inplace: bool, mask_shape: tuple[int, ...]) -> Tensor:
    p = _check_p(name, p)
    _check_float(name, input)
    if not training or p == 0.0 or input.numel() == 0:
        return input
    if p == 1.0:
        return _apply(input, np.zeros((), dtype=input.dtype), None, inplace)
    keep = _keep_mask(mask_shape, p, input.dtype)
    a = 1.0 / np.sqrt((_SELU_SAT**2 * p + 1.0) * (1.0 - p))
    dt = input.dtype.type
    shift = (keep - dt(1)) * dt(_SELU_SAT * a) + dt(_SELU_SAT * a * p)
    keep *= dt(a)
    return _apply(input, keep, shift, inplace)


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    """Dropout for SELU networks: keeps zero mean and unit variance of its input.

    Dropped units take SELU's saturation value ``-a'`` (a' = 1.7581); then ``y = a (x m - a'(1 - m)) + b``
    with ``a = ((1 - p)(1 + p a'^2))^-1/2`` and ``b = a a' p`` restoring the mean and variance.
    """
    return _alpha("alpha_dropout", input, p, training, inplace, input.shape)


def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    """Alpha dropout of whole channels of ``(N, C, *)``: one keep/drop draw per (n, c) feature map."""
    if input.ndim < 2:
        raise ValueError(f"feature_alpha_dropout: expected an input with at least 2 dims (N, C, *), got shape {input.shape}")
    return _alpha("feature_alpha_dropout", input, p, training, inplace, input.shape[:2] + (1,) * (input.ndim - 2))
