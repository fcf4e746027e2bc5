"""Character-level text: a vocabulary, encode/decode, a train/val split and context windows.

``CharCorpus(text)`` maps each distinct character to an id (sorted order), keeps the first 90% of
the encoded text for training and the last 10% for validation, and serves (x, y) windows where
``y`` is ``x`` shifted by one character: the targets of next-character prediction.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import numpy as np

from deepling.data.dataset import Dataset
from deepling.random import Generator, numpy_rng
from deepling.tensor import Tensor

__all__ = ["CharCorpus", "CharWindows"]


class CharWindows(Dataset):
    """Dataset of all windows of ``context`` ids: item ``i`` is ``(data[i:i+T], data[i+1:i+T+1])``.

    Indexing with an array of starts returns a whole batch ``(B, T)`` at once (no Python loop).
    """

    def __init__(self, data: np.ndarray, context: int) -> None:
        if context <= 0:
            raise ValueError(f"CharWindows: context must be positive, got {context}")
        if len(data) < context + 1:
            raise ValueError(f"CharWindows: text of {len(data)} characters is too short for context {context}")
        self.data, self.context = data, int(context)

    def __len__(self) -> int:
        return len(self.data) - self.context

    def __getitem__(self, index: Any) -> tuple[Tensor, Tensor]:
        starts = np.asarray(index)
        if starts.dtype.kind not in "iu":
            raise TypeError(f"CharWindows: indices must be integers, got {starts.dtype}")
        n = len(self)
        if starts.size and (starts.min() < -n or starts.max() >= n):
            raise IndexError(f"CharWindows: index out of range for {n} windows")
        starts = starts % n
        offsets = np.arange(self.context)
        rows = starts[..., None] + offsets  # (..., T) positions, one fancy index for the batch
        return Tensor._wrap(self.data[rows]), Tensor._wrap(self.data[rows + 1])


class CharCorpus:
    """A character vocabulary over ``text`` with the encoded train/validation splits.

    Args: ``text``; ``val_fraction`` (0.1: the last 10% is validation); ``chars`` (a fixed vocabulary,
    e.g. from a checkpoint; default: the sorted distinct characters of ``text``).
    Attributes: ``chars``, ``vocab_size``, ``train_data`` and ``val_data`` (int64 id arrays).
    """

    def __init__(self, text: str, val_fraction: float = 0.1, chars: Iterable[str] | None = None) -> None:
        if not isinstance(text, str):
            raise TypeError(f"CharCorpus: text must be a str, got {type(text).__name__}")
        if not 0 <= val_fraction < 1:
            raise ValueError(f"CharCorpus: val_fraction must be in [0, 1), got {val_fraction}")
        self.chars = sorted(set(text)) if chars is None else list(chars)
        if len(set(self.chars)) != len(self.chars):
            raise ValueError("CharCorpus: chars contains duplicates")
        self.stoi = {c: i for i, c in enumerate(self.chars)}
        self.data = self.encode(text)
        n_train = int(round(len(self.data) * (1 - val_fraction)))
        self.train_data, self.val_data = self.data[:n_train], self.data[n_train:]

    @classmethod
    def from_file(cls, path: str | Path, encoding: str = "utf-8", **kwargs: Any) -> CharCorpus:
        return cls(Path(path).read_text(encoding=encoding), **kwargs)

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """The ids of the characters of ``text`` (int64); unknown characters are an error."""
        # Map through a code-point lookup table: one vectorized take instead of a loop per character.
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        if codes.size == 0:
            return np.zeros(0, dtype=np.int64)
        table_codes = np.array([ord(c) for c in self.chars], dtype=np.uint32)
        top = max(int(codes.max()), int(table_codes.max(initial=0))) + 1
        table = np.full(top, -1, dtype=np.int64)
        table[table_codes] = np.arange(len(self.chars))
        ids = table[codes]
        if (ids < 0).any():
            bad = sorted({chr(c) for c in codes[ids < 0]})
            raise ValueError(f"CharCorpus.encode: characters not in the vocabulary: {bad[:10]!r}")
        return ids

    def decode(self, ids: Any) -> str:
        """The text of a sequence of ids (list, ndarray or 1-D Tensor)."""
        arr = np.asarray(ids.array if isinstance(ids, Tensor) else ids).reshape(-1)
        if arr.size and (arr.min() < 0 or arr.max() >= self.vocab_size):
            raise ValueError(f"CharCorpus.decode: ids must be in [0, {self.vocab_size}), got [{arr.min()}, {arr.max()}]")
        return "".join(self.chars[i] for i in arr.tolist())

    def split(self, split: str) -> np.ndarray:
        if split not in ("train", "val"):
            raise ValueError(f"CharCorpus: split must be 'train' or 'val', got {split!r}")
        return self.train_data if split == "train" else self.val_data

    def dataset(self, split: str = "train", context: int = 64) -> CharWindows:
        """Every window of ``context`` characters of a split, as a Dataset of (x, y) pairs."""
        return CharWindows(self.split(split), context)

    def get_batch(self, split: str, batch_size: int, context: int, generator: Generator | None = None) -> tuple[Tensor, Tensor]:
        """``batch_size`` windows at uniformly random starts: ``x, y`` of shape ``(batch_size, context)``."""
        windows = self.dataset(split, context)
        starts = numpy_rng(generator).integers(0, len(windows), size=batch_size)
        return windows[starts]

    def __repr__(self) -> str:
        return f"CharCorpus(vocab_size={self.vocab_size}, train={len(self.train_data)}, val={len(self.val_data)})"
