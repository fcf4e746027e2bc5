"""Batching variable-length sequences: ``pad_sequence``."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from deepling.ops.elementwise import cast
from deepling.ops.shape import cat, stack
from deepling.tensor import Tensor

__all__ = ["pad_sequence"]


def pad_sequence(
    sequences: Sequence[Tensor],
    batch_first: bool = False,
    padding_value: float = 0.0,
    padding_side: str = "right",
) -> Tensor:
    """Stack tensors of shapes ``(L_i, *)`` into ``(L_max, B, *)`` (``(B, L_max, *)`` if batch_first),
    filling the missing steps with ``padding_value`` on the ``padding_side`` ('right' or 'left').
    Differentiable: each sequence's gradient is its slice of the output's.
    """
    if padding_side not in ("right", "left"):
        raise ValueError(f"pad_sequence: padding_side must be 'left' or 'right', got {padding_side!r}")
    if len(sequences) == 0:
        raise ValueError("pad_sequence: received an empty list of sequences")
    trailing = tuple(sequences[0].shape[1:])
    for s in sequences:
        if s.ndim == 0 or tuple(s.shape[1:]) != trailing:
            raise ValueError(
                f"pad_sequence: all sequences need shape (L, *{trailing}), got shapes {[tuple(t.shape) for t in sequences]}"
            )
    max_len = max(s.shape[0] for s in sequences)
    dtype = sequences[0].dtype
    padded = []
    for s in sequences:
        s = s if s.dtype == dtype else cast(s, dtype)
        missing = max_len - s.shape[0]
        if missing:
            fill = Tensor._wrap(np.full((missing,) + trailing, padding_value, dtype=dtype))
            s = cat([s, fill] if padding_side == "right" else [fill, s], 0)
        padded.append(s)
    return stack(padded, 0 if batch_first else 1)

