"""Differentiable ops, grouped by family. Each op is a ``Function`` with forward and backward together."""

from deepling.ops import elementwise, matmul, reduce, shape

__all__ = ["elementwise", "matmul", "reduce", "shape"]
