"""Weight penalties for the regularized objective J = cost + lambda * penalty.

Conventions (the curriculum's):
- ``l2_penalty(model) = 1/2 sum_w w^2``, so ``cost + lam * l2_penalty(model)`` is the textbook
  ``cost + lam/2 ||w||^2`` and its gradient adds ``lam * w``: exactly what SGD's
  ``weight_decay=lam`` adds (``w <- w - lr (grad + lam w)``, i.e. ``w <- (1 - lr lam) w - lr grad``).
- ``l1_penalty(model) = sum_w |w|``; its gradient adds ``lam * sign(w)`` (sparsifying).

With ``weights_only=True`` (the default) only parameters with 2 or more dims are penalized
(Linear weights, conv kernels, embeddings); biases and normalization scales/shifts (1-D) are left
alone, as is customary.
"""

from __future__ import annotations

from typing import Iterator

from deepling.nn.module import Module
from deepling.nn.parameter import Parameter
from deepling.tensor import Tensor

__all__ = ["l1_penalty", "l2_penalty", "penalized_parameters"]


def penalized_parameters(module: Module, weights_only: bool = True) -> Iterator[Parameter]:
    """The parameters a penalty covers: all of them, or (``weights_only``) those with ndim >= 2."""
    for p in module.parameters():
        if not weights_only or p.ndim >= 2:
            yield p


def _total(terms: list[Tensor], module: Module) -> Tensor:
    if not terms:
        raise ValueError(f"penalty: {type(module).__name__} has no parameters to penalize")
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total


def l1_penalty(module: Module, weights_only: bool = True) -> Tensor:
    """sum |w| over the module's weights (a 0-d tensor, differentiable)."""
    return _total([p.abs().sum() for p in penalized_parameters(module, weights_only)], module)


def l2_penalty(module: Module, weights_only: bool = True) -> Tensor:
    """1/2 sum w^2 over the module's weights: ``lam * l2_penalty`` is lam/2 ||w||^2, gradient lam w."""
    return _total([(p * p).sum() for p in penalized_parameters(module, weights_only)], module) * 0.5
