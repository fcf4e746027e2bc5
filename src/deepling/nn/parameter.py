"""Parameter: a leaf tensor that a Module registers as trainable."""

from __future__ import annotations

from typing import Any

import numpy as np

from deepling.tensor import Tensor, to_array

__all__ = ["Parameter"]


class Parameter(Tensor):
    """A Tensor that is a module parameter: ``requires_grad=True`` by default, always a leaf.

    ``Parameter(t)`` shares ``t``'s data array.
    """

    __slots__ = ()

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            array = np.empty(0, dtype=np.float32)
        elif isinstance(data, Tensor):
            array = data.array
        elif isinstance(data, np.ndarray):
            array = data
        else:
            array = to_array(data)
        self.array = array
        self.grad = None
        self._ctx = None
        self._retains_grad = False
        self._vc = data._vc if isinstance(data, Tensor) else [0]  # Parameter(t) shares t's memory
        self._base = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
