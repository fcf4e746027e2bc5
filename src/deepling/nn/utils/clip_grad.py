"""Gradient clipping: rescale all gradients by their joint norm, or clamp each value."""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from deepling.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm"]


def _as_list(tensors: Tensor | Iterable[Tensor]) -> list[Tensor]:
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def _norm(a: np.ndarray, p: float) -> float:
    """``||a||_p`` of a flattened array, summed in float64 (p = inf: max |a|; p = 0: count of non-zeros)."""
    if a.size == 0:
        return 0.0
    if p == 2.0:
        return math.sqrt(np.add.reduce(np.square(a).ravel(), dtype=np.float64))
    if p == math.inf:
        return float(np.max(np.abs(a)))
    if p == -math.inf:
        return float(np.min(np.abs(a)))
    if p == 0.0:
        return float(np.count_nonzero(a))
    return float(np.add.reduce((np.abs(a, dtype=np.float64) ** p).ravel())) ** (1.0 / p)


def get_total_norm(tensors: Tensor | Iterable[Tensor], norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach: bool | None = None) -> Tensor:
    """The ``norm_type``-norm of all ``tensors`` seen as one vector: the norm of their norms."""
    tensors = _as_list(tensors)
    p = float(norm_type)
    if not tensors:
        return Tensor(0.0)
    norms = np.array([_norm(t.array, p) for t in tensors])
    total = _norm(norms, p)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {p} for gradients from `parameters` is non-finite, so it cannot be clipped. "
            "To disable this error and scale the gradients by the non-finite norm anyway, set "
            "`error_if_nonfinite=False`"
        )
    return Tensor._wrap(np.array(total, dtype=tensors[0].dtype))


def clip_grads_with_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float, total_norm: Tensor,
                          foreach: bool | None = None) -> None:
    """Scale every ``.grad`` in place by ``min(1, max_norm / (total_norm + 1e-6))``."""
    grads = [p.grad.array for p in _as_list(parameters) if p.grad is not None]
    if not grads:
        return
    total = total_norm.array if isinstance(total_norm, Tensor) else np.asarray(total_norm, dtype=np.float32)
    # In the norm's dtype, as PyTorch computes the coefficient with tensor ops.
    coef = np.minimum(total.dtype.type(max_norm) / (total + total.dtype.type(1e-6)), total.dtype.type(1.0))
    with np.errstate(invalid="ignore"):  # inf * 0 -> nan, silently, as in PyTorch
        for g in grads:
            np.multiply(g, coef, out=g, casting="unsafe")


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Rescale the gradients in place so that their joint ``norm_type``-norm is at most ``max_norm``.

    ``total = ||(||g_1||, ..., ||g_k||)||``; each ``g *= min(1, max_norm / (total + 1e-6))``.
    Returns the total norm before clipping (a 0-d Tensor).
    """
    parameters = _as_list(parameters)
    grads = [p.grad for p in parameters if p.grad is not None]
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total)
    return total


def clip_grad_norm(parameters: Tensor | Iterable[Tensor], max_norm: float, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Deprecated spelling of ``clip_grad_norm_``."""
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite)


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float, foreach: bool | None = None) -> None:
    """Clamp every gradient value in place to ``[-clip_value, clip_value]``."""
    v = float(clip_value)
    for p in _as_list(parameters):
        if p.grad is not None:
            np.clip(p.grad.array, -v, v, out=p.grad.array)
