"""Flatten parameters into one vector and write a vector back into them."""

from __future__ import annotations

from typing import Iterable

from deepling.ops.shape import cat
from deepling.tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and concatenated in order: shape ``(sum of numel,)``; differentiable."""
    flat = [p.reshape(-1) for p in parameters]
    if not flat:
        raise ValueError("parameters_to_vector: expected at least one parameter")
    return cat(flat)


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Make each parameter's data the next ``numel`` entries of the 1-D ``vec``, viewed in its shape.

    As in PyTorch, the parameters then share memory with ``vec``.
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected deepling.Tensor, but got: {type(vec).__name__}")
    if vec.ndim != 1:
        raise ValueError(f"vector_to_parameters: expected a 1-D vector, got shape {vec.shape}")
    params = list(parameters)
    needed = sum(p.numel() for p in params)
    if vec.shape[0] < needed:
        raise ValueError(f"vector_to_parameters: vec has {vec.shape[0]} elements but the parameters need {needed}")
    pointer = 0
    for p in params:
        n = p.numel()
        p.array = vec.array[pointer:pointer + n].reshape(p.shape)
        pointer += n
