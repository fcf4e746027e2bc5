"""State values as arrays: what ``load_state_dict`` and optimizers accept from any framework."""

from __future__ import annotations

from typing import Any

import numpy as np

from deepling.tensor import Tensor

__all__ = ["is_array_like", "as_numpy"]


def is_array_like(value: Any) -> bool:
    """True for what ``as_numpy`` reads: a deepling Tensor, an ndarray, or another framework's tensor."""
    return isinstance(value, (Tensor, np.ndarray)) or (hasattr(value, "detach") and hasattr(value, "numpy"))


def as_numpy(value: Any) -> np.ndarray:
    """A state value (of a state_dict) as an ndarray: deepling tensors, arrays, or another
    framework's CPU tensors (e.g. torch's, read through ``detach().cpu().numpy()``, no import needed)."""
    if isinstance(value, Tensor):
        return value.array
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    return np.asarray(value)
