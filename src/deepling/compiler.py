"""``deepling.compile``: PyTorch's ``torch.compile`` without a compiler.

deepling runs its ops eagerly on NumPy; ``compile(model)`` returns ``model`` itself (and works as a
decorator, bare or called), warning once per process that nothing was compiled.
"""

from __future__ import annotations

import warnings
from typing import Any

__all__ = ["compile"]

_warned = False


def compile(model: Any = None, **options: Any) -> Any:  # noqa: A001  (PyTorch's name)
    """Return ``model`` unchanged (``@compile(mode=...)`` returns the function unchanged)."""
    global _warned
    if not _warned:
        warnings.warn("deepling.compile: deepling has no compiler; the model runs eagerly, unchanged", UserWarning, stacklevel=2)
        _warned = True
    if model is None:
        return lambda m: m
    return model
