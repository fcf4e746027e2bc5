"""Differentiable ops, grouped by family. Each op is a ``Function`` with forward and backward together.

Shared by the families: ``kernels`` (numerical kernels on arrays), ``arguments`` (argument checks),
``promotion`` (dtype promotion and casts).
"""

from deepling.ops import elementwise, matmul, reduce, shape

__all__ = ["elementwise", "matmul", "reduce", "shape"]
